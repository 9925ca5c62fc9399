"""uptime-relay cost CONFIG — monthly estimate of the deployed stack for this config, and the
same checks on Route 53 health checks and CloudWatch Synthetics canaries."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, replace

from uptime_relay.config import ConfigError
from uptime_relay.config.loader import load_config

from .. import cost


def register(sub) -> None:
    p = sub.add_parser(
        "cost",
        help="estimate the monthly AWS cost of the stack for CONFIG (list prices, us-east-1)",
        description="Monthly estimate from the stack's resources and list prices (before free tiers), "
        "beside Route 53 health checks and CloudWatch Synthetics for the same checks.",
    )
    p.add_argument("config", metavar="CONFIG", help="path to the YAML configuration")
    p.add_argument("--checks", type=int, help="price this many checks instead of the config's count")
    p.add_argument("--probe-memory", type=int, default=512, help="ProbeMemorySize in MB (default 512)")
    p.add_argument(
        "--duration-ms", type=float, help="measured probe run duration (ms), e.g. from ProbeRunDuration"
    )
    p.add_argument(
        "--measure",
        action="store_true",
        help="probe the config's checks once from here and use the measured run duration",
    )
    p.add_argument("--alerts-per-month", type=int, default=200, help="alarm state changes reaching the relay")
    p.add_argument(
        "--dependencies",
        type=int,
        help="health-JSON dependencies in all (default: 5 per check with `dependencies`): "
        "each is a custom metric ($0.30) and a metric its check's Metrics Insights alarm analyzes ($0.10)",
    )
    p.add_argument(
        "--compare",
        default="10,100,1000",
        help="check counts for the comparison table (comma-separated; empty to skip)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    per_check, per_run = cost.measure_log_bytes(config.checks or None)
    overrides: dict = {
        "probe_memory_mb": args.probe_memory,
        "alerts_per_month": args.alerts_per_month,
        "log_bytes_per_check": per_check,
        "log_bytes_per_run": per_run,
    }
    if args.checks is not None:
        overrides["checks"] = args.checks
        overrides["intervals"] = None  # so many checks, every minute
    if args.dependencies is not None:
        overrides["dependencies"] = max(0, args.dependencies)
    if args.duration_ms is not None:
        overrides["probe_duration_s"] = args.duration_ms / 1000.0
    if args.measure:
        overrides["probe_duration_s"] = _measure(config)
    usage = cost.usage_from_config(config, **overrides)
    est = cost.estimate(usage)
    counts = [int(c) for c in args.compare.split(",") if c.strip()]
    base = replace(usage, probe_duration_s=None)
    rows = cost.comparison(counts, base) if counts else []
    if args.json:
        print(
            json.dumps(
                {
                    "usage": asdict(usage),
                    "probe_duration_s": round(cost.probe_duration_s(usage), 3),
                    "items": [asdict(i) for i in est.items],
                    "intervals": cost.interval_rows(usage),
                    "total_usd": round(est.total, 2),
                    "comparison": rows,
                }
            )
        )
        return 0
    how = "measured" if args.measure or args.duration_ms is not None else "estimated"
    print(
        f"{usage.checks} checks, probe {usage.probe_memory_mb} MB arm64, run {cost.probe_duration_s(usage):.2f} s "
        f"({how}), {per_check} log bytes per check per run (measured), "
        f"resolved incidents kept {usage.retention_days:g} days (retention)"
        + (
            f", {usage.dependencies} health-JSON dependencies (a metric and an alarm metric each)"
            if usage.dependencies
            else ""
        )
        + "\n"
    )
    print(cost.estimate_markdown(est))
    print(f"\nper check: ${est.per_check():.3f} / month")
    print("\nBy interval (each check's metric, alarm and log ingestion):\n")
    print(cost.interval_markdown(cost.interval_rows(usage)))
    if rows:
        print("\nSame checks elsewhere (per month):\n")
        print(cost.comparison_markdown(rows))
    print("\nus-east-1 list prices before free tiers; verify on the AWS pricing pages before quoting.")
    return 0


def _measure(config) -> float:
    from uptime_relay.adapters.secrets import SecretResolver
    from uptime_relay.probe.engine import run_checks

    started = time.perf_counter()
    run_checks(config.checks, concurrency=config.probe.concurrency, secrets=SecretResolver(), deadline_s=50.0)
    return time.perf_counter() - started + 0.2  # plus the start-up and flush the Lambda run adds
