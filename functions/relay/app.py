"""Relay function: SNS alert topic -> incident state (DynamoDB) -> Slack / PagerDuty / e-mail.

Thin handler. Logger, Metrics and Tracer are created once per container; the relay and its
adapters (``TABLE_NAME``, ``DLQ_URL``, ``ACTIONS_URL``, ``ACK_SECRET_REF``, ``UPTIME_CONFIG``) are
built on the first event (``uptime_relay.relay.build_relay_from_env``), so importing this module
creates no AWS client and imports no Sentry without a DSN. Every SNS record is
processed even if one fails; the invocation fails at the end only when a record could not be
recorded at all, so Lambda's async retries and the function's dead-letter queue keep it.
Each record is idempotent on its SNS MessageId (Powertools Idempotency in the same table).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from uptime_relay import metricnames
from uptime_relay.observability import init_sentry
from uptime_relay.relay import RelayService, build_relay_from_env

init_sentry()
logger = Logger(service=metricnames.service())
metrics = Metrics(namespace=metricnames.namespace(), service=metricnames.service())
tracer = Tracer(service=metricnames.service())
# library modules log through the standard logging module: give them the same JSON output
copy_config_to_registered_loggers(source_logger=logger, include={"uptime_relay"}, log_level=logging.INFO)


def count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


@functools.cache
def _deps() -> RelayService:
    """Built on first use and kept for the container's life (tests clear it with cache_clear)."""
    return build_relay_from_env(metrics=count)


@logger.inject_lambda_context(log_event=False)  # alarm payloads may carry anything: never logged
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _deps().process_sns_event(event, context)
