"""Shards, intervals and honest gaps: what the scheduled probe run plans, starts and reports."""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from aws_lambda_powertools import Logger, Metrics
from hypothesis import given, settings
from hypothesis import strategies as st
from uptime_relay import clock, metricnames
from uptime_relay.config import Check, Config
from uptime_relay.config.model import ProbeSettings
from uptime_relay.probe import plan
from uptime_relay.probe.report import record_run
from uptime_relay.probe.result import ProbeResult
from uptime_relay.probe.run import SHARD_EVENT_KEY, ProbeRun, ShardJob
from uptime_relay_tools.testing.fleet import FleetTarget

MINUTE = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def emf(text: str) -> list[dict]:
    docs = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [d for d in docs if "_aws" in d]


def metric_total(docs: list[dict], name: str) -> float:
    return sum(sum(d[name]) if isinstance(d[name], list) else d[name] for d in docs if name in d)


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "UptimeRelayTest")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "uptime-relay")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    yield
    Metrics(namespace="UptimeRelayTest").clear_metrics()  # Powertools shares one metric set


class FrozenClock:
    """Time stands at ``at``; ``sleep`` moves it (what a fast shard's rounds wait on)."""

    def __init__(self, at: datetime):
        self.at = at

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=max(0.0, seconds))


@pytest.fixture
def frozen():
    fake = FrozenClock(MINUTE)
    previous = clock.install(fake)
    yield fake
    clock.install(previous)


# --------------------------------------------------------------------------------------- the plan
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20).filter(
    lambda n: n[0] != "-"
)


@settings(max_examples=60, deadline=None)
@given(
    fleet=st.dictionaries(names, st.floats(min_value=0.5, max_value=55.0), min_size=1, max_size=400),
    concurrency=st.integers(min_value=1, max_value=5000),
)
def test_every_shard_ends_inside_the_minute_even_if_all_its_checks_hang(fleet, concurrency):
    """GIVEN any set of checks and timeouts and any probe concurrency
    WHEN the run is planned
    THEN every check is in exactly one shard, each shard's worst case (every check hanging until
    its timeout, with the concurrency one Lambda's 1,024 files allow) fits the 50 s budget, and
    the same names give the same shards in any order."""
    checks = [Check(name=n, url="http://127.0.0.1/", timeout_s=t) for n, t in fleet.items()]
    (minute,) = plan.plan(checks, region="us-east-1", home="us-east-1", concurrency=concurrency)
    members = [minute.members(i) for i in range(minute.count)]
    assert sorted(c.name for shard in members for c in shard) == sorted(fleet)
    assert all(minute.worst_case_s(i, concurrency) <= plan.MINUTE_BUDGET_S for i in range(minute.count))
    assert plan.effective_concurrency(concurrency) <= plan.LAMBDA_FILE_LIMIT - plan.RESERVED_FILES
    shuffled = list(checks)
    random.Random(7).shuffle(shuffled)
    (again,) = plan.plan(shuffled, region="us-east-1", home="us-east-1", concurrency=concurrency)
    assert again.count == minute.count
    assert all(again.shard_of(n) == minute.shard_of(n) for n in fleet)


def test_ten_thousand_checks_at_concurrency_500_take_a_handful_of_shards():
    checks = [Check(name=f"c-{i:05d}", url="http://127.0.0.1/") for i in range(10_000)]
    (minute,) = plan.plan(checks, region="us-east-1", home="us-east-1", concurrency=500)
    assert 5 <= minute.count <= 8
    assert max(len(minute.members(i)) for i in range(minute.count)) <= 2000


def test_slower_checks_are_spread_evenly_over_their_minutes_and_each_runs_once_per_interval():
    checks = [Check(name=f"s{i}", url="http://x/", interval_s=300) for i in range(10)]
    offsets = plan.minute_offsets(checks)
    assert sorted(offsets.values()) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    start = plan.minute_index(MINUTE)
    for check in checks:
        due = [m for m in range(start, start + 10) if plan.due_this_minute(check, m, offsets)]
        assert len(due) == 2 and due[1] - due[0] == 5
    assert plan.round_offsets(10) == [0, 10, 20, 30, 40, 50]
    assert plan.round_offsets(20) == [0, 20, 40]
    assert plan.round_offsets(60) == [0]


def test_a_check_with_regions_is_probed_by_those_regions_and_one_without_only_by_home():
    home_only = Check(name="a", url="http://x/")
    spread = Check(name="b", url="http://x/", regions=("eu-west-1", "ap-southeast-2"))
    assert plan.probes_from(home_only, "us-east-1", "us-east-1")
    assert not plan.probes_from(home_only, "eu-west-1", "us-east-1")
    assert plan.probes_from(spread, "eu-west-1", "us-east-1")
    assert not plan.probes_from(spread, "us-east-1", "us-east-1")


