"""What to send: the sends of a first page or an escalation step, and the messages a batch becomes.

``plan_sends`` turns resolved targets (``domain.targets.Resolved``) into ``PlannedSend``s: the
channels (with the Slack mentions), a Slack channel for the mentions when none of them is Slack
(the incident's, else the first in the config), and the people's e-mail through an e-mail channel
(the step's, else the first in the config) with its ``to`` replaced by them (send key
``"<channel>:people"``). ``opening_sends`` plans an incident's first page the same way.

``plan_notifications`` groups the relay's ``Send``s into messages: on channels whose notifier
``groups_alerts`` (Slack, e-mail) the sends of one Alertmanager body become one message, naming
its incidents (``handles["incidents"]``) so its buttons and ack link act on all of them; elsewhere
(PagerDuty) one message per send. Pure apart from the two callables (``uptime-relay render``
calls it too, with placeholder incidents).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..acklinks import GROUP_HANDLE, ack_link, ack_recipient
from ..config import Channel, Config
from ..domain.alert import Alert, AlertSource, AlertState
from ..domain.incident import Incident
from ..domain.targets import Resolved
from ..notifiers.base import Notification, NotificationKind
from ..ports import AckUrlFor, IncidentStore

log = logging.getLogger(__name__)

STILL_FIRING_HANDLE = "still_firing"  # on a RESOLVE: how many of a group's incidents are still open


# --------------------------------------------------------------------------------------- sends
@dataclass(frozen=True)
class PlannedSend:
    """One delivery a first page or an escalation step makes."""

    channel: str  # channel name (for the timeline and handles)
    key: str  # what "already sent" is tracked by (channel name, or "<channel>:people")
    mentions: tuple[str, ...] = ()
    email_to: tuple[str, ...] = ()  # replaces the email channel's `to`


def _first_of_type(channels: Mapping[str, Channel], names: Iterable[str], type_: str) -> str | None:
    return next((n for n in names if n in channels and channels[n].type == type_), None)


def plan_sends(
    config: Config, incident: Incident | None, resolved: Resolved
) -> tuple[list[PlannedSend], list[str]]:
    """Which channels get what for one step or first page (see the module docstring), and problems."""
    problems = list(resolved.problems)
    channels = config.channels
    sends = [PlannedSend(name, name, mentions=resolved.mentions) for name in resolved.channels]
    if resolved.mentions and not _first_of_type(channels, resolved.channels, "slack"):
        route_channels = incident.route_channels if incident is not None else ()
        slack = _first_of_type(channels, route_channels, "slack") or _first_of_type(
            channels, channels, "slack"
        )
        if slack:
            sends.append(PlannedSend(slack, slack, mentions=resolved.mentions))
        else:
            problems.append("no slack channel to mention the on-call people in")
    if resolved.emails:
        email = _first_of_type(channels, resolved.channels, "email") or _first_of_type(
            channels, channels, "email"
        )
        if email:
            sends.append(PlannedSend(email, f"{email}:people", email_to=resolved.emails))
        else:
            problems.append("no email channel to send the on-call people's email through")
    return sends, problems


def opening_sends(
    config: Config, incident: Incident, *, only: Iterable[str] | None = None
) -> tuple[list[PlannedSend], list[str]]:
    """The first page's sends for an incident, planned as ``plan_sends`` plans a step's: its channels
    (with the Slack mentions), a Slack channel for the mentions when none of them is Slack, and the
    people's e-mail through an e-mail channel. ``only``: just these send keys (those still pending)."""
    resolved = Resolved(
        channels=tuple(incident.route_channels or ()),
        mentions=tuple(incident.mentions or ()),
        emails=tuple(incident.emails or ()),
    )
    sends, problems = plan_sends(config, incident, resolved)
    if only is not None:
        wanted = set(only)
        sends = [send for send in sends if send.key in wanted]
    return sends, problems


def incident_alert(incident: Incident) -> Alert:
    """The alert an escalation or a held first page renders from: the opening alert, else one
    made up from the incident (incidents stored before the alert was kept)."""
    if incident.alert is not None:
        return incident.alert
    return Alert(
        source=AlertSource.FALLBACK,
        id=incident.alarm_id,
        name=incident.name,
        state=AlertState.ALARM,
        reason="still failing and not acknowledged",
        time=incident.opened_at,
        labels=dict(incident.labels),
    )


