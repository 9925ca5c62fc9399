"""The probe function's service: the scheduled run plans shards and starts them; a shard probes
its checks (fast ones in rounds inside the minute) and reports; a lost shard is counted.

Three events reach the probe function:

- the EventBridge schedule (once a minute): ``scheduled`` plans this region's shards
  (``probe.plan``) and starts each as an asynchronous invocation of the same function
  (``{"uptime_relay_shard": {...}}``). With a single shard it probes in this invocation instead.
- a shard: ``run_shard`` probes the shard's checks due this minute within the minute's budget.
- a shard Lambda gave up on (throttled past its maximum event age, crashed, timed out): its
  on-failure destination is this function, and ``lost_shard`` counts its checks in
  ``ChecksNotProbed`` (they get no datapoint: not probed, not down).

Time is the process clock (``uptime_relay.clock``), so the local stack runs the same code in
simulated minutes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from .. import clock, metricnames
from ..config import Check, Config
from ..ports import DependencySets, Heartbeats
from . import plan
from .dependencies import settle
from .engine import run_checks
from .evidence import EvidenceRecorder
from .heartbeats import heartbeat_checks, heartbeat_results
from .report import RemoteMetrics, add_run_metrics, record_run

SHARD_EVENT_KEY = "uptime_relay_shard"


@dataclass(frozen=True)
class ShardJob:
    """One shard of one minute: the ``index``-th of ``count`` shards of the ``kind`` class
    (``"minute"`` or a fast interval) of ``region``'s checks."""

    minute: datetime
    region: str
    kind: str
    index: int
    count: int

    def to_event(self) -> dict[str, Any]:
        return {
            SHARD_EVENT_KEY: {
                "minute": self.minute.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self.region,
                "kind": self.kind,
                "index": self.index,
                "count": self.count,
            }
        }

    @classmethod
    def from_event(cls, event: Any) -> ShardJob | None:
        body = event.get(SHARD_EVENT_KEY) if isinstance(event, dict) else None
        if not isinstance(body, dict):
            return None
        try:
            return cls(
                minute=datetime.fromisoformat(str(body["minute"]).replace("Z", "+00:00")).astimezone(UTC),
                region=str(body["region"]),
                kind=str(body["kind"]),
                index=int(body["index"]),
                count=max(1, int(body["count"])),
            )
        except (KeyError, TypeError, ValueError):
            return None


def is_failure_record(event: Any) -> bool:
    """A Lambda on-failure destination record (``requestContext`` + ``requestPayload``)."""
    return (
        isinstance(event, dict)
        and isinstance(event.get("requestContext"), dict)
        and "requestPayload" in event
    )


def lost_job(event: Any) -> tuple[ShardJob, str] | None:
    """A Lambda on-failure destination record of a shard invocation: the job and why it failed."""
    if not isinstance(event, dict) or not isinstance(event.get("requestContext"), dict):
        return None
    job = ShardJob.from_event(event.get("requestPayload"))
    if job is None:
        return None
    context = event["requestContext"]
    why = str(context.get("condition") or "failed")
    error = (event.get("responsePayload") or {}) if isinstance(event.get("responsePayload"), dict) else {}
    if error.get("errorMessage"):
        why += f": {error['errorMessage']}"
    return job, why


def floor_minute(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)


# A scheduled event older (or newer) than this is not the schedule's: a hand-made invocation (a
# sample event, a console test). EventBridge drops its events after 60 s (the rule's retry policy).
STALE_EVENT_S = 120.0


def scheduled_minute(event: Any) -> datetime:
    """The minute a scheduled event is for (its ``time``, floored). An event without a time, or
    one far from now (an invocation by hand with a sample event), runs from now with the whole
    budget: it is not a minute the schedule owns."""
    now = clock.now()
    raw = event.get("time") if isinstance(event, dict) else None
    if isinstance(raw, str):
        try:
            at = datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            return now
        if abs((now - at).total_seconds()) <= STALE_EVENT_S:
            return floor_minute(at)
    return now


