"""Response figures: time to acknowledge and to resolve per incident, MTTA / MTTR per check. Pure.

Works on anything shaped like an incident (``opened_at``, ``acknowledged_at``, ``resolved_at``,
``check``, ``name``, ``timeline``). When ``acknowledged_at`` / ``resolved_at`` are missing the
timeline is consulted (first entry of kind ``acknowledged`` / ``resolved``). An incident resolved
without an acknowledgement counts for MTTR but not for MTTA; open incidents count for neither.
Test incidents (``uptime-relay test``, label ``uptime_relay_test``) are left out.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from uptime_relay.domain.alert import TEST_LABEL

ACK_KINDS = ("acknowledged", "acknowledge", "ack")
RESOLVE_KINDS = ("resolved", "resolve")
NO_CHECK = "(other alarms)"


@dataclass(frozen=True)
class IncidentFigures:
    incident_id: str
    check: str
    opened_at: datetime
    time_to_acknowledge_s: float | None
    time_to_resolve_s: float | None


@dataclass(frozen=True)
class CheckFigures:
    """One row per check over a period. Times in seconds; None when nothing to average."""

    check: str
    incidents: int
    acknowledged: int
    resolved: int
    mtta_s: float | None
    mttr_s: float | None
    median_tta_s: float | None
    median_ttr_s: float | None


def _first_entry_at(incident: Any, kinds: tuple[str, ...]) -> datetime | None:
    for entry in getattr(incident, "timeline", None) or ():
        kind = entry.get("kind") if isinstance(entry, dict) else getattr(entry, "kind", None)
        if kind in kinds:
            at = entry.get("at") if isinstance(entry, dict) else getattr(entry, "at", None)
            if isinstance(at, datetime):
                return at
    return None


def _seconds(opened: datetime, later: datetime | None) -> float | None:
    if later is None:
        return None
    return max((later - opened).total_seconds(), 0.0)


def incident_figures(incident: Any) -> IncidentFigures:
    opened = incident.opened_at
    acked = getattr(incident, "acknowledged_at", None) or _first_entry_at(incident, ACK_KINDS)
    resolved = getattr(incident, "resolved_at", None) or _first_entry_at(incident, RESOLVE_KINDS)
    if acked is not None and resolved is not None and acked > resolved:
        acked = None  # acknowledged after it resolved itself: nobody responded to the page
    return IncidentFigures(
        incident_id=str(getattr(incident, "id", "")),
        check=getattr(incident, "check", None) or getattr(incident, "name", None) or NO_CHECK,
        opened_at=opened,
        time_to_acknowledge_s=_seconds(opened, acked),
        time_to_resolve_s=_seconds(opened, resolved),
    )


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def is_test(incident: Any) -> bool:
    """An incident of a test alert (``uptime-relay test``): never counted in a report."""
    labels = getattr(incident, "labels", None) or {}
    return bool(labels.get(TEST_LABEL))  # also for the plain records `incidents report` reads


def response_report(incidents: Iterable[Any], start: datetime, end: datetime) -> list[CheckFigures]:
    """MTTA / MTTR per check for incidents opened in ``[start, end)``, rows sorted by check."""
    groups: dict[str, list[IncidentFigures]] = {}
    for incident in incidents:
        if not start <= incident.opened_at < end or is_test(incident):
            continue
        figures = incident_figures(incident)
        groups.setdefault(figures.check, []).append(figures)
    rows = []
    for check in sorted(groups):
        figs = groups[check]
        tta = [f.time_to_acknowledge_s for f in figs if f.time_to_acknowledge_s is not None]
        ttr = [f.time_to_resolve_s for f in figs if f.time_to_resolve_s is not None]
        rows.append(
            CheckFigures(
                check=check,
                incidents=len(figs),
                acknowledged=len(tta),
                resolved=len(ttr),
                mtta_s=_mean(tta),
                mttr_s=_mean(ttr),
                median_tta_s=_median(tta),
                median_ttr_s=_median(ttr),
            )
        )
    return rows


def format_duration(seconds: float | None) -> str:
    """``None`` -> "-", 90 -> "1m30s", 3720 -> "1h02m"."""
    if seconds is None:
        return "-"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