def send_ack_link(
    ack_url_for: AckUrlFor | None, config: Config | None, incident: Incident, send: PlannedSend
) -> str | None:
    """One send's ack link: signed for the e-mail's one recipient (``ack_recipient``: a person's
    own address when the step e-mails one person), when there is one."""
    recipient = ack_recipient(config, send.channel, send.email_to)
    return ack_link(ack_url_for, incident, recipient=recipient)


# --------------------------------------------------------------------------------------- messages
@dataclass
class Send:
    """What the relay sends: kind, channel name, alert, incident (``plan_notifications`` input).
    ``incident`` may be any object with ``id``, ``opened_at`` and ``handles`` (render's placeholders)."""

    kind: NotificationKind
    channel: str
    alert: Alert
    incident: Incident | None
    mentions: tuple[str, ...] = ()
    result_index: int = 0
    key: str = ""  # what settles the first page ("<channel>" or "<email channel>:people")
    email_to: tuple[str, ...] = ()  # people's addresses: replaces the e-mail channel's `to`

    @property
    def send_key(self) -> str:
        return self.key or self.channel


@dataclass(frozen=True)
class PlannedNotification:
    channel: str
    notification: Notification
    sends: tuple[Send, ...]  # the sends this one message covers (one per alert)

    @property
    def key(self) -> str:
        return self.sends[0].send_key


def group_incident_ids(sends: Iterable[Send]) -> tuple[str, ...]:
    """The distinct incident ids of a group's sends, in order; () when there are fewer than two."""
    ids = tuple(dict.fromkeys(s.incident.id for s in sends if s.incident is not None))
    return ids if len(ids) > 1 else ()


def group_still_firing(store: IncidentStore, incident_ids: Iterable[str]) -> int:
    """How many of ``incident_ids`` are still open or acknowledged (strongly consistent reads).
    The incidents resolving in this batch are already resolved in the store when this is asked."""
    count = 0
    for incident_id in incident_ids:
        incident = store.get(incident_id)
        if incident is not None and incident.is_open:
            count += 1
    return count


def plan_notifications(
    config: Config | None,
    sends: Sequence[Send],
    *,
    groups_alerts: Callable[[str], bool],
    ack_url_for: AckUrlFor | None = None,
    still_firing: Callable[[Sequence[str]], int] | None = None,
) -> list[PlannedNotification]:
    """The messages the relay sends for a batch of sends, pure apart from the two callables
    (``uptime-relay render`` calls this too, with placeholder incidents).

    On channels whose notifier ``groups_alerts`` (Slack, e-mail), the sends of one Alertmanager
    body (``alert.extra["group_key"]``) to the same send key become ONE message: a body with
    firing and resolved alerts is one TRIGGER listing every alert with its own state (firing
    first, then the resolved ones; its incident, ack link and buttons are the firing ones'), as
    long as the resolved members have no original message to follow up (no ``ts`` handle on
    that channel: webhooks, e-mail, render's placeholders). A resolved member that has one (a
    Slack bot message) is a RESOLVE per original message, updating it as before, and the body's
    firing alerts still go out as one TRIGGER. Elsewhere (PagerDuty) every send is its own message.
    A TRIGGER carries an ack link (``ack_url_for``) acknowledging every firing incident it covers,
    signed for the mail's one recipient when it has one, and, when it covers several firing
    incidents, ``handles["incidents"]`` = their ids (Slack buttons act on all of them). A RESOLVE
    of a grouped message carries ``handles["still_firing"]``: how many of the group's incidents
    (``handles["incidents"]`` recorded at send time) are still open, per ``still_firing(ids)``."""
    groups: dict[tuple, list[Send]] = {}
    with_trigger = {
        _body_key(send)
        for send in sends
        if send.kind is NotificationKind.TRIGGER and groups_alerts(send.channel)
    }
    for index, send in enumerate(sends):
        if groups_alerts(send.channel):
            ts = str(_handles_of(send.incident, send.channel).get("ts") or "")
            kind = send.kind
            if kind is NotificationKind.RESOLVE and not ts and _body_key(send) in with_trigger:
                kind = NotificationKind.TRIGGER  # nothing to update: part of the body's one message
            key: tuple = (kind, *_body_key(send), "" if kind is NotificationKind.TRIGGER else ts)
        else:
            key = (index,)
        groups.setdefault(key, []).append(send)
    planned = []
    for group in groups.values():
        # firing first: the message's incident, ack link and first page are a firing alert's
        group = sorted(group, key=lambda s: s.kind is not NotificationKind.TRIGGER)
        planned.append(
            PlannedNotification(
                group[0].channel, _group_notification(config, group, ack_url_for, still_firing), tuple(group)
            )
        )
    return planned


