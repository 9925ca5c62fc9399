"""Flapping: a check whose alarm changes state too often stops paging until it settles (pure).

A check with ``flapping: {window: 1h, threshold: 4}`` keeps its recent state changes (the times
of the ALARM and OK transitions that opened or resolved an incident) in one ``FlapState``, written
conditionally on its version. When ``threshold`` changes fall within ``window`` it *enters*
flapping (once: the write that flips ``flapping`` wins): one "flapping" notification goes out,
and from then on opens and resolves are recorded, not paged (``domain.mute``). It *leaves*
flapping after a whole ``window`` without a change (``quiet_at``; the escalation sweep finds it
through the due index), and then one notification gives the check's current state.

Changes are ordered by the alarm's own time, so a late or repeated delivery counts once and in
its place; only the newest ``threshold`` changes are kept (the item stays small).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..config import Flapping


@dataclass(frozen=True)
class FlapState:
    check: str
    changes: tuple[datetime, ...] = ()  # newest last; at most the threshold's number
    flapping: bool = False
    since: datetime | None = None  # when it entered flapping
    version: int = 0  # 0: not stored yet

    def last_change(self) -> datetime | None:
        return self.changes[-1] if self.changes else None

    def quiet_at(self, setting: Flapping) -> datetime | None:
        """When it leaves flapping unless it changes again (None while not flapping)."""
        last = self.last_change()
        if not self.flapping or last is None:
            return None
        return last + timedelta(seconds=setting.window_s)


@dataclass(frozen=True)
class Recorded:
    state: FlapState  # to write (version = previous + 1)
    entered: bool  # this change made it flap: send the one "flapping" notification


def record_change(state: FlapState | None, check: str, at: datetime, setting: Flapping) -> Recorded | None:
    """A state change at ``at``; None when it is already recorded (a duplicate delivery)."""
    current = state or FlapState(check)
    if at in current.changes:
        return None
    changes = tuple(sorted((*current.changes, at)))[-setting.threshold :]
    window = timedelta(seconds=setting.window_s)
    flaps = len(changes) >= setting.threshold and changes[-1] - changes[0] <= window
    entered = flaps and not current.flapping
    return Recorded(
        replace(
            current,
            changes=changes,
            flapping=current.flapping or flaps,
            since=changes[-1] if entered else current.since,
            version=current.version + 1,
        ),
        entered,
    )


def is_quiet(state: FlapState, setting: Flapping, now: datetime) -> bool:
    """Flapping, and a whole window has passed without a change: it leaves flapping now."""
    quiet_at = state.quiet_at(setting)
    return quiet_at is not None and quiet_at <= now


def left(state: FlapState) -> FlapState:
    """The state once it left flapping (history kept: a new burst is counted with it)."""
    return replace(state, flapping=False, since=None, version=state.version + 1)


def describe(state: FlapState, setting: Flapping) -> str:
    """Why opens and resolves are not paged, for timelines and the "flapping" notification."""
    window = duration_text(setting.window_s)
    return (
        f"check {state.check} is flapping: {setting.threshold} state changes within {window}; "
        f"opens and resolves are recorded, not paged, until it has not changed for {window}"
    )


def duration_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
