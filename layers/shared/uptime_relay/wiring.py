"""The adapters every function that notifies builds from its environment, in one place.

The relay, the escalator and the actions function's Alertmanager intake all need the same set:
the config (``UPTIME_CONFIG``), the incident store (``TABLE_NAME``), the dead-letter queue
(``DLQ_URL``), secrets, the notifiers, a Dispatcher over them, the signer of ack links
(``ACTIONS_URL`` + ``ACK_SECRET_REF``), the one-off silences and the alarm-tag reader. Without
``TABLE_NAME`` / ``DLQ_URL`` (a bare local run) state, silences and dead letters are kept in memory
and no alarm tags are read (CloudWatch is never called). No AWS client is created here: the
adapters make theirs on first use.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .acklinks import ack_url_factory
from .adapters.alarm_tags import AlarmTags
from .adapters.flapping import DynamoFlaps, InMemoryFlaps
from .adapters.groups import DynamoGroupStore, InMemoryGroupStore
from .adapters.incidents import DynamoIncidentStore, InMemoryIncidentStore
from .adapters.pacing import DynamoPacer, InMemoryPacer
from .adapters.queue import InMemoryDeadLetters, SqsDeadLetters
from .adapters.secrets import SecretResolver
from .adapters.silences import DynamoSilences, InMemorySilences
from .config import Config
from .config.loader import default_config_path, load_config
from .delivery import Dispatcher
from .notifiers.base import Notifier
from .notifiers.registry import make_notifiers
from .ports import (
    AckUrlFor,
    AlarmTagSource,
    DeadLetters,
    FlapStore,
    GroupStore,
    IncidentStore,
    Pacer,
    SilenceStore,
)
from .ports import SecretResolver as Secrets

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    config: Config
    table: str | None
    store: IncidentStore
    dead_letters: DeadLetters
    secrets: Secrets
    dispatcher: Dispatcher
    ack_url_for: AckUrlFor | None
    silences: SilenceStore
    alarm_tags: AlarmTagSource | None
    groups: GroupStore  # route groups and storm counters (``adapters.groups``), same table
    flaps: FlapStore = field(default_factory=InMemoryFlaps)  # checks' flap state (``adapters.flapping``)


def delivery_from_env(
    environ: Mapping[str, str] | None = None,
    *,
    what: str,
    config: Config | None = None,
    dynamodb: Any = None,
    sqs: Any = None,
    notifiers: Mapping[str, Notifier] | None = None,
    secrets: Secrets | None = None,
    metrics: Callable[..., None] | None = None,
) -> Delivery:
    """``what`` names the undeliverable things in the warning of a run without a DLQ."""
    env = environ if environ is not None else os.environ
    if config is None:
        config = load_config(env.get("UPTIME_CONFIG") or str(default_config_path()))
    table = env.get("TABLE_NAME")
    store: IncidentStore = (
        DynamoIncidentStore(table, client=dynamodb, retention=timedelta(seconds=config.retention))
        if table
        else InMemoryIncidentStore()
    )
    dlq_url = env.get("DLQ_URL")
    if dlq_url:
        dead_letters: DeadLetters = SqsDeadLetters(dlq_url, client=sqs, metrics=metrics)
    else:
        log.warning("DLQ_URL not set: undeliverable %s are kept in memory only", what)
        dead_letters = InMemoryDeadLetters()
    if secrets is None:
        secrets = SecretResolver(environ=env)
    if notifiers is None:
        notifiers = make_notifiers()
    # Slack and PagerDuty destinations are paced across every invocation through the table
    pacer: Pacer = DynamoPacer(table, client=dynamodb) if table else InMemoryPacer()
    dispatcher = Dispatcher(config, notifiers, secrets, dead_letters, metrics=metrics, pacer=pacer)
    ack_url_for = None
    actions_url, ack_ref = env.get("ACTIONS_URL"), env.get("ACK_SECRET_REF")
    if actions_url and ack_ref:
        resolver = secrets
        ack_url_for = ack_url_factory(actions_url, lambda: resolver.resolve(ack_ref))
    silences: SilenceStore = DynamoSilences(table, client=dynamodb) if table else InMemorySilences()
    alarm_tags = AlarmTags() if table else None
    groups: GroupStore = (
        DynamoGroupStore(table, client=dynamodb, retention=timedelta(seconds=config.retention))
        if table
        else InMemoryGroupStore()
    )
    flaps: FlapStore = DynamoFlaps(table, client=dynamodb) if table else InMemoryFlaps()
    return Delivery(
        config,
        table,
        store,
        dead_letters,
        secrets,
        dispatcher,
        ack_url_for,
        silences,
        alarm_tags,
        groups,
        flaps,
    )
