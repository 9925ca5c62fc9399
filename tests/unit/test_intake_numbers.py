"""Intake never raises on content: every number of every format is read by one strict rule (ASCII
digits, bounded, a sign and fraction policy per field); anything else reads as missing, with a parse
note. Junk where alerts should be is skipped with a note, never multiplied into alerts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_actions_support import SIM_START, FixedClock, make_store
from uptime_relay.actions import Actions
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.alert import AlertSource
from uptime_relay.intake import parse_event
from uptime_relay.intake.common import number

EVENTS = Path(__file__).resolve().parents[2] / "events"
RECEIVED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# Characters str.isdigit() accepts that int() refuses, and numbers too long for int() to read
NOT_NUMBERS = ["²", "①", "9" * 5000, "٣", "1_000", " 60 ", "0x3c", "6e1", "-60", "60.5", "NaN", True, [60]]


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def notes_of(alert) -> str:
    return " | ".join(alert.extra.get("parse_notes", []))


def sns_with(change) -> dict:
    """The SNS metric-alarm sample, with ``change`` applied to its CloudWatch message."""
    body = event("sns-alarm-metric.json")
    message = json.loads(body["Records"][0]["Sns"]["Message"])
    change(message)
    body["Records"][0]["Sns"]["Message"] = json.dumps(message)
    return body


@pytest.mark.parametrize("bad", NOT_NUMBERS[:3])
def test_an_unreadable_trigger_period_leaves_the_alarm_alert_without_a_period(bad):
    """GIVEN an SNS alarm whose Trigger.Period is "²" (isdigit() but not int()), "①" or 5000 digits
    WHEN intake parses it THEN the alarm is still a CloudWatch alert, period unknown, with a note."""
    alerts = parse_event(sns_with(lambda m: m["Trigger"].update(Period=bad)), received_at=RECEIVED)
    assert [a.source for a in alerts] == [AlertSource.CLOUDWATCH]
    assert alerts[0].metric is not None and alerts[0].metric.period is None
    assert "Trigger.Period" in notes_of(alerts[0])


def test_an_unreadable_metric_stat_period_is_noted_in_an_sns_metric_math_alarm():
    def change(message):
        message["Trigger"]["Metrics"][1]["MetricStat"]["Period"] = "²"

    body = event("sns-alarm-metric-math.json")
    message = json.loads(body["Records"][0]["Sns"]["Message"])
    change(message)
    body["Records"][0]["Sns"]["Message"] = json.dumps(message)
    alerts = parse_event(body, received_at=RECEIVED)
    assert [a.source for a in alerts] == [AlertSource.CLOUDWATCH]
    assert "Trigger.Metrics[1].MetricStat.Period" in notes_of(alerts[0])


@pytest.mark.parametrize("bad", NOT_NUMBERS[:3])
def test_an_unreadable_eventbridge_period_leaves_the_alarm_alert_without_a_period(bad):
    body = event("eventbridge-alarm-state-change.json")
    body["detail"]["configuration"]["metrics"][0]["metricStat"]["period"] = bad
    alerts = parse_event(body, received_at=RECEIVED)
    assert [a.source for a in alerts] == [AlertSource.EVENTBRIDGE]
    assert alerts[0].metric is not None and alerts[0].metric.period is None
    assert "configuration.metrics[0].metricStat.period" in notes_of(alerts[0])


@pytest.mark.parametrize("bad", NOT_NUMBERS[:3])
def test_an_unreadable_truncated_alerts_count_keeps_every_alertmanager_alert(bad):
    body = event("alertmanager-webhook-firing.json")
    body["truncatedAlerts"] = bad
    alerts = parse_event(body, received_at=RECEIVED)
    assert alerts and all(a.source is AlertSource.ALERTMANAGER for a in alerts)
    assert all("truncated_alerts" not in a.extra and "truncatedAlerts" in notes_of(a) for a in alerts)


def test_trigger_thresholds_and_counts_are_numbers_or_noted():
    """GIVEN a Trigger whose Threshold is a numeric string and whose counts are junk
    THEN the threshold is read (signed, with a fraction) and the junk is left out, noted."""

    def change(message):
        message["Trigger"].update(Threshold="-0.5", EvaluationPeriods="³", DatapointsToAlarm={"n": 2})

    alert = parse_event(sns_with(change), received_at=RECEIVED)[0]
    assert alert.extra["threshold"] == -0.5
    assert "evaluation_periods" not in alert.extra and "datapoints_to_alarm" not in alert.extra
    assert "Trigger.EvaluationPeriods" in notes_of(alert) and "Trigger.DatapointsToAlarm" in notes_of(alert)


def test_an_alarm_time_given_as_a_huge_epoch_number_falls_back_to_the_delivery_time():
    alerts = parse_event(sns_with(lambda m: m.update(StateChangeTime=10**400)), received_at=RECEIVED)
    assert [a.source for a in alerts] == [AlertSource.CLOUDWATCH]
    assert "StateChangeTime" in notes_of(alerts[0])


def test_five_non_object_alertmanager_alerts_become_one_fallback_alert():
    """GIVEN an Alertmanager body whose alerts are five non-objects (five or more alerts before)
    WHEN intake parses it THEN exactly one fallback alert carries the raw body."""
    body = event("alertmanager-webhook-firing.json")
    body["alerts"] = [1, "x", None, [], True]
    alerts = parse_event(body, received_at=RECEIVED)
    assert len(alerts) == 1 and alerts[0].source is AlertSource.FALLBACK
    assert "no alert objects" in alerts[0].extra["why"] and '"x"' in alerts[0].raw


def test_non_object_alertmanager_alerts_beside_real_ones_are_skipped_with_a_note():
    body = event("alertmanager-webhook-firing.json")
    real = len(body["alerts"])
    body["alerts"] = [7, *body["alerts"], "junk"]
    alerts = parse_event(body, received_at=RECEIVED)
    assert len(alerts) == real and all(a.source is AlertSource.ALERTMANAGER for a in alerts)
    assert all("skipped 2 alerts[] entries that are not objects" in notes_of(a) for a in alerts)


def test_non_object_records_become_one_fallback_alert_not_one_each():
    alerts = parse_event({"Records": [1, "x", None, [], 2.5]}, received_at=RECEIVED)
    assert len(alerts) == 1 and alerts[0].source is AlertSource.FALLBACK
    assert "Records[] entries that are not objects (5)" in alerts[0].extra["why"]


def test_the_alertmanager_route_answers_200_for_a_superscript_truncated_alerts():
    """GIVEN /alertmanager (token opt-out, as the local stack runs it) WHEN the body says
    truncatedAlerts "²" (5xx before) THEN it answers 200 and hands the alerts on."""
    received = []
    actions = Actions(
        parse_config("{}"),
        make_store(),
        secrets=StaticSecrets(),
        clock=FixedClock(SIM_START),
        on_alerts=received.append,
        environ={"ALERTMANAGER_ALLOW_UNAUTHENTICATED": "true"},
    )
    body = event("alertmanager-webhook-firing.json")
    body["truncatedAlerts"] = "²"
    response = actions.handle("POST", "/alertmanager", {}, json.dumps(body).encode())
    assert response.status == 200
    assert received and all(a.source is AlertSource.ALERTMANAGER for a in received[0])


@pytest.mark.parametrize("bad", NOT_NUMBERS)
def test_the_number_rule_refuses_anything_but_plain_ascii_digits_and_notes_it(bad):
    notes: list[str] = []
    assert number(bad, notes, field="Period") is None
    assert len(notes) == 1 and notes[0].startswith("Period unreadable") and len(notes[0]) < 200


@pytest.mark.parametrize(
    ("value", "policy", "expected"),
    [
        (60, {}, 60),
        (60.0, {}, 60),
        ("60", {}, 60),
        (0, {}, 0),
        (10**18, {}, 10**18),
        (-5, {"signed": True}, -5),
        ("-5", {"signed": True}, -5),
        ("+5", {"signed": True}, 5),
        (80.5, {"fraction": True}, 80.5),
        ("80.5", {"fraction": True}, 80.5),
        ("-1.5e2", {"signed": True, "fraction": True}, -150.0),
        (3, {"fraction": True}, 3),
    ],
)
def test_the_number_rule_reads_plain_numbers_within_the_field_policy(value, policy, expected):
    notes: list[str] = []
    assert number(value, notes, field="f", **policy) == expected
    assert notes == []


@pytest.mark.parametrize(
    ("value", "policy"),
    [
        (10**18 + 1, {}),
        ("1" * 20, {}),
        (float("inf"), {"fraction": True}),
        ("1e400", {"fraction": True}),
        ("-5", {"fraction": True}),
        ("5.", {"fraction": True}),
    ],
)
def test_the_number_rule_refuses_what_is_out_of_bounds_or_policy(value, policy):
    assert number(value, [], field="f", **policy) is None


def test_a_missing_number_is_none_without_a_note():
    notes: list[str] = []
    assert number(None, notes, field="Period") is None and notes == []


@pytest.mark.parametrize(
    "event",
    [
        10**5000,
        [10**5000],
        {"x": 10**5000},
        {10**5000: "key"},
        {"alerts": [{"labels": {"a": 10**5000}}], "version": "4"},
        {"AlarmName": "a", "NewStateValue": "ALARM", "Trigger": {"Threshold": 10**5000}},
    ],
    ids=["bare", "list", "value", "key", "alertmanager-label", "cloudwatch-threshold"],
)
def test_an_integer_too_long_to_write_out_still_becomes_an_alert(event):
    """GIVEN an event object (a direct caller's, not JSON) holding an integer str() refuses
    (ValueError before, found by fuzzing) WHEN parsed THEN one alert, the integer described."""
    alerts = parse_event(event, received_at=RECEIVED)
    assert len(alerts) == 1 and "an integer of 16610 bits, too long to write out" in alerts[0].raw
