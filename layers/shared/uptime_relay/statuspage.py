"""The public status page (``status_page`` in the config): ``GET /status``, ``/status.json``,
``/badge/{check}.svg`` and ``/badge/{check}/uptime-30d.svg`` on the actions Function URL.

A page view never reads CloudWatch per check per visitor. Every view reads one cached snapshot
(one DynamoDB item, ``adapters.status_cache``) and refreshes a part of it only when that part is
older than its age limit, under a lease so that visitors arriving together refresh it once:

- history (uptime per window, the 90 daily segments): at most every ``HISTORY_MAX_AGE``
  (15 minutes): one GetMetricData call for the daily segments, up to three for the last 24 hours
  (per 250 checks);
- live (current state, open and recent incidents): at most every ``LIVE_MAX_AGE`` (1 minute):
  two queries of the incident table's listing index.

So the page is at most 1 minute behind on state and incidents and 15 minutes on uptime, and
nobody viewing it costs nothing. Only the checks listed under ``status_page`` appear, and of them
only their name, group, state, uptime and incident times: never a URL, label, error or runbook.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from .adapters.status_cache import Snapshot
from .config import Config, StatusPage
from .domain.availability import DAY, MINUTE, Span, Tally, day_start, floor_to
from .ports import IncidentStore
from .sla import window_tallies
from .statusrender import badge_svg, render_html, uptime_badge

log = logging.getLogger(__name__)

HISTORY_MAX_AGE = timedelta(minutes=15)
LIVE_MAX_AGE = timedelta(minutes=1)
REFRESH_LEASE = timedelta(seconds=30)
DAYS = 90
RECENT = timedelta(days=7)  # resolved incidents shown for this long
MAX_INCIDENTS = 20
WINDOW_DAYS = {"7d": 7, "30d": 30, "90d": 90}
_BADGE = re.compile(r"^/badge/([a-z0-9][a-z0-9-]{0,62})(\.svg|/uptime-30d\.svg)$")


class StatusCache(Protocol):
    def get(self) -> Snapshot | None: ...
    def claim(self, now: datetime, until: datetime) -> bool: ...
    def put(self, snapshot: Snapshot) -> bool: ...


class SeriesReader(Protocol):
    def series(
        self, checks: Sequence[str], start: datetime, end: datetime, period: int
    ) -> dict[str, dict[datetime, Tally]]: ...
    def tallies(self, checks: Sequence[str], parts: Iterable[Span]) -> dict[str, list[Tally]]: ...


@dataclass(frozen=True)
class Page:
    status: int
    content_type: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)


class StatusPageService:
    """Builds, caches and serves the status page of ``config.status_page``."""

    def __init__(
        self,
        config: Config,
        store: IncidentStore,
        reader: SeriesReader,
        cache: StatusCache,
        now: Callable[[], datetime],
    ):
        if config.status_page is None:
            raise ValueError("the config has no status_page")
        self.page: StatusPage = config.status_page
        self.store = store
        self.reader = reader
        self.cache = cache
        self.now = now
        self.checks = self.page.check_names()

    # ------------------------------------------------------------------ serving
    def respond(self, path: str) -> Page:
        """``path`` is one of the page's routes (``routes`` says which)."""
        snapshot = self.snapshot()
        if snapshot is None:
            return Page(
                503, "text/plain; charset=utf-8", "the status page is being prepared", {"Retry-After": "5"}
            )
        cache = {"Cache-Control": "public, max-age=60"}
        if path.rstrip("/") == "/status":
            return Page(200, "text/html; charset=utf-8", render_html(snapshot, self.page.description), cache)
        if path == "/status.json":
            return Page(200, "application/json", json.dumps(snapshot), cache)
        match = _BADGE.match(path)
        check = match and next((c for c in snapshot["checks"] if c["name"] == match.group(1)), None)
        if not match or check is None:
            return Page(404, "text/plain; charset=utf-8", "not found")
        svg = badge_svg(check) if match.group(2) == ".svg" else uptime_badge(check, "30d")
        return Page(200, "image/svg+xml", svg, {"Cache-Control": "public, max-age=300"})

    @staticmethod
    def routes(path: str) -> bool:
        return path.rstrip("/") == "/status" or path == "/status.json" or path.startswith("/badge/")

    # ------------------------------------------------------------------ the snapshot
    def snapshot(self) -> dict[str, Any] | None:
        """The public data (the ``/status.json`` body), refreshed where too old.

        The item keeps the compact parts (``history``: per check the windows' uptime, the 90 days'
        uptime as bare numbers, whether it was probed in the last 24 h; ``live``: who is down,
        the incidents); the public body is built from them on each view."""
        now = self.now()
        cached = self.cache.get()
        fresh = cached is not None and now - cached.live_at < LIVE_MAX_AGE
        if cached is not None and fresh and now - cached.history_at < HISTORY_MAX_AGE:
            return self._public(cached.body, cached.history_at)
        if not self.cache.claim(now, now + REFRESH_LEASE):  # another view is refreshing it
            return self._public(cached.body, cached.history_at) if cached is not None else None
        if cached is None or now - cached.history_at >= HISTORY_MAX_AGE:
            history, history_at = self._history(now), now
        else:
            history, history_at = cached.body["history"], cached.history_at
        body = {"history": history, "live": self._live(now)}
        stored = Snapshot(
            body=body,
            history_at=history_at,
            live_at=now,
            version=(cached.version if cached is not None else 0) + 1,
        )
        if not self.cache.put(stored):
            log.info("status snapshot: another refresh was stored first")
        return self._public(body, history_at)

    def _history(self, now: datetime) -> dict[str, Any]:
        first_day = day_start(now) - timedelta(days=DAYS - 1)
        daily = self.reader.series(self.checks, first_day, floor_to(now, MINUTE), DAY)
        recent = window_tallies(self.reader, self.checks, ["24h"], now)
        checks: dict[str, dict[str, Any]] = {}
        for name in self.checks:
            by_day = {day_start(at): tally for at, tally in daily.get(name, {}).items()}
            last24 = recent[name]["24h"][1]
            uptime = {"24h": _short(last24.uptime_pct)}
            for window, count in WINDOW_DAYS.items():
                since = day_start(now) - timedelta(days=count - 1)
                total = Tally()
                for day, tally in by_day.items():
                    if day >= since:
                        total = total + tally
                uptime[window] = _short(total.uptime_pct)
            days = [
                _short(by_day.get(first_day + timedelta(days=i), Tally()).uptime_pct) for i in range(DAYS)
            ]
            checks[name] = {"uptime_pct": uptime, "days": days, "probed_24h": last24.probed > 0}
        return {"first_day": first_day.date().isoformat(), "checks": checks}

    def _live(self, now: datetime) -> dict[str, Any]:
        wanted = set(self.checks)
        open_ = [
            i
            for i in self.store.list(statuses=("open", "acknowledged"))
            if i.check in wanted and not i.is_test
        ]
        resolved = [
            i
            for i in self.store.list(statuses=("resolved",), since=now - RECENT)
            if i.check in wanted and i.resolved_at is not None and not i.is_test
        ]
        shown = sorted(open_, key=lambda i: i.opened_at, reverse=True) + sorted(
            resolved, key=lambda i: i.resolved_at or i.opened_at, reverse=True
        )
        return {
            "down": sorted({str(i.check) for i in open_}),
            "incidents": [
                {
                    "check": i.check,
                    "started_at": _iso(i.opened_at),
                    "resolved_at": _iso(i.resolved_at) if i.resolved_at is not None else None,
                }
                for i in shown[:MAX_INCIDENTS]
            ],
        }

    def _public(self, body: dict[str, Any], updated: datetime) -> dict[str, Any]:
        history, live = body["history"], body["live"]
        first_day = datetime.fromisoformat(history["first_day"])
        dates = [(first_day + timedelta(days=i)).date().isoformat() for i in range(DAYS)]
        down = set(live["down"])
        checks = []
        for group in self.page.groups:
            for name in group.checks:
                part = history["checks"].get(name) or {
                    "uptime_pct": {},
                    "days": [None] * DAYS,
                    "probed_24h": False,
                }
                status = "down" if name in down else "up" if part["probed_24h"] else "unknown"
                checks.append(
                    {
                        "name": name,
                        "group": group.name,
                        "status": status,
                        "uptime_pct": {w: part["uptime_pct"].get(w) for w in ("24h", "7d", "30d", "90d")},
                        "days": [
                            {"date": d, "uptime_pct": u} for d, u in zip(dates, part["days"], strict=True)
                        ],
                    }
                )
        return {
            "title": self.page.title,
            "updated_at": _iso(updated),
            "checks": checks,
            "incidents": live["incidents"],
        }


def _short(pct: float | None) -> float | None:
    """Three decimals are enough for a page and keep the cached item small (~0.8 KB per check)."""
    return None if pct is None else round(pct, 3)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
