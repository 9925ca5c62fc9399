"""The escalation sweep: run once a minute, fire every escalation step that has come due.

For each incident the store reports due (``store.due(now)``, the sparse ``due`` index):

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
   one of its attempts is given up (dead-lettered) rather than tried forever.
3. Deliver to the step's targets (``resolve_targets``): its channels; Slack mentions of the
   people it names (``person:``/``oncall:``) ride on the notification, posted in the step's Slack
   channels or, when the step has none, in the incident's Slack channels (else the first Slack
   channel in the config); their email addresses get a copy through the step's email channel or,
   when it has none, the first email channel in the config, with its ``to`` replaced by them.
   Each successful send is a ``notified`` timeline entry (so resolves reach escalated channels).
4. A step is retried, not skipped. Each sweep's delivery goes through the dispatcher, which
   retries transient errors within the invocation (backoff, Retry-After). If it still fails, the
   claimed cursor is moved back to the same step, due ``RETRY_S`` later (conditional on the
   claim, so an acknowledgement in between wins), and the next sweep re-sends only to the
   targets that failed. Those attempts are made with ``dead_letter=False``; the step's last
   attempt (``max_step_attempts``, default 3 sweeps) is made with ``dead_letter=True``, so a
   notification reaches the dead-letter queue once, when it is given up
   (``escalation_gave_up`` on the timeline); the policy then moves on to its next step at that
   step's own time. A permanent error (bad routing key, 404) is not retried: it is dead-lettered
   at once. If the re-arm loses (acknowledged meanwhile), the failed sends are dead-lettered too.
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
   the still-pending targets (``opening_sends``: the same plan as step sends, people's e-mail
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
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .config import Channel, Config, EscalationPolicy
from .domain.alert import Alert, AlertSource, AlertState
from .domain.escalation import Cursor, anchor_of, next_cursor
from .domain.incident import TimelineEntry
from .domain.silence import Silence, is_silenced
from .domain.targets import Resolved
from .domain.targets import resolve_targets as default_resolve_targets
from .notifiers.base import Notification, NotificationKind

log = logging.getLogger(__name__)

RETRY_S = 60.0
HOLD_S = 300.0
SILENCE_RECHECK_S = 60.0  # a first page held by a silence is re-checked this often (once a sweep)
MAX_STEP_ATTEMPTS = 3
STEP_LEASE_S = 120.0  # a claimed step is due again this long after a sweep died holding it
SWEEP_RESERVE_S = 10.0  # no new step is claimed with less than this left in the invocation
ANCHOR_MARK = "; timed from "


@dataclass(frozen=True)
class Fired:
    incident_id: str
    step: int
    round: int
    delivered: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    retry: bool = False  # re-armed for another attempt
    gave_up: bool = False
    first_page: bool = False  # the opening TRIGGER, taken over from a sender that died


@dataclass
class SweepReport:
    fired: list[Fired] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (incident id, why)
    failed: list[Fired] = field(default_factory=list)  # steps with at least one failed delivery

    def to_dict(self) -> dict[str, Any]:
        return {
            "fired": [dataclasses.asdict(f) for f in self.fired],
            "skipped": [{"incident": i, "reason": r} for i, r in self.skipped],
            "failed": [dataclasses.asdict(f) for f in self.failed],
        }


def step_tag(step: int, round_: int) -> str:
    """Human label used in timeline details ("escalation step 2, round 1"); also how retries
    find what a step already delivered."""
    return f"escalation step {step + 1}, round {round_ + 1}"


def _attempts(incident: Any, tag: str) -> int:
    """Attempts at a step so far: its claims (each sweep that took it, including ones killed
    before they recorded anything); incidents from before claims were recorded count retries."""
    claims = sum(
        1 for e in incident.timeline if e.kind == "escalation_attempt" and e.detail.startswith(tag + ":")
    )
    if claims:
        return claims
    return sum(
        1 for e in incident.timeline if e.kind == "escalation_retry" and e.detail.startswith(tag + ":")
    )


def schedule_anchor(incident: Any, policy: EscalationPolicy) -> datetime:
    """What the incident's escalation schedule counts from (``domain.escalation``: the later of
    the alarm's time and the alert's arrival): ``incident.escalation_anchor``, set by the relay at
    open. For incidents written before that field, the fallbacks: the anchor older sweeps wrote
    into claim and hold entries (after ``ANCHOR_MARK``); before the first claim, the cursor's
    ``due_at`` is still the one the relay computed, so the anchor follows from it; else
    ``opened_at``."""
    stored = getattr(incident, "escalation_anchor", None)
    if stored is not None:
        return stored
    for entry in reversed(incident.timeline):
        if entry.kind in ("escalation_attempt", "escalation_held") and ANCHOR_MARK in entry.detail:
            try:
                return datetime.fromisoformat(entry.detail.rsplit(ANCHOR_MARK, 1)[1].strip())
            except ValueError:
                break
    due = incident.due_at
    if (
        due is not None
        and not getattr(incident, "cursor_held", False)
        and 0 <= incident.step < len(policy.steps)
    ):
        anchor = anchor_of(policy, incident.step, incident.round, due)
        if anchor >= incident.opened_at:
            return anchor
    return incident.opened_at


def _anchor_to_store(incident: Any, policy: EscalationPolicy) -> datetime | None:
    """The anchor to write into ``escalation_anchor`` with a claim or hold: only for incidents
    written before the field existed (derived while the old text or cursor still tells it)."""
    if getattr(incident, "escalation_anchor", None) is not None:
        return None
    return schedule_anchor(incident, policy)


def step_lease(dispatcher: Any) -> timedelta:
    """How long a claimed step is its sweep's: past the end of this invocation (nobody may take
    it over while this sweep might still be sending), at least ``STEP_LEASE_S``."""
    from .relay import first_page_lease

    return first_page_lease(dispatcher, timedelta(seconds=STEP_LEASE_S))


def _already_sent(incident: Any, tag: str) -> set[str]:
    """Send keys this step already delivered (from details written as "<tag> [<key>]: ...")."""
    keys = set()
    for e in incident.timeline:
        if e.kind == "notified" and e.detail.startswith(tag + " ["):
            keys.add(e.detail[len(tag) + 2 :].split("]", 1)[0])
    return keys


def _incident_alert(incident: Any) -> Alert:
    alert = getattr(incident, "alert", None)
    if alert is not None:
        return alert
    return Alert(
        source=AlertSource.FALLBACK,
        id=incident.alarm_id,
        name=incident.name,
        state=AlertState.ALARM,
        reason="still failing and not acknowledged",
        time=incident.opened_at,
        labels=dict(incident.labels),
    )


def _first_of_type(channels: Mapping[str, Channel], names: Iterable[str], type_: str) -> str | None:
    return next((n for n in names if n in channels and channels[n].type == type_), None)


@dataclass(frozen=True)
class PlannedSend:
    """One delivery a step makes."""

    channel: str  # channel name (for the timeline and handles)
    key: str  # what "already sent" is tracked by (channel name, or "<channel>:people")
    mentions: tuple[str, ...] = ()
    email_to: tuple[str, ...] = ()  # replaces the email channel's `to`


def plan_sends(config: Config, incident: Any, resolved: Resolved) -> tuple[list[PlannedSend], list[str]]:
    """Which channels get what for one step (see the module docstring), and problems."""
    problems = list(resolved.problems)
    channels = config.channels
    sends = [PlannedSend(name, name, mentions=resolved.mentions) for name in resolved.channels]
    if resolved.mentions and not _first_of_type(channels, resolved.channels, "slack"):
        slack = _first_of_type(channels, getattr(incident, "route_channels", ()), "slack") or (
            _first_of_type(channels, channels, "slack")
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
    config: Config, incident: Any, *, only: Iterable[str] | None = None
) -> tuple[list[PlannedSend], list[str]]:
    """The first page's sends for an incident, planned as ``plan_sends`` plans a step's: its channels
    (with the Slack mentions), a Slack channel for the mentions when none of them is Slack, and the
    people's e-mail through an e-mail channel. ``only``: just these send keys (those still pending)."""
    resolved = Resolved(
        channels=tuple(getattr(incident, "route_channels", ()) or ()),
        mentions=tuple(getattr(incident, "mentions", ()) or ()),
        emails=tuple(getattr(incident, "emails", ()) or ()),
    )
    sends, problems = plan_sends(config, incident, resolved)
    if only is not None:
        wanted = set(only)
        sends = [send for send in sends if send.key in wanted]
    return sends, problems


