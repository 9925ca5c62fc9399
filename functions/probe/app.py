"""Probe function: runs every minute (EventBridge schedule), probes all checks, emits EMF metrics.

Thin handler: config loaded once per container; the engine, metrics and log lines live in
``uptime_relay.probe``.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from uptime_relay import clock, metricnames
from uptime_relay.adapters.dependencies import DynamoDependencySets
from uptime_relay.adapters.evidence import DynamoEvidenceStore
from uptime_relay.adapters.heartbeats import DynamoHeartbeats
from uptime_relay.adapters.secrets import SecretResolver
from uptime_relay.config import Config
from uptime_relay.config.loader import default_config_path, load_config
from uptime_relay.observability import init_sentry
from uptime_relay.probe import run_checks
from uptime_relay.probe.dependencies import settle
from uptime_relay.probe.evidence import EvidenceRecorder
from uptime_relay.probe.heartbeats import heartbeat_checks, heartbeat_results
from uptime_relay.probe.report import record_run

init_sentry()
logger = Logger(service=metricnames.service())
metrics = Metrics(namespace=metricnames.namespace(), service=metricnames.service())
tracer = Tracer(service=metricnames.service())

# A scheduled run must end inside its minute: leave room for start-up and the EMF flush.
RUN_DEADLINE_S = 50.0


@functools.cache
def _deps() -> tuple[Config, SecretResolver, EvidenceRecorder | None]:
    """Built on first use and kept for the container's life (tests clear it with cache_clear).
    The evidence recorder remembers what it wrote, so an unchanged failure is not written again."""
    table = os.environ.get("TABLE_NAME")
    recorder = EvidenceRecorder(DynamoEvidenceStore(table)) if table else None
    return load_config(default_config_path()), SecretResolver(), recorder


@functools.cache
def _heartbeats() -> DynamoHeartbeats | None:
    """Where heartbeat pings are read (the stack's table), or None without TABLE_NAME."""
    table = os.environ.get("TABLE_NAME")
    return DynamoHeartbeats(table) if table else None


@functools.cache
def _dependency_sets() -> DynamoDependencySets | None:
    """Where the dependency names seen before are kept (the stack's table), or None."""
    table = os.environ.get("TABLE_NAME")
    return DynamoDependencySets(table) if table else None


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config, secrets, evidence = _deps()
    started = time.perf_counter()
    probed, beats = heartbeat_checks(config.checks)
    results = run_checks(
        probed,
        concurrency=config.probe.concurrency,
        secrets=secrets,
        deadline_s=RUN_DEADLINE_S,
    )
    results += heartbeat_results(beats, _heartbeats() if beats else None, clock.now())
    settle(results, probed, _dependency_sets(), clock.now())
    duration_ms = (time.perf_counter() - started) * 1000.0
    if evidence is not None:
        evidence.record(results, clock.now())
    return record_run(results, config.checks, metrics=metrics, logger=logger, duration_ms=duration_ms)
