"""Route grouping (Alertmanager's ``group_by`` / ``group_wait`` / ``group_interval`` /
``repeat_interval``) as a pure decider over one group record, time passed in.

A group is keyed by its route and the values of the route's ``group_by`` labels (``['...']``:
every label, so each alert is its own group); the storm guard's summary is a group too, keyed by
its route alone (``storm_key``). Each member is still its own incident in the store; the group
record lists the members' ids and whether each still fires, and says what its channels were last
told. One record per key holds the group's current *generation*: once every member has resolved
and the resolve went out (or nothing was ever sent), the next member starts generation n + 1, a
new group id (a new Slack message, a new PagerDuty incident).

The relay changes a group with ``join`` / ``resolve_member`` / ``acknowledge`` (each returns the
next record, or None when nothing changes: a duplicate, a reordering, a resolve for a member the
group never had), writing it conditionally on the version it read. The escalation sweep asks
``decide_flush`` what is due:

- ``first``    the first notification, at ``opened_at + group_wait``;
- ``update``   membership changed since the channels were told: at ``last_sent + group_interval``;
- ``resolve``  every member resolved: at once, to the channels that saw the group (none: the
               group ends silently, as a group that resolved inside its ``group_wait``);
- ``escalate`` the route's escalation policy's next step (the group carries the cursor: one
               escalation per group, never one per member);
- ``acknowledge`` someone acknowledged the group: its channels are told once;
- ``repeat``   still firing and not acknowledged: at ``last_sent + repeat_interval``.

A flush is claimed first (``claim``: a lease, during which nobody else flushes it and
``due_at`` is the lease's end, so a flusher that dies is replaced), then sent, then recorded
(``after_flush``, re-applied on a fresh read when a member joined meanwhile).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from ..config.model import Grouping

GROUP_PREFIX = "grp-"
FlushKind = Literal["first", "update", "resolve", "escalate", "acknowledge", "repeat", "finish"]


# --------------------------------------------------------------------------------------- keys
def group_key(route: int, grouping: Grouping, labels: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """(record key, the labels the group is about) for an alert with ``labels`` on route
    ``route`` (its index). A ``group_by`` label the alert lacks counts as empty, as in
    Alertmanager."""
    if grouping.every_label:
        values = {str(k): str(v) for k, v in labels.items()}
    else:
        values = {name: str(labels.get(name, "")) for name in grouping.by}
    text = "|".join([f"route={route}", *(f"{k}={values[k]}" for k in sorted(values))])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24], values


def storm_key(route: int) -> str:
    """The record key of a route's storm summary."""
    return hashlib.sha256(f"storm|route={route}".encode()).hexdigest()[:24]


def key_of(group_id: str) -> str | None:
    """The record key a group id names (``grp-<key>-<generation>``), or None."""
    if not group_id.startswith(GROUP_PREFIX):
        return None
    body = group_id[len(GROUP_PREFIX) :]
    key, _, generation = body.rpartition("-")
    return key if key and generation.isdigit() else None


# --------------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class Timing:
    wait_s: float
    interval_s: float
    repeat_s: float | None  # None: never repeated (a storm summary)

    @classmethod
    def of(cls, grouping: Grouping) -> Timing:
        return cls(grouping.wait_s, grouping.interval_s, grouping.repeat_s)


@dataclass(frozen=True)
class Spec:
    """What a new group records, decided by routing (``Relay``)."""

    key: str
    route: int
    labels: Mapping[str, str]
    channels: tuple[str, ...]
    timing: Timing
    policy: str | None = None
    storm: bool = False
    mentions: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class Member:
    id: str  # the member incident's id
    name: str
    firing: bool = True


