"""Uptime from the probe's ``Availability`` metric: which periods to read, and the figures. Pure.

Each probe run writes one ``Availability`` value per check per minute: 1 ok, 0 failed. Summed
over any time range, ``Sum`` is the minutes that were up and ``SampleCount`` the minutes that were
probed, whatever period CloudWatch aggregated them at (a statistic set keeps both exactly). So:

- uptime % = up minutes / probed minutes (minutes never probed are a gap, not uptime);
- downtime = probed minutes - up minutes.

CloudWatch keeps 1-minute data for 15 days, 5-minute data for 63 days and 1-hour data for 455
days (``RETENTION``; docs/operations.md#uptime-and-sla-reports has the sources). A range is read
as ``Span``s: each at the finest period still kept at its age, whole hours at one hour (fewer data
points), so a window is exact to the minute where 1-minute data is kept, to 5 minutes to day 63
and to the hour beyond.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MINUTE = 60
HOUR = 3600
DAY = 86400
# (how old data may be, the finest period CloudWatch still has for it), finest first
RETENTION: tuple[tuple[timedelta, int], ...] = (
    (timedelta(days=15), 60),
    (timedelta(days=63), 300),
    (timedelta(days=455), 3600),
)
WINDOWS: Mapping[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}


def parse_windows(text: str) -> list[str]:
    """``"24h,7d"`` -> ``["24h", "7d"]``; ValueError naming a window it does not know."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in WINDOWS]
    if unknown or not names:
        raise ValueError(
            f"unknown window {', '.join(unknown) or repr(text)}: use some of {', '.join(WINDOWS)}"
        )
    return list(dict.fromkeys(names))


