"""Incidents and the pure state machine that decides what an alert does to them.

Two records per alarm live in the store: ``AlarmRecord`` (``ALARM#<alarm id>``: the newest ALARM/OK
state-change time seen and a pointer to the open incident) and ``Incident`` (``INCIDENT#<id>``).
``decide`` takes both as read and one Alert and returns a ``Transition``: the records to write
(each carrying its next version, so the store can write it conditionally on the previous one) and
what happened. Ordering is decided on the alarm's own StateChangeTime (``alert.time``), never on
delivery time:

- ALARM opens an incident, or joins the open one for the same alarm (no new page);
- OK resolves the open incident when its time is >= the newest ALARM/OK time seen;
- anything older than the newest ALARM/OK time seen is stale: ignored (noted on the timeline);
- an OK with no open incident is recorded, so an older ALARM arriving later is stale;
- an exact repeat (same state, same time) is a duplicate: nothing happens;
- INSUFFICIENT_DATA is recorded and, per route, warned about, ignored, or handled like ALARM ("page").
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from .alert import TEST_LABEL, Alert, AlertSource, AlertState, Link, MetricRef

OPEN_STATUSES = ("open", "acknowledged")


# --------------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # opened, notified, delivery_failed, dead_lettered, resolved, ignored, ...
    detail: str = ""
    channel: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"at": self.at.isoformat(), "kind": self.kind, "detail": self.detail}
        if self.channel is not None:
            out["channel"] = self.channel
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TimelineEntry:
        return cls(
            at=datetime.fromisoformat(data["at"]),
            kind=str(data["kind"]),
            detail=str(data.get("detail") or ""),
            channel=data.get("channel"),
        )


@dataclass(frozen=True)
class Incident:
    id: str
    alarm_id: str
    name: str
    status: str  # open | acknowledged | resolved
    opened_at: datetime
    last_state_time: datetime
    resolved_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    check: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    route_channels: tuple[str, ...] = ()
    policy: str | None = None
    step: int = 0
    round: int = 0
    due_at: datetime | None = None
    handles: Mapping[str, dict] = field(default_factory=dict)
    timeline: tuple[TimelineEntry, ...] = ()
    silenced: bool = False
    version: int = 1
    alert: Alert | None = None  # the opening alert (escalations and resolves render from it)
    group_key: str | None = None
    mentions: tuple[str, ...] = ()
    resolved_by: str | None = None
    # first-page sends (channel names, "<email channel>:people") with no recorded outcome yet, and
    # until when the sender holds them (a lease: once it runs out, anyone may claim and send them)
    pending: tuple[str, ...] = ()
    pending_until: datetime | None = None
    emails: tuple[str, ...] = ()  # the people's addresses the first page was e-mailed to
    # While the first page is pending, ``due_at`` is the lease's end (so the escalation sweep's due
    # index finds a first page whose sender died) and the escalation cursor's own due time waits
    # in ``held_due_at`` (None: no step left); settling the first page puts it back.
    cursor_held: bool = False
    held_due_at: datetime | None = None
    # what the escalation schedule counts from (``domain.escalation``): the later of the alarm's
    # time and its arrival, set by the relay at open; None for incidents written before it existed
    escalation_anchor: datetime | None = None
    # the route group (or storm summary) it was put in (``domain.grouping``): the group pages,
    # resolves and escalates for it; None: it pages on its own
    group_id: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_test(self) -> bool:
        """An incident of a test alert (``uptime-relay test``): never in reports, uptime or the status page."""
        return bool(self.labels.get(TEST_LABEL))

    def notified_channels(self) -> tuple[str, ...]:
        """Every channel that got a message for this incident (open, escalations), order kept."""
        seen: dict[str, None] = {}
        for entry in self.timeline:
            if entry.kind == "notified" and entry.channel:
                seen.setdefault(entry.channel, None)
        for channel in self.handles:
            seen.setdefault(channel, None)
        return tuple(seen)

    def with_entries(self, *entries: TimelineEntry) -> Incident:
        return replace(self, timeline=trim_timeline((*self.timeline, *entries)), version=self.version + 1)


TIMELINE_CAP = 200
_KEPT_KINDS = ("opened", "notified", "acknowledged", "resolved", "silenced", "inhibited", "flapping", "held")


def trim_timeline(timeline: tuple[TimelineEntry, ...], cap: int = TIMELINE_CAP) -> tuple[TimelineEntry, ...]:
    """Bound the timeline (a DynamoDB item holds 400 KB; a flapping alarm adds an entry per flap):
    past ``cap`` entries, the oldest routine entries (ignored, insufficient_data, alarm, ...) are
    dropped; openings, notifications, acks, resolves and silences are always kept."""
    if len(timeline) <= cap:
        return timeline
    kept = sum(1 for e in timeline if e.kind in _KEPT_KINDS)
    room = max(0, cap - kept)
    others = [i for i, e in enumerate(timeline) if e.kind not in _KEPT_KINDS]
    keep_others = set(others[len(others) - room :]) if room else set()
    return tuple(e for i, e in enumerate(timeline) if e.kind in _KEPT_KINDS or i in keep_others)


@dataclass(frozen=True)
class AlarmRecord:
    """``ALARM#<alarm id>``: newest ALARM/OK state-change time seen and the open incident, if any."""

    alarm_id: str
    last_state: str | None = None  # ALARM | OK (INSUFFICIENT_DATA tracked separately)
    last_state_time: datetime | None = None
    open_incident: str | None = None
    last_insufficient_time: datetime | None = None
    version: int = 1


