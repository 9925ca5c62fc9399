"""What a probe run leaves behind: CloudWatch metrics (EMF, through Powertools) and one log line
per check.

Per check, one EMF document with exactly one dimension, ``Check=<name>``: ``Availability`` (1 ok,
0 failed) and, only when the check sets ``latency_metric: true``, ``Latency`` (ms). Custom
metrics are the dominant cost, so phase timings stay log fields. Per run, ``ProbeRunCompleted``
(1), ``ProbeRunDuration`` (ms) and ``ChecksNotProbed`` with dimension ``service`` are added to
the handler's ``Metrics`` (flushed by its ``log_metrics`` decorator, or by the caller); the
self-monitoring alarms watch ``ProbeRunCompleted`` for missing data and ``ChecksNotProbed``.

A check the run could not probe (``not_probed``) emits no datapoint at all: a gap, which its alarm
treats as missing data, never a failure. A fast check (interval under a minute) emits
high-resolution datapoints (StorageResolution 1) stamped with its round's time. A check with
``regions`` emits ``Availability`` with ``Check`` and ``Region`` and ``RegionsFailing`` with
``Check`` (see ``metricnames``). A probe-only region cannot write EMF into the home region's
logs: ``RemoteMetrics`` sends the same datapoints there with PutMetricData instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricResolution, MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from .. import clock, metricnames
from ..config import Check
from .result import NOT_PROBED, ProbeResult

# (metric name, unit, value, dimensions, high resolution)
Datum = tuple[str, str, float, dict[str, str], bool]


def record_run(
    results: Sequence[ProbeResult],
    checks: Iterable[Check],
    *,
    metrics: Any,
    logger: Any,
    duration_ms: float,
    namespace: str | None = None,
    region: str | None = None,
    at: datetime | None = None,
    remote: RemoteMetrics | None = None,
    run_metrics: bool = True,
) -> dict[str, Any]:
    """Emit the metrics and log lines for one run (or one round of a fast shard); returns the
    run summary. ``region`` is the probing region (it names the ``Region`` dimension), ``at`` the
    time the datapoints are stamped with (default: when they are written), ``remote`` the home
    region's CloudWatch when this is a probe-only region. ``run_metrics`` False: the per-run
    metrics are left to the caller (a fast shard records them once, after its last round)."""
    namespace = namespace or metricnames.namespace()
    by_name = {check.name: check for check in checks}
    failed = unprobed = 0
    for result in results:
        check = by_name.get(result.check)
        log_result(logger, result, check)
        if result.reason == NOT_PROBED:
            unprobed += 1
            continue
        failed += 0 if result.ok else 1
        data = check_data(result, check, region=region)
        if remote is not None:
            remote.add(data, at)
        else:
            emit(data, namespace=namespace, at=at)
    if run_metrics:
        add_run_metrics(
            metrics,
            namespace=namespace,
            duration_ms=duration_ms,
            not_probed=unprobed,
            remote=remote,
            region=region,
        )
    if remote is not None:
        remote.flush()
    summary = {"checks": len(results), "failed": failed, "duration_ms": round(duration_ms, 3)}
    if unprobed:
        summary["not_probed"] = unprobed
    logger.info("probe run finished", extra=summary)
    return summary


def add_run_metrics(
    metrics: Any,
    *,
    namespace: str,
    duration_ms: float,
    not_probed: int,
    remote: RemoteMetrics | None = None,
    region: str | None = None,
) -> None:
    """``ProbeRunCompleted``, ``ProbeRunDuration`` and ``ChecksNotProbed`` of one run: on the
    handler's ``Metrics`` (dimension ``service``), or, from a probe-only region, to the home region
    with ``Region`` added to ``ProbeRunCompleted`` (that region's "probe did not run" alarm)."""
    if remote is not None:
        service = {metricnames.SERVICE_DIMENSION: metricnames.service()}
        remote.add(
            [
                (
                    metricnames.RUN_COMPLETED,
                    "Count",
                    1.0,
                    {**service, metricnames.REGION_DIMENSION: region or ""},
                    False,
                ),
                (metricnames.CHECKS_NOT_PROBED, "Count", float(not_probed), service, False),
            ],
            None,
        )
        return
    if not getattr(metrics, "namespace", None):
        metrics.namespace = namespace
    if not getattr(metrics, "service", None):
        metrics.add_dimension(name=metricnames.SERVICE_DIMENSION, value=metricnames.service())
    metrics.add_metric(name=metricnames.RUN_COMPLETED, unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name=metricnames.RUN_DURATION, unit=MetricUnit.Milliseconds, value=round(duration_ms, 3)
    )
    metrics.add_metric(name=metricnames.CHECKS_NOT_PROBED, unit=MetricUnit.Count, value=not_probed)


def check_data(result: ProbeResult, check: Check | None, *, region: str | None = None) -> list[Datum]:
    """The datapoints of one probed check (see the module docstring)."""
    fast = bool(check is not None and check.fast)
    value = 1.0 if result.ok else 0.0
    if check is not None and check.regions:
        where = {metricnames.CHECK_DIMENSION: result.check, metricnames.REGION_DIMENSION: region or ""}
        return [
            (metricnames.AVAILABILITY, "Count", value, where, fast),
            (
                metricnames.REGIONS_FAILING,
                "Count",
                1.0 - value,
                {metricnames.CHECK_DIMENSION: result.check},
                fast,
            ),
        ]
    dims = {metricnames.CHECK_DIMENSION: result.check}
    data: list[Datum] = [(metricnames.AVAILABILITY, "Count", value, dims, fast)]
    if check is not None and check.latency_metric and result.latency_ms is not None:
        data.append((metricnames.LATENCY, "Milliseconds", round(result.latency_ms, 3), dims, fast))
    return data + dependency_data(result, fast=fast)


def dependency_data(result: ProbeResult, *, fast: bool = False) -> list[Datum]:
    """One ``Availability`` per health-JSON dependency, with dimensions exactly ``Check`` and
    ``Dependency`` (the check's Metrics Insights alarm groups by both)."""
    return [
        (
            metricnames.AVAILABILITY,
            "Count",
            1.0 if dependency.ok else 0.0,
            {metricnames.CHECK_DIMENSION: result.check, metricnames.DEPENDENCY_DIMENSION: dependency.name},
            fast,
        )
        for dependency in result.dependencies or ()
    ]


def emit(data: Sequence[Datum], *, namespace: str, at: datetime | None = None) -> None:
    """One EMF document per dimension set (no ``service``: the alarms match the dimensions exactly)."""
    groups: dict[tuple[tuple[str, str], ...], list[Datum]] = {}
    for datum in data:
        groups.setdefault(tuple(datum[3].items()), []).append(datum)
    for dims, items in groups.items():
        provider = AmazonCloudWatchEMFProvider(namespace=namespace, service="")
        for key, value in dims:
            provider.add_dimension(name=key, value=value)
        for name, unit, value, _, high in items:
            resolution = MetricResolution.High if high else MetricResolution.Standard
            provider.add_metric(name=name, unit=unit, value=value, resolution=resolution)
        if at is not None:
            provider.set_timestamp(at)
        provider.flush_metrics()


class RemoteMetrics:
    """Datapoints for the home region, sent with PutMetricData (``put(namespace, metric_data)``,
    e.g. a home-region CloudWatch client's ``put_metric_data``) in batches of ``BATCH``."""

    BATCH = 500

    def __init__(self, put: Callable[..., Any], namespace: str):
        self._put = put
        self.namespace = namespace
        self._pending: list[dict[str, Any]] = []

    def add(self, data: Iterable[Datum], at: datetime | None) -> None:
        stamp = at or clock.now()
        for name, unit, value, dims, high in data:
            self._pending.append(
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                    "Timestamp": stamp,
                    "Value": value,
                    "Unit": unit,
                    "StorageResolution": 1 if high else 60,
                }
            )

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), self.BATCH):
            self._put(Namespace=self.namespace, MetricData=pending[start : start + self.BATCH])


def log_fields(result: ProbeResult, check: Check | None = None) -> dict[str, Any]:
    timings = result.timings.to_json()
    fields: dict[str, Any] = {
        "check": result.check,
        "ok": result.ok,
        "reason": result.reason,
        "phase": result.phase,
        "status_code": result.status_code,
        "latency_ms": timings["total"],
        "attempts": result.attempts,
        "cert_days_left": result.cert_days_left,
        "error": result.error,
        "target": result.target,
    }
    fields.update({f"{key}_ms": value for key, value in timings.items()})
    if result.final_url and result.final_url != result.target:
        fields["final_url"] = result.final_url
    if result.body_truncated:
        fields["body_truncated"] = True
    if result.dependencies is not None:
        fields["dependencies"] = [d.to_json() for d in result.dependencies]
    if result.dependencies_error:
        fields["dependencies_error"] = result.dependencies_error
    if check is not None and check.labels:
        fields["labels"] = dict(check.labels)
    return fields


def log_result(logger: Any, result: ProbeResult, check: Check | None = None) -> None:
    fields = log_fields(result, check)
    if result.ok:
        logger.info("probe ok", extra=fields)
    else:
        logger.warning(f"probe failed: {result.reason}", extra=fields)
