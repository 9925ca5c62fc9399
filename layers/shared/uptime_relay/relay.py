"""The relay: alerts in, incident state changed conditionally, notifications out on real transitions.

For each alert: route it, decide its transition against the stored incident (conditional write,
re-decided on a lost race), and notify only when something really changed:

- opened   -> TRIGGER to the targets at open (route ``notify`` + the policy's ``after: 0m`` step),
              escalation cursor set for the escalator;
- resolved -> RESOLVE to every channel that was notified (with its handles: Slack threads/updates,
              PagerDuty dedup_key);
- INSUFFICIENT_DATA -> WARNING to the route's Slack and e-mail channels (``warn``), nothing
              (``ignore``) or handled as an ALARM (``page``);
- duplicates, stale and joined alerts -> nothing (noted on the timeline where useful);
- silenced -> recorded on the timeline, nobody paged now; the first page is held and the
              escalation sweep sends it if the incident is still open when the silence ends.

Alertmanager alerts of one body (same ``extra["group_key"]``) become one message on channels whose
notifier ``groups_alerts`` (Slack, e-mail): its firing alerts, then its resolved ones, unless a
resolved alert has a bot message of its own to edit (that one is edited and threaded); elsewhere
(PagerDuty) one event per alert: ``plan_notifications``, a pure function ``uptime-relay render``
calls too. A grouped message names its incidents (``handles["incidents"]``, stored with every
member's handles) so its buttons act on all of them, and a member's resolve says how many still
fire (``handles["still_firing"]``) so the message stays FIRING until the last one resolves.
Every delivery outcome lands on the incident timeline, with the handles the channel returned.

``process_sns_event`` is the Lambda path: each SNS record is processed by an idempotent function
keyed on the SNS MessageId (Powertools Idempotency, same table), and transitions are idempotent
on their own (a duplicate with a different MessageId, e.g. EventBridge + SNS, also pages once).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import clock, metricnames
from .config import Config, EscalationPolicy, Route
from .delivery import DeliveryOutcome, Dispatcher
from .domain.alert import Alert, AlertSource, AlertState
from .domain.incident import Action, Incident, OpeningPlan, TimelineEntry, Transition, decide
from .domain.routing import RouteMatch, match_routes
from .domain.targets import Resolved
from .escalator import (
    SILENCE_RECHECK_S,
    PlannedSend,
    ack_link,
    deliver_planned,
    opening_sends,
    plan_sends,
)
from .notifiers.base import Notification, NotificationKind

log = logging.getLogger(__name__)

WARNING_CHANNEL_TYPES = ("slack", "email")
FIRST_PAGE_LEASE = timedelta(seconds=60)  # minimum; in Lambda: the invocation's remaining time + 5 s
ACK_LINK_LIFETIME = timedelta(hours=24)  # the README promises ack links valid 24 h
# CloudWatch's reason on a multi-time-series alarm's own notification ("1 out of 6 time series
# evaluated to ALARM"): at least one contributor is in ALARM, and it notifies on its own
_CONTRIBUTORS_IN_ALARM = re.compile(r"\b(\d+) out of \d+ time series evaluated to ALARM", re.IGNORECASE)


class RelayError(Exception):
    """Some records could not be recorded at all; raised after the others were processed."""


@dataclass(frozen=True)
class RelayResult:
    alert_id: str
    state: str
    action: str  # an Action value, or "error"
    incident_id: str | None = None
    reason: str = ""
    outcomes: tuple[DeliveryOutcome, ...] = ()
    silenced: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "state": self.state,
            "action": self.action,
            "incident_id": self.incident_id,
            "reason": self.reason,
            "silenced": self.silenced,
            "error": self.error,
            "deliveries": [
                {
                    "channel": o.channel,
                    "ok": o.ok,
                    "attempts": o.attempts,
                    "dead_lettered": o.dead_lettered,
                    "error": o.error,
                }
                for o in self.outcomes
            ],
        }


@dataclass
class _Send:
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


@dataclass
class _Resolved:
    channels: tuple[str, ...]
    mentions: tuple[str, ...] = ()


@dataclass
class _Pending:
    """Timeline entries and handles to write per incident after sending (one write each)."""

    entries: dict[str, list[TimelineEntry]] = field(default_factory=dict)
    handles: dict[str, dict[str, dict]] = field(default_factory=dict)
    settled: dict[str, list[str]] = field(default_factory=dict)
    openings: dict[str, Incident] = field(default_factory=dict)  # incidents whose first page went out


# --------------------------------------------------------------------------------------- defaults
def first_page_lease(dispatcher: Any, minimum: timedelta = FIRST_PAGE_LEASE) -> timedelta:
    """How long a first page is its sender's: past the end of this invocation (nobody may take it
    over while we might still be sending), at least ``minimum``."""
    time_left = getattr(dispatcher, "time_left", None)
    if time_left is None:
        return minimum
    try:
        return max(minimum, timedelta(seconds=time_left() + 5))
    except Exception:
        return minimum


def _as_resolved(found: Any) -> Resolved:
    """Whatever ``resolve_targets`` returned, as ``domain.targets.Resolved``."""
    if isinstance(found, Resolved):
        return found
    return Resolved(
        channels=tuple(getattr(found, "channels", ()) or ()),
        mentions=tuple(getattr(found, "mentions", ()) or ()),
        emails=tuple(getattr(found, "emails", ()) or ()),
        people=tuple(getattr(found, "people", ()) or ()),
        problems=tuple(getattr(found, "problems", ()) or ()),
    )


def _default_targets_at_open(route: Route, policy: EscalationPolicy | None) -> tuple[str, ...]:
    try:
        from .domain.escalation import targets_at_open
    except ImportError:
        return tuple(route.notify)
    return tuple(targets_at_open(route, policy))


def _default_initial_cursor(policy: EscalationPolicy | None, opened_at: datetime):
    try:
        from .domain.escalation import initial_cursor
    except ImportError:
        return None
    return initial_cursor(policy, opened_at)


def _default_resolve_targets(config: Config, targets: Iterable[str], at: datetime):
    try:
        from .domain.targets import resolve_targets
    except ImportError:
        plain = tuple(t for t in dict.fromkeys(targets) if ":" not in t)
        return _Resolved(plain)
    return resolve_targets(config, targets, at)


class silencer:
    """``silenced(labels, at) -> why | None`` from the config's maintenance windows and, when given,
    the active silences (``SilenceStore.active``). Silences are read at most once per instant per
    batch: the relay calls ``reset()`` at the start of each ``handle``."""

    def __init__(self, config: Config, silences: Callable[[datetime], Iterable[Any]] | None = None):
        self.config = config
        self.silences = silences
        self._cache: dict[datetime, list[Any]] = {}

    def reset(self) -> None:
        self._cache.clear()

    def __call__(self, labels: Mapping[str, str], at: datetime) -> str | None:
        if not self.config.maintenance and self.silences is None:
            return None
        try:
            from .domain.silence import is_silenced
        except ImportError:
            return None
        if self.silences is not None and at not in self._cache:
            self._cache[at] = list(self.silences(at))
        return is_silenced(labels, at, self._cache.get(at, ()), self.config.maintenance)


# --------------------------------------------------------------------------------------- relay
class Relay:
    def __init__(
        self,
        config: Config,
        store: Any,
        dispatcher: Dispatcher,
        *,
        ack_url_for: Callable[[Incident], str | None] | None = None,
        resolve_targets: Callable[[Config, Iterable[str], datetime], Any] | None = None,
        targets_at_open: Callable[[Route, EscalationPolicy | None], Sequence[str]] | None = None,
        initial_cursor: Callable[[EscalationPolicy | None, datetime], Any] | None = None,
        silenced: Callable[[Mapping[str, str], datetime], str | None] | None = None,
        parse: Callable[[Any], list[Alert]] | None = None,
        enrich: Callable[[Alert, Config], Alert] | None = None,
        metrics: Callable[..., None] | None = None,
        idempotent: Callable[[Callable[[dict], dict]], Callable[..., dict]] | None = None,
        lease: timedelta = FIRST_PAGE_LEASE,
        alarm_tags: Any = None,
    ):
        self.config = config
        self.alarm_tags = alarm_tags  # adapters.alarm_tags.AlarmTags: CloudWatch alarm tags as labels
        self.store = store
        self.dispatcher = dispatcher
        self.ack_url_for = ack_url_for
        self.resolve_targets = resolve_targets or _default_resolve_targets
        self.targets_at_open = targets_at_open or _default_targets_at_open
        self.initial_cursor = initial_cursor or _default_initial_cursor
        self.silenced = silenced or silencer(config)
        self._parse = parse
        self._enrich = enrich
        self.metrics = metrics
        self.lease = lease
        self._process_record = idempotent(self.process_record) if idempotent else None

    # -- the Lambda path
    def parse(self, obj: Any) -> list[Alert]:
        if self._parse is None:
            from .intake import parse_event

            self._parse = parse_event
        return self._parse(obj)

    def enrich(self, alert: Alert) -> Alert:
        if self._enrich is None:
            from .intake import enrich

            self._enrich = enrich
        tags = self._alarm_tags(alert)
        return self._enrich(alert, self.config, tags=tags) if tags else self._enrich(alert, self.config)

    def _alarm_tags(self, alert: Alert) -> dict[str, str]:
        """The CloudWatch alarm's tags (best effort, cached), for CloudWatch and EventBridge alerts."""
        if self.alarm_tags is None or alert.source not in (AlertSource.CLOUDWATCH, AlertSource.EVENTBRIDGE):
            return {}
        try:
            return self.alarm_tags.tags_for(alert.id)
        except Exception:
            log.warning("tags of alarm %s could not be read", alert.id, exc_info=True)
            return {}

    def process_record(self, record: dict) -> dict:
        """One SNS (or SQS) record: parse, enrich, handle. Raises when an alert could not be recorded."""
        alerts = [self.enrich(a) for a in self.parse({"Records": [record]})]
        results = self.handle(alerts, clock.now())
        failed = [r for r in results if r.action == "error"]
        if failed:
            raise RelayError("; ".join(f"{r.alert_id}: {r.error}" for r in failed))
        return {"results": [r.to_dict() for r in results]}

    def process_sns_event(self, event: Any, context: Any = None) -> dict:
        """Every record is processed even when one fails; raise at the end if any was not recorded
        (Lambda's async retry and the function's DLQ then keep it)."""
        from aws_lambda_powertools.utilities.data_classes import SNSEvent

        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if callable(remaining):
            self.dispatcher.time_left = lambda: remaining() / 1000.0
        event = getattr(event, "raw_event", event)  # a Powertools event class: its plain dict
        records = event.get("Records") if isinstance(event, dict) else None
        if not records:  # a bare alarm message, an EventBridge event, an Alertmanager body
            alerts = [self.enrich(a) for a in self.parse(event)]
            results = self.handle(alerts, clock.now())
            failed = [r for r in results if r.action == "error"]
            if failed:
                raise RelayError(f"{len(failed)} alert(s) could not be recorded: {failed[0].error}")
            return {"records": 0, "results": [r.to_dict() for r in results]}
        summaries: list[dict] = []
        errors: list[str] = []
        for index, sns_record in enumerate(SNSEvent(event).records):
            record = sns_record.raw_event  # the plain dict: Idempotency hashes it, intake parses it
            try:
                if self._process_record is not None:
                    summaries.append(self._process_record(record=record))
                else:
                    summaries.append(self.process_record(record))
            except Exception as exc:
                has_sns = isinstance(record, dict) and isinstance(record.get("Sns"), dict)
                message_id = (sns_record.sns.get("MessageId") if has_sns else None) or f"record {index}"
                log.exception("record %s could not be recorded", message_id)
                errors.append(f"{message_id}: {type(exc).__name__}: {exc}")
        if errors:
            raise RelayError(
                f"{len(errors)} of {len(records)} records could not be recorded: " + "; ".join(errors)
            )
        return {"records": len(records), "results": [r for s in summaries for r in s.get("results", [])]}

    # -- the core
    def handle(self, alerts: Iterable[Alert], now: datetime) -> list[RelayResult]:
        results: list[RelayResult] = []
        sends: list[_Send] = []
        reset = getattr(self.silenced, "reset", None)
        if reset is not None:
            reset()
        for alert in alerts:
            try:
                result, alert_sends = self._transition(alert, now)
            except Exception as exc:
                log.exception("alert %s could not be recorded", alert.id)
                result, alert_sends = (
                    RelayResult(alert.id, alert.state.value, "error", error=f"{type(exc).__name__}: {exc}"),
                    [],
                )
            for send in alert_sends:
                send.result_index = len(results)
            results.append(result)
            sends.extend(alert_sends)
            self._metric(metricnames.ALERTS_RELAYED)
        if sends:
            self._deliver(sends, results, now)
        return results

    def _metric(self, name: str, value: float = 1) -> None:
        if self.metrics is not None:
            try:
                self.metrics(name, value)
            except Exception:
                log.warning("metric %s could not be recorded", name, exc_info=True)

    def _plan(self, alert: Alert, match: RouteMatch, now: datetime) -> tuple[OpeningPlan, Any]:
        targets: list[str] = []
        for route in match.routes:
            policy = self.config.escalation_policies.get(route.escalation) if route.escalation else None
            targets.extend(self.targets_at_open(route, policy))
        resolved = _as_resolved(self.resolve_targets(self.config, dict.fromkeys(targets), now))
        policy = self.config.escalation_policies.get(match.policy) if match.policy else None
        # escalation counts from when we learnt of it: an alert that arrives late (Alertmanager's
        # startsAt, a delayed SNS delivery) gets its full delays; opened_at stays the alarm's time
        anchor = max(alert.time, now)
        cursor = self.initial_cursor(policy, anchor) if policy is not None else None
        # the first page is planned as an escalation step is: people's e-mail included
        sends, problems = plan_sends(self.config, None, resolved)
        for problem in problems:
            log.warning("alert %s, first page: %s", alert.name, problem)
        silenced = self.silenced(alert.labels, alert.time)
        plan = OpeningPlan(
            name=alert.name,
            labels=dict(alert.labels),
            check=alert.check,
            route_channels=tuple(resolved.channels),
            policy=match.policy,
            cursor=cursor,
            silenced=silenced,
            unrouted=not match.matched,
            mentions=tuple(resolved.mentions),
            lease_until=now + self._lease(),
            emails=tuple(resolved.emails),
            pending_keys=tuple(dict.fromkeys(send.key for send in sends)),
            anchor=anchor,  # stored on the incident: the escalator times every step from it
            # silenced: the first page is held; the escalation sweep re-checks the silence then
            hold_until=now + timedelta(seconds=SILENCE_RECHECK_S) if silenced else None,
        )
        return plan, resolved

    def _transition(self, alert: Alert, now: datetime) -> tuple[RelayResult, list[_Send]]:
        if covered_by_contributors(alert):
            why = (
                "alarm-level notification of a multi-time-series alarm: each contributor in ALARM "
                "opens its own incident"
            )
            log.info(
                "alert %s: recorded, nobody paged (%s)",
                alert.name,
                why,
                extra={"alert_id": alert.id, "state": alert.state.value, "action": Action.ALARM_LEVEL.value},
            )
            return RelayResult(alert.id, alert.state.value, Action.ALARM_LEVEL.value, None, why), []
        match = match_routes(self.config.routes, alert.labels)
        mode = match.insufficient_data
        plan: OpeningPlan | None = None
        if alert.state is AlertState.ALARM or (
            alert.state is AlertState.INSUFFICIENT_DATA and mode == "page"
        ):
            plan, _ = self._plan(alert, match, now)

        def decider(record, incident) -> Transition:
            return decide(record, incident, alert, plan=plan, insufficient_mode=mode)

        transition: Transition = self.store.apply(alert, decider)
        incident = transition.current
        extra = {
            "alert_id": alert.id,
            "state": alert.state.value,
            "alert_time": alert.time.isoformat(),
            "action": transition.action.value,
            "incident_id": incident.id if incident else None,
        }
        log.info("alert %s: %s (%s)", alert.name, transition.action.value, transition.reason, extra=extra)
        sends: list[_Send] = []
        silenced = None
        if transition.action is Action.OPENED and incident is not None:
            if incident.silenced:
                silenced = plan.silenced if plan else "silenced"
                log.info("incident %s silenced: %s", incident.id, silenced, extra=extra)
            elif not match.matched:
                log.warning(
                    "no route matched alert %s (labels %s): nobody notified", alert.name, dict(alert.labels)
                )
            if not incident.silenced:  # silenced: the escalation sweep sends it when the silence ends
                sends = self._opening(alert, incident, incident.pending)
        elif transition.action in (Action.DUPLICATE, Action.JOINED) and self._orphaned(incident, now):
            # the opener committed the incident but never recorded its first page (it crashed or
            # timed out): this redelivery takes the page over, once (conditional claim)
            assert incident is not None
            if self.store.claim_pending(
                incident.id, expected_until=incident.pending_until, until=now + self._lease()
            ):
                log.warning(
                    "incident %s: first page to %s was never confirmed; sending it now",
                    incident.id,
                    list(incident.pending),
                    extra=extra,
                )
                sends = self._opening(alert, incident, incident.pending)
        elif transition.action is Action.RESOLVED and incident is not None:
            sends = [
                _Send(NotificationKind.RESOLVE, channel, alert, incident)
                for channel in incident.notified_channels()
            ]
        elif transition.action is Action.INSUFFICIENT and mode == "warn":
            silenced = self.silenced(alert.labels, alert.time)
            if incident is not None and incident.silenced:
                silenced = silenced or "incident silenced"
            if silenced is None:
                resolved = self.resolve_targets(self.config, match.channels, now)
                sends = [
                    _Send(NotificationKind.WARNING, channel, alert, incident)
                    for channel in resolved.channels
                    if (ch := self.config.channels.get(channel)) is not None
                    and ch.type in WARNING_CHANNEL_TYPES
                ]
        return (
            RelayResult(
                alert.id,
                alert.state.value,
                transition.action.value,
                incident.id if incident else None,
                transition.reason,
                silenced=silenced,
            ),
            sends,
        )

    def _lease(self) -> timedelta:
        return first_page_lease(self.dispatcher, self.lease)

    def _opening(self, alert: Alert, incident: Incident, keys: Iterable[str]) -> list[_Send]:
        """The first page's sends still to make (``keys``: the incident's pending send keys)."""
        planned, _ = opening_sends(self.config, incident, only=keys)
        return [
            _Send(
                NotificationKind.TRIGGER,
                send.channel,
                alert,
                incident,
                tuple(send.mentions),
                key=send.key,
                email_to=tuple(send.email_to),
            )
            for send in planned
        ]

    @staticmethod
    def _orphaned(incident: Incident | None, now: datetime) -> bool:
        return (
            incident is not None
            and incident.is_open
            and not incident.silenced
            and bool(incident.pending)
            and (incident.pending_until is None or incident.pending_until <= now)
        )

    def _release(self, incident: Incident) -> None:
        """The first page is settled: give the escalation cursor back to the due index."""
        try:
            self.store.release_hold(incident.id, due_at=incident.held_due_at)
        except Exception:  # the escalation sweep restores it when it finds the incident due
            log.exception("escalation cursor of %s could not be restored", incident.id)

    def _deliver(self, sends: list[_Send], results: list[RelayResult], now: datetime) -> None:
        pending = _Pending()
        outcomes: dict[int, list[DeliveryOutcome]] = {}
        plans = plan_notifications(
            self.config,
            sends,
            groups_alerts=self.dispatcher.groups_alerts,
            ack_url_for=self.ack_url_for,
            still_firing=lambda ids: group_still_firing(self.store, ids),
        )
        for plan in plans:
            notification, group = plan.notification, list(plan.sends)
            first = group[0]
            # a grouped message's handles name every incident it covers: buttons act on all of
            # them, and a member's resolve knows how many are still firing
            members = (
                group_incident_ids([s for s in group if s.kind is NotificationKind.TRIGGER])
                if first.kind is NotificationKind.TRIGGER
                else ()
            )
            if first.email_to:
                planned = PlannedSend(first.channel, first.send_key, first.mentions, first.email_to)
                outcome = deliver_planned(self.dispatcher, self.config, planned, notification)
            else:
                outcome = self.dispatcher.deliver(first.channel, notification)
            for send in group:
                outcomes.setdefault(send.result_index, []).append(outcome)
                if send.incident is None:
                    continue
                entries = pending.entries.setdefault(send.incident.id, [])
                entries.extend(_entries(outcome, send.kind, now))
                if outcome.ok and outcome.delivery is not None and (outcome.delivery.handles or members):
                    handles = dict(outcome.delivery.handles)
                    if members:
                        handles[GROUP_HANDLE] = list(members)
                    pending.handles.setdefault(send.incident.id, {})[send.channel] = handles
                if send.kind is NotificationKind.TRIGGER and (outcome.ok or outcome.dead_lettered):
                    # delivered or safely on the dead-letter queue: nobody needs to send it again
                    pending.settled.setdefault(send.incident.id, []).append(send.send_key)
                    pending.openings[send.incident.id] = send.incident
        for incident_id in dict.fromkeys([*pending.entries, *pending.handles]):
            try:
                if not self.store.record_outcomes(
                    incident_id,
                    pending.entries.get(incident_id, []),
                    pending.handles.get(incident_id, {}),
                    settled=pending.settled.get(incident_id, ()),
                ):
                    log.warning(
                        "incident %s vanished before its delivery outcomes were recorded", incident_id
                    )
            except Exception:
                log.exception("delivery outcomes for %s could not be recorded", incident_id)
                continue
            opened = pending.openings.get(incident_id)
            settled = set(pending.settled.get(incident_id, ()))
            if opened is not None and opened.cursor_held and set(opened.pending) <= settled:
                self._release(opened)
        for index, found in outcomes.items():
            r = results[index]
            results[index] = RelayResult(
                r.alert_id, r.state, r.action, r.incident_id, r.reason, tuple(found), r.silenced, r.error
            )


