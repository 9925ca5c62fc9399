"""The one send pipeline: every page, escalation, held first page and follow-up goes through it.

Like Alertmanager's ``notify/notify.go``, a send is small named stages composed in one place
(``Pipeline.send``):

1. plan          the caller's: what to send, each with a send key, and how it renders as a
                 ``Page`` (a channel, a notification, the incidents it speaks for);
2. skip_sent     drop pages whose send key the incident already records as sent (retries);
3. deliver       ``Dispatcher.deliver`` with retries, to the page's explicit e-mail recipients;
                 a page whose sweeps died on every attempt is not tried again (``abandoned``);
4. redeliver     a page marked ``redeliver`` (TRIGGERs, RESOLVEs, escalation step pages and
                 acknowledge/resolve follow-ups) that failed transiently
                 becomes a pending send with its next attempt time (``domain.redelivery``),
                 written beside its incident by ``Ledger.commit``; the escalation sweep retries
                 it, and only a send failing for 24 h is given up;
   dead_letter   a failure given up now (permanent, or the page's last try) that the dispatcher
                 did not put on the dead-letter queue goes there here;
5. record        outcomes become timeline entries (``notified`` / ``delivery_failed`` /
                 ``dead_lettered`` in the page's ``Wording``), message handles and settled
                 first-page keys, gathered in a ``Ledger``: one ``record_outcomes`` write per
                 incident (``Ledger.commit``), then the escalation cursor is given back
                 (``release_hold``) once the incident's whole first page is settled.

``first_page_lease`` is how long a sender owns what it claimed (a first page or a step).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol, TypeVar

from .. import metricnames
from ..acklinks import GROUP_HANDLE
from ..delivery import dead_letter_record, notification_to_dict
from ..domain.incident import Incident, TimelineEntry
from ..domain.redelivery import Pending, after_failure, as_kind, pending_key
from ..notifiers.base import Notification, NotificationKind
from ..ports import DeliveryOutcome, Dispatcher, IncidentStore

log = logging.getLogger(__name__)

FIRST_PAGE_LEASE = timedelta(seconds=60)  # minimum; in Lambda: the invocation's remaining time + 5 s


def first_page_lease(dispatcher: Dispatcher, minimum: timedelta = FIRST_PAGE_LEASE) -> timedelta:
    """How long a claimed first page (or escalation step) is its sender's: past the end of this
    invocation (nobody may take it over while we might still be sending), at least ``minimum``."""
    if dispatcher.time_left is None:
        return minimum
    try:
        return max(minimum, timedelta(seconds=dispatcher.time_left() + 5))
    except Exception:
        return minimum


# --------------------------------------------------------------------------------------- pages
@dataclass(frozen=True)
class Wording:
    """How a page's outcome reads on an incident's timeline."""

    sent: str  # detail of the ``notified`` entry
    failed: str  # detail of the failure entry, before the error
    failed_kind: str = "delivery_failed"
    dead_lettered: str | None = None  # detail of the ``dead_lettered`` entry; None: no such entry

    @classmethod
    def of(cls, kind: NotificationKind, *, dead_lettered: bool = True) -> Wording:
        """The plain wording: "trigger sent", "trigger: <error>", "trigger kept on the dead-letter queue"."""
        return cls(
            f"{kind.value} sent",
            f"{kind.value}: ",
            dead_lettered=f"{kind.value} kept on the dead-letter queue" if dead_lettered else None,
        )


HandlesRule = Literal["set", "keep", "none"]  # store the channel's new handles / only if it has none / never


@dataclass(frozen=True)
class Covered:
    """One incident a page speaks for, and what the page's outcome means for it."""

    incident: Incident
    wording: Wording
    settles: str | None = None  # the first-page send key settled once delivered or dead-lettered
    members: tuple[str, ...] = ()  # a grouped message's incidents, stored with its handles
    handles: HandlesRule = "set"


@dataclass(frozen=True)
class Page:
    """One message to one channel."""

    channel: str
    key: str  # what "already sent" is tracked by (channel name, or "<channel>:people")
    notification: Notification
    covers: tuple[Covered, ...]
    to: tuple[str, ...] = ()  # the e-mail recipients of this send, instead of the channel's `to`
    last_try: bool = True  # the dispatcher dead-letters a failure itself; otherwise it is retried later
    abandoned_after: int | None = None  # its sweeps died on this many attempts: not tried again
    redeliver: bool = False  # a transient failure becomes a pending redelivery
    previous: Pending | None = None  # the pending send this page retries (claimed by a sweep)
    redeliver_as: str | None = None  # the pending send's key instead of ``key`` (a step's: per step)

    @property
    def pending_key(self) -> str:
        if self.previous is not None:
            return self.previous.key
        return pending_key(self.notification.kind.value, self.redeliver_as or self.key)


@dataclass(frozen=True)
class Sent:
    page: Page
    outcome: DeliveryOutcome
    deferred: Pending | None = None  # kept for automatic redelivery at ``deferred.next_at``

    @property
    def given_up(self) -> bool:
        """Failed for good: permanently, on its last try, or a redelivery failing for 24 h (else
        it is pending redelivery)."""
        if self.outcome.ok or self.deferred is not None:
            return False
        return self.page.last_try or self.outcome.permanent or self.page.redeliver


def abandoned(channel: str, attempts: int) -> DeliveryOutcome:
    """The outcome of a send not tried again: the sweeps that tried it died before recording."""
    return DeliveryOutcome(
        channel,
        False,
        error=f"not sent: the escalation sweep stopped (killed or timed out) during {attempts} attempt(s)",
        attempts=attempts,
        permanent=True,
    )


# --------------------------------------------------------------------------------------- ledger
@dataclass
class Ledger:
    """What a send writes per incident, gathered so each incident gets one write."""

    entries: dict[str, list[TimelineEntry]] = field(default_factory=dict)
    handles: dict[str, dict[str, dict]] = field(default_factory=dict)
    settled: dict[str, list[str]] = field(default_factory=dict)
    openings: dict[str, Incident] = field(default_factory=dict)  # first pages settled here
    # pending redeliveries to write, per owning incident: (the send, the claim it replaces)
    deferred: dict[str, list[tuple[Pending, datetime | None]]] = field(default_factory=dict)

    def _touch(self, incident_id: str) -> None:
        self.entries.setdefault(incident_id, [])

    def note(self, incident_id: str, *entries: TimelineEntry) -> None:
        self._touch(incident_id)
        self.entries[incident_id].extend(entries)

    def settle(self, incident: Incident, *keys: str) -> None:
        """First-page send keys nobody needs to send again (delivered, dead-lettered, or gone)."""
        self._touch(incident.id)
        self.settled.setdefault(incident.id, []).extend(keys)
        self.openings[incident.id] = incident

    def record(self, sent: Sent, at: datetime) -> None:
        """Stage 5: the outcome of one page, for every incident it speaks for."""
        outcome = sent.outcome
        for covered in sent.page.covers:
            incident, wording = covered.incident, covered.wording
            self.note(incident.id, *_entries(outcome, wording, sent.page.channel, at, sent.deferred))
            self._record_handles(covered, sent.page.channel, outcome)
            if covered.settles is not None and (outcome.ok or outcome.dead_lettered or sent.deferred):
                # delivered, safely on the dead-letter queue, or pending redelivery: nobody
                # needs to send it as a first page again
                self.settle(incident, covered.settles)
        if sent.deferred is not None and sent.page.covers:
            owner = sent.page.covers[0].incident.id
            claim = sent.page.previous.next_at if sent.page.previous is not None else None
            self.deferred.setdefault(owner, []).append((sent.deferred, claim))

    def _record_handles(self, covered: Covered, channel: str, outcome: DeliveryOutcome) -> None:
        if covered.handles == "none" or not outcome.ok or outcome.delivery is None:
            return
        found = outcome.delivery.handles
        if not (found or covered.members):
            return
        if covered.handles == "keep" and channel in covered.incident.handles:
            return
        handles = dict(found)
        if covered.members:
            handles[GROUP_HANDLE] = list(covered.members)
        self.handles.setdefault(covered.incident.id, {})[channel] = handles

    def commit(self, store: IncidentStore, *, contain_errors: bool = False) -> None:
        """One ``record_outcomes`` per incident, then the escalation cursor given back where the
        whole first page is settled. ``contain_errors``: log a failed write and go on with the
        other incidents (a relay batch) instead of raising (a sweep, per incident)."""
        for incident_id in list(self.entries):
            entries, handles = self.entries[incident_id], self.handles.get(incident_id, {})
            settled = self.settled.get(incident_id, [])
            if not (entries or handles or settled):
                continue
            try:
                if not store.record_outcomes(incident_id, entries, handles, settled=settled):
                    log.warning(
                        "incident %s vanished before its delivery outcomes were recorded", incident_id
                    )
            except Exception:
                if not contain_errors:
                    raise
                log.exception("delivery outcomes for %s could not be recorded", incident_id)
                continue
            try:
                self._release(store, incident_id)
            except Exception:  # the escalation sweep restores it when it finds the incident due
                if not contain_errors:
                    raise
                log.exception("escalation cursor of %s could not be restored", incident_id)
        for incident_id, pending in self.deferred.items():
            for one, claim in pending:
                try:
                    if not store.defer(incident_id, one, expected_next_at=claim):
                        log.warning("redelivery of %s to %s: claim lost", incident_id, one.channel)
                except Exception:
                    if not contain_errors:
                        raise
                    log.exception("redelivery of %s to %s could not be kept", incident_id, one.channel)
        self.entries, self.handles, self.settled, self.openings, self.deferred = {}, {}, {}, {}, {}

    def _release(self, store: IncidentStore, incident_id: str) -> None:
        opened = self.openings.get(incident_id)
        if opened is None or not opened.cursor_held:
            return
        if set(opened.pending) <= set(self.settled.get(incident_id, ())):
            store.release_hold(incident_id, due_at=opened.held_due_at)


def _entries(
    outcome: DeliveryOutcome, wording: Wording, channel: str, at: datetime, deferred: Pending | None = None
) -> list[TimelineEntry]:
    """The one writer of delivery outcomes on a timeline."""
    if outcome.ok:
        return [TimelineEntry(at, "notified", wording.sent, channel)]
    error = outcome.error or "delivery failed"
    entries = [TimelineEntry(at, wording.failed_kind, f"{wording.failed}{error}", channel)]
    if deferred is not None:
        detail = (
            f"{deferred.kind}: attempt {deferred.attempts} failed; "
            f"next attempt at {deferred.next_at.isoformat()} (automatic redelivery)"
        )
        entries.append(TimelineEntry(at, "redelivery_scheduled", detail, channel))
    if outcome.dead_lettered and wording.dead_lettered is not None:
        entries.append(TimelineEntry(at, "dead_lettered", wording.dead_lettered, channel))
    return entries


# --------------------------------------------------------------------------------------- pipeline
class Keyed(Protocol):
    @property
    def key(self) -> str:
        """What "already sent" is tracked by."""
        ...


Planned = TypeVar("Planned", bound=Keyed)


def report_failing_channel(channel: str, seconds: float, error: str) -> None:
    """One ``ChannelFailingSeconds`` datapoint (EMF on stdout, dimension ``channel`` only) and
    the log line that says why: the channel's alarm names the channel, this line the error."""
    seconds = max(0.0, round(seconds, 3))
    document = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": metricnames.namespace(),
                    "Dimensions": [[metricnames.CHANNEL_DIMENSION]],
                    "Metrics": [{"Name": metricnames.CHANNEL_FAILING, "Unit": "Seconds"}],
                }
            ],
        },
        metricnames.CHANNEL_DIMENSION: channel,
        metricnames.CHANNEL_FAILING: seconds,
    }
    try:
        print(json.dumps(document), file=sys.stdout, flush=True)
    except Exception:  # metrics never break delivery
        log.warning("metric %s could not be written", metricnames.CHANNEL_FAILING, exc_info=True)
    level = logging.ERROR if seconds >= metricnames.CHANNEL_FAILING_ALARM_S else logging.WARNING
    log.log(
        level,
        "channel %s failing for %ds: %s",
        channel,
        seconds,
        error,
        extra={"channel": channel, "failing_s": seconds, "error": error},
    )


FailingChannel = Callable[[str, float, str], None]  # (channel, seconds failing, error)


