"""Flapping over the relay and its sweep (in-memory stores, fake channels).

GIVEN a check with ``flapping: {window: 10m, threshold: 4}`` WHEN its alarm flips every 2 minutes
THEN one "flapping" notice goes out when the 4th change falls within 10 minutes, later opens and
resolves are recorded and page nobody, and after 10 quiet minutes one notice gives its state.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from noise_world import World, minute
from uptime_relay.adapters.flapping import InMemoryFlaps
from uptime_relay.config import Flapping
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.alert import AlertState
from uptime_relay.domain.flapping import FlapState, is_quiet, record_change
from uptime_relay.notifiers.base import NotificationKind

CONFIG_TEXT = """
checks:
  - name: api
    url: http://127.0.0.1:9/api
    labels: {severity: critical}
    flapping: {window: 10m, threshold: 4}
channels:
  slack: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd: {type: pagerduty, routing_key: env:PD_KEY}
routes:
  - match: {severity: critical}
    notify: [pd, slack]
"""
CONFIG = parse_config(CONFIG_TEXT)
SETTING = Flapping(600, 4)


@pytest.fixture
def world() -> World:
    return World(CONFIG)


def flip(world: World, start: int, end: int, every: int = 2) -> None:
    """Down at ``start``, up ``every`` minutes later, down again…, until ``end``; a sweep each minute."""
    down = True
    for m in range(start, end):
        if (m - start) % every == 0:
            (world.down if down else world.up)("api", minute(m))
            down = not down
        world.sweep(minute(m + 0.5))


def test_a_check_flipping_every_two_minutes_sends_one_flapping_notice_and_then_pages_nobody(world):
    flip(world, 0, 30)
    # the first three changes paged as usual: trigger, resolve, trigger (minutes 0, 2, 4)
    assert world.pages("api") == [
        (minute(0), "pd"),
        (minute(0), "slack"),
        (minute(4), "pd"),
        (minute(4), "slack"),
    ]
    assert world.pages("api", NotificationKind.RESOLVE) == [
        (minute(2), "pd"),
        (minute(2), "slack"),
        (minute(6), "pd"),
        (minute(6), "slack"),
    ]
    # the 4th change (minute 6) made it flap: one notice, to the chat channel (never a page)
    notices = [(at, ch, n) for at, ch, n in world.log if n.kind is NotificationKind.FLAPPING]
    assert [(at, ch) for at, ch, _ in notices] == [(minute(6), "slack")]
    assert "flapping: 4 state changes within 10m" in notices[0][2].alert.reason
    # later opens (minutes 8, 12, … 28) and resolves are recorded, not paged
    later = world.incidents("api")[2:]
    assert len(later) == 6 and all(any(e.kind == "flapping" for e in i.timeline) for i in later)


def test_it_leaves_flapping_after_a_quiet_window_with_one_notice_of_its_state(world):
    flip(world, 0, 30)  # down at minute 28
    world.up("api", minute(29))  # the last change: it is up
    world.sweeps(29, 45)
    stable = [(at, ch, n) for at, ch, n in world.log if n.kind is NotificationKind.FLAPPING][1:]
    # 10 quiet minutes after the minute-29 change: the sweep at 39:30 sends one notice
    assert [(at, ch) for at, ch, _ in stable] == [(minute(39.5), "slack")]
    assert stable[0][2].alert.state is AlertState.OK and "it is up" in stable[0][2].alert.reason
    # and it pages again
    world.down("api", minute(50))
    assert world.pages("api")[-2:] == [(minute(50), "pd"), (minute(50), "slack")]


def test_down_when_it_leaves_flapping_its_held_page_is_the_notice(world):
    flip(world, 0, 30)  # its last change: down at minute 28, for good; recorded, not paged
    assert world.pages("api")[-1][0] == minute(4)
    world.sweeps(30, 45)
    # 10 quiet minutes after minute 28: the held first page goes out once, and no "stable" notice
    assert world.pages("api")[-2:] == [(minute(38.5), "pd"), (minute(38.5), "slack")]
    assert len([n for _, _, n in world.log if n.kind is NotificationKind.FLAPPING]) == 1


def test_a_duplicate_or_late_change_counts_once_and_in_its_place():
    state = record_change(None, "api", minute(0), SETTING).state
    assert record_change(state, "api", minute(0), SETTING) is None  # a duplicate delivery
    for m in (4, 2):  # minute 2 arrives after minute 4
        state = record_change(state, "api", minute(m), SETTING).state
    assert state.changes == (minute(0), minute(2), minute(4)) and not state.flapping
    entered = record_change(state, "api", minute(6), SETTING)
    assert entered.entered and entered.state.flapping
    assert record_change(entered.state, "api", minute(8), SETTING).entered is False  # once


def test_changes_spread_wider_than_the_window_do_not_flap():
    state = None
    for m in range(0, 60, 4):  # every 4 minutes: 4 changes span 12 minutes > 10
        state = record_change(state, "api", minute(m), SETTING).state
    assert not state.flapping and len(state.changes) == 4


def test_the_flap_store_is_due_only_while_flapping_and_writes_conditionally():
    flaps = InMemoryFlaps()
    state = FlapState("api", (minute(0),), flapping=True, since=minute(0), version=1)
    assert flaps.put(state, quiet_at=state.quiet_at(SETTING))
    assert not flaps.put(state, quiet_at=None)  # the same version again: another writer won
    assert flaps.due(minute(9)) == [] and flaps.due(minute(10)) == [state]
    assert is_quiet(state, SETTING, minute(0) + timedelta(minutes=10))


def test_a_paged_incident_still_open_when_it_settles_is_named_in_the_stable_notice():
    # GIVEN threshold 3: the change that makes it flap is an opening, paged before it flapped
    world = World(parse_config(CONFIG_TEXT.replace("threshold: 4", "threshold: 3")))
    flip(world, 0, 5)  # down 0, up 2, down 4 (for good)
    (_, opened) = world.incidents("api")
    assert world.pages("api")[-2:] == [(minute(4), "pd"), (minute(4), "slack")]
    # WHEN it has not changed for 10 minutes
    world.sweeps(5, 16)
    # THEN one stable notice says it is still failing, naming the open incident
    notices = [(at, n) for at, _, n in world.log if n.kind is NotificationKind.FLAPPING]
    assert [at for at, _ in notices] == [minute(4), minute(14.5)]
    assert f"still failing (incident {opened.id}" in notices[1][1].alert.reason