@dataclass(frozen=True)
class Cursor:
    """Where escalation stands (mirrors ``domain.escalation.Cursor``)."""

    step: int
    round: int
    due_at: datetime | None


@dataclass(frozen=True)
class OpeningPlan:
    """What a newly opened incident records, decided by routing before the transition."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    check: str | None = None
    route_channels: tuple[str, ...] = ()
    policy: str | None = None
    cursor: Any = None  # anything with step, round, due_at (escalation.Cursor) or None
    silenced: str | None = None  # why, when silenced
    unrouted: bool = False
    mentions: tuple[str, ...] = ()
    lease_until: datetime | None = None  # how long the opener holds the first page (see Incident.pending)
    emails: tuple[str, ...] = ()  # people (oncall:/person: targets) e-mailed with the first page
    pending_keys: tuple[str, ...] | None = None  # the first page's sends (default: route_channels)
    anchor: datetime | None = None  # what escalation delays count from (default: the alert's time)
    # silenced: when the escalation sweep first checks whether the silence is over (default:
    # ``lease_until``, else the alert's time)
    hold_until: datetime | None = None
    # which mute stage holds the first page (``domain.mute``: silenced, flapping, inhibited,
    # held): the kind of its timeline entry
    mute_kind: str = "silenced"


class Action(StrEnum):
    OPENED = "opened"  # a new incident: page
    JOINED = "joined"  # ALARM again while the incident is open: no new page
    RESOLVED = "resolved"  # OK closed the open incident: send resolves
    RECORDED = "recorded"  # OK with nothing open: remembered for ordering
    INSUFFICIENT = "insufficient_data"  # recorded; warned/ignored per route
    STALE = "stale"  # older than what we already know: ignored
    DUPLICATE = "duplicate"  # the same state change again: nothing
    ALARM_LEVEL = "alarm_level"  # a multi-time-series alarm's own ALARM: its contributors page


@dataclass(frozen=True)
class Transition:
    action: Action
    alert: Alert
    reason: str
    record: AlarmRecord | None = None  # to write (version = previous + 1; 1 = must not exist)
    incident: Incident | None = None  # to write (version = previous + 1; 1 = must not exist)
    current: Incident | None = None  # the incident concerned, after the change (None if none)

    @property
    def writes(self) -> bool:
        return self.record is not None or self.incident is not None


# --------------------------------------------------------------------------------------- decide
def incident_id(alarm_id: str, opened_at: datetime) -> str:
    """Deterministic: one alarm id + one opening StateChangeTime can only ever open one incident."""
    digest = hashlib.sha256(f"{alarm_id}|{opened_at.isoformat()}".encode()).hexdigest()
    return f"inc-{digest[:20]}"


def open_incident(alert: Alert, plan: OpeningPlan) -> Incident:
    """A new incident. Not silenced: its first page is ``pending`` under the opener's lease and the
    escalation cursor waits in ``held_due_at`` until the page is settled (see ``Incident.pending``).

    Silenced (a maintenance window or one-off silence covers it): the first page is HELD, not
    dropped. Its sends are recorded as ``pending`` (targets kept), ``silenced`` is set, the
    cursor is held, and ``due_at`` = ``pending_until`` = ``plan.hold_until``: the escalation
    sweep re-checks the silence then and, once it is over and the incident still open, sends
    the first page once and starts the policy from that moment (``escalator``). An incident
    that resolves inside the window never pages."""
    entries = [TimelineEntry(alert.time, "opened", alert.reason[:500])]
    if plan.silenced:
        entries.append(
            TimelineEntry(alert.time, plan.mute_kind, f"{plan.silenced}; first page held until it ends")
        )
    if plan.unrouted:
        entries.append(TimelineEntry(alert.time, "unrouted", "no route matched: nobody notified"))
    pending = tuple(plan.pending_keys if plan.pending_keys is not None else plan.route_channels)
    cursor = plan.cursor
    if plan.silenced and (pending or cursor is not None):
        # the first page is held until the silence ends; the policy counts from that page
        hold = plan.hold_until or plan.lease_until or alert.time
        due_at, pending_until, held, held_due_at = hold, hold, True, None
    else:
        if plan.silenced:  # nobody to page and no policy: nothing to hold
            pending = ()
        lease = plan.lease_until if pending else None
        cursor_due = cursor.due_at if cursor is not None else None
        held = lease is not None
        due_at, pending_until, held_due_at = (lease, lease, cursor_due) if held else (cursor_due, None, None)
    return Incident(
        id=incident_id(alert.id, alert.time),
        alarm_id=alert.id,
        name=plan.name or alert.name,
        status="open",
        opened_at=alert.time,
        last_state_time=alert.time,
        check=plan.check,
        labels=dict(plan.labels),
        route_channels=tuple(plan.route_channels),
        policy=plan.policy,
        step=cursor.step if cursor is not None else 0,
        round=cursor.round if cursor is not None else 0,
        due_at=due_at,
        timeline=tuple(entries),
        silenced=bool(plan.silenced),
        version=1,
        alert=alert,
        group_key=str(alert.extra.get("group_key") or alert.id),
        mentions=tuple(plan.mentions),
        pending=pending,
        pending_until=pending_until,
        emails=tuple(plan.emails),
        cursor_held=held,
        held_due_at=held_due_at,
        escalation_anchor=plan.anchor or alert.time,
    )


def decide(
    record: AlarmRecord | None,
    incident: Incident | None,
    alert: Alert,
    *,
    plan: OpeningPlan | None = None,
    insufficient_mode: str = "warn",
) -> Transition:
    """What ``alert`` does, given the alarm's record and the incident it points to (as read)."""
    t = alert.time
    current = (
        incident
        if incident is not None
        and incident.is_open
        and record is not None
        and record.open_incident == incident.id
        else None
    )
    state = alert.state
    if state is AlertState.INSUFFICIENT_DATA:
        if insufficient_mode != "page":
            return _insufficient(record, current, alert)
        state = AlertState.ALARM
    last = record.last_state_time if record else None
    if record is not None and last is not None:
        if t < last:
            return _stale(current, alert, f"older than the newest state change seen ({last.isoformat()})")
        if t == last and state.value == record.last_state:
            return Transition(Action.DUPLICATE, alert, "same state change seen before", current=current)
        if t == last and state is AlertState.ALARM:
            return _stale(current, alert, "an OK at the same instant was seen before")
    if state is AlertState.ALARM:
        if current is not None:
            joined = replace(current, last_state_time=t).with_entries(
                TimelineEntry(t, "alarm", "still in alarm: " + alert.reason[:300])
            )
            return Transition(
                Action.JOINED,
                alert,
                "the alarm's incident is already open",
                record=_next_record(record, alert.id, last_state="ALARM", last_state_time=t),
                incident=joined,
                current=joined,
            )
        opened = open_incident(alert, plan or OpeningPlan(name=alert.name, labels=alert.labels))
        return Transition(
            Action.OPENED,
            alert,
            "alarm opened an incident",
            record=_next_record(
                record, alert.id, last_state="ALARM", last_state_time=t, open_incident=opened.id
            ),
            incident=opened,
            current=opened,
        )
    # OK
    if current is not None:
        resolved = replace(
            current, status="resolved", resolved_at=t, last_state_time=t, due_at=None, resolved_by="alarm"
        ).with_entries(TimelineEntry(t, "resolved", "alarm returned to OK"))
        return Transition(
            Action.RESOLVED,
            alert,
            "OK resolved the open incident",
            record=_next_record(record, alert.id, last_state="OK", last_state_time=t, open_incident=None),
            incident=resolved,
            current=resolved,
        )
    return Transition(
        Action.RECORDED,
        alert,
        "OK with no open incident: recorded so an older ALARM arriving later is ignored",
        record=_next_record(record, alert.id, last_state="OK", last_state_time=t, open_incident=None),
    )


