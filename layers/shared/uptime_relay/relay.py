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
- muted    -> silenced, flapping, inhibited, or an inhibit rule's target waiting for its
              sources (``muting.Muting``, the one place that decides): recorded on the timeline,
              nobody paged now; the first page is held and the escalation sweep sends it if the
              incident is still open when the mute ends;
- a state change (opened, resolved) of a check with ``flapping`` is counted; the change that
              makes it flap sends one "flapping" notice to the route's chat and e-mail channels.

Alertmanager alerts of one body (same ``extra["group_key"]``) become one message on channels whose
notifier ``groups_alerts`` (Slack, e-mail): its firing alerts, then its resolved ones, unless a
resolved alert has a bot message of its own to edit (that one is edited and threaded); elsewhere
(PagerDuty) one event per alert: ``paging.plan_notifications``, a pure function ``uptime-relay
render`` calls too. A grouped message names its incidents (``handles["incidents"]``, stored with every
member's handles) so its buttons act on all of them, and a member's resolve says how many still
fire (``handles["still_firing"]``) so the message stays FIRING until the last one resolves.
A new incident on a route with ``group_by``, or one past the storm guard's threshold, does not
page on its own: ``_disposition`` (the one place that decides whether an opening pages now) puts
it into its route group or the route's storm summary (``domain.grouping``, a conditional write),
and the group pages, resolves and escalates for it (``paging.groups``: the escalation sweep
flushes due groups; the relay flushes one that is due at once, after its batch).
The messages go out through the one send pipeline (``paging.Pipeline``): every delivery outcome
lands on the incident timeline, with the handles the channel returned, and a settled first page
gives the escalation cursor back.

``process_sns_event`` is the Lambda path: each SNS record is processed by an idempotent function
keyed on the SNS MessageId (Powertools Idempotency, same table), and transitions are idempotent
on their own (a duplicate with a different MessageId, e.g. EventBridge + SNS, also pages once).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent

from . import clock, metricnames
from .adapters.evidence import DynamoEvidenceStore
from .adapters.groups import InMemoryGroupStore
from .adapters.heartbeats import DynamoHeartbeats
from .adapters.region_results import RegionResults
from .alarms import alarm_period
from .check_pages import CheckNotes
from .config import Config, EscalationPolicy, Route
from .domain.alert import Alert, AlertSource, AlertState
from .domain.escalation import Cursor
from .domain.escalation import initial_cursor as default_initial_cursor
from .domain.escalation import targets_at_open as default_targets_at_open
from .domain.evidence import EXTRA_KEY as EVIDENCE_KEY
from .domain.evidence import LOG_GROUP_KEY, Evidence
from .domain.flapping import FlapState
from .domain.grouping import Spec, Timing, group_key, join, opens_new_group, storm_key
from .domain.incident import Action, Incident, OpeningPlan, TimelineEntry, Transition, decide
from .domain.regions import region_sentence
from .domain.routing import RouteMatch, match_routes
from .domain.silence import Silence, is_silenced
from .domain.storm import StormCounter, in_storm
from .domain.sweep import SILENCE_RECHECK_S
from .domain.targets import Resolved
from .domain.targets import resolve_targets as default_resolve_targets
from .intake import enrich as default_enrich
from .intake import parse_event
from .muting import Muting, flapping_alert
from .notifiers.base import NotificationKind, Notifier
from .paging import (
    FIRST_PAGE_LEASE,
    Covered,
    Ledger,
    Page,
    Pipeline,
    PlannedNotification,
    Send,
    Wording,
    first_page_lease,
    group_incident_ids,
    group_still_firing,
    opening_sends,
    plan_notifications,
    plan_sends,
)
from .paging.groups import GroupFlusher, group_label, member_resolved
from .ports import (
    AckUrlFor,
    ActiveSilences,
    AlarmTagSource,
    DeliveryOutcome,
    Dispatcher,
    FlapStore,
    GroupStore,
    IncidentStore,
    RegionResultSource,
    SecretResolver,
)
from .wiring import delivery_from_env

log = logging.getLogger(__name__)

WARNING_CHANNEL_TYPES = ("slack", "email")
# a storm summary's timing: sent by the next sweep (so the openings of that minute are in it),
# updated at most every 5 minutes while it grows, never repeated (its escalation still runs)
STORM_TIMING = Timing(wait_s=30.0, interval_s=300.0, repeat_s=None)
# CloudWatch's reason on a multi-time-series alarm's own notification ("1 out of 6 time series
# evaluated to ALARM"): at least one contributor is in ALARM, and it notifies on its own
_CONTRIBUTORS_IN_ALARM = re.compile(r"\b(\d+) out of \d+ time series evaluated to ALARM", re.IGNORECASE)


@dataclass(frozen=True)
class PageNow:
    """The opening pages on its own (its first page, its own escalation)."""


@dataclass(frozen=True)
class Grouped:
    """The opening goes into a group (its route's ``group_by``) or its route's storm summary."""

    spec: Spec
    why: str  # the member's timeline entry after "grouped into <group>"


Disposition = PageNow | Grouped


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


class silencer:
    """``silenced(labels, at) -> why | None`` from the config's maintenance windows and, when given,
    the active silences (``SilenceStore.active``). Silences are read at most once per instant per
    batch: the relay calls ``reset()`` at the start of each ``handle``. A store that cannot be read
    silences nothing (the error is logged): alerts keep flowing, as in the escalator."""

    def __init__(self, config: Config, silences: ActiveSilences | None = None):
        self.config = config
        self.silences = silences
        self._cache: dict[datetime, list[Silence]] = {}

    def reset(self) -> None:
        self._cache.clear()

    def __call__(self, labels: Mapping[str, str], at: datetime) -> str | None:
        if not self.config.maintenance and self.silences is None:
            return None
        if self.silences is not None and at not in self._cache:
            try:
                self._cache[at] = list(self.silences(at))
            except Exception:
                log.exception("silences could not be read; paging as if none were set")
                self._cache[at] = []
        return is_silenced(labels, at, self._cache.get(at, ()), self.config.maintenance)


# --------------------------------------------------------------------------------------- relay
class Relay:
    def __init__(
        self,
        config: Config,
        store: IncidentStore,
        dispatcher: Dispatcher,
        *,
        ack_url_for: AckUrlFor | None = None,
        resolve_targets: Callable[[Config, Iterable[str], datetime], Resolved] | None = None,
        targets_at_open: Callable[[Route, EscalationPolicy | None], Sequence[str]] | None = None,
        initial_cursor: Callable[[EscalationPolicy | None, datetime], Cursor | None] | None = None,
        silenced: Callable[[Mapping[str, str], datetime], str | None] | None = None,
        parse: Callable[[Any], list[Alert]] | None = None,
        enrich: Callable[..., Alert] | None = None,
        metrics: Callable[..., None] | None = None,
        idempotent: Callable[[Callable[[dict], dict]], Callable[..., dict]] | None = None,
        lease: timedelta = FIRST_PAGE_LEASE,
        alarm_tags: AlarmTagSource | None = None,
        flaps: FlapStore | None = None,
        evidence: Callable[[str], Evidence | None] | None = None,
        probe_log_group: str | None = None,
        groups: GroupStore | None = None,
        region_results: RegionResultSource | None = None,
    ):
        self.config = config
        self.region_results = region_results  # which regions failed, for checks with `regions`
        self.evidence = evidence  # a check's latest failure, as the probe recorded it
        self.probe_log_group = probe_log_group
        self.groups: GroupStore = groups if groups is not None else InMemoryGroupStore()
        self._due_groups: dict[str, None] = {}  # groups to flush at the end of this batch
        # the storm counter read for each Alertmanager body of this batch: one body is one
        # opening (it is already one message), however many alerts it carries
        self._storm_by_body: dict[str, StormCounter] = {}
        self.alarm_tags = alarm_tags  # CloudWatch alarm tags as labels
        self.store = store
        self.dispatcher = dispatcher
        self.pipeline = Pipeline(dispatcher)
        self.ack_url_for = ack_url_for
        self.resolve_targets = resolve_targets or default_resolve_targets
        self.targets_at_open = targets_at_open or default_targets_at_open
        self.initial_cursor = initial_cursor or default_initial_cursor
        self.silenced = silenced or silencer(config)
        # mute stages: silences (above), flapping, inhibition (``muting``)
        self.muting = Muting(config, store, silenced=self.silenced, flaps=flaps)
        self._parse = parse or parse_event
        self._enrich = enrich or default_enrich
        self.metrics = metrics
        self.lease = lease
        self._process_record = idempotent(self.process_record) if idempotent else None
        self.flusher = GroupFlusher(
            config,
            store,
            self.groups,
            dispatcher,
            ack_url_for=ack_url_for,
            resolve_targets=self.resolve_targets,
            pipeline=self.pipeline,
        )

    # -- the Lambda path
    def parse(self, obj: Any) -> list[Alert]:
        return self._parse(obj)

    def enrich(self, alert: Alert) -> Alert:
        tags = self._alarm_tags(alert)
        alert = self._enrich(alert, self.config, tags=tags) if tags else self._enrich(alert, self.config)
        alert = with_evidence(alert, self.config, self.evidence, self.probe_log_group)
        return self._name_regions(alert)

    def _name_regions(self, alert: Alert) -> Alert:
        """A check probed from several regions: its page says which regions failed and which did not."""
        check = self.config.check(alert.check) if alert.check else None
        if self.region_results is None or check is None or not check.regions or not alert.firing:
            return alert
        verdicts = self.region_results.verdicts(
            check.name, list(check.regions), period=alarm_period(check), at=alert.time
        )
        sentence = region_sentence(verdicts, check.regions, check.required_quorum)
        annotations = dict(alert.annotations)
        annotations["regions_failing"] = ",".join(r for r in check.regions if verdicts.get(r) is False)
        annotations["regions_passing"] = ",".join(r for r in check.regions if verdicts.get(r) is True)
        reason = f"{sentence} {alert.reason}".strip()
        return replace(alert, reason=reason, annotations=annotations)

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
        remaining = getattr(context, "get_remaining_time_in_millis", None)  # a Lambda context, or None
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
        sends: list[Send] = []
        self.muting.reset()
        self._storm_by_body = {}
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
            if result.action == Action.OPENED.value:
                self._metric(metricnames.INCIDENTS_OPENED)
        if sends:
            self._deliver(sends, results, now)
        self._flush_due_groups(now)
        return results

    def _flush_due_groups(self, now: datetime) -> None:
        """Groups this batch made due now (``group_wait: 0s``, a last member's resolve): flushed
        here, once each, after the whole batch joined; the escalation sweep flushes the rest."""
        keys, self._due_groups = list(self._due_groups), {}
        for key in keys:
            try:
                self.flusher.flush(key, now)
            except Exception:  # the sweep flushes it next minute: it is still due
                log.exception("group %s could not be flushed now; the escalation sweep will", key)

    def _metric(self, name: str, value: float = 1) -> None:
        if self.metrics is not None:
            try:
                self.metrics(name, value)
            except Exception:
                log.warning("metric %s could not be recorded", name, exc_info=True)

    def _plan(self, alert: Alert, match: RouteMatch, now: datetime) -> OpeningPlan:
        targets: list[str] = []
        for route in match.routes:
            policy = self.config.escalation_policies.get(route.escalation) if route.escalation else None
            targets.extend(self.targets_at_open(route, policy))
        resolved = self.resolve_targets(self.config, dict.fromkeys(targets), now)
        policy = self.config.escalation_policies.get(match.policy) if match.policy else None
        # escalation counts from when we learnt of it: an alert that arrives late (Alertmanager's
        # startsAt, a delayed SNS delivery) gets its full delays; opened_at stays the alarm's time
        anchor = max(alert.time, now)
        cursor = self.initial_cursor(policy, anchor) if policy is not None else None
        # the first page is planned as an escalation step is: people's e-mail included
        sends, problems = plan_sends(self.config, None, resolved)
        for problem in problems:
            log.warning("alert %s, first page: %s", alert.name, problem)
        mute = self.muting.at_open(alert, now)
        return OpeningPlan(
            name=alert.name,
            labels=dict(alert.labels),
            check=alert.check,
            route_channels=tuple(resolved.channels),
            policy=match.policy,
            cursor=cursor,
            silenced=mute.why if mute else None,
            unrouted=not match.matched,
            mentions=tuple(resolved.mentions),
            lease_until=now + self._lease(),
            emails=tuple(resolved.emails),
            pending_keys=tuple(dict.fromkeys(send.key for send in sends)),
            anchor=anchor,  # stored on the incident: the escalator times every step from it
            # muted: the first page is held; the escalation sweep re-checks the mute then
            hold_until=now + timedelta(seconds=SILENCE_RECHECK_S) if mute else None,
            mute_kind=mute.kind if mute else "silenced",
        )

    def _transition(self, alert: Alert, now: datetime) -> tuple[RelayResult, list[Send]]:
        if covered_by_contributors(alert):
            return _alarm_level(alert), []
        match = match_routes(self.config.routes, alert.labels)
        mode = insufficient_mode(alert, match)
        plan: OpeningPlan | None = None
        if alert.state is AlertState.ALARM or (
            alert.state is AlertState.INSUFFICIENT_DATA and mode == "page"
        ):
            plan = self._plan(alert, match, now)

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
        sends, silenced = self._sends(transition, alert, match, plan, now, extra)
        sends += self._flapping(transition, alert, now)
        result = RelayResult(
            alert.id,
            alert.state.value,
            transition.action.value,
            incident.id if incident else None,
            transition.reason,
            silenced=silenced,
        )
        return result, sends

    def _sends(
        self,
        transition: Transition,
        alert: Alert,
        match: RouteMatch,
        plan: OpeningPlan | None,
        now: datetime,
        extra: dict[str, Any],
    ) -> tuple[list[Send], str | None]:
        """What a transition sends, and why nobody is paged when it is silenced."""
        incident = transition.current
        action = transition.action
        if action is Action.OPENED and incident is not None:
            return self._opened(alert, incident, match, plan, now, extra)
        if (
            action in (Action.DUPLICATE, Action.JOINED)
            and incident is not None
            and self._orphaned(incident, now)
        ):
            return self._take_over(alert, incident, now, extra), None
        if action is Action.RESOLVED and incident is not None and incident.group_id:
            self._member_resolved(incident, now)
            return [], None
        if action is Action.RESOLVED and incident is not None:
            resolves = [
                Send(NotificationKind.RESOLVE, c, alert, incident) for c in incident.notified_channels()
            ]
            return resolves, None
        if action is Action.INSUFFICIENT and insufficient_mode(alert, match) == "warn":
            return self._warnings(alert, incident, match, now)
        return [], None

    def _opened(
        self,
        alert: Alert,
        incident: Incident,
        match: RouteMatch,
        plan: OpeningPlan | None,
        now: datetime,
        extra: dict[str, Any],
    ) -> tuple[list[Send], str | None]:
        if incident.silenced:  # the escalation sweep sends the first page when the silence ends
            silenced = plan.silenced if plan else "silenced"
            log.info("incident %s silenced: %s", incident.id, silenced, extra=extra)
            return [], silenced
        if not match.matched:
            log.warning(
                "no route matched alert %s (labels %s): nobody notified", alert.name, dict(alert.labels)
            )
            return self._opening(alert, incident, incident.pending), None
        disposition = self._disposition(alert, incident, match, plan, now)
        if isinstance(disposition, Grouped) and self._group(alert, incident, disposition, now, extra):
            return [], None
        return self._opening(alert, incident, incident.pending), None

    # -- grouping and the storm guard
    def _disposition(
        self, alert: Alert, incident: Incident, match: RouteMatch, plan: OpeningPlan | None, now: datetime
    ) -> Disposition:
        """THE one place that decides whether a new, routed, unmuted incident pages now or goes
        into something that pages for it. The mute stages (``muting.Muting``: silences, flapping,
        inhibition) stand before it: a muted incident is held at open (``_plan``) and never gets
        here. Then grouping (the first matched route's ``group_by``) and the storm guard
        (``storm``: openings per route per window; on a grouped route it counts new groups, not
        members)."""
        route = match.primary
        assert route is not None
        index = self.config.routes.index(route)
        storm = self.config.storm
        spec: Spec | None = None
        why = ""
        if route.grouping is not None:
            key, labels = group_key(index, route.grouping, alert.labels)
            spec = self._spec(key, index, labels, Timing.of(route.grouping), match, plan, storm=False)
            why = f"route {index + 1} groups by {', '.join(route.grouping.by)}"
            if not storm.enabled or not opens_new_group(self.groups.get(key)):
                return Grouped(spec, why)
        elif not storm.enabled:
            return PageNow()
        body = str(alert.extra.get("group_key") or "") if spec is None else ""
        counter = self._storm_by_body.get(body) if body else None
        if counter is None:
            counter = self.groups.count_opening(index, now, storm.window_s)
            if body:
                self._storm_by_body[body] = counter
        if in_storm(counter, storm):
            storm_spec = self._spec(storm_key(index), index, {}, STORM_TIMING, match, plan, storm=True)
            what = "groups" if spec is not None else "incidents"
            return Grouped(
                storm_spec,
                f"storm guard: {counter.count} {what} opened on route {index + 1} within "
                f"{storm.window_s:g}s (threshold {storm.threshold})",
            )
        return Grouped(spec, why) if spec is not None else PageNow()

    def _spec(
        self,
        key: str,
        index: int,
        labels: Mapping[str, str],
        timing: Timing,
        match: RouteMatch,
        plan: OpeningPlan | None,
        *,
        storm: bool,
    ) -> Spec:
        return Spec(
            key=key,
            route=index,
            labels=dict(labels),
            channels=tuple(plan.route_channels) if plan is not None else match.channels,
            timing=timing,
            policy=match.policy,
            storm=storm,
            mentions=tuple(plan.mentions) if plan is not None else (),
            emails=tuple(plan.emails) if plan is not None else (),
        )

    def _group(
        self, alert: Alert, incident: Incident, grouped: Grouped, now: datetime, extra: dict[str, Any]
    ) -> bool:
        """Join the group (conditional write) and hand it the incident's first page and
        escalation (``mute_opening``). False when the incident could not be handed over: it
        then pages on its own, as without grouping (nothing is dropped)."""
        spec = grouped.spec
        group = self.groups.change(spec.key, lambda g: join(g, spec, incident.id, alert.name, now))
        if group is None:
            group = self.groups.get(spec.key)
        if group is None or group.member(incident.id) is None:
            return False
        entry = TimelineEntry(
            now, "grouped", f"grouped into {group.id} ({group_label(group)}): {grouped.why}"
        )
        if not self.store.mute_opening(
            incident.id, expected_until=incident.pending_until, group_id=group.id, entry=entry
        ):
            log.warning(
                "incident %s: could not be handed to group %s; paging it on its own", incident.id, group.id
            )
            return False
        log.info("incident %s grouped into %s", incident.id, group.id, extra={**extra, "group_id": group.id})
        if group.due_at is not None and group.due_at <= now:
            self._due_groups[spec.key] = None
        return True

    def _member_resolved(self, incident: Incident, now: datetime) -> None:
        """A grouped incident resolved: its group learns it (the group's resolve goes out when
        its last member resolves; until then its messages list it as resolved)."""
        changed = member_resolved(self.groups, incident.group_id or "", incident.id, now)
        if changed is not None and changed.due_at is not None and changed.due_at <= now:
            self._due_groups[changed.key] = None

    def _take_over(
        self, alert: Alert, incident: Incident, now: datetime, extra: dict[str, Any]
    ) -> list[Send]:
        """The opener committed the incident but never recorded its first page (it crashed or
        timed out): this redelivery takes the page over, once (conditional claim)."""
        if not self.store.claim_pending(
            incident.id, expected_until=incident.pending_until, until=now + self._lease()
        ):
            return []
        log.warning(
            "incident %s: first page to %s was never confirmed; sending it now",
            incident.id,
            list(incident.pending),
            extra=extra,
        )
        return self._opening(alert, incident, incident.pending)

    def _warnings(
        self, alert: Alert, incident: Incident | None, match: RouteMatch, now: datetime
    ) -> tuple[list[Send], str | None]:
        silenced = self.silenced(alert.labels, alert.time)
        if incident is not None and incident.silenced:
            silenced = silenced or "incident silenced"
        if silenced is not None:
            return [], silenced
        resolved = self.resolve_targets(self.config, match.channels, now)
        warnings = [
            Send(NotificationKind.WARNING, channel, alert, incident)
            for channel in resolved.channels
            if (ch := self.config.channels.get(channel)) is not None and ch.type in WARNING_CHANNEL_TYPES
        ]
        return warnings, None

    def _lease(self) -> timedelta:
        return first_page_lease(self.dispatcher, self.lease)

    def _flapping(self, transition: Transition, alert: Alert, now: datetime) -> list[Send]:
        """Count an opening or a resolve of a check with ``flapping``; when this change makes it
        flap, one "flapping" notice to the route's chat and e-mail channels (covering the
        incident, whose later opens and resolves are then recorded, not paged)."""
        incident = transition.current
        if incident is not None and transition.action is Action.OPENED:
            self.muting.opened(incident)  # it inhibits the batch's later alerts
        elif incident is not None and transition.action is Action.RESOLVED:
            self.muting.closed(incident)
        check = self.config.check(alert.check) if alert.check else None
        if check is None or check.flapping is None or incident is None:
            return []
        if transition.action not in (Action.OPENED, Action.RESOLVED):
            return []
        entered: FlapState | None = self.muting.record_flap(check, alert.time)
        if entered is None:
            return []
        log.warning("check %s is flapping: opens and resolves are recorded, not paged", check.name)
        notice = flapping_alert(alert, entered, check)
        channels = self.muting.notice_channels(
            alert.labels, lambda targets: self.resolve_targets(self.config, targets, now).channels
        )
        return [Send(NotificationKind.FLAPPING, channel, notice, incident) for channel in channels]

    def _opening(self, alert: Alert, incident: Incident, keys: Iterable[str]) -> list[Send]:
        """The first page's sends still to make (``keys``: the incident's pending send keys)."""
        planned, _ = opening_sends(self.config, incident, only=keys)
        return [
            Send(
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
    def _orphaned(incident: Incident, now: datetime) -> bool:
        return (
            incident.is_open
            and not incident.silenced
            and bool(incident.pending)
            and (incident.pending_until is None or incident.pending_until <= now)
        )

    def _deliver(self, sends: list[Send], results: list[RelayResult], now: datetime) -> None:
        """The batch's messages through the send pipeline; each alert's result gets its outcomes."""
        plans = plan_notifications(
            self.config,
            sends,
            groups_alerts=self.dispatcher.groups_alerts,
            ack_url_for=self.ack_url_for,
            still_firing=lambda ids: group_still_firing(self.store, ids),
        )
        ledger = Ledger()
        sent = self.pipeline.send(plans, _page, now, ledger)
        ledger.commit(self.store, contain_errors=True)
        outcomes: dict[int, list[DeliveryOutcome]] = {}
        for plan, one in zip(plans, sent, strict=True):
            for send in plan.sends:
                outcomes.setdefault(send.result_index, []).append(one.outcome)
        for index, found in outcomes.items():
            r = results[index]
            results[index] = RelayResult(
                r.alert_id, r.state, r.action, r.incident_id, r.reason, tuple(found), r.silenced, r.error
            )


def _page(plan: PlannedNotification) -> Page:
    """One planned message as a page of the send pipeline: a grouped message's handles name every
    incident it covers (buttons act on all of them; a member's resolve knows how many still fire),
    and a TRIGGER settles its incident's first-page send key. A TRIGGER or RESOLVE that fails
    transiently is kept for automatic redelivery by the escalation sweep."""
    first = plan.sends[0]
    members = (
        group_incident_ids([s for s in plan.sends if s.kind is NotificationKind.TRIGGER])
        if first.kind is NotificationKind.TRIGGER
        else ()
    )
    covers = tuple(
        Covered(
            send.incident,
            Wording.of(send.kind),
            settles=send.send_key if send.kind is NotificationKind.TRIGGER else None,
            members=members,
            # a notice is a message of its own: the incident's message handles stay its page's
            handles="none" if send.kind is NotificationKind.FLAPPING else "set",
        )
        for send in plan.sends
        if send.incident is not None
    )
    redeliver = first.kind in (NotificationKind.TRIGGER, NotificationKind.RESOLVE)
    return Page(
        first.channel, first.send_key, plan.notification, covers, to=first.email_to, redeliver=redeliver
    )


def _alarm_level(alert: Alert) -> RelayResult:
    why = "alarm-level notification of a multi-time-series alarm: each contributor in ALARM opens its own incident"
    log.info(
        "alert %s: recorded, nobody paged (%s)",
        alert.name,
        why,
        extra={"alert_id": alert.id, "state": alert.state.value, "action": Action.ALARM_LEVEL.value},
    )
    return RelayResult(alert.id, alert.state.value, Action.ALARM_LEVEL.value, None, why)


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


def insufficient_mode(alert: Alert, match: RouteMatch) -> str:
    """How an INSUFFICIENT_DATA alert is handled: the route's ``insufficient_data``, except that an
    informational event (an SNS subscription confirmation, an AWS Health notice) never pages:
    ``page`` becomes ``warn`` for it (the route's Slack and e-mail channels, as information)."""
    mode = match.insufficient_data
    if mode == "page" and alert.extra.get("informational"):
        return "warn"
    return mode


def with_evidence(
    alert: Alert,
    config: Config,
    evidence: Callable[[str], Evidence | None] | None,
    probe_log_group: str | None,
) -> Alert:
    """An alert of one of our checks' alarms with the probe's log group (for the Logs Insights
    link) and, when it fires, the probe's evidence of its latest failure (``extra["evidence"]``).
    Best effort: a store that cannot be read leaves the evidence out."""
    check = alert.check
    if (
        not check
        or alert.labels.get("metric") != metricnames.AVAILABILITY  # the check's own alarm only
        or config.check(check) is None
    ):
        return alert
    extra = dict(alert.extra)
    if probe_log_group:
        extra[LOG_GROUP_KEY] = probe_log_group
    if evidence is not None and alert.state is AlertState.ALARM:
        try:
            found = evidence(check)
        except Exception:
            log.warning("evidence of check %s could not be read", check, exc_info=True)
            found = None
        if found is not None:
            extra[EVIDENCE_KEY] = found.to_dict()
    return replace(alert, extra=extra) if extra != alert.extra else alert


# --------------------------------------------------------------------------------------- wiring
def make_idempotent(table_name: str, *, client: Any = None, expires_after_s: int = 86400):
    """Wrap a per-record function in Powertools Idempotency keyed on the SNS MessageId.

    Returns ``(wrap, idempotency_config)``; call ``idempotency_config.register_lambda_context``
    from the handler. Records without a MessageId (SQS) are processed without the guard; the
    incident transitions are idempotent on their own.
    """
    # lazy: Powertools Idempotency (with its JMESPath and DynamoDB layer) only where a table is set
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
    notifiers: Mapping[str, Notifier] | None = None,
    secrets: SecretResolver | None = None,
) -> RelayService:
    """Adapters from TABLE_NAME, DLQ_URL, ACTIONS_URL, ACK_SECRET_REF, UPTIME_CONFIG (clients injectable).

    Without TABLE_NAME / DLQ_URL (a bare local run) state and dead letters are kept in memory.
    Alarm tags are read where the relay runs against AWS (a table is configured): a bare local
    run without one never calls CloudWatch.
    """
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
    table = wired.table
    wrap, idem_config = make_idempotent(table, client=dynamodb) if table else (None, None)
    silences = wired.silences.active if table else None
    relay = Relay(
        wired.config,
        wired.store,
        wired.dispatcher,
        ack_url_for=wired.ack_url_for,
        metrics=metrics,
        idempotent=wrap,
        silenced=silencer(wired.config, silences),
        alarm_tags=wired.alarm_tags,
        flaps=wired.flaps,
        enrich=_check_notes(wired.config, table, dynamodb),
        evidence=DynamoEvidenceStore(table, client=dynamodb).get if table else None,
        probe_log_group=(environ if environ is not None else os.environ).get("PROBE_LOG_GROUP") or None,
        groups=wired.groups,
        region_results=RegionResults() if table and any(c.regions for c in wired.config.checks) else None,
    )
    return RelayService(relay, idem_config)


def _check_notes(config: Config, table: str | None, dynamodb: Any) -> Callable[..., Alert] | None:
    """Pages about a dependency are named ``<check> / <dependency>``; with a table, pages about a
    heartbeat check say when the last ping came (``check_pages``)."""
    beats = any(check.heartbeat is not None for check in config.checks)
    if not beats and not any(check.dependencies is not None for check in config.checks):
        return None
    heartbeats = DynamoHeartbeats(table, client=dynamodb) if table and beats else None
    return CheckNotes(heartbeats, default_enrich)
