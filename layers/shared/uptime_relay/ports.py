"""The ports: small Protocols the services (relay, escalator, actions) and the paging pipeline
depend on, kept beside the domain. Adapters (``adapters/*``, ``delivery.Dispatcher``) implement
them, and so do the in-memory fakes the tests and the local stack use; nothing here does I/O.

- ``IncidentStore``: incidents and alarm records, every change a conditional write;
- ``FlapStore``: each check's flap state (``adapters.flapping``);
- ``SilenceStore`` (the CLI's) and ``ActiveSilences`` (what the relay and escalator read: the
  silences active at an instant, e.g. ``SilenceStore.active``);
- ``DeadLetters``: the queue undeliverable notifications wait on for replay;
- ``Dispatcher``: delivers one notification to one channel with retries (``DeliveryOutcome``),
  dead-lettering on failure unless told not to, to an explicit e-mail recipient list when given;
- ``UsedTokens``: ids that may be used once (a signed ack link's ``jti``, a PagerDuty webhook
  event's ``id``), each recorded with a conditional write;
- ``AckUrlFor``: the signer of ack links (``acklinks.ack_url_factory``);
- ``AlarmTagSource``: a CloudWatch alarm's tags (``adapters.alarm_tags``);
- ``Backfill``: a one-time data migration done a page at a time, with its progress kept in the
  store (``adapters.listing_backfill``, run by ``migration.OneTimeMigration``);
- ``Clock`` and ``SecretResolver``: re-exported from ``clock`` and ``notifiers.base``.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .clock import Clock
from .domain.alert import Alert
from .domain.flapping import FlapState
from .domain.grouping import Group
from .domain.heartbeat import HeartbeatRecord
from .domain.incident import OPEN_STATUSES, AlarmRecord, Incident, TimelineEntry, Transition
from .domain.pacing import Pace
from .domain.redelivery import Pending
from .domain.silence import Silence
from .domain.storm import StormCounter
from .notifiers.base import Delivery, Notification, SecretResolver

__all__ = [
    "AckUrlFor",
    "ActiveSilences",
    "AlarmTagSource",
    "Backfill",
    "Clock",
    "DeadLetters",
    "Decider",
    "DeliveryOutcome",
    "Dispatcher",
    "FlapStore",
    "GroupStore",
    "IncidentStore",
    "Received",
    "SecretResolver",
    "SilenceStore",
    "UsedTokens",
]

Decider = Callable[[AlarmRecord | None, Incident | None], Transition]
ActiveSilences = Callable[[datetime], Iterable[Silence]]  # the silences active at an instant


class IncidentStore(Protocol):
    # -- read
    def get(self, id: str) -> Incident | None: ...
    def list(
        self, statuses: Iterable[str] = OPEN_STATUSES, since: datetime | None = None
    ) -> builtins.list[Incident]: ...
    def due(self, now: datetime) -> builtins.list[Incident]: ...
    def get_alarm(self, alarm_id: str) -> AlarmRecord | None: ...

    # -- escalation and actions (all conditional; False when the condition did not hold)
    def advance(
        self,
        id: str,
        *,
        expected_step: int,
        expected_round: int,
        step: int,
        round: int,
        due_at: datetime | None,
    ) -> bool: ...
    def move_step(
        self,
        id: str,
        *,
        step: int,
        round: int,
        to_step: int,
        to_round: int,
        due_at: datetime | None,
        expected_due: datetime | None = None,
        due_by: datetime | None = None,
        entries: Iterable[TimelineEntry] = (),
        anchor: datetime | None = None,
    ) -> bool: ...
    def acknowledge(self, id: str, *, by: str, via: str, at: datetime) -> bool: ...
    def resolve(self, id: str, *, by: str, via: str, at: datetime) -> bool: ...
    def append_timeline(self, id: str, entry: TimelineEntry) -> bool: ...
    def set_handles(self, id: str, channel: str, handles: Mapping[str, Any]) -> bool: ...
    def record_outcomes(
        self,
        id: str,
        entries: Iterable[TimelineEntry],
        handles: Mapping[str, Mapping[str, Any]],
        *,
        settled: Iterable[str] = (),
    ) -> bool: ...
    def claim_pending(self, id: str, *, expected_until: datetime | None, until: datetime) -> bool: ...
    def release_hold(self, id: str, *, due_at: datetime | None) -> bool: ...
    def hold_silenced(self, id: str, *, expected_until: datetime | None, until: datetime) -> bool: ...
    def unsilence(
        self,
        id: str,
        *,
        expected_until: datetime | None,
        until: datetime,
        step: int,
        round: int,
        held_due_at: datetime | None,
        anchor: datetime,
        entries: Iterable[TimelineEntry] = (),
    ) -> bool: ...

    # -- automatic redelivery (``domain.redelivery``): sends waiting beside their incident
    def pending_sends(self, id: str) -> builtins.list[Pending]: ...
    def redeliveries_due(self, now: datetime) -> builtins.list[str]: ...
    def defer(self, id: str, pending: Pending, *, expected_next_at: datetime | None = None) -> bool: ...
    def claim_redelivery(
        self, id: str, key: str, *, expected_next_at: datetime, until: datetime
    ) -> Pending | None: ...
    def settle_redelivery(self, id: str, key: str, *, expected_next_at: datetime | None = None) -> bool: ...

    # -- alert intake
    def commit(self, transition: Transition) -> bool: ...
    def apply(self, alert: Alert, decide: Decider, *, max_attempts: int = ...) -> Transition: ...
    def mute_opening(
        self, id: str, *, expected_until: datetime | None, group_id: str, entry: TimelineEntry
    ) -> bool: ...


class GroupStore(Protocol):
    """Route groups and storm counters (``adapters.groups``), every change conditional."""

    def get(self, key: str) -> Group | None: ...
    def put(self, group: Group) -> bool: ...
    def change(self, key: str, decide: Callable[[Group | None], Group | None]) -> Group | None: ...
    def due(self, now: datetime) -> builtins.list[Group]: ...
    def count_opening(self, route: int, now: datetime, window_s: float) -> StormCounter: ...


class FlapStore(Protocol):
    """Each check's flap state (``domain.flapping``), written conditionally on its version."""

    def get(self, check: str) -> FlapState | None: ...
    def put(self, state: FlapState, *, quiet_at: datetime | None) -> bool:
        """Write ``state`` if the stored version is ``state.version - 1`` (absent for 1); while it
        flaps, it is due at ``quiet_at``. False when another writer got there first."""
        ...

    def due(self, now: datetime) -> builtins.list[FlapState]:
        """The flapping checks whose quiet window ended by ``now``."""
        ...


