"""Flushing route groups and storm summaries (``domain.grouping``) through the one send pipeline.

``GroupFlusher.flush(key, now)`` reads the group and its members' incidents, reconciles it with
them (a member resolved or acknowledged by hand), asks ``decide_flush`` what is due, CLAIMS the
flush (a conditional write: one flusher per due flush, a lease after which a dead flusher is
replaced), sends it through ``Pipeline`` (retries, pacing, automatic redelivery, dead letters,
one ``notified`` entry per member's timeline) and records it on the group (``after_flush``,
conditional on the claim). The escalation sweep flushes every due group each minute; the relay
flushes a group at once when it is due already (``group_wait: 0s``, a group's resolve).

One group is one message per channel: its notification's ``incident_id`` is the group's id (the
Slack buttons and the ack link act on the group, so on all its members), ``handles["group"]``
describes it (id, labels, member counts: PagerDuty sends one event with a ``dedup_key`` per
group), and an update carries the channel's stored handles with ``handles["update"]`` (Slack
edits its message with ``chat.update`` when a bot token posted it; a webhook gets a new message).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from ..acklinks import ack_link, ack_recipient
from ..config import Config
from ..domain.alert import AlertState
from ..domain.escalation import Cursor, initial_cursor, next_cursor
from ..domain.grouping import (
    Flush,
    Group,
    after_flush,
    claim,
    decide_flush,
    key_of,
    reconcile,
    resolve_member,
    with_due,
)
from ..domain.incident import Incident
from ..domain.targets import Resolved
from ..domain.targets import resolve_targets as default_resolve_targets
from ..notifiers.base import Notification, NotificationKind
from ..ports import AckUrlFor, Dispatcher, GroupStore, IncidentStore
from .pipeline import Covered, Ledger, Page, Pipeline, Wording, first_page_lease
from .planning import PlannedSend, incident_alert, plan_sends

log = logging.getLogger(__name__)

GROUP_INFO_HANDLE = "group"  # handles: what the group is (id, labels, counts, storm)
UPDATE_HANDLE = "update"  # handles: this message replaces the channel's earlier one when it can
FLUSH_LEASE = timedelta(seconds=120)
_KINDS = {
    "first": NotificationKind.TRIGGER,
    "update": NotificationKind.TRIGGER,
    "repeat": NotificationKind.TRIGGER,  # re-sent as it was: a new message, the same PagerDuty key
    "escalate": NotificationKind.ESCALATION,
    "resolve": NotificationKind.RESOLVE,
    "acknowledge": NotificationKind.ACKNOWLEDGE,
}
_ACK_TYPES = ("slack", "pagerduty")  # an acknowledgement is news there; an e-mail pages, it is not


@dataclass(frozen=True)
class _GroupRef:
    """What an ack link is signed for: the group's id (the actions route expands it)."""

    id: str


@dataclass
class Flushed:
    group: str
    kind: str
    delivered: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()


@dataclass
class FlushReport:
    flushed: list[Flushed] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def group_label(group: Group) -> str:
    """How a group is named in messages and timelines: ``team=web``, or the storm summary's."""
    if group.storm:
        return f"storm on route {group.route + 1}"
    return ", ".join(f"{k}={v}" for k, v in sorted(group.labels.items())) or f"route {group.route + 1}"


def group_info(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "label": group_label(group),
        "labels": dict(group.labels),
        "members": len(group.members),
        "firing": len(group.firing),
        "storm": group.storm,
    }


