"""uptime-relay render EVENT_FILE --channel slack|pagerduty|email|webhook|teams|opsgenie|sms [--config CONFIG]

Prints the exact JSON bodies a channel would be sent for an event file, one per line, using the
relay's own code path: the same intake (``parse_event``, ``enrich``), the relay's
``plan_notifications`` (one Slack/email message per Alertmanager body, its firing and resolved
alerts together; buttons, incident fields, ack link) and the same ``build_payloads``. Only a running relay knows the incident and the
signed ack link: render shows the incident id derived as the relay derives it and the ack link
``https://<actions-url>/ack/<token>``. Secrets are never resolved: bodies show the secret
reference (or a placeholder), never a key.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from uptime_relay.config import Channel, Config, ConfigError
from uptime_relay.config.loader import load_config
from uptime_relay.domain.alert import Alert, AlertState
from uptime_relay.domain.incident import incident_id
from uptime_relay.intake import enrich, parse_event
from uptime_relay.notifiers.base import Notification, NotificationKind
from uptime_relay.notifiers.rules import CHANNEL_TYPES

# Used when no --config is given (or it has no channel of the type). Example values only: none of
# them is a secret, and render never sends anything.
EXAMPLE_CHANNELS: dict[str, Channel] = {
    "slack": Channel(
        name="example-slack",
        type="slack",
        options={"webhook_url": "https://hooks.slack.com/services/EXAMPLE"},
    ),
    "pagerduty": Channel(
        name="example-pagerduty", type="pagerduty", options={"routing_key": "env:PAGERDUTY_ROUTING_KEY"}
    ),
    "email": Channel(
        name="example-email",
        type="email",
        options={"to": ("oncall@example.com",), "from": "uptime-relay@example.com"},
    ),
    "webhook": Channel(name="example-webhook", type="webhook", options={"url": "https://example.com/hook"}),
    "teams": Channel(
        name="example-teams", type="teams", options={"webhook_url": "https://example.com/teams-workflow"}
    ),
    "opsgenie": Channel(
        name="example-opsgenie", type="opsgenie", options={"api_key": "env:OPSGENIE_API_KEY"}
    ),
    "sms": Channel(name="example-sms", type="sms", options={"to": ("+15555550100",)}),
}

SERVICE_NAMES = {
    "pagerduty": "PagerDuty",
    "opsgenie": "Opsgenie",
    "teams": "Teams",
    "webhook": "a webhook",
    "sms": "an SMS",
}

# What render shows where the deployed relay puts its signed acknowledge link (ACTIONS_URL +
# "/ack/" + a token signed with ACK_SECRET_REF); e-mails show it, as the relay sends them.
PLACEHOLDER_ACK_URL = "https://<actions-url>/ack/<token>"

KINDS = {
    AlertState.ALARM: NotificationKind.TRIGGER,
    AlertState.OK: NotificationKind.RESOLVE,
    AlertState.INSUFFICIENT_DATA: NotificationKind.WARNING,
}

HELP = """\
Print the exact JSON body (or bodies, as JSON Lines) that would be sent to a channel for an
event: a Lambda SNS event, an SQS event wrapping SNS, a bare CloudWatch alarm message, an
EventBridge "CloudWatch Alarm State Change" event or an Alertmanager webhook body. Input it
cannot recognise renders as a fallback notification carrying the raw text. ALARM renders the
trigger form, OK the resolve form, INSUFFICIENT_DATA the warning form (not sent to PagerDuty:
nothing is printed and stderr says why; with --config the matched route's insufficient_data
setting applies: page renders a trigger, ignore renders nothing). Email bodies are {"subject","text","html","to","from"}.
Webhook bodies are Alertmanager webhook v4 documents plus an "incident" object (the signature
headers are not part of the body); Teams bodies are the Workflows envelope around an Adaptive
Card 1.5; Opsgenie bodies are Alert API v2 requests (create, or acknowledge/close, whose alias is
in the URL); SMS bodies are SNS Publish requests {"PhoneNumber","Message","MessageAttributes"},
one per recipient, none for a resolve unless the channel sets on_resolve: true.

The relay's own planning is used, as if each ALARM opened an incident and each OK resolved one:
Slack and email get one message per Alertmanager body (a body with firing and resolved alerts
renders one "[FIRING:n]" message listing the firing alerts, then the resolved ones under
"Resolved"), PagerDuty one event per alert (trigger or resolve). Placeholders stand for
what only a running relay knows: the incident id is derived as the relay derives it (sha256 of
alarm id and opening time: "inc-" + 20 hex digits) and the acknowledge link is
https://<actions-url>/ack/<token>, so Slack shows its Acknowledge/Resolve buttons (value: the
incident ids, comma-separated for a group) and email its Acknowledge link as the relay sends them.

