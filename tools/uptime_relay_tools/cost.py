"""Monthly cost of a deployed stack, from its resources and list prices, beside the alternatives.

Prices are us-east-1 list prices (REFERENCE.md; verify on the AWS pricing pages before quoting),
before free tiers. The stack's variable costs are the per-check custom metric ($0.30) and alarm
($0.10); everything else (Lambda, logs, DynamoDB, SNS, KMS, Secrets Manager) is cents to a few
dollars even at 1,000 checks. DynamoDB storage is the resolved incidents the config's ``retention``
keeps (each stored in the table and again in its ``listing`` index, plus point-in-time recovery). Log bytes per check are measured by running the probe's real
reporting code (EMF document + result log line) on a sample result.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Iterable, Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass, field, replace

from uptime_relay.config import Check, Config, is_secret_ref

MINUTES_PER_MONTH = 43_800  # 730 hours, the month AWS pricing uses
DAYS_PER_MONTH = 730 / 24
SELF_MONITORING_ALARMS = 11  # template.yaml: probe not running/slow, checks not probed, 3x errors,
# 3x throttles, 2x DLQ
FIXED_METRICS = 10  # ProbeRunCompleted, ProbeRunDuration, ChecksNotProbed, ProbeShardsStarted,
# AlertsRelayed, NotificationsSent, DeliveryFailures, DeliveriesDeadLettered, EscalationsFired,
# IncidentsOpened (each with the service dimension)
# The status page, viewed at least once a minute all month (its upper bound; unviewed it costs
# nothing): the uptime part re-read every 15 minutes, the live part every minute (statuspage.py).
STATUS_HISTORY_REFRESHES = MINUTES_PER_MONTH // 15
STATUS_LIVE_REFRESHES = MINUTES_PER_MONTH
STATUS_METRICS_PER_CHECK = 8  # Sum + SampleCount: the 90 daily segments, and the last 24 h in 3 spans
STATUS_BYTES_PER_CHECK = 700  # the cached item per listed check (~650 measured) + incidents


@dataclass(frozen=True)
class Prices:
    metric_month: float = 0.30  # CloudWatch custom metric, first 10k
    alarm_month: float = 0.10  # standard-resolution metric alarm
    insights_alarm_metric_month: float = 0.10  # Metrics Insights alarm: per metric it analyzes
    high_res_alarm_month: float = 0.30  # high-resolution alarm (10 s / 30 s periods: fast checks)
    put_metric_request: float = 0.01 / 1000  # PutMetricData (probe-only regions report with it)
    log_ingest_gb: float = 0.50  # CloudWatch Logs ingestion (EMF is billed as logs)
    lambda_gb_s: float = 0.0000133334  # arm64 (x86_64: 0.0000166667)
    lambda_request: float = 0.20 / 1e6
    dynamodb_write: float = 0.625 / 1e6  # on-demand write request unit
    dynamodb_read: float = 0.125 / 1e6  # on-demand read request unit
    dynamodb_storage_gb: float = 0.25  # per GB-month, standard table class (indexes included)
    dynamodb_pitr_gb: float = 0.20  # continuous backups, per GB-month of table size
    sns_publish: float = 0.50 / 1e6  # Lambda deliveries are free
    kms_key_month: float = 1.00
    kms_request: float = 0.03 / 1e4
    secret_month: float = 0.40
    secret_call: float = 0.05 / 1e4
    dashboard_month: float = 3.00  # CloudWatch dashboard (first 3 of up to 50 metrics free per account)
    get_metric_data: float = 0.01 / 1e3  # per metric requested by GetMetricData
    xray_trace: float = 5.00 / 1e6
    # Alternatives
    route53_check: float = 0.75  # health check on a non-AWS endpoint (AWS endpoint: 0.50)
    route53_feature: float = 2.00  # per optional feature on a non-AWS endpoint (AWS: 1.00)
    synthetics_run: float = 0.0012  # per canary run


@dataclass(frozen=True)
class Usage:
    checks: int
    latency_metrics: int = 0  # checks with latency_metric: true (one more metric each)
    # health-JSON dependencies in all (a metric each, analyzed by their check's Metrics Insights alarm)
    dependencies: int = 0
    secrets_manager_secrets: int = 0  # distinct secretsmanager: references in the config
    probe_memory_mb: int = 512
    probe_duration_s: float | None = None  # measured; None: estimated from checks and concurrency
    concurrency: int = 100
    typical_latency_s: float = 0.3  # one HTTPS probe with a fresh TLS handshake
    log_bytes_per_check: int = 604  # per check per run (EMF + result line): measure_log_bytes() here
    log_bytes_per_run: int = 835  # run summary + run metrics + Lambda START/END/REPORT lines
    alerts_per_month: int = 200  # alarm state changes reaching the relay (ALARM + OK)
    notifications_per_alert: float = 3.0
    acks_per_month: int = 50
    retention_days: float = 400.0  # the config's `retention`: how long resolved incidents are kept
    # one incident item after ALARM + OK (timeline, handles, opening alert), measured on moto with
    # uptime_relay_tools.testing.table_load
    incident_bytes: int = 4_700
    status_page_checks: int = 0  # checks listed under status_page (0: no page)
    status_page_views: int = 100_000  # page and badge views a month
    # interval (seconds) -> checks; None: every check every minute
    intervals: tuple[tuple[int, int], ...] | None = None
    extra_region_metrics: int = 0  # checks with `regions`: one Availability per region, + RegionsFailing
    extra_regions: int = 0  # probe-only stacks (each region the checks name besides the home one)

    def by_interval(self) -> dict[int, int]:
        return dict(self.intervals) if self.intervals else {60: self.checks}

    def check_runs_per_minute(self) -> float:
        """Probes per minute (a 5m check counts 0.2, a 10s check 6)."""
        return sum(count * 60 / interval for interval, count in self.by_interval().items())


@dataclass(frozen=True)
class LineItem:
    item: str
    quantity: float
    unit: str
    usd: float


@dataclass
class Estimate:
    usage: Usage
    items: list[LineItem] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(i.usd for i in self.items)

    def per_check(self) -> float:
        return self.total / self.usage.checks if self.usage.checks else 0.0


def probe_duration_s(usage: Usage) -> float:
    """Wall time of one minute's run of the minute shards: waves of ``concurrency`` probes each
    bounded by a typical latency, or the CPU time (0.41 ms per probe measured on a full core,
    scaled to the probe's share of a vCPU: 1,769 MB = 1 vCPU), whichever is longer, plus start-up
    and the metric flush. Checks slower than a minute count by the share of minutes they run in."""
    if usage.probe_duration_s is not None:
        return usage.probe_duration_s
    per_minute = sum(c * 60 / i for i, c in usage.by_interval().items() if i >= 60)
    waves = math.ceil(per_minute / max(1, usage.concurrency))
    cpu_share = min(1.0, usage.probe_memory_mb / 1769)
    cpu_s = per_minute * 0.00041 / cpu_share
    return 0.2 + max(waves * usage.typical_latency_s, cpu_s)


def fast_shard_gb_s(usage: Usage) -> float:
    """Fast checks: a shard per fast interval (per ``concurrency`` checks) lives the whole minute."""
    shards = sum(math.ceil(c / max(1, usage.concurrency)) for i, c in usage.by_interval().items() if i < 60)
    return shards * MINUTES_PER_MONTH * 60.0 * usage.probe_memory_mb / 1024


def interval_rows(usage: Usage, prices: Prices = Prices()) -> list[dict[str, float]]:
    """What each interval costs: its checks' metrics, alarms and log ingestion per month."""
    rows = []
    for interval, count in sorted(usage.by_interval().items()):
        probes = count * MINUTES_PER_MONTH * 60 / interval
        alarm = prices.high_res_alarm_month if interval < 60 else prices.alarm_month
        logs = probes * usage.log_bytes_per_check / 1e9 * prices.log_ingest_gb
        # a fast interval keeps its shards alive the whole minute (slower ones share the minute run)
        shards = math.ceil(count / max(1, usage.concurrency)) if interval < 60 else 0
        compute = shards * MINUTES_PER_MONTH * 60.0 * usage.probe_memory_mb / 1024 * prices.lambda_gb_s
        rows.append(
            {
                "interval_s": interval,
                "checks": count,
                "probes_per_month": probes,
                "metrics_usd": count * prices.metric_month,
                "alarms_usd": count * alarm,
                "logs_usd": logs,
                "fast_shard_compute_usd": compute,
                "usd": count * (prices.metric_month + alarm) + logs + compute,
            }
        )
    return rows


def interval_markdown(rows: list[dict[str, float]]) -> str:
    lines = [
        "| interval | checks | probes / month | metrics | alarms | logs | fast shards (Lambda) | USD / month |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {_interval_text(int(r['interval_s']))} | {int(r['checks']):,} | {r['probes_per_month']:,.0f} | "
            f"${r['metrics_usd']:,.2f} | ${r['alarms_usd']:,.2f} | ${r['logs_usd']:,.2f} | "
            f"${r['fast_shard_compute_usd']:,.2f} | ${r['usd']:,.2f} |"
        )
    return "\n".join(lines)


def _interval_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    return f"{seconds // 3600}h" if seconds >= 3600 else f"{seconds // 60}m"


def estimate(usage: Usage, prices: Prices = Prices()) -> Estimate:
    p, u = prices, usage
    est = Estimate(u)
    add = est.items.append
    runs = MINUTES_PER_MONTH
    metrics = u.checks + u.latency_metrics + u.dependencies + u.extra_region_metrics + FIXED_METRICS
    add(LineItem("CloudWatch custom metrics", metrics, "metric-months", metrics * p.metric_month))
    fast = sum(c for i, c in u.by_interval().items() if i < 60)
    alarms = u.checks - fast + SELF_MONITORING_ALARMS + u.extra_regions
    add(
        LineItem(
            "CloudWatch alarms (checks + self-monitoring)", alarms, "alarm-months", alarms * p.alarm_month
        )
    )
    if u.dependencies:
        analyzed = u.dependencies
        add(
            LineItem(
                "CloudWatch Metrics Insights alarms (dependencies)",
                analyzed,
                "metrics analyzed",
                analyzed * p.insights_alarm_metric_month,
            )
        )
    if fast:
        add(
            LineItem(
                "CloudWatch high-resolution alarms (fast checks)",
                fast,
                "alarm-months",
                fast * p.high_res_alarm_month,
            )
        )
    log_gb = (u.check_runs_per_minute() * u.log_bytes_per_check + u.log_bytes_per_run) * runs / 1e9
    log_gb += 2 * runs * 400 / 1e9  # escalator sweep lines + its REPORT line
    add(
        LineItem(
            "CloudWatch Logs ingestion (EMF + results)", round(log_gb, 3), "GB", log_gb * p.log_ingest_gb
        )
    )
    gb_s = runs * probe_duration_s(u) * u.probe_memory_mb / 1024 + fast_shard_gb_s(u)
    add(LineItem("Lambda probe compute", round(gb_s), "GB-s", gb_s * p.lambda_gb_s))
    if u.extra_regions:
        put_calls = u.extra_regions * runs * 2  # the datapoints, then the run's own metrics
        add(
            LineItem(
                f"PutMetricData from {u.extra_regions} probe-only region(s)",
                put_calls,
                "requests",
                put_calls * p.put_metric_request,
            )
        )
    relay_gb_s = u.alerts_per_month * 1.0 * 0.25 + runs * 0.15 * 0.25 + u.acks_per_month * 0.5 * 0.25
    add(
        LineItem(
            "Lambda relay/escalator/actions compute", round(relay_gb_s), "GB-s", relay_gb_s * p.lambda_gb_s
        )
    )
    requests = 2 * runs + u.alerts_per_month + u.acks_per_month
    add(LineItem("Lambda requests", requests, "requests", requests * p.lambda_request))
    reads = runs + u.alerts_per_month * 3 + u.acks_per_month * 2
    writes = u.alerts_per_month * 6 + u.acks_per_month * 4  # transactions bill two units per item
    add(LineItem("DynamoDB on-demand reads", reads, "RRU", reads * p.dynamodb_read))
    add(LineItem("DynamoDB on-demand writes", writes, "WRU", writes * p.dynamodb_write))
    kept = u.alerts_per_month / 2 * u.retention_days / DAYS_PER_MONTH  # an incident: ALARM + OK
    table_gb = kept * u.incident_bytes / 1e9
    add(
        LineItem(
            f"DynamoDB storage ({kept:,.0f} incidents kept {u.retention_days:g} d, + index, + PITR)",
            round(2 * table_gb, 4),
            "GB-months",
            2 * table_gb * p.dynamodb_storage_gb + table_gb * p.dynamodb_pitr_gb,
        )
    )
    add(
        LineItem(
            "SNS publishes (alarm notifications)",
            u.alerts_per_month,
            "publishes",
            u.alerts_per_month * p.sns_publish,
        )
    )
    kms_requests = u.alerts_per_month * 2
    add(
        LineItem(
            "KMS key for the topics (+ requests)",
            1,
            "key-months",
            p.kms_key_month + kms_requests * p.kms_request,
        )
    )
    secrets = 1 + u.secrets_manager_secrets  # the ack signing secret + the config's
    calls = secrets * 12 * 730 * 2  # cached 5 minutes per warm container, about two containers
    add(
        LineItem(
            "Secrets Manager secrets",
            secrets,
            "secret-months",
            secrets * p.secret_month + calls * p.secret_call,
        )
    )
    traces = 2 * runs + u.alerts_per_month + u.acks_per_month
    add(LineItem("X-Ray traces (Tracing: Active)", traces, "traces", traces * p.xray_trace))
    add(LineItem("CloudWatch dashboard", 1, "dashboard-months", p.dashboard_month))
    if u.status_page_checks:
        _status_page(u, p, add)
    return est


def _status_page(u: Usage, p: Prices, add) -> None:
    """The status page's cache at its upper bound (viewed at least once a minute): GetMetricData
    every 15 minutes, the snapshot item rewritten every minute, each view one item read."""
    metrics = STATUS_HISTORY_REFRESHES * STATUS_METRICS_PER_CHECK * u.status_page_checks
    add(
        LineItem(
            f"Status page uptime reads ({u.status_page_checks} checks, GetMetricData every 15 min)",
            metrics,
            "metrics",
            metrics * p.get_metric_data,
        )
    )
    item_kb = (u.status_page_checks * STATUS_BYTES_PER_CHECK + 2_000) / 1024
    writes = STATUS_LIVE_REFRESHES * math.ceil(item_kb)
    reads = u.status_page_views * math.ceil(item_kb / 4) / 2 + STATUS_LIVE_REFRESHES * 2
    lambda_usd = u.status_page_views * (p.lambda_request + 0.05 * 0.25 * p.lambda_gb_s)
    add(
        LineItem(
            f"Status page cache and views ({u.status_page_views:,} views: DynamoDB, Lambda)",
            u.status_page_views,
            "views",
            writes * p.dynamodb_write + reads * p.dynamodb_read + lambda_usd,
        )
    )


DEPENDENCIES_PER_CHECK = 5  # assumed per check with `dependencies` (they are known at run time only)


def usage_from_config(config: Config, **overrides: object) -> Usage:
    refs = {
        value
        for channel in config.channels.values()
        for value in _strings(channel.options)
        if is_secret_ref(value) and value.startswith("secretsmanager:")
    }
    refs |= {v for c in config.checks for v in c.headers.values() if v.startswith("secretsmanager:")}
    intervals: dict[int, int] = {}
    for check in config.checks:
        intervals[check.interval_s] = intervals.get(check.interval_s, 0) + 1
    regions = {r for c in config.checks for r in c.regions}
    usage = Usage(
        checks=len(config.checks),
        intervals=tuple(sorted(intervals.items())),
        extra_region_metrics=sum(len(c.regions) for c in config.checks if c.regions),
        # the home region may be among them; counted as extra (an upper bound)
        extra_regions=max(0, len(regions) - 1) if regions else 0,
        latency_metrics=sum(1 for c in config.checks if c.latency_metric),
        dependencies=DEPENDENCIES_PER_CHECK * sum(1 for c in config.checks if c.dependencies is not None),
        secrets_manager_secrets=len(refs),
        concurrency=config.probe.concurrency,
        retention_days=config.retention / 86400,
        status_page_checks=len(config.status_page.check_names()) if config.status_page else 0,
    )
    return replace(usage, **overrides)  # type: ignore[arg-type]


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


# --------------------------------------------------------------------------------------- alternatives
def route53_monthly(checks: int, features: int, prices: Prices = Prices()) -> float:
    """Route 53 health checks on non-AWS endpoints with ``features`` optional features each
    (HTTPS, string matching, fast 10 s interval, latency measurement)."""
    return checks * (prices.route53_check + features * prices.route53_feature)


def synthetics_monthly(checks: int, prices: Prices = Prices()) -> float:
    """One CloudWatch Synthetics canary per check running every minute (runs only; the canary's
    own Lambda, S3 and logs are extra)."""
    return checks * MINUTES_PER_MONTH * prices.synthetics_run


def comparison(counts: Sequence[int] = (10, 100, 1000), base: Usage | None = None) -> list[dict[str, float]]:
    rows = []
    for n in counts:
        usage = replace(
            base or Usage(checks=n),
            checks=n,
            probe_duration_s=None,
            intervals=None,  # the comparison prices every check every minute
            extra_region_metrics=0,
            extra_regions=0,
        )
        rows.append(
            {
                "checks": n,
                "uptime_relay": estimate(usage).total,
                "route53_https": route53_monthly(n, 1),
                "route53_https_string": route53_monthly(n, 2),
                "route53_https_string_fast": route53_monthly(n, 3),
                "synthetics": synthetics_monthly(n),
            }
        )
    return rows


def comparison_markdown(rows: list[dict[str, float]]) -> str:
    lines = [
        "| checks | uptime-relay | Route 53: HTTPS | Route 53: HTTPS + string | Route 53: HTTPS + string + 10 s | Synthetics (1-min canary) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {int(r['checks']):,} | ${r['uptime_relay']:,.2f} | ${r['route53_https']:,.2f} | "
            f"${r['route53_https_string']:,.2f} | ${r['route53_https_string_fast']:,.2f} | ${r['synthetics']:,.2f} |"
        )
    return "\n".join(lines)


def estimate_markdown(est: Estimate) -> str:
    lines = ["| item | quantity | unit | USD / month |", "|---|---:|---|---:|"]
    for i in est.items:
        qty = (
            f"{i.quantity:,.3f}".rstrip("0").rstrip(".")
            if isinstance(i.quantity, float)
            else f"{i.quantity:,}"
        )
        lines.append(f"| {i.item} | {qty} | {i.unit} | ${i.usd:,.2f} |")
    lines.append(f"| **total** | | | **${est.total:,.2f}** |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------- measuring
def measure_log_bytes(checks: Sequence[Check] | None = None) -> tuple[int, int]:
    """Bytes the probe writes to CloudWatch Logs (per check per run, per run), measured by running
    its reporting code (``probe.report.record_run``) on one sample result per check."""
    sample = list(checks or [Check(name="example-check", url="https://example.com/health")])
    with_checks = _record_bytes(sample)
    run_only = _record_bytes([])
    lambda_lines = 350  # the START, END and REPORT lines Lambda writes per invocation
    return max(1, (with_checks - run_only) // len(sample)), run_only + lambda_lines


def _record_bytes(checks: Sequence[Check]) -> int:
    from aws_lambda_powertools import Logger, Metrics
    from uptime_relay.probe.report import record_run
    from uptime_relay.probe.result import ProbeResult, Timings

    buffer = io.StringIO()
    logger = Logger(service="uptime-relay")
    handler = logger.registered_handler
    previous = handler.setStream(buffer) if isinstance(handler, logging.StreamHandler) else None
    metrics = Metrics(namespace="UptimeRelay", service="uptime-relay")
    results = [
        ProbeResult(
            check=c.name,
            ok=True,
            reason="ok",
            status_code=200,
            latency_ms=123.456,
            timings=Timings(dns=1.234, connect=10.5, tls=30.25, ttfb=70.125, transfer=11.3, total=123.456),
            cert_days_left=60.5,
            target=c.target,
        )
        for c in checks
    ]
    try:
        with redirect_stdout(buffer):
            record_run(
                results, checks, metrics=metrics, logger=logger, duration_ms=1234.5, namespace="UptimeRelay"
            )
            metrics.flush_metrics()
    finally:
        if previous is not None:
            handler.setStream(previous)
    return len(buffer.getvalue().encode())
