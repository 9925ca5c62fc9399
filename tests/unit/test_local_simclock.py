"""The simulated clock: minutes compressed into real seconds, for handlers and timers alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay import clock
from uptime_relay_tools.local.simclock import SimulatedClock

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def test_one_real_second_is_thirty_simulated_seconds_at_two_seconds_a_minute():
    fake = FakeTime()
    sim = SimulatedClock(START, 2.0, monotonic=fake.monotonic, real_sleep=fake.sleep)
    assert sim.now() == START
    fake.t += 1.0
    assert sim.now() == START + timedelta(seconds=30)


def test_sleeping_ten_simulated_minutes_waits_twenty_real_seconds():
    fake = FakeTime()
    sim = SimulatedClock(START, 2.0, monotonic=fake.monotonic, real_sleep=fake.sleep)
    sim.sleep(600)
    assert fake.slept == [20.0]
    assert sim.now() == START + timedelta(minutes=10)
    assert sim.label() == "00:10"


def test_sleep_until_a_past_time_returns_at_once():
    fake = FakeTime()
    sim = SimulatedClock(START, 0.5, monotonic=fake.monotonic, real_sleep=fake.sleep)
    assert sim.sleep_until(START - timedelta(minutes=1)) is True
    assert fake.slept == []


def test_installed_it_is_the_clock_handlers_read():
    sim = SimulatedClock(START, 60.0)
    previous = clock.install(sim)
    try:
        assert clock.now() - START < timedelta(seconds=5)
        assert clock.current() is sim
    finally:
        clock.install(previous)


def test_it_refuses_a_naive_start_or_a_zero_minute():
    with pytest.raises(ValueError, match="aware"):
        SimulatedClock(datetime(2026, 1, 1), 1.0)
    with pytest.raises(ValueError, match="positive"):
        SimulatedClock(START, 0)


def test_a_frozen_clock_stands_still_while_handlers_run_and_resumes_where_it_stood():
    fake = FakeTime()
    sim = SimulatedClock(START, 2.0, monotonic=fake.monotonic, real_sleep=fake.sleep)
    fake.t += 2.0  # one simulated minute
    with sim.frozen():
        fake.t += 10.0  # a slow cold start: five real-time minutes' worth
        assert sim.now() == START + timedelta(minutes=1)
        sim.sleep(30)  # the dispatcher's backoff still advances simulated time
        assert sim.now() == START + timedelta(minutes=1, seconds=30)
    assert sim.now() == START + timedelta(minutes=1, seconds=30)
    fake.t += 1.0
    assert sim.now() == START + timedelta(minutes=2)