def finest_period(age: timedelta) -> int | None:
    """The finest period CloudWatch still keeps for data this old (None: gone)."""
    for limit, period in RETENTION:
        if age <= limit:
            return period
    return None


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def floor_to(at: datetime, seconds: int) -> datetime:
    return datetime.fromtimestamp(_epoch(at) // seconds * seconds, UTC)


def ceil_to(at: datetime, seconds: int) -> datetime:
    return datetime.fromtimestamp(-(-_epoch(at) // seconds) * seconds, UTC)


@dataclass(frozen=True)
class Span:
    """``[start, end)`` read at ``period`` seconds (``start`` a multiple of it)."""

    start: datetime
    end: datetime
    period: int

    @property
    def datapoints(self) -> int:
        return max(1, -(-int((self.end - self.start).total_seconds()) // self.period))


def spans(start: datetime, end: datetime, now: datetime, cuts: Iterable[datetime] = ()) -> list[Span]:
    """``[start, end)`` as spans CloudWatch can still answer at ``now``, split at ``cuts`` (e.g.
    the starts of shorter windows, so that each window is a suffix of the spans).

    The oldest edge moves back to its period (5 minutes past day 15, an hour past day 63); data
    older than CloudWatch keeps is left out."""
    oldest = ceil_to(now - RETENTION[-1][0], HOUR)
    start, end = max(aligned(start, now), oldest), floor_to(end, MINUTE)
    points = sorted({c for c in (aligned(c, now) for c in cuts) if start < c < end})
    out: list[Span] = []
    for a, b in zip([start, *points], [*points, end], strict=True):
        out.extend(_tiered(a, b, now))
    return out


def day_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, at.day, tzinfo=UTC)


def aligned(at: datetime, now: datetime) -> datetime:
    """``at`` moved back to the period CloudWatch keeps at its age."""
    return floor_to(at, finest_period(now - at) or HOUR)


def _tiered(start: datetime, end: datetime, now: datetime) -> list[Span]:
    out: list[Span] = []
    t = start
    while t < end:
        period = finest_period(now - t) or HOUR
        t = floor_to(t, period)
        # finer data starts where the next finer tier begins (read coarser up to a period boundary)
        finer = [limit for limit, p in RETENTION if p < period]
        cut = min(end, ceil_to(now - finer[-1], period)) if finer else end
        out.extend(_with_hours(t, cut, period))
        t = cut
    return out


def _with_hours(start: datetime, end: datetime, period: int) -> list[Span]:
    """Whole hours inside ``[start, end)`` read at one hour, the edges at ``period``."""
    if period >= HOUR:
        return [Span(start, end, period)]
    first, last = ceil_to(start, HOUR), floor_to(end, HOUR)
    if first >= last:
        return [Span(start, end, period)]
    parts = [Span(start, first, period), Span(first, last, HOUR), Span(last, end, period)]
    return [p for p in parts if p.end > p.start]


# --------------------------------------------------------------------------------------- figures
@dataclass(frozen=True)
class Tally:
    """Minutes probed and minutes up over some range (``Availability`` Sum and SampleCount)."""

    probed: float = 0.0
    up: float = 0.0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.probed + other.probed, self.up + other.up)

    def __sub__(self, other: Tally) -> Tally:
        return Tally(max(0.0, self.probed - other.probed), max(0.0, self.up - other.up))

    @property
    def down(self) -> float:
        return max(0.0, self.probed - self.up)

    @property
    def uptime_pct(self) -> float | None:
        return round(100.0 * self.up / self.probed, 4) if self.probed else None


@dataclass(frozen=True)
class Outage:
    """One incident of the check: when it opened and, once over, resolved."""

    opened_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True)
class WindowReport:
    check: str
    window: str
    start: datetime
    end: datetime
    tally: Tally
    incidents: int
    mttr_s: float | None
    mtbf_s: float | None
    sla: float | None
    sla_met: bool | None
    error_budget_minutes: float | None
    maintenance: Tally  # probed minutes inside maintenance windows and silences
    excluded_maintenance: bool

    @property
    def window_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // MINUTE)

    def to_dict(self) -> dict[str, object]:
        """The ``uptime --json`` line (CONTRACT.md), then what it adds: the gap, maintenance."""
        return {
            "check": self.check,
            "window": self.window,
            "uptime_pct": self.tally.uptime_pct,
            "minutes_probed": _whole(self.tally.probed),
            "downtime_minutes": _whole(self.tally.down),
            "incidents": self.incidents,
            "mttr_s": _round(self.mttr_s),
            "mtbf_s": _round(self.mtbf_s),
            "sla": self.sla,
            "sla_met": self.sla_met,
            "error_budget_minutes": _round(self.error_budget_minutes, 1),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "gap_minutes": max(0, self.window_minutes - _whole(self.tally.probed + self.excluded.probed)),
            "maintenance_minutes": _whole(self.maintenance.probed),
            "maintenance_downtime_minutes": _whole(self.maintenance.down),
            "maintenance_excluded": self.excluded_maintenance,
        }

    @property
    def excluded(self) -> Tally:
        return self.maintenance if self.excluded_maintenance else Tally()


def _whole(minutes: float) -> int:
    return round(minutes)


def _round(value: float | None, digits: int = 0) -> float | None:
    if value is None:
        return None
    return round(value, digits) if digits else float(round(value))


def report(
    check: str,
    window: str,
    start: datetime,
    end: datetime,
    tally: Tally,
    outages: Sequence[Outage],
    *,
    sla: float | None,
    maintenance: Tally = Tally(),
    exclude_maintenance: bool = False,
) -> WindowReport:
    """The figures of one check over one window. ``outages`` are its incidents opened in the
    window; with ``exclude_maintenance`` the minutes inside maintenance and silences count
    neither as up nor as down.

    MTTR is the mean time from opening to resolving of the resolved ones; MTBF the up time of the
    window divided by the number of incidents (None without incidents). Against ``sla``: the
    allowed downtime is ``(100 - sla)%`` of the probed minutes; the budget left is what remains of
    it (negative when overspent), and the SLA is met while uptime % >= sla."""
    counted = tally - maintenance if exclude_maintenance else tally
    durations = [(o.resolved_at - o.opened_at).total_seconds() for o in outages if o.resolved_at is not None]
    mttr = sum(durations) / len(durations) if durations else None
    mtbf = counted.up * MINUTE / len(outages) if outages else None
    met: bool | None = None
    budget: float | None = None
    if sla is not None and counted.probed:
        allowed = counted.probed * (100.0 - sla) / 100.0
        budget = allowed - counted.down
        met = 100.0 * counted.up / counted.probed >= sla - 1e-9
    return WindowReport(
        check=check,
        window=window,
        start=start,
        end=end,
        tally=counted,
        incidents=len(outages),
        mttr_s=mttr,
        mtbf_s=mtbf,
        sla=sla,
        sla_met=met,
        error_budget_minutes=budget,
        maintenance=maintenance,
        excluded_maintenance=exclude_maintenance,
    )


def merge(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Overlapping or touching intervals joined, in order."""
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def clip(
    intervals: Iterable[tuple[datetime, datetime]], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    return [(max(a, start), min(b, end)) for a, b in intervals if b > start and a < end]
