"""CloudWatch alarm notifications as SNS delivers them (the JSON in ``Records[].Sns.Message``).

Handles metric, metric-math, anomaly-detection, composite and Metrics Insights / multi-contributor
alarms. A message with fields missing still yields the best alert the rest allows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..domain.alert import Alert, AlertSource, AlertState
from .alarm import MetricQuery, alarm_draft, child_alarms, description, identify_alarm, sns_dimensions
from .common import (
    Envelope,
    items,
    mapping,
    number,
    parse_time,
    state,
    state_or_assumed,
    string_map,
    text,
    time_or_delivery,
)

_ALARM_KEYS = ("NewStateValue", "StateChangeTime", "Trigger", "AlarmRule", "NewStateReason", "OldStateValue")
_TRIGGER_SETTINGS = (
    ("Threshold", "threshold"),
    ("ComparisonOperator", "comparison_operator"),
    ("EvaluationPeriods", "evaluation_periods"),
    ("DatapointsToAlarm", "datapoints_to_alarm"),
    ("TreatMissingData", "treat_missing_data"),
)
# the Trigger settings that are numbers, with the number rule's policy for each
_TRIGGER_NUMBERS: dict[str, dict[str, bool]] = {
    "Threshold": {"signed": True, "fraction": True},
    "EvaluationPeriods": {},
    "DatapointsToAlarm": {},
}
_SUBJECT_RE = re.compile(r'^\s*(ALARM|OK|INSUFFICIENT_DATA)\s*:\s*"(?P<name>.*?)"?(?:\s+in\s+.*)?$')


def looks_like(message: Mapping[str, Any]) -> bool:
    """A CloudWatch alarm notification: it has the alarm name or ARN and a state field."""
    has_identity = isinstance(message.get("AlarmName"), str) or isinstance(message.get("AlarmArn"), str)
    has_state = any(key in message for key in _ALARM_KEYS)
    return has_identity and has_state


def subject_state(subject: str | None) -> AlertState | None:
    match = _SUBJECT_RE.match(subject or "")
    return AlertState(match.group(1)) if match else None


def _trigger_metrics(trigger: Mapping[str, Any], notes: list[str]) -> list[MetricQuery]:
    metrics: list[MetricQuery] = []
    if text(trigger.get("MetricName")):
        metrics.append(
            MetricQuery(
                id=None,
                namespace=text(trigger.get("Namespace")),
                name=text(trigger.get("MetricName")),
                dimensions=sns_dimensions(trigger.get("Dimensions")),
                stat=text(trigger.get("Statistic")) or text(trigger.get("ExtendedStatistic")),
                period=number(trigger.get("Period"), notes, field="Trigger.Period"),
            )
        )
    for index, item in enumerate(items(trigger.get("Metrics"))):
        item = mapping(item)
        stat = mapping(item.get("MetricStat"))
        metric = mapping(stat.get("Metric"))
        return_data = item.get("ReturnData")
        where = f"Trigger.Metrics[{index}]"
        metrics.append(
            MetricQuery(
                id=text(item.get("Id")),
                namespace=text(metric.get("Namespace")),
                name=text(metric.get("MetricName")),
                dimensions=sns_dimensions(metric.get("Dimensions")),
                stat=text(stat.get("Stat")),
                period=number(stat.get("Period"), notes, field=f"{where}.MetricStat.Period")
                or number(item.get("Period"), notes, field=f"{where}.Period"),
                expression=text(item.get("Expression")),
                label=text(item.get("Label")),
                return_data=return_data if isinstance(return_data, bool) else None,
            )
        )
    return metrics


def parse(message: Mapping[str, Any], *, raw: str, envelope: Envelope) -> Alert:
    alarm = identify_alarm(
        text(message.get("AlarmArn")),
        name=text(message.get("AlarmName")),
        region=message.get("Region"),
        account=message.get("AWSAccountId"),
        fallback_name=_subject_name(envelope.subject),
    )
    notes: list[str] = []
    assumed = subject_state(envelope.subject) or AlertState.ALARM
    new_state = state_or_assumed(message.get("NewStateValue"), assumed, notes, field="NewStateValue")
    time = time_or_delivery(
        parse_time(message.get("StateChangeTime")), envelope, notes, field="StateChangeTime"
    )

    trigger = mapping(message.get("Trigger"))
    metrics = _trigger_metrics(trigger, notes)
    alarm_rule = text(message.get("AlarmRule"))
    threshold_metric_id = text(trigger.get("ThresholdMetricId"))
    draft = alarm_draft(
        alarm,
        metrics,
        envelope,
        alarm_rule=alarm_rule,
        threshold_metric_id=threshold_metric_id,
        contributor_id=text(message.get("AlarmContributorId")),
        contributor_attributes=string_map(message.get("AlarmContributorAttributes")),
    )
    draft.add_alarm_rule(alarm_rule)
    if alarm_rule:
        draft.add_children(
            child_alarms(message.get("TriggeringChildren"), arn="Arn", state_key="State", value="Value")
        )
    draft.extra.update(_trigger_settings(trigger, notes))
    if threshold_metric_id:
        draft.extra["threshold_metric_id"] = threshold_metric_id
    return draft.alert(
        AlertSource.CLOUDWATCH,
        state=new_state,
        reason=text(message.get("NewStateReason")),
        time=time,
        raw=raw,
        description=description(message.get("AlarmDescription")),
        previous_state=state(message.get("OldStateValue")),
        notes=notes,
    )


def _trigger_settings(trigger: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """The alarm's threshold and evaluation settings the Trigger states, under our names: the
    numbers read by the number rule (an unreadable one is left out, noted), the others as text."""
    settings: dict[str, Any] = {}
    for key, out in _TRIGGER_SETTINGS:
        value = trigger.get(key)
        if key in _TRIGGER_NUMBERS:
            found = number(value, notes, field=f"Trigger.{key}", **_TRIGGER_NUMBERS[key])
        else:
            found = text(value)
        if found is not None:
            settings[out] = found
    return settings


def _subject_name(subject: str | None) -> str | None:
    match = _SUBJECT_RE.match(subject or "")
    return (match["name"] or None) if match else None
