"""The local SNS bus: Lambda SNS envelopes, at-least-once duplicates, out-of-order delivery, retries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from uptime_relay_tools.local.sns import SnsBus, sns_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
TOPIC = "arn:aws:sns:us-east-1:123456789012:uptime-alerts"
NOW = datetime(2026, 11, 20, 10, 15, 30, 456000, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


def test_the_envelope_has_the_shape_of_a_real_sns_lambda_event():
    sample = json.loads((EVENTS / "sns-alarm-metric.json").read_text())
    event = sns_event(
        "{}", topic_arn=TOPIC, subject='ALARM: "x" in US East (N. Virginia)', timestamp=NOW, message_id="m-1"
    )
    record, expected = event["Records"][0], sample["Records"][0]
    assert list(record) == list(expected)
    assert list(record["Sns"]) == list(expected["Sns"])
    assert record["EventSource"] == "aws:sns"
    assert record["EventSubscriptionArn"].startswith(TOPIC + ":")
    assert record["Sns"]["Timestamp"] == "2026-11-20T10:15:30.456Z"
    assert record["Sns"]["MessageId"] == "m-1"
    assert record["Sns"]["MessageAttributes"] == {}


def test_a_message_is_published_to_the_topic_and_delivered_once():
    published, received = [], []
    bus = SnsBus(
        TOPIC,
        handler=lambda event, ctx: received.append(event),
        now=Clock(),
        publish=lambda **kw: published.append(kw) or {"MessageId": "moto-1"},
    )
    message_id = bus.publish_message('{"AlarmName": "a"}', 'ALARM: "a" in US East (N. Virginia)')
    assert message_id == "moto-1"
    assert published == [
        {
            "TopicArn": TOPIC,
            "Message": '{"AlarmName": "a"}',
            "Subject": 'ALARM: "a" in US East (N. Virginia)',
            # the alert topic's local HTTP subscription filters the evaluator's own messages out
            "MessageAttributes": {
                "uptime_relay_origin": {"DataType": "String", "StringValue": "local-alarms"}
            },
        }
    ]
    assert [e["Records"][0]["Sns"]["MessageId"] for e in received] == ["moto-1"]


def test_with_duplicate_deliveries_every_message_arrives_twice_with_one_message_id():
    received = []
    bus = SnsBus(TOPIC, handler=lambda e, c: received.append(e), now=Clock(), duplicate=True)
    bus.publish_message("one", None)
    ids = [e["Records"][0]["Sns"]["MessageId"] for e in received]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert [d.duplicate for d in bus.deliveries] == [False, True]


def test_out_of_order_delivers_a_held_message_after_the_next_one():
    received = []
    clock = Clock()
    bus = SnsBus(
        TOPIC,
        handler=lambda e, c: received.append(e["Records"][0]["Sns"]["Message"]),
        now=clock,
        out_of_order=True,
    )
    bus.publish_message("ALARM", None)
    assert received == []
    bus.publish_message("OK", None)
    assert received == ["OK", "ALARM"]


def test_a_held_message_is_delivered_after_the_hold_time_when_nothing_follows():
    received = []
    clock = Clock()
    bus = SnsBus(TOPIC, handler=lambda e, c: received.append(e), now=clock, out_of_order=True)
    bus.publish_message("ALARM", None)
    bus.release_due()
    assert received == []
    clock.at += timedelta(minutes=3)
    bus.release_due()
    assert len(received) == 1 and bus.deliveries[0].delayed


def test_a_failing_handler_is_retried_twice_like_an_async_lambda_invocation():
    calls = []

    def flaky(event, ctx):
        calls.append(event)
        if len(calls) < 3:
            raise RuntimeError("table busy")

    bus = SnsBus(TOPIC, handler=flaky, now=Clock())
    bus.publish_message("m", None)
    assert [d.ok for d in bus.deliveries] == [False, False, True]
    assert bus.deliveries[0].error == "RuntimeError: table busy"


def test_a_message_the_handler_fails_on_three_times_goes_to_the_dead_letter_hook():
    kept = []

    def broken(event, ctx):
        raise RuntimeError("bug")

    bus = SnsBus(TOPIC, handler=broken, now=Clock(), on_exhausted=lambda e, why: kept.append((e, why)))
    bus.publish_message("m", None)
    assert len(bus.deliveries) == 3
    ((event, why),) = kept
    assert event["Records"][0]["Sns"]["Message"] == "m" and why == "RuntimeError: bug"