@dataclass(frozen=True)
class Group:
    key: str
    generation: int
    route: int
    labels: Mapping[str, str]
    channels: tuple[str, ...]
    timing: Timing
    opened_at: datetime
    policy: str | None = None
    storm: bool = False
    mentions: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    members: tuple[Member, ...] = ()
    revision: int = 0  # bumped by every membership change
    sent_revision: int = 0  # the revision the channels were last told (0: never)
    sent_to: tuple[str, ...] = ()  # channels that got the group's first message
    first_sent_at: datetime | None = None
    last_sent_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    ack_sent: bool = False
    finished: bool = False  # resolved and told (or resolved before anything was sent)
    due_at: datetime | None = None
    claimed_until: datetime | None = None
    handles: Mapping[str, dict] = field(default_factory=dict)  # per channel (Slack ts, ...)
    step: int = 0  # the escalation cursor the group carries
    round: int = 0
    escalation_due: datetime | None = None
    version: int = 0  # 0: not stored yet

    @property
    def id(self) -> str:
        return f"{GROUP_PREFIX}{self.key}-{self.generation}"

    @property
    def firing(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.firing)

    @property
    def resolved(self) -> bool:
        return bool(self.members) and not self.firing

    @property
    def sent(self) -> bool:
        return self.sent_revision > 0

    def member(self, incident_id: str) -> Member | None:
        return next((m for m in self.members if m.id == incident_id), None)


def new_group(spec: Spec, now: datetime, generation: int = 1) -> Group:
    return Group(
        key=spec.key,
        generation=generation,
        route=spec.route,
        labels=dict(spec.labels),
        channels=tuple(spec.channels),
        timing=spec.timing,
        opened_at=now,
        policy=spec.policy,
        storm=spec.storm,
        mentions=tuple(spec.mentions),
        emails=tuple(spec.emails),
    )


# --------------------------------------------------------------------------------------- changes
def opens_new_group(group: Group | None) -> bool:
    """True when a member joining now starts a new generation (the storm guard counts these)."""
    return group is None or group.finished


def join(group: Group | None, spec: Spec, member_id: str, name: str, now: datetime) -> Group | None:
    """``member_id`` (a new incident) joins the group of ``spec.key``; None when it is already a
    member (a duplicate or a redelivered alert). A member joining an acknowledged group re-arms
    it (its repeats start again); joining a finished group starts the next generation."""
    if group is not None and group.member(member_id) is not None:
        return None
    if opens_new_group(group):
        generation = group.generation + 1 if group is not None else 1
        fresh = new_group(spec, now, generation)
        base = replace(fresh, version=group.version) if group is not None else fresh
    else:
        assert group is not None
        base = replace(group, acknowledged_by=None, acknowledged_at=None, ack_sent=False)
    changed = replace(
        base, members=(*base.members, Member(member_id, name, True)), revision=base.revision + 1
    )
    return _with_due(changed, now)


def resolve_member(group: Group | None, member_id: str, now: datetime) -> Group | None:
    """The member's incident resolved; None when the group has no such firing member."""
    if group is None or group.finished:
        return None
    found = group.member(member_id)
    if found is None or not found.firing:
        return None
    members = tuple(replace(m, firing=False) if m.id == member_id else m for m in group.members)
    return _with_due(replace(group, members=members, revision=group.revision + 1), now)


def acknowledge(group: Group | None, by: str, now: datetime) -> Group | None:
    """Someone acknowledged the group: repeats and escalation stop until a new member joins."""
    if group is None or group.finished or group.acknowledged_by is not None or not group.firing:
        return None
    return _with_due(replace(group, acknowledged_by=by, acknowledged_at=now, ack_sent=False), now)


def reconcile(group: Group, open_members: Iterable[str], acknowledged: Iterable[str]) -> Group:
    """Bring the group in line with its members' incidents as read now: a member resolved by
    hand (``incidents resolve``) no longer fires; a group whose firing members are all
    acknowledged counts as acknowledged. Pure; the caller writes it with the flush's claim."""
    still = set(open_members)
    acked = set(acknowledged)
    members = tuple(replace(m, firing=False) if m.firing and m.id not in still else m for m in group.members)
    changed = sum(1 for a, b in zip(group.members, members, strict=True) if a != b)
    out = replace(group, members=members, revision=group.revision + changed) if changed else group
    firing = out.firing
    if firing and out.acknowledged_by is None and all(m.id in acked for m in firing):
        out = replace(out, acknowledged_by="members", acknowledged_at=out.last_sent_at or out.opened_at)
    return out


