"""Nothing is ever dropped: whatever arrives, intake returns an alert a human can read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from uptime_relay.domain.alert import AlertSource, AlertState
from uptime_relay.intake import parse_event
from uptime_relay.intake.common import RAW_LIMIT_BYTES

EVENTS = Path(__file__).resolve().parents[2] / "events"
RECEIVED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def only(alerts):
    assert len(alerts) == 1
    return alerts[0]


def assert_fallback(alert):
    assert alert.source is AlertSource.FALLBACK
    assert alert.state is AlertState.ALARM
    assert alert.reason.startswith("Could not read this notification")
    assert len(alert.raw.encode("utf-8")) <= RAW_LIMIT_BYTES
    assert alert.extra["group_key"] == alert.id


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "empty"),
        ("   \n", "empty"),
        (b"\x00\x9f\x92\x96\xff\xfe", "plain text"),
        ("disk is on fire", "plain text"),
        ('{"AlarmName": "x", ', "looks like JSON but does not parse"),
        ("42", "bare JSON int"),
        ("[1, 2]", "JSON list"),
        ({"hello": "world"}, "unknown shape (top-level keys: hello)"),
        ({"alerts": [], "groupKey": "g", "version": "4"}, "Alertmanager body with no alerts"),
        ({"Records": [{"eventSource": "aws:s3", "s3": {}}]}, "from aws:s3"),
    ],
)
def test_unrecognised_input_becomes_one_fallback_alarm_saying_why(data, why):
    alert = only(parse_event(data, received_at=RECEIVED))
    assert_fallback(alert)
    assert why in alert.extra["why"]
    assert alert.time == RECEIVED


def test_garbage_bytes_on_disk_become_a_fallback_with_the_text_kept():
    alert = only(parse_event((EVENTS / "garbage.txt").read_bytes(), received_at=RECEIVED))
    assert_fallback(alert)
    assert "not an alarm" in alert.raw and "Ω≈ç√" in alert.raw
    assert "\ufffd" in alert.raw  # undecodable bytes are shown, not lost


def test_a_non_alarm_sns_message_is_named_after_its_subject_and_timed_by_sns():
    alert = only(parse_event((EVENTS / "sns-text-message.json").read_bytes(), received_at=RECEIVED))
    assert_fallback(alert)
    assert alert.name == "Backup job failed"
    assert alert.raw.startswith("Nightly backup of orders-db failed")
    assert alert.time == datetime(2026, 11, 20, 2, 0, 5, tzinfo=UTC)
    assert alert.extra["why"] == "it is plain text, not JSON"


def test_a_redelivered_sns_text_message_keeps_its_identity():
    data = (EVENTS / "sns-text-message.json").read_bytes()
    assert (
        parse_event(data, received_at=RECEIVED)[0].id
        == parse_event(data, received_at=datetime.now(UTC))[0].id
    )


def test_huge_text_is_truncated_on_a_character_boundary_and_says_so():
    text = "é" * 10_000 + "🔥" * 5_000  # 2- and 4-byte UTF-8 characters
    alert = only(parse_event(text, received_at=RECEIVED))
    raw = alert.raw.encode("utf-8")
    assert len(raw) <= RAW_LIMIT_BYTES
    raw.decode("utf-8")  # never cut inside a character
    assert "[truncated: 40000 bytes in all]" in alert.raw
    assert "(truncated)" in alert.reason
    assert alert.extra["raw_bytes"] == 40_000


def test_an_event_of_another_detail_type_is_not_mistaken_for_an_alarm():
    alert = only(
        parse_event((EVENTS / "sam-cloudwatch-scheduled-event.json").read_bytes(), received_at=RECEIVED)
    )
    assert_fallback(alert)
    assert "Scheduled Event" in alert.extra["why"]


def test_a_bad_record_does_not_take_the_good_record_down_with_it():
    good = json.loads((EVENTS / "sns-alarm-metric.json").read_bytes())["Records"][0]
    event = {"Records": [good, {"eventSource": "aws:kinesis"}, "junk"]}
    alerts = parse_event(event, received_at=RECEIVED)
    assert [a.source for a in alerts] == [AlertSource.CLOUDWATCH, AlertSource.FALLBACK, AlertSource.FALLBACK]


def test_deeply_nested_json_is_a_fallback_not_a_crash():
    text = "[" * 100_000 + "]" * 100_000
    assert_fallback(only(parse_event(text, received_at=RECEIVED)))
    nested: dict = {}
    for _ in range(50_000):
        nested = {"Records": [{"Sns": {"Message": nested}}]}
    assert all(a.time for a in parse_event(nested, received_at=RECEIVED))


# --------------------------------------------------------------------------- properties
any_text = st.text(st.characters(exclude_categories=()))  # surrogates included
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

# Keys the parsers look at, so generated objects reach deep into each parser.
KEYS = st.sampled_from(
    [
        "Records", "Sns", "Message", "Subject", "MessageId", "Timestamp", "body", "Type", "AlarmName",
        "AlarmArn", "NewStateValue", "OldStateValue", "StateChangeTime", "Trigger", "Metrics", "MetricStat",
        "Dimensions", "AlarmRule", "TriggeringChildren", "AlarmContributorId", "AlarmContributorAttributes",
        "Region", "detail-type", "detail", "resources", "state", "configuration", "alarmContributor",
        "alerts", "groupKey", "version", "labels", "annotations", "startsAt", "endsAt", "fingerprint",
        "status", "commonLabels",
    ]
)  # fmt: skip
shaped_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=30)
    | st.sampled_from(["ALARM", "OK", "INSUFFICIENT_DATA", "firing", "resolved", "CloudWatch Alarm State Change",
                       "2026-11-20T10:15:30.123+0000", "arn:aws:cloudwatch:us-east-1:1:alarm:a", "Notification", "4"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=30,
)  # fmt: skip


def _check(alerts):
    assert alerts
    for alert in alerts:
        assert alert.id and alert.name and alert.reason
        for value in _strings([alert.id, alert.name, alert.reason, alert.raw, alert.labels, alert.extra]):
            value.encode("utf-8")
        assert alert.time.tzinfo is not None
        assert isinstance(alert.labels, dict) and all(isinstance(v, str) for v in alert.labels.values())


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_parse_event_never_raises_on_arbitrary_json(value):
    _check(parse_event(value, received_at=RECEIVED))
    _check(parse_event(json.dumps(value), received_at=RECEIVED))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(shaped_values)
def test_parse_event_never_raises_on_alarm_shaped_json(value):
    _check(parse_event(value, received_at=RECEIVED))
    wrapped = {"Records": [{"Sns": {"Message": json.dumps(value), "Subject": 'ALARM: "x" in EU (Ireland)'}}]}
    _check(parse_event(wrapped, received_at=RECEIVED))


@settings(max_examples=200)
@given(st.binary(max_size=5000) | st.text(st.characters(exclude_categories=()), max_size=5000))
def test_parse_event_never_raises_on_arbitrary_text_or_bytes(data):
    _check(parse_event(data, received_at=RECEIVED))


@settings(max_examples=200)
@given(st.data())
def test_a_cloudwatch_message_with_any_fields_removed_is_still_a_cloudwatch_alert(data):
    message = json.loads(
        json.loads((EVENTS / "sns-alarm-metric.json").read_bytes())["Records"][0]["Sns"]["Message"]
    )
    optional = sorted(k for k in message if k not in ("AlarmName", "NewStateValue"))
    for key in data.draw(st.lists(st.sampled_from(optional), unique=True)):
        del message[key]
    alert = only(parse_event(message, received_at=RECEIVED))
    assert alert.source is AlertSource.CLOUDWATCH
    assert (alert.name, alert.state) == ("uptime-api-availability", AlertState.ALARM)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


@pytest.mark.parametrize(
    "data",
    [
        '{"AlarmName": "bad \\ud800 name", "NewStateValue": "ALARM", "NewStateReason": "\\udfff"}',
        {
            "AlarmName": "bad \ud800 name",
            "NewStateValue": "ALARM",
            "AlarmContributorAttributes": {"\udc00": "x"},
        },
        {"Records": [{"Sns": {"Subject": "s\ud800", "Message": "text \udbff"}}]},
        '{"version": "4", "groupKey": "g\\ud800", "alerts": [{"labels": {"alertname": "\\ud800"}}]}',
    ],
)
def test_lone_surrogates_never_reach_an_alert(data):
    for alert in parse_event(data, received_at=RECEIVED):
        fields = [
            alert.id,
            alert.name,
            alert.reason,
            alert.raw,
            alert.description,
            alert.labels,
            alert.annotations,
        ]
        for value in _strings([*fields, alert.extra]):
            value.encode("utf-8")  # raises on a lone surrogate
