"""uptime-relay dlq list|replay [--queue-url URL | --stack NAME] [--endpoint-url URL] [--region R]
[--config CONFIG] [--max N]

``list`` shows what is waiting on the notification dead-letter queue; ``replay`` re-delivers each
record through the same Dispatcher the relay uses (retries honour Retry-After), deletes it on
success and keeps it on failure (it becomes visible again after the visibility timeout).
With ``--table`` (default ``$TABLE_NAME``) a replayed delivery is noted on its incident's timeline
and the handles it returned are saved, so a later resolve updates the replayed message; and a
TRIGGER or ESCALATION whose incident is no longer open (resolved, acknowledged, or gone) is not
re-sent (nobody is paged for what is over): it is deleted with a ``skipped`` line. RESOLVE,
WARNING and ACKNOWLEDGE records are always replayed.

The queue is ``--queue-url``, else ``$DLQ_URL``, else the ``NotificationDeadLetterQueueUrl`` output
of ``--stack`` / ``$UPTIME_STACK`` (whose ``TableName`` output is then the default table too).
``--endpoint-url`` / ``--region`` are passed to every AWS client (the local stack's moto server).
Exit codes: 0 done; 1 some records kept; 2 usage or AWS problem (one line on stderr, no traceback).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from uptime_relay.config import ConfigError
from uptime_relay.config.loader import default_config_path, load_config


def register(sub) -> None:
    p = sub.add_parser("dlq", help="list or replay notifications on the dead-letter queue")
    p.add_argument("action", choices=("list", "replay"), help="list records, or re-deliver them")
    p.add_argument("--queue-url", default=None, help="SQS queue URL (default: $DLQ_URL)")
    p.add_argument("--config", default=None, help="configuration file (default: $UPTIME_CONFIG)")
    p.add_argument("--max", type=int, default=100, metavar="N", help="handle at most N records (default 100)")
    p.add_argument("--table", default=None, help="incident table to note replays in (default: $TABLE_NAME)")
    p.add_argument("--json", action="store_true", help="list: one JSON record per line")
    p.add_argument(
        "--stack",
        metavar="NAME",
        help="find the queue (and table) from this CloudFormation stack's NotificationDeadLetterQueueUrl "
        "(and TableName) output (default: $UPTIME_STACK)",
    )
    p.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="AWS endpoint, e.g. the local stack's http://127.0.0.1:PORT (default: $AWS_ENDPOINT_URL)",
    )
    p.add_argument("--region", help="AWS region (default: the usual AWS configuration)")
    p.set_defaults(func=run)


def run(args, *, err: TextIO | None = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from .incidents import UsageError, _aws_reason

    err = err or sys.stderr
    where = "dead-letter queue"
    try:
        queue_url = _queue_url(args)
        where = f"queue {queue_url}"
        return _run(args, queue_url, err)
    except UsageError as exc:
        print(f"uptime-relay dlq: {exc}", file=err)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(f"uptime-relay dlq: {where}: {_aws_reason(exc)}", file=err)
        return 2


def _stack(args) -> str | None:
    return getattr(args, "stack", None) or os.environ.get("UPTIME_STACK")


def _queue_url(args) -> str:
    """``--queue-url``, else ``$DLQ_URL``, else the stack's NotificationDeadLetterQueueUrl output."""
    from .incidents import UsageError, stack_output

    queue_url = args.queue_url or os.environ.get("DLQ_URL")
    if queue_url:
        return queue_url
    stack = _stack(args)
    if not stack:
        raise UsageError("no queue: pass --queue-url URL, set DLQ_URL, or name the stack with --stack NAME")
    queue_url = stack_output(args, stack, "NotificationDeadLetterQueueUrl")
    if not queue_url:
        raise UsageError(f"stack {stack} has no NotificationDeadLetterQueueUrl output: pass --queue-url URL")
    return queue_url


def _run(args, queue_url: str, err: TextIO) -> int:
    from uptime_relay.adapters.queue import SqsDeadLetters

    from .incidents import aws_client, stack_output

    dead_letters = SqsDeadLetters(queue_url, client=aws_client("sqs", args))
    if args.action == "list":
        return list_records(dead_letters, max_records=args.max, as_json=args.json)
    try:
        config = load_config(args.config or default_config_path())
    except ConfigError as exc:
        print(exc, file=err)
        return 2
    from uptime_relay.adapters.secrets import SecretResolver
    from uptime_relay.delivery import Dispatcher
    from uptime_relay.notifiers.registry import make_notifiers

    if args.endpoint_url or args.region:
        secrets = SecretResolver(
            ssm_client=aws_client("ssm", args), secrets_client=aws_client("secretsmanager", args)
        )
        # an endpoint (the local stack) serves SES too; a region alone leaves each channel's own
        notifiers = make_notifiers(ses=aws_client("sesv2", args) if args.endpoint_url else None)
    else:
        secrets, notifiers = SecretResolver(), make_notifiers()
    dispatcher = Dispatcher(config, notifiers, secrets, dead_letters)
    table = args.table or os.environ.get("TABLE_NAME")
    if not table and _stack(args):
        table = stack_output(args, str(_stack(args)), "TableName")
    store = None
    if table:
        from uptime_relay.adapters.incidents import DynamoIncidentStore

        store = DynamoIncidentStore(table, client=aws_client("dynamodb", args))
    _replayed, kept = replay(dead_letters, dispatcher, config, max_records=args.max, store=store)
    return 0 if kept == 0 else 1


