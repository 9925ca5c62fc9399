"""Automatic redelivery under random fault schedules: whatever each channel does (fail, recover,
fail again; 503, 429 with Retry-After, timeouts) and whenever the incident resolves, no channel
ever gets a resolve without its trigger, nor a trigger (or a resolve) twice; and once the faults
are over, every channel that got the trigger gets the resolve, and a trigger still owed is
delivered while the incident is open. The same holds when a channel hears of the incident only from
an escalation step (its page an ESCALATION instead of a TRIGGER)."""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from redelivery_world import CHANNEL_TYPES, CONFIG, STEPS_CONFIG, T0, World
from uptime_relay.notifiers.base import DeliveryError, NotificationKind

TRIGGER, RESOLVE = NotificationKind.TRIGGER, NotificationKind.RESOLVE
ESCALATION = NotificationKind.ESCALATION
END_MIN = 150  # simulated minutes per run: faults end by 60, backoff is capped at 15

failure = st.sampled_from(
    [
        ("503", False, 503, None),
        ("429", False, 429, 1.0),
        ("429 long", False, 429, 400.0),
        ("timed out", False, None, None),
    ]
)
window = st.tuples(st.integers(0, 45), st.integers(1, 15), failure)  # start, minutes, how
schedule = st.lists(window, max_size=3)  # fail, recover, fail …


def fault_from(windows):
    def fault(at):
        minute = (at - T0).total_seconds() / 60
        for start, length, (message, permanent, status, retry_after) in windows:
            if start <= minute < start + length:
                return DeliveryError(message, permanent=permanent, status=status, retry_after=retry_after)
        return None

    return fault


@settings(
    max_examples=int(os.environ.get("REDELIVERY_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    faults=st.fixed_dictionaries({channel: schedule for channel in CHANNEL_TYPES}),
    resolve_at=st.one_of(st.none(), st.integers(0, 70)),
    resolve_mid_send=st.booleans(),
    steps=st.booleans(),
)
@example(  # the outage covers the opening; the incident resolves while Slack still fails
    faults={"slack-critical": [(0, 8, ("503", False, 503, None))], "pd-primary": [], "oncall-email": []},
    resolve_at=5,
    resolve_mid_send=False,
    steps=False,
)
@example(  # the trigger is redelivered while the incident resolves
    faults={"slack-critical": [(0, 1, ("503", False, 503, None))], "pd-primary": [], "oncall-email": []},
    resolve_at=1,
    resolve_mid_send=True,
    steps=False,
)
@example(  # Slack's step page fails at 2m; the incident resolves while it still fails
    faults={"slack-critical": [(0, 10, ("503", False, 503, None))], "pd-primary": [], "oncall-email": []},
    resolve_at=6,
    resolve_mid_send=False,
    steps=True,
)
@example(  # Slack's step page is redelivered while the incident resolves
    faults={"slack-critical": [(0, 3, ("503", False, 503, None))], "pd-primary": [], "oncall-email": []},
    resolve_at=3,
    resolve_mid_send=True,
    steps=True,
)
@example(  # Slack's step page goes out at its first attempt while the incident resolves
    faults={"slack-critical": [], "pd-primary": [], "oncall-email": []},
    resolve_at=2,
    resolve_mid_send=True,
    steps=True,
)
def test_no_resolve_without_its_trigger_and_no_trigger_twice(faults, resolve_at, resolve_mid_send, steps):
    """GIVEN random fault schedules per channel and a random resolve time (at a minute boundary,
    or in the middle of a redelivery) WHEN the minute sweeps run THEN per channel: at most one
    trigger, at most one resolve, never a resolve before the trigger; eventually the resolve for
    every delivered trigger; nothing on the dead-letter queue. With ``steps``, Slack's "trigger"
    is its escalation step's page (due 2 minutes after the opening)."""
    world = World(
        {channel: fault_from(windows) for channel, windows in faults.items()},
        config=STEPS_CONFIG if steps else CONFIG,
    )
    incident = world.open()
    resolved = [False]

    def resolve():
        if not resolved[0]:
            resolved[0] = True
            world.resolve()

    def at_minute():
        minute = int((world.now - T0).total_seconds() // 60)
        if resolve_at is not None and minute == resolve_at:
            if resolve_mid_send:
                for notifier in world.notifiers.values():
                    notifier.during_send = resolve
            else:
                resolve()

    if resolve_at == 0:
        resolve()
    world.run_until(T0 + timedelta(minutes=END_MIN), at_minute=at_minute)
    if resolve_at is not None:
        resolve()  # a mid-send resolve with nothing sent that minute
        world.run_until(T0 + timedelta(minutes=END_MIN + 30))

    for channel in CHANNEL_TYPES:
        kinds = world.received(channel, incident)
        page = ESCALATION if steps and channel == "slack-critical" else TRIGGER
        assert set(kinds) <= {page, RESOLVE}, (channel, kinds)
        assert kinds.count(page) <= 1, (channel, kinds)
        assert kinds.count(RESOLVE) <= 1, (channel, kinds)
        if RESOLVE in kinds:
            assert page in kinds and kinds.index(page) < kinds.index(RESOLVE), (channel, kinds)
        if resolve_at is None:
            assert kinds == [page], (channel, kinds)  # open: the page gets through
        elif page in kinds:
            assert kinds == [page, RESOLVE], (channel, kinds)
    assert world.dead.records == []
    assert world.store.pending_sends(incident) == []