def _next_record(record: AlarmRecord | None, alarm_id: str, **changes: Any) -> AlarmRecord:
    if record is None:
        return AlarmRecord(alarm_id=alarm_id, version=1, **changes)
    return replace(record, version=record.version + 1, **changes)


def _stale(current: Incident | None, alert: Alert, why: str) -> Transition:
    if current is None:
        return Transition(Action.STALE, alert, why)
    noted = current.with_entries(TimelineEntry(alert.time, "ignored", f"{alert.state.value} ignored: {why}"))
    return Transition(Action.STALE, alert, why, incident=noted, current=noted)


def _insufficient(record: AlarmRecord | None, current: Incident | None, alert: Alert) -> Transition:
    t = alert.time
    if record is not None and record.last_state_time is not None and t < record.last_state_time:
        return _stale(current, alert, "older than the newest ALARM/OK state change")
    if (
        record is not None
        and record.last_insufficient_time is not None
        and t <= record.last_insufficient_time
    ):
        return Transition(Action.DUPLICATE, alert, "insufficient data seen before", current=current)
    noted = (
        current.with_entries(TimelineEntry(t, "insufficient_data", alert.reason[:300]))
        if current is not None
        else None
    )
    return Transition(
        Action.INSUFFICIENT,
        alert,
        "insufficient data recorded",
        record=_next_record(record, alert.id, last_insufficient_time=t),
        incident=noted,
        current=noted,
    )


