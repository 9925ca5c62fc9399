"""Incident state: the in-memory store and the DynamoDB store, both implementing ``ports.IncidentStore``.

Every state change is conditional. Alert intake (``apply``) reads the ``ALARM#`` record and the
incident it points to, asks the pure ``decide`` function what happens, and writes both records
in one transaction conditioned on the versions it read (a new incident on its absence: its id is
deterministic, so a duplicate ALARM cannot open a second one). When a condition fails, another
writer got there first: re-read and re-decide, a bounded number of times.

Table layout (one table, ``pk`` only; COMMON.md): ``ALARM#<alarm id>``, ``INCIDENT#<id>``; an
incident carries ``due_pk = "DUE"`` / ``due_at`` (sparse GSI ``due``) only while an escalation
step is pending, and ``list_pk = "INCIDENT#<status>"`` / ``list_at`` (GSI ``listing``, shared with
silences) always: ``list`` reads incidents by status and time with keyed queries, never a scan of
the table. ``list_at`` is when the incident entered its status (opened, acknowledged, resolved),
so it is never before ``opened_at``. ``expires_at`` (TTL) is set on resolved incidents and on
alarm records with nothing open, the store's ``retention`` on (the config's ``retention``,
default 400 days). ``REDELIVER#<incident id>`` (only while the incident has sends waiting for
automatic redelivery) holds them (``domain.redelivery.Pending``) and sits in the ``due`` GSI under
its own partition ``due_pk = "REDELIVER"``, ``due_at`` = the earliest next attempt.
"""

from __future__ import annotations

import builtins
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config.model import RETENTION_DEFAULT_S
from ..domain.alert import Alert
from ..domain.incident import (
    OPEN_STATUSES,
    AlarmRecord,
    Incident,
    TimelineEntry,
    Transition,
    alert_from_dict,
    alert_to_dict,
)
from ..domain.redelivery import GIVE_UP_AFTER, Pending
from ..ports import Decider
from ..ports import IncidentStore as IncidentStore  # the port, re-exported for its importers

DEFAULT_RETENTION = timedelta(seconds=RETENTION_DEFAULT_S)
DUE_PK = "DUE"
REDELIVER_PK = "REDELIVER"  # the due GSI's partition of pending redeliveries
DUE_INDEX = "due"
LIST_INDEX = "listing"  # list_pk (S) + list_at (N): incidents by status and time, silences by end
INCIDENT_LIST_PREFIX = "INCIDENT#"
MAX_ATTEMPTS = 5


class ConcurrentUpdateError(Exception):
    """A transition kept losing its conditional write to other writers (bounded retries spent)."""


class _ApplyLoop:
    """Read, decide, conditional write; on a lost race re-read and re-decide (bounded)."""

    def apply(self, alert: Alert, decide: Decider, *, max_attempts: int = MAX_ATTEMPTS) -> Transition:
        for _ in range(max_attempts):
            record = self.get_alarm(alert.id)  # type: ignore[attr-defined]
            incident = self.get(record.open_incident) if record and record.open_incident else None  # type: ignore[attr-defined]
            transition = decide(record, incident)
            if not transition.writes or self.commit(transition):  # type: ignore[attr-defined]
                return transition
        raise ConcurrentUpdateError(
            f"alarm {alert.id}: state changed under us {max_attempts} times; giving up on this delivery"
        )


def _expiry(at: datetime, retention: timedelta) -> int:
    return int((at + retention).timestamp())


class _PendingSends:
    """Sends waiting for automatic redelivery, per incident (one small record beside it), written
    conditionally on the record's version: ``defer`` and ``settle_redelivery`` may be made
    conditional on the next attempt time a sweep claimed (``claim_redelivery``), its claim token."""

    def _read_pending(self, id: str) -> tuple[int, dict[str, Pending]]:
        raise NotImplementedError

    def _write_pending(self, id: str, version: int, sends: dict[str, Pending]) -> bool:
        raise NotImplementedError

    def pending_sends(self, id: str) -> builtins.list[Pending]:
        """The incident's sends waiting for redelivery, earliest first."""
        return sorted(self._read_pending(id)[1].values(), key=lambda p: p.next_at)

    def _change_pending(
        self, id: str, key: str, change: Callable[[Pending | None], Pending | bool | None]
    ) -> bool:
        for _ in range(MAX_ATTEMPTS):
            version, sends = self._read_pending(id)
            changed = change(sends.get(key))
            if changed is False:
                return False
            if changed is None or changed is True:
                if key not in sends:
                    return True
                sends.pop(key)
            else:
                sends[key] = changed  # type: ignore[assignment]
            if self._write_pending(id, version, sends):
                return True
        raise ConcurrentUpdateError(f"pending sends of {id}: changed under us {MAX_ATTEMPTS} times")

    def defer(self, id: str, pending: Pending, *, expected_next_at: datetime | None = None) -> bool:
        """Keep ``pending`` (replacing the one with its key); with ``expected_next_at``, only
        while the one stored still has that next attempt time (the sweep's claim)."""

        def change(current: Pending | None) -> Pending | bool:
            if expected_next_at is not None and (current is None or current.next_at != expected_next_at):
                return False
            return pending

        return self._change_pending(id, pending.key, change)

    def claim_redelivery(
        self, id: str, key: str, *, expected_next_at: datetime, until: datetime
    ) -> Pending | None:
        """Take a due pending send: its next attempt moves to ``until`` (a lease: a sweep that
        dies leaves it due again then) on condition it is still ``expected_next_at``. One winner."""
        claimed: list[Pending] = []

        def change(current: Pending | None) -> Pending | bool:
            if current is None or current.next_at != expected_next_at:
                return False
            claimed.append(replace(current, next_at=until))
            return claimed[-1]

        return claimed[-1] if self._change_pending(id, key, change) and claimed else None

    def settle_redelivery(self, id: str, key: str, *, expected_next_at: datetime | None = None) -> bool:
        """Delivered, dropped or dead-lettered: forget it (conditional on the claim, if given)."""

        def change(current: Pending | None) -> bool:
            return not (
                expected_next_at is not None and (current is None or current.next_at != expected_next_at)
            )

        return self._change_pending(id, key, change)


