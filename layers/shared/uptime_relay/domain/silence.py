"""Silences (one-off) and maintenance windows (recurring, from the config). Pure; time passed in.

A silence or window applies to an incident when every one of its ``match`` labels equals the
incident's label (an empty ``match`` applies to everything). A one-off ``Silence`` holds for
``starts_at <= at < ends_at``; after ``ends_at`` it no longer matches. A maintenance window holds
from each time its 5-field ``cron`` (minute hour day-of-month month day-of-week, with ``*``, lists,
ranges and ``/step``; day-of-week 0 or 7 = Sunday; when both day fields are restricted either may
match, as in Vixie cron) fires in ``timezone``, for ``duration_s``. Cron times are local wall-clock
times: a time skipped by a spring-forward change fires at the instant PEP 495 gives it (one hour
later), a repeated autumn time fires once (first occurrence).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from ..config import Maintenance


class CronError(ValueError):
    """A cron expression this matcher cannot read (names the field and why)."""


_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday .. 6 = Saturday (cron numbering; 7 folded into 0)
    days_any: bool
    weekdays_any: bool

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.days_any and self.weekdays_any:
            return True
        if self.days_any:
            return dow
        if self.weekdays_any:
            return dom
        return dom or dow

    def matches(self, local: datetime) -> bool:
        """Does the cron fire at this local wall-clock minute?"""
        return local.minute in self.minutes and local.hour in self.hours and self.matches_day(local.date())


def _parse_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
        except ValueError:
            raise CronError(f"{name} field {text!r}: bad step {step_text!r}") from None
        if step < 1:
            raise CronError(f"{name} field {text!r}: step must be at least 1")
        if base == "*":
            first, last = low, high
        else:
            first_text, _, last_text = base.partition("-")
            try:
                first = int(first_text)
                last = int(last_text) if last_text else (high if step_text else first)
            except ValueError:
                raise CronError(f"{name} field {text!r}: expected numbers, * , - and /") from None
        if not (low <= first <= high and low <= last <= high):
            raise CronError(f"{name} field {text!r}: values must be between {low} and {high}")
        if first > last:
            raise CronError(f"{name} field {text!r}: range {first}-{last} runs backwards")
        values.update(range(first, last + 1, step))
    return frozenset(values)


@lru_cache(maxsize=256)
def parse_cron(expression: str) -> Cron:
    """Parse a 5-field cron expression, or raise CronError saying which field is wrong."""
    parts = expression.split()
    if len(parts) != 5:
        raise CronError(
            f"cron {expression!r}: expected 5 fields (minute hour day-of-month month day-of-week)"
        )
    parsed = [_parse_field(p, n, lo, hi) for p, (n, lo, hi) in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in parsed[4])
    return Cron(
        minutes=parsed[0],
        hours=parsed[1],
        days=parsed[2],
        months=parsed[3],
        weekdays=weekdays,
        days_any=parts[2] == "*",
        weekdays_any=parts[4] == "*",
    )


def cron_fires(cron: Cron, zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """UTC instants in ``[start, end]`` at which ``cron`` fires (local wall time in ``zone``)."""
    out: list[datetime] = []
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        if cron.matches_day(day):
            for hour in sorted(cron.hours):
                for minute in sorted(cron.minutes):
                    instant = datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)
                    if start <= instant <= end:
                        out.append(instant)
        day += timedelta(days=1)
    return sorted(set(out))


def labels_match(match: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in match.items())


@dataclass(frozen=True)
class Silence:
    """A one-off silence, e.g. created from the CLI or Slack during planned work."""

    id: str
    match: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime
    created_by: str = ""
    comment: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError(f"silence {self.id}: starts_at and ends_at must be timezone-aware")
        if self.ends_at <= self.starts_at:
            raise ValueError(f"silence {self.id}: ends_at must be after starts_at")

    def active(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    def applies(self, labels: Mapping[str, str], at: datetime) -> bool:
        return self.active(at) and labels_match(self.match, labels)

    def describe(self) -> str:
        who = f" by {self.created_by}" if self.created_by else ""
        why = f": {self.comment}" if self.comment else ""
        return f"silence {self.id}{who} until {self.ends_at.astimezone(UTC).isoformat()}{why}"

    def to_item(self) -> dict[str, Any]:
        """A plain dict (for storage as ``SILENCE#<id>``; times as ISO strings)."""
        return {
            "id": self.id,
            "match": dict(self.match),
            "starts_at": self.starts_at.astimezone(UTC).isoformat(),
            "ends_at": self.ends_at.astimezone(UTC).isoformat(),
            "created_by": self.created_by,
            "comment": self.comment,
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Silence:
        return cls(
            id=str(item["id"]),
            match={str(k): str(v) for k, v in dict(item.get("match") or {}).items()},
            starts_at=datetime.fromisoformat(str(item["starts_at"])),
            ends_at=datetime.fromisoformat(str(item["ends_at"])),
            created_by=str(item.get("created_by") or ""),
            comment=str(item.get("comment") or ""),
        )


def maintenance_window(window: Maintenance, at: datetime) -> tuple[datetime, datetime] | None:
    """The occurrence of ``window`` in force at ``at`` as (start, end), or None.

    Raises CronError for a cron expression this matcher cannot read."""
    cron = parse_cron(window.cron)
    duration = timedelta(seconds=window.duration_s)
    fires = cron_fires(cron, ZoneInfo(window.timezone), at - duration, at)
    for start in reversed(fires):
        if start <= at < start + duration:
            return start, start + duration
    return None


def is_silenced(
    labels: Mapping[str, str],
    at: datetime,
    silences: Iterable[Silence] = (),
    maintenance: Iterable[Maintenance] = (),
) -> str | None:
    """Why an incident with ``labels`` is silenced at ``at`` (a sentence), or None if it is not.

    A maintenance window with an unreadable cron never silences (alerts keep flowing)."""
    for silence in silences:
        if silence.applies(labels, at):
            return silence.describe()
    for window in maintenance:
        if not labels_match(window.match, labels):
            continue
        try:
            occurrence = maintenance_window(window, at)
        except CronError:
            continue
        if occurrence is not None:
            return (
                f"maintenance {window.name} ({window.cron} {window.timezone}) "
                f"until {occurrence[1].isoformat()}"
            )
    return None