# --------------------------------------------------------------------------------------- unprobed
def test_a_check_not_probed_emits_no_availability_and_is_counted(capsys):
    """GIVEN a run where one check was probed (failed) and one was never probed
    WHEN the run is recorded
    THEN only the probed one has an Availability datapoint, and ChecksNotProbed is 1."""
    checks = [Check(name="probed", url="http://x/"), Check(name="skipped", url="http://x/")]
    results = [
        ProbeResult(check="probed", ok=False, reason="timeout"),
        ProbeResult(check="skipped", ok=None, reason="not_probed", attempts=0),
    ]
    metrics = Metrics(namespace="UptimeRelayTest", service="uptime-relay")
    summary = record_run(
        results, checks, metrics=metrics, logger=Logger(service="t-np", stream=io.StringIO()), duration_ms=1
    )
    metrics.flush_metrics()
    docs = emf(capsys.readouterr().out)
    assert [d["Check"] for d in docs if metricnames.AVAILABILITY in d] == ["probed"]
    assert metric_total(docs, metricnames.CHECKS_NOT_PROBED) == 1
    assert summary["not_probed"] == 1 and summary["failed"] == 1


# --------------------------------------------------------------------------------------- the run
def fleet_config(target: FleetTarget, healthy: int, hanging: int, concurrency: int, **extra) -> Config:
    checks = [Check(name=f"ok-{i}", url=target.url(f"/ok/{i}"), timeout_s=10.0) for i in range(healthy)]
    checks += [Check(name=f"hang-{i}", url=target.url(f"/hang/{i}"), timeout_s=0.05) for i in range(hanging)]
    checks += list(extra.get("more", ()))
    return Config(checks=tuple(checks), probe=ProbeSettings(concurrency=concurrency))


def scheduled(region: str = "us-east-1") -> dict:
    return {"time": MINUTE.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region, "source": "aws.events"}


def test_the_scheduled_run_starts_each_shard_once_and_the_shards_probe_every_due_check_once(capsys, frozen):
    """GIVEN 60 checks of which 20 hang and a concurrency that makes several shards
    WHEN the schedule fires and each started shard runs
    THEN the shards probe disjoint sets whose union is every check, hanging ones end in their
    own timeout (probed, failed), healthy ones pass, and nothing is left unprobed."""
    with FleetTarget() as target:
        config = fleet_config(target, 40, 20, concurrency=1)
        started: list[dict] = []
        run = ProbeRun(config, None, region="us-east-1", invoke=lambda name, event: started.append(event))
        metrics = Metrics(namespace="UptimeRelayTest", service="uptime-relay")
        logger = Logger(service="t-shards", stream=io.StringIO())
        summary = run.scheduled(scheduled(), function_name="stack-probe", metrics=metrics, logger=logger)
        assert summary["shards"] == len(started) > 1
        jobs = [ShardJob.from_event(e) for e in started]
        results = [run.run_shard(job, metrics=metrics, logger=logger) for job in jobs]
        metrics.flush_metrics()
    docs = emf(capsys.readouterr().out)
    probed = [d["Check"] for d in docs if metricnames.AVAILABILITY in d]
    assert sorted(probed) == sorted(c.name for c in config.checks)  # each exactly once
    failed = {d["Check"] for d in docs if d.get(metricnames.AVAILABILITY) == [0.0]}
    assert failed == {f"hang-{i}" for i in range(20)}
    assert sum(r["checks"] for r in results) == 60 and not any(r.get("not_probed") for r in results)
    assert metric_total(docs, metricnames.PROBE_SHARDS_STARTED) == len(started)


def test_a_shard_lambda_could_not_start_or_gave_up_on_is_counted_not_probed_never_down(capsys, frozen):
    """GIVEN a fleet planned in several shards
    WHEN starting one shard fails, and another comes back as Lambda's on-failure record
    THEN each one's due checks are counted in ChecksNotProbed and get no datapoint."""
    with FleetTarget() as target:
        config = fleet_config(target, 30, 10, concurrency=1)

    def refuse_first(name: str, event: dict) -> None:
        if event[SHARD_EVENT_KEY]["index"] == 0:
            raise RuntimeError("TooManyRequestsException")

    run = ProbeRun(config, None, region="us-east-1", invoke=refuse_first)
    metrics = Metrics(namespace="UptimeRelayTest", service="uptime-relay")
    logger = Logger(service="t-lost", stream=io.StringIO())
    summary = run.scheduled(scheduled(), function_name="stack-probe", metrics=metrics, logger=logger)
    first = ShardJob(MINUTE, "us-east-1", plan.MINUTE, 0, summary["shards"])
    second = ShardJob(MINUTE, "us-east-1", plan.MINUTE, 1, summary["shards"])
    record = {
        "version": "1.0",
        "requestContext": {"condition": "EventAgeExceeded", "approximateInvokeCount": 0},
        "requestPayload": second.to_event(),
    }
    lost = run.lost_shard(record, metrics=metrics, logger=logger)
    metrics.flush_metrics()
    docs = emf(capsys.readouterr().out)
    assert summary["not_probed"] == len(run.due(first)) > 0
    assert lost["not_probed"] == len(run.due(second)) > 0
    assert metric_total(docs, metricnames.CHECKS_NOT_PROBED) == len(run.due(first)) + len(run.due(second))
    assert not [d for d in docs if metricnames.AVAILABILITY in d]


