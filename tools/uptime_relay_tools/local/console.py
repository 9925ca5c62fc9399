"""The local stack's console: one line per event, prefixed with the simulated time since the start.

``00:03 probe shop FAIL status_mismatch (503)`` / ``00:04 ALARM shop -> incident … opened`` /
``00:04 slack-critical trigger delivered`` / ``00:06 escalated step 2 -> pd-primary``.
Lines are also kept in ``lines`` (tests and the demo's summary read them).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from uptime_relay.domain.mute import KINDS as MUTE_KINDS


class Timeline:
    def __init__(
        self,
        label: Callable[[], str],
        out: Callable[[str], Any] | TextIO | None = None,
        *,
        quiet: bool = False,
    ):
        self._label = label
        if out is None:
            stream = sys.stdout  # bound now: handlers' captured stdout never swallows the timeline
            self._write: Callable[[str], Any] = lambda text: (stream.write(text + "\n"), stream.flush())
        elif callable(out):
            self._write = out
        else:
            stream_out = out
            self._write = lambda text: (stream_out.write(text + "\n"), stream_out.flush())
        self.quiet = quiet
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def say(self, text: str, raw: bool = False) -> None:
        line = text if raw else f"{self._label()} {text}"
        with self._lock:
            self.lines.append(line)
            if not self.quiet:
                self._write(line)

    __call__ = say

    def find(self, needle: str) -> list[str]:
        return [line for line in self.lines if needle in line]


# Incident timeline entries the console leaves out: the channel wrapper already printed the send or
# its failure, or the entry is the escalator's own bookkeeping (its claim on a step).
_UNSHOWN_KINDS = ("notified", "delivery_failed", "escalation_attempt")
_HELD_SUFFIX = "; first page held until it ends"


def incident_lines(incident: Any, entries: list[Any]) -> list[str]:
    """Console lines (without the time label) for new timeline ``entries`` of ``incident``.

    ``opened`` + ``silenced`` (a silenced opening, recorded together; likewise ``inhibited``,
    ``flapping`` and ``held``) make one line:
    ``incident NAME [ID] opened silenced (maintenance …): first page held``; ``unsilenced`` (the
    sweep saw the silence end) reads ``silence over: paging now``."""
    name, iid = incident.name, incident.id
    lines: list[str] = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        kind, detail = entry.kind, entry.detail or ""
        if kind == "notified" and "escalated to" in detail:
            lines.append(f"incident {name} escalated: {detail}")
            continue
        if kind in _UNSHOWN_KINDS:
            continue
        if kind == "opened" and index < len(entries) and entries[index].kind in MUTE_KINDS:
            mute = entries[index].kind
            why = (entries[index].detail or mute).removesuffix(_HELD_SUFFIX)
            index += 1
            held = any(getattr(incident, a, None) for a in ("pending", "policy", "route_channels"))
            then = "first page held" if held else "nobody to page"
            lines.append(f"incident {name} [{iid}] opened {mute} ({_clip(why)}): {then}")
            continue
        if kind == "unsilenced":
            now = "paging now" if detail.endswith("sending the first page") else "escalation starts now"
            lines.append(f"incident {name} [{iid}] silence over: {now}")
            continue
        channel = f" -> {entry.channel}" if entry.channel else ""
        text = f": {_clip(detail)}" if detail else ""
        lines.append(f"incident {name} [{iid}] {kind}{channel}{text}")
    return lines


def _clip(text: str, width: int = 140) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
