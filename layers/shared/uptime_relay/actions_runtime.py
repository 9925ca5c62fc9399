"""The actions function's wiring: adapters built from the environment, the asynchronous
follow-up hand-off and the Function URL event shape. ``functions/actions/app.py`` stays a thin
Lambda entry point around ``handle_event``.

Adapters are built on first use from the environment (``TABLE_NAME``, ``ACK_SECRET_REF``,
``UPTIME_CONFIG``, ``DLQ_URL``, ``ALERTMANAGER_TOKEN_REF`` or ``ALERTMANAGER_ALLOW_UNAUTHENTICATED``,
optional ``PAGERDUTY_WEBHOOK_SECRET_REF``; the status page reads ``POWERTOOLS_METRICS_NAMESPACE``); the Slack signing secret is ``slack.signing_secret``
from the config, resolved through SecretResolver.

The follow-ups of a Slack click (PagerDuty, other Slack channels, email) leave the 3 s answer's
path: the function invokes itself asynchronously (``InvocationType="Event"``, needs
``lambda:InvokeFunction`` on itself) with ``{"uptime_relay_followup": job}``, which
``handle_event`` recognises and runs with retries, within that invocation's time (its Lambda
context). Outside Lambda (no ``AWS_LAMBDA_FUNCTION_NAME``) a background thread runs them; the
local stack hands them to an asynchronous invocation of its own, as Lambda does.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent

from . import clock
from .actions import FOLLOW_UP_EVENT_KEY, Actions
from .adapters.ack_tokens import PAGERDUTY_EVENT_PREFIX, DynamoUsedTokens
from .adapters.availability import CloudWatchAvailability
from .adapters.groups import DynamoGroupStore
from .adapters.heartbeats import DynamoHeartbeats
from .adapters.incidents import DynamoIncidentStore
from .adapters.queue import InMemoryDeadLetters, SqsDeadLetters
from .adapters.secrets import SecretResolver
from .adapters.status_cache import DynamoStatusCache
from .config import Config
from .config.loader import default_config_path, load_config
from .delivery import Dispatcher
from .domain.alert import Alert
from .followups import ChangeNotifier
from .notifiers.registry import make_notifiers
from .ports import IncidentStore
from .ports import SecretResolver as Secrets
from .relay import Relay, RelayError, RelayResult, build_relay_from_env
from .statuspage import StatusPageService

FOLLOW_UP_TIMEOUT_S = 1.5  # inline follow-ups (email link, PagerDuty webhook): someone is waiting
ASYNC_FOLLOW_UP_TIMEOUT_S = 3.0  # in the asynchronous self-invocation nobody waits: retry a little
ASYNC_FOLLOW_UP_ATTEMPTS = 2


def build_actions() -> Actions:
    """The actions router and its adapters from the environment. The Lambda entry point caches
    it for the container's life; every build has its own Alertmanager relay."""
    table = os.environ["TABLE_NAME"]
    config = load_config(default_config_path())
    store = DynamoIncidentStore(table, retention=timedelta(seconds=config.retention))
    secrets = SecretResolver()
    return Actions(
        config,
        store,
        groups=DynamoGroupStore(table, retention=timedelta(seconds=config.retention)),
        secrets=secrets,
        used_tokens=DynamoUsedTokens(table),
        used_events=DynamoUsedTokens(table, prefix=PAGERDUTY_EVENT_PREFIX),
        on_alerts=functools.partial(_relay_alerts, config, secrets, []),
        on_change=_change_notifier(config, store, secrets),
        follow_up_runner=self_invoker(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")),
        heartbeats=DynamoHeartbeats(table),
        status_page=_status_page(config, store, table),
    )


def _status_page(config: Config, store: IncidentStore, table: str) -> StatusPageService | None:
    """The status page of ``status_page`` (None without it): its snapshot in the table, its
    uptime from the stack's metric namespace, its times on the (possibly simulated) clock."""
    if config.status_page is None:
        return None
    return StatusPageService(config, store, CloudWatchAvailability(), DynamoStatusCache(table), now=clock.now)


def _change_notifier(
    config: Config,
    store: IncidentStore,
    secrets: Secrets,
    *,
    timeout_s: float = FOLLOW_UP_TIMEOUT_S,
    attempts: int = 1,
) -> ChangeNotifier:
    """After an ack/resolve from outside, tell the other channels (PagerDuty stops paging too).

    Inline (someone is waiting): one attempt per channel with a short timeout. Failures go to the
    dead-letter queue (``DLQ_URL``) like every other undeliverable notification."""
    dlq_url = os.environ.get("DLQ_URL")
    dead_letters = SqsDeadLetters(dlq_url) if dlq_url else InMemoryDeadLetters()
    dispatcher = Dispatcher(
        config,
        make_notifiers(timeout_s=timeout_s),
        secrets,
        dead_letters,
        max_attempts=attempts,
        max_wait_s=timeout_s,
    )
    return ChangeNotifier(config, dispatcher, store)


def patient_notifier(actions: Actions) -> ChangeNotifier:
    """The follow-up notifier of the asynchronous self-invocation (nobody waits: retries allowed)."""
    return _change_notifier(
        actions.config,
        actions.store,
        actions.secrets,
        timeout_s=ASYNC_FOLLOW_UP_TIMEOUT_S,
        attempts=ASYNC_FOLLOW_UP_ATTEMPTS,
    )


def self_invoker(function_name: str | None, client: Any = None) -> Any:
    """In Lambda: hand a follow-up job to an asynchronous invocation of this same function
    (``lambda:InvokeFunction`` on itself); ``None`` elsewhere (Actions then uses a thread)."""
    if not function_name:
        return None
    clients: list[Any] = [client] if client is not None else []

    def invoke(job: dict[str, Any]) -> None:
        if not clients:
            import boto3  # lazy: only a Slack click's follow-up hand-off needs a Lambda client
            from botocore.config import Config as BotoConfig

            clients.append(
                boto3.client(
                    "lambda",
                    config=BotoConfig(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1}),
                )
            )
        reply = clients[0].invoke(
            FunctionName=function_name,
            InvocationType="Event",
            Payload=json.dumps({FOLLOW_UP_EVENT_KEY: job}).encode("utf-8"),
        )
        status = int(reply.get("StatusCode") or 0)
        if status != 202:
            raise RuntimeError(f"asynchronous invoke of {function_name} answered {status}")

    return invoke


