"""Actions function (Lambda Function URL): Slack buttons, signed ack links, PagerDuty and Alertmanager
webhooks -> incident state.

Thin handler: Logger and Sentry are set up once per container; everything else (adapters from the
environment, the Function URL event shape, the asynchronous follow-ups of a Slack click) is
``uptime_relay.actions_runtime``.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from uptime_relay import metricnames
from uptime_relay.actions_runtime import (
    build_actions,
    handle_event,
    patient_notifier,
    self_invoker,
    to_request,
)
from uptime_relay.observability import init_sentry

init_sentry()
logger = Logger(service=metricnames.service())
# library modules log through the standard logging module: give them the same JSON output
copy_config_to_registered_loggers(source_logger=logger, include={"uptime_relay"}, log_level=logging.INFO)

_self_invoker = self_invoker  # tests hand the router a recording Lambda client
__all__ = ["lambda_handler", "to_request"]


@functools.cache
def _deps() -> Any:
    """Built on first use and kept for the container's life (tests clear it with cache_clear)."""
    return build_actions()


@functools.cache
def _patient_notifier() -> Any:
    return patient_notifier(_deps())


@logger.inject_lambda_context(log_event=False)  # events carry signatures and ack tokens: never logged
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_event(event, context, actions=_deps, patient=_patient_notifier)
