"""CloudWatch metric alarm evaluation, done locally because moto stores alarms but never evaluates them.

Pure: datapoints and ``now`` go in, state transitions come out, each with the exact SNS message
CloudWatch would publish. Semantics follow the CloudWatch documentation:

- Each evaluation looks at an *evaluation range* of ``N + 2`` periods (N = EvaluationPeriods) ending
  with the most recent complete period.
- If the most recent N periods all have data, those N are evaluated. If some are missing but the
  range still holds at least N real datapoints, the N most recent real datapoints are evaluated and
  TreatMissingData is not used. Otherwise the real datapoints are topped up to N with missing ones
  treated as TreatMissingData says: ``breaching`` / ``notBreaching`` count as such; ``missing`` and
  ``ignore`` are not counted (when nothing at all is there: INSUFFICIENT_DATA for ``missing``, the
  current state kept for ``ignore``).
- ALARM when at least M (DatapointsToAlarm) evaluated datapoints breach, else OK. "Avoiding
  premature transitions": with ``missing``/``ignore``, the alarm also goes to ALARM when the oldest
  breaching datapoint in the last N periods is at least M periods old and every more recent real
  datapoint breaches, even if fewer than M datapoints exist.
- A notification goes out only on a state change, to the actions of the new state (AlarmActions,
  OKActions, InsufficientDataActions) when ActionsEnabled.
- Warm-up: a new alarm stays INSUFFICIENT_DATA until N periods have passed since it was created
  (CloudWatch's alarm warm-up); otherwise an alarm with ``breaching`` would fire on the empty
  history before the first probe ran.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ALARM = "ALARM"
OK = "OK"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
TREAT_MISSING = ("missing", "notBreaching", "breaching", "ignore")
EXTRA_RANGE_PERIODS = 2

COMPARISONS: dict[str, tuple[str, Any]] = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}

REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-north-1": "EU (Stockholm)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ca-central-1": "Canada (Central)",
    "sa-east-1": "South America (Sao Paulo)",
}
DEFAULT_ACCOUNT = "123456789012"


class UnsupportedAlarm(ValueError):
    """The alarm is not a single-metric threshold alarm (metric math, anomaly band, composite)."""


# --------------------------------------------------------------------------------------- formatting
def aws_time(at: datetime) -> str:
    """``2026-11-20T10:15:30.123+0000``: CloudWatch's timestamp format in alarm messages."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def reason_time(at: datetime) -> str:
    """``20/11/26 10:14:00``: how a datapoint's period start is written in a StateReason."""
    return at.astimezone(UTC).strftime("%d/%m/%y %H:%M:%S")


def fmt_value(value: float) -> str:
    """Numbers as CloudWatch (Java) writes them: 0.0, 1.0, 912.0, 7.2."""
    return repr(float(value))


def region_name(region: str) -> str:
    return REGION_NAMES.get(region, region)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def period_start(at: datetime, period: int) -> datetime:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % period, UTC)


