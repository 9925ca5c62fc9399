"""Local CloudWatch alarm evaluation: M of N, missing data, transitions and the SNS message format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from uptime_relay_tools.local.alarms import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    AlarmDefinition,
    Datapoint,
    LocalAlarms,
    UnsupportedAlarm,
    evaluate,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"
TOPIC = "arn:aws:sns:us-east-1:123456789012:uptime-alerts"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def availability_alarm(**overrides) -> AlarmDefinition:
    kwargs = {
        "AlarmName": "uptime-api-availability",
        "AlarmDescription": "api.example.com failed 2 of the last 3 minutes",
        "Namespace": "UptimeRelay",
        "MetricName": "Availability",
        "Dimensions": [{"Name": "Check", "Value": "api"}],
        "Statistic": "Minimum",
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 1.0,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "breaching",
        "AlarmActions": [TOPIC],
        "OKActions": [],
        "InsufficientDataActions": [],
        "AlarmConfigurationUpdatedTimestamp": "2026-11-19T08:00:00+00:00",
    }
    kwargs.update(overrides)
    return AlarmDefinition.from_api(kwargs)


def points(values: dict[int, float]) -> dict[datetime, Datapoint]:
    """Minute offset from 10:00 -> value."""
    return {T0 + MIN * k: Datapoint(T0 + MIN * k, v) for k, v in values.items()}


def test_two_failed_minutes_of_three_raise_the_alarm_with_cloudwatchs_reason_text():
    result = evaluate(
        availability_alarm(),
        points({12: 1.0, 13: 0.0, 14: 0.0}),
        current_state=OK,
        through=T0 + MIN * 14,
        now=datetime(2026, 11, 20, 10, 15, 30, 123000, tzinfo=UTC),
    )
    assert result is not None
    assert result.state == ALARM
    assert result.reason == (
        "Threshold Crossed: 2 out of the last 3 datapoints [0.0 (20/11/26 10:14:00), 0.0 (20/11/26 10:13:00)] "
        "were less than the threshold (1.0) (minimum 2 datapoints for OK -> ALARM transition)."
    )
    assert result.reason_data["recentDatapoints"] == [1.0, 0.0, 0.0]
    assert result.reason_data["startDate"] == "2026-11-20T10:12:00.000+0000"
    assert result.reason_data["queryDate"] == "2026-11-20T10:15:30.123+0000"


def test_one_failed_minute_of_three_keeps_the_alarm_ok():
    result = evaluate(
        availability_alarm(),
        points({12: 1.0, 13: 0.0, 14: 1.0}),
        current_state=OK,
        through=T0 + MIN * 14,
        now=T0 + MIN * 15,
    )
    assert result is not None and result.state == OK
    assert (
        "2 out of the last 3 datapoints [1.0 (20/11/26 10:14:00), 1.0 (20/11/26 10:12:00)]" in result.reason
    )
    assert "were not less than the threshold (1.0)" in result.reason


@pytest.mark.parametrize(
    ("treat", "expected"),
    [("breaching", ALARM), ("notBreaching", OK), ("missing", INSUFFICIENT_DATA), ("ignore", None)],
)
def test_no_data_at_all_follows_treat_missing_data(treat, expected):
    result = evaluate(
        availability_alarm(TreatMissingData=treat), {}, current_state=OK, through=T0 + MIN * 5, now=T0
    )
    assert (result.state if result else None) == expected
    if treat == "breaching":
        assert result.reason == (
            "Threshold Crossed: no datapoints were received for 3 periods and "
            "3 missing datapoints were treated as [Breaching]."
        )
    if treat == "missing":
        assert result.reason == "Insufficient Data: 3 datapoints were unknown."


def test_missing_minutes_count_as_failures_when_treated_as_breaching():
    # the probe stopped reporting after a good minute: 1 real datapoint, 2 missing -> 2 breaching
    result = evaluate(
        availability_alarm(), points({12: 1.0}), current_state=OK, through=T0 + MIN * 14, now=T0
    )
    assert result.state == ALARM
    assert "2 missing datapoints were treated as [Breaching]" in result.reason


def test_enough_real_datapoints_in_the_range_make_treat_missing_data_irrelevant():
    # minutes 10, 11, 13 are real and fine; 12 and 14 missing: the 3 most recent real ones decide
    result = evaluate(
        availability_alarm(),
        points({10: 1.0, 11: 1.0, 13: 1.0}),
        current_state=ALARM,
        through=T0 + MIN * 14,
        now=T0,
    )
    assert result.state == OK
    assert result.reason.startswith("Threshold Crossed: 3 out of the last 3 datapoints")
    assert "(minimum 2 datapoints for ALARM -> OK transition)" in result.reason


def test_missing_data_is_not_counted_with_missing_but_a_persistent_breach_still_alarms():
    # "Avoiding premature transitions": oldest breaching point is 2 periods old, newer ones missing
    alarm = availability_alarm(TreatMissingData="missing")
    result = evaluate(alarm, points({13: 0.0}), current_state=OK, through=T0 + MIN * 14, now=T0)
    assert result.state == ALARM
    fresh = evaluate(alarm, points({14: 0.0}), current_state=OK, through=T0 + MIN * 14, now=T0)
    assert fresh.state == OK


def test_it_reports_a_transition_only_when_the_state_changes():
    alarms = LocalAlarms()
    alarm = availability_alarm()
    alarms.define(alarm, created=T0)
    seen = []
    for minute, value in enumerate([1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1]):
        at = T0 + MIN * minute
        alarms.put("UptimeRelay", "Availability", {"Check": "api"}, at + timedelta(seconds=3), value)
        for t in alarms.evaluate(at + timedelta(seconds=5), through=at):
            seen.append((minute, t.old_state, t.new_state))
    # warm-up until 3 periods exist, then OK; ALARM at the 2nd failed minute; OK once 2 of 3 are fine
    assert seen == [(2, INSUFFICIENT_DATA, OK), (5, OK, ALARM), (8, ALARM, OK)]


def test_the_sns_message_has_the_shape_cloudwatch_publishes():
    sample = json.loads(
        json.loads((EVENTS / "sns-alarm-metric.json").read_text())["Records"][0]["Sns"]["Message"]
    )
    alarms = LocalAlarms()
    alarm = availability_alarm()
    alarms.define(alarm, created=T0)
    transitions = []
    for minute, value in enumerate([1, 1, 0, 0]):
        at = T0 + MIN * (11 + minute)
        alarms.put("UptimeRelay", "Availability", {"Check": "api"}, at, value)
        transitions += alarms.evaluate(at + MIN + timedelta(seconds=30.123), through=at)
    alarm_transition = transitions[-1]
    message = alarm_transition.message()
    assert list(message) == list(sample)
    assert list(message["Trigger"]) == list(sample["Trigger"])
    assert message["Trigger"] == sample["Trigger"]
    assert message["NewStateReason"] == sample["NewStateReason"]
    assert message["StateChangeTime"] == sample["StateChangeTime"]
    for key in ("AlarmName", "AlarmArn", "Region", "AWSAccountId", "OldStateValue", "NewStateValue"):
        assert message[key] == sample[key]
    assert alarm_transition.subject == 'ALARM: "uptime-api-availability" in US East (N. Virginia)'
    assert alarm_transition.actions == (TOPIC,)


def test_the_subject_is_cut_at_100_characters_and_ok_without_ok_actions_notifies_nobody():
    alarms = LocalAlarms()
    long_name = "x" * 120
    alarms.define(availability_alarm(AlarmName=long_name), created=T0)
    for minute in range(3):
        alarms.put("UptimeRelay", "Availability", {"Check": "api"}, T0 + MIN * minute, 1.0)
    (transition,) = alarms.evaluate(T0 + MIN * 3, through=T0 + MIN * 2)
    assert transition.new_state == OK
    assert len(transition.subject) == 100
    assert transition.actions == ()


def test_metric_math_alarms_are_refused_with_a_clear_reason():
    with pytest.raises(UnsupportedAlarm, match="only single-metric alarms"):
        AlarmDefinition.from_api(
            {
                "AlarmName": "math",
                "Metrics": [],
                "EvaluationPeriods": 1,
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": 1,
            }
        )


def test_too_few_breaching_datapoints_with_gaps_not_counted_stay_ok_and_say_why():
    # 3 of 3 needed; one fresh breaching datapoint and two gaps that `missing` does not count
    alarm = availability_alarm(TreatMissingData="missing", DatapointsToAlarm=3)
    result = evaluate(
        alarm, points({14: 0.0}), current_state=INSUFFICIENT_DATA, through=T0 + MIN * 14, now=T0
    )
    assert result.state == OK
    assert result.reason == (
        "Threshold Crossed: 1 out of the last 3 datapoints [0.0 (20/11/26 10:14:00)] was less than the "
        "threshold (1.0), fewer than the 3 needed for ALARM; missing datapoints were not counted [missing] "
        "(minimum 1 datapoint for INSUFFICIENT_DATA -> OK transition)."
    )


@given(
    values=st.lists(st.sampled_from([0.0, 1.0]), min_size=3, max_size=8),
    n=st.integers(1, 3),
    m_offset=st.integers(0, 2),
    treat=st.sampled_from(["missing", "notBreaching", "breaching", "ignore"]),
)
def test_with_complete_data_it_alarms_exactly_when_m_of_the_last_n_minutes_failed(values, n, m_offset, treat):
    m = max(1, n - m_offset)
    alarm = availability_alarm(EvaluationPeriods=n, DatapointsToAlarm=m, TreatMissingData=treat)
    last = len(values) - 1
    result = evaluate(
        alarm, points(dict(enumerate(values))), current_state=OK, through=T0 + MIN * last, now=T0
    )
    failed = sum(1 for v in values[-n:] if v < 1.0)
    assert result.state == (ALARM if failed >= m else OK)
