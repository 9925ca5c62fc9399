"""EventBridge "CloudWatch Alarm State Change" and "CloudWatch Alarm Contributor State Change" events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..domain.alert import Alert, AlertSource, AlertState, Link
from . import common as c

STATE_CHANGE = "CloudWatch Alarm State Change"
CONTRIBUTOR_STATE_CHANGE = "CloudWatch Alarm Contributor State Change"
DETAIL_TYPES = (STATE_CHANGE, CONTRIBUTOR_STATE_CHANGE)


def looks_like(event: Mapping[str, Any]) -> bool:
    return event.get("detail-type") in DETAIL_TYPES and isinstance(event.get("detail"), Mapping)


def _metrics(configuration: Mapping[str, Any]) -> list[c.MetricQuery]:
    out: list[c.MetricQuery] = []
    for item in c.items(configuration.get("metrics")):
        item = c.mapping(item)
        stat = c.mapping(item.get("metricStat"))
        metric = c.mapping(stat.get("metric"))
        dims = c.string_map(metric.get("dimensions"))
        return_data = item.get("returnData")
        out.append(
            c.MetricQuery(
                id=c.text(item.get("id")),
                namespace=c.text(metric.get("namespace")),
                name=c.text(metric.get("name")),
                dimensions=tuple(dims.items()),
                stat=c.text(stat.get("stat")),
                period=c.number(stat.get("period")) or c.number(item.get("period")),
                expression=c.text(item.get("expression")),
                label=c.text(item.get("label")),
                return_data=return_data if isinstance(return_data, bool) else None,
            )
        )
    return out


def parse(event: Mapping[str, Any], *, raw: str, envelope: c.Envelope) -> Alert:
    detail = c.mapping(event.get("detail"))
    resources = [r for r in c.items(event.get("resources")) if isinstance(r, str)]
    arn_text = next((r for r in resources if c.parse_alarm_arn(r)), None)
    arn = c.parse_alarm_arn(arn_text)
    name = c.text(detail.get("alarmName")) or (arn.name if arn else None) or "unnamed CloudWatch alarm"
    region = (arn.region if arn else None) or c.region_code(event.get("region"))
    account = c.text(event.get("account")) or (arn.account if arn else None)
    alarm_id = c.alarm_identity(arn_text, region, account, name)

    notes: list[str] = []
    current = c.mapping(detail.get("state"))
    previous = c.mapping(detail.get("previousState"))
    new_state = c.state(current.get("value"))
    if new_state is None:
        new_state = AlertState.ALARM
        notes.append(f"detail.state.value missing or unknown ({current.get('value')!r}); assumed ALARM")
    time = c.parse_time(current.get("timestamp")) or c.parse_time(event.get("time"))
    if time is None:
        time = envelope.fallback_time
        notes.append("detail.state.timestamp missing or unreadable; used the delivery time")

    configuration = c.mapping(detail.get("configuration"))
    metrics = _metrics(configuration)
    alarm_rule = c.text(configuration.get("alarmRule"))
    kind = c.alarm_kind(metrics, composite=alarm_rule is not None, threshold_metric_id=None)
    labels, metric_ref = c.metric_labels(metrics)
    labels = {"alarm": name, **labels}
    extra: dict[str, Any] = {"alarm_kind": kind, **envelope.extra()}
    if event_id := c.text(event.get("id")):
        extra["event_id"] = event_id
    annotations: dict[str, str] = {}

    contributor = c.mapping(detail.get("alarmContributor"))
    contributor_id = c.text(contributor.get("id"))
    if not contributor_id and c.multi_time_series(metrics):
        # The alarm-level notification of a multi-time-series alarm: each contributor also
        # notifies on its own (id ARN#contributor). Flagged so the relay can tell them apart.
        extra["alarm_level_of_multi_time_series"] = True
    if contributor_id:
        attributes = c.string_map(contributor.get("attributes"))
        alarm_id = f"{alarm_id}#{contributor_id}"
        extra["contributor_id"] = contributor_id
        extra["contributor_attributes"] = attributes
        labels.update(c.contributor_labels(attributes))
        if kind in ("metric", "metric_math"):
            kind = extra["alarm_kind"] = "metrics_insights"

    reason_data = c.json_object(current.get("reasonData"))
    if isinstance(reason_data, Mapping):
        if "threshold" in reason_data:
            extra["threshold"] = reason_data["threshold"]
        children = []
        for child in c.items(reason_data.get("triggeringAlarms")):
            child = c.mapping(child)
            if child_arn := c.text(child.get("arn")):
                children.append(
                    {"arn": child_arn, "state": c.text(c.mapping(child.get("state")).get("value"))}
                )
        if children:
            extra["triggering_children"] = children
            annotations["triggering_children"] = ", ".join(
                (parsed.name if (parsed := c.parse_alarm_arn(ch["arn"])) else ch["arn"])
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
        if value := c.text(current.get(key)):
            extra[out] = value
    extra["group_key"] = alarm_id
    if notes:
        extra["parse_notes"] = notes

    links: list[Link] = []
    if link := c.console_link(region, name):
        links.append(link)
    return Alert(
        source=AlertSource.EVENTBRIDGE,
        id=alarm_id,
        name=name,
        state=new_state,
        reason=c.text(current.get("reason")) or f"{name} is {new_state}",
        time=time,
        labels=labels,
        links=tuple(links),
        raw=c.truncate(raw),
        description=c.description(configuration.get("description")),
        previous_state=c.state(previous.get("value")),
        region=region,
        account=account,
        metric=metric_ref,
        annotations=annotations,
        extra=extra,
    )