# --------------------------------------------------------------------------------------- definition
@dataclass(frozen=True)
class AlarmDefinition:
    name: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str = "missing"
    description: str | None = None
    unit: str | None = None
    arn: str = ""
    account: str = DEFAULT_ACCOUNT
    region: str = "us-east-1"
    alarm_actions: tuple[str, ...] = ()
    ok_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    actions_enabled: bool = True
    configuration_updated: datetime | None = None
    # one contributor of a Metrics Insights multi-time-series alarm (``local/insights.py``): the
    # parent's query (its ``Metrics``, for the Trigger) and the contributor's id and attributes
    query_metrics: tuple[Mapping[str, Any], ...] = ()
    contributor_id: str | None = None
    contributor_attributes: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """Where the evaluator keeps it: the name, and the contributor of a multi-time-series alarm."""
        return f"{self.name}#{self.contributor_id}" if self.contributor_id else self.name

    @classmethod
    def from_api(
        cls,
        data: Mapping[str, Any],
        *,
        account: str = DEFAULT_ACCOUNT,
        region: str = "us-east-1",
        created: datetime | None = None,
    ) -> AlarmDefinition:
        """From PutMetricAlarm keyword arguments or one DescribeAlarms ``MetricAlarms`` item."""
        name = data["AlarmName"]
        if not data.get("MetricName") or data.get("Metrics"):
            raise UnsupportedAlarm(f"alarm {name!r}: only single-metric alarms are evaluated locally")
        statistic = data.get("Statistic")
        if not statistic:
            raise UnsupportedAlarm(f"alarm {name!r}: extended statistics are not evaluated locally")
        comparison = data["ComparisonOperator"]
        if comparison not in COMPARISONS:
            raise UnsupportedAlarm(f"alarm {name!r}: comparison {comparison!r} is not evaluated locally")
        treat = data.get("TreatMissingData") or "missing"
        if treat not in TREAT_MISSING:
            raise ValueError(f"alarm {name!r}: TreatMissingData {treat!r} is not one of {TREAT_MISSING}")
        arn = data.get("AlarmArn") or f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"
        parts = arn.split(":")
        if len(parts) > 4 and parts[3]:
            region = parts[3]
        if len(parts) > 4 and parts[4]:
            account = parts[4]
        n = int(data["EvaluationPeriods"])
        updated = data.get("AlarmConfigurationUpdatedTimestamp") or created
        if isinstance(updated, str):
            updated = datetime.fromisoformat(updated.replace("Z", "+00:00"))
        if isinstance(updated, datetime) and updated.tzinfo is None:
            updated = updated.replace(tzinfo=UTC)
        return cls(
            name=name,
            namespace=data["Namespace"],
            metric_name=data["MetricName"],
            dimensions=tuple((d["Name"], str(d["Value"])) for d in data.get("Dimensions") or ()),
            statistic=statistic,
            period=int(data["Period"]),
            evaluation_periods=n,
            datapoints_to_alarm=int(data.get("DatapointsToAlarm") or n),
            threshold=float(data["Threshold"]),
            comparison=comparison,
            treat_missing_data=treat,
            description=data.get("AlarmDescription"),
            unit=data.get("Unit"),
            arn=arn,
            account=account,
            region=region,
            alarm_actions=tuple(data.get("AlarmActions") or ()),
            ok_actions=tuple(data.get("OKActions") or ()),
            insufficient_data_actions=tuple(data.get("InsufficientDataActions") or ()),
            actions_enabled=bool(data.get("ActionsEnabled", True)),
            configuration_updated=updated,
        )

    @property
    def metric_key(self) -> tuple[str, str, frozenset[tuple[str, str]]]:
        return (self.namespace, self.metric_name, frozenset(self.dimensions))

    def breaches(self, value: float) -> bool:
        return bool(COMPARISONS[self.comparison][1](value, self.threshold))

    def actions_for(self, state: str) -> tuple[str, ...]:
        if not self.actions_enabled:
            return ()
        return {
            ALARM: self.alarm_actions,
            OK: self.ok_actions,
            INSUFFICIENT_DATA: self.insufficient_data_actions,
        }[state]

    def trigger(self) -> dict[str, Any]:
        if self.query_metrics:
            return {
                "Period": self.period,
                "EvaluationPeriods": self.evaluation_periods,
                "DatapointsToAlarm": self.datapoints_to_alarm,
                "ComparisonOperator": self.comparison,
                "Threshold": self.threshold,
                "TreatMissingData": self.treat_missing_data,
                "EvaluateLowSampleCountPercentile": "",
                "Metrics": [dict(m) for m in self.query_metrics],
            }
        return {
            "MetricName": self.metric_name,
            "Namespace": self.namespace,
            "StatisticType": "Statistic",
            "Statistic": self.statistic.upper(),
            "Unit": self.unit,
            "Dimensions": [{"value": value, "name": name} for name, value in self.dimensions],
            "Period": self.period,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.datapoints_to_alarm,
            "ComparisonOperator": self.comparison,
            "Threshold": self.threshold,
            "TreatMissingData": self.treat_missing_data,
            "EvaluateLowSampleCountPercentile": "",
        }


# --------------------------------------------------------------------------------------- datapoints
@dataclass(frozen=True)
class Datapoint:
    """One period's aggregated value (``value``) from ``samples`` raw values."""

    timestamp: datetime  # period start
    value: float
    sample_count: float = 1.0


def aggregate(statistic: str, values: Sequence[float]) -> float:
    stat = statistic.lower()
    if stat == "minimum":
        return min(values)
    if stat == "maximum":
        return max(values)
    if stat == "sum":
        return float(sum(values))
    if stat == "samplecount":
        return float(len(values))
    if stat == "average":
        return float(sum(values)) / len(values)
    raise UnsupportedAlarm(f"statistic {statistic!r} is not evaluated locally")


# --------------------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Evaluation:
    state: str
    reason: str
    reason_data: dict[str, Any]


