"""The adapters every function that notifies builds from its environment, in one place.

The relay, the escalator and the actions function's Alertmanager intake all need the same set:
the config (``UPTIME_CONFIG``), the incident store (``TABLE_NAME``), the dead-letter queue
(``DLQ_URL``), secrets, the notifiers, a Dispatcher over them, and the signer of ack links
(``ACTIONS_URL`` + ``ACK_SECRET_REF``). Without ``TABLE_NAME`` / ``DLQ_URL`` (a bare local run)
state and dead letters are kept in memory. Imports stay inside the function: a Lambda pays for
them on its first event, not at import.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import Config

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    config: Config
    table: str | None
    store: Any
    dead_letters: Any
    secrets: Any
    dispatcher: Any
    ack_url_for: Callable[..., str | None] | None


def delivery_from_env(
    environ: Mapping[str, str] | None = None,
    *,
    what: str,
    config: Config | None = None,
    dynamodb: Any = None,
    sqs: Any = None,
    notifiers: Mapping[str, Any] | None = None,
    secrets: Any = None,
    metrics: Callable[..., None] | None = None,
) -> Delivery:
    """``what`` names the undeliverable things in the warning of a run without a DLQ."""
    from .adapters.incidents import DynamoIncidentStore, InMemoryIncidentStore
    from .adapters.queue import InMemoryDeadLetters, SqsDeadLetters
    from .config.loader import default_config_path, load_config
    from .delivery import Dispatcher

    env = environ if environ is not None else os.environ
    if config is None:
        config = load_config(env.get("UPTIME_CONFIG") or str(default_config_path()))
    table = env.get("TABLE_NAME")
    store = DynamoIncidentStore(table, client=dynamodb) if table else InMemoryIncidentStore()
    dlq_url = env.get("DLQ_URL")
    if dlq_url:
        dead_letters: Any = SqsDeadLetters(dlq_url, client=sqs, metrics=metrics)
    else:
        log.warning("DLQ_URL not set: undeliverable %s are kept in memory only", what)
        dead_letters = InMemoryDeadLetters()
    if secrets is None:
        from .adapters.secrets import SecretResolver

        secrets = SecretResolver(environ=env)
    if notifiers is None:
        from .notifiers.registry import make_notifiers

        notifiers = make_notifiers()
    dispatcher = Dispatcher(config, notifiers, secrets, dead_letters, metrics=metrics)
    ack_url_for = None
    actions_url, ack_ref = env.get("ACTIONS_URL"), env.get("ACK_SECRET_REF")
    if actions_url and ack_ref:
        from .relay import ack_url_factory

        resolver = secrets
        ack_url_for = ack_url_factory(actions_url, lambda: resolver.resolve(ack_ref))
    return Delivery(config, table, store, dead_letters, secrets, dispatcher, ack_url_for)
