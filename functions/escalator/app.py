"""Escalator function: runs every minute (EventBridge schedule), fires due escalation steps.

Thin handler: adapters are built on first use from the environment (``TABLE_NAME``, ``DLQ_URL``,
``ACTIONS_URL``, ``ACK_SECRET_REF``, ``UPTIME_CONFIG``) by ``build_escalator_from_env``; the sweep
itself is ``uptime_relay.escalator.sweep``. Time comes from ``clock.now()`` (simulated under
``uptime-relay local``). The dispatcher's time budget is the invocation's remaining time (Lambda
context), so delivery retries never run past the function's timeout and the sweep claims no new
step in its last seconds: whatever cannot be done in time stays due for the next sweep.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from uptime_relay import clock, metricnames
from uptime_relay.escalator import Escalator, build_escalator_from_env
from uptime_relay.observability import init_sentry

init_sentry()
logger = Logger(service=metricnames.service())
metrics = Metrics(namespace=metricnames.namespace(), service=metricnames.service())
tracer = Tracer(service=metricnames.service())
copy_config_to_registered_loggers(source_logger=logger, include={"uptime_relay"}, log_level=logging.INFO)


def _count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


@functools.cache
def _deps() -> Escalator:
    """Built on first use and kept for the container's life (tests clear it with cache_clear)."""
    return build_escalator_from_env(metrics=_count)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    escalator = _deps()
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        # retries never wait past this invocation's end; what is left stays due for the next sweep
        escalator.dispatcher.time_left = lambda: remaining() / 1000.0
    now = clock.now()
    report = escalator.run(now)
    fired = sum(1 for f in report.fired if f.delivered and not f.first_page)
    _count(metricnames.ESCALATIONS_FIRED, fired)
    result = report.to_dict()
    logger.info(
        "escalation sweep",
        extra={
            "at": now.isoformat(),
            "fired": fired,
            "failed": len(report.failed),
            "skipped": len(report.skipped),
        },
    )
    return {"at": now.isoformat(), **result}
