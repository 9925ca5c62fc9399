"""A clock that runs faster than real time, for ``uptime-relay local --minute-seconds S``.

One simulated minute lasts ``minute_seconds`` real seconds: ``now()`` advances at ``60 /
minute_seconds`` times real speed and ``sleep(s)`` waits ``s * minute_seconds / 60`` real seconds.

The runner freezes the clock while a tick's handlers run (``with clock.frozen():``): simulated time
then stands still except for what ``sleep`` adds, so work that takes real time (a cold handler
start, a moto call) does not make the simulation skip minutes, and a run is deterministic in
simulated time on a slow machine too.

Installed with ``uptime_relay.clock.install`` for the run, so the handlers, the dispatcher's retry
backoff and the escalation timers all follow it while the code stays the code that runs in Lambda.

A Lambda time budget is not simulated time: ``uptime_relay_tools.local.functions.LambdaContext``
counts an invocation's remaining time in real seconds, as Lambda does, and charges each ``sleep``
at the length the handler asked for (``wait_surplus``), since that wait would take that long in
Lambda.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta


def floor_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


class SimulatedClock:
    """Simulated UTC time starting at ``start`` (aware) when the object is created."""

    def __init__(
        self,
        start: datetime | None = None,
        minute_seconds: float = 60.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        real_sleep: Callable[[float], None] = time.sleep,
    ):
        if minute_seconds <= 0:
            raise ValueError(f"minute_seconds must be positive, got {minute_seconds!r}")
        start = start if start is not None else floor_minute(datetime.now(UTC))
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs an aware start time (UTC)")
        self.start = start.astimezone(UTC)
        self.minute_seconds = float(minute_seconds)
        self._monotonic = monotonic
        self._real_sleep = real_sleep
        self._t0 = monotonic()
        self._lock = threading.RLock()
        self._frozen_at: datetime | None = None
        self._freeze_depth = 0
        self._surplus: dict[int, float] = {}  # thread id -> simulated seconds slept beyond real ones

    def restart(self, start: datetime | None = None) -> None:
        """Start over at ``start`` (default: the original start) from this real moment."""
        with self._lock:
            if start is not None:
                self.start = start.astimezone(UTC)
            self._t0 = self._monotonic()
            if self._frozen_at is not None:
                self._frozen_at = self.start

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return 60.0 / self.minute_seconds

    def now(self) -> datetime:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            elapsed = self._monotonic() - self._t0
        return self.start + timedelta(seconds=elapsed * self.speed)

    def freeze(self) -> None:
        with self._lock:
            if self._freeze_depth == 0:
                self._frozen_at = self.now()
            self._freeze_depth += 1

    def thaw(self) -> None:
        """Let time run again from where it stood (and from what sleeps added meanwhile)."""
        with self._lock:
            if self._freeze_depth == 0:
                return
            self._freeze_depth -= 1
            if self._freeze_depth == 0 and self._frozen_at is not None:
                spent = (self._frozen_at - self.start).total_seconds() / self.speed
                self._t0 = self._monotonic() - spent
                self._frozen_at = None

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        self.freeze()
        try:
            yield
        finally:
            self.thaw()

    def real_seconds(self, simulated_seconds: float) -> float:
        return simulated_seconds / self.speed

    def real_time(self) -> float:
        """The real (monotonic) clock this simulation runs against, in seconds."""
        return self._monotonic()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated time."""
        if seconds <= 0:
            return
        real = self.real_seconds(seconds)
        thread = threading.get_ident()
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += timedelta(seconds=seconds)
            self._surplus[thread] = self._surplus.get(thread, 0.0) + seconds - real
        self._real_sleep(real)

    def wait_surplus(self, thread: int | None = None) -> float:
        """Seconds the ``sleep`` calls of ``thread`` (default: this one) stood for beyond the real
        seconds they took, in total: what a wait costs in Lambda but not on this faster clock."""
        with self._lock:
            return self._surplus.get(threading.get_ident() if thread is None else thread, 0.0)

    def sleep_until(self, at: datetime, *, stop: threading.Event | None = None) -> bool:
        """Wait until simulated time reaches ``at``. Returns False if ``stop`` was set meanwhile."""
        remaining = (at - self.now()).total_seconds()
        if remaining <= 0:
            return not (stop and stop.is_set())
        if stop is None:
            self.sleep(remaining)
            return True
        return not stop.wait(self.real_seconds(remaining))

    def wait_until(self, at: datetime, *, poll_s: float = 0.02) -> None:
        """Wait, in short real sleeps, until simulated time reaches ``at``, without moving it
        (unlike ``sleep``, which a frozen tick's own thread uses to step its time forward): what a
        background thread (a fast probe shard between its rounds) does while ticks freeze and thaw."""
        while True:
            remaining = (at - self.now()).total_seconds()
            if remaining <= 0:
                return
            self._real_sleep(min(self.real_seconds(remaining), poll_s))

    def elapsed(self) -> timedelta:
        return self.now() - self.start

    def label(self, at: datetime | None = None) -> str:
        """``HH:MM`` of simulated time since the start (the console timeline's time column)."""
        minutes = max(0, int(((at or self.now()) - self.start).total_seconds()) // 60)
        hours, mins = divmod(minutes, 60)
        return f"{hours:02d}:{mins:02d}"
