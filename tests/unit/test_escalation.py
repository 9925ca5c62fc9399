"""Escalation policy cursors: which step fires when, repeats, and what the first page includes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st
from uptime_relay.config import EscalationPolicy, EscalationStep, Route
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.escalation import (
    Cursor,
    initial_cursor,
    next_cursor,
    period_s,
    planned,
    targets_at_open,
)

OPENED = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

CONFIG = parse_config(
    """
channels:
  slack-critical: {type: slack, webhook_url: "https://hooks.example.test/x"}
  pd-primary: {type: pagerduty, routing_key: "k"}
  oncall-email: {type: email, to: [oncall@example.com], from: alerts@example.com}
routes:
  - match: {severity: critical}
    notify: [pd-primary, slack-critical]
    escalation: critical
escalation_policies:
  critical:
    steps:
      - {after: 0m,  notify: [slack-critical]}
      - {after: 10m, notify: [pd-primary]}
      - {after: 30m, notify: [oncall-email]}
    repeat: 1
""",
    "test.yaml",
)
CRITICAL = CONFIG.escalation_policies["critical"]


def minutes(cursor: Cursor) -> float:
    return (cursor.due_at - OPENED).total_seconds() / 60


def test_a_channel_in_both_the_route_and_step_zero_is_notified_once():
    assert targets_at_open(CONFIG.routes[0], CRITICAL) == ("pd-primary", "slack-critical")


def test_step_zero_joins_the_first_page_only_when_it_is_immediate():
    route = Route(match={}, notify=("slack-critical",), escalation="p")
    later = EscalationPolicy("p", (EscalationStep(300, ("pd-primary",)),))
    now = EscalationPolicy("p", (EscalationStep(0, ("pd-primary", "slack-critical")),))
    assert targets_at_open(route, later) == ("slack-critical",)
    assert targets_at_open(route, now) == ("slack-critical", "pd-primary")
    assert targets_at_open(route, None) == ("slack-critical",)


def test_steps_fire_in_order_at_their_delays_then_the_policy_repeats():
    sends = [(minutes(c), c.step, c.round, targets) for c, targets in planned(CRITICAL, OPENED)]
    # step 0 (0m) went out with the first page; the repeat starts one "last gap" (20m) after 30m
    assert sends == [
        (10, 1, 0, ("pd-primary",)),
        (30, 2, 0, ("oncall-email",)),
        (50, 0, 1, ("slack-critical",)),
        (60, 1, 1, ("pd-primary",)),
        (80, 2, 1, ("oncall-email",)),
    ]


def test_the_first_cursor_is_the_first_step_not_sent_at_open():
    cursor = initial_cursor(CRITICAL, OPENED)
    assert (cursor.step, cursor.round, minutes(cursor)) == (1, 0, 10)


def test_a_delayed_first_step_is_the_first_cursor():
    policy = EscalationPolicy("p", (EscalationStep(900, ("pd-primary",)),), repeat=2)
    assert [minutes(c) for c, _ in planned(policy, OPENED)] == [15, 30, 45]


def test_a_single_immediate_step_without_repeat_leaves_nothing_to_escalate():
    policy = EscalationPolicy("p", (EscalationStep(0, ("slack-critical",)),))
    assert initial_cursor(policy, OPENED) is None
    assert initial_cursor(None, OPENED) is None


def test_a_single_immediate_step_with_repeat_reminds_every_five_minutes():
    policy = EscalationPolicy("p", (EscalationStep(0, ("slack-critical",)),), repeat=2)
    assert [minutes(c) for c, _ in planned(policy, OPENED)] == [5, 10]


def test_next_cursor_is_none_after_the_last_step_of_the_last_round():
    last = Cursor(2, 1, OPENED + timedelta(minutes=80))
    assert next_cursor(CRITICAL, last) is None


def test_next_cursor_without_opened_at_recovers_the_anchor_from_the_cursor():
    cursor = Cursor(2, 0, OPENED + timedelta(minutes=30))
    assert next_cursor(CRITICAL, cursor) == Cursor(0, 1, OPENED + timedelta(minutes=50))


def test_next_cursor_anchors_on_opened_at_after_a_retry_moved_the_due_time():
    retried = Cursor(1, 0, OPENED + timedelta(minutes=13))  # step 1 retried three minutes late
    assert next_cursor(CRITICAL, retried, opened_at=OPENED).due_at == OPENED + timedelta(minutes=30)


steps_strategy = st.lists(st.integers(min_value=0, max_value=3 * 3600), min_size=1, max_size=5).map(
    lambda afters: tuple(EscalationStep(float(a), ("c",)) for a in sorted(afters))
)


@given(steps=steps_strategy, repeat=st.integers(min_value=0, max_value=4))
def test_cursors_walk_every_step_of_every_round_and_never_go_back_in_time(steps, repeat):
    policy = EscalationPolicy("p", steps, repeat)
    cursors = [c for c, _ in planned(policy, OPENED)]
    positions = [(c.round, c.step) for c in cursors]
    expected = [(r, s) for r in range(repeat + 1) for s in range(len(steps))]
    if steps[0].after_s == 0:
        expected = expected[1:]  # sent with the first page
    assert positions == expected
    for earlier, later in pairwise(cursors):
        assert later.due_at >= earlier.due_at
        if later.round != earlier.round:  # a new round starts at least a minute after the last
            assert later.due_at - earlier.due_at >= timedelta(seconds=60)
    assert period_s(policy) >= 60