def test_a_fast_check_is_probed_every_interval_inside_the_minute_with_high_resolution_datapoints(
    capsys, frozen
):
    """GIVEN a check with interval 10s (and a 1m check beside it)
    WHEN its fast shard runs the minute
    THEN it probes 6 times, at :00 :10 ... :50, each a high-resolution Availability datapoint
    stamped with its round's time; the run's duration is the longest round's."""
    with FleetTarget() as target:
        fast = Check(name="fast", url=target.url("/ok/fast"), interval_s=10, timeout_s=5)
        config = fleet_config(target, 1, 0, concurrency=10, more=[fast])
        started: list[dict] = []
        run = ProbeRun(config, None, region="us-east-1", invoke=lambda name, event: started.append(event))
        metrics = Metrics(namespace="UptimeRelayTest", service="uptime-relay")
        logger = Logger(service="t-fast", stream=io.StringIO())
        run.scheduled(scheduled(), function_name="p", metrics=metrics, logger=logger)
        (job,) = [ShardJob.from_event(e) for e in started if e[SHARD_EVENT_KEY]["kind"] == "10"]
        summary = run.run_shard(job, metrics=metrics, logger=logger)
    docs = [d for d in emf(capsys.readouterr().out) if d.get("Check") == "fast"]
    assert summary["rounds"] == 6
    stamps = [d["_aws"]["Timestamp"] for d in docs]
    assert stamps == [int((MINUTE + timedelta(seconds=s)).timestamp() * 1000) for s in range(0, 60, 10)]
    assert all(
        m["StorageResolution"] == 1
        for d in docs
        for directive in d["_aws"]["CloudWatchMetrics"]
        for m in directive["Metrics"]
    )


def test_a_probe_only_region_reports_to_home_with_its_region(frozen):
    """GIVEN a check probed from us-east-1 (home) and eu-west-1, failing there
    WHEN eu-west-1's run probes it
    THEN PutMetricData (home region) gets Availability 0 with Check and Region, RegionsFailing
    1 with Check, and ProbeRunCompleted with Region (its "probe did not run" alarm)."""
    with FleetTarget() as target:
        target.failing = {"api": {"eu-west-1"}}
        check = Check(
            name="api", url=target.url("/regions/api"), regions=("us-east-1", "eu-west-1"), retries=0
        )
        puts: list[dict] = []
        run = ProbeRun(
            Config(checks=(check,)),
            None,
            region="us-east-1",
            remote_put=lambda **kwargs: puts.append(kwargs),
        )
        run.scheduled(
            scheduled("eu-west-1"),
            function_name="p",
            metrics=Metrics(namespace="UptimeRelayTest"),
            logger=Logger(service="t-remote", stream=io.StringIO()),
        )
    data = [
        (d["MetricName"], {x["Name"]: x["Value"] for x in d["Dimensions"]}, d["Value"])
        for p in puts
        for d in p["MetricData"]
    ]
    assert (metricnames.AVAILABILITY, {"Check": "api", "Region": "eu-west-1"}, 0.0) in data
    assert (metricnames.REGIONS_FAILING, {"Check": "api"}, 1.0) in data
    assert (metricnames.RUN_COMPLETED, {"service": "uptime-relay", "Region": "eu-west-1"}, 1.0) in data
    assert {p["Namespace"] for p in puts} == {"UptimeRelayTest"}


def test_a_scheduled_run_lambda_gave_up_on_is_never_rerun_late(capsys, frozen):
    """GIVEN the on-failure record of a scheduled run (not of a shard)
    WHEN it reaches the probe function
    THEN nothing is probed for that minute late (ProbeNotRunningAlarm covers the missing run)."""
    started: list[dict] = []
    run = ProbeRun(
        Config(checks=(Check(name="a", url="http://127.0.0.1:9/"),)),
        None,
        region="us-east-1",
        invoke=lambda name, event: started.append(event),
    )
    record = {"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": scheduled()}
    answer = run.lost_shard(
        record,
        metrics=Metrics(namespace="UptimeRelayTest"),
        logger=Logger(service="t-run", stream=io.StringIO()),
    )
    assert answer == {"lost_run": True}
    assert started == [] and not emf(capsys.readouterr().out)


def test_a_scheduled_event_from_long_ago_probes_now_with_the_whole_budget(capsys, frozen):
    """GIVEN an invocation by hand with the sample scheduled event (its time years ago)
    WHEN the probe function runs it
    THEN the check is probed now, not reported not_probed for a minute long gone."""
    with FleetTarget() as target:
        run = ProbeRun(Config(checks=(Check(name="a", url=target.url("/ok/a")),)), None, region="us-east-1")
        summary = run.scheduled(
            {"time": "2015-10-08T16:53:06Z", "region": "us-east-1"},
            function_name="p",
            metrics=Metrics(namespace="UptimeRelayTest"),
            logger=Logger(service="t-stale", stream=io.StringIO()),
        )
    assert summary["checks"] == 1 and "not_probed" not in summary and summary["failed"] == 0