def covered_by_contributors(alert: Alert) -> bool:
    """True for the ALARM notification of a multi-time-series (Metrics Insights ``GROUP BY``) alarm
    whose reason says at least one time series is in ALARM: CloudWatch notifies for each such
    contributor on its own, and those alerts are the page. Anything else about such an alarm (its
    OK, its INSUFFICIENT_DATA, an ALARM with no time series in ALARM, e.g. the query returning
    no data at all, or a reason we cannot read) is handled like any alert, so nothing is lost when
    there is no contributor to carry the page."""
    if not alert.extra.get("alarm_level_of_multi_time_series") or alert.state is not AlertState.ALARM:
        return False
    found = _CONTRIBUTORS_IN_ALARM.search(alert.reason or "")
    return found is not None and int(found.group(1)) > 0


# --------------------------------------------------------------------------------------- planning
GROUP_HANDLE = "incidents"  # handles key: the incident ids one grouped message covers
STILL_FIRING_HANDLE = "still_firing"  # on a RESOLVE: how many of those are still open
Send = _Send  # what to send: kind, channel name, alert, incident (``plan_notifications`` input)


@dataclass(frozen=True)
class PlannedNotification:
    channel: str
    notification: Notification
    sends: tuple[_Send, ...]  # the sends this one message covers (one per alert)