def describe(record: dict[str, Any]) -> str:
    note = record.get("notification") or {}
    alerts = ", ".join(f"{a.get('name')} [{a.get('state')}]" for a in note.get("alerts") or []) or "-"
    part = record.get("part") or {}
    if part:
        alerts += f" (part {part.get('index')} of {part.get('of')}: the notification was split to fit SQS)"
    return (
        f"{record.get('first_failure_at', '?')}  channel={record.get('channel')}  "
        f"kind={record.get('kind') or note.get('kind')}  incident={record.get('incident_id') or '-'}  "
        f"attempts={record.get('attempts')}  alerts: {alerts}\n    error: {record.get('error')}"
    )


def list_records(
    dead_letters: Any, *, max_records: int = 100, as_json: bool = False, out: TextIO | None = None
) -> int:
    """Print waiting records (they stay on the queue, visible)."""
    out = out or sys.stdout
    received = dead_letters.receive(max_records, peek=True)
    for item in received:
        if as_json:
            print(json.dumps({"handle": item.handle, **item.record}, sort_keys=True), file=out)
        else:
            print(describe(item.record), file=out)
    if not as_json:
        print(f"{len(received)} record(s) on the dead-letter queue", file=out)
    return 0


STALE_WHEN_CLOSED = ("trigger", "escalation")


def closed_incidents(record: dict[str, Any], store: Any) -> str | None:
    """Why a TRIGGER/ESCALATION record is stale (every incident it is about is no longer open),
    or None when it should be replayed. A grouped trigger names its incidents in
    ``handles["incidents"]``; it is replayed while any of them is open. A store that cannot be
    read never blocks a replay."""
    note = record.get("notification") or {}
    kind = str(record.get("kind") or note.get("kind") or "")
    if store is None or kind not in STALE_WHEN_CLOSED:
        return None
    # a grouped trigger covers its group's incidents; an escalation is about its own incident only
    group = (note.get("handles") or {}).get("incidents") if kind == "trigger" else None
    ids = [str(i) for i in (group or ()) if i]
    first = record.get("incident_id") or note.get("incident_id")
    if first and first not in ids:
        ids.insert(0, str(first))
    if not ids:
        return None
    states = []
    for incident_id in ids:
        try:
            incident = store.get(incident_id)
        except Exception:
            return None
        if incident is not None and incident.status == "open":
            return None
        states.append(f"{incident_id} {incident.status if incident is not None else 'not found'}")
    return "incident no longer open: " + ", ".join(states)


def replay(
    dead_letters: Any,
    dispatcher: Any,
    config: Any,
    *,
    max_records: int = 100,
    store: Any = None,
    out: TextIO | None = None,
) -> tuple[int, int]:
    """Re-deliver up to ``max_records``; returns (replayed, kept)."""
    from uptime_relay import clock
    from uptime_relay.delivery import notification_from_dict
    from uptime_relay.domain.incident import TimelineEntry

    out = out or sys.stdout
    replayed = kept = 0
    skipped = 0
    for item in dead_letters.receive(max_records):
        record = item.record
        channel = record.get("channel")
        stale = closed_incidents(record, store)
        if stale is not None:
            dead_letters.delete(item.handle)
            skipped += 1
            print(f"skipped and deleted ({stale}): {describe(record)}", file=out)
            continue
        try:
            notification = notification_from_dict(record["notification"], config)
        except (KeyError, ValueError, TypeError) as exc:
            print(f"kept (unreadable record: {type(exc).__name__}: {exc}): {describe(record)}", file=out)
            kept += 1
            continue
        outcome = dispatcher.deliver(channel, notification, dead_letter=False)
        if not outcome.ok:
            print(f"kept ({outcome.error}): {describe(record)}", file=out)
            kept += 1
            continue
        dead_letters.delete(item.handle)
        replayed += 1
        print(
            f"replayed to {channel} after {outcome.attempts} attempt(s): incident {record.get('incident_id')}",
            file=out,
        )
        if store is not None and notification.incident_id:
            handles = outcome.delivery.handles if outcome.delivery else {}
            entry = TimelineEntry(
                clock.now(),
                "notified",
                f"{notification.kind.value} replayed from the dead-letter queue",
                channel,
            )
            try:
                store.record_outcomes(
                    notification.incident_id, [entry], {channel: handles} if handles else {}
                )
            except Exception as exc:  # the delivery happened; the note is best effort
                print(f"  (timeline not updated: {type(exc).__name__})", file=out)
    print(f"{replayed} replayed, {kept} kept, {skipped} skipped (incident no longer open)", file=out)
    return replayed, kept
