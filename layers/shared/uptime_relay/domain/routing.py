"""Routing: which configured routes an alert's labels select (pure).

Rules (CONTRACT.md): every label of a route's ``match`` must be equal on the alert; a route without
``match`` is a catch-all; routes are tried in order and the first match wins unless it says
``continue: true``, in which case later routes are tried too. A ``severity`` in ``match`` also
matches on the alert's normalised tier (``domain.severity``): ``{severity: critical}`` matches an
alert labelled ``p0``, ``sev1`` or ``critical``. When no route matches, nothing is
notified, but the alert is still recorded (the relay logs it and notes it on the timeline).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..config import Route
from .severity import with_tier


@dataclass(frozen=True)
class RouteMatch:
    """The routes an alert matched, in configuration order."""

    routes: tuple[Route, ...] = ()

    @property
    def matched(self) -> bool:
        return bool(self.routes)

    @property
    def channels(self) -> tuple[str, ...]:
        """Every route's ``notify`` targets, deduplicated, order kept."""
        return _dedupe(t for route in self.routes for t in route.notify)

    @property
    def policy(self) -> str | None:
        """The escalation policy of the first matched route that names one."""
        return next((r.escalation for r in self.routes if r.escalation), None)

    @property
    def insufficient_data(self) -> str:
        """How INSUFFICIENT_DATA is handled: the first matched route decides ("warn" by default)."""
        return self.routes[0].insufficient_data if self.routes else "warn"

    @property
    def primary(self) -> Route | None:
        return self.routes[0] if self.routes else None


def match_routes(routes: Iterable[Route], labels: Mapping[str, str]) -> RouteMatch:
    """Select routes for ``labels``: first match wins unless it has ``continue: true``. A route's
    ``severity`` may name a tier (``match: {severity: critical}`` also takes ``p0``, ``sev1``…)."""
    matched: list[Route] = []
    tiered = with_tier(labels)
    for route in routes:
        if route.matches(labels) or (tiered is not labels and route.matches(tiered)):
            matched.append(route)
            if not route.continue_:
                break
    return RouteMatch(tuple(matched))


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return tuple(seen)
