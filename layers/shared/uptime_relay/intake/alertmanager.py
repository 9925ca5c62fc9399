"""Alertmanager webhook bodies (version 4): one Alert per ``alerts[]`` item, sharing the groupKey."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ..domain.alert import Alert, AlertSource, AlertState, Link
from .common import Envelope, items, mapping, number, parse_time, string_map, text, truncate

_STATES = {"firing": AlertState.ALARM, "resolved": AlertState.OK}


def looks_like(body: Mapping[str, Any]) -> bool:
    return isinstance(body.get("alerts"), list) and (
        "groupKey" in body or "receiver" in body or str(body.get("version", "")) == "4"
    )


def labels_hash(labels: Mapping[str, str]) -> str:
    """A stable id for an alert without a fingerprint: SHA-256 of its sorted labels (16 hex digits,
    the width of Alertmanager's own fingerprints)."""
    canonical = json.dumps(sorted(labels.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def parse(body: Mapping[str, Any], *, raw: str, envelope: Envelope) -> list[Alert]:
    common_labels = string_map(body.get("commonLabels"))
    common_annotations = string_map(body.get("commonAnnotations"))
    group_labels = string_map(body.get("groupLabels"))
    group_key = text(body.get("groupKey"))
    external_url = text(body.get("externalURL"))
    body_status = text(body.get("status"))
    alerts: list[Alert] = []
    entries = [mapping(a) for a in items(body.get("alerts"))]
    if group_key is None:
        # No groupKey: the body is still one group; name it by its group labels (or common labels).
        group_key = "alertmanager:" + labels_hash(group_labels or common_labels)
    for entry in entries:
        labels = {**common_labels, **string_map(entry.get("labels"))}
        annotations = {**common_annotations, **string_map(entry.get("annotations"))}
        status = (text(entry.get("status")) or body_status or "firing").lower()
        notes: list[str] = []
        alert_state = _STATES.get(status)
        if alert_state is None:
            alert_state = AlertState.ALARM
            notes.append(f"unknown status {status!r}; treated as firing")
        starts = parse_time(entry.get("startsAt"))
        ends = parse_time(entry.get("endsAt"))
        time = (ends or starts) if alert_state is AlertState.OK else (starts or ends)
        if time is None:
            time = envelope.fallback_time
            notes.append("startsAt/endsAt missing or unreadable; used the delivery time")
        fingerprint = text(entry.get("fingerprint"))
        alert_id = fingerprint or labels_hash(labels)
        name = (
            labels.get("alertname")
            or annotations.get("summary")
            or group_labels.get("alertname")
            or "Alertmanager alert"
        )
        if "runbook_url" in annotations and "runbook" not in annotations:
            annotations["runbook"] = annotations["runbook_url"]
        reason = (
            annotations.get("summary")
            or annotations.get("description")
            or annotations.get("message")
            or f"{name} is {status}"
        )
        links: list[Link] = []
        generator = text(entry.get("generatorURL"))
        if generator:
            links.append(Link(href=generator, text="Source"))
        if external_url:
            links.append(Link(href=external_url, text="Alertmanager"))
        extra: dict[str, Any] = {
            "group_key": group_key,
            "status": status,
            **envelope.extra(),
        }
        if external_url:
            extra["external_url"] = external_url
        if generator:
            extra["generator_url"] = generator
        if receiver := text(body.get("receiver")):
            extra["receiver"] = receiver
        if group_labels:
            extra["group_labels"] = group_labels
        if fingerprint is None:
            extra["fingerprint_derived"] = True
        truncated = number(body.get("truncatedAlerts"))
        if truncated:
            extra["truncated_alerts"] = truncated
        if starts:
            extra["starts_at"] = starts.isoformat()
        if ends:
            extra["ends_at"] = ends.isoformat()
        if notes:
            extra["parse_notes"] = notes
        alerts.append(
            Alert(
                source=AlertSource.ALERTMANAGER,
                id=alert_id,
                name=name,
                state=alert_state,
                reason=reason,
                time=time,
                labels=labels,
                links=tuple(links),
                raw=truncate(json.dumps(entry, ensure_ascii=False, default=str)),
                description=annotations.get("description"),
                previous_state=None,
                annotations=annotations,
                extra=extra,
            )
        )
    return alerts