def group_notification(
    config: Config | None,
    group: Group,
    kind: NotificationKind,
    incidents: Sequence[Incident],
    *,
    channel: str,
    ack_url: str | None = None,
    mentions: Iterable[str] = (),
    update: bool = False,
    step: int | None = None,
) -> Notification:
    """One channel's message for the group: its firing members' alerts first, then the resolved
    ones (shown resolved); the notifiers bound what they list (first N, "and K more")."""
    by_id = {i.id: i for i in incidents}
    firing, resolved = [], []
    for member in group.members:
        incident = by_id.get(member.id)
        if incident is None:
            continue
        alert = incident_alert(incident)
        if member.firing:
            firing.append(alert)
        else:
            resolved.append(replace(alert, state=AlertState.OK))
    alerts = tuple(firing + resolved) if kind is not NotificationKind.RESOLVE else tuple(resolved or firing)
    handles = dict(group.handles.get(channel, {}))
    handles[GROUP_INFO_HANDLE] = group_info(group)
    if update:
        handles[UPDATE_HANDLE] = True
    check_name = alerts[0].check if alerts else None
    return Notification(
        kind=kind,
        alerts=alerts,
        incident_id=group.id,
        opened_at=group.opened_at,
        check=config.check(check_name) if config is not None and check_name and len(alerts) == 1 else None,
        ack_url=ack_url,
        acknowledged_by=group.acknowledged_by if kind is NotificationKind.ACKNOWLEDGE else None,
        mentions=tuple(mentions),
        handles=handles,
        escalation_step=step,
    )


def member_resolved(groups: GroupStore, group_id: str, incident_id: str, now: datetime) -> Group | None:
    """A grouped incident resolved (its alarm, a button, the CLI): its group marks it resolved (a
    conditional write; None when the group no longer has it firing). Once its last member has,
    the group's resolve is due at once."""
    key = key_of(group_id)
    if key is None:
        return None

    def decide(group: Group | None) -> Group | None:
        if group is None or group.id != group_id:
            return None
        return resolve_member(group, incident_id, now)

    return groups.change(key, decide)


