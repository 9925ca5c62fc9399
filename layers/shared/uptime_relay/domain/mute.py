"""Mute stages before the send pipeline: why an incident's first page is held (pure).

An incident opened *muted* is recorded with its first page held (``Incident.silenced`` with its
sends ``pending``; see ``domain.incident.open_incident``), escalation does not run, and the
escalation sweep looks again every minute: once nothing mutes it and it is still open, its first
page goes out once (``domain.sweep``). The stages, in the order they are asked:

- ``silenced``  a one-off silence or maintenance window covers it (``domain.silence``);
- ``flapping``  its check is flapping (``domain.flapping``): opens and resolves are recorded;
- ``inhibited`` an open incident inhibits it (``domain.inhibition``);
- ``held``      it is a target of an inhibit rule and no source is open *yet*: its first page
                waits for the next sweep, so a source whose alarm arrives a little later (or in
                another invocation) still inhibits it: the order of arrival does not matter.

Each leaves a timeline entry of its kind ("silenced", "flapping", "inhibited", "held") when it
starts, and ``released_entry`` says which one ended when the page finally goes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .incident import Incident, TimelineEntry

SILENCED, FLAPPING, INHIBITED, HELD = "silenced", "flapping", "inhibited", "held"
KINDS = (SILENCED, FLAPPING, INHIBITED, HELD)

_OVER = {
    SILENCED: "silence over",
    FLAPPING: "no longer flapping",
    INHIBITED: "no inhibiting incident open any more",
    HELD: "no inhibiting incident arrived",
}


@dataclass(frozen=True)
class Mute:
    kind: str  # one of KINDS
    why: str  # a sentence for the timeline and the logs

    def entry(self, at: datetime) -> TimelineEntry:
        """The timeline entry of this mute starting (its kind is the mute's)."""
        return TimelineEntry(at, self.kind, f"{self.why}; first page held until it ends")


def last_mute(incident: Incident) -> TimelineEntry | None:
    """The newest mute entry on the incident's timeline."""
    return next((e for e in reversed(incident.timeline) if e.kind in KINDS), None)


def changed(incident: Incident, mute: Mute, at: datetime) -> TimelineEntry | None:
    """The entry to note when a held incident is now muted for another reason (e.g. it waited as
    an inhibit target, and now a source is open: "inhibited by db …"); None when already noted."""
    entry = mute.entry(at)
    last = last_mute(incident)
    if last is not None and last.kind == entry.kind and last.detail == entry.detail:
        return None
    return entry


def released_entry(incident: Incident, at: datetime) -> TimelineEntry:
    """The entry of a held first page going out: what ended, and what happens now."""
    last = last_mute(incident)
    over = _OVER.get(last.kind if last is not None else SILENCED, _OVER[SILENCED])
    kind = "unsilenced" if last is None or last.kind == SILENCED else "released"
    then = "sending the first page" if incident.pending else "escalation starts now"
    return TimelineEntry(at, kind, f"{over} and the alarm still open: {then}")
