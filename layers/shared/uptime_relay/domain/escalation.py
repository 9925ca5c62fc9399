"""Escalation policies as a cursor over (round, step): which step fires when. Pure; time passed in.

A policy is a list of steps, each with a delay ``after`` counted from the moment the incident
opened, and ``repeat``: how many more times the whole list runs after the first pass while nobody
acknowledges (reminders). Rounds are numbered 0..repeat.

Round ``r``'s step ``i`` is due at ``opened_at + r * period + steps[i].after``. The period is
chosen so that a new round starts after the previous round's last step with the wait the policy
itself uses:

    period = last.after - first.after + max(gap, 1 min)
    gap    = first.after                        when the first step waits (first.after > 0)
           = last.after - previous step's after when the first step is sent at open (after: 0m)
           = 5 min                              for a single step at 0m

(at least a minute, so due times never go backwards). For steps 0m/10m/30m with ``repeat: 1``
the sends are 0m, 10m, 30m, then 50m, 60m, 80m; a single step ``after: 15m`` with ``repeat: 2``
sends at 15m, 30m, 45m; a single step at 0m with ``repeat: 2`` at 0m, 5m, 10m.

A step at ``0m`` of round 0 goes out with the first page (``targets_at_open``), so
``initial_cursor`` points at the first step *not* already sent.

The schedule's anchor (``opened_at`` here) is the moment the relay opened the incident: the later
of the alarm's own time and the time the alert arrived (an Alertmanager alert that started at
09:50 but reached the relay at 10:00 escalates its 5-minute step at 10:05, not at once), while the
incident keeps the alarm's time as ``opened_at`` for reporting. The relay stores that anchor on the
incident (``Incident.escalation_anchor``); ``anchor_of`` recovers it from a cursor the relay set,
for incidents written before the field existed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..config import EscalationPolicy, Route

MIN_GAP_S = 60.0
SINGLE_STEP_AT_OPEN_GAP_S = 300.0


@dataclass(frozen=True)
class Cursor:
    """The next pending step: ``step`` index into ``policy.steps``, ``round`` 0..repeat, when due."""

    step: int
    round: int
    due_at: datetime


def dedupe(items: Iterable[str]) -> tuple[str, ...]:
    """Drop repeats, keep first-seen order."""
    return tuple(dict.fromkeys(items))


def targets_at_open(route: Route, policy: EscalationPolicy | None) -> tuple[str, ...]:
    """What the first page goes to: the route's ``notify`` plus the policy's step 0 when it is
    ``after: 0m``. A channel named in both is notified once; order is kept (route first)."""
    targets = list(route.notify)
    if policy is not None and policy.steps and policy.steps[0].after_s <= 0:
        targets.extend(policy.steps[0].notify)
    return dedupe(targets)


def period_s(policy: EscalationPolicy) -> float:
    """Seconds between the same step of two consecutive rounds (see the module docstring)."""
    steps = policy.steps
    first, last = steps[0].after_s, steps[-1].after_s
    if first > 0:
        gap = first
    elif len(steps) > 1:
        gap = last - steps[-2].after_s
    else:
        gap = SINGLE_STEP_AT_OPEN_GAP_S
    return last - first + max(gap, MIN_GAP_S)


def due_at(policy: EscalationPolicy, opened_at: datetime, step: int, round_: int) -> datetime:
    """When round ``round_``'s step ``step`` is due for an incident opened at ``opened_at``."""
    return opened_at + timedelta(seconds=round_ * period_s(policy) + policy.steps[step].after_s)


def anchor_of(policy: EscalationPolicy, step: int, round_: int, due: datetime) -> datetime:
    """The time a policy's schedule counts from, given that round ``round_``'s step ``step`` is due
    at ``due`` on that schedule (the inverse of ``due_at``)."""
    return due - timedelta(seconds=round_ * period_s(policy) + policy.steps[step].after_s)


def _position_after(policy: EscalationPolicy, step: int, round_: int) -> tuple[int, int] | None:
    if step + 1 < len(policy.steps):
        return step + 1, round_
    if round_ + 1 <= policy.repeat:
        return 0, round_ + 1
    return None


def initial_cursor(policy: EscalationPolicy | None, opened_at: datetime) -> Cursor | None:
    """The first step not already sent when the incident opened, or None (nothing left to do)."""
    if policy is None or not policy.steps:
        return None
    if policy.steps[0].after_s > 0:
        return Cursor(0, 0, due_at(policy, opened_at, 0, 0))
    position = _position_after(policy, 0, 0)  # step 0 went out with the first page
    if position is None:
        return None
    return Cursor(position[0], position[1], due_at(policy, opened_at, *position))


def next_cursor(
    policy: EscalationPolicy, cursor: Cursor, *, opened_at: datetime | None = None
) -> Cursor | None:
    """The step after ``cursor``, or None when the policy is done (last step of the last round).

    Times are anchored at ``opened_at`` (pass the incident's); without it the anchor is derived
    from ``cursor.due_at``, which is exact for cursors produced by this module.
    """
    if not policy.steps or cursor.step >= len(policy.steps):
        return None
    if opened_at is None:
        opened_at = cursor.due_at - timedelta(
            seconds=cursor.round * period_s(policy) + policy.steps[cursor.step].after_s
        )
    position = _position_after(policy, cursor.step, cursor.round)
    if position is None:
        return None
    return Cursor(position[0], position[1], due_at(policy, opened_at, *position))


def planned(policy: EscalationPolicy, opened_at: datetime) -> list[tuple[Cursor, tuple[str, ...]]]:
    """Every escalation send after the first page, in order, with its targets (for docs/CLI)."""
    out: list[tuple[Cursor, tuple[str, ...]]] = []
    cursor = initial_cursor(policy, opened_at)
    while cursor is not None:
        out.append((cursor, policy.steps[cursor.step].notify))
        cursor = next_cursor(policy, cursor, opened_at=opened_at)
    return out
