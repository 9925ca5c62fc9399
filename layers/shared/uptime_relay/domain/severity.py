"""Severity tiers: every spelling of a ``severity`` label mapped onto PagerDuty's four levels (pure).

One table (documented in docs/configuration.md, "Severity tiers"): ``p0`` to ``p4``, ``sev0`` to ``sev4``
and ``critical / high / medium / low / info``, plus the common spellings seen in alarm tags and
Prometheus rules. ``p0`` and ``p1`` are both critical. The normalised tier is what PagerDuty's
``payload.severity`` carries, what picks Slack's colour bar and the e-mail banner, and what a
route's ``match: {severity: <tier>}`` may match (``domain.routing``).

A label that is not in the table is *unknown*: it never silently becomes a lower tier. Where a
tier is needed, the channel's ``severity`` option (PagerDuty) is used only for alerts without a
known tier, then the alert's state (ALARM: critical).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

SEVERITIES = ("critical", "error", "warning", "info")  # most severe first (PagerDuty's four)

# tier -> every spelling that means it (lower-case; the first four columns are the contract's)
TIERS: Mapping[str, tuple[str, ...]] = {
    "critical": ("p0", "p1", "sev0", "sev1", "critical", "crit", "page", "fatal", "emergency"),
    "error": ("p2", "sev2", "high", "error", "err", "major"),
    "warning": ("p3", "sev3", "medium", "warning", "warn", "minor"),
    "info": ("p4", "sev4", "low", "info", "informational", "none", "notice", "p5", "sev5"),
}
ALIASES: Mapping[str, str] = {alias: tier for tier, spellings in TIERS.items() for alias in spellings}


def normalise(value: object) -> str | None:
    """The tier of a ``severity`` label value (``"P0"`` -> ``"critical"``), or None when unknown."""
    if value is None:
        return None
    return ALIASES.get(str(value).strip().lower())


def most_severe(tiers: Iterable[str | None]) -> str | None:
    """The most severe of some tiers (unknown ones, None, ignored); None when there is none."""
    known = [t for t in tiers if t in SEVERITIES]
    return min(known, key=SEVERITIES.index) if known else None


def with_tier(labels: Mapping[str, str]) -> Mapping[str, str]:
    """``labels`` with ``severity`` replaced by its tier (for matching a route on the tier); the
    labels themselves when the severity is missing, unknown or already a tier name."""
    tier = normalise(labels.get("severity"))
    if tier is None or labels.get("severity") == tier:
        return labels
    return {**labels, "severity": tier}
