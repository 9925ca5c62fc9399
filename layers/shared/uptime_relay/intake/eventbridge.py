"""EventBridge "CloudWatch Alarm State Change" and "CloudWatch Alarm Contributor State Change" events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..domain.alert import Alert, AlertSource, AlertState
from .alarm import MetricQuery, alarm_draft, child_alarms, description, identify_alarm, parse_alarm_arn
from .common import (
    Envelope,
    items,
    json_object,
    mapping,
    number,
    parse_time,
    state,
    state_or_assumed,
    string_map,
    text,
    time_or_delivery,
)

STATE_CHANGE = "CloudWatch Alarm State Change"
CONTRIBUTOR_STATE_CHANGE = "CloudWatch Alarm Contributor State Change"
DETAIL_TYPES = (STATE_CHANGE, CONTRIBUTOR_STATE_CHANGE)
_SUPPRESSION = (
    ("actionsSuppressedBy", "actions_suppressed_by"),
    ("actionsSuppressedReason", "actions_suppressed_reason"),
)


def looks_like(event: Mapping[str, Any]) -> bool:
    return event.get("detail-type") in DETAIL_TYPES and isinstance(event.get("detail"), Mapping)


def _metrics(configuration: Mapping[str, Any], notes: list[str]) -> list[MetricQuery]:
    out: list[MetricQuery] = []
    for index, item in enumerate(items(configuration.get("metrics"))):
        item = mapping(item)
        stat = mapping(item.get("metricStat"))
        metric = mapping(stat.get("metric"))
        dims = string_map(metric.get("dimensions"))
        return_data = item.get("returnData")
        where = f"configuration.metrics[{index}]"
        out.append(
            MetricQuery(
                id=text(item.get("id")),
                namespace=text(metric.get("namespace")),
                name=text(metric.get("name")),
                dimensions=tuple(dims.items()),
                stat=text(stat.get("stat")),
                period=number(stat.get("period"), notes, field=f"{where}.metricStat.period")
                or number(item.get("period"), notes, field=f"{where}.period"),
                expression=text(item.get("expression")),
                label=text(item.get("label")),
                return_data=return_data if isinstance(return_data, bool) else None,
            )
        )
    return out


def parse(event: Mapping[str, Any], *, raw: str, envelope: Envelope) -> Alert:
    detail = mapping(event.get("detail"))
    resources = [r for r in items(event.get("resources")) if isinstance(r, str)]
    alarm = identify_alarm(
        next((r for r in resources if parse_alarm_arn(r)), None),
        name=text(detail.get("alarmName")),
        region=event.get("region"),
        account=event.get("account"),
    )
    notes: list[str] = []
    current = mapping(detail.get("state"))
    new_state = state_or_assumed(current.get("value"), AlertState.ALARM, notes, field="detail.state.value")
    time = time_or_delivery(
        parse_time(current.get("timestamp")) or parse_time(event.get("time")),
        envelope,
        notes,
        field="detail.state.timestamp",
    )

    configuration = mapping(detail.get("configuration"))
    metrics = _metrics(configuration, notes)
    alarm_rule = text(configuration.get("alarmRule"))
    contributor = mapping(detail.get("alarmContributor"))
    draft = alarm_draft(
        alarm,
        metrics,
        envelope,
        alarm_rule=alarm_rule,
        threshold_metric_id=None,
        contributor_id=text(contributor.get("id")),
        contributor_attributes=string_map(contributor.get("attributes")),
        event_id=text(event.get("id")),
    )
    reason_data = json_object(current.get("reasonData"))
    if isinstance(reason_data, Mapping):
        threshold = number(
            reason_data.get("threshold"),
            notes,
            field="state.reasonData.threshold",
            signed=True,
            fraction=True,
        )
        if threshold is not None:
            draft.extra["threshold"] = threshold
        draft.add_children(
            child_alarms(reason_data.get("triggeringAlarms"), arn="arn", state_key="state", value="value")
        )
    draft.add_alarm_rule(alarm_rule)
    draft.extra.update(_suppression(current))
    return draft.alert(
        AlertSource.EVENTBRIDGE,
        state=new_state,
        reason=text(current.get("reason")),
        time=time,
        raw=raw,
        description=description(configuration.get("description")),
        previous_state=state(mapping(detail.get("previousState")).get("value")),
        notes=notes,
    )


def _suppression(current: Mapping[str, Any]) -> dict[str, str]:
    """Why the alarm's actions are suppressed, when the state says they are."""
    return {out: value for key, out in _SUPPRESSION if (value := text(current.get(key)))}