def evaluate(
    alarm: AlarmDefinition,
    datapoints: Mapping[datetime, Datapoint],
    *,
    current_state: str,
    through: datetime,
    now: datetime,
) -> Evaluation | None:
    """Evaluate ``alarm`` over the periods ending with the one starting at ``through``.

    ``datapoints`` maps period start -> aggregated datapoint. Returns the state the alarm should be
    in with CloudWatch's reason text, or None when it keeps its current state (``ignore`` with no data).
    """
    n, m = alarm.evaluation_periods, alarm.datapoints_to_alarm
    step = timedelta(seconds=alarm.period)
    starts = [through - step * i for i in range(n + EXTRA_RANGE_PERIODS)]  # most recent first
    found = [datapoints.get(start) for start in starts]
    real = [dp for dp in found if dp is not None]
    treat = alarm.treat_missing_data
    if not real:
        return _without_data(alarm, starts[:n], now)

    evaluated, filled = _evaluated(found[:n], real, starts[:n], n)
    breaching = [dp for dp in evaluated if alarm.breaches(dp.value)]
    alarming = len(breaching) + (len(filled) if treat == "breaching" else 0) >= m
    if not alarming and treat in ("missing", "ignore") and len(real) < n:
        alarming = _premature_alarm(alarm, found[:n])
    counted_filled = filled if treat in ("breaching", "notBreaching") else []
    data = _reason_data(alarm, evaluated, counted_filled, now=now, default_start=starts[n - 1])
    state = ALARM if alarming else OK
    needed = m if alarming else max(1, n - m + 1)
    minimum = f"(minimum {_plural(needed, 'datapoint')} for {current_state} -> {state} transition)"
    return Evaluation(state, f"{_crossed(alarm, evaluated, filled, alarming=alarming)} {minimum}.", data)


def _without_data(alarm: AlarmDefinition, window: Sequence[datetime], now: datetime) -> Evaluation | None:
    """No datapoint in the whole range: TreatMissingData decides (``ignore``: keep the state)."""
    n, treat = alarm.evaluation_periods, alarm.treat_missing_data
    if treat == "ignore":
        return None
    data = _reason_data(alarm, [], window, now=now, default_start=window[n - 1])
    if treat == "missing":
        return Evaluation(
            INSUFFICIENT_DATA,
            f"Insufficient Data: {_plural(n, 'datapoint')} {'was' if n == 1 else 'were'} unknown.",
            data,
        )
    label = "Breaching" if treat == "breaching" else "NonBreaching"
    text = (
        f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} and "
        f"{_plural(n, 'missing datapoint')} {'was' if n == 1 else 'were'} treated as [{label}]."
    )
    return Evaluation(ALARM if treat == "breaching" else OK, text, data)


def _evaluated(
    window: Sequence[Datapoint | None], real: list[Datapoint], window_starts: Sequence[datetime], n: int
) -> tuple[list[Datapoint], list[datetime]]:
    """The datapoints evaluated, and the starts of the missing periods topped up to N with them:
    the last N periods when all have data; else the N most recent real datapoints when the range
    holds that many; else every real datapoint and the most recent missing periods."""
    if all(dp is not None for dp in window):
        return [dp for dp in window if dp is not None], []
    if len(real) >= n:
        return real[:n], []
    filled = [start for start, dp in zip(window_starts, window, strict=True) if dp is None]
    return real, filled[: n - len(real)]


def _reason_data(
    alarm: AlarmDefinition,
    evaluated: Sequence[Datapoint],
    missing_starts: Sequence[datetime],
    *,
    now: datetime,
    default_start: datetime,
) -> dict[str, Any]:
    """CloudWatch's StateReasonData: the evaluated datapoints (missing ones by time only)."""
    entries = sorted(
        [
            {"timestamp": aws_time(dp.timestamp), "sampleCount": dp.sample_count, "value": dp.value}
            for dp in evaluated
        ]
        + [{"timestamp": aws_time(start)} for start in missing_starts],
        key=lambda e: e["timestamp"],
        reverse=True,
    )
    oldest = min([dp.timestamp for dp in evaluated] + list(missing_starts), default=default_start)
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": aws_time(now),
        "startDate": aws_time(oldest),
        "statistic": alarm.statistic,
        "period": alarm.period,
        "recentDatapoints": [dp.value for dp in sorted(evaluated, key=lambda d: d.timestamp)],
        "threshold": alarm.threshold,
        "evaluatedDatapoints": entries,
    }
    if alarm.unit:
        data["unit"] = alarm.unit
    return data


