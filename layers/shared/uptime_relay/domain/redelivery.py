"""Automatic redelivery: what to retry when, a pure decider, time passed in.

A TRIGGER, RESOLVE, escalation step page (ESCALATION) or acknowledge update (ACKNOWLEDGE, a
follow-up) that failed transiently (5xx, 429, a timeout, a connection error, no time
left in the invocation) is kept as a ``Pending`` send beside its incident, with its next attempt
time. The escalation sweep retries it every time it comes due (``decide_redelivery``), with a
growing backoff (``backoff``: 1, 2, 4, 8 minutes … capped at 15, never sooner than the channel's
Retry-After) until it is delivered or ``GIVE_UP_AFTER`` (24 h) has passed since its first failure
(``after_failure`` returns None: the caller dead-letters it).

Rules a channel sees:

- a TRIGGER is dropped once its incident is resolved (or gone): the channel gets nothing for an
  incident that ended before its page got through, and so no resolve either (resolves go only to
  channels with a ``notified`` entry);
- a RESOLVE is only ever planned for a channel whose TRIGGER got through, and it is retried the
  same way;
- a TRIGGER delivered by a redelivery after the incident's resolve was sent to the others owes
  the channel a RESOLVE (``resolve_owed``): the resolve did not include it; so does an
  ESCALATION delivered that way;
- an ESCALATION is dropped once its incident is acknowledged, resolved (or gone): escalation
  stops there, so nobody is paged late, and a channel that never saw the page gets no resolve;
- an ACKNOWLEDGE update is dropped once its incident is no longer acknowledged (resolved: the
  RESOLVE supersedes it and must not be overwritten by a late "acknowledged"; reopened, or gone).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from .incident import Incident

FIRST_DELAY_S = 60.0
MAX_DELAY_S = 900.0  # 15 minutes
GIVE_UP_AFTER = timedelta(hours=24)
CLAIM_S = 120.0  # a claimed redelivery is due again this long after, if its sweep died

Kind = Literal["trigger", "resolve", "escalation", "acknowledge"]
KINDS: tuple[Kind, ...] = ("trigger", "resolve", "escalation", "acknowledge")
PAGES: tuple[Kind, ...] = ("trigger", "escalation")  # kinds after which a channel is owed a RESOLVE


@dataclass(frozen=True)
class Pending:
    """One send waiting for its next attempt. ``notification`` is the message as first rendered
    (``delivery.notification_to_dict``), replayed as is; ``members``: every incident it speaks
    for (a grouped message), the first one owns it."""

    key: str  # "<kind>:<send key>" (one pending send per kind and send key per incident)
    channel: str
    kind: Kind
    first_failed_at: datetime
    next_at: datetime
    attempts: int  # failed attempts so far (each counts the dispatcher's in-invocation retries as one)
    error: str = ""
    to: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    notification: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "key": self.key,
                "channel": self.channel,
                "kind": self.kind,
                "first_failed_at": self.first_failed_at.isoformat(),
                "next_at": self.next_at.isoformat(),
                "attempts": self.attempts,
                "error": self.error[:300],
                "to": list(self.to),
                "members": list(self.members),
                "notification": dict(self.notification),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Pending:
        d = json.loads(text)
        return cls(
            key=str(d["key"]),
            channel=str(d["channel"]),
            kind=as_kind(d.get("kind")),
            first_failed_at=datetime.fromisoformat(d["first_failed_at"]),
            next_at=datetime.fromisoformat(d["next_at"]),
            attempts=int(d.get("attempts") or 1),
            error=str(d.get("error") or ""),
            to=tuple(d.get("to") or ()),
            members=tuple(d.get("members") or ()),
            notification=dict(d.get("notification") or {}),
        )


def as_kind(value: object) -> Kind:
    """The redelivery kind of a notification kind's value (anything else sends as a TRIGGER)."""
    for kind in KINDS:
        if value == kind:
            return kind
    return "trigger"