# --------------------------------------------------------------------------------------- in memory
class InMemoryIncidentStore(_PendingSends, _ApplyLoop):
    """Same semantics as the DynamoDB store (versions, conditions, due index), for tests and local."""

    def __init__(self) -> None:
        self._incidents: dict[str, Incident] = {}
        self._alarms: dict[str, AlarmRecord] = {}
        self._pending: dict[str, tuple[int, dict[str, Pending]]] = {}
        self._lock = threading.RLock()
        self.writes = 0

    def _read_pending(self, id: str) -> tuple[int, dict[str, Pending]]:
        with self._lock:
            version, sends = self._pending.get(id, (0, {}))
            return version, dict(sends)

    def _write_pending(self, id: str, version: int, sends: dict[str, Pending]) -> bool:
        with self._lock:
            if self._pending.get(id, (0, {}))[0] != version:
                return False
            if sends:
                self._pending[id] = (version + 1, dict(sends))
            else:
                self._pending.pop(id, None)
            self.writes += 1
            return True

    def redeliveries_due(self, now: datetime) -> builtins.list[str]:
        """Incidents with a pending send due at ``now``, earliest first."""
        with self._lock:
            due = [
                (min(p.next_at for p in sends.values()), id)
                for id, (_, sends) in self._pending.items()
                if sends and min(p.next_at for p in sends.values()) <= now
            ]
        return [id for _, id in sorted(due)]

    def get(self, id: str) -> Incident | None:
        with self._lock:
            return self._incidents.get(id)

    def get_alarm(self, alarm_id: str) -> AlarmRecord | None:
        with self._lock:
            return self._alarms.get(alarm_id)

    def list(
        self, statuses: Iterable[str] = OPEN_STATUSES, since: datetime | None = None
    ) -> builtins.list[Incident]:
        wanted = set(statuses)
        with self._lock:
            found = [
                i
                for i in self._incidents.values()
                if i.status in wanted and (since is None or i.opened_at >= since)
            ]
        return sorted(found, key=lambda i: i.opened_at)

    def due(self, now: datetime) -> builtins.list[Incident]:
        with self._lock:
            found = [
                i
                for i in self._incidents.values()
                if i.status == "open" and i.due_at is not None and i.due_at <= now
            ]
        return sorted(found, key=lambda i: i.due_at or now)

    def commit(self, transition: Transition) -> bool:
        with self._lock:
            record, incident = transition.record, transition.incident
            if record is not None:
                old = self._alarms.get(record.alarm_id)
                if (old.version if old else 0) != record.version - 1:
                    return False
            if incident is not None:
                old_inc = self._incidents.get(incident.id)
                if (old_inc.version if old_inc else 0) != incident.version - 1:
                    return False
            if record is not None:
                self._alarms[record.alarm_id] = record
            if incident is not None:
                self._incidents[incident.id] = incident
            self.writes += 1
            return True

    def _update(self, id: str, condition: Callable[[Incident], bool], change: Callable[[Incident], Incident]):
        with self._lock:
            current = self._incidents.get(id)
            if current is None or not condition(current):
                return False
            self._incidents[id] = replace(change(current), version=current.version + 1)
            self.writes += 1
            return True

    def advance(
        self,
        id: str,
        *,
        expected_step: int,
        expected_round: int,
        step: int,
        round: int,
        due_at: datetime | None,
    ) -> bool:
        return self._update(
            id,
            lambda i: i.status == "open" and i.step == expected_step and i.round == expected_round,
            lambda i: replace(i, step=step, round=round, due_at=due_at),
        )

    def move_step(
        self,
        id: str,
        *,
        step: int,
        round: int,
        to_step: int,
        to_round: int,
        due_at: datetime | None,
        expected_due: datetime | None = None,
        due_by: datetime | None = None,
        entries: Iterable[TimelineEntry] = (),
        anchor: datetime | None = None,
    ) -> bool:
        entries = tuple(entries)

        def holds(i: Incident) -> bool:
            return (
                i.status == "open"
                and not i.cursor_held
                and i.step == step
                and i.round == round
                and (expected_due is None or i.due_at == expected_due)
                and (due_by is None or (i.due_at is not None and i.due_at <= due_by))
            )

        return self._update(
            id,
            holds,
            lambda i: replace(
                i,
                step=to_step,
                round=to_round,
                due_at=due_at,
                timeline=(*i.timeline, *entries),
                escalation_anchor=anchor or i.escalation_anchor,
            ),
        )

    def acknowledge(self, id: str, *, by: str, via: str, at: datetime) -> bool:
        entry = TimelineEntry(at, "acknowledged", f"by {by} via {via}")
        return self._update(
            id,
            lambda i: i.status == "open",
            lambda i: replace(
                i,
                status="acknowledged",
                acknowledged_at=at,
                acknowledged_by=by,
                due_at=None,
                timeline=(*i.timeline, entry),
            ),
        )

    def resolve(self, id: str, *, by: str, via: str, at: datetime) -> bool:
        entry = TimelineEntry(at, "resolved", f"by {by} via {via}")
        return self._update(
            id,
            lambda i: i.status in OPEN_STATUSES,
            lambda i: replace(
                i,
                status="resolved",
                resolved_at=at,
                resolved_by=by,
                due_at=None,
                timeline=(*i.timeline, entry),
            ),
        )

    def append_timeline(self, id: str, entry: TimelineEntry) -> bool:
        return self.record_outcomes(id, [entry], {})

    def set_handles(self, id: str, channel: str, handles: Mapping[str, Any]) -> bool:
        return self.record_outcomes(id, [], {channel: handles})

    def record_outcomes(
        self,
        id: str,
        entries: Iterable[TimelineEntry],
        handles: Mapping[str, Mapping[str, Any]],
        *,
        settled: Iterable[str] = (),
    ) -> bool:
        entries = tuple(entries)
        done = set(settled)
        return self._update(
            id,
            lambda i: True,
            lambda i: replace(
                i,
                timeline=(*i.timeline, *entries),
                handles={**i.handles, **{k: dict(v) for k, v in handles.items()}},
                pending=tuple(c for c in i.pending if c not in done),
            ),
        )

    def claim_pending(self, id: str, *, expected_until: datetime | None, until: datetime) -> bool:
        return self._update(
            id,
            lambda i: i.is_open and bool(i.pending) and i.pending_until == expected_until,
            lambda i: replace(i, pending_until=until),
        )

    def release_hold(self, id: str, *, due_at: datetime | None) -> bool:
        return self._update(
            id,
            lambda i: i.status == "open" and i.cursor_held and not i.pending,
            lambda i: replace(i, due_at=due_at, cursor_held=False, held_due_at=None),
        )

    @staticmethod
    def _held_silenced(i: Incident, expected_until: datetime | None) -> bool:
        return i.status == "open" and i.silenced and i.cursor_held and i.pending_until == expected_until

    def hold_silenced(self, id: str, *, expected_until: datetime | None, until: datetime) -> bool:
        """Still silenced: check again at ``until`` (conditional on the hold read)."""
        return self._update(
            id,
            lambda i: self._held_silenced(i, expected_until),
            lambda i: replace(i, pending_until=until, due_at=until),
        )

    def unsilence(
        self,
        id: str,
        *,
        expected_until: datetime | None,
        until: datetime,
        step: int,
        round: int,
        held_due_at: datetime | None,
        anchor: datetime,
        entries: Iterable[TimelineEntry] = (),
    ) -> bool:
        """The silence is over: this caller owns the held first page until ``until`` (a lease,
        like a relay's), and the escalation cursor, counted from ``anchor``, waits in
        ``held_due_at`` until the page is settled. One winner per hold."""
        entries = tuple(entries)
        return self._update(
            id,
            lambda i: self._held_silenced(i, expected_until),
            lambda i: replace(
                i,
                silenced=False,
                pending_until=until,
                due_at=until,
                step=step,
                round=round,
                held_due_at=held_due_at,
                escalation_anchor=anchor,
                timeline=(*i.timeline, *entries),
            ),
        )

    def mute_opening(
        self, id: str, *, expected_until: datetime | None, group_id: str, entry: TimelineEntry
    ) -> bool:
        """The opener's first page and escalation cursor go to a group (``domain.grouping``):
        nothing of its own is pending or due any more (conditional on the opener's lease)."""
        return self._update(
            id,
            lambda i: i.status == "open" and i.pending_until == expected_until,
            lambda i: replace(
                i,
                pending=(),
                pending_until=None,
                cursor_held=False,
                held_due_at=None,
                due_at=None,
                group_id=group_id,
                timeline=(*i.timeline, entry),
            ),
        )