def _accepts(func: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def deliver_planned(
    dispatcher: Any, config: Config, send: PlannedSend, notification: Notification, *, last: bool = True
) -> Any:
    """One delivery. Dead-lettering is left to the dispatcher only on the step's ``last`` attempt;
    earlier failed attempts are retried by the next sweep instead (see ``_dead_letter``)."""
    target = dispatcher
    if send.email_to:
        base = config.channels[send.channel]
        channel = dataclasses.replace(base, options={**base.options, "to": tuple(send.email_to)})
        # the dispatcher looks channels up by name in its config: give it a view holding this one
        target = copy.copy(dispatcher)
        target.config = dataclasses.replace(
            getattr(dispatcher, "config", config), channels={**config.channels, send.channel: channel}
        )
    if _accepts(target.deliver, "dead_letter"):
        return target.deliver(send.channel, notification, dead_letter=last)
    return target.deliver(send.channel, notification)


_deliver = deliver_planned


def _dead_letter(
    dispatcher: Any, send: PlannedSend, notification: Notification, outcome: Any, now: datetime
) -> bool:
    """Put a failure the sweep will not retry (permanent) on the dead-letter queue itself, when the
    dispatcher was told not to. True when it is there."""
    if getattr(outcome, "dead_lettered", False):
        return True
    queue = getattr(dispatcher, "dead_letters", None)
    if queue is None:
        return False
    from .delivery import dead_letter_record

    try:
        queue.put(
            dead_letter_record(
                send.channel,
                notification,
                error=_outcome_error(outcome),
                attempts=int(getattr(outcome, "attempts", 0) or 0),
                first_failure_at=now,
                last_failure_at=now,
                permanent=_outcome_permanent(outcome),
                status=getattr(outcome, "status", None),
            )
        )
    except Exception:
        log.exception("dead-letter queue unavailable: escalation to %s is lost", send.channel)
        return False
    return True


def ack_link(
    ack_url_for: Callable[..., str | None] | None,
    incident: Any,
    *,
    recipient: str | None = None,
    incident_ids: Iterable[str] = (),
) -> str | None:
    """The ack link for a message: ``ack_url_for(incident, recipient=..., incident_ids=...)``, the
    keywords passed only when set and accepted (``relay.ack_url_factory`` takes both). None when
    there is no factory or it fails: a missing link must not stop a page."""
    if ack_url_for is None:
        return None
    kwargs: dict[str, Any] = {}
    if recipient:
        kwargs["recipient"] = recipient
    others = tuple(i for i in dict.fromkeys(incident_ids) if i != incident.id)
    if others:
        kwargs["incident_ids"] = others
    kwargs = {k: v for k, v in kwargs.items() if _accepts(ack_url_for, k)}
    try:
        return ack_url_for(incident, **kwargs)
    except Exception:  # no ack link (e.g. the signing secret is unreadable) must not stop a page
        log.warning("no ack link for %s", incident.id, exc_info=True)
        return None


def _ack_url(
    ack_url_for: Callable[..., str | None] | None, incident: Any, config: Any = None, send: Any = None
) -> str | None:
    """One send's ack link: signed for the e-mail's one recipient (``actions.ack_recipient``:
    a person's own address when the step e-mails one person), when there is one."""
    recipient = None
    if config is not None and send is not None:
        from .actions import ack_recipient

        recipient = ack_recipient(config, send.channel, send.email_to)
    return ack_link(ack_url_for, incident, recipient=recipient)


def _outcome_ok(outcome: Any) -> bool:
    return bool(getattr(outcome, "ok", False))


def _outcome_permanent(outcome: Any) -> bool:
    return bool(
        getattr(outcome, "permanent", False) or getattr(getattr(outcome, "error", None), "permanent", False)
    )


def _outcome_error(outcome: Any) -> str:
    error = getattr(outcome, "error", None)
    return str(error) if error else "delivery failed"


class _LazySilences:
    def __init__(self, source: Any, now: datetime):
        self._source = source
        self._now = now
        self._loaded: tuple[Silence, ...] | None = None

    def get(self) -> tuple[Silence, ...]:
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
    store: Any,
    dispatcher: Any,
    now: datetime,
    *,
    resolve_targets: Callable[[Config, Iterable[str], datetime], Resolved] = default_resolve_targets,
    ack_url_for: Callable[[Any], str | None] | None = None,
    silences: Iterable[Silence] | Callable[[datetime], Iterable[Silence]] = (),
    max_step_attempts: int = MAX_STEP_ATTEMPTS,
) -> SweepReport:
    """Fire every due escalation step once (see the module docstring). Never raises for one
    incident's trouble: it is logged, reported as skipped, and the sweep goes on.

    ``silences`` may be a callable (e.g. ``SilenceStore.active``): it is called at most once per
    sweep, and only when a due incident gets as far as the silence check."""
    report = SweepReport()
    silences = _LazySilences(silences, now)
    time_left = getattr(dispatcher, "time_left", None)
    for incident in store.due(now):
        if time_left is not None and time_left() < SWEEP_RESERVE_S:
            # the invocation is about to end: what is left stays due for the next sweep
            report.skipped.append((incident.id, "no time left in this invocation; next sweep"))
            continue
        try:
            _sweep_one(
                config,
                store,
                dispatcher,
                now,
                incident,
                report,
                resolve_targets=resolve_targets,
                ack_url_for=ack_url_for,
                silences=silences,
                max_step_attempts=max_step_attempts,
            )
        except Exception as exc:  # one bad incident must not stop the others' escalations
            log.exception("escalation of %s failed", incident.id)
            report.skipped.append((incident.id, f"error: {type(exc).__name__}: {exc}"))
    return report


