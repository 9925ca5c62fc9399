"""The local stack's Lambda context: an invocation's time budget is real seconds, as in Lambda."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from uptime_relay import clock
from uptime_relay_tools.local.functions import LambdaContext
from uptime_relay_tools.local.simclock import SimulatedClock

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def fast_clock(fake: FakeTime) -> SimulatedClock:
    """``--minute-seconds 1.5``: simulated time runs 40x faster than real time."""
    return SimulatedClock(START, 1.5, monotonic=fake.monotonic, real_sleep=fake.sleep)


def test_a_15s_function_under_a_40x_clock_still_has_its_15_real_seconds():
    """GIVEN the local stack's clock running 40x fast (installed for the run, as the runner does)
    WHEN an invocation of a 15 s function has taken half a real second (20 simulated seconds)
    THEN it has 14.5 s left, not none: its budget is Lambda's, in real seconds."""
    fake = FakeTime()
    previous = clock.install(fast_clock(fake))
    try:
        context = LambdaContext("uptime-relay-actions", timeout_s=15.0)
        fake.t += 0.5
        assert context.get_remaining_time_in_millis() == 14_500
        fake.t += 15.0
        assert context.get_remaining_time_in_millis() == 0
    finally:
        clock.install(previous)


def test_a_frozen_tick_does_not_stop_the_budget():
    """GIVEN a tick of the local stack, with simulated time standing still
    WHEN its handler works for 2 real seconds
    THEN 2 s of its budget are gone (a frozen simulation does not give it more time than Lambda)."""
    fake = FakeTime()
    sim = fast_clock(fake)
    with sim.frozen():
        context = LambdaContext("uptime-relay-escalator", timeout_s=55.0, clock=sim)
        fake.t += 2.0
        assert context.get_remaining_time_in_millis() == 53_000


def test_a_retry_wait_costs_what_it_would_in_lambda():
    """GIVEN an invocation under the fast clock
    WHEN its handler waits out a Retry-After of 5 s (which takes 1/8 s of real time at 40x)
    THEN 5 s of its budget are spent, as in Lambda, so the local stack gives up on a wait exactly
    when Lambda would."""
    fake = FakeTime()
    sim = fast_clock(fake)
    context = LambdaContext("uptime-relay-actions", timeout_s=15.0, clock=sim)
    sim.sleep(5)
    assert fake.t == 100.125
    assert context.get_remaining_time_in_millis() == 10_000


def test_another_invocations_waits_do_not_cost_this_one_time():
    """GIVEN two invocations served at once by the local stack (two HTTP requests)
    WHEN one of them waits 10 s
    THEN the other's budget only loses the real time that passed."""
    fake = FakeTime()
    sim = fast_clock(fake)
    context = LambdaContext("uptime-relay-actions", timeout_s=15.0, clock=sim)
    other = threading.Thread(target=sim.sleep, args=(10,))
    other.start()
    other.join()
    assert context.get_remaining_time_in_millis() == 15_000 - 250