# --------------------------------------------------------------------------------------- DynamoDB
def _s(value: str) -> dict:
    return {"S": value}


def _n(value: float | int) -> dict:
    return {"N": str(value)}


def _epoch(at: datetime) -> str:
    ts = at.timestamp()
    return str(int(ts)) if ts == int(ts) else f"{ts:.3f}"


def _entry_av(entry: TimelineEntry) -> dict:
    item = {"at": _s(entry.at.isoformat()), "kind": _s(entry.kind), "detail": _s(entry.detail)}
    if entry.channel is not None:
        item["channel"] = _s(entry.channel)
    return {"M": item}


def _list_key(status: str, at: datetime) -> dict[str, dict]:
    """The ``listing`` index key of an incident that entered ``status`` at ``at``."""
    return {"list_pk": _s(INCIDENT_LIST_PREFIX + status), "list_at": {"N": _epoch(at)}}


def _status_time(incident: Incident) -> datetime:
    if incident.status == "resolved":
        return incident.resolved_at or incident.last_state_time
    if incident.status == "acknowledged":
        return incident.acknowledged_at or incident.opened_at
    return incident.opened_at


def _incident_item(incident: Incident, retention: timedelta) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": _s(f"INCIDENT#{incident.id}"),
        "kind": _s("incident"),
        "id": _s(incident.id),
        "alarm_id": _s(incident.alarm_id),
        "name": _s(incident.name),
        "status": _s(incident.status),
        "opened_at": _s(incident.opened_at.isoformat()),
        "last_state_time": _s(incident.last_state_time.isoformat()),
        "labels": {"M": {k: _s(str(v)) for k, v in incident.labels.items()}},
        "route_channels": {"L": [_s(c) for c in incident.route_channels]},
        "step": _n(incident.step),
        "round": _n(incident.round),
        "handles": {"M": {k: _s(json.dumps(dict(v), sort_keys=True)) for k, v in incident.handles.items()}},
        "timeline": {"L": [_entry_av(e) for e in incident.timeline]},
        "silenced": {"BOOL": incident.silenced},
        "version": _n(incident.version),
        "mentions": {"L": [_s(m) for m in incident.mentions]},
    }
    if incident.emails:
        item["emails"] = {"L": [_s(e) for e in incident.emails]}
    if incident.cursor_held:  # present while the escalation cursor is held (NULL: no step left)
        item["held_due_at"] = {"N": _epoch(incident.held_due_at)} if incident.held_due_at else {"NULL": True}
    for key in ("acknowledged_by", "resolved_by", "check", "policy", "group_key", "group_id"):
        value = getattr(incident, key)
        if value is not None:
            item[key] = _s(str(value))
    for key in ("resolved_at", "acknowledged_at", "escalation_anchor"):
        value = getattr(incident, key)
        if value is not None:
            item[key] = _s(value.isoformat())
    if incident.alert is not None:
        item["alert"] = _s(json.dumps(alert_to_dict(incident.alert), sort_keys=True))
    if incident.pending:
        item["pending"] = {"SS": list(dict.fromkeys(incident.pending))}
    if incident.pending_until is not None:
        item["pending_until"] = _s(incident.pending_until.isoformat())
    if incident.due_at is not None and incident.status == "open":
        item["due_pk"] = _s(DUE_PK)
        item["due_at"] = {"N": _epoch(incident.due_at)}
    item.update(_list_key(incident.status, _status_time(incident)))
    if incident.status == "resolved":
        item["expires_at"] = _n(_expiry(incident.resolved_at or incident.last_state_time, retention))
    return item