# --------------------------------------------------------------------------------------- timing
def _candidates(group: Group, now: datetime) -> list[datetime]:
    t = group.timing
    if group.finished:
        return []
    if not group.sent:
        if group.resolved:
            return [now]  # ends silently at the next flush
        return [group.opened_at + timedelta(seconds=t.wait_s)]
    last = group.last_sent_at or group.opened_at
    if group.resolved:
        return [now]
    out = []
    if group.revision > group.sent_revision:
        out.append(last + timedelta(seconds=t.interval_s))
    if group.acknowledged_by is not None:
        if not group.ack_sent:
            out.append(now)
        return out
    if t.repeat_s is not None:
        out.append(last + timedelta(seconds=t.repeat_s))
    if group.escalation_due is not None:
        out.append(group.escalation_due)
    return out


def _with_due(group: Group, now: datetime) -> Group:
    found = _candidates(group, now)
    due = min(found) if found else None
    if due is not None and group.claimed_until is not None and group.claimed_until > due:
        due = group.claimed_until  # someone is flushing it: it is theirs until the lease ends
    return replace(group, due_at=due)


# --------------------------------------------------------------------------------------- flushing
@dataclass(frozen=True)
class Flush:
    kind: FlushKind
    revision: int  # the membership revision this flush tells
    channels: tuple[str, ...]  # where it goes


def decide_flush(group: Group, now: datetime) -> Flush | None:
    """What the group's channels are to be told now, or None (not due, claimed, finished)."""
    if group.finished or group.due_at is None or group.due_at > now:
        return None
    if group.claimed_until is not None and group.claimed_until > now:
        return None
    t = group.timing
    if group.resolved:
        if not group.sent:
            return Flush("finish", group.revision, ())
        return Flush("resolve", group.revision, group.sent_to)
    if not group.sent:
        if group.opened_at + timedelta(seconds=t.wait_s) <= now:
            return Flush("first", group.revision, group.channels)
        return None
    last = group.last_sent_at or group.opened_at
    if group.revision > group.sent_revision and last + timedelta(seconds=t.interval_s) <= now:
        return Flush("update", group.revision, group.channels)
    if group.acknowledged_by is not None:
        if not group.ack_sent:
            return Flush("acknowledge", group.revision, group.sent_to)
        return None
    if group.escalation_due is not None and group.escalation_due <= now:
        return Flush("escalate", group.revision, ())  # the step's targets: the caller's
    if t.repeat_s is not None and last + timedelta(seconds=t.repeat_s) <= now:
        return Flush("repeat", group.revision, group.channels)
    return None


def claim(group: Group, now: datetime, lease: timedelta) -> Group:
    """The flusher's claim: nobody else flushes it until ``now + lease`` (also its ``due_at``)."""
    until = now + lease
    return replace(group, claimed_until=until, due_at=until)


def after_flush(
    group: Group,
    flush: Flush,
    now: datetime,
    *,
    delivered: Iterable[str] = (),
    handles: Mapping[str, Mapping[str, Any]] | None = None,
    cursor: Any = None,
    cursor_moved: bool = False,
) -> Group:
    """The group after ``flush`` went out (applied to a fresh read; pure). ``delivered``: the
    channels that got it or will by automatic redelivery (they join ``sent_to``: only they get
    the resolve; a channel whose message was given up never hears of the group again); ``cursor``: the escalation cursor after a first message or a step
    (``domain.escalation.Cursor`` or None), applied when ``cursor_moved``."""
    got = tuple(delivered)
    merged = {**group.handles, **{k: dict(v) for k, v in (handles or {}).items()}}
    out = replace(group, claimed_until=None, handles=merged)
    if flush.kind in ("finish", "resolve"):
        out = replace(out, finished=True, last_sent_at=now if flush.kind == "resolve" else out.last_sent_at)
        return replace(out, due_at=None)
    if flush.kind == "acknowledge":
        out = replace(out, ack_sent=True)
    elif flush.kind == "escalate":
        pass
    else:
        sent_to = tuple(dict.fromkeys((*out.sent_to, *got)))
        out = replace(
            out,
            sent_revision=max(out.sent_revision, flush.revision),
            sent_to=sent_to,
            first_sent_at=out.first_sent_at or now,
            last_sent_at=now,
        )
    if cursor_moved:
        out = replace(
            out,
            step=cursor.step if cursor is not None else out.step,
            round=cursor.round if cursor is not None else out.round,
            escalation_due=cursor.due_at if cursor is not None else None,
        )
    return _with_due(out, now)


def with_due(group: Group, now: datetime) -> Group:
    """``group`` with ``due_at`` recomputed (after a change made outside this module)."""
    return _with_due(group, now)