def _body_key(send: Send) -> tuple[str, str]:
    """(send key, Alertmanager body): the sends that may share one message."""
    return send.send_key, str(send.alert.extra.get("group_key") or send.alert.id)


def _handles_of(incident: Incident | None, channel: str) -> dict[str, Any]:
    handles = incident.handles if incident is not None else None
    found = handles.get(channel) if isinstance(handles, Mapping) else None
    return dict(found) if isinstance(found, Mapping) else {}


def _group_notification(
    config: Config | None,
    group: list[Send],
    ack_url_for: AckUrlFor | None,
    still_firing: Callable[[Sequence[str]], int] | None,
) -> Notification:
    first = group[0]
    incident = first.incident
    # a mixed body's TRIGGER also lists its resolved alerts: links and buttons act on the firing
    acting = [s for s in group if s.kind is first.kind]
    ack_url = None
    if first.kind is NotificationKind.TRIGGER and incident is not None and ack_url_for is not None:
        # an e-mail to one address: the link acknowledges as that person; a grouped message's
        # link acknowledges every incident it covers
        ack_url = ack_link(
            ack_url_for,
            incident,
            recipient=ack_recipient(config, first.channel, first.email_to),
            incident_ids=group_incident_ids(acting),
        )
    handles = _handles_of(incident, first.channel)
    if first.kind in (NotificationKind.TRIGGER, NotificationKind.WARNING):
        handles.pop(GROUP_HANDLE, None)
        members = group_incident_ids(acting)
        if members:
            handles[GROUP_HANDLE] = list(members)
        folded = [s for s in group if s.kind is not first.kind]
        if folded and still_firing is not None:
            # a resolved member's earlier message may have named others that are not in this
            # body's message (still firing, so unchanged): say how many (``still_firing``)
            _count_earlier_group(handles, group, folded, still_firing)
    elif first.kind is NotificationKind.RESOLVE and handles.get(GROUP_HANDLE) and still_firing is not None:
        resolving = {s.incident.id for s in group if s.incident is not None}
        others = [str(i) for i in handles[GROUP_HANDLE] if str(i) not in resolving]
        try:
            handles[STILL_FIRING_HANDLE] = int(still_firing(others)) if others else 0
        except Exception:  # unknown: treat as the last one (the message shows RESOLVED)
            log.warning("could not tell whether the rest of the group still fires", exc_info=True)
            handles[STILL_FIRING_HANDLE] = 0
    check_name = first.alert.check
    return Notification(
        kind=first.kind,
        alerts=tuple(s.alert for s in group),
        incident_id=incident.id if incident is not None else None,
        opened_at=incident.opened_at if incident is not None else None,
        check=config.check(check_name) if config is not None and check_name else None,
        ack_url=ack_url,
        mentions=tuple(dict.fromkeys(m for s in group for m in s.mentions)),
        handles=handles,
    )


def _count_earlier_group(
    handles: dict[str, Any],
    group: list[Send],
    folded: list[Send],
    still_firing: Callable[[Sequence[str]], int],
) -> None:
    """On a mixed TRIGGER: ``handles["still_firing"]`` = how many incidents of the resolved
    members' earlier grouped messages, not listed in this one, are still open (unknown: unset)."""
    listed = {s.incident.id for s in group if s.incident is not None}
    earlier: dict[str, None] = {}
    for send in folded:
        recorded = _handles_of(send.incident, send.channel).get(GROUP_HANDLE)
        if isinstance(recorded, list | tuple):
            earlier.update(dict.fromkeys(str(i) for i in recorded if i and str(i) not in listed))
    if not earlier:
        return
    try:
        handles[STILL_FIRING_HANDLE] = int(still_firing(list(earlier)))
    except Exception:
        log.warning("could not tell whether the rest of the earlier group still fires", exc_info=True)
