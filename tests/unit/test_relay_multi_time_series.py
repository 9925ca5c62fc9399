"""Relay: a Metrics Insights multi-time-series alarm pages once per contributor, never twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.notifiers.base import NotificationKind
from uptime_relay.relay import Relay
from uptime_relay_tools.testing.fake_notifiers import fake_notifiers

EVENTS = Path(__file__).resolve().parents[2] / "events"
CONFIG = parse_config(
    """
checks:
  - name: web
    url: https://www.example.com/
channels:
  slack-critical: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd-primary: {type: pagerduty, routing_key: env:PD_KEY}
routes:
  - notify: [pd-primary, slack-critical]
    insufficient_data: page
"""
)


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def with_message(name: str, **changes) -> dict:
    """A sample SNS event with fields of its alarm message changed (and a fresh MessageId)."""
    sns = event(name)
    record = sns["Records"][0]["Sns"]
    message = {**json.loads(record["Message"]), **changes}
    record["Message"] = json.dumps(message)
    record["MessageId"] = record["MessageId"][:-4] + "beef"
    return sns


class World:
    def __init__(self):
        self.store = InMemoryIncidentStore()
        self.notifiers = fake_notifiers()
        self.dispatcher = Dispatcher(
            CONFIG,
            self.notifiers,
            StaticSecrets({"env:PD_KEY": "k"}),
            InMemoryDeadLetters(),
            sleep=lambda s: None,
        )
        self.relay = Relay(CONFIG, self.store, self.dispatcher)

    def triggers(self):
        return [
            (c, n) for x in self.notifiers.values() for c, n in x.sent if n.kind is NotificationKind.TRIGGER
        ]


@pytest.fixture
def world():
    return World()


@pytest.mark.parametrize("order", ["alarm_level_first", "contributor_first"])
def test_the_alarm_level_notification_does_not_open_a_second_incident(world, order):
    names = ["sns-alarm-metrics-insights-alarm-level.json", "sns-alarm-metrics-insights-contributor.json"]
    if order == "contributor_first":
        names.reverse()
    results = [world.relay.process_sns_event(event(n))["results"][0] for n in names]

    incidents = world.store.list()
    assert len(incidents) == 1 and incidents[0].labels["check"] == "web"
    assert sorted(c for c, _ in world.triggers()) == ["pd-primary", "slack-critical"]  # one page each
    level = next(r for r in results if r["alert_id"].endswith(":alarm:uptime-availability-all"))
    assert level["action"] == "alarm_level" and level["incident_id"] is None and level["deliveries"] == []


def test_the_contributor_ok_still_resolves_what_the_contributor_opened(world):
    world.relay.process_sns_event(event("sns-alarm-metrics-insights-alarm-level.json"))
    world.relay.process_sns_event(event("sns-alarm-metrics-insights-contributor.json"))
    world.relay.process_sns_event(event("sns-ok-metrics-insights-contributor.json"))
    assert world.store.list() == []
    assert [i.status for i in world.store.list(statuses=("resolved",))] == ["resolved"]


def test_an_alarm_level_alarm_with_no_time_series_in_alarm_pages_on_its_own(world):
    # e.g. the query returns no data at all (every check stopped reporting): no contributor
    # exists to carry the page, so the alarm-level alert is the page
    lone = with_message(
        "sns-alarm-metrics-insights-alarm-level.json",
        NewStateReason="Threshold Crossed: no datapoints were received for 3 periods",
    )
    result = world.relay.process_sns_event(lone)["results"][0]
    assert result["action"] == "opened"
    assert sorted(c for c, _ in world.triggers()) == ["pd-primary", "slack-critical"]
    ok = with_message(
        "sns-alarm-metrics-insights-alarm-level.json",
        NewStateValue="OK",
        OldStateValue="ALARM",
        NewStateReason="0 out of 6 time series evaluated to ALARM",
        StateChangeTime="2026-11-20T10:30:00.000+0000",
    )
    assert world.relay.process_sns_event(ok)["results"][0]["action"] == "resolved"
    assert world.store.list() == []
