"""Heartbeat checks: is the job on time? Pure, time passed in.

A job pings ``/ping/<check>/<token>`` when it succeeds, ``…/fail`` when it fails and ``…/start``
when it starts. What is stored per check is the time of the latest ping of each kind
(:class:`HeartbeatRecord`); :func:`heartbeat_status` judges it at ``now``:

- the latest end of a run (success or fail) is a fail: **failed**, at once;
- a run started after the latest end and is older than ``grace``: **late** (it never finished);
- a started run still inside ``grace`` is **running**: up, even past the period;
- after a success, the next ping is due ``period`` later (or at the next ``cron`` fire after it,
  in the check's time zone, as Healthchecks does); past that plus ``grace``: **late**;
- never pinged: **new**, up (as Healthchecks: the first ping arms it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ..config import Heartbeat
from .silence import cron_fires, parse_cron

SUCCESS, FAIL, START = "success", "fail", "start"
KINDS = (SUCCESS, FAIL, START)
CRON_LOOKAHEAD = timedelta(days=400)  # a cron that fires less often than this is never due


@dataclass(frozen=True)
class HeartbeatRecord:
    """The latest ping of each kind (aware UTC datetimes; None: never)."""

    success_at: datetime | None = None
    fail_at: datetime | None = None
    start_at: datetime | None = None

    @property
    def last_ping(self) -> datetime | None:
        times = [t for t in (self.success_at, self.fail_at, self.start_at) if t is not None]
        return max(times) if times else None


@dataclass(frozen=True)
class HeartbeatStatus:
    """``state``: ok, new, running, late or failed; ``why`` says it in a sentence."""

    state: str
    why: str
    last_ping: datetime | None
    due_at: datetime | None = None

    @property
    def up(self) -> bool:
        return self.state in ("ok", "new", "running")

    @property
    def reason(self) -> str:
        """The probe result's reason: ok, heartbeat_late or heartbeat_failed."""
        return {"late": "heartbeat_late", "failed": "heartbeat_failed"}.get(self.state, "ok")


def heartbeat_status(beat: Heartbeat, record: HeartbeatRecord | None, now: datetime) -> HeartbeatStatus:
    record = record or HeartbeatRecord()
    grace = timedelta(seconds=beat.grace_s)
    last = record.last_ping
    ended = max((t for t in (record.success_at, record.fail_at) if t is not None), default=None)
    if record.fail_at is not None and ended == record.fail_at and not _started_after(record, ended):
        return HeartbeatStatus("failed", f"the job reported a failure at {when(record.fail_at, now)}", last)
    if record.start_at is not None and (ended is None or record.start_at > ended):
        deadline = record.start_at + grace
        if now > deadline:
            why = f"the run started at {when(record.start_at, now)} has not finished within the {_span(grace)} grace"
            return HeartbeatStatus("late", why, last, deadline)
        return HeartbeatStatus("running", f"a run started at {when(record.start_at, now)}", last, deadline)
    if record.success_at is None:
        return HeartbeatStatus("new", "waiting for the first ping", last)
    due = next_due(beat, record.success_at)
    if due is None:
        return HeartbeatStatus("ok", f"last ping {when(record.success_at, now)}", last)
    if now > due + grace:
        why = f"no ping since {when(record.success_at, now)} (expected {beat.describe()})"
        return HeartbeatStatus("late", why, last, due + grace)
    return HeartbeatStatus("ok", f"last ping {when(record.success_at, now)}", last, due + grace)


def _started_after(record: HeartbeatRecord, ended: datetime | None) -> bool:
    return record.start_at is not None and ended is not None and record.start_at > ended


def next_due(beat: Heartbeat, after: datetime) -> datetime | None:
    """When the ping after one at ``after`` is due: ``period`` later, or the next cron fire."""
    if beat.period_s is not None:
        return after + timedelta(seconds=beat.period_s)
    assert beat.cron is not None
    cron, zone = parse_cron(beat.cron), ZoneInfo(beat.timezone)
    start = after + timedelta(seconds=1)
    step = timedelta(days=7)
    while start < after + CRON_LOOKAHEAD:  # a week at a time: most crons fire within the first
        fires = cron_fires(cron, zone, start, start + step)
        if fires:
            return fires[0]
        start += step
    return None


def when(at: datetime, now: datetime) -> str:
    """``2026-12-03 17:04 UTC (2h 5m ago)``: how a page and a log line name a ping time."""
    at = at.astimezone(UTC)
    ago = now - at
    shown = at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{shown} ({_span(ago)} ago)" if ago >= timedelta(seconds=1) else shown


def _span(delta: timedelta) -> str:
    left = int(delta.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    if not parts:
        parts.append(f"{left}s")
    return " ".join(parts[:2])
