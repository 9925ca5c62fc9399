"""The escalation sweep: run once a minute, fire every escalation step that has come due.

For each incident the store reports due (``store.due(now)``, the sparse ``due`` index), the pure
decider ``domain.sweep.decide_sweep`` says what to do; the sweep only claims (conditional
writes), delivers through the paging pipeline (``paging.Pipeline``) and records:

1. Skip what must not escalate: not ``open`` (acknowledged or resolved; the store also drops
   ``due_at`` then), not yet due, or a policy that no longer exists (escalation stopped, noted).
   An incident opened silenced has its first page held (point 7); one covered *now* by a
   silence or maintenance window is held: the same step is re-armed ``HOLD_S`` later, so escalation resumes if the
   incident outlives the window.
2. CLAIM the step: re-arm the SAME step a lease ahead (``due_at = now + lease``, 2 minutes or
   the invocation's remaining time + 5 s) with a conditional write that holds only while the
   step is still due (``due_at <= now``), appending an ``escalation_attempt`` entry (the attempt
   counter). Only the sweep that wins it sends anything, so overlapping sweeps (a slow run and
   the next minute's, or a retried invocation) fire a step once. The lease end is the claim
   token: after delivering, the sweep records what it sent and then moves the cursor to the
   next step (or re-arms the step for a retry) on condition that ``due_at`` still equals it. A
   sweep killed between claim and delivery leaves the step due again when the lease runs out;
   the next sweep sends only what is not recorded as sent. A step whose sweeps died on every
   one of its claims (``max_step_attempts``) is given up (dead-lettered) rather than tried forever.
3. Deliver to the step's targets (``resolve_targets``): its channels; Slack mentions of the
   people it names (``person:``/``oncall:``) ride on the notification, posted in the step's Slack
   channels or, when the step has none, in the incident's Slack channels (else the first Slack
   channel in the config); their email addresses get a copy through the step's email channel or,
   when it has none, the first email channel in the config, with its ``to`` replaced by them.
   Each successful send is a ``notified`` timeline entry (so resolves reach escalated channels);
   a page that got through after the incident's resolve was written is followed by its RESOLVE.
4. A step is not retried by re-arming it: its cursor moves on as if it had succeeded, so the
   policy keeps its timing. Each delivery goes through the dispatcher, which retries transient
   errors within the invocation (backoff, Retry-After); a send still failing transiently becomes
   a pending redelivery (point 8, one per step and target), retried until it is delivered or
   24 h pass, and dropped if the incident is acknowledged or resolved first. A permanent error
   (bad routing key, 404) is dead-lettered at once (``escalation_gave_up`` on the timeline).
   With a Lambda context, the dispatcher's waits never run past the invocation (``time_left``)
   and no step is claimed in its last ``SWEEP_RESERVE_S``: it stays due for the next sweep.
5. Delays count from the schedule's anchor: the later of the alarm's time and its arrival, which
   the relay stores on the incident at open (``Incident.escalation_anchor``, ``schedule_anchor``).
   Incidents written before that field existed fall back to the anchor recorded in claim/hold
   entry text ("; timed from ...") or derived from the relay's cursor; the first claim then
   stores it in the field, so a trimmed timeline cannot lose it.
   At most one step per incident per sweep: after downtime an overdue policy catches up one step
   a minute rather than sending every missed step at once.
6. A first page nobody sent. The relay commits a new incident with its first-page sends
   ``pending`` under a lease (``pending_until``) and, while they are pending, ``due_at`` = the
   lease's end, so this sweep's due index sees the incident (the escalation cursor's own due time
   waits in ``held_due_at``). Normally the relay sends, records the outcomes and puts the cursor
   back (``release_hold``). If the relay died in between and the alarm is never delivered again,
   the sweep finds the lease run out, takes the first page over with the same conditional
   ``claim_pending`` the relay's redelivery path uses (one taker per lease), sends the TRIGGER to
   the still-pending targets (``paging.opening_sends``: the same plan as step sends, people's e-mail
   included), records the outcomes and restores the escalation cursor. A sender that dies after
   settling but before restoring is finished by the next sweep.
7. A first page held by a silence. An incident that opens inside a maintenance window or an
   active one-off silence is committed ``silenced`` with its first-page sends pending and
   ``due_at`` = ``pending_until`` = the next check (``SILENCE_RECHECK_S``: every sweep, so a
   silence ended early with ``silence end`` pages at the next sweep). While it is still covered,
   the sweep moves the check a minute on (``hold_silenced``, conditional on the hold it read; no
   timeline entry). Once nothing covers it and it is still open, ``unsilence`` (conditional on
   the same hold: one sweep wins) clears ``silenced``, takes the page under a lease, and sets the
   escalation cursor counted from now (the policy runs as if the incident opened now); the
   sweep then sends the TRIGGER exactly as in 6 (``opening_sends``) and restores the cursor. A
   sweep that dies after ``unsilence`` leaves an ordinary pending first page: 6 finishes it.
   Resolved or acknowledged inside the window: it leaves the due index, nobody is paged.
8. Automatic redelivery. Before the steps, the sweep retries the pending sends that are due
   (``store.redeliveries_due``: TRIGGERs, RESOLVEs, step pages and acknowledge updates that
   failed transiently, kept by the pipeline with their next attempt):
   ``domain.redelivery.decide_redelivery`` says redeliver, drop (a TRIGGER whose incident
   resolved, a step page whose incident was acknowledged or resolved: the channel gets nothing)
   or give up (24 h: the dead-letter queue). Each is claimed once (``claim_redelivery``, conditional on its next
   attempt time), sent through the pipeline (a failure is kept again, further out), then
   settled; a TRIGGER or step page that got through after the resolve was written is followed
   by its RESOLVE.
9. Mute stages (``muting.Muting``, the relay's own question): a first page held because the
   incident is inhibited, its check flaps, or it waits as an inhibit rule's target for its
   sources, is held and released exactly as a silenced one (7): the sweep asks every minute,
   notes a new reason on the timeline ("inhibited by db …"), and sends the page once, when
   nothing mutes it any more and it is still open. Open incidents are read once per sweep
   (the ``listing`` index), only when a due incident is some rule's target. Before the
   incidents, the sweep takes the flapping checks that have been quiet for a whole window
   (``FlapStore.due``, the due index's ``FLAP`` partition): each leaves flapping (conditional:
   one sweep wins) and one notice gives its current state, unless a held first page of the
   check is about to give it (that page then goes out in this sweep or the next).
10. Route groups and storm summaries (``paging.groups``). After the incidents, every group whose
   flush is due (``GroupStore.due``: the ``due`` index's ``GROUP`` partition) is flushed once:
   claimed, sent through the pipeline (first message, update, repeat, the group's escalation
   step, acknowledgement or resolve) and recorded on the group.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .adapters.incidents import DynamoIncidentStore
from .adapters.listing_backfill import ListingBackfill
from .adapters.silences import DynamoSilences
from .config import Config, EscalationPolicy
from .delivery import notification_from_dict
from .domain.flapping import FlapState, is_quiet
from .domain.incident import Incident, TimelineEntry
from .domain.redelivery import (
    CLAIM_S,
    PAGES,
    Drop,
    GiveUp,
    Pending,
    Redeliver,
    decide_redelivery,
    resolve_owed,
)
from .domain.silence import Silence, is_silenced
from .domain.sweep import (
    MAX_STEP_ATTEMPTS,
    FireStep,
    HoldFirstPage,
    HoldStep,
    Nothing,
    RestoreCursor,
    Stop,
    TakeOverFirstPage,
    Unsilence,
    already_sent,
    decide_sweep,
    step_tag,
)
from .domain.targets import Resolved
from .domain.targets import resolve_targets as default_resolve_targets
from .migration import OneTimeMigration
from .muting import Muting, stable_alert
from .notifiers.base import Notification, NotificationKind, Notifier
from .paging import (
    Covered,
    HandlesRule,
    Ledger,
    Page,
    Pipeline,
    PlannedSend,
    Sent,
    Wording,
    first_page_lease,
    incident_alert,
    opening_sends,
    plan_sends,
    send_ack_link,
)
from .paging.groups import FlushReport, GroupFlusher
from .ports import (
    AckUrlFor,
    ActiveSilences,
    DeliveryOutcome,
    Dispatcher,
    FlapStore,
    GroupStore,
    IncidentStore,
    SecretResolver,
)
from .wiring import delivery_from_env

log = logging.getLogger(__name__)

__all__ = ["Escalator", "Fired", "SweepReport", "build_escalator_from_env", "step_tag", "sweep"]

STEP_LEASE_S = 120.0  # a claimed step is due again this long after a sweep died holding it
SWEEP_RESERVE_S = 10.0  # no new step is claimed with less than this left in the invocation
# what a redelivered send does with the channel's message handles, as its first attempt would:
# a step page keeps the incident's first message (updates go there), an ack update stores none
_REDELIVERED_HANDLES: dict[str, HandlesRule] = {"escalation": "keep", "acknowledge": "none"}
FIRST_PAGE_WORDING = Wording(
    "trigger sent (first page, by the escalation sweep)",
    "trigger: ",
    dead_lettered="trigger kept on the dead-letter queue",
)


@dataclass(frozen=True)
class Fired:
    incident_id: str
    step: int
    round: int
    delivered: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    retry: bool = False  # kept for automatic redelivery (at least one send)
    gave_up: bool = False
    first_page: bool = False  # the opening TRIGGER, taken over from a sender that died
    redelivery: bool = False  # a pending TRIGGER or RESOLVE retried (step and round: -1)


@dataclass
class SweepReport:
    fired: list[Fired] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (incident id, why)
    failed: list[Fired] = field(default_factory=list)  # steps with at least one failed delivery
    groups: FlushReport = field(default_factory=FlushReport)  # route groups and storm summaries

    def to_dict(self) -> dict[str, Any]:
        return {
            "fired": [dataclasses.asdict(f) for f in self.fired],
            "skipped": [{"incident": i, "reason": r} for i, r in self.skipped],
            "failed": [dataclasses.asdict(f) for f in self.failed],
            "groups": [dataclasses.asdict(f) for f in self.groups.flushed],
        }

    def add(self, fired: Fired) -> None:
        if fired.failed:
            self.failed.append(fired)
        self.fired.append(fired)


def step_lease(dispatcher: Dispatcher) -> timedelta:
    """How long a claimed step is its sweep's: past the end of this invocation (nobody may take
    it over while this sweep might still be sending), at least ``STEP_LEASE_S``."""
    return first_page_lease(dispatcher, timedelta(seconds=STEP_LEASE_S))


class _LazySilences:
    """The silences active at the sweep's instant, read once, and only when a decision needs them."""

    def __init__(self, source: Iterable[Silence] | ActiveSilences, now: datetime):
        self._source = source
        self._now = now
        self._loaded: tuple[Silence, ...] | None = None

    def __call__(self) -> tuple[Silence, ...]:
        if self._loaded is None:
            try:
                found = self._source(self._now) if callable(self._source) else self._source
                self._loaded = tuple(found)
            except Exception:  # unreadable silences must not stop escalations
                log.exception("silences could not be read; escalating without them")
                self._loaded = ()
        return self._loaded