class GroupFlusher:
    def __init__(
        self,
        config: Config,
        store: IncidentStore,
        groups: GroupStore,
        dispatcher: Dispatcher,
        *,
        ack_url_for: AckUrlFor | None = None,
        resolve_targets: Callable[[Config, Iterable[str], datetime], Resolved] | None = None,
        pipeline: Pipeline | None = None,
    ):
        self.config = config
        self.store = store
        self.groups = groups
        self.dispatcher = dispatcher
        self.ack_url_for = ack_url_for
        self.resolve_targets = resolve_targets or default_resolve_targets
        self.pipeline = pipeline or Pipeline(dispatcher)

    def flush_due(self, now: datetime, report: FlushReport | None = None) -> FlushReport:
        """Every group with a flush due at ``now`` (the escalation sweep's minute)."""
        report = report or FlushReport()
        try:
            due = self.groups.due(now)
        except Exception:
            log.exception("due groups could not be read; next sweep")
            return report
        for group in due:
            try:
                self.flush(group.key, now, report)
            except Exception as exc:  # one group's trouble must not stop the others
                log.exception("flush of group %s failed", group.id)
                report.skipped.append((group.id, f"error: {type(exc).__name__}: {exc}"))
        return report

    def flush(self, key: str, now: datetime, report: FlushReport | None = None) -> FlushReport:
        report = report or FlushReport()
        group = self.groups.get(key)
        if group is None:
            return report
        incidents = self._members(group)
        current = with_due(
            reconcile(
                group,
                (i.id for i in incidents if i.is_open),
                (i.id for i in incidents if i.status == "acknowledged"),
            ),
            now,
        )
        flush = decide_flush(current, now)
        if flush is None:
            if current != group and self.groups.put(current):
                report.skipped.append((group.id, "reconciled with its members"))
            else:
                report.skipped.append((group.id, "nothing due"))
            return report
        claimed = claim(current, now, first_page_lease(self.dispatcher, FLUSH_LEASE))
        if not self.groups.put(claimed):
            report.skipped.append((group.id, "claimed by another flusher, or changed"))
            return report
        claimed = replace(claimed, version=claimed.version + 1)
        delivered, handles, cursor, moved, failed = self._send(claimed, flush, incidents, now)

        def record(fresh: Group | None) -> Group | None:
            if fresh is None or fresh.generation != claimed.generation:
                return None
            if fresh.claimed_until != claimed.claimed_until:
                return None  # the lease ran out and another flusher took it over
            return after_flush(
                fresh, flush, now, delivered=delivered, handles=handles, cursor=cursor, cursor_moved=moved
            )

        if self.groups.change(key, record) is None:
            log.warning("group %s: claim lost before its %s was recorded", group.id, flush.kind)
        report.flushed.append(Flushed(group.id, flush.kind, delivered, failed))
        return report

    # -- helpers
    def _members(self, group: Group) -> list[Incident]:
        found = []
        for member in group.members:
            incident = self.store.get(member.id)
            if incident is not None:
                found.append(incident)
        return found

    def _send(
        self, group: Group, flush: Flush, incidents: list[Incident], now: datetime
    ) -> tuple[tuple[str, ...], dict[str, dict], Cursor | None, bool, tuple[str, ...]]:
        """Send the flush; (channels that got it or will by redelivery, new handles per channel,
        the escalation cursor after it, whether the cursor moved, channels that failed)."""
        if flush.kind == "finish":
            return (), {}, None, False, ()
        policy = self.config.escalation_policies.get(group.policy or "")
        cursor: Cursor | None = None
        moved = False
        step: int | None = None
        if flush.kind == "escalate":
            if policy is None or group.step >= len(policy.steps):
                return (), {}, None, True, ()
            resolved = self.resolve_targets(self.config, policy.steps[group.step].notify, now)
            step = group.step
            anchor = group.first_sent_at or group.opened_at
            cursor = next_cursor(policy, Cursor(group.step, group.round, now), opened_at=anchor)
            moved = True
        elif flush.kind == "first":
            resolved = Resolved(channels=group.channels, mentions=group.mentions, emails=group.emails)
            cursor = initial_cursor(policy, now) if policy is not None else None
            moved = True
        elif flush.kind in ("update", "repeat"):
            resolved = Resolved(channels=group.channels, mentions=group.mentions, emails=group.emails)
        else:  # resolve / acknowledge: the channels that saw the group
            wanted = flush.channels
            if flush.kind == "acknowledge":
                wanted = tuple(
                    c
                    for c in wanted
                    if (ch := self.config.channels.get(c)) is not None and ch.type in _ACK_TYPES
                )
            resolved = Resolved(channels=tuple(wanted))
        sends, problems = plan_sends(self.config, None, resolved)
        if flush.kind in ("resolve", "acknowledge"):
            sends = [PlannedSend(s.channel, s.key) for s in sends if not s.key.endswith(":people")]
        for problem in problems:
            log.warning("group %s, %s: %s", group.id, flush.kind, problem)
        kind = _KINDS[flush.kind]
        covers_wording = Wording(
            f"group {group.id} ({group_label(group)}): {flush.kind} sent",
            f"group {group.id} {flush.kind}: ",
            dead_lettered=f"group {group.id} {flush.kind} kept on the dead-letter queue",
        )

        def page(send: PlannedSend) -> Page:
            recipient = ack_recipient(self.config, send.channel, send.email_to)
            ack_url = (
                ack_link(self.ack_url_for, _GroupRef(group.id), recipient=recipient)  # type: ignore[arg-type]
                if kind in (NotificationKind.TRIGGER, NotificationKind.ESCALATION)
                else None
            )
            has_message = bool(group.handles.get(send.channel, {}).get("ts"))
            notification = group_notification(
                self.config,
                group,
                kind,
                incidents,
                channel=send.channel,
                ack_url=ack_url,
                mentions=send.mentions,
                update=flush.kind == "update" and has_message,
                step=step,
            )
            covers = tuple(Covered(i, covers_wording, handles="none") for i in incidents)
            redeliver = kind in (NotificationKind.TRIGGER, NotificationKind.RESOLVE)
            return Page(send.channel, send.key, notification, covers, to=send.email_to, redeliver=redeliver)

        ledger = Ledger()
        sent = self.pipeline.send(sends, page, now, ledger) if incidents else []
        ledger.commit(self.store, contain_errors=True)
        delivered = tuple(
            dict.fromkeys(s.page.channel for s in sent if s.outcome.ok or s.deferred is not None)
        )
        failed = tuple(s.page.channel for s in sent if not s.outcome.ok)
        handles: dict[str, dict] = {}
        for one in sent:
            found = one.outcome.delivery.handles if one.outcome.ok and one.outcome.delivery else None
            if found and flush.kind == "first" and not one.page.key.endswith(":people"):
                handles[one.page.channel] = dict(found)
        return delivered, handles, cursor, moved, failed
