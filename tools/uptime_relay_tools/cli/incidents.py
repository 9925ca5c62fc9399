"""uptime-relay incidents list|show ID|ack ID|resolve ID|report — incident state in AWS or locally.

The store is the DynamoDB table named by ``--table`` or ``$TABLE_NAME``; ``--endpoint-url`` (or
``$AWS_ENDPOINT_URL``, which boto3 honours itself) points at the local stack's embedded moto server.
``ack`` and ``resolve`` go through ``uptime_relay.actions.apply_action``, the same conditional
writes the Slack buttons and email links use, and then tell the incident's channels like the
actions function does (``ChangeNotifier``: PagerDuty acknowledge/resolve, Slack message updates,
email on resolve) through a ``Dispatcher``; a follow-up that failed transiently is kept for the
escalation sweep's automatic redelivery, one refused for good goes to the notification
dead-letter queue (``--dlq-url``, ``$DLQ_URL`` or the stack's ``NotificationDeadLetterQueueUrl``
output). ``--no-notify`` changes the state only.

Exit codes: 0 done / changed (a follow-up that failed is reported on stderr; kept for automatic
redelivery when the failure was transient, dead-lettered when permanent);
1 nothing changed (already in that state, or not found); 2 usage or connection problem (no table
named, table unreachable).
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from uptime_relay import clock
from uptime_relay.config import parse_duration

STATUSES = ("open", "acknowledged", "resolved")
StoreFactory = Callable[[argparse.Namespace], Any]


class UsageError(Exception):
    """Wrong invocation or unreachable store: exit 2 with this message."""


def register(sub) -> None:
    common = argparse.ArgumentParser(add_help=False)
    add_location_arguments(common)

    p = sub.add_parser("incidents", help="list, acknowledge and resolve incidents (AWS or local)")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    ls = actions.add_parser("list", parents=[common], help="open and acknowledged incidents (newest first)")
    ls.add_argument("--all", action="store_true", help="include resolved incidents")
    ls.add_argument("--status", action="append", choices=STATUSES, help="only these statuses (repeatable)")
    ls.add_argument("--since", metavar="DURATION", help="opened within this long, e.g. 24h, 7d")
    ls.add_argument("--json", action="store_true", help="one JSON object per incident per line")

    show = actions.add_parser("show", parents=[common], help="one incident with its timeline")
    show.add_argument("id", metavar="ID", help="incident id (or a unique prefix)")
    show.add_argument("--json", action="store_true", help="the incident as one JSON object")
    show.add_argument(
        "--config",
        metavar="PATH",
        help="for the escalation policy's step count (default: $UPTIME_CONFIG, else /opt/uptime.yaml)",
    )

    for name, verb in (("ack", "acknowledge (stops escalation)"), ("resolve", "resolve")):
        a = actions.add_parser(name, parents=[common], help=f"{verb} an incident and tell its channels")
        a.add_argument("id", metavar="ID", help="incident id (or a unique prefix)")
        a.add_argument("--by", metavar="NAME", help="who (default: your login name)")
        a.add_argument("--json", action="store_true", help="print the result as JSON")
        a.add_argument(
            "--no-notify",
            action="store_true",
            help="change the state only: do not tell PagerDuty, Slack or email",
        )
        a.add_argument(
            "--config",
            metavar="PATH",
            help="the channels to tell (default: $UPTIME_CONFIG, else /opt/uptime.yaml)",
        )
        a.add_argument(
            "--dlq-url",
            metavar="URL",
            help="dead-letter queue for sends that fail (default: $DLQ_URL, else the stack's "
            "NotificationDeadLetterQueueUrl output with --stack)",
        )

    actions.add_parser(
        "reindex",
        parents=[common],
        help="once after upgrading: put incidents and silences written before the listing index into it",
    )

    rep = actions.add_parser("report", parents=[common], help="MTTA / MTTR per check")
    rep.add_argument("--since", metavar="DURATION", default="30d", help="period to cover (default 30d)")
    rep.add_argument("--check", metavar="NAME", action="append", help="only this check (repeatable)")
    rep.add_argument("--json", action="store_true", help="one JSON object per check per line")

    p.set_defaults(func=run)


# --------------------------------------------------------------------------------------- entry
def run(
    args: argparse.Namespace,
    *,
    store_factory: StoreFactory | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    now: datetime | None = None,
    dead_letters: Any = None,
    secrets: Any = None,
) -> int:
    """``dead_letters`` / ``secrets`` replace the SQS queue and the secret resolver (tests)."""
    out = out or sys.stdout
    err = err or sys.stderr
    now = now or clock.now()
    try:
        store = (store_factory or make_store)(args)
        if args.action in ("ack", "resolve"):
            with quiet_package_logs():
                return _change(store, args, out, err, now, dead_letters=dead_letters, secrets=secrets)
        handler = {"list": _list, "show": _show, "report": _report, "reindex": _reindex}
        return handler[args.action](store, args, out, err, now)
    except UsageError as exc:
        print(f"uptime-relay incidents: {exc}", file=err)
        return 2


@contextlib.contextmanager
def quiet_package_logs() -> Iterator[None]:
    """Keep the package's log records (the dispatcher's bare "delivery failed" warnings) off the
    terminal while the CLI says the same in its own lines ("could not tell CHANNEL: error").

    Without any handler configured, Python prints WARNING records on stderr through its
    last-resort handler; a NullHandler on the ``uptime_relay`` logger stops that. Handlers that
    someone configured on purpose (``logging.basicConfig``, a test's log capture) still get them."""
    package = logging.getLogger("uptime_relay")
    quiet = logging.NullHandler()
    package.addHandler(quiet)
    try:
        yield
    finally:
        package.removeHandler(quiet)


def make_store(args: argparse.Namespace) -> Any:
    """The DynamoDB incident store named by the arguments / environment."""
    from uptime_relay.adapters.groups import DynamoGroupStore
    from uptime_relay.adapters.incidents import DynamoIncidentStore

    table = resolve_table(args)
    client = aws_client("dynamodb", args)
    store = _Guarded(DynamoIncidentStore(table, client=client, retention=_retention(args)), table)
    store.groups = DynamoGroupStore(table, client=client)  # a resolved member's group learns it
    return store


def _retention(args: argparse.Namespace) -> timedelta:
    """How long an incident resolved from here is kept: the config's ``retention`` when a config
    can be read (``--config``, $UPTIME_CONFIG, /opt/uptime.yaml), else the default."""
    from uptime_relay.adapters.incidents import DEFAULT_RETENTION
    from uptime_relay.config import ConfigError
    from uptime_relay.config.loader import default_config_path, load_config

    if getattr(args, "action", None) != "resolve":
        return DEFAULT_RETENTION
    try:
        return timedelta(
            seconds=load_config(getattr(args, "config", None) or str(default_config_path())).retention
        )
    except (ConfigError, OSError):
        return DEFAULT_RETENTION


def is_local_endpoint(url: str) -> bool:
    """True for the local stack's moto server (loopback only)."""
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def aws_client(service: str, args: argparse.Namespace) -> Any:
    import boto3

    kwargs: dict[str, Any] = {}
    endpoint = getattr(args, "endpoint_url", None) or os.environ.get("AWS_ENDPOINT_URL")
    if getattr(args, "endpoint_url", None):
        kwargs["endpoint_url"] = args.endpoint_url
    if getattr(args, "region", None):
        kwargs["region_name"] = args.region
    if endpoint and is_local_endpoint(endpoint):
        # the local stack (moto) takes any region and credentials: do not make a fresh shell set them
        session = boto3.session.Session()
        if not kwargs.get("region_name") and not session.region_name:
            kwargs["region_name"] = "us-east-1"
        if session.get_credentials() is None:
            kwargs["aws_access_key_id"] = "local"
            kwargs["aws_secret_access_key"] = "local"
    try:
        return boto3.client(service, **kwargs)
    except Exception as exc:  # e.g. NoRegionError
        raise UsageError(f"cannot create a {service} client: {exc}") from None


def resolve_table(args: argparse.Namespace) -> str:
    """``--table``, else ``$TABLE_NAME``, else the ``TableName`` output of ``--stack`` / ``$UPTIME_STACK``."""
    table = getattr(args, "table", None) or os.environ.get("TABLE_NAME")
    if table:
        return table
    stack = getattr(args, "stack", None) or os.environ.get("UPTIME_STACK")
    if not stack:
        raise UsageError(
            "no table: pass --table NAME, set TABLE_NAME, or name the stack with --stack NAME "
            "(e.g. uptime-relay, or uptime-relay-local for the local stack)"
        )
    table = stack_output(args, stack, "TableName")
    if table is None:
        raise UsageError(f"stack {stack} has no TableName output: pass --table NAME")
    return table


def resolve_dlq_url(args: argparse.Namespace) -> str | None:
    """``--dlq-url``, else ``$DLQ_URL``, else the ``NotificationDeadLetterQueueUrl`` output of
    ``--stack`` / ``$UPTIME_STACK``; None when none is named."""
    url = getattr(args, "dlq_url", None) or os.environ.get("DLQ_URL")
    if url:
        return url
    stack = getattr(args, "stack", None) or os.environ.get("UPTIME_STACK")
    return stack_output(args, stack, "NotificationDeadLetterQueueUrl") if stack else None


def stack_output(args: argparse.Namespace, stack: str, key: str) -> str | None:
    """The stack's output ``key`` (None when it has none). A stack without any outputs may be the
    local stack (``uptime-relay local``): moto's DescribeStacks has none for it, so its outputs are
    read from the SSM parameter ``/uptime-relay/local/<stack>/outputs`` it writes (JSON)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ..local.cloudformation import outputs_parameter

    try:
        reply = aws_client("cloudformation", args).describe_stacks(StackName=stack)
    except (BotoCoreError, ClientError) as exc:
        raise UsageError(f"stack {stack}: {_aws_reason(exc)}") from None
    outputs = {
        str(o.get("OutputKey")): str(o.get("OutputValue"))
        for o in (reply.get("Stacks") or [{}])[0].get("Outputs") or []
    }
    if not outputs:
        try:
            parameter = aws_client("ssm", args).get_parameter(Name=outputs_parameter(stack))["Parameter"]
            local = json.loads(parameter["Value"])
        except (BotoCoreError, ClientError, KeyError, ValueError):
            local = None  # not a local stack (or no access): the stack simply has no outputs
        if isinstance(local, dict):
            outputs = {str(k): str(v) for k, v in local.items()}
    return outputs.get(key)


def add_location_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", metavar="NAME", help="DynamoDB table (default: $TABLE_NAME)")
    parser.add_argument(
        "--stack",
        metavar="NAME",
        help="find the table from this CloudFormation stack's TableName output (default: $UPTIME_STACK)",
    )
    parser.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="AWS endpoint, e.g. the local stack's http://127.0.0.1:PORT (default: $AWS_ENDPOINT_URL)",
    )
    parser.add_argument("--region", help="AWS region (default: the usual AWS configuration)")


def _reindex(store: Any, args: argparse.Namespace, out: TextIO, err: TextIO, now: datetime) -> int:
    """Incidents and silences written before the ``listing`` index get its keys (one scan)."""
    from uptime_relay.adapters.silences import DynamoSilences

    incidents = store.reindex()
    silences = _Guarded(DynamoSilences(store.table_name, client=store.client), store.table_name).reindex()
    print(f"added to the listing index: {incidents} incident(s), {silences} silence(s)", file=out)
    return 0


class _Guarded:
    """Turns AWS errors (no such table, no credentials, endpoint down) into one clear line."""

    def __init__(self, store: Any, table: str):
        self._store = store
        self._table = table

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if not callable(target):
            return target

        def call(*a: Any, **kw: Any) -> Any:
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                return target(*a, **kw)
            except (BotoCoreError, ClientError) as exc:
                raise UsageError(f"table {self._table}: {_aws_reason(exc)}") from None

        return call


def _aws_reason(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error") or {}
    if error.get("Code"):
        return f"{error['Code']}: {error.get('Message', '')}".strip(": ")
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------------- list/show
def _list(store: Any, args: argparse.Namespace, out: TextIO, err: TextIO, now: datetime) -> int:
    statuses = tuple(args.status) if args.status else (STATUSES if args.all else ("open", "acknowledged"))
    since = now - timedelta(seconds=_duration(args.since, "--since")) if args.since else None
    incidents = sorted(store.list(statuses=statuses, since=since), key=lambda i: i.opened_at, reverse=True)
    if args.json:
        for incident in incidents:
            out.write(json.dumps(incident_json(incident, now)) + "\n")
        return 0
    if not incidents:
        print(f"no {'/'.join(statuses)} incidents", file=out)
        return 0
    rows = [
        (
            i.id,
            i.status,
            _clip(i.check or i.name, 40),
            f"{i.opened_at.astimezone(UTC):%Y-%m-%d %H:%M}",
            _clip(i.acknowledged_by or "-", 24),
            age(now - i.opened_at),
        )
        for i in incidents
    ]
    _table(out, ("ID", "STATUS", "CHECK/NAME", "OPENED (UTC)", "ACKED BY", "AGE"), rows)
    return 0


def _show(store: Any, args: argparse.Namespace, out: TextIO, err: TextIO, now: datetime) -> int:
    incident = _find(store, args.id, err)
    if incident is None:
        return 1
    pending = _pending_sends(store, incident.id)
    if args.json:
        shown = incident_json(incident, now, timeline=True)
        shown["redelivery_pending"] = [
            {
                "channel": p.channel,
                "kind": p.kind,
                "next_attempt_at": p.next_at.isoformat(),
                "attempts": p.attempts,
                "first_failed_at": p.first_failed_at.isoformat(),
                "error": p.error,
            }
            for p in pending
        ]
        out.write(json.dumps(shown) + "\n")
        return 0
    print(f"{incident.id}  {incident.status}  {incident.name}", file=out)
    print(
        f"  opened    {incident.opened_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC "
        f"({age(now - incident.opened_at)} ago)",
        file=out,
    )
    if incident.check:
        print(f"  check     {incident.check}", file=out)
    if incident.acknowledged_by:
        print(f"  acked by  {incident.acknowledged_by}", file=out)
    if getattr(incident, "group_id", None):
        print(f"  group     {incident.group_id} (pages, resolves and escalates for it)", file=out)
    if getattr(incident, "resolved_by", None):
        print(f"  resolved  by {incident.resolved_by}", file=out)
    if incident.policy:
        print(
            f"  policy    {incident.policy}: {escalation_state(incident, _policy(args, incident.policy))}",
            file=out,
        )
    if pending:
        print("  pending redelivery", file=out)
        for p in pending:
            print(
                f"    {p.channel}  {p.kind}  next attempt {p.next_at.astimezone(UTC):%H:%M:%S} UTC "
                f"(failed {p.attempts}x since {p.first_failed_at.astimezone(UTC):%H:%M:%S}: {p.error})",
                file=out,
            )
    print("  timeline", file=out)
    for entry in incident.timeline:
        where = f" [{entry.channel}]" if entry.channel else ""
        print(f"    {entry.at.astimezone(UTC):%H:%M:%S}  {entry.kind}{where}  {entry.detail}", file=out)
    return 0


def _pending_sends(store: Any, incident_id: str) -> list[Any]:
    """The incident's sends waiting for automatic redelivery (none from a store without them)."""
    reader = getattr(store, "pending_sends", None)
    return list(reader(incident_id)) if callable(reader) else []


def escalation_state(incident: Any, policy: Any = None) -> str:
    """Where the escalation stands, one-based like the timeline ("escalation step 2, round 1"):
    ``next step 2 of 3 (round 1 of 2), due 12:10 UTC``, ``no step left``, or why it stopped.
    ``incident.step`` / ``round`` are the zero-based cursor of the next step; without the policy
    (no config at hand) the totals are left out."""
    if incident.status != "open":
        return f"escalation stopped ({incident.status})"
    if incident.due_at is None:
        return "no step left"
    step, round_ = incident.step + 1, incident.round + 1
    if policy is not None:
        text = f"next step {step} of {len(policy.steps)} (round {round_} of {1 + policy.repeat})"
    else:
        text = f"next step {step} (round {round_})"
    return f"{text}, due {incident.due_at.astimezone(UTC):%H:%M} UTC"


def _policy(args: argparse.Namespace, name: str) -> Any:
    """The named escalation policy from the config, or None when no config can be read (``show``
    still works from the table alone)."""
    from uptime_relay.config import ConfigError
    from uptime_relay.config.loader import default_config_path, load_config

    path = getattr(args, "config", None) or str(default_config_path())
    try:
        return load_config(path).escalation_policies.get(name)
    except (ConfigError, OSError):
        return None


# --------------------------------------------------------------------------------------- ack/resolve
def _change(
    store: Any,
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    now: datetime,
    *,
    dead_letters: Any = None,
    secrets: Any = None,
) -> int:
    from uptime_relay.actions import ACK, RESOLVE, apply_action

    kind = ACK if args.action == "ack" else RESOLVE
    incident = _find(store, args.id, err)
    if incident is None:
        return 1
    by = args.by or _login()
    # never before what the timeline already holds: the local stack's clock runs ahead of ours
    at = max([now, incident.opened_at, *(entry.at for entry in incident.timeline)])
    outcome = apply_action(
        store, kind, incident.id, by=by, via="cli", at=at, groups=getattr(store, "groups", None)
    )
    verb = "acknowledged" if kind == ACK else "resolved"
    told: list[dict[str, Any]] = []
    if outcome.changed:
        if not args.json:
            print(f"{incident.id} {verb} by {by}", file=out)
        if not getattr(args, "no_notify", False):
            told = _tell_channels(
                store, args, kind, outcome.incident, by, out, err, dead_letters=dead_letters, secrets=secrets
            )
    if args.json:
        result = {
            "id": incident.id,
            "changed": outcome.changed,
            "reason": outcome.reason,
            "status": outcome.incident.status if outcome.incident is not None else None,
        }
        if outcome.changed:
            result["notified"] = told
        out.write(json.dumps(result) + "\n")
    if outcome.changed:
        return 0
    print(f"{incident.id}: {outcome.message(kind)} Nothing changed.", file=err)
    return 1


def _tell_channels(
    store: Any,
    args: argparse.Namespace,
    kind: str,
    incident: Any,
    by: str,
    out: TextIO,
    err: TextIO,
    *,
    dead_letters: Any = None,
    secrets: Any = None,
) -> list[dict[str, Any]]:
    """The actions function's follow-ups (``ChangeNotifier``, via="cli") for one change: what
    was told, as JSON-able rows. Problems are said on ``err``; the change stands either way."""
    from uptime_relay.config import ConfigError
    from uptime_relay.config.loader import default_config_path, load_config
    from uptime_relay.delivery import Dispatcher
    from uptime_relay.followups import ChangeNotifier
    from uptime_relay.notifiers.registry import make_notifiers

    path = getattr(args, "config", None) or str(default_config_path())
    try:
        config = load_config(path)
    except (ConfigError, OSError) as exc:
        print(
            f"channels not told (config {path}: {_first_line(exc)}); "
            "pass --config PATH, or --no-notify to change the state only",
            file=err,
        )
        return []
    queue_named = True
    if dead_letters is None:
        from uptime_relay.adapters.queue import InMemoryDeadLetters, SqsDeadLetters

        url = resolve_dlq_url(args)
        queue_named = bool(url)
        dead_letters = SqsDeadLetters(url, client=aws_client("sqs", args)) if url else InMemoryDeadLetters()
    if secrets is None:
        from uptime_relay.adapters.secrets import SecretResolver

        secrets = SecretResolver()
    dispatcher = Dispatcher(config, make_notifiers(), secrets, dead_letters)
    outcomes = ChangeNotifier(config, dispatcher, store)(kind, incident, by, "cli") or []
    rows = []
    for o in outcomes:
        rows.append(
            {"channel": o.channel, "ok": bool(o.ok), "error": o.error, "dead_lettered": bool(o.dead_lettered)}
        )
        if o.ok:
            if not args.json:
                print(f"  told {o.channel}", file=out)
        elif o.dead_lettered and queue_named:
            print(f"  could not tell {o.channel}: {o.error} (on the dead-letter queue)", file=err)
        elif not o.permanent:
            print(f"  could not tell {o.channel}: {o.error} (the escalation sweep retries it)", file=err)
        else:
            print(
                f"  could not tell {o.channel}: {o.error} (no dead-letter queue: pass --dlq-url or --stack)",
                file=err,
            )
    return rows


def _first_line(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(line.strip() for line in text.splitlines()[:2])


def _find(store: Any, wanted: str, err: TextIO) -> Any:
    """By exact id, else by a unique prefix (ids are long); None (said on ``err``) otherwise."""
    incident = store.get(wanted)
    if incident is not None:
        return incident
    matches = (
        [i for i in store.list(statuses=STATUSES) if i.id.startswith(wanted)] if len(wanted) >= 6 else []
    )
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        print(f"{wanted}: matches {len(matches)} incidents; give more of the id", file=err)
        return None
    print(f"{wanted}: no such incident (see `uptime-relay incidents list --all`)", file=err)
    return None


# --------------------------------------------------------------------------------------- report
def _report(store: Any, args: argparse.Namespace, out: TextIO, err: TextIO, now: datetime) -> int:
    from ..report import format_duration, response_report

    start = now - timedelta(seconds=_duration(args.since, "--since"))
    incidents = store.list(statuses=STATUSES, since=start)
    rows = response_report(incidents, start, now)
    if args.check:
        rows = [r for r in rows if r.check in set(args.check)]
    if args.json:
        for row in rows:
            out.write(json.dumps(asdict(row)) + "\n")
        return 0
    if not rows:
        print(f"no incidents opened since {start:%Y-%m-%d %H:%M} UTC", file=out)
        return 0
    _table(
        out,
        ("CHECK", "INCIDENTS", "ACKED", "RESOLVED", "MTTA", "MTTR", "MEDIAN TTA", "MEDIAN TTR"),
        [
            (
                r.check,
                str(r.incidents),
                str(r.acknowledged),
                str(r.resolved),
                format_duration(r.mtta_s),
                format_duration(r.mttr_s),
                format_duration(r.median_tta_s),
                format_duration(r.median_ttr_s),
            )
            for r in rows
        ],
    )
    print(f"since {start:%Y-%m-%d %H:%M} UTC", file=out)
    return 0


# --------------------------------------------------------------------------------------- output
def incident_json(incident: Any, now: datetime, *, timeline: bool = True) -> dict[str, Any]:
    """The incident as JSON (without the raw opening alert), plus ``age_s``."""
    from uptime_relay.domain.incident import incident_to_dict

    data = incident_to_dict(incident)
    data.pop("alert", None)
    if not timeline:
        data.pop("timeline", None)
    data["age_s"] = round((now - incident.opened_at).total_seconds())
    return data


def age(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _table(out: TextIO, header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> None:
    rows = list(rows)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    for line in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip(), file=out)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _duration(value: str, flag: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "cli"
