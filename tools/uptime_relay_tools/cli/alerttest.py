"""uptime-relay test [--config CONFIG] [--labels k=v,…] [--stack NAME | --endpoint-url URL]
[--resolve-after 1m] [--dry-run]

A test alert through the real path and back: a CloudWatch-shaped ALARM for the synthetic check
``uptime-relay-test`` (its labels: ``--labels``, plus ``uptime_relay_test=<run id>``, which marks
its incident as a test) is published to the stack's alert topic (the ``AlertTopicArn`` output),
exactly as the check alarms publish. The relay handles it like any page. This command follows the
incident in the stack's table and prints the matched route and each channel's delivery as the
relay records it; after ``--resolve-after`` it publishes the OK and follows the resolve the same
way. ``--dry-run`` prints the route and the rendered messages without sending anything.

Exit codes: 0 every channel delivered the trigger and the resolve; 1 a channel failed, nothing
matched, or the relay did not record an outcome in time; 2 usage, config or AWS access problems.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from uptime_relay.config import Config, ConfigError, parse_duration
from uptime_relay.domain.alert import TEST_LABEL  # labels[TEST_LABEL] = run id: a test incident

from .incidents import UsageError, aws_client, is_local_endpoint, make_store, stack_output

TEST_CHECK = "uptime-relay-test"
RESERVED = ("alarm", "check", "namespace", "metric", TEST_LABEL)
_LABEL_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,62}$")
LOCAL_STACK = "uptime-relay-local"

HELP = __doc__.split("\n\n", 1)[1]


def register(sub) -> None:
    p = sub.add_parser(
        "test",
        help="send a test alert through the deployed (or local) stack and follow it to every channel",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="CONFIG", help="configuration file (default: $UPTIME_CONFIG)")
    p.add_argument("--labels", metavar="k=v,…", default="", help="labels of the test alert (route matching)")
    p.add_argument(
        "--stack", metavar="NAME", help="the stack (default: $UPTIME_STACK; uptime-relay-local locally)"
    )
    p.add_argument("--endpoint-url", metavar="URL", help="AWS endpoint, e.g. the local stack's moto server")
    p.add_argument("--region", help="AWS region (default: the usual AWS configuration)")
    p.add_argument(
        "--resolve-after", metavar="DURATION", default="1m", help="publish the OK after this (default 1m)"
    )
    p.add_argument(
        "--timeout", metavar="DURATION", default="2m", help="how long to wait for each phase's deliveries"
    )
    p.add_argument("--dry-run", action="store_true", help="print the route and the messages; send nothing")
    p.set_defaults(func=run)


# --------------------------------------------------------------------------------------- the alert
def parse_labels(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` as a dict; a clear error for anything else."""
    labels: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not _LABEL_KEY.match(key) or not value:
            raise UsageError(f"--labels: {part!r} is not key=value (keys: letters, digits, _ . -)")
        if key in RESERVED:
            raise UsageError(f"--labels: {key!r} is set by the test alert itself")
        labels[key] = value
    return labels


def _cw_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def alarm_message(
    state: str,
    *,
    run_id: str,
    labels: dict[str, str],
    at: datetime,
    region: str,
    account: str,
    namespace: str,
    resolve_after: str,
) -> tuple[str, str, str]:
    """(message JSON, SNS subject, alarm ARN) of the test alarm's ``state`` change, in the format
    CloudWatch publishes (``Trigger.Dimensions`` carry the labels, as a check's alarm carries
    its ``Check`` dimension)."""
    name = f"{TEST_CHECK}-{run_id}"
    arn = f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"
    point = at.astimezone(UTC).strftime("%d/%m/%y %H:%M:00")
    firing = state == "ALARM"
    reason = (
        f"Threshold Crossed: 1 out of the last 1 datapoints [{'0.0' if firing else '1.0'} ({point})] "
        f"was {'' if firing else 'not '}less than the threshold (1.0) (a test alert: nothing is wrong)."
    )
    dimensions = [{"value": TEST_CHECK, "name": "Check"}, {"value": run_id, "name": TEST_LABEL}]
    dimensions += [{"value": v, "name": k} for k, v in labels.items()]
    message = {
        "AlarmName": name,
        "AlarmDescription": (
            f"Test alert sent by `uptime-relay test` (run {run_id}): nothing is wrong. "
            f"It resolves on its own after {resolve_after}."
        ),
        "AWSAccountId": account,
        "NewStateValue": state,
        "NewStateReason": reason,
        "StateChangeTime": _cw_time(at),
        "Region": region,
        "AlarmArn": arn,
        "OldStateValue": "OK" if firing else "ALARM",
        "Trigger": {
            "MetricName": "Availability",
            "Namespace": namespace,
            "StatisticType": "Statistic",
            "Statistic": "MINIMUM",
            "Unit": None,
            "Dimensions": dimensions,
            "Period": 60,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "ComparisonOperator": "LessThanThreshold",
            "Threshold": 1.0,
            "TreatMissingData": "notBreaching",
        },
    }
    subject = f'{state}: "{name}" in {region}'[:100]
    return json.dumps(message), subject, arn