class SilenceStore(Protocol):
    def add(self, silence: Silence) -> bool: ...
    def get(self, id: str) -> Silence | None: ...
    def list(self) -> builtins.list[Silence]: ...
    def active(self, at: datetime) -> builtins.list[Silence]: ...
    def end(self, id: str, at: datetime) -> bool:
        """End an active silence now, or cancel an upcoming one. False if unknown or already over."""
        ...


@dataclass(frozen=True)
class Received:
    handle: str  # pass to delete() once the record is dealt with
    record: dict[str, Any]
    message_id: str | None = None
    receive_count: int = 1


class DeadLetters(Protocol):
    def put(self, record: dict[str, Any]) -> None: ...
    def receive(self, max: int = 10, *, peek: bool = False) -> list[Received]: ...
    def delete(self, handle: str) -> None: ...


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one delivery did (``Dispatcher.deliver`` never raises)."""

    channel: str
    ok: bool
    delivery: Delivery | None = None
    error: str | None = None
    attempts: int = 0
    dead_lettered: bool = False
    permanent: bool = False
    status: int | None = None
    retry_after: float | None = None  # the channel's Retry-After on the last failed attempt
    queued: bool = False  # not sent: the destination's pace has no slot within the time left


class Pacer(Protocol):
    """Destinations' token buckets (``domain.pacing``), shared by every invocation."""

    def reserve(self, key: str, pace: Pace, now: datetime, max_wait_s: float) -> tuple[bool, float]:
        """``(reserved, seconds until the slot)``: not reserved (and not to be sent now) when the
        slot is further than ``max_wait_s``."""
        ...