def _sweep_one(
    config: Config,
    store: Any,
    dispatcher: Any,
    now: datetime,
    incident: Any,
    report: SweepReport,
    *,
    resolve_targets: Callable[..., Resolved],
    ack_url_for: Callable[[Any], str | None] | None,
    silences: _LazySilences,
    max_step_attempts: int,
) -> None:
    iid = incident.id
    if incident.status != "open":
        report.skipped.append((iid, f"{incident.status}: no escalation"))
        return
    if incident.due_at is None or incident.due_at > now:
        report.skipped.append((iid, "not due"))
        return
    if incident.silenced and getattr(incident, "cursor_held", False):
        _silenced_opening(
            config, store, dispatcher, now, incident, report, ack_url_for=ack_url_for, silences=silences
        )
        return
    if getattr(incident, "cursor_held", False) or (incident.pending and incident.pending_until is not None):
        _first_page(config, store, dispatcher, now, incident, report, ack_url_for=ack_url_for)
        return
    policy: EscalationPolicy | None = config.escalation_policies.get(incident.policy or "")
    if policy is None or incident.step >= len(policy.steps):
        if store.advance(
            iid, expected_step=incident.step, expected_round=incident.round, step=incident.step,
            round=incident.round, due_at=None,
        ):  # fmt: skip
            why = f"escalation policy {incident.policy!r} is not in the config (or has fewer steps)"
            store.append_timeline(iid, TimelineEntry(now, "escalation_stopped", why))
        report.skipped.append((iid, "no such policy step"))
        return
    if incident.silenced:
        if store.advance(
            iid, expected_step=incident.step, expected_round=incident.round, step=incident.step,
            round=incident.round, due_at=None,
        ):  # fmt: skip
            store.append_timeline(iid, TimelineEntry(now, "escalation_stopped", "incident is silenced"))
        report.skipped.append((iid, "silenced"))
        return
    why = is_silenced(incident.labels, now, silences.get(), config.maintenance)
    if why is not None:
        note = f"{step_tag(incident.step, incident.round)} paused: {why}"
        noted = any(e.kind == "escalation_held" and e.detail == note for e in incident.timeline)
        store.move_step(
            iid, step=incident.step, round=incident.round, to_step=incident.step,
            to_round=incident.round, due_at=now + timedelta(seconds=HOLD_S), due_by=now,
            entries=() if noted else [TimelineEntry(now, "escalation_held", note)],  # once per window
            anchor=_anchor_to_store(incident, policy),
        )  # fmt: skip
        report.skipped.append((iid, f"held: {why}"))
        return

    # CLAIM: re-arm the SAME step a lease ahead, on condition that it is still due. Only the sweep
    # whose conditional write wins sends this step; the lease end it wrote is its claim token. A
    # sweep killed before it moves the cursor on leaves the step due again when the lease ends.
    anchor = schedule_anchor(incident, policy)
    lease_until = now + step_lease(dispatcher)
    tag = step_tag(incident.step, incident.round)
    claim_entry = TimelineEntry(
        now,
        "escalation_attempt",
        f"{tag}: attempt {_attempts(incident, tag) + 1} claimed until {lease_until.isoformat()}",
    )
    if not store.move_step(
        iid,
        step=incident.step,
        round=incident.round,
        to_step=incident.step,
        to_round=incident.round,
        due_at=lease_until,
        due_by=now,
        entries=[claim_entry],
        anchor=_anchor_to_store(incident, policy),
    ):
        report.skipped.append((iid, "claimed by another sweep, or no longer open"))
        return

    claimed = incident
    incident = _fresh(store, incident)  # earlier attempts (or a killed sweep) may have recorded sends
    current = Cursor(claimed.step, claimed.round, claimed.due_at)
    following = next_cursor(policy, current, opened_at=anchor)

    def move(to_step: int, to_round: int, due_at: datetime | None, entries=()) -> bool:
        """Conditional on our claim: False when it ran out and another sweep took the step, or
        the incident was acknowledged or resolved meanwhile."""
        return store.move_step(
            iid, step=claimed.step, round=claimed.round, to_step=to_step, to_round=to_round,
            due_at=due_at, expected_due=lease_until, entries=entries,
        )  # fmt: skip

    def move_on() -> bool:
        if following is None:
            return move(len(policy.steps), claimed.round, None)
        return move(following.step, following.round, following.due_at)

    step = policy.steps[claimed.step]
    resolved = resolve_targets(config, step.notify, now)
    sends, problems = plan_sends(config, incident, resolved)
    done = _already_sent(incident, tag)
    attempt = max(1, _attempts(incident, tag))
    last_attempt = attempt >= max_step_attempts
    abandoned = attempt > max_step_attempts  # the last attempt's sweep died: do not try again
    alert = _incident_alert(incident)
    check = config.check(incident.check) if incident.check else None
    entries = [TimelineEntry(now, "escalation_problem", f"{tag}: {p}") for p in problems]
    if not sends:
        entries.append(TimelineEntry(now, "escalation_problem", f"{tag}: nobody to notify"))
    delivered: list[str] = []
    failed: list[str] = []
    to_retry: list[tuple[PlannedSend, Notification, Any]] = []
    new_handles: dict[str, dict] = {}
    for send in sends:
        if send.key in done:
            continue
        notification = Notification(
            kind=NotificationKind.ESCALATION,
            alerts=(alert,),
            incident_id=iid,
            opened_at=incident.opened_at,
            check=check,
            ack_url=_ack_url(ack_url_for, incident, config, send),
            mentions=send.mentions,
            handles=dict(incident.handles.get(send.channel, {})),
            escalation_step=claimed.step,
        )
        if abandoned:
            outcome = _Abandoned(send.channel, attempt - 1)
        else:
            outcome = _deliver(dispatcher, config, send, notification, last=last_attempt)
        people = (
            f" ({', '.join(resolved.people)})" if (send.mentions or send.email_to) and resolved.people else ""
        )
        if _outcome_ok(outcome):
            delivered.append(send.key)
            entries.append(
                TimelineEntry(
                    now, "notified", f"{tag} [{send.key}]: escalated to {send.channel}{people}", send.channel
                )
            )
            handles = getattr(getattr(outcome, "delivery", None), "handles", None)
            if handles and send.channel not in incident.handles:
                new_handles[send.channel] = dict(handles)
            continue
        failed.append(send.key)
        entries.append(
            TimelineEntry(
                now, "escalation_failed", f"{tag} [{send.key}]: {_outcome_error(outcome)}", send.channel
            )
        )
        if _outcome_permanent(outcome) or last_attempt:
            _dead_letter(dispatcher, send, notification, outcome, now)
        else:
            to_retry.append((send, notification, outcome))

    fired = Fired(iid, claimed.step, claimed.round, tuple(delivered), tuple(failed))
    if to_retry:
        # Recorded before the re-arm: a sweep that claims the re-armed step re-reads the incident
        # and must see what this attempt delivered, so it re-sends only the failed targets.
        retry_at = now + timedelta(seconds=RETRY_S)
        keys = ", ".join(send.key for send, _, _ in to_retry)
        entries.append(
            TimelineEntry(
                now,
                "escalation_retry",
                f"{tag}: attempt {attempt} of {max_step_attempts} failed for {keys}; "
                f"retrying at {retry_at.isoformat()}",
            )
        )
        _record(store, iid, entries, new_handles)
        if move(claimed.step, claimed.round, retry_at):
            fired = dataclasses.replace(fired, retry=True)
        else:  # acknowledged, resolved or taken over meanwhile: keep the failed sends for replay
            for send, notification, outcome in to_retry:
                _dead_letter(dispatcher, send, notification, outcome, now)
        entries, new_handles = [], {}
    if failed and not fired.retry:
        entries.append(
            TimelineEntry(
                now,
                "escalation_gave_up",
                f"{tag}: gave up on {', '.join(failed)} after {attempt} attempt(s); "
                "the notification is on the dead-letter queue",
            )
        )
        fired = dataclasses.replace(fired, gave_up=True)
    if failed:
        report.failed.append(fired)
    # What was sent is recorded BEFORE the cursor moves on: a sweep killed in between leaves the
    # step to the next sweep after the lease, which then sends only what is not recorded as sent.
    _record(store, iid, entries, new_handles)
    if not fired.retry and not move_on():
        log.warning("incident %s: %s claim lost before the cursor moved on", iid, tag)
    report.fired.append(fired)