# --------------------------------------------------------------------------------------- JSON
def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """A JSON-safe dict holding everything needed to rebuild the Alert (DLQ, incident records)."""
    return {
        "source": alert.source.value,
        "id": alert.id,
        "name": alert.name,
        "state": alert.state.value,
        "reason": alert.reason,
        "time": alert.time.isoformat(),
        "labels": dict(alert.labels),
        "links": [{"href": link.href, "text": link.text} for link in alert.links],
        "raw": alert.raw,
        "description": alert.description,
        "previous_state": alert.previous_state.value if alert.previous_state else None,
        "region": alert.region,
        "account": alert.account,
        "metric": (
            {
                "namespace": alert.metric.namespace,
                "name": alert.metric.name,
                "dimensions": [list(d) for d in alert.metric.dimensions],
                "stat": alert.metric.stat,
                "period": alert.metric.period,
            }
            if alert.metric
            else None
        ),
        "annotations": dict(alert.annotations),
        "extra": _json_safe(alert.extra),
    }


def alert_from_dict(data: Mapping[str, Any]) -> Alert:
    metric = data.get("metric")
    return Alert(
        source=AlertSource(data["source"]),
        id=data["id"],
        name=data["name"],
        state=AlertState(data["state"]),
        reason=data.get("reason") or "",
        time=datetime.fromisoformat(data["time"]),
        labels=dict(data.get("labels") or {}),
        links=tuple(Link(item["href"], item.get("text", "")) for item in data.get("links") or ()),
        raw=data.get("raw") or "",
        description=data.get("description"),
        previous_state=AlertState(data["previous_state"]) if data.get("previous_state") else None,
        region=data.get("region"),
        account=data.get("account"),
        metric=(
            MetricRef(
                namespace=metric["namespace"],
                name=metric["name"],
                dimensions=tuple((str(k), str(v)) for k, v in metric.get("dimensions") or ()),
                stat=metric.get("stat"),
                period=metric.get("period"),
            )
            if metric
            else None
        ),
        annotations=dict(data.get("annotations") or {}),
        extra=dict(data.get("extra") or {}),
    )


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def incident_to_dict(incident: Incident) -> dict[str, Any]:
    """JSON-safe form (CLI output, DLQ context, the in-memory store's copies)."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": incident.id,
        "alarm_id": incident.alarm_id,
        "name": incident.name,
        "status": incident.status,
        "opened_at": iso(incident.opened_at),
        "last_state_time": iso(incident.last_state_time),
        "resolved_at": iso(incident.resolved_at),
        "acknowledged_at": iso(incident.acknowledged_at),
        "acknowledged_by": incident.acknowledged_by,
        "resolved_by": incident.resolved_by,
        "check": incident.check,
        "labels": dict(incident.labels),
        "route_channels": list(incident.route_channels),
        "policy": incident.policy,
        "step": incident.step,
        "round": incident.round,
        "due_at": iso(incident.due_at),
        "handles": {k: dict(v) for k, v in incident.handles.items()},
        "timeline": [e.to_dict() for e in incident.timeline],
        "silenced": incident.silenced,
        "version": incident.version,
        "alert": alert_to_dict(incident.alert) if incident.alert else None,
        "group_key": incident.group_key,
        "mentions": list(incident.mentions),
        "pending": list(incident.pending),
        "pending_until": iso(incident.pending_until),
        "emails": list(incident.emails),
        "cursor_held": incident.cursor_held,
        "held_due_at": iso(incident.held_due_at),
        "escalation_anchor": iso(incident.escalation_anchor),
        "group_id": incident.group_id,
    }


def incident_from_dict(data: Mapping[str, Any]) -> Incident:
    def dt(key: str) -> datetime | None:
        value = data.get(key)
        return datetime.fromisoformat(value) if value else None

    return Incident(
        id=data["id"],
        alarm_id=data["alarm_id"],
        name=data.get("name") or "",
        status=data["status"],
        opened_at=datetime.fromisoformat(data["opened_at"]),
        last_state_time=datetime.fromisoformat(data["last_state_time"]),
        resolved_at=dt("resolved_at"),
        acknowledged_at=dt("acknowledged_at"),
        acknowledged_by=data.get("acknowledged_by"),
        resolved_by=data.get("resolved_by"),
        check=data.get("check"),
        labels=dict(data.get("labels") or {}),
        route_channels=tuple(data.get("route_channels") or ()),
        policy=data.get("policy"),
        step=int(data.get("step") or 0),
        round=int(data.get("round") or 0),
        due_at=dt("due_at"),
        handles={k: dict(v) for k, v in (data.get("handles") or {}).items()},
        timeline=tuple(TimelineEntry.from_dict(e) for e in data.get("timeline") or ()),
        silenced=bool(data.get("silenced")),
        version=int(data.get("version") or 1),
        alert=alert_from_dict(data["alert"]) if data.get("alert") else None,
        group_key=data.get("group_key"),
        mentions=tuple(data.get("mentions") or ()),
        pending=tuple(data.get("pending") or ()),
        pending_until=dt("pending_until"),
        emails=tuple(data.get("emails") or ()),
        cursor_held=bool(data.get("cursor_held")),
        held_due_at=dt("held_due_at"),
        escalation_anchor=dt("escalation_anchor"),
        group_id=data.get("group_id"),
    )