def sweep(
    config: Config,
    store: IncidentStore,
    dispatcher: Dispatcher,
    now: datetime,
    *,
    resolve_targets: Callable[[Config, Iterable[str], datetime], Resolved] = default_resolve_targets,
    ack_url_for: AckUrlFor | None = None,
    silences: Iterable[Silence] | ActiveSilences = (),
    max_step_attempts: int = MAX_STEP_ATTEMPTS,
    flaps: FlapStore | None = None,
    groups: GroupStore | None = None,
) -> SweepReport:
    """Fire every due escalation step once (see the module docstring). Never raises for one
    incident's trouble: it is logged, reported as skipped, and the sweep goes on.

    ``silences`` may be a callable (e.g. ``SilenceStore.active``): it is called at most once per
    sweep, and only when a due incident gets as far as the silence check."""
    lazy = _LazySilences(silences, now)
    muting = Muting(
        config,
        store,
        silenced=lambda labels, at: is_silenced(labels, at, lazy(), config.maintenance),
        flaps=flaps,
    )
    run = _Sweep(config, store, dispatcher, now, resolve_targets, ack_url_for, lazy, muting)
    try:
        due_redeliveries = store.redeliveries_due(now)
    except Exception:
        log.exception("pending redeliveries could not be read; next sweep")
        due_redeliveries = []
    for incident_id in due_redeliveries:
        if dispatcher.time_left is not None and dispatcher.time_left() < SWEEP_RESERVE_S:
            run.report.skipped.append((incident_id, "no time left in this invocation; next sweep"))
            continue
        try:
            run.redeliver(incident_id)
        except Exception as exc:  # one bad incident must not stop the others' redeliveries
            log.exception("redelivery for %s failed", incident_id)
            run.report.skipped.append((incident_id, f"error: {type(exc).__name__}: {exc}"))
    run.quiet_flaps()
    for incident in store.due(now):
        if dispatcher.time_left is not None and dispatcher.time_left() < SWEEP_RESERVE_S:
            # the invocation is about to end: what is left stays due for the next sweep
            run.report.skipped.append((incident.id, "no time left in this invocation; next sweep"))
            continue
        try:
            run.one(incident, max_step_attempts)
        except Exception as exc:  # one bad incident must not stop the others' escalations
            log.exception("escalation of %s failed", incident.id)
            run.report.skipped.append((incident.id, f"error: {type(exc).__name__}: {exc}"))
    if groups is not None:  # route groups and storm summaries due now (``paging.groups``)
        flusher = GroupFlusher(
            config,
            store,
            groups,
            dispatcher,
            ack_url_for=ack_url_for,
            resolve_targets=resolve_targets,
            pipeline=run.pipeline,
        )
        flusher.flush_due(now, run.report.groups)
    return run.report


