"""uptime-relay uptime — uptime %, downtime, incidents, MTTR, MTBF and the SLA per check and window,
from the probe's ``Availability`` metric (``uptime_relay.sla``)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from uptime_relay import clock
from uptime_relay.config import ConfigError
from uptime_relay.config.loader import default_config_path, load_config
from uptime_relay.domain.availability import WINDOWS, WindowReport, parse_windows

from .incidents import UsageError, add_location_arguments, aws_client, make_store, stack_output


def register(sub) -> None:
    p = sub.add_parser(
        "uptime",
        help="uptime %%, downtime, incidents, MTTR/MTBF and SLA per check over 24h/7d/30d/90d",
        description="Reads the probe's Availability metric (minutes probed, not minutes elapsed: a "
        "minute never probed is a gap, not uptime) and the incident table. Older days are read at the "
        "resolution CloudWatch keeps (1 minute to day 15, 5 minutes to day 63, then 1 hour).",
    )
    p.add_argument("--config", help="configuration file (default: $UPTIME_CONFIG, else /opt/uptime.yaml)")
    p.add_argument(
        "--window",
        default=",".join(WINDOWS),
        help=f"comma-separated windows, each ending now (default {','.join(WINDOWS)})",
    )
    p.add_argument("--check", action="append", metavar="NAME", help="only this check (repeatable)")
    p.add_argument(
        "--exclude-maintenance",
        action="store_true",
        help="leave minutes inside maintenance windows and silences out of uptime and the SLA",
    )
    p.add_argument("--namespace", help="metric namespace (default: the stack's MetricsNamespace output)")
    p.add_argument(
        "--at",
        type=_at,
        metavar="TIME",
        help="end the windows at this time (ISO 8601, UTC if no offset) instead of now, e.g. the "
        "local stack's simulated time",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per check per window per line")
    add_location_arguments(p)
    p.set_defaults(func=run)


def run(
    args: argparse.Namespace,
    *,
    reader: Any = None,
    store: Any = None,
    silences: Any = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``reader`` / ``store`` / ``silences`` replace CloudWatch and the table (tests)."""
    from uptime_relay.sla import uptime_reports

    out, err = out or sys.stdout, err or sys.stderr
    try:
        config = load_config(args.config or default_config_path())
    except ConfigError as exc:
        print(exc, file=err)
        return 2
    try:
        windows = parse_windows(args.window)
        unknown = sorted(set(args.check or ()) - {c.name for c in config.checks})
        if unknown:
            raise UsageError(f"unknown check {', '.join(unknown)}: not in {config.source}")
        store = store if store is not None else make_store(args)
        if reader is None:
            reader = _reader(args)
        if silences is None:
            silences = _silences(args)
        reports = uptime_reports(
            config,
            reader,
            store,
            now=args.at or clock.now(),
            windows=windows,
            checks=args.check,
            silences=silences,
            exclude_maintenance=args.exclude_maintenance,
        )
    except (UsageError, ValueError) as exc:
        print(f"uptime-relay uptime: {exc}", file=err)
        return 2
    if args.json:
        for one in reports:
            print(json.dumps(one.to_dict()), file=out)
    else:
        _table(reports, out)
    return 0


def _at(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _reader(args: argparse.Namespace) -> Any:
    from uptime_relay.adapters.availability import CloudWatchAvailability

    namespace = args.namespace
    stack = getattr(args, "stack", None)
    if namespace is None and stack:
        namespace = stack_output(args, stack, "MetricsNamespace")
    return CloudWatchAvailability(aws_client("cloudwatch", args), namespace)


def _silences(args: argparse.Namespace) -> list[Any]:
    from uptime_relay.adapters.silences import DynamoSilences

    from .incidents import resolve_table

    return DynamoSilences(resolve_table(args), client=aws_client("dynamodb", args)).list()


def _minutes(value: float | None) -> str:
    if value is None:
        return "-"
    minutes = round(value)
    return f"{minutes // 60}h{minutes % 60:02d}m" if abs(minutes) >= 60 else f"{minutes}m"


def _seconds(value: float | None) -> str:
    return "-" if value is None else _minutes(value / 60)


def _table(reports: list[WindowReport], out: TextIO) -> None:
    header = (
        "check",
        "window",
        "uptime",
        "probed",
        "gap",
        "down",
        "incidents",
        "MTTR",
        "MTBF",
        "SLA",
        "budget left",
        "maintenance",
    )
    rows = [header]
    for r in reports:
        d = r.to_dict()
        sla = (
            "-"
            if r.sla is None
            else f"{r.sla:g}% " + ("met" if r.sla_met else "MISSED" if r.sla_met is False else "no data")
        )
        rows.append(
            (
                r.check,
                r.window,
                "no data" if d["uptime_pct"] is None else f"{d['uptime_pct']:.3f}%",
                _minutes(d["minutes_probed"]),
                _minutes(d["gap_minutes"]),
                _minutes(d["downtime_minutes"]),
                str(r.incidents),
                _seconds(r.mttr_s),
                _seconds(r.mtbf_s),
                sla,
                _minutes(r.error_budget_minutes),
                _minutes(d["maintenance_minutes"]) + (" (excluded)" if r.excluded_maintenance else ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out
        )