def group_incident_ids(sends: Iterable[_Send]) -> tuple[str, ...]:
    """The distinct incident ids of a group's sends, in order; () when there are fewer than two."""
    ids = tuple(dict.fromkeys(s.incident.id for s in sends if s.incident is not None))
    return ids if len(ids) > 1 else ()


def group_still_firing(store: Any, incident_ids: Iterable[str]) -> int:
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
    sends: Sequence[_Send],
    *,
    groups_alerts: Callable[[str], bool],
    ack_url_for: Callable[[Any], str | None] | None = None,
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
    (``handles["incidents"]`` recorded at send time) are still open, per ``still_firing(ids)``.
    ``incident`` may be any object with ``id``, ``opened_at`` and ``handles``."""
    groups: dict[tuple, list[_Send]] = {}
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


def _body_key(send: _Send) -> tuple[str, str]:
    """(send key, Alertmanager body): the sends that may share one message."""
    return send.send_key, str(send.alert.extra.get("group_key") or send.alert.id)


def _handles_of(incident: Any, channel: str) -> dict[str, Any]:
    handles = getattr(incident, "handles", None) or {}
    found = handles.get(channel) if isinstance(handles, Mapping) else None
    return dict(found) if isinstance(found, Mapping) else {}


def _group_notification(
    config: Config | None,
    group: list[_Send],
    ack_url_for: Callable[[Any], str | None] | None,
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
            recipient=_recipient(config, first.channel, first.email_to),
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
        opened_at=getattr(incident, "opened_at", None) if incident is not None else None,
        check=config.check(check_name) if config is not None and check_name else None,
        ack_url=ack_url,
        mentions=tuple(dict.fromkeys(m for s in group for m in s.mentions)),
        handles=handles,
    )


def _count_earlier_group(
    handles: dict[str, Any],
    group: list[_Send],
    folded: list[_Send],
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


def _recipient(config: Config | None, channel: str, email_to: Iterable[str]) -> str | None:
    if config is None:
        return None
    from .actions import ack_recipient

    return ack_recipient(config, channel, email_to)


def _entries(outcome: DeliveryOutcome, kind: NotificationKind, now: datetime) -> list[TimelineEntry]:
    if outcome.ok:
        return [TimelineEntry(now, "notified", f"{kind.value} sent", outcome.channel)]
    entries = [TimelineEntry(now, "delivery_failed", f"{kind.value}: {outcome.error}", outcome.channel)]
    if outcome.dead_lettered:
        entries.append(
            TimelineEntry(
                now, "dead_lettered", f"{kind.value} kept on the dead-letter queue", outcome.channel
            )
        )
    return entries


# --------------------------------------------------------------------------------------- wiring
def make_idempotent(table_name: str, *, client: Any = None, expires_after_s: int = 86400):
    """Wrap a per-record function in Powertools Idempotency keyed on the SNS MessageId.

    Returns ``(wrap, idempotency_config)``; call ``idempotency_config.register_lambda_context``
    from the handler. Records without a MessageId (SQS) are processed without the guard; the
    incident transitions are idempotent on their own.
    """
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(
        table_name=table_name, key_attr="pk", expiry_attr="expires_at", boto3_client=client
    )
    config = IdempotencyConfig(
        event_key_jmespath="Sns.MessageId",
        raise_on_no_idempotency_key=False,
        expires_after_seconds=expires_after_s,
    )

    def wrap(function: Callable[[dict], dict]) -> Callable[..., dict]:
        def process(record: dict) -> dict:
            return function(record)

        process.__name__ = "relay_record"
        process.__qualname__ = "relay_record"
        return idempotent_function(
            process, data_keyword_argument="record", persistence_store=persistence, config=config
        )

    return wrap, config


def ack_url_factory(actions_url: str, secret: Callable[[], str], *, lifetime: timedelta = ACK_LINK_LIFETIME):
    """``(incident, recipient=None, incident_ids=()) -> https://.../ack/<signed token>`` (the actions
    function verifies it). ``recipient``: the one address the mail goes to (``actions.ack_recipient``),
    recorded as who acknowledged; ``incident_ids``: a grouped message's incidents, all acknowledged
    by the link (``actions.ack_link_subject`` keeps the token short for big groups)."""

    def ack_url_for(
        incident: Incident, recipient: str | None = None, incident_ids: Iterable[str] = ()
    ) -> str:
        from .actions import ack_link_subject
        from .security import make_ack_token

        subject = ack_link_subject([incident.id, *incident_ids])
        token = make_ack_token(secret(), subject, clock.now() + lifetime, recipient=recipient)
        return f"{actions_url.rstrip('/')}/ack/{token}"

    return ack_url_for


@dataclass
class RelayService:
    """What the Lambda handler holds: the Relay plus the idempotency config to register context on."""

    relay: Relay
    idempotency_config: Any = None

    def process_sns_event(self, event: Any, context: Any = None) -> dict:
        if self.idempotency_config is not None and context is not None:
            self.idempotency_config.register_lambda_context(context)
        return self.relay.process_sns_event(event, context)


def build_relay_from_env(
    environ: Mapping[str, str] | None = None,
    *,
    metrics: Callable[..., None] | None = None,
    config: Config | None = None,
    dynamodb: Any = None,
    sqs: Any = None,
    notifiers: Mapping[str, Any] | None = None,
    secrets: Any = None,
) -> RelayService:
    """Adapters from TABLE_NAME, DLQ_URL, ACTIONS_URL, ACK_SECRET_REF, UPTIME_CONFIG (clients injectable).

    Without TABLE_NAME / DLQ_URL (a bare local run) state and dead letters are kept in memory.
    """
    from .wiring import delivery_from_env

    wired = delivery_from_env(
        environ,
        what="notifications",
        config=config,
        dynamodb=dynamodb,
        sqs=sqs,
        notifiers=notifiers,
        secrets=secrets,
        metrics=metrics,
    )
    config, table, store, dispatcher, ack_url_for = (
        wired.config,
        wired.table,
        wired.store,
        wired.dispatcher,
        wired.ack_url_for,
    )
    wrap, idem_config = make_idempotent(table, client=dynamodb) if table else (None, None)
    silences = None
    if table:
        from .adapters.silences import DynamoSilences

        silences = DynamoSilences(table, client=dynamodb).active
    relay = Relay(
        config,
        store,
        dispatcher,
        ack_url_for=ack_url_for,
        metrics=metrics,
        idempotent=wrap,
        silenced=silencer(config, silences),
        alarm_tags=_alarm_tags_from_env(table),
    )
    return RelayService(relay, idem_config)


def _alarm_tags_from_env(table: str | None) -> Any:
    """Alarm tags are read where the relay runs against AWS (a table is configured): a bare local
    run without one never calls CloudWatch."""
    if not table:
        return None
    from .adapters.alarm_tags import AlarmTags

    return AlarmTags()