# the Lambda context of the invocation being handled: the Alertmanager intake reads its time left
_invocation: dict[str, Any] = {"context": None}


def _time_left_of(context: Any) -> Any:
    """``() -> seconds left`` in this invocation from the Lambda context, or None outside Lambda."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    return lambda: remaining() / 1000.0


def _relay_alerts(
    config: Config, secrets: Secrets, cache: list[Relay], alerts: list[Alert]
) -> list[RelayResult]:
    """Alertmanager intake: the same relay the SNS-triggered function runs (same table, DLQ, ack
    links), built on first use. Raises when an alert could not be recorded, so the webhook gets
    a 500 and Alertmanager retries.

    The dispatcher gets this invocation's time left (as the SNS-triggered relay does): a retry
    wait that cannot end before the function's timeout dead-letters the delivery instead of the
    function being killed mid-way."""
    if not cache:
        cache.append(build_relay_from_env(config=config, secrets=secrets).relay)
    relay = cache[0]
    relay.dispatcher.time_left = _time_left_of(_invocation["context"])
    results = relay.handle([relay.enrich(alert) for alert in alerts], clock.now())
    failed = [r for r in results if r.action == "error"]
    if failed:
        raise RelayError("; ".join(f"{r.alert_id}: {r.error}" for r in failed))
    return results


def _learn_own_url(event: dict[str, Any]) -> None:
    """Set ``ACTIONS_URL`` from the request when the template could not (a function cannot name its
    own Function URL without a circular reference): ack links in mails sent for Alertmanager
    alerts then point back here."""
    if os.environ.get("ACTIONS_URL"):
        return
    domain = str((event.get("requestContext") or {}).get("domainName") or "")
    if not domain or "/" in domain:
        return
    local = domain.split(":")[0] in ("127.0.0.1", "localhost")
    os.environ["ACTIONS_URL"] = f"{'http' if local else 'https'}://{domain}"


def to_request(event: dict[str, Any]) -> tuple[str, str, dict[str, str], bytes]:
    """A Function URL event (2.0) as ``(method, path, headers, raw body)``; base64 bodies decoded
    to the exact bytes that were signed."""
    url_event = LambdaFunctionUrlEvent(event)
    method = url_event.request_context.http.method
    path = url_event.raw_path or "/"
    headers = dict(url_event.headers or {})
    raw = url_event.body or ""
    if url_event.is_base64_encoded:
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            body = b""
    else:  # lone surrogates (a JSON "\ud800") pass: the signature check or parser refuses them
        body = raw.encode("utf-8", "surrogatepass")
    return method, path, headers, body


def handle_event(
    event: dict[str, Any], context: Any, *, actions: Callable[[], Actions], patient: Callable[[], Any]
) -> dict[str, Any]:
    """One Function URL request (or one of our own asynchronous follow-up invocations).
    ``actions`` / ``patient`` give the (cached) router and follow-up notifier."""
    if isinstance(event, dict) and FOLLOW_UP_EVENT_KEY in event:  # our own asynchronous invocation
        job = event[FOLLOW_UP_EVENT_KEY]
        notifier = patient()
        # its retries never wait past this invocation's end (a killed one is retried: sent twice)
        notifier.dispatcher.time_left = _time_left_of(context)
        outcomes = actions().run_follow_up(job if isinstance(job, dict) else {}, on_change=notifier)
        return {"followed_up": len(outcomes or [])}
    _invocation["context"] = context
    _learn_own_url(event)
    method, path, headers, body = to_request(event)
    response = actions().handle(method, path, headers, body)
    return {
        "statusCode": response.status,
        "headers": dict(response.headers),
        "body": response.body,
        "isBase64Encoded": False,
    }
