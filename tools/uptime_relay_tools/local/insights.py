"""Metrics Insights multi-time-series alarms, evaluated locally for the one query shape the stack
creates (a check's dependencies, ``alarms.desired_dependency_alarm``):

    SELECT MIN(Availability) FROM SCHEMA("<ns>", Check, Dependency) WHERE Check = 'api'
    GROUP BY Check, Dependency ORDER BY MIN() ASC

Each time series the query selects is a contributor: an ``AlarmDefinition`` on that series with
the parent's period, M of N, threshold and actions, which the local evaluator runs like any
metric alarm, and whose notification carries ``AlarmContributorId`` and
``AlarmContributorAttributes`` (the GROUP BY dimensions) and the parent's ``Metrics`` trigger, as
CloudWatch sends them. A contributor is added when its series first has data. The alarm-level
notification CloudWatch also sends is not produced (the relay does not page on it:
``relay.covered_by_contributors``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .alarms import AlarmDefinition, UnsupportedAlarm

_QUERY = re.compile(
    r"""^\s*SELECT\s+(?P<stat>MIN|MAX|AVG|SUM)\((?P<metric>\w+)\)\s+FROM\s+SCHEMA\(\s*"?(?P<ns>[^",]+)"?\s*,
    \s*(?P<dims>[\w\s,]+)\)\s+WHERE\s+(?P<key>\w+)\s*=\s*'(?P<value>[^']*)'\s+
    GROUP\s+BY\s+(?P<group>[\w\s,]+?)
    (?:\s+ORDER\s+BY\s+\w+\(\)\s*(?:ASC|DESC)?)?(?:\s+LIMIT\s+\d+)?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_STATISTIC = {"MIN": "Minimum", "MAX": "Maximum", "AVG": "Average", "SUM": "Sum"}


@dataclass(frozen=True)
class InsightsAlarm:
    """A parsed multi-time-series alarm: ``base`` holds everything but the series."""

    base: AlarmDefinition
    metric: str
    dimensions: frozenset[str]
    where: tuple[str, str]
    group_by: tuple[str, ...]

    @classmethod
    def from_api(cls, data: Mapping[str, Any], **kwargs: Any) -> InsightsAlarm:
        name = data["AlarmName"]
        metrics = data.get("Metrics") or []
        if len(metrics) != 1 or not metrics[0].get("Expression"):
            raise UnsupportedAlarm(f"alarm {name!r}: not a single Metrics Insights query")
        match = _QUERY.match(metrics[0]["Expression"])
        if match is None:
            raise UnsupportedAlarm(f"alarm {name!r}: this Metrics Insights query is not evaluated locally")
        plain = {
            **data,
            "Namespace": match["ns"].strip(),
            "MetricName": match["metric"],
            "Statistic": _STATISTIC[match["stat"].upper()],
            "Period": metrics[0].get("Period") or 60,
            "Metrics": None,
        }
        base = AlarmDefinition.from_api(plain, **kwargs)
        return cls(
            base=replace(base, dimensions=(), query_metrics=tuple(dict(m) for m in metrics)),
            metric=match["metric"],
            dimensions=frozenset(d.strip() for d in match["dims"].split(",")),
            where=(match["key"], match["value"]),
            group_by=tuple(g.strip() for g in match["group"].split(",")),
        )

    def contributors(
        self, series: Iterable[tuple[str, str, frozenset[tuple[str, str]]]]
    ) -> list[AlarmDefinition]:
        """One definition per time series the query selects."""
        out = []
        for namespace, metric, dims in series:
            found = dict(dims)
            if (namespace, metric) != (self.base.namespace, self.metric) or set(found) != self.dimensions:
                continue
            if found.get(self.where[0]) != self.where[1]:
                continue
            attributes = tuple((key, found[key]) for key in self.group_by if key in found)
            digest = hashlib.sha256(repr(attributes).encode()).hexdigest()[:16]
            out.append(
                replace(
                    self.base,
                    dimensions=tuple(sorted(dims)),
                    contributor_id=digest,
                    contributor_attributes=attributes,
                )
            )
        return out
