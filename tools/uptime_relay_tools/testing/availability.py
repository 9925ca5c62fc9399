"""An in-memory stand-in for CloudWatch's ``Availability`` data (``adapters.availability``).

``record(check, at, ok)`` keeps one probe result; ``series`` buckets them as GetMetricData does
(buckets from ``start`` every ``period`` seconds, ``[start, end)``) and refuses, like CloudWatch
cannot answer, a period finer than the data's age allows. ``calls`` counts the GetMetricData
requests the real adapter would make (one per time range).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from uptime_relay.domain.availability import Span, Tally, finest_period


class FakeAvailability:
    def __init__(self, now: datetime | None = None) -> None:
        self.samples: dict[str, dict[datetime, float]] = {}
        self.calls = 0
        self.now = now  # when set, a period finer than CloudWatch keeps at that age is an error

    def record(self, check: str, at: datetime, ok: bool) -> None:
        self.samples.setdefault(check, {})[at] = 1.0 if ok else 0.0

    def record_minutes(self, check: str, start: datetime, minutes: int, ok: bool) -> None:
        for minute in range(minutes):
            self.record(check, start + timedelta(minutes=minute), ok)

    def series(
        self, checks: Sequence[str], start: datetime, end: datetime, period: int
    ) -> dict[str, dict[datetime, Tally]]:
        self.calls += 1
        if self.now is not None:
            finest = finest_period(self.now - start)
            if finest is None or period < finest or period % finest:
                raise ValueError(f"CloudWatch keeps no {period}s data at {start.isoformat()}")
        out: dict[str, dict[datetime, Tally]] = {}
        for check in checks:
            buckets: dict[datetime, Tally] = {}
            for at, value in self.samples.get(check, {}).items():
                if start <= at < end:
                    bucket = start + timedelta(seconds=(at - start).total_seconds() // period * period)
                    was = buckets.get(bucket, Tally())
                    buckets[bucket] = Tally(was.probed + 1, was.up + value)
            out[check] = buckets
        return out

    def tallies(self, checks: Sequence[str], parts: Iterable[Span]) -> dict[str, list[Tally]]:
        out: dict[str, list[Tally]] = {c: [] for c in checks}
        for span in parts:
            found = self.series(checks, span.start, span.end, span.period)
            for check in checks:
                total = Tally()
                for tally in found[check].values():
                    total = total + tally
                out[check].append(total)
        return out