def _crossed(
    alarm: AlarmDefinition, evaluated: Sequence[Datapoint], filled: Sequence[datetime], *, alarming: bool
) -> str:
    """The "Threshold Crossed: ..." sentence: the datapoints on the side of the new state, and the
    missing ones counted with them."""
    n, m, treat = alarm.evaluation_periods, alarm.datapoints_to_alarm, alarm.treat_missing_data
    op_text = COMPARISONS[alarm.comparison][0]
    breaching = [dp for dp in evaluated if alarm.breaches(dp.value)]
    if alarming:
        listed, word, label = breaching, op_text, "Breaching"
        filled_count = len(filled) if treat == "breaching" else 0
    else:
        listed, word, label = (
            [dp for dp in evaluated if not alarm.breaches(dp.value)],
            f"not {op_text}",
            "NonBreaching",
        )
        filled_count = len(filled) if treat == "notBreaching" else 0
    if listed:
        text = (
            f"Threshold Crossed: {len(listed)} out of the last {n} datapoints [{_points(listed)}] "
            f"{'was' if len(listed) == 1 else 'were'} {word} the threshold ({fmt_value(alarm.threshold)})"
        )
        if filled_count:
            text += (
                f" and {_plural(filled_count, 'missing datapoint')} "
                f"{'was' if filled_count == 1 else 'were'} treated as [{label}]"
            )
        return text
    if filled_count:
        return (
            f"Threshold Crossed: no datapoints were received for {_plural(filled_count, 'period')} and "
            f"{_plural(filled_count, 'missing datapoint')} {'was' if filled_count == 1 else 'were'} "
            f"treated as [{label}]"
        )
    # OK with too few datapoints, all breaching (missing / ignore: the gaps are not counted)
    return (
        f"Threshold Crossed: {len(breaching)} out of the last {n} datapoints [{_points(breaching)}] "
        f"{'was' if len(breaching) == 1 else 'were'} {op_text} the threshold ({fmt_value(alarm.threshold)}), "
        f"fewer than the {m} needed for ALARM; missing datapoints were not counted [{treat}]"
    )


def _points(datapoints: Sequence[Datapoint]) -> str:
    """``1.0 (20/11/26 10:14:00), 0.0 (...)``: most recent first."""
    shown = sorted(datapoints, key=lambda dp: dp.timestamp, reverse=True)
    return ", ".join(f"{fmt_value(dp.value)} ({reason_time(dp.timestamp)})" for dp in shown)


def _premature_alarm(alarm: AlarmDefinition, window: Sequence[Datapoint | None]) -> bool:
    """ALARM although fewer than M datapoints exist: the oldest breaching datapoint in the last N
    periods is at least M periods old and every more recent real datapoint breaches."""
    m = alarm.datapoints_to_alarm
    oldest_breaching = None
    for index, dp in enumerate(window):  # most recent first
        if dp is not None and alarm.breaches(dp.value):
            oldest_breaching = index
    if oldest_breaching is None or oldest_breaching + 1 < m:
        return False
    return all(dp is None or alarm.breaches(dp.value) for dp in window[:oldest_breaching])


# --------------------------------------------------------------------------------------- transitions
@dataclass(frozen=True)
class Transition:
    alarm: AlarmDefinition
    old_state: str
    new_state: str
    reason: str
    reason_data: dict[str, Any]
    at: datetime

    @property
    def actions(self) -> tuple[str, ...]:
        return self.alarm.actions_for(self.new_state)

    @property
    def subject(self) -> str:
        """SNS Subject, cut at SNS's 100 characters."""
        text = f'{self.new_state}: "{self.alarm.name}" in {region_name(self.alarm.region)}'
        return text[:100]

    def message(self) -> dict[str, Any]:
        """The CloudWatch alarm notification (the JSON that becomes ``Sns.Message``)."""
        alarm = self.alarm
        return {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "AWSAccountId": alarm.account,
            "AlarmConfigurationUpdatedTimestamp": aws_time(alarm.configuration_updated or self.at),
            "NewStateValue": self.new_state,
            "NewStateReason": self.reason,
            "StateChangeTime": aws_time(self.at),
            "Region": region_name(alarm.region),
            "AlarmArn": alarm.arn,
            "OldStateValue": self.old_state,
            "OKActions": list(alarm.ok_actions),
            "AlarmActions": list(alarm.alarm_actions),
            "InsufficientDataActions": list(alarm.insufficient_data_actions),
            **(
                {
                    "AlarmContributorId": alarm.contributor_id,
                    "AlarmContributorAttributes": dict(alarm.contributor_attributes),
                }
                if alarm.contributor_id
                else {}
            ),
            "Trigger": alarm.trigger(),
        }

    def message_json(self) -> str:
        return json.dumps(self.message())

    def state_reason_data(self) -> str:
        return json.dumps(self.reason_data)


