"""Reading the probe's ``Availability`` metric back from CloudWatch (GetMetricData).

One call per time range: every check's ``Sum`` and ``SampleCount`` in it, in batches of at most
500 queries and 100,000 data points (GetMetricData's limits are 500 metrics and 100,800 data
points per call), following ``NextToken``. The figures are ``domain.availability``'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from .. import metricnames
from ..domain.availability import Span, Tally

MAX_QUERIES = 500
MAX_DATAPOINTS = 100_000
STATS = ("Sum", "SampleCount")


class CloudWatchAvailability:
    """``series`` / ``tallies`` of ``Availability`` per check, from the stack's namespace."""

    def __init__(self, client: Any = None, namespace: str | None = None):
        self._client = client
        self.namespace = namespace or metricnames.namespace()
        self.calls = 0  # GetMetricData requests made (the status page's cache test counts them)

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("cloudwatch")
        return self._client

    def series(
        self, checks: Sequence[str], start: datetime, end: datetime, period: int
    ) -> dict[str, dict[datetime, Tally]]:
        """Per check, per bucket start (UTC): minutes probed and up in ``[start, end)``."""
        out: dict[str, dict[datetime, Tally]] = {c: {} for c in checks}
        if not checks or end <= start:
            return out
        points = max(1, -(-int((end - start).total_seconds()) // period))
        per_call = max(1, min(MAX_QUERIES // len(STATS), MAX_DATAPOINTS // (points * len(STATS))))
        for first in range(0, len(checks), per_call):
            batch = list(checks[first : first + per_call])
            queries = [
                {
                    "Id": f"q{index}_{stat.lower()}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": self.namespace,
                            "MetricName": metricnames.AVAILABILITY,
                            "Dimensions": [{"Name": metricnames.CHECK_DIMENSION, "Value": check}],
                        },
                        "Period": period,
                        "Stat": stat,
                    },
                    "ReturnData": True,
                }
                for index, check in enumerate(batch)
                for stat in STATS
            ]
            for query_id, stamps, values in self._fetch(queries, start, end):
                index, stat = query_id[1:].split("_", 1)
                buckets = out[batch[int(index)]]
                for stamp, value in zip(stamps, values, strict=False):
                    at = stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC)
                    was = buckets.get(at, Tally())
                    buckets[at] = (
                        Tally(was.probed + value, was.up)
                        if stat == "samplecount"
                        else Tally(was.probed, was.up + value)
                    )
        return out

    def tallies(self, checks: Sequence[str], parts: Iterable[Span]) -> dict[str, list[Tally]]:
        """Per check, one tally per span (in the order given)."""
        out: dict[str, list[Tally]] = {c: [] for c in checks}
        for span in parts:
            found = self.series(checks, span.start, span.end, span.period)
            for check in checks:
                total = Tally()
                for tally in found[check].values():
                    total = total + tally
                out[check].append(total)
        return out

    def _fetch(
        self, queries: list[dict[str, Any]], start: datetime, end: datetime
    ) -> Iterable[tuple[str, list[datetime], list[float]]]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "MetricDataQueries": queries,
                "StartTime": start,
                "EndTime": end,
                "ScanBy": "TimestampAscending",
            }
            if token:
                kwargs["NextToken"] = token
            self.calls += 1
            reply = self.client.get_metric_data(**kwargs)
            for result in reply.get("MetricDataResults") or []:
                yield (
                    str(result["Id"]),
                    list(result.get("Timestamps") or []),
                    list(result.get("Values") or []),
                )
            token = reply.get("NextToken")
            if not token:
                return
