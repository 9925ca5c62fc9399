"""The one source of "now" for handlers and adapters.

The domain never reads a clock: time is passed in. Handlers and adapters ask ``now()`` here, which
is the real UTC clock in Lambda and the simulated clock under ``uptime-relay local`` (installed with
``install``), so a ten-minute incident can play out in twenty seconds with the same handler code.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC now."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


_current: Clock = SystemClock()


def install(clock: Clock) -> Clock:
    """Make ``clock`` the process clock; returns the previous one (to restore it)."""
    global _current
    previous, _current = _current, clock
    return previous


def current() -> Clock:
    return _current


def now() -> datetime:
    return _current.now()


def real_seconds(seconds: float) -> float:
    """Real seconds that ``seconds`` of the process clock last (the same in Lambda; fewer under a
    faster simulated clock): what timeouts and deadlines measured with ``time.monotonic`` use."""
    convert = getattr(_current, "real_seconds", None)
    return float(convert(seconds)) if callable(convert) else float(seconds)


def wait_until(at: datetime) -> None:
    """Wait until the process clock reads ``at`` (at once when it has passed). A clock may bring
    its own ``wait_until`` (the local stack's simulated clock waits without moving its time)."""
    own = getattr(_current, "wait_until", None)
    if callable(own):
        own(at)
        return
    remaining = (at - _current.now()).total_seconds()
    if remaining > 0:
        _current.sleep(remaining)
