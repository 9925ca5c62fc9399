"""Each region's latest verdict on a check probed from several regions, read back from
CloudWatch (``Availability`` with ``Check`` and ``Region``, GetMetricData), so a page can say
which regions failed and which did not. Best effort: an error gives no verdicts (the page says
"no report"), never a lost page.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from .. import metricnames

log = logging.getLogger(__name__)


class RegionResults:
    def __init__(self, client: Any = None):
        self._client = client

    def _cloudwatch(self) -> Any:
        if self._client is None:
            import boto3  # lazy: only when a multi-region check pages

            self._client = boto3.client("cloudwatch")
        return self._client

    def verdicts(
        self, check: str, regions: list[str], *, period: int, at: datetime, namespace: str | None = None
    ) -> dict[str, bool | None]:
        """region -> True (its latest probe passed), False (failed), None (nothing in the last
        three periods before ``at``)."""
        namespace = namespace or metricnames.namespace()
        queries = [
            {
                "Id": f"r{index}",
                "Label": region,
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": metricnames.AVAILABILITY,
                        "Dimensions": [
                            {"Name": metricnames.CHECK_DIMENSION, "Value": check},
                            {"Name": metricnames.REGION_DIMENSION, "Value": region},
                        ],
                    },
                    "Period": period,
                    "Stat": "Minimum",
                },
                "ReturnData": True,
            }
            for index, region in enumerate(regions)
        ]
        found: dict[str, bool | None] = dict.fromkeys(regions)
        try:
            answer = self._cloudwatch().get_metric_data(
                MetricDataQueries=queries,
                StartTime=at - timedelta(seconds=3 * period),
                EndTime=at + timedelta(seconds=period),
                ScanBy="TimestampDescending",
            )
        except Exception:
            log.warning("region results of check %s could not be read", check, exc_info=True)
            return found
        for result in answer.get("MetricDataResults", []):
            match = re.fullmatch(r"r(\d+)", str(result.get("Id", "")))
            values = result.get("Values") or []
            if match and values and int(match.group(1)) < len(regions):
                latest = max(zip(result.get("Timestamps") or [], values, strict=False), default=None)
                if latest is not None:
                    found[regions[int(match.group(1))]] = latest[1] >= 1
        return found
