"""Uptime, incidents, MTTR/MTBF and SLA per check and window (``uptime-relay uptime``; the status
page's windows). The figures are ``domain.availability``'s; this module gathers their inputs:
``Availability`` tallies (``AvailabilityReader``), the check's incidents, and the maintenance
windows and silences that applied to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from .config import Check, Config
from .domain.availability import (
    MINUTE,
    WINDOWS,
    Outage,
    Span,
    Tally,
    WindowReport,
    aligned,
    clip,
    floor_to,
    merge,
    report,
    spans,
)
from .domain.silence import CronError, Silence, cron_fires, labels_match, parse_cron
from .ports import IncidentStore

ALL_STATUSES = ("open", "acknowledged", "resolved")


class AvailabilityReader(Protocol):
    def tallies(self, checks: Sequence[str], parts: Iterable[Span]) -> dict[str, list[Tally]]: ...


def window_tallies(
    reader: AvailabilityReader, checks: Sequence[str], windows: Sequence[str], now: datetime
) -> dict[str, dict[str, tuple[datetime, Tally]]]:
    """Per check, per window: its (aligned) start and tally. The windows all end at ``now``, so
    they are suffixes of one set of spans: the longest is read once, split at the others' starts."""
    longest = max(WINDOWS[w] for w in windows)
    starts = {w: aligned(now - WINDOWS[w], now) for w in windows}
    parts = spans(now - longest, now, now, cuts=starts.values())
    found = reader.tallies(checks, parts)
    out: dict[str, dict[str, tuple[datetime, Tally]]] = {}
    for check in checks:
        per_window: dict[str, tuple[datetime, Tally]] = {}
        for window, start in starts.items():
            total = Tally()
            for part, tally in zip(parts, found[check], strict=True):
                if part.start >= start:
                    total = total + tally
            first = next((p.start for p in parts if p.start >= start), start)
            per_window[window] = (first, total)
        out[check] = per_window
    return out


def check_labels(check: Check) -> dict[str, str]:
    """The labels a check's alerts carry (silences and maintenance windows match on them)."""
    return {**check.labels, "check": check.name}


def quiet_intervals(
    config: Config, check: Check, silences: Iterable[Silence], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """When ``check`` was in a maintenance window or under a silence within ``[start, end)``."""
    labels = check_labels(check)
    found: list[tuple[datetime, datetime]] = [
        (s.starts_at, s.ends_at) for s in silences if labels_match(s.match, labels)
    ]
    for window in config.maintenance:
        if not labels_match(window.match, labels):
            continue
        try:
            cron = parse_cron(window.cron)
        except CronError:
            continue  # never silenced anything either (domain.silence.is_silenced)
        duration = timedelta(seconds=window.duration_s)
        for fired in cron_fires(cron, ZoneInfo(window.timezone), start - duration, end):
            found.append((fired, fired + duration))
    return clip(merge(found), start, end)


def uptime_reports(
    config: Config,
    reader: AvailabilityReader,
    store: IncidentStore,
    *,
    now: datetime,
    windows: Sequence[str],
    checks: Sequence[str] | None = None,
    silences: Iterable[Silence] = (),
    exclude_maintenance: bool = False,
) -> list[WindowReport]:
    """One report per check (config order) per window (as given)."""
    selected = [c for c in config.checks if checks is None or c.name in checks]
    names = [c.name for c in selected]
    tallies = window_tallies(reader, names, windows, now)
    earliest = min(start for per in tallies.values() for start, _ in per.values()) if names else now
    incidents = store.list(statuses=ALL_STATUSES, since=earliest)
    silences = list(silences)
    reports: list[WindowReport] = []
    for check in selected:
        quiet = quiet_intervals(config, check, silences, earliest, now)
        for window in windows:
            start, tally = tallies[check.name][window]
            outages = [
                Outage(i.opened_at, i.resolved_at)
                for i in incidents
                if i.check == check.name and start <= i.opened_at < now and not i.is_test
            ]
            maintenance = _quiet_tally(reader, check.name, clip(quiet, start, now), now)
            reports.append(
                report(
                    check.name,
                    window,
                    start,
                    floor_to(now, MINUTE),  # complete minutes only
                    tally,
                    outages,
                    sla=check.sla,
                    maintenance=maintenance,
                    exclude_maintenance=exclude_maintenance,
                )
            )
    return reports


def _quiet_tally(
    reader: AvailabilityReader, check: str, intervals: Sequence[tuple[datetime, datetime]], now: datetime
) -> Tally:
    """Minutes probed and up inside ``intervals``."""
    parts = [part for start, end in intervals for part in spans(start, end, now)]
    total = Tally()
    for tally in reader.tallies([check], parts).get(check, []) if parts else []:
        total = total + tally
    return total
