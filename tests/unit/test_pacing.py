"""Paced channels: a burst to one destination queues at what it accepts (Slack ~1/s with short
bursts, PagerDuty 120 events/min per key), across invocations, instead of collecting 429s; a
send whose slot is past the invocation's time becomes a pending redelivery."""

from __future__ import annotations

import bisect
import random
from datetime import UTC, datetime, timedelta

from uptime_relay import clock
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.pacing import InMemoryPacer
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import Channel
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.pacing import PAGERDUTY, SLACK, Bucket, destination, reserve
from uptime_relay.escalator import sweep
from uptime_relay.notifiers.base import DeliveryError, NotificationKind
from uptime_relay.relay import Relay
from uptime_relay_tools.testing.fake_notifiers import FakeNotifier

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CONFIG = parse_config(
    """
storm: off  # every one of the 300 alarms pages on its own: this is about pacing them
channels:
  slack-critical: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd-primary: {type: pagerduty, routing_key: env:PD_KEY}
  oncall-email: {type: email, to: [oncall@example.com], from: alerts@example.com}
routes:
  - notify: [slack-critical, pd-primary, oncall-email]
"""
)
PACED = {"slack-critical": SLACK, "pd-primary": PAGERDUTY}


def test_a_burst_goes_out_at_once_then_one_a_second():
    bucket, waits = None, []
    for _ in range(6):
        bucket, wait = reserve(bucket, SLACK, T0, max_wait_s=60)
        waits.append(wait)
    assert waits == [0, 0, 0, 1, 2, 3]
    later, wait = reserve(bucket, SLACK, T0 + timedelta(seconds=10), max_wait_s=60)
    assert wait == 0 and later is not None


def test_a_slot_further_than_the_caller_can_wait_is_not_reserved():
    full = Bucket(-5, T0)
    assert reserve(full, SLACK, T0, max_wait_s=3) == (None, 6)
    assert reserve(full, SLACK, T0, max_wait_s=6)[0] == Bucket(-6, T0)


def test_a_bucket_written_by_an_invocation_whose_clock_is_ahead_is_not_overrun():
    ahead = Bucket(0.5, T0 + timedelta(seconds=2))
    bucket, wait = reserve(ahead, SLACK, T0, max_wait_s=10)
    assert wait == 2.5 and bucket == Bucket(-0.5, T0 + timedelta(seconds=2))


def test_destinations_are_per_webhook_and_per_routing_key_and_name_no_secret():
    one = Channel("a", "slack", {"webhook_url": "https://hooks.slack.com/services/T/B/secret"})
    same = Channel("b", "slack", {"webhook_url": "https://hooks.slack.com/services/T/B/secret"})
    other = Channel("c", "slack", {"webhook_url": "https://hooks.slack.com/services/T/C/other"})
    pd = Channel("p", "pagerduty", {"routing_key": "R0UTINGKEY"})
    assert destination(one)[0] == destination(same)[0] != destination(other)[0]
    assert destination(pd)[1] == PAGERDUTY and destination(one)[1] == SLACK
    assert "secret" not in destination(one)[0] and "R0UTING" not in destination(pd)[0]
    assert destination(Channel("e", "email", {"to": ["x@example.com"]})) is None


# --------------------------------------------------------------------------------------- load
class InvocationClock:
    """One invocation's simulated time: it starts when the invocation does and moves only when it
    waits (invocations overlap: each has its own)."""

    def __init__(self, start: datetime):
        self.start = self.at = start

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=max(0.0, seconds))


class FlakyDestination(FakeNotifier):
    """Fails 30% of requests (429 with Retry-After, 500, a timeout); records every request."""

    def __init__(self, type: str, rng: random.Random, requests: dict[str, list[datetime]]):
        super().__init__(type)
        self.rng, self.requests = rng, requests

    def send(self, channel, notification, secrets):
        self.requests.setdefault(channel.name, []).append(clock.now())
        if self.rng.random() < 0.3:
            raise self.rng.choice(
                [
                    DeliveryError(
                        "HTTP 429", permanent=False, status=429, retry_after=self.rng.choice([1, 2, 5])
                    ),
                    DeliveryError("HTTP 500", permanent=False, status=500),
                    DeliveryError("timed out", permanent=False),
                ]
            )
        return super().send(channel, notification, secrets)


def max_in_window(times: list[datetime], seconds: float) -> int:
    ordered = sorted(times)
    best = 0
    for i, start in enumerate(ordered):
        end = bisect.bisect_left(ordered, start + timedelta(seconds=seconds))
        best = max(best, end - i)
    return best


def test_300_alarms_in_a_minute_with_flaky_channels_page_everyone_once_within_the_pace():
    """GIVEN 300 alarms within one simulated minute, each its own relay invocation (overlapping,
    30 s each), and every channel failing 30% of requests (429 with Retry-After, 500, timeouts)
    WHEN the escalator sweeps every minute THEN every incident's trigger reaches every channel
    exactly once, nothing is on the dead-letter queue, and no destination gets more requests
    than its pace allows (burst + rate x window) in any window."""
    rng = random.Random(13)
    requests: dict[str, list[datetime]] = {}
    notifiers = {t: FlakyDestination(t, rng, requests) for t in ("slack", "pagerduty", "email")}
    store, dead = InMemoryIncidentStore(), InMemoryDeadLetters()
    dispatcher = Dispatcher(
        CONFIG, notifiers, StaticSecrets({"env:PD_KEY": "k"}), dead, pacer=InMemoryPacer(), rng=rng
    )
    relay = Relay(CONFIG, store, dispatcher)
    previous = clock.current()
    try:
        for i in range(300):
            arrival = T0 + timedelta(seconds=i * 0.2)
            invocation = InvocationClock(arrival)
            clock.install(invocation)
            dispatcher.time_left = lambda inv=invocation, a=arrival: 30 - (inv.now() - a).total_seconds()
            alert = Alert(
                AlertSource.CLOUDWATCH, f"alarm-{i}", f"check {i} down", AlertState.ALARM, "r", arrival
            )
            relay.handle([alert], arrival)
        minute = T0
        while store.redeliveries_due(minute + timedelta(days=1)) and minute < T0 + timedelta(hours=3):
            minute += timedelta(minutes=1)
            invocation = InvocationClock(minute)
            clock.install(invocation)
            dispatcher.time_left = lambda inv=invocation, m=minute: 55 - (inv.now() - m).total_seconds()
            sweep(CONFIG, store, dispatcher, minute)
    finally:
        clock.install(previous)

    incidents = store.list()
    assert len(incidents) == 300
    for name, type_ in (("slack-critical", "slack"), ("pd-primary", "pagerduty"), ("oncall-email", "email")):
        triggers = [
            n.incident_id
            for c, n in notifiers[type_].sent
            if c == name and n.kind is NotificationKind.TRIGGER
        ]
        assert sorted(triggers) == sorted(i.id for i in incidents), name  # every one, exactly once
    assert dead.records == []
    for name, pace in PACED.items():
        for window in (1, 10, 60):
            allowed = pace.burst + pace.rate_per_s * window
            assert max_in_window(requests[name], window) <= allowed, (name, window)
    assert minute < T0 + timedelta(minutes=40)  # the backlog drains at the pace, not in hours
