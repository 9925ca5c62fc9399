"""Fuzzing intake: whatever arrives, ``parse_event`` returns at least one alert (a fallback carries
the raw text), never raises, never makes more alerts than the input holds objects, and stays within
the time and memory bounds; ``enrich`` never raises on what it returns.

Inputs: arbitrary JSON-like values (as objects, JSON text and bytes), every sample of events/
(SNS envelope, SQS, bare CloudWatch message, EventBridge event, Alertmanager v4) mutated at random
places (inside the JSON strings they embed too), a Lambda alarm-action event (``alarmData``), and
arbitrary bytes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bounds import FUZZ, within_bounds
from hypothesis import example, given
from hypothesis import strategies as st
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.alert import Alert
from uptime_relay.intake import enrich, parse_event
from uptime_relay.intake.common import RAW_LIMIT_BYTES

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES = {path.name: path.read_text(encoding="utf-8") for path in sorted(EVENTS.glob("*.json"))}
RECEIVED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CONFIG = parse_config(
    "checks: [{name: api, url: 'https://api.example.com/', labels: {team: web}, runbook: 'https://r/'}]"
)
# A CloudWatch alarm action invoking a Lambda function directly (REFERENCE.md)
ALARM_ACTION = {
    "source": "aws.cloudwatch",
    "alarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-availability",
    "accountId": "123456789012",
    "time": "2026-11-20T10:15:30.123+0000",
    "region": "us-east-1",
    "alarmData": {
        "alarmName": "api-availability",
        "state": {
            "value": "ALARM",
            "reason": "Threshold Crossed",
            "timestamp": "2026-11-20T10:15:30.123+0000",
        },
        "previousState": {"value": "OK", "reason": "ok", "timestamp": "2026-11-20T09:00:00.000+0000"},
        "configuration": {
            "metrics": [
                {
                    "id": "m1",
                    "metricStat": {
                        "metric": {
                            "namespace": "UptimeRelay",
                            "name": "Availability",
                            "dimensions": {"Check": "api"},
                        },
                        "period": 60,
                        "stat": "Minimum",
                    },
                    "returnData": True,
                }
            ]
        },
    },
}
# What broke intake before: digits isdigit() accepts and int() refuses, numbers int() cannot read
BAD_NUMBERS = ["²", "①", "٣", "9" * 5000, 10**400, -1, 1e308, float("nan")]


def objects_in(value: Any, depth: int = 0) -> int:
    """How many JSON objects the input holds, counting those inside JSON strings: no format makes
    more than one alert of one object."""
    if depth > 50:
        return 0
    if isinstance(value, bytes | bytearray):
        value = value.decode("utf-8-sig", "replace")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return 0
        if isinstance(value, str):
            return objects_in(value, depth + 1)
    if isinstance(value, Mapping):
        return 1 + sum(objects_in(v, depth + 1) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(objects_in(v, depth + 1) for v in value)
    return 0


def parse_within_bounds(event: Any) -> list[Alert]:
    alerts = within_bounds(lambda: parse_event(event, received_at=RECEIVED), seconds=5)
    assert isinstance(alerts, list) and alerts, "nothing is ever dropped: at least one alert"
    assert len(alerts) <= max(1, objects_in(event)), f"{len(alerts)} alerts from {objects_in(event)} objects"
    for alert in alerts:
        assert isinstance(alert, Alert)
        assert len(alert.raw.encode("utf-8")) <= RAW_LIMIT_BYTES
        enriched = enrich(alert, CONFIG, tags={"team": "x", "aws:cloudformation": "y"})
        assert enriched.labels.items() >= alert.labels.items()
    return alerts


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**500),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(BAD_NUMBERS),
    st.sampled_from(["ALARM", "OK", "INSUFFICIENT_DATA", "firing", "resolved", "4", "Notification"]),
    st.sampled_from(
        [
            "2026-11-20T10:15:30.123+0000",
            "0001-01-01T00:00:00Z",
            "\u0662\u0660\u0662\u0666-\u0661\u0661-\u0662\u0660T10:00:00Z",
        ]
    ),
)
KEYS = st.one_of(
    st.text(max_size=10),
    st.sampled_from(
        [
            "Records",
            "Sns",
            "Message",
            "Type",
            "alerts",
            "groupKey",
            "version",
            "truncatedAlerts",
            "detail",
            "detail-type",
            "AlarmName",
            "NewStateValue",
            "Trigger",
            "Period",
            "body",
            "alarmData",
            "labels",
        ]
    ),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(KEYS, children, max_size=5)),
    max_leaves=25,
)
# What a direct caller may hand over besides JSON: tuples, integers too long to write as text
python_values = st.recursive(
    st.one_of(json_scalars, st.integers(4400, 6000).map(lambda digits: 10**digits)),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=5).map(tuple),
        st.dictionaries(st.one_of(KEYS, st.integers()), children, max_size=5),
    ),
    max_leaves=25,
)


# --------------------------------------------------------------------------------- arbitrary values
@FUZZ
@given(json_values, st.sampled_from(["object", "json", "bytes"]))
@example({"alerts": [1, "x", None, [], True], "groupKey": "g", "version": "4"}, "object")  # 5 alerts before
@example({"Records": [1, "x", None, [], 2.5]}, "object")  # 5 fallbacks before
@example({"alerts": [{}], "version": "4", "truncatedAlerts": "²"}, "json")  # ValueError before
@example({"alerts": [{}], "version": "4", "truncatedAlerts": "①"}, "bytes")  # ValueError before
@example({"AlarmName": "a", "NewStateValue": "ALARM", "StateChangeTime": 10**400}, "object")  # OverflowError
@example({"x": [10**5000]}, "object")  # ValueError (int too long for str) before
def test_any_value_becomes_alerts(value, form):
    if form == "json":
        value = json.dumps(value)
    elif form == "bytes":
        value = json.dumps(value).encode()
    parse_within_bounds(value)


@FUZZ
@given(python_values)
def test_any_python_value_becomes_alerts(value):
    parse_within_bounds(value)


@FUZZ
@given(st.binary(max_size=300))
@example(b"\xff\xfe\x00{")
@example(b'{"Records": [{"Sns": {"Message": "\\ud800"}}]}')
def test_any_bytes_become_alerts(data):
    parse_within_bounds(data)


# --------------------------------------------------------------------------------- mutated samples
def decoded(value: Any) -> tuple[Any, bool]:
    """``value`` parsed when it is a JSON text holding an object or list (SNS Message, SQS body)."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value), True
        except ValueError:
            pass
    return value, False


