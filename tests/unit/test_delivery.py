"""Dispatcher: retries honour Retry-After, permanent failures are not retried, nothing is lost."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from uptime_relay import metricnames
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher, notification_from_dict, notification_to_dict
from uptime_relay.domain.alert import Alert, AlertSource, AlertState, Link
from uptime_relay.notifiers.base import DeliveryError, Notification, NotificationKind
from uptime_relay_tools.testing.fake_notifiers import FakeNotifier

CONFIG = parse_config(
    """
checks:
  - name: api
    url: https://api.example.com/health
channels:
  pd-primary: {type: pagerduty, routing_key: env:PD_KEY}
  slack-critical: {type: slack, webhook_url: https://hooks.example.invalid/x}
routes:
  - notify: [pd-primary]
"""
)
T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
ALERT = Alert(
    source=AlertSource.CLOUDWATCH,
    id="arn:alarm:api",
    name="api down",
    state=AlertState.ALARM,
    reason="2 of 3",
    time=T0,
    labels={"check": "api"},
    links=(Link("https://x", "graph"),),
)
NOTE = Notification(
    NotificationKind.TRIGGER,
    (ALERT,),
    incident_id="inc-1",
    opened_at=T0,
    check=CONFIG.check("api"),
    mentions=("U1",),
)


def transient(retry_after=None, status=429):
    return DeliveryError(f"HTTP {status}", permanent=False, retry_after=retry_after, status=status)


@pytest.fixture
def world():
    sleeps: list[float] = []
    metrics: list[str] = []
    pd = FakeNotifier("pagerduty")
    dlq = InMemoryDeadLetters()
    dispatcher = Dispatcher(
        CONFIG,
        {"pagerduty": pd, "slack": FakeNotifier("slack")},
        StaticSecrets({"env:PD_KEY": "k"}),
        dlq,
        sleep=sleeps.append,
        metrics=lambda name, value=1: metrics.append(name),
        rng=random.Random(1),
    )
    return dispatcher, pd, dlq, sleeps, metrics


def test_a_429_with_retry_after_is_retried_after_exactly_that_long(world):
    dispatcher, pd, dlq, sleeps, metrics = world
    pd.fail_next(transient(retry_after=7), transient(retry_after=2))
    outcome = dispatcher.deliver("pd-primary", NOTE)
    assert outcome.ok and outcome.attempts == 3 and not outcome.dead_lettered
    assert sleeps == [7, 2]
    assert len(pd.sent) == 1 and len(dlq) == 0
    assert metrics == [
        metricnames.DELIVERY_FAILURES,
        metricnames.DELIVERY_FAILURES,
        metricnames.NOTIFICATIONS_SENT,
    ]


def test_transient_failures_back_off_exponentially_with_jitter_then_dead_letter(world):
    dispatcher, pd, dlq, sleeps, metrics = world
    pd.fail_next(*(transient(status=503) for _ in range(4)))
    outcome = dispatcher.deliver("pd-primary", NOTE)
    assert not outcome.ok and outcome.dead_lettered and outcome.attempts == 4
    assert len(sleeps) == 3
    for n, slept in enumerate(sleeps):
        assert 0.5 * 2**n <= slept <= 2**n
    [record] = dlq.records
    assert record["channel"] == "pd-primary" and record["attempts"] == 4 and record["incident_id"] == "inc-1"
    assert "gave up after 4 attempts" in record["error"]
    assert metrics[-1] == metricnames.DELIVERIES_DEAD_LETTERED


def test_a_permanent_failure_is_not_retried_and_is_dead_lettered(world):
    dispatcher, pd, dlq, sleeps, _ = world
    pd.fail_next(DeliveryError("HTTP 400 invalid routing key", permanent=True, status=400))
    outcome = dispatcher.deliver("pd-primary", NOTE)
    assert outcome.dead_lettered and outcome.permanent and outcome.attempts == 1 and sleeps == []
    assert dlq.records[0]["status"] == 400 and dlq.records[0]["permanent"] is True


def test_a_retry_after_longer_than_max_wait_is_not_cut_short(world):
    dispatcher, pd, _dlq, sleeps, _ = world
    pd.fail_next(transient(retry_after=120))
    outcome = dispatcher.deliver("pd-primary", NOTE)
    assert outcome.dead_lettered and sleeps == [] and "more than max_wait_s" in outcome.error
    assert len(pd.attempts) == 1


def test_the_total_budget_bounds_the_waiting(world):
    dispatcher, pd, _dlq, sleeps, _ = world
    dispatcher.total_budget_s = 10
    pd.fail_next(transient(retry_after=6), transient(retry_after=6))
    outcome = dispatcher.deliver("pd-primary", NOTE)
    assert outcome.dead_lettered and sleeps == [6] and "budget" in outcome.error


def test_an_unknown_channel_is_dead_lettered_with_a_clear_error(world):
    dispatcher, _, dlq, _, _ = world
    outcome = dispatcher.deliver("pd-secondary", NOTE)
    assert outcome.dead_lettered and "unknown channel 'pd-secondary'" in outcome.error
    assert dlq.records[0]["channel"] == "pd-secondary"


def test_an_unexpected_exception_never_escapes(world):
    dispatcher, pd, _dlq, _, _ = world
    pd.fail_next(RuntimeError("boom"))
    outcome = dispatcher.deliver("pd-primary", NOTE)
    assert outcome.dead_lettered and "RuntimeError" in outcome.error


def test_a_broken_dead_letter_queue_is_reported_not_raised(world):
    dispatcher, pd, _, _, _ = world

    class Broken:
        def put(self, record):
            raise ConnectionError("sqs down")

    dispatcher.dead_letters = Broken()
    pd.fail_next(DeliveryError("bad", permanent=True))
    outcome = dispatcher.deliver("pd-primary", NOTE)
    assert not outcome.ok and not outcome.dead_lettered and "dead-letter queue unavailable" in outcome.error


def test_a_dead_letter_record_replays_the_same_notification(world):
    dispatcher, pd, dlq, _, _ = world
    pd.fail_next(DeliveryError("bad", permanent=True))
    dispatcher.deliver("pd-primary", NOTE)
    restored = notification_from_dict(dlq.records[0]["notification"], CONFIG)
    assert restored == NOTE
    assert notification_to_dict(restored) == dlq.records[0]["notification"]


def test_it_dead_letters_rather_than_wait_past_the_end_of_the_invocation(world):
    dispatcher, pd, dlq, sleeps, _ = world
    dispatcher.time_left = lambda: 12.0
    pd.fail_next(transient(retry_after=5))
    outcome = dispatcher.deliver("pd-primary", NOTE)
    assert outcome.dead_lettered and sleeps == [] and "no time left" in outcome.error
    assert len(dlq) == 1