def _from_av(av: Mapping[str, Any]) -> Any:
    ((kind, value),) = av.items()
    if kind == "S":
        return value
    if kind == "N":
        return float(value) if "." in value else int(value)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: _from_av(v) for k, v in value.items()}
    if kind == "L":
        return [_from_av(v) for v in value]
    if kind == "SS":
        return list(value)
    raise ValueError(f"unsupported DynamoDB attribute type {kind}")


def _incident_from_item(raw: Mapping[str, Any]) -> Incident:
    d = {k: _from_av(v) for k, v in raw.items()}

    def dt(key: str) -> datetime | None:
        return datetime.fromisoformat(d[key]) if d.get(key) else None

    return Incident(
        id=d["id"],
        alarm_id=d["alarm_id"],
        name=d.get("name", ""),
        status=d["status"],
        opened_at=datetime.fromisoformat(d["opened_at"]),
        last_state_time=datetime.fromisoformat(d["last_state_time"]),
        resolved_at=dt("resolved_at"),
        acknowledged_at=dt("acknowledged_at"),
        acknowledged_by=d.get("acknowledged_by"),
        resolved_by=d.get("resolved_by"),
        check=d.get("check"),
        labels=dict(d.get("labels") or {}),
        route_channels=tuple(d.get("route_channels") or ()),
        policy=d.get("policy"),
        step=int(d.get("step") or 0),
        round=int(d.get("round") or 0),
        due_at=datetime.fromtimestamp(float(d["due_at"]), UTC) if "due_at" in d else None,
        handles={k: json.loads(v) for k, v in (d.get("handles") or {}).items()},
        timeline=tuple(TimelineEntry.from_dict(e) for e in d.get("timeline") or ()),
        silenced=bool(d.get("silenced")),
        version=int(d.get("version") or 1),
        alert=alert_from_dict(json.loads(d["alert"])) if d.get("alert") else None,
        group_key=d.get("group_key"),
        mentions=tuple(d.get("mentions") or ()),
        pending=_ordered(d.get("pending") or (), d.get("route_channels") or ()),
        pending_until=dt("pending_until"),
        emails=tuple(d.get("emails") or ()),
        cursor_held="held_due_at" in d,
        held_due_at=(
            datetime.fromtimestamp(float(d["held_due_at"]), UTC) if d.get("held_due_at") is not None else None
        ),
        escalation_anchor=dt("escalation_anchor"),
        group_id=d.get("group_id"),
    )