class ProbeRun:
    """Built once per container. ``invoke(function_name, event)`` starts an asynchronous
    invocation; ``remote_put`` is the home region's ``put_metric_data`` (probe-only regions);
    both are built from boto3 on first use when not given."""

    def __init__(
        self,
        config: Config,
        secrets: Any,
        *,
        region: str,
        home_region: str | None = None,
        invoke: Callable[[str, dict[str, Any]], Any] | None = None,
        remote_put: Callable[..., Any] | None = None,
        resolver: Any = None,
        heartbeats: Heartbeats | None = None,
        dependency_sets: DependencySets | None = None,
        evidence: EvidenceRecorder | None = None,
    ):
        self.config = config
        self.secrets = secrets
        self.region = region
        self.home_region = home_region or region
        self.invoke = invoke
        self.remote_put = remote_put
        self.resolver = resolver
        self.heartbeats = heartbeats  # heartbeat pings (the home stack's table)
        self.dependency_sets = dependency_sets  # the dependency names each check's JSON held
        self.evidence = evidence  # each check's latest failure, written when it changes
        self._offsets = plan.minute_offsets(config.checks)

    # ------------------------------------------------------------------ the schedule
    def plan(self, region: str) -> list[plan.ShardSet]:
        return plan.plan(
            self.config.checks,
            region=region,
            home=self.home_region,
            concurrency=self.config.probe.concurrency,
        )

    def jobs(self, minute: datetime, region: str) -> list[ShardJob]:
        return [
            ShardJob(minute, region, str(shard_set.kind), index, shard_set.count)
            for shard_set in self.plan(region)
            for index in range(shard_set.count)
        ]

    def scheduled(self, event: Any, *, function_name: str, metrics: Any, logger: Any) -> dict[str, Any]:
        minute = scheduled_minute(event)
        region = event.get("region") if isinstance(event, dict) and event.get("region") else self.region
        jobs = self.jobs(minute, region)
        if len(jobs) <= 1:  # nothing to share out: probe here (also an empty run reports it ran)
            job = jobs[0] if jobs else ShardJob(minute, region, plan.MINUTE, 0, 1)
            return self.run_shard(job, metrics=metrics, logger=logger)
        invoke = self.invoke or _lambda_invoker()
        started, lost = 0, 0
        for job in jobs:
            try:
                invoke(function_name, job.to_event())
                started += 1
            except Exception as exc:  # throttled or refused: those checks go unprobed this minute
                lost += len(self.due(job))
                logger.error(
                    "probe shard not started",
                    extra={"shard": job.to_event()[SHARD_EVENT_KEY], "error": f"{type(exc).__name__}: {exc}"},
                )
        if lost:
            self._count_not_probed(lost, metrics, region)
        if region == self.home_region:
            metrics.add_metric(name=metricnames.PROBE_SHARDS_STARTED, unit=MetricUnit.Count, value=started)
        summary = {"shards": len(jobs), "started": started, "region": region, "minute": minute.isoformat()}
        if lost:
            summary["not_probed"] = lost
        logger.info("probe shards started", extra=summary)
        return summary

    # ------------------------------------------------------------------ one shard
    def members(self, job: ShardJob) -> list[Check]:
        """The checks of ``job``'s shard (by the job's own shard count, so a config deployed
        between the schedule and the shard still splits the checks without overlap)."""
        mine = [c for c in self.config.checks if plan.probes_from(c, job.region, self.home_region)]
        if job.kind == plan.MINUTE:
            mine = [c for c in mine if not c.fast]
        else:
            mine = [c for c in mine if c.fast and str(c.interval_s) == job.kind]
        return [c for c in mine if plan.stable_hash(c.name) % job.count == job.index]

    def due(self, job: ShardJob) -> list[Check]:
        index = plan.minute_index(job.minute)
        return [c for c in self.members(job) if plan.due_this_minute(c, index, self._offsets)]

    def run_shard(self, job: ShardJob, *, metrics: Any, logger: Any) -> dict[str, Any]:
        checks = self.due(job)
        remote = self._remote(job.region)
        if job.kind == plan.MINUTE:
            return self._minute_run(job, checks, metrics=metrics, logger=logger, remote=remote)
        return self._fast_run(job, checks, metrics=metrics, logger=logger, remote=remote)

    def _minute_run(self, job: ShardJob, checks: list[Check], *, metrics, logger, remote) -> dict[str, Any]:
        deadline = _seconds_until(job.minute + timedelta(seconds=plan.MINUTE_BUDGET_S))
        started = time.perf_counter()
        results = self._probe(checks, deadline, job.region)
        duration_ms = (time.perf_counter() - started) * 1000.0
        return record_run(
            results,
            checks,
            metrics=metrics,
            logger=logger,
            duration_ms=duration_ms,
            region=job.region,
            remote=remote,
        )

    def _fast_run(self, job: ShardJob, checks: list[Check], *, metrics, logger, remote) -> dict[str, Any]:
        """Rounds at 0, interval, 2 x interval ... seconds into the minute; each round must end
        before the next (its deadline is the interval). Run metrics once, after the last round:
        its duration is the longest round's."""
        interval = int(job.kind)
        longest_ms, unprobed, failed, rounds = 0.0, 0, 0, 0
        namespace = metricnames.namespace()
        for offset in plan.round_offsets(interval):
            at = job.minute + timedelta(seconds=offset)
            clock.wait_until(at)
            deadline = _seconds_until(at + timedelta(seconds=interval))
            if deadline <= 0:  # this round's time has passed (a late start): its checks wait for the next
                unprobed += len(checks)
                continue
            started = time.perf_counter()
            results = self._probe(checks, deadline, job.region)
            duration_ms = (time.perf_counter() - started) * 1000.0
            longest_ms = max(longest_ms, duration_ms)
            summary = record_run(
                results,
                checks,
                metrics=metrics,
                logger=logger,
                duration_ms=duration_ms,
                namespace=namespace,
                region=job.region,
                at=at,
                remote=remote,
                run_metrics=False,
            )
            unprobed += summary.get("not_probed", 0)
            failed += summary["failed"]
            rounds += 1
        add_run_metrics(
            metrics,
            namespace=namespace,
            duration_ms=longest_ms,
            not_probed=unprobed,
            remote=remote,
            region=job.region,
        )
        if remote is not None:
            remote.flush()
        return {
            "checks": len(checks),
            "rounds": rounds,
            "failed": failed,
            "not_probed": unprobed,
            "duration_ms": round(longest_ms, 3),
        }

    def _probe(self, checks: list[Check], deadline_s: float, region: str) -> list[Any]:
        """The results of ``checks``: probed by the engine; heartbeat checks judged from their
        pings instead (only where their pings are kept: the home stack); then the dependencies
        that disappeared are added and each check's latest failure recorded when it changed."""
        if not checks:
            return []
        probed, beats = heartbeat_checks(checks)
        results = (
            run_checks(
                probed,
                concurrency=plan.effective_concurrency(self.config.probe.concurrency),
                secrets=self.secrets,
                deadline_s=max(0.0, deadline_s),
                resolver=self.resolver,
                region=region,
            )
            if probed
            else []
        )
        now = clock.now()
        if beats and region == self.home_region:
            results += heartbeat_results(beats, self.heartbeats, now)
        settle(results, probed, self.dependency_sets, now)
        if self.evidence is not None:
            self.evidence.record(results, now)
        return results

    def _remote(self, region: str) -> RemoteMetrics | None:
        if region == self.home_region:
            return None
        if self.remote_put is None:
            self.remote_put = _home_put(self.home_region)
        return RemoteMetrics(self.remote_put, metricnames.namespace())

    # ------------------------------------------------------------------ a lost shard
    def lost_shard(self, event: Any, *, metrics: Any, logger: Any) -> dict[str, Any]:
        found = lost_job(event)
        if found is None:
            # a scheduled run Lambda gave up on: never re-run late (it would probe the wrong
            # minute); the missing ProbeRunCompleted pages through ProbeNotRunningAlarm
            context = event.get("requestContext") if isinstance(event, dict) else None
            why = context.get("condition") if isinstance(context, dict) else None
            logger.error("probe run lost: it did not complete", extra={"why": why or "unknown"})
            return {"lost_run": True}
        job, why = found
        count = len(self.due(job))
        self._count_not_probed(count, metrics, job.region)
        logger.error(
            "probe shard lost: its checks were not probed this minute",
            extra={"shard": job.to_event()[SHARD_EVENT_KEY], "why": why, "not_probed": count},
        )
        return {"lost_shard": job.to_event()[SHARD_EVENT_KEY], "not_probed": count}

    def _count_not_probed(self, count: int, metrics: Any, region: str) -> None:
        remote = self._remote(region)
        service = {metricnames.SERVICE_DIMENSION: metricnames.service()}
        if remote is not None:
            remote.add([(metricnames.CHECKS_NOT_PROBED, "Count", float(count), service, False)], None)
            remote.flush()
            return
        if not getattr(metrics, "namespace", None):
            metrics.namespace = metricnames.namespace()
        metrics.add_metric(name=metricnames.CHECKS_NOT_PROBED, unit=MetricUnit.Count, value=count)


def _seconds_until(at: datetime) -> float:
    return (at - clock.now()).total_seconds()


def _lambda_invoker() -> Callable[[str, dict[str, Any]], Any]:
    import boto3

    client = boto3.client("lambda")

    def invoke(function_name: str, event: dict[str, Any]) -> Any:
        return client.invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps(event))

    return invoke


def _home_put(home_region: str) -> Callable[..., Any]:
    import boto3

    return boto3.client("cloudwatch", region_name=home_region).put_metric_data