class Pipeline:
    """plan → skip_sent → deliver → redeliver / dead_letter → record, over one dispatcher.
    Every failed send reports its channel (``failing``: ``report_failing_channel``)."""

    def __init__(self, dispatcher: Dispatcher, *, failing: FailingChannel | None = None):
        self.dispatcher = dispatcher
        self.failing = failing or report_failing_channel

    def send(
        self,
        planned: Sequence[Planned],
        page: Callable[[Planned], Page],
        at: datetime,
        ledger: Ledger,
        *,
        already_sent: Collection[str] = (),
    ) -> list[Sent]:
        """Send what was ``planned`` (stage 1, the caller's): skip what was already sent, render
        each remaining one as a ``Page`` (``page``), deliver, dead-letter, record the outcomes in
        ``ledger`` (``Ledger.commit`` writes them). Returns what was sent, in order; failures not
        ``given_up`` are pending redelivery."""
        sent = [self.deliver(page(one)) for one in skip_sent(planned, already_sent)]
        sent = [self.redeliver(s, at) for s in sent]
        for one in sent:
            if not one.outcome.ok and not one.outcome.queued and one.page.abandoned_after is None:
                self._report_failing(one, at)
        sent = [self.dead_letter(s, at) if s.given_up else s for s in sent]
        for one in sent:
            ledger.record(one, at)
        return sent

    def deliver(self, page: Page) -> Sent:
        """Stage 3: one delivery, retried by the dispatcher."""
        if page.abandoned_after is not None:
            return Sent(page, abandoned(page.channel, page.abandoned_after))
        outcome = self.dispatcher.deliver(
            page.channel, page.notification, dead_letter=page.last_try and not page.redeliver, to=page.to
        )
        return Sent(page, outcome)

    def _report_failing(self, sent: Sent, at: datetime) -> None:
        since = sent.deferred.first_failed_at if sent.deferred is not None else None
        if since is None and sent.page.previous is not None:
            since = sent.page.previous.first_failed_at
        seconds = (at - since).total_seconds() if since is not None else 0.0
        try:
            self.failing(sent.page.channel, seconds, sent.outcome.error or "delivery failed")
        except Exception:
            log.warning("failing channel %s could not be reported", sent.page.channel, exc_info=True)

    @staticmethod
    def redeliver(sent: Sent, at: datetime) -> Sent:
        """Stage 4a: a ``redeliver`` page that failed transiently is kept with its next attempt
        (``domain.redelivery.after_failure``); one failing for 24 h is left to ``dead_letter``."""
        page, outcome = sent.page, sent.outcome
        if not page.redeliver or outcome.ok or outcome.permanent or outcome.dead_lettered:
            return sent
        kind = as_kind(page.notification.kind.value)
        pending = after_failure(
            page.previous,
            key=page.pending_key,
            channel=page.channel,
            kind=kind,
            now=at,
            error=outcome.error or "delivery failed",
            retry_after=outcome.retry_after,
            to=page.to,
            members=tuple(c.incident.id for c in page.covers),
            notification=notification_to_dict(page.notification),
        )
        return dataclasses.replace(sent, deferred=pending)

    def dead_letter(self, sent: Sent, at: datetime) -> Sent:
        """Stage 4: put a failure nobody will try again on the dead-letter queue, if the dispatcher
        did not (it was told not to, or could not)."""
        outcome = sent.outcome
        if outcome.ok or outcome.dead_lettered:
            return sent
        record = dead_letter_record(
            sent.page.channel,
            sent.page.notification,
            error=outcome.error or "delivery failed",
            attempts=outcome.attempts,
            first_failure_at=at,
            last_failure_at=at,
            permanent=outcome.permanent,
            status=outcome.status,
        )
        try:
            self.dispatcher.dead_letters.put(record)
        except Exception:
            log.exception("dead-letter queue unavailable: the notification to %s is lost", sent.page.channel)
            return sent
        return Sent(sent.page, dataclasses.replace(outcome, dead_lettered=True))


def skip_sent(planned: Iterable[Planned], already_sent: Collection[str]) -> list[Planned]:
    """Stage 2: what is not recorded as sent yet (by send key)."""
    return [one for one in planned if one.key not in already_sent]