# --------------------------------------------------------------------------------------- routing
def _load(args: argparse.Namespace) -> Config:
    from uptime_relay.config.loader import default_config_path, load_config

    path = args.config or str(default_config_path())
    try:
        return load_config(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot read the config {path}: {exc.strerror or exc}") from None


def _route_lines(config: Config, alert: Any, now: datetime) -> tuple[list[str], tuple[str, ...]]:
    """What the route matching says, and the channels the first page would go to."""
    from uptime_relay.domain.escalation import targets_at_open
    from uptime_relay.domain.routing import match_routes
    from uptime_relay.domain.targets import resolve_targets

    match = match_routes(config.routes, alert.labels)
    if not match.matched:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
        return [f"no route matched the labels ({shown}): nobody would be notified"], ()
    targets: list[str] = []
    lines = []
    for route in match.routes:
        index = next((i for i, r in enumerate(config.routes) if r is route), None)
        where = f"route #{index + 1}" if index is not None else "route"
        wanted = ", ".join(f"{k}={v}" for k, v in route.match.items()) or "catch-all"
        policy = config.escalation_policies.get(route.escalation) if route.escalation else None
        opening = targets_at_open(route, policy)
        targets.extend(opening)
        escalation = f", escalation {route.escalation}" if route.escalation else ""
        lines.append(f"{where} (match {wanted}{escalation}) -> {', '.join(opening) or 'nobody'}")
    channels = tuple(resolve_targets(config, dict.fromkeys(targets), now).channels)
    return lines, channels


# --------------------------------------------------------------------------------------- run
Connect = Callable[[argparse.Namespace], tuple[str, Any, Any]]


def connect(args: argparse.Namespace) -> tuple[str, Any, Any]:
    """(alert topic ARN, incident store, SNS client) of the stack the arguments name."""
    if (
        args.endpoint_url
        and is_local_endpoint(args.endpoint_url)
        and not (args.stack or os.environ.get("UPTIME_STACK"))
    ):
        args.stack = LOCAL_STACK
    stack = args.stack or os.environ.get("UPTIME_STACK")
    if not stack:
        raise UsageError(
            "name the stack with --stack NAME (or $UPTIME_STACK), or --endpoint-url for the local stack"
        )
    topic = stack_output(args, stack, "AlertTopicArn")
    if not topic:
        raise UsageError(f"stack {stack} has no AlertTopicArn output")
    args.table = getattr(args, "table", None)
    return topic, make_store(args), aws_client("sns", args)


def run(
    args: argparse.Namespace,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    connect: Connect = connect,
) -> int:
    """``connect`` finds the topic, the store and an SNS client (tests hand in their own)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        return _run(args, out, sleep, connect)
    except UsageError as exc:
        print(f"uptime-relay test: {exc}", file=err)
        return 2


def _say(out: TextIO, text: str) -> None:
    print(text, file=out, flush=True)


def _run(args: argparse.Namespace, out: TextIO, sleep: Callable[[float], None], connect: Connect) -> int:
    from uptime_relay import metricnames
    from uptime_relay.intake import enrich, parse_event

    config = _load(args)
    labels = parse_labels(args.labels or "")
    try:
        resolve_after = parse_duration(args.resolve_after)
        timeout = parse_duration(args.timeout)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    run_id = uuid.uuid4().hex[:8]
    region = (
        args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    )
    now = datetime.now(UTC)
    message, _, _ = alarm_message(
        "ALARM",
        run_id=run_id,
        labels=labels,
        at=now,
        region=region,
        account="123456789012",
        namespace=metricnames.namespace(),
        resolve_after=args.resolve_after,
    )
    [alert] = [enrich(a, config) for a in parse_event(message)]
    lines, channels = _route_lines(config, alert, now)
    _say(
        out,
        f"test alert {TEST_CHECK} (run {run_id}), labels: "
        + (", ".join(f"{k}={v}" for k, v in labels.items()) or "none"),
    )
    for line in lines:
        _say(out, line)
    if not channels:
        return 1
    if args.dry_run:
        ok_message, _, _ = alarm_message(
            "OK",
            run_id=run_id,
            labels=labels,
            at=now,
            region=region,
            account="123456789012",
            namespace=metricnames.namespace(),
            resolve_after=args.resolve_after,
        )
        return _dry_run(config, alert, ok_message, channels, out)

    topic, store, sns = connect(args)
    region = topic.split(":")[3] or region
    account = topic.split(":")[4] or "123456789012"

    published: list[datetime] = []

    def publish(state: str) -> str:
        at = datetime.now(UTC)
        if published and at <= published[-1]:  # the OK is always later than its ALARM
            at = published[-1] + timedelta(milliseconds=1)
        published.append(at)
        body, title, alarm_arn = alarm_message(
            state,
            run_id=run_id,
            labels=labels,
            at=at,
            region=region,
            account=account,
            namespace=metricnames.namespace(),
            resolve_after=args.resolve_after,
        )
        try:
            sns.publish(TopicArn=topic, Message=body, Subject=title)
        except Exception as exc:  # botocore errors: access, endpoint, topic
            raise UsageError(f"cannot publish to {topic}: {exc}") from None
        _say(out, f"published {state} to {topic}")
        return alarm_arn

    alarm_id = publish("ALARM")
    follow = _Follower(store, alarm_id, out, sleep)
    incident = follow.opened(timeout)
    if incident is None:
        _say(out, f"no incident opened within {args.timeout}: is the relay subscribed to {topic}?")
        return 1
    trigger = follow.outcomes(incident.id, "trigger", incident.route_channels or channels, timeout)
    if resolve_after > 0:
        _say(out, f"resolving in {args.resolve_after}")
        sleep(resolve_after)
    publish("OK")
    resolved = follow.resolved(incident.id, timeout)
    notified = tuple(c for c, ok in trigger.items() if ok)
    resolve = follow.outcomes(incident.id, "resolve", notified, timeout) if resolved else {}
    failed = [c for c, ok in trigger.items() if not ok] + [c for c, ok in resolve.items() if not ok]
    if not resolved:
        _say(out, f"incident {incident.id} was not resolved within {args.timeout}")
        return 1
    if failed:
        _say(out, f"FAILED: {', '.join(dict.fromkeys(failed))}")
        return 1
    _say(out, f"ok: every channel delivered the trigger and the resolve (incident {incident.id}, a test)")
    return 0


def _dry_run(config: Config, alert: Any, ok_message: str, channels: tuple[str, ...], out: TextIO) -> int:
    """The messages each first-page channel would get for the trigger and the resolve."""
    from uptime_relay.intake import enrich, parse_event
    from uptime_relay.notifiers.registry import make_notifiers

    from .render import plan

    notifiers = make_notifiers()
    [resolved] = [enrich(a, config) for a in parse_event(ok_message)]
    for name in channels:
        channel = config.channels.get(name)
        notifier = notifiers.get(channel.type) if channel is not None else None
        if channel is None or notifier is None:
            _say(out, f"{name}: not a channel this version can render")
            continue
        for current in (alert, resolved):
            for note in plan([current], channel, groups_alerts=notifier.groups_alerts, config=config):
                for body in notifier.build_payloads(channel, note):
                    _say(
                        out,
                        f"{name} ({channel.type}) {note.kind.value}: {json.dumps(body, ensure_ascii=False)}",
                    )
    _say(out, "dry run: nothing was sent")
    return 0


class _Follower:
    """Reads the incident the relay records for the test alarm and prints its deliveries."""

    POLL_S = 0.5

    def __init__(self, store: Any, alarm_id: str, out: TextIO, sleep: Callable[[float], None]):
        self.store = store
        self.alarm_id = alarm_id
        self.out = out
        self.sleep = sleep
        self.seen = 0

    def _wait(self, timeout: float, probe: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            found = probe()
            if found or time.monotonic() >= deadline:
                return found
            self.sleep(self.POLL_S)

    def opened(self, timeout: float) -> Any:
        def probe() -> Any:
            record = self.store.get_alarm(self.alarm_id)
            if record is None or not record.open_incident:
                return None
            return self.store.get(record.open_incident)

        incident = self._wait(timeout, probe)
        if incident is not None:
            _say(self.out, f"incident {incident.id} opened (marked as a test)")
        return incident

    def _print_new(self, incident: Any) -> list[Any]:
        entries = list(incident.timeline)
        for entry in entries[self.seen :]:
            if entry.channel:
                _say(self.out, f"  {entry.channel}: {entry.detail or entry.kind}")
        self.seen = len(entries)
        return entries

    def outcomes(
        self, incident_id: str, kind: str, channels: tuple[str, ...], timeout: float
    ) -> dict[str, bool]:
        """Per channel: True once ``<kind> sent`` is recorded, False for a recorded failure that
        is not retried (dead-lettered) or when nothing was recorded in time."""
        result: dict[str, bool] = {}

        def probe() -> bool:
            incident = self.store.get(incident_id)
            if incident is None:
                return False
            for entry in self._print_new(incident):
                if entry.channel not in channels:
                    continue
                if entry.kind == "notified" and entry.detail.startswith(f"{kind} sent"):
                    result[entry.channel] = True
                elif entry.kind == "dead_lettered" and entry.detail.startswith(kind):
                    result.setdefault(entry.channel, False)
            return all(c in result for c in channels)

        self._wait(timeout, probe)
        for channel in channels:
            if channel not in result:
                _say(self.out, f"  {channel}: no {kind} delivery recorded in time")
                result[channel] = False
        return result

    def resolved(self, incident_id: str, timeout: float) -> bool:
        def probe() -> bool:
            incident = self.store.get(incident_id)
            return incident is not None and incident.status == "resolved"

        done = bool(self._wait(timeout, probe))
        if done:
            _say(self.out, f"incident {incident_id} resolved")
        return done
