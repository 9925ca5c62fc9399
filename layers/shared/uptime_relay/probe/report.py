"""What a probe run leaves behind: CloudWatch metrics (EMF, through Powertools) and one log line
per check.

Per check, one EMF document with exactly one dimension, ``Check=<name>``: ``Availability`` (1 ok,
0 failed) and, only when the check sets ``latency_metric: true``, ``Latency`` (ms). Custom
metrics are the dominant cost, so phase timings stay log fields. Per run, ``ProbeRunCompleted``
(1) and ``ProbeRunDuration`` (ms) with dimension ``service`` are added to the handler's
``Metrics`` (flushed by its ``log_metrics`` decorator, or by the caller); the self-monitoring
alarm watches ``ProbeRunCompleted`` for missing data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from .. import metricnames
from ..config import Check
from .result import ProbeResult


def record_run(
    results: Sequence[ProbeResult],
    checks: Iterable[Check],
    *,
    metrics: Any,
    logger: Any,
    duration_ms: float,
    namespace: str | None = None,
) -> dict[str, Any]:
    """Emit the metrics and log lines for one run; returns the run summary."""
    namespace = namespace or metricnames.namespace()
    by_name = {check.name: check for check in checks}
    failed = 0
    for result in results:
        check = by_name.get(result.check)
        emit_check_metrics(result, check, namespace=namespace)
        emit_dependency_metrics(result, namespace=namespace)
        log_result(logger, result, check)
        failed += 0 if result.ok else 1

    if not getattr(metrics, "namespace", None):
        metrics.namespace = namespace
    if not getattr(metrics, "service", None):
        metrics.add_dimension(name=metricnames.SERVICE_DIMENSION, value=metricnames.service())
    metrics.add_metric(name=metricnames.RUN_COMPLETED, unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name=metricnames.RUN_DURATION, unit=MetricUnit.Milliseconds, value=round(duration_ms, 3)
    )
    summary = {"checks": len(results), "failed": failed, "duration_ms": round(duration_ms, 3)}
    logger.info("probe run finished", extra=summary)
    return summary


def emit_check_metrics(result: ProbeResult, check: Check | None, *, namespace: str) -> None:
    """One EMF document whose only dimension is ``Check`` (no ``service``: the alarms match it exactly)."""
    provider = AmazonCloudWatchEMFProvider(namespace=namespace, service="")
    provider.add_dimension(name=metricnames.CHECK_DIMENSION, value=result.check)
    provider.add_metric(name=metricnames.AVAILABILITY, unit=MetricUnit.Count, value=1 if result.ok else 0)
    if check is not None and check.latency_metric and result.latency_ms is not None:
        provider.add_metric(
            name=metricnames.LATENCY, unit=MetricUnit.Milliseconds, value=round(result.latency_ms, 3)
        )
    provider.flush_metrics()


def emit_dependency_metrics(result: ProbeResult, *, namespace: str) -> None:
    """One EMF document per health-JSON dependency: ``Availability`` with dimensions exactly
    ``Check`` and ``Dependency`` (the check's Metrics Insights alarm groups by both)."""
    for dependency in result.dependencies or ():
        provider = AmazonCloudWatchEMFProvider(namespace=namespace, service="")
        provider.add_dimension(name=metricnames.CHECK_DIMENSION, value=result.check)
        provider.add_dimension(name=metricnames.DEPENDENCY_DIMENSION, value=dependency.name)
        provider.add_metric(
            name=metricnames.AVAILABILITY, unit=MetricUnit.Count, value=1 if dependency.ok else 0
        )
        provider.flush_metrics()


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
