"""The one place the relay and the escalation sweep ask "is this incident muted, and why".

Mute stages stand before the send pipeline (``domain.mute``): silences and maintenance windows,
flapping, inhibition; an inhibit rule's target that finds no source open yet waits until the next
sweep (``HELD``). ``Muting`` holds what those decisions read, each read at most once per relay
batch or sweep (``reset`` starts a new one):

- the silences, through the ``silenced(labels, at)`` callable (the relay's ``silencer``, or the
  sweep's lazily read silences with the config's maintenance windows);
- the open incidents, for inhibition: one read of the store's ``listing`` index (two keyed
  queries: open and acknowledged), and only when an incident is the target of some rule;
  incidents opened or resolved during the batch are added or dropped as they change (``opened``,
  ``closed``);
- each flapping check's ``FlapState`` (one GetItem per check with ``flapping``).

A store that cannot be read mutes nothing (the error is logged): alerts keep flowing.

The flapping hooks the relay and the sweep share live here too: ``record_flap`` (a state change
of a check with ``flapping``, written conditionally; True once, for the change that made it
flap), ``leave_flapping`` (the sweep's: it has been quiet for a whole window) and
``notice_channels`` (where the "flapping" and "stable again" notices go).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from .config import Check, Config
from .domain import mute as mutes
from .domain.alert import Alert, AlertSource, AlertState
from .domain.flapping import FlapState, describe, duration_text, left, record_change
from .domain.incident import OPEN_STATUSES, Incident, incident_id
from .domain.inhibition import derived_inhibit_rules, inhibitor, is_target
from .domain.mute import Mute
from .domain.routing import match_routes
from .ports import FlapStore, IncidentStore

log = logging.getLogger(__name__)

# the channel types a flapping notice goes to (information, never a page), as warnings do
NOTICE_CHANNEL_TYPES = ("slack", "email")
MAX_FLAP_WRITES = 5

Silenced = Callable[[Mapping[str, str], datetime], "str | None"]
HELD_WHY = (
    "a target of an inhibit rule with no inhibiting incident open yet: the first page waits for "
    "the next sweep, so an inhibiting alarm that arrives a little later still inhibits it"
)


class Muting:
    def __init__(
        self,
        config: Config,
        store: IncidentStore | None,
        *,
        silenced: Silenced | None = None,
        flaps: FlapStore | None = None,
    ):
        self.config = config
        self.rules = derived_inhibit_rules(config)
        self.store = store
        self.silenced = silenced
        self.flaps = flaps
        self._open: list[Incident] | None = None
        self._flaps: dict[str, FlapState | None] = {}

    def reset(self) -> None:
        """A new batch or sweep: read silences, open incidents and flap states afresh."""
        reset = getattr(self.silenced, "reset", None)
        if callable(reset):
            reset()
        self._open = None
        self._flaps.clear()

    # -- the question
    def at_open(self, alert: Alert, now: datetime) -> Mute | None:
        """Is the incident ``alert`` opens muted (silences judged at the alarm's time)?"""
        return self._mute(
            incident_id(alert.id, alert.time), alert.id, alert.labels, alert.check, alert.time, waiting=True
        )

    def now(self, incident: Incident, now: datetime) -> Mute | None:
        """Is ``incident`` muted at ``now`` (the sweep's question: no more waiting for sources)?"""
        return self._mute(incident.id, incident.alarm_id, incident.labels, incident.check, now, waiting=False)

    def _mute(
        self,
        id: str,
        alarm_id: str,
        labels: Mapping[str, str],
        check_name: str | None,
        at: datetime,
        *,
        waiting: bool,
    ) -> Mute | None:
        why = self.silenced(labels, at) if self.silenced is not None else None
        if why is not None:
            return Mute(mutes.SILENCED, why)
        check = self.config.check(check_name) if check_name else None
        if check is not None and check.flapping is not None:
            state = self.flap_state(check.name)
            if state is not None and state.flapping:
                return Mute(mutes.FLAPPING, describe(state, check.flapping))
        if self.rules and is_target(labels, self.rules):
            found = inhibitor(id, alarm_id, labels, self.open_incidents(), self.rules)
            if found is not None:
                return Mute(mutes.INHIBITED, found.describe())
            if waiting:
                return Mute(mutes.HELD, HELD_WHY)
        return None

    # -- what it reads
    def open_incidents(self) -> list[Incident]:
        if self._open is None:
            try:
                self._open = list(self.store.list(OPEN_STATUSES)) if self.store is not None else []
            except Exception:
                log.exception("open incidents could not be read; inhibiting nothing")
                self._open = []
        return self._open

    def opened(self, incident: Incident) -> None:
        """An incident opened during this batch: it inhibits the batch's later alerts too."""
        if self._open is not None and all(i.id != incident.id for i in self._open):
            self._open.append(incident)

    def closed(self, incident: Incident) -> None:
        """An incident resolved during this batch: it no longer inhibits the batch's later alerts."""
        if self._open is not None:
            self._open = [i for i in self._open if i.id != incident.id]

    def flap_state(self, check: str) -> FlapState | None:
        if check not in self._flaps:
            try:
                self._flaps[check] = self.flaps.get(check) if self.flaps is not None else None
            except Exception:
                log.exception("flap state of %s could not be read; treating it as not flapping", check)
                self._flaps[check] = None
        return self._flaps[check]

    # -- flapping
    def record_flap(self, check: Check, at: datetime) -> FlapState | None:
        """Record a state change of ``check`` at ``at`` (conditional, re-read on a lost race); the
        new state when this very change made the check flap (the one "flapping" notice), else None."""
        if check.flapping is None or self.flaps is None:
            return None
        for _ in range(MAX_FLAP_WRITES):
            recorded = record_change(self.flaps.get(check.name), check.name, at, check.flapping)
            if recorded is None:  # already recorded: a duplicate delivery
                return None
            if self.flaps.put(recorded.state, quiet_at=recorded.state.quiet_at(check.flapping)):
                self._flaps[check.name] = recorded.state
                return recorded.state if recorded.entered else None
        log.warning("flap state of %s kept changing under us; change at %s not counted", check.name, at)
        return None

    def leave_flapping(self, state: FlapState) -> bool:
        """The check has been quiet for a whole window: it leaves flapping (one writer wins)."""
        if self.flaps is None:
            return False
        after = left(state)
        if not self.flaps.put(after, quiet_at=None):
            return False
        self._flaps[state.check] = after
        return True

    def notice_channels(
        self, labels: Mapping[str, str], resolve: Callable[[Iterable[str]], Iterable[str]]
    ) -> list[str]:
        """The route's channels a flapping notice goes to (``resolve``: targets -> channel names)."""
        channels = resolve(match_routes(self.config.routes, labels).channels)
        return [
            c
            for c in channels
            if (channel := self.config.channels.get(c)) is not None and channel.type in NOTICE_CHANNEL_TYPES
        ]


def flapping_alert(alert: Alert, state: FlapState, check: Check) -> Alert:
    """The alert the "flapping" notice shows: the change that made it flap, saying why."""
    assert check.flapping is not None
    return replace(alert, state=AlertState.ALARM, reason=describe(state, check.flapping))


def stable_alert(check: Check, now: datetime, current: str) -> Alert:
    """The alert the "stable again" notice shows (in OK), with the check's current state and
    labels (so it takes the check's route)."""
    assert check.flapping is not None
    window = duration_text(check.flapping.window_s)
    return Alert(
        AlertSource.CLOUDWATCH,
        f"flapping:{check.name}",
        check.name,
        AlertState.OK,
        f"check {check.name} has not changed state for {window}: it is {current}; "
        "opens and resolves page again",
        now,
        {"check": check.name, **check.labels},
    )