@dataclass
class _AlarmState:
    alarm: AlarmDefinition
    created: datetime
    state: str = INSUFFICIENT_DATA
    reason: str = "Unchecked: Initial alarm creation"
    changed_at: datetime | None = None


@dataclass
class LocalAlarms:
    """The alarms of one account and their metric data; ``evaluate(now)`` returns state changes."""

    _alarms: dict[str, _AlarmState] = field(default_factory=dict)
    _samples: dict[tuple[str, str, frozenset[tuple[str, str]]], dict[datetime, list[float]]] = field(
        default_factory=dict
    )

    def define(self, alarm: AlarmDefinition, *, created: datetime) -> None:
        """Add or replace an alarm (a replaced alarm keeps its state, as PutMetricAlarm does)."""
        previous = self._alarms.get(alarm.key)
        if previous is None:
            self._alarms[alarm.key] = _AlarmState(alarm, created)
        else:
            previous.alarm = alarm

    def remove(self, name: str) -> None:
        """Remove an alarm, with its contributors when it has several time series."""
        for key in [k for k, s in self._alarms.items() if s.alarm.name == name]:
            del self._alarms[key]

    def has(self, key: str) -> bool:
        return key in self._alarms

    def series(self) -> list[tuple[str, str, frozenset[tuple[str, str]]]]:
        """Every (namespace, metric, dimensions) that has data."""
        return list(self._samples)

    @property
    def alarms(self) -> list[AlarmDefinition]:
        return [s.alarm for s in self._alarms.values()]

    def state(self, name: str) -> str:
        return self._alarms[name].state

    def put(
        self,
        namespace: str,
        metric_name: str,
        dimensions: Mapping[str, str] | Iterable[tuple[str, str]],
        timestamp: datetime,
        value: float,
    ) -> None:
        dims = dimensions.items() if isinstance(dimensions, Mapping) else dimensions
        key = (namespace, metric_name, frozenset((k, str(v)) for k, v in dims))
        self._samples.setdefault(key, {}).setdefault(timestamp.astimezone(UTC), []).append(float(value))

    def datapoints(self, alarm: AlarmDefinition) -> dict[datetime, Datapoint]:
        by_period: dict[datetime, list[float]] = {}
        for at, values in self._samples.get(alarm.metric_key, {}).items():
            by_period.setdefault(period_start(at, alarm.period), []).extend(values)
        return {
            start: Datapoint(start, aggregate(alarm.statistic, values), float(len(values)))
            for start, values in by_period.items()
        }

    def evaluate(
        self, now: datetime, *, through: datetime | None = None, high_resolution_only: bool = False
    ) -> list[Transition]:
        """Evaluate every alarm at ``now`` over the periods up to the one starting at ``through``
        (default: the last period that has ended). Returns the transitions, in alarm order.

        High-resolution alarms (periods under a minute, evaluated every 10 s as CloudWatch does)
        always look at the last period that has ended: ``through`` is the minute tick's model for
        one-minute periods (the minute's probes are in by then). ``high_resolution_only``: only
        those (the ticks between minutes)."""
        transitions: list[Transition] = []
        for status in self._alarms.values():
            alarm = status.alarm
            fast = alarm.period < 60
            if high_resolution_only and not fast:
                continue
            last = (
                through
                if through is not None and not fast
                else period_start(now, alarm.period) - timedelta(seconds=alarm.period)
            )
            last = period_start(last, alarm.period)
            first_needed = last - timedelta(seconds=alarm.period * (alarm.evaluation_periods - 1))
            if first_needed < period_start(status.created, alarm.period):
                continue  # warm-up: the evaluation window reaches back before the alarm existed
            result = evaluate(
                alarm, self.datapoints(alarm), current_state=status.state, through=last, now=now
            )
            if result is None or result.state == status.state:
                continue
            transitions.append(
                Transition(alarm, status.state, result.state, result.reason, result.reason_data, now)
            )
            status.state, status.reason, status.changed_at = result.state, result.reason, now
        return transitions