def _ordered(members: Iterable[str], order: Iterable[str]) -> tuple[str, ...]:
    """A DynamoDB string set back in route order (sets have none)."""
    left = set(members)
    ordered = [c for c in order if c in left]
    return (*ordered, *sorted(left - set(ordered)))


def _alarm_item(record: AlarmRecord, retention: timedelta) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": _s(f"ALARM#{record.alarm_id}"),
        "kind": _s("alarm"),
        "alarm_id": _s(record.alarm_id),
        "version": _n(record.version),
    }
    if record.last_state is not None:
        item["last_state"] = _s(record.last_state)
    if record.last_state_time is not None:
        item["last_state_time"] = _s(record.last_state_time.isoformat())
    if record.last_insufficient_time is not None:
        item["last_insufficient_time"] = _s(record.last_insufficient_time.isoformat())
    if record.open_incident is not None:
        item["open_incident"] = _s(record.open_incident)
    else:
        newest = max(t for t in (record.last_state_time, record.last_insufficient_time) if t is not None)
        item["expires_at"] = _n(_expiry(newest, retention))
    return item


def _alarm_from_item(raw: Mapping[str, Any]) -> AlarmRecord:
    d = {k: _from_av(v) for k, v in raw.items()}
    return AlarmRecord(
        alarm_id=d["alarm_id"],
        last_state=d.get("last_state"),
        last_state_time=datetime.fromisoformat(d["last_state_time"]) if d.get("last_state_time") else None,
        open_incident=d.get("open_incident"),
        last_insufficient_time=(
            datetime.fromisoformat(d["last_insufficient_time"]) if d.get("last_insufficient_time") else None
        ),
        version=int(d.get("version") or 1),
    )


def _put(table: str, item: dict, version: int) -> dict:
    put: dict[str, Any] = {"TableName": table, "Item": item}
    if version <= 1:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "attribute_exists(pk) AND #v = :v"
        put["ExpressionAttributeNames"] = {"#v": "version"}
        put["ExpressionAttributeValues"] = {":v": _n(version - 1)}
    return put