@st.composite
def mutated(draw, tree: Any) -> Any:
    """``tree`` with one to three places (any depth, inside embedded JSON too) replaced."""
    for _ in range(draw(st.integers(1, 3))):
        tree = _mutate(draw, tree)
    return tree


def _mutate(draw, node: Any) -> Any:
    inner, embedded = decoded(node)
    children = (
        list(inner.items())
        if isinstance(inner, dict)
        else list(enumerate(inner))
        if isinstance(inner, list)
        else []
    )
    if not children or draw(st.integers(0, 4)) == 0:
        return draw(st.one_of(json_values, st.sampled_from(BAD_NUMBERS)))
    key, child = draw(st.sampled_from(children))
    inner = dict(inner) if isinstance(inner, dict) else list(inner)
    inner[key] = _mutate(draw, child)
    return json.dumps(inner) if embedded else inner


@FUZZ
@given(st.sampled_from(sorted(SAMPLES)).flatmap(lambda name: mutated(json.loads(SAMPLES[name]))))
def test_a_mutated_sample_of_every_format_becomes_alerts(event):
    parse_within_bounds(event)


@FUZZ
@given(mutated(ALARM_ACTION))
@example(ALARM_ACTION)
def test_a_mutated_lambda_alarm_action_event_becomes_alerts(event):
    parse_within_bounds(event)


@FUZZ
@given(
    st.sampled_from(sorted(SAMPLES)),
    st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=4))),
)
def test_a_sample_with_bytes_corrupted_becomes_alerts(name, edits):
    data = bytearray(SAMPLES[name].encode())
    for at, replacement in edits:
        at %= len(data)
        data[at : at + len(replacement)] = replacement
    parse_within_bounds(bytes(data))


@FUZZ
@given(st.sampled_from(BAD_NUMBERS), st.sampled_from(["truncated", "period", "metric_period", "eb_period"]))
def test_a_bad_number_in_any_numeric_field_is_noted_not_raised(bad, where):
    """The inputs that found the isdigit()/int() bug, in every field that had it."""
    if where == "truncated":
        event = json.loads(SAMPLES["alertmanager-webhook-firing.json"])
        event["truncatedAlerts"] = bad
    elif where == "eb_period":
        event = json.loads(SAMPLES["eventbridge-alarm-state-change.json"])
        event["detail"]["configuration"]["metrics"][0]["metricStat"]["period"] = bad
    else:
        event = json.loads(SAMPLES["sns-alarm-metric-math.json"])
        message = json.loads(event["Records"][0]["Sns"]["Message"])
        if where == "period":
            message["Trigger"]["Period"] = bad
        else:
            message["Trigger"]["Metrics"][1]["MetricStat"]["Period"] = bad
        event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    alerts = parse_within_bounds(event)
    assert all(a.source.value != "fallback" for a in alerts)
