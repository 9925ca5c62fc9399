"""CloudFormation custom resource ``Custom::CheckAlarms``: per-check CloudWatch alarms follow the config.

Thin handler: builds the CloudWatch client (adaptive retries: PutMetricAlarm is throttled at a
few calls per second) and hands the request to ``uptime_relay.custom_resource.run``, which checks
the config's secret references against the stack's prefixes (``SECRETS_SSM_PREFIX``,
``SECRETS_MANAGER_PREFIX``), reconciles the alarms, continues in a fresh invocation when time runs
out, and always answers CloudFormation's ResponseURL.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from botocore.config import Config as BotoConfig
from uptime_relay import custom_resource, metricnames
from uptime_relay.observability import init_sentry

init_sentry()
logger = Logger(service=metricnames.service())
# the package logs through the standard logging module: give it the same JSON output
copy_config_to_registered_loggers(source_logger=logger, include={"uptime_relay"}, log_level=logging.INFO)


@functools.cache
def _cloudwatch() -> Any:
    return boto3.client("cloudwatch", config=BotoConfig(retries={"mode": "adaptive", "max_attempts": 20}))


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: Any, *, lambda_client: Any = None) -> None:
    custom_resource.run(event, context, cloudwatch=_cloudwatch(), lambda_client=lambda_client)