class DynamoIncidentStore(_PendingSends, _ApplyLoop):
    """The incident table through a boto3 DynamoDB client (created lazily; honours AWS_ENDPOINT_URL).
    ``retention``: how long a resolved incident (and an alarm record with nothing open) is kept."""

    def __init__(self, table_name: str, client: Any = None, *, retention: timedelta = DEFAULT_RETENTION):
        self.table_name = table_name
        self._client = client
        self.retention = retention

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazy: the client (and boto3) only when the adapter is first used

            self._client = boto3.client("dynamodb")
        return self._client

    # -- reads (strongly consistent: decisions must see the latest write)
    def get(self, id: str) -> Incident | None:
        reply = self.client.get_item(
            TableName=self.table_name, Key={"pk": _s(f"INCIDENT#{id}")}, ConsistentRead=True
        )
        return _incident_from_item(reply["Item"]) if "Item" in reply else None

    def get_alarm(self, alarm_id: str) -> AlarmRecord | None:
        reply = self.client.get_item(
            TableName=self.table_name, Key={"pk": _s(f"ALARM#{alarm_id}")}, ConsistentRead=True
        )
        return _alarm_from_item(reply["Item"]) if "Item" in reply else None

    def list(
        self, statuses: Iterable[str] = OPEN_STATUSES, since: datetime | None = None
    ) -> builtins.list[Incident]:
        """One keyed query of the ``listing`` index per status (from ``since`` on: ``list_at``
        is never before ``opened_at``, so the range holds every incident opened since)."""
        wanted = builtins.list(dict.fromkeys(statuses))
        found: builtins.list[Incident] = []
        for status in wanted:
            condition = "#lpk = :lpk"
            values: dict[str, Any] = {":lpk": _s(INCIDENT_LIST_PREFIX + status)}
            if since is not None:
                condition += " AND #lat >= :since"
                values[":since"] = {"N": _epoch(since)}
            found.extend(
                _incident_from_item(item)
                for item in self._query(
                    IndexName=LIST_INDEX,
                    KeyConditionExpression=condition,
                    ExpressionAttributeNames={"#lpk": "list_pk", "#lat": "list_at"}
                    if since is not None
                    else {"#lpk": "list_pk"},
                    ExpressionAttributeValues=values,
                )
            )
        found = [i for i in found if i.status in wanted and (since is None or i.opened_at >= since)]
        return sorted(found, key=lambda i: i.opened_at)

    def _query(self, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        """Every item of a query, page by page."""
        kwargs["TableName"] = self.table_name
        while True:
            reply = self.client.query(**kwargs)
            yield from reply.get("Items", [])
            if "LastEvaluatedKey" not in reply:
                return
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def due(self, now: datetime) -> builtins.list[Incident]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "#dpk = :due AND #dat <= :now",
            "ExpressionAttributeNames": {"#dpk": "due_pk", "#dat": "due_at"},
            "ExpressionAttributeValues": {":due": _s(DUE_PK), ":now": {"N": _epoch(now)}},
        }
        found: builtins.list[Incident] = []
        while True:
            reply = self.client.query(**kwargs)
            found.extend(_incident_from_item(item) for item in reply.get("Items", []))
            if "LastEvaluatedKey" not in reply:
                break
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        return [i for i in found if i.status == "open"]

    def reindex(self) -> int:
        """Put the incidents written before the ``listing`` index existed (no ``list_pk``) into
        it; how many were added. One scan of the table (``uptime-relay incidents reindex``; the
        escalator does the same once by itself, ``adapters.listing_backfill``)."""
        added = 0
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "begins_with(pk, :p) AND attribute_not_exists(list_pk)",
            "ExpressionAttributeValues": {":p": _s("INCIDENT#")},
        }
        while True:
            reply = self.client.scan(**kwargs)
            added += sum(self.add_to_listing(item) for item in reply.get("Items", []))
            if "LastEvaluatedKey" not in reply:
                return added
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def add_to_listing(self, item: Mapping[str, Any]) -> bool:
        """Give one incident item read without ``list_pk`` its ``listing`` keys; False when a
        writer got there first (conditional: no ``list_pk`` yet, and the status that was read)."""
        incident = _incident_from_item(item)
        key = _list_key(incident.status, _status_time(incident))
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": item["pk"]},
                UpdateExpression="SET list_pk = :lpk, list_at = :lat",
                ConditionExpression="attribute_not_exists(list_pk) AND #st = :st",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":lpk": key["list_pk"],
                    ":lat": key["list_at"],
                    ":st": _s(incident.status),
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # -- intake
    def commit(self, transition: Transition) -> bool:
        puts = []
        if transition.record is not None:
            puts.append(
                _put(
                    self.table_name, _alarm_item(transition.record, self.retention), transition.record.version
                )
            )
        if transition.incident is not None:
            puts.append(
                _put(
                    self.table_name,
                    _incident_item(transition.incident, self.retention),
                    transition.incident.version,
                )
            )
        if not puts:
            return True
        errors = self.client.exceptions
        try:
            if len(puts) == 1:
                self.client.put_item(**puts[0])
            else:
                self.client.transact_write_items(TransactItems=[{"Put": p} for p in puts])
        except errors.ConditionalCheckFailedException:
            return False
        except errors.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or not reasons:
                return False
            raise
        return True

    # -- conditional updates
    def _update(
        self,
        id: str,
        *,
        sets: dict[str, dict],
        condition: str,
        values: dict[str, dict] | None = None,
        names: dict[str, str] | None = None,
        remove: Iterable[str] = (),
        append: Iterable[TimelineEntry] = (),
    ) -> bool:
        names = {"#v": "version", **(names or {})}
        values = {":one": _n(1), **(values or {})}
        clauses = ["#v = #v + :one"]
        for i, (attr, value) in enumerate(sets.items()):
            names[f"#a{i}"] = attr
            values[f":a{i}"] = value
            clauses.append(f"#a{i} = :a{i}")
        entries = [_entry_av(e) for e in append]
        if entries:
            names["#tl"] = "timeline"
            values[":tl"] = {"L": entries}
            clauses.append("#tl = list_append(#tl, :tl)")
        expression = "SET " + ", ".join(clauses)
        removes = builtins.list(remove)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": _s(f"INCIDENT#{id}")},
                UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(pk) AND ({condition})"
                if condition
                else "attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def advance(
        self,
        id: str,
        *,
        expected_step: int,
        expected_round: int,
        step: int,
        round: int,
        due_at: datetime | None,
    ) -> bool:
        sets: dict[str, dict] = {"step": _n(step), "round": _n(round)}
        remove: builtins.list[str] = []
        if due_at is not None:
            sets["due_pk"] = _s(DUE_PK)
            sets["due_at"] = {"N": _epoch(due_at)}
        else:
            remove = ["due_pk", "due_at"]
        return self._update(
            id,
            sets=sets,
            remove=remove,
            condition="#st = :open AND #step = :es AND #round = :er",
            names={"#st": "status", "#step": "step", "#round": "round"},
            values={":open": _s("open"), ":es": _n(expected_step), ":er": _n(expected_round)},
        )

    def move_step(
        self,
        id: str,
        *,
        step: int,
        round: int,
        to_step: int,
        to_round: int,
        due_at: datetime | None,
        expected_due: datetime | None = None,
        due_by: datetime | None = None,
        entries: Iterable[TimelineEntry] = (),
        anchor: datetime | None = None,
    ) -> bool:
        sets: dict[str, dict] = {"step": _n(to_step), "round": _n(to_round)}
        remove: builtins.list[str] = []
        if due_at is not None:
            sets["due_pk"] = _s(DUE_PK)
            sets["due_at"] = {"N": _epoch(due_at)}
        else:
            remove = ["due_pk", "due_at"]
        if anchor is not None:
            sets["escalation_anchor"] = _s(anchor.isoformat())
        names = {"#st": "status", "#step": "step", "#round": "round"}
        values: dict[str, dict] = {":open": _s("open"), ":es": _n(step), ":er": _n(round)}
        condition = "#st = :open AND #step = :es AND #round = :er AND attribute_not_exists(held_due_at)"
        if expected_due is not None or due_by is not None:
            names["#dat"] = "due_at"
        if expected_due is not None:
            values[":xd"] = {"N": _epoch(expected_due)}
            condition += " AND #dat = :xd"
        if due_by is not None:
            values[":by"] = {"N": _epoch(due_by)}
            condition += " AND #dat <= :by"
        return self._update(
            id,
            sets=sets,
            remove=remove,
            append=entries,
            condition=condition,
            names=names,
            values=values,
        )

    def acknowledge(self, id: str, *, by: str, via: str, at: datetime) -> bool:
        return self._update(
            id,
            sets={
                "status": _s("acknowledged"),
                "acknowledged_at": _s(at.isoformat()),
                "acknowledged_by": _s(by),
                **_list_key("acknowledged", at),
            },
            remove=["due_pk", "due_at"],
            append=[TimelineEntry(at, "acknowledged", f"by {by} via {via}")],
            condition="#st = :open",
            names={"#st": "status"},
            values={":open": _s("open")},
        )

    def resolve(self, id: str, *, by: str, via: str, at: datetime) -> bool:
        return self._update(
            id,
            sets={
                "status": _s("resolved"),
                "resolved_at": _s(at.isoformat()),
                "resolved_by": _s(by),
                "expires_at": _n(_expiry(at, self.retention)),
                **_list_key("resolved", at),
            },
            remove=["due_pk", "due_at"],
            append=[TimelineEntry(at, "resolved", f"by {by} via {via}")],
            condition="#st IN (:open, :ack)",
            names={"#st": "status"},
            values={":open": _s("open"), ":ack": _s("acknowledged")},
        )

    def append_timeline(self, id: str, entry: TimelineEntry) -> bool:
        return self.record_outcomes(id, [entry], {})

    def set_handles(self, id: str, channel: str, handles: Mapping[str, Any]) -> bool:
        return self.record_outcomes(id, [], {channel: handles})

    def record_outcomes(
        self,
        id: str,
        entries: Iterable[TimelineEntry],
        handles: Mapping[str, Mapping[str, Any]],
        *,
        settled: Iterable[str] = (),
    ) -> bool:
        names: dict[str, str] = {"#v": "version"}
        values: dict[str, dict] = {":one": _n(1)}
        clauses = ["#v = #v + :one"]
        for i, (channel, value) in enumerate(handles.items()):
            names["#h"] = "handles"
            names[f"#c{i}"] = channel
            values[f":h{i}"] = _s(json.dumps(dict(value), sort_keys=True))
            clauses.append(f"#h.#c{i} = :h{i}")
        entries = builtins.list(entries)
        if entries:
            names["#tl"] = "timeline"
            values[":tl"] = {"L": [_entry_av(e) for e in entries]}
            clauses.append("#tl = list_append(#tl, :tl)")
        expression = "SET " + ", ".join(clauses)
        done = builtins.list(dict.fromkeys(settled))
        if done:
            names["#p"] = "pending"
            values[":p"] = {"SS": done}
            expression += " DELETE #p :p"
        if len(clauses) == 1 and not done:
            return True
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": _s(f"INCIDENT#{id}")},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def claim_pending(self, id: str, *, expected_until: datetime | None, until: datetime) -> bool:
        """Take over first pages whose sender died (its lease ``expected_until`` ran out)."""
        condition = "attribute_exists(#p) AND #st IN (:open, :ack) AND "
        values = {":open": _s("open"), ":ack": _s("acknowledged")}
        if expected_until is None:
            condition += "attribute_not_exists(#pu)"
        else:
            condition += "#pu = :old"
            values[":old"] = _s(expected_until.isoformat())
        return self._update(
            id,
            sets={"pending_until": _s(until.isoformat())},
            condition=condition,
            names={"#st": "status", "#p": "pending", "#pu": "pending_until"},
            values=values,
        )

    def release_hold(self, id: str, *, due_at: datetime | None) -> bool:
        """The first page is settled: put the escalation cursor's due time back in the index."""
        sets: dict[str, dict] = {}
        remove = ["held_due_at"]
        if due_at is not None:
            sets = {"due_pk": _s(DUE_PK), "due_at": {"N": _epoch(due_at)}}
        else:
            remove += ["due_pk", "due_at"]
        return self._update(
            id,
            sets=sets,
            remove=remove,
            condition="attribute_exists(held_due_at) AND attribute_not_exists(#p) AND #st = :open",
            names={"#st": "status", "#p": "pending"},
            values={":open": _s("open")},
        )

    @staticmethod
    def _held_silenced(expected_until: datetime | None) -> tuple[str, dict[str, str], dict[str, dict]]:
        names = {"#st": "status", "#si": "silenced", "#pu": "pending_until"}
        values: dict[str, dict] = {":open": _s("open"), ":true": {"BOOL": True}}
        condition = "#st = :open AND #si = :true AND attribute_exists(held_due_at) AND "
        if expected_until is None:
            condition += "attribute_not_exists(#pu)"
        else:
            condition += "#pu = :old"
            values[":old"] = _s(expected_until.isoformat())
        return condition, names, values

    def hold_silenced(self, id: str, *, expected_until: datetime | None, until: datetime) -> bool:
        """Still silenced: check again at ``until`` (conditional on the hold read)."""
        condition, names, values = self._held_silenced(expected_until)
        return self._update(
            id,
            sets={
                "pending_until": _s(until.isoformat()),
                "due_pk": _s(DUE_PK),
                "due_at": {"N": _epoch(until)},
            },
            condition=condition,
            names=names,
            values=values,
        )

    def unsilence(
        self,
        id: str,
        *,
        expected_until: datetime | None,
        until: datetime,
        step: int,
        round: int,
        held_due_at: datetime | None,
        anchor: datetime,
        entries: Iterable[TimelineEntry] = (),
    ) -> bool:
        """The silence is over: this caller owns the held first page until ``until``; the cursor
        (counted from ``anchor``) waits in ``held_due_at``. One winner per hold."""
        condition, names, values = self._held_silenced(expected_until)
        return self._update(
            id,
            sets={
                "silenced": {"BOOL": False},
                "pending_until": _s(until.isoformat()),
                "due_pk": _s(DUE_PK),
                "due_at": {"N": _epoch(until)},
                "step": _n(step),
                "round": _n(round),
                "held_due_at": {"N": _epoch(held_due_at)} if held_due_at else {"NULL": True},
                "escalation_anchor": _s(anchor.isoformat()),
            },
            append=entries,
            condition=condition,
            names=names,
            values=values,
        )

    def mute_opening(
        self, id: str, *, expected_until: datetime | None, group_id: str, entry: TimelineEntry
    ) -> bool:
        """The opener's first page and escalation cursor go to a group: nothing of its own is
        pending or due any more (conditional on the opener's lease)."""
        names = {"#st": "status", "#pu": "pending_until"}
        values: dict[str, dict] = {":open": _s("open")}
        condition = "#st = :open AND "
        if expected_until is None:
            condition += "attribute_not_exists(#pu)"
        else:
            condition += "#pu = :lease"
            values[":lease"] = _s(expected_until.isoformat())
        return self._update(
            id,
            sets={"group_id": _s(group_id)},
            remove=["pending", "pending_until", "held_due_at", "due_pk", "due_at"],
            append=[entry],
            condition=condition,
            names=names,
            values=values,
        )

    # -- pending redeliveries (``REDELIVER#<incident id>``, in the due GSI under ``REDELIVER_PK``)
    def _read_pending(self, id: str) -> tuple[int, dict[str, Pending]]:
        reply = self.client.get_item(
            TableName=self.table_name, Key={"pk": _s(f"REDELIVER#{id}")}, ConsistentRead=True
        )
        item = reply.get("Item")
        if item is None:
            return 0, {}
        sends = {k: Pending.from_json(v["S"]) for k, v in item.get("sends", {}).get("M", {}).items()}
        return int(item["version"]["N"]), sends

    def _write_pending(self, id: str, version: int, sends: dict[str, Pending]) -> bool:
        key = {"pk": _s(f"REDELIVER#{id}")}
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if version == 0
            else {
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":v": _n(version)},
            }
        )
        try:
            if not sends:
                if version:
                    self.client.delete_item(TableName=self.table_name, Key=key, **condition)
                return True
            oldest = min(p.first_failed_at for p in sends.values())
            item = {
                **key,
                "kind": _s("redelivery"),
                "incident_id": _s(id),
                "due_pk": _s(REDELIVER_PK),
                "due_at": {"N": _epoch(min(p.next_at for p in sends.values()))},
                "sends": {"M": {k: _s(p.to_json()) for k, p in sends.items()}},
                "version": _n(version + 1),
                "expires_at": _n(int((oldest + GIVE_UP_AFTER + timedelta(days=1)).timestamp())),
            }
            self.client.put_item(TableName=self.table_name, Item=item, **condition)
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def redeliveries_due(self, now: datetime) -> builtins.list[str]:
        """Incidents with a pending send due at ``now`` (a keyed query of the due GSI)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "#dpk = :due AND #dat <= :now",
            "ExpressionAttributeNames": {"#dpk": "due_pk", "#dat": "due_at"},
            "ExpressionAttributeValues": {":due": _s(REDELIVER_PK), ":now": {"N": _epoch(now)}},
        }
        found: builtins.list[str] = []
        while True:
            reply = self.client.query(**kwargs)
            found.extend(item["incident_id"]["S"] for item in reply.get("Items", []))
            if "LastEvaluatedKey" not in reply:
                break
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        return found


def create_table(client: Any, table_name: str) -> None:
    """Create the incident table as template.yaml declares it (tests, bench, local tools)."""
    client.create_table(
        TableName=table_name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "due_pk", "AttributeType": "S"},
            {"AttributeName": "due_at", "AttributeType": "N"},
            {"AttributeName": "list_pk", "AttributeType": "S"},
            {"AttributeName": "list_at", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": DUE_INDEX,
                "KeySchema": [
                    {"AttributeName": "due_pk", "KeyType": "HASH"},
                    {"AttributeName": "due_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": LIST_INDEX,
                "KeySchema": [
                    {"AttributeName": "list_pk", "KeyType": "HASH"},
                    {"AttributeName": "list_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )
