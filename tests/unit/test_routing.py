"""Routing: all labels must match, catch-all, first match wins unless continue."""

from __future__ import annotations

from uptime_relay.config import Route
from uptime_relay.domain.routing import match_routes

CRITICAL = Route(
    match={"severity": "critical"}, notify=("pd-primary", "slack-critical"), escalation="critical"
)
PLATFORM = Route(match={"team": "platform", "severity": "warning"}, notify=("slack-platform",))
CATCH_ALL = Route(match={}, notify=("oncall-email",))


def test_the_first_matching_route_wins():
    m = match_routes([CRITICAL, CATCH_ALL], {"severity": "critical"})
    assert m.routes == (CRITICAL,)
    assert m.channels == ("pd-primary", "slack-critical") and m.policy == "critical"


def test_every_label_of_a_route_must_match():
    m = match_routes([PLATFORM, CATCH_ALL], {"team": "platform", "severity": "critical"})
    assert m.routes == (CATCH_ALL,)


def test_a_route_without_match_catches_everything():
    assert match_routes([CATCH_ALL], {}).channels == ("oncall-email",)


def test_continue_collects_later_routes_and_channels_are_notified_once():
    first = Route(match={"severity": "critical"}, notify=("slack-critical",), continue_=True)
    m = match_routes([first, CRITICAL, CATCH_ALL], {"severity": "critical"})
    assert m.routes == (first, CRITICAL)
    assert m.channels == ("slack-critical", "pd-primary")
    assert m.policy == "critical"


def test_no_match_routes_nowhere_and_warns_by_default():
    m = match_routes([CRITICAL], {"severity": "info"})
    assert not m.matched and m.channels == () and m.policy is None
    assert m.insufficient_data == "warn"


def test_the_first_matched_route_decides_insufficient_data_handling():
    quiet = Route(match={}, notify=("x",), insufficient_data="ignore", continue_=True)
    assert match_routes([quiet, CATCH_ALL], {}).insufficient_data == "ignore"
