"""The storm guard's counter: openings per route per window (pure, time passed in).

``storm: {threshold: 10, window: 1m}`` (on by default). Each route has one counter record. An
opening (a new incident on a route without ``group_by``; a new group on a route with it) counts
in the current window, which starts at the first opening after the previous window ended (a
fixed window, so one conditional write per opening and no list of times to keep). The opening
that makes the count exceed ``threshold`` and every later one in the same window go into the
route's storm summary (``domain.grouping``, ``storm_key``) instead of paging on their own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..config.model import StormSettings


@dataclass(frozen=True)
class StormCounter:
    route: int
    window_start: datetime
    count: int
    version: int = 0  # 0: not stored yet


def count_opening(counter: StormCounter | None, route: int, now: datetime, window_s: float) -> StormCounter:
    """The counter after one more opening at ``now`` (a new window once the last one ended)."""
    if counter is None:
        return StormCounter(route, now, 1)
    if now >= counter.window_start + timedelta(seconds=window_s):
        return replace(counter, window_start=now, count=1)
    # (an opening a little before the window's start, from a relay whose clock or batch is
    # behind, counts in the current window)
    return replace(counter, count=counter.count + 1)


def in_storm(counter: StormCounter, settings: StormSettings) -> bool:
    """True for an opening past the threshold (it goes into the storm summary)."""
    return settings.enabled and counter.count > settings.threshold
