"""Dead-letter records always fit SQS's 256 KiB message limit, and nothing is lost on the way."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from uptime_relay import metricnames
from uptime_relay.adapters.queue import LOST_MARKER, MAX_MESSAGE_BYTES, SqsDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.notifiers.base import DeliveryError, Notification, NotificationKind
from uptime_relay_tools.cli.dlq import replay
from uptime_relay_tools.testing.fake_notifiers import fake_notifiers

T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
CONFIG = parse_config(
    """
channels:
  slack-critical: {type: slack, webhook_url: https://hooks.example.invalid/x}
routes:
  - notify: [slack-critical]
"""
)


class FakeSqs:
    """Holds messages like SQS does and refuses, like SQS, any message over 256 KiB."""

    def __init__(self, refuse: bool = False):
        self.messages: dict[str, str] = {}
        self.refuse = refuse
        self._n = 0

    def send_message(self, QueueUrl, MessageBody, MessageAttributes=None):
        size = len(MessageBody.encode())
        for name, value in (MessageAttributes or {}).items():
            size += len(name) + len(value["DataType"]) + len(value["StringValue"].encode())
        if self.refuse or size > MAX_MESSAGE_BYTES:
            raise ClientError(
                {"Error": {"Code": "InvalidParameterValue", "Message": f"message of {size} bytes refused"}},
                "SendMessage",
            )
        self._n += 1
        self.messages[f"m{self._n}"] = MessageBody
        return {"MessageId": f"m{self._n}"}

    def receive_message(self, QueueUrl, MaxNumberOfMessages=10, **_):
        batch = list(self.messages.items())[:MaxNumberOfMessages]
        return {"Messages": [{"MessageId": m, "ReceiptHandle": m, "Body": b} for m, b in batch]}

    def delete_message(self, QueueUrl, ReceiptHandle):
        self.messages.pop(ReceiptHandle, None)


def alertmanager_alert(i: int) -> Alert:
    return Alert(
        source=AlertSource.ALERTMANAGER,
        id=f"fp-{i:04d}",
        name=f"HighErrorRate pod-{i}",
        state=AlertState.ALARM,
        reason="error rate above 5% for 10 minutes",
        time=T0 + timedelta(seconds=i),
        labels={"alertname": "HighErrorRate", "pod": f"pod-{i}", "severity": "critical"},
        raw=json.dumps({"pod": i, "padding": "x" * 3900})[:4000],  # intake keeps up to 4000 bytes
        description=f"pod-{i} serves 5xx",
        extra={"group_key": '{}:{alertname="HighErrorRate"}'},
    )


def grouped(n: int) -> Notification:
    return Notification(
        kind=NotificationKind.TRIGGER,
        alerts=tuple(alertmanager_alert(i) for i in range(n)),
        incident_id="inc-0000",
        opened_at=T0,
    )


def dispatcher(queue, metrics=None, notifiers=None):
    notifiers = notifiers or fake_notifiers()
    notifiers["slack"].fail_next(DeliveryError("invalid_blocks", permanent=True))
    return Dispatcher(CONFIG, notifiers, StaticSecrets(), queue, sleep=lambda s: None, metrics=metrics)


def test_a_grouped_notification_of_100_alerts_is_dead_lettered_within_the_sqs_limit_and_replays_every_alert():
    sqs = FakeSqs()
    queue = SqsDeadLetters("https://sqs.example/q", client=sqs)

    outcome = dispatcher(queue).deliver("slack-critical", grouped(100))

    assert outcome.dead_lettered, outcome.error
    bodies = list(sqs.messages.values())
    assert all(len(b.encode()) < MAX_MESSAGE_BYTES for b in bodies)
    kept = [a["id"] for b in bodies for a in json.loads(b)["notification"]["alerts"]]
    assert sorted(kept) == [f"fp-{i:04d}" for i in range(100)]  # every alert is on the queue

    notifiers = fake_notifiers()
    replay(queue, Dispatcher(CONFIG, notifiers, StaticSecrets(), queue), CONFIG, out=io.StringIO())
    replayed = [a.id for _, n in notifiers["slack"].sent for a in n.alerts]
    assert sorted(replayed) == kept and sqs.messages == {}


def test_a_grouped_notification_that_fits_once_raw_text_is_trimmed_stays_one_record_with_its_first_alerts_raw():
    sqs = FakeSqs()
    queue = SqsDeadLetters("https://sqs.example/q", client=sqs)

    dispatcher(queue).deliver("slack-critical", grouped(60))

    [body] = sqs.messages.values()
    alerts = json.loads(body)["notification"]["alerts"]
    assert len(alerts) == 60
    assert alerts[0]["raw"] == alertmanager_alert(0).raw and len(alerts[59]["raw"]) < 100


def test_a_record_sqs_still_refuses_is_logged_in_full_with_a_marker_and_counted(caplog):
    counted: list[tuple[str, float]] = []

    def metrics(name, value=1):
        counted.append((name, value))

    queue = SqsDeadLetters("https://sqs.example/q", client=FakeSqs(refuse=True), metrics=metrics)

    with caplog.at_level(logging.ERROR):
        outcome = dispatcher(queue, metrics=metrics).deliver("slack-critical", grouped(2))

    assert not outcome.dead_lettered and "dead-letter queue unavailable" in outcome.error
    [lost] = [r for r in caplog.records if LOST_MARKER in r.getMessage()]
    assert "fp-0000" in lost.getMessage() and "fp-0001" in lost.getMessage()
    assert (metricnames.DEAD_LETTER_FAILURES, 1) in counted


@pytest.mark.parametrize("n", [1, 100])
def test_the_in_memory_queue_sizes_records_like_sqs(n):
    from uptime_relay.adapters.queue import InMemoryDeadLetters

    queue = InMemoryDeadLetters()
    dispatcher(queue).deliver("slack-critical", grouped(n))
    assert all(len(json.dumps(r).encode()) < MAX_MESSAGE_BYTES for r in queue.records)
    assert sum(len(r["notification"]["alerts"]) for r in queue.records) == n


def test_a_notification_still_too_big_after_trimming_is_split_into_one_record_per_alert():
    from dataclasses import replace

    sqs = FakeSqs()
    queue = SqsDeadLetters("https://sqs.example/q", client=sqs)
    note = grouped(100)
    note = replace(note, alerts=tuple(replace(a, description="d" * 3000) for a in note.alerts))

    outcome = dispatcher(queue).deliver("slack-critical", note)

    assert outcome.dead_lettered
    records = [json.loads(b) for b in sqs.messages.values()]
    assert len(records) == 100 and all(len(json.dumps(r)) < MAX_MESSAGE_BYTES for r in records)
    assert [r["part"] for r in records] == [{"index": i + 1, "of": 100} for i in range(100)]
    assert [r["notification"]["alerts"][0]["description"] for r in records] == ["d" * 3000] * 100
