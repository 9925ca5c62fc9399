"""uptime-relay silence add|list|end — one-off silences (planned work), in AWS or the local stack.

    uptime-relay silence add --match check=api --match env=prod --for 2h --comment "db migration"

A silence holds for incidents whose labels carry every ``--match`` pair, from now (or ``--start``)
for ``--for``. Stored as ``SILENCE#<id>`` in the incident table (``--table`` / ``$TABLE_NAME``;
``--endpoint-url`` for the local stack). Exit codes: 0 done; 1 nothing changed (unknown or
already ended silence); 2 usage or connection problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from uptime_relay import clock
from uptime_relay.config import LABEL_KEY_RE, parse_duration

from .incidents import (
    UsageError,
    _aws_reason,
    _login,
    _table,
    age,
    aws_client,
    resolve_table,
)

StoreFactory = Callable[[argparse.Namespace], Any]
MAX_SILENCE = timedelta(days=90)


def register(sub) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--table", metavar="NAME", help="DynamoDB table (default: $TABLE_NAME)")
    common.add_argument(
        "--endpoint-url", metavar="URL", help="DynamoDB endpoint (default: $AWS_ENDPOINT_URL)"
    )
    common.add_argument("--region", help="AWS region (default: the usual AWS configuration)")

    p = sub.add_parser("silence", help="one-off silences for planned work (add, list, end)")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    add = actions.add_parser("add", parents=[common], help="silence matching incidents for a while")
    add.add_argument(
        "--match",
        metavar="LABEL=VALUE",
        action="append",
        required=True,
        help="label that must match (repeatable; all must match)",
    )
    add.add_argument(
        "--for", dest="duration", metavar="DURATION", required=True, help="how long, e.g. 30m, 2h"
    )
    add.add_argument("--start", metavar="TIME", help="ISO start time (default: now)")
    add.add_argument("--comment", default="", help="why (shown on incidents it silences)")
    add.add_argument("--by", metavar="NAME", help="who (default: your login name)")
    add.add_argument("--json", action="store_true")

    ls = actions.add_parser("list", parents=[common], help="active and upcoming silences")
    ls.add_argument("--all", action="store_true", help="include ended silences (kept a week)")
    ls.add_argument("--json", action="store_true", help="one JSON object per silence per line")

    end = actions.add_parser("end", parents=[common], help="end a silence now (or cancel an upcoming one)")
    end.add_argument("id", metavar="ID")

    p.set_defaults(func=run)


def run(
    args: argparse.Namespace,
    *,
    store_factory: StoreFactory | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    now = now or clock.now()
    try:
        store = (store_factory or make_store)(args)
        return {"add": _add, "list": _list, "end": _end}[args.action](store, args, out, err, now)
    except UsageError as exc:
        print(f"uptime-relay silence: {exc}", file=err)
        return 2


def make_store(args: argparse.Namespace) -> Any:
    from uptime_relay.adapters.silences import DynamoSilences

    table = resolve_table(args)
    return _Guarded(DynamoSilences(table, client=aws_client("dynamodb", args)), table)


class _Guarded:
    def __init__(self, store: Any, table: str):
        self._store, self._table = store, table

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)

        def call(*a: Any, **kw: Any) -> Any:
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                return target(*a, **kw)
            except (BotoCoreError, ClientError) as exc:
                raise UsageError(f"table {self._table}: {_aws_reason(exc)}") from None

        return call


def parse_matchers(items: list[str]) -> dict[str, str]:
    match: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise UsageError(f"--match {item!r}: write it as LABEL=VALUE, e.g. check=api")
        if not LABEL_KEY_RE.match(key):
            raise UsageError(f"--match {item!r}: bad label name {key!r}")
        match[key] = value
    return match


def _add(store: Any, args: argparse.Namespace, out: TextIO, err: TextIO, now: datetime) -> int:
    from uptime_relay.adapters.silences import new_silence_id
    from uptime_relay.domain.silence import Silence

    match = parse_matchers(args.match)
    try:
        length = timedelta(seconds=parse_duration(args.duration))
    except ValueError as exc:
        raise UsageError(f"--for: {exc}") from None
    if length <= timedelta(0) or length > MAX_SILENCE:
        raise UsageError(f"--for: must be more than 0 and at most {MAX_SILENCE.days}d")
    start = now
    if args.start:
        try:
            start = datetime.fromisoformat(args.start)
        except ValueError:
            raise UsageError(
                f"--start: expected an ISO time like 2026-11-25T18:00Z, got {args.start!r}"
            ) from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    silence = Silence(
        id=new_silence_id(),
        match=match,
        starts_at=start,
        ends_at=start + length,
        created_by=args.by or _login(),
        comment=args.comment,
    )
    if not store.add(silence):
        print(f"silence id {silence.id} already exists; try again", file=err)
        return 1
    if args.json:
        out.write(json.dumps(silence.to_item()) + "\n")
    else:
        labels = ", ".join(f"{k}={v}" for k, v in match.items())
        print(f"{silence.id}: silencing {labels} until {silence.ends_at:%Y-%m-%d %H:%M} UTC", file=out)
    return 0


def _list(store: Any, args: argparse.Namespace, out: TextIO, err: TextIO, now: datetime) -> int:
    silences = [s for s in store.list() if args.all or s.ends_at > now]
    if args.json:
        for s in silences:
            out.write(json.dumps({**s.to_item(), "active": s.active(now)}) + "\n")
        return 0
    if not silences:
        print("no silences", file=out)
        return 0
    rows = []
    for s in silences:
        state = "active" if s.active(now) else ("ended" if s.ends_at <= now else "upcoming")
        left = age(s.ends_at - now) if s.ends_at > now else "-"
        rows.append(
            (
                s.id,
                state,
                ", ".join(f"{k}={v}" for k, v in s.match.items()) or "(everything)",
                f"{s.ends_at.astimezone(UTC):%Y-%m-%d %H:%M}",
                left,
                s.created_by or "-",
                s.comment or "",
            )
        )
    _table(out, ("ID", "STATE", "MATCH", "ENDS (UTC)", "LEFT", "BY", "COMMENT"), rows)
    return 0


def _end(store: Any, args: argparse.Namespace, out: TextIO, err: TextIO, now: datetime) -> int:
    if store.end(args.id, now):
        print(f"{args.id}: ended", file=out)
        return 0
    existing = store.get(args.id)
    reason = "no such silence" if existing is None else "already ended"
    print(f"{args.id}: {reason}; nothing changed", file=err)
    return 1
