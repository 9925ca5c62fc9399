"""DynamoDB requests per alarm against a table full of history (the integration test and the bench).

The relay's hot path must read the same with 10 or 10,000 resolved incidents in the table: every
read is keyed (the alarm record, its incident, the ``listing`` index for silences, the SNS
MessageId guard), never a scan. ``fill_resolved`` writes resolved incidents with batch writes, as
the table holds them after months of use; ``requests_per_alarm`` sends one alarm's ALARM and OK
through the relay the Lambda function builds (``build_relay_from_env``: silences, alarm tags,
MessageId guard) and counts the DynamoDB requests (a botocore ``before-call`` hook) and the items
they read (an ``after-call`` hook: a Query's or Scan's ``ScannedCount``, what DynamoDB bills).
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from uptime_relay.adapters.incidents import DEFAULT_RETENTION, _incident_item
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.incident import Incident, TimelineEntry
from uptime_relay.relay import build_relay_from_env

from .fake_notifiers import fake_notifiers
from .relay_kit import alarm_message, sns_event

BATCH = 25  # BatchWriteItem's limit
CONFIG = """
channels:
  slack: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd: {type: pagerduty, routing_key: literal-key}
routes:
  - notify: [pd, slack]
"""
READS = ("GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems")
ITEMS_READ = "items read"  # the key under which requests_per_alarm counts the items read


def resolved_incident(n: int, at: datetime) -> Incident:
    """The ``n``-th resolved incident of the history, opened ``n`` hours before ``at``."""
    opened = at - timedelta(hours=n + 1)
    resolved = opened + timedelta(minutes=12)
    return Incident(
        id=f"hist-{n:06d}",
        alarm_id=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-hist-{n % 97}",
        name=f"uptime-hist-{n % 97}",
        status="resolved",
        opened_at=opened,
        last_state_time=resolved,
        resolved_at=resolved,
        resolved_by="alarm",
        labels={"severity": "critical", "check": f"hist-{n % 97}"},
        route_channels=("pd", "slack"),
        timeline=(
            TimelineEntry(opened, "opened", "ALARM: 2 of 3 minutes failed"),
            TimelineEntry(opened, "notified", "delivered", channel="pd"),
            TimelineEntry(opened, "notified", "delivered", channel="slack"),
            TimelineEntry(resolved, "resolved", "by alarm via cloudwatch"),
        ),
    )


def fill_resolved(client: Any, table: str, count: int, *, at: datetime) -> None:
    """``count`` resolved incidents in ``table``, written 25 to a BatchWriteItem request."""
    items = [_incident_item(resolved_incident(n, at), DEFAULT_RETENTION) for n in range(count)]
    for start in range(0, len(items), BATCH):
        pending = {table: [{"PutRequest": {"Item": item}} for item in items[start : start + BATCH]]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def requests_per_alarm(client: Any, table: str, *, at: datetime) -> dict[str, Counter]:
    """DynamoDB requests by operation, and the items they read (``ITEMS_READ``), for one new
    alarm's ALARM (opens, pages two channels) and its OK (resolves), each sent through the relay
    the Lambda function builds."""
    calls: Counter = Counter()

    def count(model: Any, **_: Any) -> None:
        calls.update([model.name])

    def examined(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        if model.name in ("Query", "Scan"):
            calls[ITEMS_READ] += int(parsed.get("ScannedCount") or 0)
        elif model.name == "GetItem":
            calls[ITEMS_READ] += 1 if parsed.get("Item") else 0

    client.meta.events.register("before-call.dynamodb.*", count)
    client.meta.events.register("after-call.dynamodb.*", examined)
    try:
        service = build_relay_from_env(
            {"TABLE_NAME": table},
            config=parse_config(CONFIG),
            dynamodb=client,
            notifiers=fake_notifiers(),
            secrets=StaticSecrets(),
        )
        name = f"uptime-load-{uuid.uuid4().hex[:8]}"
        figures: dict[str, Counter] = {}
        for label, message in (
            ("ALARM", alarm_message(name, "ALARM", at)),
            ("OK", alarm_message(name, "OK", at + timedelta(minutes=9))),
        ):
            calls.clear()
            service.process_sns_event(sns_event(message, message_id=f"{name}-{label}"))
            figures[label] = Counter(calls)
        return figures
    finally:
        client.meta.events.unregister("before-call.dynamodb.*", count)
        client.meta.events.unregister("after-call.dynamodb.*", examined)


def requests(counter: Counter) -> int:
    """The requests in a figure of ``requests_per_alarm``."""
    return sum(n for op, n in counter.items() if op != ITEMS_READ)


def reads(counter: Counter) -> int:
    """The read requests in a figure of ``requests_per_alarm``."""
    return sum(n for op, n in counter.items() if op in READS)
