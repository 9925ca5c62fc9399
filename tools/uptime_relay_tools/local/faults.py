"""Faults on demand for the local stack, to watch retries, dead letters and idempotency at work.

- ``--fault CHANNEL:STATUS:DURATION[@START]`` makes a channel answer ``STATUS`` for ``DURATION`` of
  simulated time, from its first send (or from ``START`` after the run began). CHANNEL is a channel
  name or a channel type (``slack``, ``pagerduty``, ``email``). 429 carries ``Retry-After: 5`` (simulated seconds);
  408/425/429/5xx are transient (retried by the dispatcher), other statuses permanent.
  Examples: ``slack:429:3m``, ``pagerduty:500:2m``, ``oncall-email:550:10m@5m``.
- ``--duplicate-deliveries``: SNS delivers every alarm notification twice (same MessageId).
- ``--out-of-order``: SNS holds a notification back and delivers it after the next one.

Channel faults are injected by a wrapper around the channel's notifier (``LocalNotifier``): the
failed attempt never leaves the process, everything from the dispatcher up is the real code.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from uptime_relay.config import parse_duration

RETRY_AFTER_S = 5.0
TRANSIENT = frozenset({408, 425, 429})


class FaultSpecError(ValueError):
    pass


@dataclass
class ChannelFault:
    target: str  # channel name or channel type
    status: int
    duration: timedelta
    start: timedelta | None = None  # offset from the run start; None: from the first send
    began: datetime | None = None

    @property
    def transient(self) -> bool:
        return self.status in TRANSIENT or self.status >= 500

    def describe(self) -> str:
        when = f" from {_fmt(self.start)}" if self.start is not None else " from its first send"
        return f"{self.target} answers {self.status} for {_fmt(self.duration)}{when}"


def _fmt(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def parse_fault(spec: str) -> ChannelFault:
    """``slack:429:3m`` -> ChannelFault. Raises FaultSpecError naming what is wrong."""
    text = spec.strip()
    start = None
    if "@" in text:
        text, at = text.rsplit("@", 1)
        try:
            start = timedelta(seconds=parse_duration(at))
        except ValueError as exc:
            raise FaultSpecError(f"--fault {spec!r}: start {at!r}: {exc}") from None
    parts = text.split(":")
    if len(parts) != 3 or not parts[0]:
        raise FaultSpecError(f"--fault {spec!r}: expected CHANNEL:STATUS:DURATION, e.g. slack:429:3m")
    target, status_text, duration_text = parts
    if not status_text.isdigit() or not 100 <= int(status_text) <= 599:
        raise FaultSpecError(f"--fault {spec!r}: status {status_text!r} is not an HTTP status (100-599)")
    try:
        duration = timedelta(seconds=parse_duration(duration_text))
    except ValueError as exc:
        raise FaultSpecError(f"--fault {spec!r}: duration {duration_text!r}: {exc}") from None
    return ChannelFault(target=target, status=int(status_text), duration=duration, start=start)


@dataclass
class Faults:
    channel_faults: list[ChannelFault] = field(default_factory=list)
    duplicate_deliveries: bool = False
    out_of_order: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def parse(
        cls, specs: list[str] | None, *, duplicate_deliveries: bool = False, out_of_order: bool = False
    ) -> Faults:
        return cls([parse_fault(s) for s in specs or []], duplicate_deliveries, out_of_order)

    def active(
        self, channel: str, channel_type: str, now: datetime, run_start: datetime
    ) -> ChannelFault | None:
        """The fault hitting a send on ``channel`` at ``now``, if any (starts a first-send fault)."""
        with self._lock:
            for fault in self.channel_faults:
                if fault.target not in (channel, channel_type):
                    continue
                if fault.began is None:
                    fault.began = run_start + fault.start if fault.start is not None else now
                if fault.began <= now < fault.began + fault.duration:
                    return fault
        return None

    def describe(self) -> list[str]:
        lines = [f.describe() for f in self.channel_faults]
        if self.duplicate_deliveries:
            lines.append("SNS delivers every notification twice")
        if self.out_of_order:
            lines.append("SNS delivers notifications out of order")
        return lines

    @property
    def any(self) -> bool:
        return bool(self.channel_faults or self.duplicate_deliveries or self.out_of_order)
