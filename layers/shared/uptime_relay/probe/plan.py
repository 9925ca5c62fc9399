"""Which checks a scheduled run probes, when inside the minute, and in which shard. Pure.

- **Who**: a check without ``regions`` is probed by the home region only; a check with
  ``regions`` by each listed region (a home or a probe-only deployment).
- **When**: a 1-minute check every minute; a slower one (``interval`` 2m ... 1h) in one minute out
  of every ``interval / 1m``, the checks of one interval spread evenly over those minutes (by the
  rank of a stable hash of their names, so adding a check moves few others); a fast one (10s, 20s,
  30s) in every minute, in rounds at ``0, interval, 2 * interval ...`` seconds into it.
- **Where**: the checks of a region are split into shards. Every shard must end inside the minute
  even in the worst case, every one of its checks hanging until its timeout: with ``C`` probes at
  once (the run's concurrency, capped by the file descriptors one Lambda environment has), a
  greedy run of probes with timeouts ``t_i`` ends within ``sum(t_i) / C + (1 - 1/C) max(t_i)``
  (Graham's list-scheduling bound; ``max(t_i)`` when they all fit at once). Minute shards hold the checks of one run (budget: ``MINUTE_BUDGET_S``);
  fast shards hold fast checks of one interval, and every round must end before the next one
  (budget: the interval). A check's shard is ``hash(name) mod K`` with ``K`` the smallest count
  at which every shard fits, computed from the whole config (not from one minute's due checks),
  so a check is probed by the same shard every minute and its metric comes from one place.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..config import Check

# A run must end inside its minute: leave room for start-up, the EMF flush and the scheduler's jitter.
MINUTE_BUDGET_S = 50.0
# Lambda gives an execution environment 1,024 file descriptors; keep some for the runtime, logs,
# the AWS SDK's connections and the layer's files. One probe holds one socket at a time (redirect
# hops are sequential, TLS runs on the same socket).
LAMBDA_FILE_LIMIT = 1024
RESERVED_FILES = 64
MAX_CONCURRENCY = LAMBDA_FILE_LIMIT - RESERVED_FILES
MINUTE = "minute"


def stable_hash(name: str) -> int:
    """The same number for the same name in every process and every run (unlike ``hash()``)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


def effective_concurrency(concurrency: int) -> int:
    return max(1, min(int(concurrency), MAX_CONCURRENCY))


def probes_from(check: Check, region: str, home: str) -> bool:
    """Does ``region`` probe ``check``? (``home``: the region of the home stack)."""
    return region in check.regions if check.regions else region == home


def minute_index(at: datetime) -> int:
    """Minutes since the Unix epoch of the minute ``at`` falls in."""
    return int(at.timestamp()) // 60


def minute_offsets(checks: Iterable[Check]) -> dict[str, int]:
    """For every check slower than a minute: the minute (``0 .. interval/60 - 1``) of its cycle
    it is probed in. The checks of one interval take the offsets in turn by the order of their
    names' stable hashes: evenly spread, and a new check moves few others."""
    by_interval: dict[int, list[Check]] = {}
    for check in checks:
        if check.interval_s > 60:
            by_interval.setdefault(check.interval_s, []).append(check)
    offsets: dict[str, int] = {}
    for interval, group in by_interval.items():
        cycle = interval // 60
        for rank, check in enumerate(sorted(group, key=lambda c: (stable_hash(c.name), c.name))):
            offsets[check.name] = rank % cycle
    return offsets


def due_this_minute(check: Check, minute: int, offsets: dict[str, int]) -> bool:
    if check.interval_s <= 60:
        return True
    return minute % (check.interval_s // 60) == offsets.get(check.name, 0)


def round_offsets(interval_s: int) -> list[int]:
    """Seconds into the minute of a fast check's rounds: 10s -> 0, 10, ..., 50."""
    if interval_s >= 60:
        return [0]
    return list(range(0, 60, interval_s))


def worst_case_s(timeouts: Sequence[float], concurrency: int) -> float:
    """Upper bound of the wall time of one run when every probe hangs until its timeout: all at
    once when they fit the concurrency, else Graham's bound for greedy list scheduling."""
    if not timeouts:
        return 0.0
    slots = effective_concurrency(concurrency)
    if len(timeouts) <= slots:
        return max(timeouts)
    return sum(timeouts) / slots + (1 - 1 / slots) * max(timeouts)


@dataclass(frozen=True)
class ShardSet:
    """The shards of one class of checks in one region: ``count`` shards, check ``c`` in shard
    ``stable_hash(c.name) % count``. ``kind`` is ``MINUTE`` or a fast interval in seconds."""

    kind: str | int
    count: int
    budget_s: float
    checks: tuple[Check, ...]

    def shard_of(self, name: str) -> int:
        return stable_hash(name) % self.count

    def members(self, index: int) -> list[Check]:
        return [c for c in self.checks if self.shard_of(c.name) == index]

    def worst_case_s(self, index: int, concurrency: int) -> float:
        return worst_case_s([_timeout(c, self.budget_s) for c in self.members(index)], concurrency)


def _timeout(check: Check, budget_s: float) -> float:
    # a probe never outlasts the run's deadline, whatever its timeout says
    return min(check.timeout_s, budget_s)


def _shard_count(checks: Sequence[Check], budget_s: float, concurrency: int) -> int:
    """The smallest count at which every ``hash mod count`` bucket fits the budget (tried upward
    from what the total alone needs; with distinct 64-bit hashes some count always separates
    them, so the search ends)."""
    timeouts = [_timeout(c, budget_s) for c in checks]
    if worst_case_s(timeouts, concurrency) <= budget_s:
        return 1
    hashes = [stable_hash(c.name) for c in checks]
    room = budget_s - max(timeouts)
    slots = effective_concurrency(concurrency)
    count = max(2, math.ceil(sum(timeouts) / slots / room)) if room > 0 else 2
    while count <= 64 * len(checks):
        buckets: dict[int, list[float]] = {}
        for digest, timeout in zip(hashes, timeouts, strict=True):
            buckets.setdefault(digest % count, []).append(timeout)
        if all(worst_case_s(b, concurrency) <= budget_s for b in buckets.values()):
            return count
        count += 1
    return count


def plan(checks: Iterable[Check], *, region: str, home: str, concurrency: int) -> list[ShardSet]:
    """The shard sets of ``region``: one for the checks of a minute run, one per fast interval."""
    mine = [c for c in checks if probes_from(c, region, home)]
    sets: list[ShardSet] = []
    minute = tuple(c for c in mine if not c.fast)
    if minute:
        sets.append(
            ShardSet(MINUTE, _shard_count(minute, MINUTE_BUDGET_S, concurrency), MINUTE_BUDGET_S, minute)
        )
    for interval in sorted({c.interval_s for c in mine if c.fast}):
        fast = tuple(c for c in mine if c.interval_s == interval)
        budget = float(interval)
        sets.append(ShardSet(interval, _shard_count(fast, budget, concurrency), budget, fast))
    return sets


def find_set(sets: Sequence[ShardSet], kind: str | int) -> ShardSet | None:
    return next((s for s in sets if str(s.kind) == str(kind)), None)
