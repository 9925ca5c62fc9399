"""What the escalation sweep does with one due incident: a pure decider, time passed in.

``decide_sweep(incident, policy, now, silences=..., maintenance=...)`` returns one decision, as
``domain.incident.decide`` does for the relay; the sweep (``escalator``) then only claims
(conditional writes), delivers through the paging pipeline, and records:

- ``Nothing``        not open, not due, or its first page is still being sent (lease running);
- ``RestoreCursor``  the first page is settled but its sender died before giving the escalation
                     cursor back;
- ``HoldFirstPage``  it opened muted (``domain.mute``: silenced, flapping, inhibited, or waiting
                     for an inhibit rule's sources) and is still muted: look again
                     ``SILENCE_RECHECK_S`` later (noting a new reason on the timeline, e.g. the
                     incident that now inhibits it);
- ``Unsilence``      it opened muted, nothing mutes it now: take the held first page and start
                     the policy from now;
- ``TakeOverFirstPage`` its first page's sender died (the lease ran out): send it now;
- ``Stop``           no such policy (or step) any more, or the incident is silenced: escalation ends;
- ``HoldStep``       a silence or maintenance window covers it now: the step waits ``HOLD_S``;
- ``FireStep``       send step N of round R (attempt ``attempt`` of ``MAX_STEP_ATTEMPTS``;
                     ``abandoned`` when every attempt's sweep died: give it up, do not send).

``muted`` (the sweep's ``muting.Muting`` question for this incident) replaces ``silences`` and
``maintenance`` when given: every mute stage, silences included. ``silences`` is read only when
the decision needs it (a callable: the sweep reads the store at
most once per sweep). Also here: the step's label on the timeline (``step_tag``), how many
attempts a step had and what it already sent (read back from the timeline), and the schedule's
anchor for incidents written before ``Incident.escalation_anchor`` existed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..config import EscalationPolicy, Maintenance
from .escalation import Cursor, anchor_of, initial_cursor, next_cursor
from .incident import Incident, TimelineEntry
from .mute import SILENCED, Mute, changed, released_entry
from .silence import Silence, is_silenced

HOLD_S = 300.0  # a step covered by a silence waits this long before it looks again
SILENCE_RECHECK_S = 60.0  # a first page held by a silence is re-checked this often (once a sweep)
MAX_STEP_ATTEMPTS = 3
ANCHOR_MARK = "; timed from "


# --------------------------------------------------------------------------------------- reading
def step_tag(step: int, round_: int) -> str:
    """Human label used in timeline details ("escalation step 2, round 1"); also how retries
    find what a step already delivered."""
    return f"escalation step {step + 1}, round {round_ + 1}"


def claims(incident: Incident, tag: str) -> int:
    """Sweeps that claimed the step (each ``escalation_attempt`` entry, including ones killed
    before they recorded anything)."""
    return sum(
        1 for e in incident.timeline if e.kind == "escalation_attempt" and e.detail.startswith(tag + ":")
    )


def attempts(incident: Incident, tag: str) -> int:
    """Attempts at a step so far: its claims; incidents from before claims were recorded count
    retries."""
    return claims(incident, tag) or sum(
        1 for e in incident.timeline if e.kind == "escalation_retry" and e.detail.startswith(tag + ":")
    )


def already_sent(incident: Incident, tag: str) -> set[str]:
    """Send keys this step already delivered (from details written as "<tag> [<key>]: ...")."""
    keys = set()
    for e in incident.timeline:
        if e.kind == "notified" and e.detail.startswith(tag + " ["):
            keys.add(e.detail[len(tag) + 2 :].split("]", 1)[0])
    return keys


def schedule_anchor(incident: Incident, policy: EscalationPolicy) -> datetime:
    """What the incident's escalation schedule counts from (``domain.escalation``: the later of
    the alarm's time and the alert's arrival): ``incident.escalation_anchor``, set by the relay at
    open. For incidents written before that field, the fallbacks: the anchor older sweeps wrote
    into claim and hold entries (after ``ANCHOR_MARK``); before the first claim, the cursor's
    ``due_at`` is still the one the relay computed, so the anchor follows from it; else
    ``opened_at``."""
    if incident.escalation_anchor is not None:
        return incident.escalation_anchor
    for entry in reversed(incident.timeline):
        if entry.kind in ("escalation_attempt", "escalation_held") and ANCHOR_MARK in entry.detail:
            try:
                return datetime.fromisoformat(entry.detail.rsplit(ANCHOR_MARK, 1)[1].strip())
            except ValueError:
                break
    due = incident.due_at
    if due is not None and not incident.cursor_held and 0 <= incident.step < len(policy.steps):
        anchor = anchor_of(policy, incident.step, incident.round, due)
        if anchor >= incident.opened_at:
            return anchor
    return incident.opened_at


def anchor_to_store(incident: Incident, policy: EscalationPolicy) -> datetime | None:
    """The anchor to write into ``escalation_anchor`` with a claim or hold: only for incidents
    written before the field existed (derived while the old text or cursor still tells it)."""
    if incident.escalation_anchor is not None:
        return None
    return schedule_anchor(incident, policy)


# --------------------------------------------------------------------------------------- decisions
@dataclass(frozen=True)
class Nothing:
    why: str


@dataclass(frozen=True)
class RestoreCursor:
    pass


@dataclass(frozen=True)
class HoldFirstPage:
    why: str  # the silence or window that still covers it
    until: datetime  # look again then
    entry: TimelineEntry | None = None  # a new reason to note (not for silences: they are noted at open)


@dataclass(frozen=True)
class Unsilence:
    step: int
    round: int
    held_due_at: datetime | None  # the policy's next step, counted from now
    entry: TimelineEntry


@dataclass(frozen=True)
class TakeOverFirstPage:
    pass


@dataclass(frozen=True)
class Stop:
    why: str  # the ``escalation_stopped`` entry's detail
    reason: str  # the sweep report's


@dataclass(frozen=True)
class HoldStep:
    why: str
    due_at: datetime
    entries: tuple[TimelineEntry, ...]  # the ``escalation_held`` note, once per window
    anchor: datetime | None  # to store (``anchor_to_store``)


@dataclass(frozen=True)
class FireStep:
    step: int
    round: int
    tag: str
    claim_number: int  # as the claim entry counts it ("attempt N claimed until ...")
    attempt: int  # this attempt, counted by claims
    abandoned: bool  # the last attempt's sweep died: give the step up without sending
    anchor: datetime | None  # to store (``anchor_to_store``)
    following: Cursor | None  # the step after this one (None: the policy is done)


Decision = (
    Nothing | RestoreCursor | HoldFirstPage | Unsilence | TakeOverFirstPage | Stop | HoldStep | FireStep
)


def decide_sweep(
    incident: Incident,
    policy: EscalationPolicy | None,
    now: datetime,
    *,
    silences: Callable[[], Iterable[Silence]] = tuple,
    maintenance: Iterable[Maintenance] = (),
    max_step_attempts: int = MAX_STEP_ATTEMPTS,
    muted: Callable[[], Mute | None] | None = None,
) -> Decision:
    """What the sweep does with ``incident`` at ``now`` (see the module docstring)."""
    if incident.status != "open":
        return Nothing(f"{incident.status}: no escalation")
    if incident.due_at is None or incident.due_at > now:
        return Nothing("not due")

    def mute() -> Mute | None:
        if muted is not None:
            return muted()
        why = is_silenced(incident.labels, now, silences(), maintenance)
        return Mute(SILENCED, why) if why is not None else None

    if incident.silenced and incident.cursor_held:
        return _held_by_silence(incident, policy, now, mute())
    if incident.cursor_held or (incident.pending and incident.pending_until is not None):
        return _first_page(incident, now)
    if policy is None or incident.step >= len(policy.steps):
        why = f"escalation policy {incident.policy!r} is not in the config (or has fewer steps)"
        return Stop(why, "no such policy step")
    if incident.silenced:
        return Stop("incident is silenced", "silenced")
    now_muted = mute()
    if now_muted is not None:
        return _hold_step(incident, policy, now, now_muted.why)
    return _fire_step(incident, policy, max_step_attempts)


def _held_by_silence(
    incident: Incident, policy: EscalationPolicy | None, now: datetime, mute: Mute | None
) -> HoldFirstPage | Unsilence:
    if mute is not None:
        entry = changed(incident, mute, now) if mute.kind != SILENCED else None
        return HoldFirstPage(mute.why, now + timedelta(seconds=SILENCE_RECHECK_S), entry)
    cursor = initial_cursor(policy, now) if policy is not None else None
    entry = released_entry(incident, now)
    if cursor is None:
        return Unsilence(incident.step, incident.round, None, entry)
    return Unsilence(cursor.step, cursor.round, cursor.due_at, entry)


def _first_page(incident: Incident, now: datetime) -> Nothing | RestoreCursor | TakeOverFirstPage:
    if not incident.pending:  # settled, but the sender died before restoring the cursor
        return RestoreCursor()
    if incident.pending_until is not None and incident.pending_until > now:
        return Nothing("first page still being sent")
    return TakeOverFirstPage()


def _hold_step(incident: Incident, policy: EscalationPolicy, now: datetime, why: str) -> HoldStep:
    note = f"{step_tag(incident.step, incident.round)} paused: {why}"
    noted = any(e.kind == "escalation_held" and e.detail == note for e in incident.timeline)
    entries = () if noted else (TimelineEntry(now, "escalation_held", note),)
    return HoldStep(why, now + timedelta(seconds=HOLD_S), entries, anchor_to_store(incident, policy))


def _fire_step(incident: Incident, policy: EscalationPolicy, max_step_attempts: int) -> FireStep:
    tag = step_tag(incident.step, incident.round)
    attempt = claims(incident, tag) + 1  # this sweep's claim included
    current = Cursor(incident.step, incident.round, incident.due_at or incident.opened_at)
    return FireStep(
        step=incident.step,
        round=incident.round,
        tag=tag,
        claim_number=attempts(incident, tag) + 1,
        attempt=attempt,
        abandoned=attempt > max_step_attempts,
        anchor=anchor_to_store(incident, policy),
        following=next_cursor(policy, current, opened_at=schedule_anchor(incident, policy)),
    )
