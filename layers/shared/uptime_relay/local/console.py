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
