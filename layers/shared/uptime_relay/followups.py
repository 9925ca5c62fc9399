"""Follow-ups: after someone acknowledges or resolves an incident, tell its other channels.

``ChangeNotifier`` is the ``on_change`` of the actions router (``actions.Actions``) and of
``uptime-relay incidents ack|resolve --notify``. After an acknowledgement PagerDuty gets
``acknowledge`` (so it stops paging too) and Slack messages are updated; after a resolve every
channel that was notified gets the resolve. Each follow-up goes through the paging pipeline like
any page: delivered with retries and recorded on the incident's timeline (at the time of the
acknowledgement or resolve). With a store, one that fails transiently is kept for automatic
redelivery by the escalation sweep (``domain.redelivery``: an acknowledge update is dropped once
the incident is no longer acknowledged); a permanent failure, or any failure without a store, is
dead-lettered.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .acklinks import GROUP_HANDLE
from .config import Config
from .domain.incident import Incident
from .notifiers.base import Notification, NotificationKind
from .paging import (
    STILL_FIRING_HANDLE,
    Covered,
    Ledger,
    Page,
    Pipeline,
    PlannedSend,
    Wording,
    group_still_firing,
)
from .ports import DeliveryOutcome, Dispatcher, IncidentStore

logger = logging.getLogger(__name__)

ACK = "ack"
RESOLVE = "resolve"


class ChangeNotifier:
    """An ``on_change`` for ``Actions``: tells the incident's other channels what a person did.

    After an acknowledgement: PagerDuty gets ``acknowledge`` (so it stops paging too) and Slack
    messages are updated (``chat.update`` with stored handles, else a short follow-up post); email
    channels get nothing (they page; an ack needs no mail). After a resolve: every channel that was
    notified gets the resolve. Not told twice: PagerDuty for its own webhook, and for a Slack button
    only the channel whose message was pressed (``source`` = its ``{"channel", "ts"}``, already
    replaced through ``response_url``); other Slack channels (an escalation step's) are updated.
    Each send goes through the paging pipeline: a transient failure is kept for automatic
    redelivery (with a store), a permanent one dead-lettered; either is recorded on the timeline.
    """

    def __init__(self, config: Config, dispatcher: Dispatcher, store: IncidentStore | None = None):
        self.config = config
        self.dispatcher = dispatcher
        self.store = store
        self.pipeline = Pipeline(dispatcher)

    def targets(
        self, kind: str, incident: Incident, via: str, source: Mapping[str, Any] | None = None
    ) -> list[str]:
        if incident.group_id:  # a route group's member: the group tells its channels (``paging.groups``)
            return []
        names = []
        pressed = _pressed_channels(self.config, incident, source) if via == "slack" else set()
        for name in incident.notified_channels():
            channel = self.config.channels.get(name)
            if channel is None:
                continue
            if via in ("pagerduty", "opsgenie") and channel.type == via:  # it told us itself
                continue
            if name in pressed:
                continue
            if kind == ACK and channel.type == "email":
                continue
            names.append(name)
        return names

    def __call__(
        self, kind: str, incident: Incident | None, by: str, via: str, source: Mapping[str, Any] | None = None
    ) -> list[DeliveryOutcome]:
        if incident is None or incident.alert is None:
            return []
        notification_kind = NotificationKind.ACKNOWLEDGE if kind == ACK else NotificationKind.RESOLVE
        at = (incident.acknowledged_at if kind == ACK else incident.resolved_at) or incident.last_state_time
        wording = Wording.of(notification_kind, dead_lettered=False)

        def page(send: PlannedSend) -> Page:
            handles = dict(incident.handles.get(send.channel, {}))
            if kind == RESOLVE:
                self._count_still_firing(incident.id, handles)
            notification = Notification(
                kind=notification_kind,
                alerts=(incident.alert,),
                incident_id=incident.id,
                opened_at=incident.opened_at,
                check=self.config.check(incident.check) if incident.check else None,
                acknowledged_by=by,
                handles=handles,
            )
            covered = Covered(incident, wording, handles="none")
            return Page(send.channel, send.key, notification, (covered,), redeliver=self.store is not None)

        ledger = Ledger()
        planned = [PlannedSend(name, name) for name in self.targets(kind, incident, via, source)]
        sent = self.pipeline.send(planned, page, at, ledger)
        if self.store is not None:
            ledger.commit(self.store, contain_errors=True)
        return [one.outcome for one in sent]

    def _count_still_firing(self, incident_id: str, handles: dict[str, Any]) -> None:
        """A grouped message (``handles["incidents"]``) stays FIRING while others of its group are
        open: the resolve of one member says how many (``handles["still_firing"]``). Unknown (no
        store, or it cannot be read): 0, the message shows RESOLVED as before."""
        group = handles.get(GROUP_HANDLE)
        if not isinstance(group, list | tuple) or not group:
            return
        others = [str(i) for i in group if str(i) != incident_id]
        count = 0
        if others and self.store is not None:
            try:
                count = group_still_firing(self.store, others)
            except Exception:
                logger.warning("could not tell whether the rest of %s's group still fires", incident_id)
        handles[STILL_FIRING_HANDLE] = count


def _pressed_channels(config: Config, incident: Incident, source: Mapping[str, Any] | None) -> set[str]:
    """The Slack channel(s) of the incident whose message ``source`` is: the one whose stored handle
    is that message; failing that, when the press came from a Slack channel none of our handles
    is in, the only Slack channel without handles (a webhook channel: Slack gives no handle back)."""
    if not source:
        return set()
    slack = [
        name
        for name in incident.notified_channels()
        if (channel := config.channels.get(name)) is not None and channel.type == "slack"
    ]
    handles = {name: (incident.handles or {}).get(name) or {} for name in slack}
    exact = {
        name
        for name, h in handles.items()
        if h.get("channel") and h.get("channel") == source.get("channel") and h.get("ts") == source.get("ts")
    }
    if exact:
        return exact
    if any(h.get("channel") and h.get("channel") == source.get("channel") for h in handles.values()):
        return set()  # an older message in a channel we hold a newer one of: update that one
    unhandled = [name for name, h in handles.items() if not h.get("ts")]
    return set(unhandled) if len(unhandled) == 1 else set()
