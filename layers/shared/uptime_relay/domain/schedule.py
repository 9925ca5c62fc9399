"""On-call schedules: who is on call at an instant, and the list of shifts over a period. Pure.

A rotation hands off at ``handoff`` local time in ``schedule.timezone`` — every day (``daily``) or
on ``handoff_day`` (``weekly``, 0 = Monday). Local wall-clock time is what counts, so a 09:00
handoff stays at 09:00 local across daylight-saving changes (the shift that spans the change is an
hour shorter or longer). A handoff time that does not exist on a spring-forward day (02:30 in
Europe/Berlin) happens at the instant PEP 495 gives it (03:30 local); one that exists twice on an
autumn day happens at its first occurrence.

``members[0]`` holds the shift that contains ``schedule.start`` (daily: from ``start`` at the
handoff time; weekly: from the last handoff day on or before ``start``); each handoff moves to the
next member, wrapping around, and the same arithmetic runs backwards before ``start``.

Overrides replace the rotation while they last; when several cover an instant the one that started
latest wins (ties: the one listed last).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from ..config import Override, Schedule


@dataclass(frozen=True)
class Shift:
    """``person`` is on call from ``start`` (inclusive) to ``end`` (exclusive); ``override`` when
    the shift comes from an override rather than the rotation."""

    person: str
    start: datetime
    end: datetime
    override: bool = False


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"on-call lookups need a timezone-aware time, got naive {at.isoformat()}")
    return at


def handoff_instant(schedule: Schedule, day: date) -> datetime:
    """The aware (UTC) instant of the handoff on local date ``day``."""
    local = datetime.combine(day, schedule.handoff, tzinfo=ZoneInfo(schedule.timezone))
    return local.astimezone(UTC)


def _shift_day(schedule: Schedule, at: datetime) -> date:
    """Local date of the most recent handoff at or before ``at`` (weekly: on the handoff day)."""
    today = at.astimezone(ZoneInfo(schedule.timezone)).date()
    if schedule.rotation == "weekly":
        day = today - timedelta(days=(today.weekday() - schedule.handoff_day) % 7)
        step = 7
    else:
        day, step = today, 1
    if handoff_instant(schedule, day) > at:
        day -= timedelta(days=step)
    return day


def _anchor_day(schedule: Schedule) -> date:
    if schedule.rotation == "weekly":
        return schedule.start - timedelta(days=(schedule.start.weekday() - schedule.handoff_day) % 7)
    return schedule.start


def rotation_index(schedule: Schedule, at: datetime) -> int:
    """How many handoffs since the anchor shift (negative before it)."""
    days = (_shift_day(schedule, _aware(at)) - _anchor_day(schedule)).days
    return days // 7 if schedule.rotation == "weekly" else days


def rotation_oncall(schedule: Schedule, at: datetime) -> str:
    """Who the rotation (ignoring overrides) puts on call at ``at``."""
    if not schedule.members:
        raise ValueError(f"schedule {schedule.name!r} has no members")
    return schedule.members[rotation_index(schedule, at) % len(schedule.members)]


def active_override(schedule: Schedule, at: datetime) -> Override | None:
    """The override in force at ``at``: the latest-starting one covering it (ties: listed last)."""
    best: Override | None = None
    for override in schedule.overrides:
        if override.start <= at < override.end and (best is None or override.start >= best.start):
            best = override
    return best


def oncall(schedule: Schedule, at: datetime) -> str:
    """The name of the person on call for ``schedule`` at the aware instant ``at``."""
    override = active_override(schedule, _aware(at))
    if override is not None:
        return override.person
    return rotation_oncall(schedule, at)


def handoffs(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """Rotation handoff instants in ``(start, end)``, in order."""
    tz = ZoneInfo(schedule.timezone)
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    out = []
    while day <= last:
        if schedule.rotation == "daily" or day.weekday() == schedule.handoff_day:
            instant = handoff_instant(schedule, day)
            if start < instant < end:
                out.append(instant)
        day += timedelta(days=1)
    return out


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Who is on call when between ``start`` and ``end``: consecutive shifts, overrides included,
    adjacent pieces for the same person (and kind) merged."""
    start, end = _aware(start).astimezone(UTC), _aware(end).astimezone(UTC)
    if end <= start:
        return []
    cuts = {start, end, *handoffs(schedule, start, end)}
    for override in schedule.overrides:
        cuts.update(t.astimezone(UTC) for t in (override.start, override.end) if start < t < end)
    ordered = sorted(cuts, key=lambda t: t.timestamp())
    out: list[Shift] = []
    for left, right in pairwise(ordered):
        override = active_override(schedule, left)
        person = override.person if override else rotation_oncall(schedule, left)
        is_override = override is not None
        if out and out[-1].person == person and out[-1].override == is_override:
            out[-1] = Shift(person, out[-1].start, right, is_override)
        else:
            out.append(Shift(person, left, right, is_override))
    return out
