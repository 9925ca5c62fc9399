"""CloudWatch alarm notifications as SNS delivers them (the JSON in ``Records[].Sns.Message``).

Handles metric, metric-math, anomaly-detection, composite and Metrics Insights / multi-contributor
alarms. A message with fields missing still yields the best alert the rest allows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..domain.alert import Alert, AlertSource, AlertState, Link
from .common import (
    Envelope,
    MetricQuery,
    alarm_identity,
    alarm_kind,
    console_link,
    contributor_labels,
    description,
    items,
    mapping,
    metric_labels,
    multi_time_series,
    number,
    parse_alarm_arn,
    parse_time,
    region_code,
    sns_dimensions,
    state,
    string_map,
    text,
    truncate,
)

_ALARM_KEYS = ("NewStateValue", "StateChangeTime", "Trigger", "AlarmRule", "NewStateReason", "OldStateValue")
_SUBJECT_RE = re.compile(r'^\s*(ALARM|OK|INSUFFICIENT_DATA)\s*:\s*"(?P<name>.*?)"?(?:\s+in\s+.*)?$')


def looks_like(message: Mapping[str, Any]) -> bool:
    """A CloudWatch alarm notification: it has the alarm name or ARN and a state field."""
    has_identity = isinstance(message.get("AlarmName"), str) or isinstance(message.get("AlarmArn"), str)
    has_state = any(key in message for key in _ALARM_KEYS)
    return has_identity and has_state


def subject_state(subject: str | None) -> AlertState | None:
    match = _SUBJECT_RE.match(subject or "")
    return AlertState(match.group(1)) if match else None


def _trigger_metrics(trigger: Mapping[str, Any]) -> list[MetricQuery]:
    metrics: list[MetricQuery] = []
    if text(trigger.get("MetricName")):
        metrics.append(
            MetricQuery(
                id=None,
                namespace=text(trigger.get("Namespace")),
                name=text(trigger.get("MetricName")),
                dimensions=sns_dimensions(trigger.get("Dimensions")),
                stat=text(trigger.get("Statistic")) or text(trigger.get("ExtendedStatistic")),
                period=number(trigger.get("Period")),
            )
        )
    for item in items(trigger.get("Metrics")):
        item = mapping(item)
        stat = mapping(item.get("MetricStat"))
        metric = mapping(stat.get("Metric"))
        return_data = item.get("ReturnData")
        metrics.append(
            MetricQuery(
                id=text(item.get("Id")),
                namespace=text(metric.get("Namespace")),
                name=text(metric.get("MetricName")),
                dimensions=sns_dimensions(metric.get("Dimensions")),
                stat=text(stat.get("Stat")),
                period=number(stat.get("Period")) or number(item.get("Period")),
                expression=text(item.get("Expression")),
                label=text(item.get("Label")),
                return_data=return_data if isinstance(return_data, bool) else None,
            )
        )
    return metrics


def parse(message: Mapping[str, Any], *, raw: str, envelope: Envelope) -> Alert:
    arn_text = text(message.get("AlarmArn"))
    arn = parse_alarm_arn(arn_text)
    name = (
        text(message.get("AlarmName"))
        or (arn.name if arn else None)
        or _subject_name(envelope.subject)
        or "unnamed CloudWatch alarm"
    )
    region = (arn.region if arn else None) or region_code(message.get("Region"))
    account = text(message.get("AWSAccountId")) or (arn.account if arn else None)
    alarm_id = alarm_identity(arn_text, region, account, name)

    notes: list[str] = []
    new_state = state(message.get("NewStateValue"))
    if new_state is None:
        new_state = subject_state(envelope.subject) or AlertState.ALARM
        notes.append(
            f"NewStateValue missing or unknown ({message.get('NewStateValue')!r}); assumed {new_state}"
        )
    time = parse_time(message.get("StateChangeTime"))
    if time is None:
        time = envelope.fallback_time
        notes.append("StateChangeTime missing or unreadable; used the delivery time")

    trigger = mapping(message.get("Trigger"))
    metrics = _trigger_metrics(trigger)
    alarm_rule = text(message.get("AlarmRule"))
    threshold_metric_id = text(trigger.get("ThresholdMetricId"))
    kind = alarm_kind(metrics, composite=alarm_rule is not None, threshold_metric_id=threshold_metric_id)

    labels, metric_ref = metric_labels(metrics)
    labels = {"alarm": name, **labels}
    extra: dict[str, Any] = {"alarm_kind": kind, **envelope.extra()}
    annotations: dict[str, str] = {}

    contributor_id = text(message.get("AlarmContributorId"))
    attributes = string_map(message.get("AlarmContributorAttributes"))
    if not contributor_id and multi_time_series(metrics):
        # The alarm-level notification of a multi-time-series alarm: each contributor also
        # notifies on its own (id ARN#contributor). Flagged so the relay can tell them apart.
        extra["alarm_level_of_multi_time_series"] = True
    if contributor_id:
        alarm_id = f"{alarm_id}#{contributor_id}"
        extra["contributor_id"] = contributor_id
        extra["contributor_attributes"] = attributes
        labels.update(contributor_labels(attributes))
        if kind in ("metric", "metric_math"):
            kind = extra["alarm_kind"] = "metrics_insights"

    if alarm_rule:
        annotations["alarm_rule"] = alarm_rule
        extra["alarm_rule"] = alarm_rule
        children = []
        for child in items(message.get("TriggeringChildren")):
            child = mapping(child)
            child_arn = text(child.get("Arn"))
            if child_arn:
                child_state = text(mapping(child.get("State")).get("Value"))
                children.append({"arn": child_arn, "state": child_state})
        if children:
            extra["triggering_children"] = children
            annotations["triggering_children"] = ", ".join(
                (parse_alarm_arn(ch["arn"]).name if parse_alarm_arn(ch["arn"]) else ch["arn"])
                + (f" ({ch['state']})" if ch["state"] else "")
                for ch in children
            )
    for key, out in (
        ("Threshold", "threshold"),
        ("ComparisonOperator", "comparison_operator"),
        ("EvaluationPeriods", "evaluation_periods"),
        ("DatapointsToAlarm", "datapoints_to_alarm"),
        ("TreatMissingData", "treat_missing_data"),
    ):
        if key in trigger and trigger[key] not in (None, ""):
            extra[out] = trigger[key]
    if threshold_metric_id:
        extra["threshold_metric_id"] = threshold_metric_id
    extra["group_key"] = alarm_id

    reason = text(message.get("NewStateReason")) or f"{name} is {new_state}"
    if notes:
        extra["parse_notes"] = notes
    links: list[Link] = []
    if link := console_link(region, name):
        links.append(link)
    return Alert(
        source=AlertSource.CLOUDWATCH,
        id=alarm_id,
        name=name,
        state=new_state,
        reason=reason,
        time=time,
        labels=labels,
        links=tuple(links),
        raw=truncate(raw),
        description=description(message.get("AlarmDescription")),
        previous_state=state(message.get("OldStateValue")),
        region=region,
        account=account,
        metric=metric_ref,
        annotations=annotations,
        extra=extra,
    )


def _subject_name(subject: str | None) -> str | None:
    match = _SUBJECT_RE.match(subject or "")
    return (match["name"] or None) if match else None