With --config, alerts whose first matched route has group_by render as that route's group
message (one per group: "[FIRING:n] team=web" naming its members, first ten on Slack, then "and K
more"; one PagerDuty event with the group's dedup_key; buttons and ack link acting on the group),
whether the event is an Alertmanager body or a JSON list of alarm events.

Without --config (or when the config has no channel of that type) a built-in example channel is
used: slack webhook https://hooks.slack.com/services/EXAMPLE, pagerduty routing_key
env:PAGERDUTY_ROUTING_KEY, email to oncall@example.com from uptime-relay@example.com, webhook
https://example.com/hook, teams https://example.com/teams-workflow, opsgenie api_key
env:OPSGENIE_API_KEY, sms to +15555550100. None of these is a secret. With --config, the first channel of that type in the file is used and the
check's labels and runbook are merged in. Secrets are never resolved or printed.

Exit status: 0 when rendered (also for fallback input and when nothing is sent); 2 when the
event file cannot be read or the config is invalid."""


def register(sub) -> None:
    p = sub.add_parser(
        "render",
        help="print the JSON a channel would be sent for an event file",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("event_file", metavar="EVENT_FILE", help="the event to render ('-' reads stdin)")
    p.add_argument("--channel", required=True, choices=CHANNEL_TYPES, help="channel type to render for")
    p.add_argument("--config", metavar="CONFIG", help="configuration file (channels, check labels)")
    p.set_defaults(func=run)


def insufficient_data_mode(alert: Alert, config: Config | None) -> str:
    """How the relay treats INSUFFICIENT_DATA for this alert: the first matched route decides
    (``warn`` by default and without a config)."""
    if config is None:
        return "warn"
    from uptime_relay.domain.routing import match_routes
    from uptime_relay.relay import insufficient_mode

    return insufficient_mode(alert, match_routes(config.routes, alert.labels))


def _kind(alert: Alert, config: Config | None) -> NotificationKind | None:
    if alert.state is AlertState.INSUFFICIENT_DATA:
        mode = insufficient_data_mode(alert, config)
        if mode == "ignore":
            return None
        if mode == "page":
            return NotificationKind.TRIGGER
    return KINDS[alert.state]


@dataclass(frozen=True)
class PlaceholderIncident:
    """What render shows where the relay shows its incident: ``id`` derived exactly as the relay
    derives it (``domain.incident.incident_id(alarm id, opening time)``; for a resolve the opening
    time is Alertmanager's ``startsAt`` when known, else the OK's own time), no stored handles."""

    id: str
    opened_at: datetime | None
    handles: dict[str, dict] = field(default_factory=dict)


def placeholder_incident(alert: Alert, kind: NotificationKind) -> PlaceholderIncident:
    opened = alert.time
    if kind is NotificationKind.RESOLVE:
        starts = alert.extra.get("starts_at")
        try:
            opened = datetime.fromisoformat(str(starts)) if starts else alert.time
        except ValueError:
            opened = alert.time
    return PlaceholderIncident(
        incident_id(alert.id, opened),
        opened if (kind is not NotificationKind.RESOLVE or opened != alert.time) else None,
    )


def plan(
    alerts: Sequence[Alert], channel: Channel, *, groups_alerts: bool, config: Config | None
) -> list[Notification]:
    """The notifications the relay would send ``channel`` for these alerts, through the relay's
    own ``plan_notifications`` (one message per Alertmanager body on channels that group alerts:
    the placeholder incidents have no Slack ``ts`` to update, so a body's resolved alerts are
    listed in its firing message, as a webhook or e-mail channel gets them; buttons, incident
    fields, ack link), as if each ALARM opened an incident and each OK resolved an open one.
    INSUFFICIENT_DATA follows the matched route's ``insufficient_data`` (warn: a warning to Slack
    and e-mail only; page: a trigger; ignore: nothing)."""
    from uptime_relay.paging import Send, plan_notifications
    from uptime_relay.relay import WARNING_CHANNEL_TYPES

    grouped, alerts = route_groups(alerts, channel, config)
    sends = []
    for alert in alerts:
        kind = _kind(alert, config)
        if kind is None:
            continue
        if kind is NotificationKind.WARNING:
            if channel.type not in WARNING_CHANNEL_TYPES:
                continue
            sends.append(Send(kind, channel.name, alert, None))  # a warning opens nothing
        else:
            sends.append(Send(kind, channel.name, alert, placeholder_incident(alert, kind)))
    planned = plan_notifications(
        config,
        sends,
        groups_alerts=lambda _name: groups_alerts,
        ack_url_for=lambda _incident, **_: PLACEHOLDER_ACK_URL,
    )
    return [*grouped, *(p.notification for p in planned)]


def route_groups(
    alerts: Sequence[Alert], channel: Channel, config: Config | None
) -> tuple[list[Notification], list[Alert]]:
    """The messages of the alerts whose first matched route has ``group_by``: one per route group
    (``paging.groups.group_notification``, as the escalation sweep sends a group's first message:
    its firing members, then its resolved ones; a group with none firing renders its resolve),
    and the alerts left for the ordinary planning (no config, no ``group_by``, INSUFFICIENT_DATA
    that is not paged). The storm guard needs a stream of openings over time: render shows none."""
    if config is None:
        return [], list(alerts)
    from uptime_relay.domain.grouping import Spec, Timing, group_key, join, resolve_member
    from uptime_relay.domain.incident import OpeningPlan, open_incident
    from uptime_relay.domain.routing import match_routes
    from uptime_relay.paging.groups import group_notification

    groups: dict = {}
    incidents: dict[str, list] = {}
    rest: list[Alert] = []
    for alert in alerts:
        route = match_routes(config.routes, alert.labels).primary
        kind = _kind(alert, config)
        if (
            route is None
            or route.grouping is None
            or kind not in (NotificationKind.TRIGGER, NotificationKind.RESOLVE)
        ):
            rest.append(alert)
            continue
        index = config.routes.index(route)
        key, labels = group_key(index, route.grouping, alert.labels)
        spec = Spec(key, index, labels, (channel.name,), Timing.of(route.grouping))
        opened = placeholder_incident(alert, kind).opened_at or alert.time
        opening = dataclasses.replace(alert, state=AlertState.ALARM, time=opened)
        incident = open_incident(
            opening, OpeningPlan(name=alert.name, labels=alert.labels, check=alert.check)
        )
        group = join(groups.get(key), spec, incident.id, alert.name, opened) or groups[key]
        if kind is NotificationKind.RESOLVE:
            group = resolve_member(group, incident.id, alert.time) or group
        groups[key] = group
        incidents.setdefault(key, []).append(incident)
    out = []
    for key, group in groups.items():
        kind = NotificationKind.TRIGGER if group.firing else NotificationKind.RESOLVE
        ack_url = PLACEHOLDER_ACK_URL if kind is NotificationKind.TRIGGER else None
        out.append(
            group_notification(config, group, kind, incidents[key], channel=channel.name, ack_url=ack_url)
        )
    return out, rest


def notifications(
    alerts: Sequence[Alert], *, groups_alerts: bool, config: Config | None, channel_type: str = "slack"
) -> list[Notification]:
    """``plan`` for the channel render would use for ``channel_type``."""
    channel, _ = _channel(config, channel_type)
    return plan(alerts, channel, groups_alerts=groups_alerts, config=config)


def _channel(config: Config | None, channel_type: str) -> tuple[Channel, bool]:
    if config is not None:
        for channel in config.channels.values():
            if channel.type == channel_type:
                return channel, True
    return EXAMPLE_CHANNELS[channel_type], False


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    return Path(path).read_bytes()


def _why_nothing(alerts: Sequence[Alert], config: Config | None, channel_type: str) -> str:
    from uptime_relay.relay import WARNING_CHANNEL_TYPES

    kinds = {_kind(alert, config) for alert in alerts}
    if kinds == {None}:
        return "nothing to send: the matched route sets insufficient_data: ignore"
    if kinds <= {NotificationKind.WARNING, None} and channel_type not in WARNING_CHANNEL_TYPES:
        return (
            "nothing to send: INSUFFICIENT_DATA is sent as a warning to Slack and email only; "
            f"it never triggers {SERVICE_NAMES.get(channel_type, channel_type)} unless the matched route "
            "sets insufficient_data: page"
        )
    if channel_type == "sms" and kinds <= {NotificationKind.RESOLVE, None}:
        return "nothing to send: an sms channel texts resolves only with on_resolve: true"
    return f"nothing to send: the {channel_type} channel has no message for this event"


def _json_line(body: dict) -> str:
    """One compact JSON document and a newline; \\u-escaped when the text cannot be encoded as is."""
    line = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    try:
        line.encode(sys.stdout.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        line = json.dumps(body, ensure_ascii=True, separators=(",", ":"))
    return line + "\n"


def run(args) -> int:
    try:
        data = _read(args.event_file)
    except OSError as exc:
        print(f"render: cannot read {args.event_file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    config: Config | None = None
    if args.config:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2

    from uptime_relay.notifiers.registry import make_notifiers  # imported late: keeps `--help` fast

    notifier = make_notifiers()[args.channel]
    channel, configured = _channel(config, args.channel)
    if config is not None and not configured:
        print(
            f"render: {args.config} has no {args.channel} channel; using the built-in example channel",
            file=sys.stderr,
        )
    alerts = [enrich(alert, config) for alert in parse_event(data)]
    notes = plan(
        alerts, channel, groups_alerts=bool(getattr(notifier, "groups_alerts", False)), config=config
    )
    printed = 0
    for note in notes:
        for body in notifier.build_payloads(channel, note):
            sys.stdout.write(_json_line(body))
            printed += 1
    if printed == 0:
        print(f"render: {_why_nothing(alerts, config, args.channel)}", file=sys.stderr)
    sys.stdout.flush()
    return 0