@dataclass
class _Sweep:
    """One sweep's collaborators: it claims, delivers through the pipeline and records what
    ``decide_sweep`` decided."""

    config: Config
    store: IncidentStore
    dispatcher: Dispatcher
    now: datetime
    resolve_targets: Callable[[Config, Iterable[str], datetime], Resolved]
    ack_url_for: AckUrlFor | None
    silences: _LazySilences
    muting: Muting
    report: SweepReport = field(default_factory=SweepReport)

    def __post_init__(self) -> None:
        self.pipeline = Pipeline(self.dispatcher)

    def skip(self, incident: Incident, why: str) -> None:
        self.report.skipped.append((incident.id, why))

    def one(self, incident: Incident, max_step_attempts: int) -> None:
        policy = self.config.escalation_policies.get(incident.policy or "")
        decision = decide_sweep(
            incident,
            policy,
            self.now,
            silences=self.silences,
            maintenance=self.config.maintenance,
            max_step_attempts=max_step_attempts,
            muted=lambda: self.muting.now(incident, self.now),
        )
        match decision:
            case Nothing(why):
                self.skip(incident, why)
            case RestoreCursor():
                self.restore_cursor(incident)
            case HoldFirstPage():
                self.hold_first_page(incident, decision)
            case Unsilence():
                self.unsilence(incident, decision)
            case TakeOverFirstPage():
                self.take_over_first_page(incident)
            case Stop():
                self.stop(incident, decision)
            case HoldStep():
                self.hold_step(incident, decision)
            case FireStep():
                assert policy is not None
                self.fire_step(incident, policy, decision)

    # -- first pages (points 6 and 7 of the module docstring)
    def restore_cursor(self, incident: Incident) -> None:
        """Settled, but the sender died before restoring the cursor."""
        if self.store.release_hold(incident.id, due_at=incident.held_due_at):
            self.skip(incident, "first page settled: escalation cursor restored")
        else:
            self.skip(incident, "first page settled; cursor already restored or incident closed")

    def hold_first_page(self, incident: Incident, hold: HoldFirstPage) -> None:
        if self.store.hold_silenced(incident.id, expected_until=incident.pending_until, until=hold.until):
            if hold.entry is not None:  # held for a new reason, e.g. the incident inhibiting it
                self.store.append_timeline(incident.id, hold.entry)
            self.skip(incident, f"first page held: {hold.why}")
        else:
            self.skip(incident, "first page hold moved by another sweep, or incident closed")

    def unsilence(self, incident: Incident, decision: Unsilence) -> None:
        if not self.store.unsilence(
            incident.id,
            expected_until=incident.pending_until,
            until=self.now + first_page_lease(self.dispatcher),
            step=decision.step,
            round=decision.round,
            held_due_at=decision.held_due_at,
            anchor=self.now,  # the policy runs from the first page, as if the incident opened now
            entries=[decision.entry],
        ):
            self.skip(incident, "first page taken by another sweep, or incident closed")
            return
        fresh = self.fresh(incident)
        log.info("incident %s: mute over; first page to %s", incident.id, list(fresh.pending))
        if not fresh.pending:  # nobody to page at open: just start the policy
            self.store.release_hold(incident.id, due_at=fresh.held_due_at)
            self.skip(incident, "mute over: nothing to page at open; escalation started")
            return
        self.send_first_page(fresh)

    def take_over_first_page(self, incident: Incident) -> None:
        """A first page whose sender died: claimed once (one taker per lease), then sent."""
        until = self.now + first_page_lease(self.dispatcher)
        if not self.store.claim_pending(incident.id, expected_until=incident.pending_until, until=until):
            self.skip(incident, "first page claimed by another sender, or incident closed")
            return
        log.warning(
            "incident %s: first page to %s was never sent; sending it now",
            incident.id,
            list(incident.pending),
        )
        self.send_first_page(incident)

    def send_first_page(self, incident: Incident) -> None:
        """Send the still-pending first-page targets of a claimed incident, record, restore the cursor."""
        sends, problems = opening_sends(self.config, incident, only=incident.pending)
        ledger = Ledger()
        ledger.note(
            incident.id,
            *(TimelineEntry(self.now, "escalation_problem", f"first page: {p}") for p in problems),
        )
        planned = {send.key for send in sends}
        gone = [key for key in incident.pending if key not in planned]
        if gone:
            detail = f"first page: {', '.join(gone)} no longer configured"
            ledger.note(incident.id, TimelineEntry(self.now, "escalation_problem", detail))
        ledger.settle(incident, *gone)

        def page(send: PlannedSend) -> Page:
            notification = self.notification(NotificationKind.TRIGGER, incident, send)
            covered = Covered(incident, FIRST_PAGE_WORDING, settles=send.key)
            return Page(send.channel, send.key, notification, (covered,), to=send.email_to, redeliver=True)

        sent = self.pipeline.send(sends, page, self.now, ledger)
        ledger.commit(self.store)
        delivered, failed = _split(sent)
        self.report.add(Fired(incident.id, incident.step, incident.round, delivered, failed, first_page=True))

    # -- flapping checks that went quiet (point 9)
    def quiet_flaps(self) -> None:
        """Each flapping check quiet for a whole window leaves flapping (one sweep wins) and gets
        one notice of its current state, unless a held first page of it will give that."""
        flaps = self.muting.flaps
        if flaps is None:
            return
        try:
            quiet = flaps.due(self.now)
        except Exception:
            log.exception("flapping checks could not be read; next sweep")
            return
        for state in quiet:
            try:
                self.leave_flapping(state)
            except Exception as exc:  # one check's trouble must not stop the others
                log.exception("check %s could not leave flapping", state.check)
                self.report.skipped.append((f"check {state.check}", f"error: {type(exc).__name__}: {exc}"))

    def leave_flapping(self, state: FlapState) -> None:
        check = self.config.check(state.check)
        if check is not None and check.flapping is not None and not is_quiet(state, check.flapping, self.now):
            return
        if not self.muting.leave_flapping(state) or check is None or check.flapping is None:
            return  # another sweep took it, or the check (or its flapping) left the config
        opened = [i for i in self.muting.open_incidents() if i.check == check.name]
        if any(i.silenced and i.cursor_held for i in opened):
            self.report.skipped.append((f"check {check.name}", "no longer flapping: its held page goes out"))
            return
        current = f"still failing (incident {opened[0].id}, paged before it flapped)" if opened else "up (OK)"
        alert = stable_alert(check, self.now, current)
        notification = Notification(NotificationKind.FLAPPING, (alert,), check=check)
        covers = tuple(
            Covered(i, Wording.of(NotificationKind.FLAPPING, dead_lettered=False), handles="none")
            for i in opened[:1]
        )
        channels = self.muting.notice_channels(
            alert.labels, lambda targets: self.resolve_targets(self.config, targets, self.now).channels
        )
        pages = [Page(c, c, notification, covers) for c in channels]
        ledger = Ledger()
        sent = self.pipeline.send(pages, lambda one: one, self.now, ledger)
        ledger.commit(self.store)
        delivered, failed = _split(sent)
        self.report.fired.append(Fired(f"check {check.name}", -1, -1, delivered, failed))

    # -- automatic redelivery (``domain.redelivery``)
    def redeliver(self, incident_id: str) -> None:
        """Retry the incident's pending sends that are due: each claimed once (conditional on its
        next attempt time), sent through the pipeline (a failure is kept again, with a longer
        backoff), then forgotten; a TRIGGER whose incident resolved first is dropped."""
        incident = self.store.get(incident_id)
        for decision in decide_redelivery(self.store.pending_sends(incident_id), incident, self.now):
            pending = decision.pending
            match decision:
                case Drop(_, why):
                    if self.store.settle_redelivery(
                        incident_id, pending.key, expected_next_at=pending.next_at
                    ):
                        if incident is not None:
                            entry = TimelineEntry(
                                self.now, "redelivery_dropped", f"{pending.kind}: {why}", pending.channel
                            )
                            self.store.append_timeline(incident_id, entry)
                        self.skip_id(incident_id, f"{pending.key}: {why}")
                case GiveUp() | Redeliver():
                    claimed = self.store.claim_redelivery(
                        incident_id,
                        pending.key,
                        expected_next_at=pending.next_at,
                        until=self.now + first_page_lease(self.dispatcher, timedelta(seconds=CLAIM_S)),
                    )
                    if claimed is None:
                        self.skip_id(incident_id, f"{pending.key}: claimed by another sweep")
                        continue
                    self.resend(incident_id, claimed, give_up=isinstance(decision, GiveUp))

    def resend(self, incident_id: str, claimed: Pending, *, give_up: bool) -> None:
        members = [self.store.get(m) for m in claimed.members or (incident_id,)]
        covers = tuple(
            Covered(
                member,
                Wording(
                    f"{claimed.kind} sent (automatic redelivery, attempt {claimed.attempts + 1})",
                    f"{claimed.kind}: ",
                    dead_lettered=f"{claimed.kind} kept on the dead-letter queue",
                ),
                handles=_REDELIVERED_HANDLES.get(claimed.kind, "set"),
            )
            for member in members
            if member is not None
        )
        notification = notification_from_dict(claimed.notification, self.config)
        page = Page(
            claimed.channel,
            claimed.key,
            notification,
            covers,
            to=claimed.to,
            redeliver=True,
            previous=claimed,
        )
        ledger = Ledger()
        if give_up:  # failing for 24 h: kept for `dlq replay`, not tried again
            outcome = DeliveryOutcome(
                claimed.channel, False, error=f"{claimed.error} (still failing after 24 h)"
            )
            sent = [self.pipeline.dead_letter(Sent(page, outcome), self.now)]
            for one in sent:
                ledger.record(one, self.now)
        else:
            sent = self.pipeline.send([page], lambda one: one, self.now, ledger)
        ledger.commit(self.store)
        (one,) = sent
        if one.deferred is None:
            self.store.settle_redelivery(incident_id, claimed.key, expected_next_at=claimed.next_at)
        delivered, failed = _split(sent)
        self.report.add(
            Fired(incident_id, -1, -1, delivered, failed, retry=one.deferred is not None, redelivery=True)
        )
        if one.outcome.ok and claimed.kind in PAGES:
            self.resolve_if_owed(incident_id, page, one)

    def resolve_if_owed(self, incident_id: str, page: Page, sent: Sent) -> None:
        """The page got through after the incident's resolve went to the others: send its resolve."""
        fresh = self.store.get(incident_id)
        if fresh is None or not resolve_owed(fresh, page.channel, self.now):
            return
        handles = dict(sent.outcome.delivery.handles) if sent.outcome.delivery is not None else {}
        notification = dataclasses.replace(page.notification, kind=NotificationKind.RESOLVE, handles=handles)
        covers = tuple(
            Covered(c.incident, Wording.of(NotificationKind.RESOLVE), handles="none") for c in page.covers
        )
        resolve = Page(page.channel, page.key, notification, covers, to=page.to, redeliver=True)
        ledger = Ledger()
        self.pipeline.send([resolve], lambda one: one, self.now, ledger)
        ledger.commit(self.store)

    def skip_id(self, incident_id: str, why: str) -> None:
        self.report.skipped.append((incident_id, why))

    # -- escalation steps
    def stop(self, incident: Incident, stop: Stop) -> None:
        if self.store.advance(
            incident.id, expected_step=incident.step, expected_round=incident.round, step=incident.step,
            round=incident.round, due_at=None,
        ):  # fmt: skip
            self.store.append_timeline(incident.id, TimelineEntry(self.now, "escalation_stopped", stop.why))
        self.skip(incident, stop.reason)

    def hold_step(self, incident: Incident, hold: HoldStep) -> None:
        self.store.move_step(
            incident.id, step=incident.step, round=incident.round, to_step=incident.step,
            to_round=incident.round, due_at=hold.due_at, due_by=self.now, entries=list(hold.entries),
            anchor=hold.anchor,
        )  # fmt: skip
        self.skip(incident, f"held: {hold.why}")

    def fire_step(self, incident: Incident, policy: EscalationPolicy, step: FireStep) -> None:
        """CLAIM: re-arm the SAME step a lease ahead, on condition that it is still due. Only the
        sweep whose conditional write wins sends this step; the lease end it wrote is its claim
        token. A sweep killed before it moves the cursor on leaves the step due again when the
        lease ends, and the next sweep sends only what is not recorded as sent."""
        claim = _Claim(self.store, incident.id, step, self.now + step_lease(self.dispatcher))
        if not claim.take(self.now, step.anchor):
            self.skip(incident, "claimed by another sweep, or no longer open")
            return
        fresh = self.fresh(incident)  # earlier attempts (or a killed sweep) may have recorded sends
        resolved = self.resolve_targets(self.config, policy.steps[step.step].notify, self.now)
        sends, problems = plan_sends(self.config, fresh, resolved)
        ledger = Ledger()
        ledger.note(
            fresh.id, *(TimelineEntry(self.now, "escalation_problem", f"{step.tag}: {p}") for p in problems)
        )
        if not sends:
            ledger.note(
                fresh.id, TimelineEntry(self.now, "escalation_problem", f"{step.tag}: nobody to notify")
            )
        page = self.step_pages(fresh, step, resolved)
        sent = self.pipeline.send(sends, page, self.now, ledger, already_sent=already_sent(fresh, step.tag))
        delivered, failed = _split(sent)
        fired = Fired(incident.id, step.step, step.round, delivered, failed)
        gave_up = tuple(s.page.key for s in sent if s.given_up)
        if any(s.deferred is not None for s in sent):
            fired = dataclasses.replace(fired, retry=True)
        if gave_up:
            ledger.note(fresh.id, _gave_up(self.now, step, gave_up))
            fired = dataclasses.replace(fired, gave_up=True)
        # What was sent (or kept for redelivery) is recorded BEFORE the cursor moves on: a sweep
        # killed in between leaves the step to the next sweep after the lease, which then sends
        # only what is not recorded as sent.
        ledger.commit(self.store)
        if not claim.move_on(policy):
            log.warning("incident %s: %s claim lost before the cursor moved on", incident.id, step.tag)
        for one in sent:  # resolved while the step was sending: the page is owed its resolve
            if one.outcome.ok:
                self.resolve_if_owed(incident.id, one.page, one)
        self.report.add(fired)

    def step_pages(
        self, incident: Incident, step: FireStep, resolved: Resolved
    ) -> Callable[[PlannedSend], Page]:
        def page(send: PlannedSend) -> Page:
            people = (
                f" ({', '.join(resolved.people)})"
                if (send.mentions or send.email_to) and resolved.people
                else ""
            )
            wording = Wording(
                f"{step.tag} [{send.key}]: escalated to {send.channel}{people}",
                f"{step.tag} [{send.key}]: ",
                failed_kind="escalation_failed",
            )
            notification = self.notification(NotificationKind.ESCALATION, incident, send, step=step.step)
            covered = Covered(incident, wording, handles="keep")
            return Page(
                send.channel,
                send.key,
                notification,
                (covered,),
                to=send.email_to,
                abandoned_after=step.attempt - 1 if step.abandoned else None,
                redeliver=True,
                redeliver_as=f"{step.tag}:{send.key}",
            )

        return page

    # -- helpers
    def notification(
        self, kind: NotificationKind, incident: Incident, send: PlannedSend, *, step: int | None = None
    ) -> Notification:
        return Notification(
            kind=kind,
            alerts=(incident_alert(incident),),
            incident_id=incident.id,
            opened_at=incident.opened_at,
            check=self.config.check(incident.check) if incident.check else None,
            ack_url=send_ack_link(self.ack_url_for, self.config, incident, send),
            mentions=send.mentions,
            handles=dict(incident.handles.get(send.channel, {})),
            escalation_step=step,
        )

    def fresh(self, incident: Incident) -> Incident:
        try:
            latest = self.store.get(incident.id)
        except Exception:
            log.warning("could not re-read %s; using the due-index copy", incident.id, exc_info=True)
            return incident
        return latest if latest is not None else incident


