"""Alertmanager webhook bodies (version 4): one Alert per object in ``alerts[]``, sharing the groupKey."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..domain.alert import Alert, AlertSource, AlertState, Link
from .common import Envelope, items, number, parse_time, string_map, text, time_or_delivery, truncate

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


@dataclass(frozen=True)
class _Group:
    """What an Alertmanager body says once for all of its alerts."""

    key: str
    labels: dict[str, str]  # commonLabels
    annotations: dict[str, str]  # commonAnnotations
    group_labels: dict[str, str]
    status: str | None
    external_url: str | None
    receiver: str | None
    truncated: int | float | None
    notes: tuple[str, ...]  # what every alert of the body notes (about the body)


def parse(body: Mapping[str, Any], *, raw: str, envelope: Envelope) -> list[Alert]:
    """One Alert per object in ``alerts[]``; entries that are not objects are skipped, with a note
    on each alert. An empty list when there is no object at all (the caller falls back)."""
    entries = items(body.get("alerts"))
    objects = [entry for entry in entries if isinstance(entry, Mapping)]
    notes: list[str] = []
    if skipped := len(entries) - len(objects):
        notes.append(f"skipped {skipped} alerts[] entries that are not objects")
    group = _group(body, notes)
    return [_alert(entry, group, envelope) for entry in objects]


def _group(body: Mapping[str, Any], notes: list[str]) -> _Group:
    common_labels = string_map(body.get("commonLabels"))
    group_labels = string_map(body.get("groupLabels"))
    truncated = number(body.get("truncatedAlerts"), notes, field="truncatedAlerts")
    return _Group(
        # No groupKey: the body is still one group; name it by its group labels (or common labels).
        key=text(body.get("groupKey")) or "alertmanager:" + labels_hash(group_labels or common_labels),
        labels=common_labels,
        annotations=string_map(body.get("commonAnnotations")),
        group_labels=group_labels,
        status=text(body.get("status")),
        external_url=text(body.get("externalURL")),
        receiver=text(body.get("receiver")),
        truncated=truncated,
        notes=tuple(notes),
    )


def _alert(entry: Mapping[str, Any], group: _Group, envelope: Envelope) -> Alert:
    labels = {**group.labels, **string_map(entry.get("labels"))}
    annotations = {**group.annotations, **string_map(entry.get("annotations"))}
    status = (text(entry.get("status")) or group.status or "firing").lower()
    notes = list(group.notes)
    alert_state = _STATES.get(status)
    if alert_state is None:
        alert_state = AlertState.ALARM
        notes.append(f"unknown status {status!r}; treated as firing")
    starts = parse_time(entry.get("startsAt"))
    ends = parse_time(entry.get("endsAt"))
    stated = (ends or starts) if alert_state is AlertState.OK else (starts or ends)
    time = time_or_delivery(stated, envelope, notes, field="startsAt/endsAt")
    fingerprint = text(entry.get("fingerprint"))
    generator = text(entry.get("generatorURL"))
    name = (
        labels.get("alertname")
        or annotations.get("summary")
        or group.group_labels.get("alertname")
        or "Alertmanager alert"
    )
    if "runbook_url" in annotations and "runbook" not in annotations:
        annotations["runbook"] = annotations["runbook_url"]
    extra: dict[str, Any] = {"group_key": group.key, "status": status, **envelope.extra()}
    extra.update(_origin(group, generator))
    if group.group_labels:
        extra["group_labels"] = group.group_labels
    if fingerprint is None:
        extra["fingerprint_derived"] = True
    if group.truncated:
        extra["truncated_alerts"] = group.truncated
    if starts:
        extra["starts_at"] = starts.isoformat()
    if ends:
        extra["ends_at"] = ends.isoformat()
    if notes:
        extra["parse_notes"] = notes
    return Alert(
        source=AlertSource.ALERTMANAGER,
        id=fingerprint or labels_hash(labels),
        name=name,
        state=alert_state,
        reason=_reason(annotations, name, status),
        time=time,
        labels=labels,
        links=_links(group, generator),
        raw=truncate(json.dumps(entry, ensure_ascii=False, default=str)),
        description=annotations.get("description"),
        previous_state=None,
        annotations=annotations,
        extra=extra,
    )


def _reason(annotations: Mapping[str, str], name: str, status: str) -> str:
    return (
        annotations.get("summary")
        or annotations.get("description")
        or annotations.get("message")
        or f"{name} is {status}"
    )


def _links(group: _Group, generator: str | None) -> tuple[Link, ...]:
    """The alert's source (its generator URL), then the Alertmanager that sent it."""
    links: list[Link] = []
    if generator:
        links.append(Link(href=generator, text="Source"))
    if group.external_url:
        links.append(Link(href=group.external_url, text="Alertmanager"))
    return tuple(links)


def _origin(group: _Group, generator: str | None) -> dict[str, str]:
    """Where the alert came from: the Alertmanager's URL, its generator URL, the receiver."""
    urls: dict[str, str] = {}
    if group.external_url:
        urls["external_url"] = group.external_url
    if generator:
        urls["generator_url"] = generator
    if group.receiver:
        urls["receiver"] = group.receiver
    return urls
