"""Severity tiers: one table maps p0-p4, sev0-sev4 and critical/high/medium/low/info onto
PagerDuty's four severities and the Slack/e-mail colours; routes may match on the tier."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.routing import match_routes
from uptime_relay.domain.severity import TIERS, normalise
from uptime_relay.notifiers import format as fmt
from uptime_relay.notifiers.base import Notification, NotificationKind
from uptime_relay.notifiers.pagerduty import PagerDutyNotifier

CONTRACT = {  # CONTRACT.md, "Severity tiers"
    "critical": ["p0", "p1", "sev0", "sev1", "critical"],
    "error": ["p2", "sev2", "high", "error"],
    "warning": ["p3", "sev3", "medium", "warning"],
    "info": ["p4", "sev4", "low", "info"],
}


def alert(severity: str) -> Alert:
    return Alert(
        AlertSource.CLOUDWATCH, "a1", "api down", AlertState.ALARM, "r", datetime(2026, 12, 1, tzinfo=UTC),
        {"severity": severity},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("tier", "spelling"), [(t, s) for t, spellings in CONTRACT.items() for s in spellings]
)
def test_every_contract_spelling_maps_to_its_tier_in_any_case(tier, spelling):
    assert normalise(spelling) == tier and normalise(spelling.upper()) == tier
    assert spelling in TIERS[tier]


def test_a_pagerduty_channel_set_to_warning_sends_p0_and_p1_as_critical():
    # the reported bug: a `severity: warning` channel sent a p0 alert as warning
    config = parse_config("channels: {pd: {type: pagerduty, routing_key: env:K, severity: warning}}")
    channel = config.channels["pd"]
    for label, expected in (("p0", "critical"), ("p1", "critical"), ("sev4", "info"), ("shrug", "warning")):
        (body,) = PagerDutyNotifier().build_payloads(
            channel, Notification(NotificationKind.TRIGGER, (alert(label),))
        )
        assert body["payload"]["severity"] == expected, label


def test_the_channel_option_takes_a_tiers_other_names():
    config = parse_config("channels: {pd: {type: pagerduty, routing_key: env:K, severity: p3}}")
    assert config.channels["pd"].get("severity") == "warning"


def test_slack_colours_follow_the_tier():
    def colour(label: str) -> str:
        return fmt.colour(Notification(NotificationKind.TRIGGER, (alert(label),)))

    assert colour("p0") == colour("sev1") == fmt.COLOURS["critical"]
    assert colour("high") == fmt.COLOURS["error"] and colour("medium") == fmt.COLOURS["warning"]
    assert colour("low") == fmt.COLOURS["info"]


def test_a_route_may_match_on_the_normalised_severity():
    config = parse_config(
        """
channels: {pd: {type: pagerduty, routing_key: env:K}, chat: {type: slack, webhook_url: https://h.invalid/x}}
routes:
  - {match: {severity: critical}, notify: [pd]}
  - {match: {severity: p3}, notify: [chat]}
  - notify: [chat]
"""
    )
    assert match_routes(config.routes, {"severity": "P0"}).channels == ("pd",)
    assert match_routes(config.routes, {"severity": "sev1"}).channels == ("pd",)
    assert match_routes(config.routes, {"severity": "p3"}).channels == ("chat",)  # as written
    assert match_routes(config.routes, {"severity": "medium"}).channels == ("chat",)  # catch-all