@dataclass(frozen=True)
class _Claim:
    """A sweep's claim on a step: the lease end it wrote is the token every later write of the
    step is conditional on (False when it ran out and another sweep took the step, or the
    incident was acknowledged or resolved meanwhile)."""

    store: IncidentStore
    incident_id: str
    step: FireStep
    lease_until: datetime

    def take(self, now: datetime, anchor: datetime | None) -> bool:
        """Re-arm the same step a lease ahead, on condition that it is still due."""
        entry = TimelineEntry(
            now,
            "escalation_attempt",
            f"{self.step.tag}: attempt {self.step.claim_number} claimed until {self.lease_until.isoformat()}",
        )
        return self.store.move_step(
            self.incident_id, step=self.step.step, round=self.step.round, to_step=self.step.step,
            to_round=self.step.round, due_at=self.lease_until, due_by=now, entries=[entry], anchor=anchor,
        )  # fmt: skip

    def move(self, to_step: int, to_round: int, due_at: datetime | None) -> bool:
        return self.store.move_step(
            self.incident_id, step=self.step.step, round=self.step.round, to_step=to_step,
            to_round=to_round, due_at=due_at, expected_due=self.lease_until,
        )  # fmt: skip

    def move_on(self, policy: EscalationPolicy) -> bool:
        following = self.step.following
        if following is None:
            return self.move(len(policy.steps), self.step.round, None)
        return self.move(following.step, following.round, following.due_at)