class Dispatcher(Protocol):
    dead_letters: DeadLetters
    # seconds left before the invocation is killed (set by the handler from the Lambda context)
    time_left: Callable[[], float] | None

    def deliver(
        self,
        channel_name: str,
        notification: Notification,
        *,
        dead_letter: bool = True,
        to: tuple[str, ...] = (),
    ) -> DeliveryOutcome:
        """Send with retries; on failure dead-letter it when ``dead_letter``. ``to``: the e-mail
        addresses this one send goes to instead of the e-mail channel's own ``to``."""
        ...

    def groups_alerts(self, channel_name: str) -> bool:
        """Whether the channel's notifier puts the alerts of one body in one message."""
        ...


class UsedTokens(Protocol):
    """Ids used once: an ack link's ``jti``, a PagerDuty webhook event's ``id`` (one instance per
    kind of id: their records never mix). A record may be forgotten after ``expires_at``, when the
    thing it guards could not pass its own time check any more."""

    def claim(self, jti: str, expires_at: datetime, *, incident_id: str = "") -> bool:
        """Record ``jti`` as used. True the first time, False when it was already used."""
        ...

    def is_used(self, jti: str) -> bool:
        """Whether ``jti`` was already used (read only)."""
        ...

    def release(self, jti: str) -> None:
        """Forget ``jti``: what its claim guarded failed before changing anything, so the sender's
        retry may use it again."""
        ...


class AlarmTagSource(Protocol):
    def tags_for(self, alarm_id: str) -> dict[str, str]:
        """A CloudWatch alarm's tags (the relay adds them to the alert's labels)."""
        ...


class RegionResultSource(Protocol):
    def verdicts(
        self, check: str, regions: list[str], *, period: int, at: datetime, namespace: str | None = None
    ) -> dict[str, bool | None]:
        """Each region's latest verdict on a check (True passed, False failed, None no report)."""
        ...


class AckUrlFor(Protocol):
    def __call__(
        self, incident: Incident, recipient: str | None = None, incident_ids: Iterable[str] = ()
    ) -> str | None:
        """The signed ack link acknowledging ``incident`` (and ``incident_ids``) as ``recipient``."""
        ...


class Backfill(Protocol):
    """A one-time migration of stored items, a page at a time, its progress kept in the store
    (a marker item): ``(done, resume)``, ``resume`` being where the next page starts (``None``: at
    the beginning)."""

    def progress(self) -> tuple[bool, Any]:
        """The stored progress; ``(False, None)`` when the migration never started."""
        ...

    def page(self, start: Any) -> tuple[int, Any]:
        """Migrate one page from ``start``: how many items changed, and where the next page
        starts (``None``: that was the last page). Idempotent: a page done twice changes nothing more."""
        ...

    def save(self, *, done: bool, resume: Any) -> None:
        """Store the progress (``done``: every item is migrated, nothing is left to do)."""
        ...


class Heartbeats(Protocol):
    """The latest ping of each kind per heartbeat check (``adapters/heartbeats.py``)."""

    def record(self, check: str, kind: str, at: datetime) -> bool:
        """Store a ``kind`` ping (success, fail, start) at ``at``; False when one at ``at`` or
        later is already stored (a repeat changes nothing)."""
        ...

    def get(self, check: str) -> HeartbeatRecord | None: ...

    def get_many(self, checks: Iterable[str]) -> dict[str, HeartbeatRecord]:
        """The records of those ``checks`` that were ever pinged."""
        ...


class DependencySets(Protocol):
    """The dependency names each check's health JSON has held (``adapters/dependencies.py``):
    per name the time it went missing, None while present; a version for conditional writes."""

    def get_many(self, checks: Iterable[str]) -> dict[str, tuple[dict[str, datetime | None], int]]: ...

    def update(
        self,
        check: str,
        version: int,
        *,
        present: Iterable[str] = (),
        missing: Mapping[str, datetime] | None = None,
        forget: Iterable[str] = (),
    ) -> bool:
        """Store the changes if the stored version is still ``version``; False when it moved on."""
        ...
