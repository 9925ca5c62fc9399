"""Escalation targets: channels pass through, people and on-call schedules become mentions and emails."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from uptime_relay.config.loader import parse_config
from uptime_relay.domain.targets import Resolved, resolve_targets

CONFIG = parse_config(
    """
channels:
  slack-critical: {type: slack, webhook_url: "https://hooks.example.test/x"}
  pd-primary: {type: pagerduty, routing_key: "k"}
people:
  ana: {email: ana@example.com, slack: U0ANA}
  bo: {slack: U0BO}
  cy: {email: cy@example.com}
schedules:
  primary:
    timezone: UTC
    rotation: daily
    handoff: "09:00"
    start: 2026-11-01
    members: [ana, bo, cy]
""",
    "t.yaml",
)
NOV_1_NOON = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # ana's shift
NOV_2_NOON = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)  # bo's shift


def test_channels_pass_through_in_order():
    assert resolve_targets(CONFIG, ["pd-primary", "slack-critical"], NOV_1_NOON) == Resolved(
        channels=("pd-primary", "slack-critical")
    )


def test_a_person_becomes_a_slack_mention_and_an_email_address():
    got = resolve_targets(CONFIG, ["person:ana", "slack-critical"], NOV_1_NOON)
    assert got.channels == ("slack-critical",)
    assert got.mentions == ("U0ANA",)
    assert got.emails == ("ana@example.com",)
    assert got.people == ("ana",)


def test_oncall_resolves_to_whoever_is_on_call_at_that_moment():
    assert resolve_targets(CONFIG, ["oncall:primary"], NOV_1_NOON).mentions == ("U0ANA",)
    second = resolve_targets(CONFIG, ["oncall:primary"], NOV_2_NOON)
    assert (second.mentions, second.emails, second.people) == (("U0BO",), (), ("bo",))


def test_the_same_person_named_twice_is_reached_once():
    got = resolve_targets(CONFIG, ["person:ana", "oncall:primary"], NOV_1_NOON)
    assert (got.mentions, got.emails) == (("U0ANA",), ("ana@example.com",))


def test_unknown_targets_are_left_out_and_explained():
    # a config that changed under an open incident: names the validator would refuse today
    stale = dataclasses.replace(CONFIG, people={}, schedules={})
    got = resolve_targets(stale, ["gone-channel", "person:ana", "oncall:primary", "pd-primary"], NOV_1_NOON)
    assert got.channels == ("pd-primary",)
    assert got.mentions == () and got.emails == ()
    assert len(got.problems) == 3
    assert any("gone-channel" in p for p in got.problems)
    assert any("ana" in p for p in got.problems)
    assert any("primary" in p and "schedule" in p for p in got.problems)