def _split(sent: list[Sent]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(send keys delivered, send keys that failed)."""
    return (
        tuple(s.page.key for s in sent if s.outcome.ok),
        tuple(s.page.key for s in sent if not s.outcome.ok),
    )


def _gave_up(now: datetime, step: FireStep, failed: Iterable[str]) -> TimelineEntry:
    return TimelineEntry(
        now,
        "escalation_gave_up",
        f"{step.tag}: gave up on {', '.join(failed)} after {step.attempt} attempt(s); "
        "the notification is on the dead-letter queue",
    )


# --------------------------------------------------------------------------------------- wiring
@dataclass
class Escalator:
    """What the Lambda handler (and the local stack) holds: the sweep's collaborators."""

    config: Config
    store: IncidentStore
    dispatcher: Dispatcher
    ack_url_for: AckUrlFor | None = None
    silences: ActiveSilences | None = None  # e.g. SilenceStore.active
    migration: OneTimeMigration | None = None  # e.g. the listing index's backfill after an upgrade
    flaps: FlapStore | None = None  # checks' flap state (``adapters.flapping``)
    groups: GroupStore | None = None  # route groups and storm summaries to flush

    def run(self, now: datetime) -> SweepReport:
        report = sweep(
            self.config,
            self.store,
            self.dispatcher,
            now,
            ack_url_for=self.ack_url_for,
            silences=self.silences or (),
            flaps=self.flaps,
            groups=self.groups,
        )
        self.migrate()
        return report

    def migrate(self) -> None:
        """After the sweep, in the time it left: go on with a pending one-time migration (one
        GetItem per container once it is done; see ``migration``). Its trouble never fails the sweep."""
        if self.migration is None:
            return
        try:
            self.migration.run(self.dispatcher.time_left, reserve_s=SWEEP_RESERVE_S)
        except Exception:
            log.exception("migration %s failed; next sweep", self.migration.name)


def build_escalator_from_env(
    environ: Mapping[str, str] | None = None,
    *,
    config: Config | None = None,
    dynamodb: Any = None,
    sqs: Any = None,
    notifiers: Mapping[str, Notifier] | None = None,
    secrets: SecretResolver | None = None,
    metrics: Callable[..., None] | None = None,
) -> Escalator:
    """Adapters from TABLE_NAME, DLQ_URL, ACTIONS_URL, ACK_SECRET_REF, UPTIME_CONFIG (clients
    injectable). Without TABLE_NAME / DLQ_URL (a bare local run) state is kept in memory.
    One-off silences are read from the same table (``adapters.silences``); on a table, the
    ``listing`` index's one-time backfill (``adapters.listing_backfill``) runs after the sweeps
    until it is done."""
    wired = delivery_from_env(
        environ,
        what="escalations",
        config=config,
        dynamodb=dynamodb,
        sqs=sqs,
        notifiers=notifiers,
        secrets=secrets,
        metrics=metrics,
    )
    return Escalator(
        wired.config,
        wired.store,
        wired.dispatcher,
        ack_url_for=wired.ack_url_for,
        silences=wired.silences.active,
        migration=OneTimeMigration("listing-v1", ListingBackfill(wired.store, wired.silences))
        if isinstance(wired.store, DynamoIncidentStore) and isinstance(wired.silences, DynamoSilences)
        else None,
        flaps=wired.flaps,
        groups=wired.groups,
    )
