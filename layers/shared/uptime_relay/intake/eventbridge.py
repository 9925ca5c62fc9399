"""EventBridge "CloudWatch Alarm State Change" and "CloudWatch Alarm Contributor State Change" events."""

from __future__ import annotations

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
    json_object,
    mapping,
    metric_labels,
    multi_time_series,
    number,
    parse_alarm_arn,
    parse_time,
    region_code,
    state,
    string_map,
    text,
    truncate,
)

STATE_CHANGE = "CloudWatch Alarm State Change"
CONTRIBUTOR_STATE_CHANGE = "CloudWatch Alarm Contributor State Change"
DETAIL_TYPES = (STATE_CHANGE, CONTRIBUTOR_STATE_CHANGE)


def looks_like(event: Mapping[str, Any]) -> bool:
    return event.get("detail-type") in DETAIL_TYPES and isinstance(event.get("detail"), Mapping)


def _metrics(configuration: Mapping[str, Any]) -> list[MetricQuery]:
    out: list[MetricQuery] = []
    for item in items(configuration.get("metrics")):
        item = mapping(item)
        stat = mapping(item.get("metricStat"))
        metric = mapping(stat.get("metric"))
        dims = string_map(metric.get("dimensions"))
        return_data = item.get("returnData")
        out.append(
            MetricQuery(
                id=text(item.get("id")),
                namespace=text(metric.get("namespace")),
                name=text(metric.get("name")),
                dimensions=tuple(dims.items()),
                stat=text(stat.get("stat")),
                period=number(stat.get("period")) or number(item.get("period")),
                expression=text(item.get("expression")),
                label=text(item.get("label")),
                return_data=return_data if isinstance(return_data, bool) else None,
            )
        )
    return out


def parse(event: Mapping[str, Any], *, raw: str, envelope: Envelope) -> Alert:
    detail = mapping(event.get("detail"))
    resources = [r for r in items(event.get("resources")) if isinstance(r, str)]
    arn_text = next((r for r in resources if parse_alarm_arn(r)), None)
    arn = parse_alarm_arn(arn_text)
    name = text(detail.get("alarmName")) or (arn.name if arn else None) or "unnamed CloudWatch alarm"
    region = (arn.region if arn else None) or region_code(event.get("region"))
    account = text(event.get("account")) or (arn.account if arn else None)
    alarm_id = alarm_identity(arn_text, region, account, name)

    notes: list[str] = []
    current = mapping(detail.get("state"))
    previous = mapping(detail.get("previousState"))
    new_state = state(current.get("value"))
    if new_state is None:
        new_state = AlertState.ALARM
        notes.append(f"detail.state.value missing or unknown ({current.get('value')!r}); assumed ALARM")
    time = parse_time(current.get("timestamp")) or parse_time(event.get("time"))
    if time is None:
        time = envelope.fallback_time
        notes.append("detail.state.timestamp missing or unreadable; used the delivery time")

    configuration = mapping(detail.get("configuration"))
    metrics = _metrics(configuration)
    alarm_rule = text(configuration.get("alarmRule"))
    kind = alarm_kind(metrics, composite=alarm_rule is not None, threshold_metric_id=None)
    labels, metric_ref = metric_labels(metrics)
    labels = {"alarm": name, **labels}
    extra: dict[str, Any] = {"alarm_kind": kind, **envelope.extra()}
    if event_id := text(event.get("id")):
        extra["event_id"] = event_id
    annotations: dict[str, str] = {}

    contributor = mapping(detail.get("alarmContributor"))
    contributor_id = text(contributor.get("id"))
    if not contributor_id and multi_time_series(metrics):
        # The alarm-level notification of a multi-time-series alarm: each contributor also
        # notifies on its own (id ARN#contributor). Flagged so the relay can tell them apart.
        extra["alarm_level_of_multi_time_series"] = True
    if contributor_id:
        attributes = string_map(contributor.get("attributes"))
        alarm_id = f"{alarm_id}#{contributor_id}"
        extra["contributor_id"] = contributor_id
        extra["contributor_attributes"] = attributes
        labels.update(contributor_labels(attributes))
        if kind in ("metric", "metric_math"):
            kind = extra["alarm_kind"] = "metrics_insights"

    reason_data = json_object(current.get("reasonData"))
    if isinstance(reason_data, Mapping):
        if "threshold" in reason_data:
            extra["threshold"] = reason_data["threshold"]
        children = []
        for child in items(reason_data.get("triggeringAlarms")):
            child = mapping(child)
            if child_arn := text(child.get("arn")):
                children.append({"arn": child_arn, "state": text(mapping(child.get("state")).get("value"))})
        if children:
            extra["triggering_children"] = children
            annotations["triggering_children"] = ", ".join(
                (parsed.name if (parsed := parse_alarm_arn(ch["arn"])) else ch["arn"])
                + (f" ({ch['state']})" if ch["state"] else "")
                for ch in children
            )
    if alarm_rule:
        annotations["alarm_rule"] = alarm_rule
        extra["alarm_rule"] = alarm_rule
    for key, out in (
        ("actionsSuppressedBy", "actions_suppressed_by"),
        ("actionsSuppressedReason", "actions_suppressed_reason"),
    ):
        if value := text(current.get(key)):
            extra[out] = value
    extra["group_key"] = alarm_id
    if notes:
        extra["parse_notes"] = notes

    links: list[Link] = []
    if link := console_link(region, name):
        links.append(link)
    return Alert(
        source=AlertSource.EVENTBRIDGE,
        id=alarm_id,
        name=name,
        state=new_state,
        reason=text(current.get("reason")) or f"{name} is {new_state}",
        time=time,
        labels=labels,
        links=tuple(links),
        raw=truncate(raw),
        description=description(configuration.get("description")),
        previous_state=state(previous.get("value")),
        region=region,
        account=account,
        metric=metric_ref,
        annotations=annotations,
        extra=extra,
    )
