"""uptime-relay check CONFIG [--check NAME ...] [--json] [--concurrency N]

Probes the selected checks once, concurrently, with the same engine the probe function runs.
Exit 0 when all are ok, 1 when any failed or could not be probed in time, 2 on a configuration error (or an unknown --check).
"""

from __future__ import annotations

import json
import sys

from uptime_relay.config import ConfigError
from uptime_relay.config.loader import load_config
from uptime_relay.probe import ProbeResult, run_checks


def register(sub) -> None:
    p = sub.add_parser(
        "check",
        help="probe checks once; exit 0 when all are ok, 1 when any failed, 2 on a config error",
        description="Probe the configured checks once (concurrently) and report each result.",
    )
    p.add_argument("config", metavar="CONFIG", help="path to the YAML configuration")
    p.add_argument(
        "--check",
        dest="checks",
        action="append",
        metavar="NAME",
        default=[],
        help="probe only this check (repeat for several; default: all)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per check per line")
    p.add_argument(
        "--concurrency",
        type=_positive_int,
        default=None,
        metavar="N",
        help="probes in flight at once (default: probe.concurrency from the config, else 100)",
    )
    p.set_defaults(func=run)


def _positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run(args) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    checks = list(config.checks)
    if args.checks:
        known = {c.name for c in checks}
        unknown = [name for name in dict.fromkeys(args.checks) if name not in known]
        if unknown:
            names = ", ".join(sorted(known)) or "(none)"
            for name in unknown:
                print(f"{args.config}: no check named {name!r} (checks: {names})", file=sys.stderr)
            return 2
        wanted = set(args.checks)
        checks = [c for c in checks if c.name in wanted]
    for check in checks:
        if check.heartbeat is not None:
            print(
                f"{check.name}: a heartbeat check is pinged by its job, not probed "
                f"(its ping URL: uptime-relay heartbeat-url {check.name})",
                file=sys.stderr,
            )
    checks = [c for c in checks if c.heartbeat is None]
    if not checks:
        print(f"{args.config}: no checks to probe", file=sys.stderr)
        return 0
    concurrency = args.concurrency or config.probe.concurrency
    results = run_checks(checks, concurrency=concurrency)
    if args.json:
        for result in results:
            print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print(format_table(results))
    return 0 if all(r.ok for r in results) else 1


def format_table(results: list[ProbeResult]) -> str:
    """An aligned table: one row per check, the failure (if any) spelled out in the last column."""
    header = ("CHECK", "RESULT", "STATUS", "LATENCY", "DNS", "CONNECT", "TLS", "TTFB", "CERT", "DETAIL")
    rows = [header]
    for r in results:
        t = r.timings
        detail = r.error or ""
        if not r.ok and r.phase:
            detail = f"[{r.phase}] {detail}"
        if r.attempts > 1:
            detail = f"{detail} (attempts: {r.attempts})".strip()
        rows.append(
            (
                r.check,
                "ok" if r.ok else r.reason,
                "-" if r.status_code is None else str(r.status_code),
                _ms(r.latency_ms),
                _ms(t.dns),
                _ms(t.connect),
                _ms(t.tls),
                _ms(t.ttfb),
                "-" if r.cert_days_left is None else f"{r.cert_days_left:.0f}d",
                detail,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    right = {2, 3, 4, 5, 6, 7, 8}
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])
        ]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    failed = sum(1 for r in results if r.ok is False)
    unprobed = sum(1 for r in results if r.ok is None)
    ok = len(results) - failed - unprobed
    lines.append("")
    summary = f"{len(results)} checks, {ok} ok, {failed} failed"
    if unprobed:
        summary += f", {unprobed} not probed (the run's deadline passed first)"
    lines.append(summary)
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}ms" if value >= 10 else f"{value:.1f}ms"