def pending_key(kind: str, send_key: str) -> str:
    return f"{kind}:{send_key}"


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds until the next attempt after ``attempts`` failed ones: 60, 120, 240 … capped at
    900, and never sooner than the channel asked (``retry_after``)."""
    delay = min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** max(0, min(attempts - 1, 16)))
    if retry_after is not None and retry_after > delay:
        return float(retry_after)
    return delay


def after_failure(
    previous: Pending | None,
    *,
    key: str,
    channel: str,
    kind: Kind,
    now: datetime,
    error: str,
    retry_after: float | None = None,
    to: Sequence[str] = (),
    members: Sequence[str] = (),
    notification: Mapping[str, Any] | None = None,
) -> Pending | None:
    """The pending send after a transient failure at ``now``: its next attempt, or None when it
    has been failing for ``GIVE_UP_AFTER`` (dead-letter it)."""
    if previous is None:
        return Pending(
            key=key,
            channel=channel,
            kind=kind,
            first_failed_at=now,
            next_at=now + timedelta(seconds=backoff(1, retry_after)),
            attempts=1,
            error=error,
            to=tuple(to),
            members=tuple(members),
            notification=dict(notification or {}),
        )
    if now - previous.first_failed_at >= GIVE_UP_AFTER:
        return None
    attempts = previous.attempts + 1
    return replace(
        previous,
        attempts=attempts,
        next_at=now + timedelta(seconds=backoff(attempts, retry_after)),
        error=error,
    )


# --------------------------------------------------------------------------------------- decisions
@dataclass(frozen=True)
class Redeliver:
    pending: Pending


@dataclass(frozen=True)
class Drop:
    pending: Pending
    why: str


@dataclass(frozen=True)
class GiveUp:
    pending: Pending
    why: str


RedeliveryDecision = Redeliver | Drop | GiveUp


def decide_redelivery(
    pending: Iterable[Pending], incident: Incident | None, now: datetime
) -> list[RedeliveryDecision]:
    """What the sweep does at ``now`` with an incident's pending sends that are due."""
    decisions: list[RedeliveryDecision] = []
    for one in pending:
        if one.next_at > now:
            continue
        why = _drop_why(one.kind, incident)
        if why is not None:
            decisions.append(Drop(one, why))
        elif now - one.first_failed_at >= GIVE_UP_AFTER:
            decisions.append(GiveUp(one, f"still failing after {_hours(GIVE_UP_AFTER)} h: {one.error}"))
        else:
            decisions.append(Redeliver(one))
    return decisions


def _drop_why(kind: Kind, incident: Incident | None) -> str | None:
    """Why a pending send of ``kind`` is no longer worth sending (None: it still is)."""
    if incident is None:
        return "the incident is gone"
    if kind == "trigger" and incident.status == "resolved":
        return "the incident resolved before its trigger got through"
    if kind == "escalation" and incident.status != "open":
        return f"the incident was {incident.status} before its escalation got through"
    if kind == "acknowledge" and incident.status != "acknowledged":
        return f"the incident is {incident.status} now: the acknowledge update is out of date"
    return None


def resolve_owed(incident: Incident, channel: str, sent_at: datetime) -> bool:
    """Whether a TRIGGER (or ESCALATION) just delivered to ``channel`` (its ``notified`` entry at ``sent_at``)
    still owes the channel a RESOLVE: the incident is resolved, and its resolve was written before
    that entry (so whoever sent the resolves did not know the channel had the trigger)."""
    if incident.status != "resolved":
        return False
    resolved_at = notified_at = None
    for index, entry in enumerate(incident.timeline):
        if entry.kind == "resolved" and resolved_at is None:
            resolved_at = index
        if entry.kind == "notified" and entry.channel == channel and entry.at == sent_at:
            notified_at = index
    return resolved_at is not None and notified_at is not None and notified_at > resolved_at


def _hours(delta: timedelta) -> int:
    return int(delta.total_seconds() // 3600)
