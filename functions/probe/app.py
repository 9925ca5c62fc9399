"""Probe function: the one-minute schedule plans shards and starts each as an asynchronous
invocation of this function; a shard probes its checks and emits EMF metrics; a shard Lambda gave
up on comes back through the on-failure destination and is counted in ChecksNotProbed.

Thin handler: config loaded once per container; planning, probing, metrics and log lines live in
``uptime_relay.probe`` (``probe.run.ProbeRun``).
"""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from uptime_relay import metricnames
from uptime_relay.adapters.dependencies import DynamoDependencySets
from uptime_relay.adapters.evidence import DynamoEvidenceStore
from uptime_relay.adapters.heartbeats import DynamoHeartbeats
from uptime_relay.adapters.secrets import SecretResolver
from uptime_relay.config.loader import default_config_path, load_config
from uptime_relay.observability import init_sentry
from uptime_relay.probe.evidence import EvidenceRecorder
from uptime_relay.probe.run import ProbeRun, ShardJob, is_failure_record

init_sentry()
logger = Logger(service=metricnames.service())
metrics = Metrics(namespace=metricnames.namespace(), service=metricnames.service())
tracer = Tracer(service=metricnames.service())


@functools.cache
def _deps() -> ProbeRun:
    """Built on first use and kept for the container's life (tests clear it with cache_clear).
    HOME_REGION empty: this stack is the home stack; else a probe-only stack reporting there.
    The home stack's table (TABLE_NAME) holds heartbeat pings, the dependency names seen and the
    latest failure per check; a probe-only stack has none (its heartbeats are judged at home)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    table = os.environ.get("TABLE_NAME")
    return ProbeRun(
        load_config(default_config_path()),
        SecretResolver(),
        region=region,
        home_region=os.environ.get("HOME_REGION") or region,
        heartbeats=DynamoHeartbeats(table) if table else None,
        dependency_sets=DynamoDependencySets(table) if table else None,
        evidence=EvidenceRecorder(DynamoEvidenceStore(table)) if table else None,
    )


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    run = _deps()
    job = ShardJob.from_event(event)
    if job is not None:
        return run.run_shard(job, metrics=metrics, logger=logger)
    if is_failure_record(event):  # a shard (or a scheduled run) Lambda gave up on
        return run.lost_shard(event, metrics=metrics, logger=logger)
    name = getattr(context, "function_name", None) or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
    return run.scheduled(event, function_name=name, metrics=metrics, logger=logger)