@dataclass(frozen=True)
class _Abandoned:
    """The outcome of a send not tried again: the sweeps that tried it died before recording."""

    channel: str
    attempts: int
    ok: bool = False
    permanent: bool = True

    @property
    def error(self) -> str:
        return (
            f"not sent: the escalation sweep stopped (killed or timed out) during {self.attempts} attempt(s)"
        )


def _first_page(
    config: Config,
    store: Any,
    dispatcher: Any,
    now: datetime,
    incident: Any,
    report: SweepReport,
    *,
    ack_url_for: Callable[[Any], str | None] | None,
) -> None:
    """Send a first page whose sender died, once (see point 6 of the module docstring)."""
    iid = incident.id
    if not incident.pending:  # settled, but the sender died before restoring the cursor
        if store.release_hold(iid, due_at=incident.held_due_at):
            report.skipped.append((iid, "first page settled: escalation cursor restored"))
        else:
            report.skipped.append((iid, "first page settled; cursor already restored or incident closed"))
        return
    if incident.pending_until is not None and incident.pending_until > now:
        report.skipped.append((iid, "first page still being sent"))
        return
    from .relay import first_page_lease

    if not store.claim_pending(
        iid, expected_until=incident.pending_until, until=now + first_page_lease(dispatcher)
    ):
        report.skipped.append((iid, "first page claimed by another sender, or incident closed"))
        return
    log.warning("incident %s: first page to %s was never sent; sending it now", iid, list(incident.pending))
    _send_first_page(config, store, dispatcher, now, incident, report, ack_url_for=ack_url_for)


def _silenced_opening(
    config: Config,
    store: Any,
    dispatcher: Any,
    now: datetime,
    incident: Any,
    report: SweepReport,
    *,
    ack_url_for: Callable[[Any], str | None] | None,
    silences: _LazySilences,
) -> None:
    """A first page held because the incident opened silenced (point 7 of the module docstring)."""
    iid = incident.id
    why = is_silenced(incident.labels, now, silences.get(), config.maintenance)
    if why is not None:
        until = now + timedelta(seconds=SILENCE_RECHECK_S)
        if store.hold_silenced(iid, expected_until=incident.pending_until, until=until):
            report.skipped.append((iid, f"first page held: {why}"))
        else:
            report.skipped.append((iid, "first page hold moved by another sweep, or incident closed"))
        return
    from .domain.escalation import initial_cursor
    from .relay import first_page_lease

    policy = config.escalation_policies.get(incident.policy or "")
    cursor = initial_cursor(policy, now) if policy is not None else None
    entry = TimelineEntry(
        now,
        "unsilenced",
        "silence over and the alarm still open: "
        + ("sending the first page" if incident.pending else "escalation starts now"),
    )
    if not store.unsilence(
        iid,
        expected_until=incident.pending_until,
        until=now + first_page_lease(dispatcher),
        step=cursor.step if cursor is not None else incident.step,
        round=cursor.round if cursor is not None else incident.round,
        held_due_at=cursor.due_at if cursor is not None else None,
        anchor=now,  # the policy runs from the first page, as if the incident opened now
        entries=[entry],
    ):
        report.skipped.append((iid, "first page taken by another sweep, or incident closed"))
        return
    fresh = _fresh(store, incident)
    log.info("incident %s: silence over; first page to %s", iid, list(fresh.pending))
    if not fresh.pending:  # nobody to page at open: just start the policy
        store.release_hold(iid, due_at=fresh.held_due_at)
        report.skipped.append((iid, "silence over: nothing to page at open; escalation started"))
        return
    _send_first_page(config, store, dispatcher, now, fresh, report, ack_url_for=ack_url_for)


def _send_first_page(
    config: Config,
    store: Any,
    dispatcher: Any,
    now: datetime,
    incident: Any,
    report: SweepReport,
    *,
    ack_url_for: Callable[[Any], str | None] | None,
) -> None:
    """Send the still-pending first-page targets of a claimed incident, record, restore the cursor."""
    iid = incident.id
    sends, problems = opening_sends(config, incident, only=incident.pending)
    entries = [TimelineEntry(now, "escalation_problem", f"first page: {p}") for p in problems]
    planned = {send.key for send in sends}
    settled = [key for key in incident.pending if key not in planned]  # gone from the config
    if settled:
        entries.append(
            TimelineEntry(now, "escalation_problem", f"first page: {', '.join(settled)} no longer configured")
        )
    alert = _incident_alert(incident)
    check = config.check(incident.check) if incident.check else None
    delivered: list[str] = []
    failed: list[str] = []
    handles: dict[str, dict] = {}
    for send in sends:
        notification = Notification(
            kind=NotificationKind.TRIGGER,
            alerts=(alert,),
            incident_id=iid,
            opened_at=incident.opened_at,
            check=check,
            ack_url=_ack_url(ack_url_for, incident, config, send),
            mentions=send.mentions,
            handles=dict(incident.handles.get(send.channel, {})),
        )
        outcome = deliver_planned(dispatcher, config, send, notification, last=True)
        if _outcome_ok(outcome):
            delivered.append(send.key)
            settled.append(send.key)
            entries.append(
                TimelineEntry(
                    now, "notified", "trigger sent (first page, by the escalation sweep)", send.channel
                )
            )
            found = getattr(getattr(outcome, "delivery", None), "handles", None)
            if found:
                handles[send.channel] = dict(found)
            continue
        failed.append(send.key)
        entries.append(
            TimelineEntry(now, "delivery_failed", f"trigger: {_outcome_error(outcome)}", send.channel)
        )
        if _dead_letter(dispatcher, send, notification, outcome, now):
            settled.append(send.key)  # safe on the dead-letter queue: nobody sends it again
            entries.append(
                TimelineEntry(now, "dead_lettered", "trigger kept on the dead-letter queue", send.channel)
            )
    store.record_outcomes(iid, entries, handles, settled=settled)
    if set(incident.pending) <= set(settled):
        store.release_hold(iid, due_at=incident.held_due_at)
    fired = Fired(iid, incident.step, incident.round, tuple(delivered), tuple(failed), first_page=True)
    if failed:
        report.failed.append(fired)
    report.fired.append(fired)


def _fresh(store: Any, incident: Any) -> Any:
    try:
        latest = store.get(incident.id)
    except Exception:
        log.warning("could not re-read %s; using the due-index copy", incident.id, exc_info=True)
        return incident
    return latest if latest is not None else incident


def _record(store: Any, iid: str, entries: list[TimelineEntry], handles: dict[str, dict]) -> None:
    """Timeline entries and new message handles, in one write when the store can."""
    if hasattr(store, "record_outcomes"):
        if entries or handles:
            store.record_outcomes(iid, entries, handles)
        return
    for entry in entries:
        store.append_timeline(iid, entry)
    for channel, value in handles.items():
        store.set_handles(iid, channel, value)


# --------------------------------------------------------------------------------------- wiring
@dataclass
class Escalator:
    """What the Lambda handler (and the local stack) holds: the sweep's collaborators."""

    config: Config
    store: Any
    dispatcher: Any
    ack_url_for: Callable[[Any], str | None] | None = None
    silences: Callable[[datetime], Iterable[Silence]] | None = None  # e.g. SilenceStore.active

    def run(self, now: datetime) -> SweepReport:
        return sweep(
            self.config,
            self.store,
            self.dispatcher,
            now,
            ack_url_for=self.ack_url_for,
            silences=self.silences or (),
        )


def build_escalator_from_env(
    environ: Mapping[str, str] | None = None,
    *,
    config: Config | None = None,
    dynamodb: Any = None,
    sqs: Any = None,
    notifiers: Mapping[str, Any] | None = None,
    secrets: Any = None,
    metrics: Callable[..., None] | None = None,
) -> Escalator:
    """Adapters from TABLE_NAME, DLQ_URL, ACTIONS_URL, ACK_SECRET_REF, UPTIME_CONFIG (clients
    injectable). Without TABLE_NAME / DLQ_URL (a bare local run) state is kept in memory.
    One-off silences are read from the same table (``adapters.silences``)."""
    from .wiring import delivery_from_env

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
    config, table, store, dispatcher, ack_url_for = (
        wired.config,
        wired.table,
        wired.store,
        wired.dispatcher,
        wired.ack_url_for,
    )
    from .adapters.silences import DynamoSilences, InMemorySilences

    silence_store: Any = DynamoSilences(table, client=dynamodb) if table else InMemorySilences()
    return Escalator(config, store, dispatcher, ack_url_for=ack_url_for, silences=silence_store.active)
