"""``uptime-relay test``: a test alert through the real path (here: the relay in-process, behind a
fake SNS topic), the matched route and every delivery printed, the exit code telling whether every
channel delivered; ``--dry-run`` renders without sending; test incidents stay out of reports."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.notifiers import format as fmt
from uptime_relay.notifiers.base import DeliveryError, NotificationKind
from uptime_relay.relay import Relay
from uptime_relay_tools.cli import alerttest
from uptime_relay_tools.report import response_report
from uptime_relay_tools.testing.fake_notifiers import fake_notifiers
from uptime_relay_tools.testing.relay_kit import sns_event

CONFIG_TEXT = """
channels:
  slack-web: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd: {type: pagerduty, routing_key: env:PD_KEY}
routes:
  - match: {team: web}
    notify: [slack-web, pd]
"""
TOPIC = "arn:aws:sns:eu-west-1:123456789012:uptime-relay-alerts"


class Topic:
    """SNS in-process: each publish is delivered to the relay as a Lambda SNS event."""

    def __init__(self, relay: Relay):
        self.relay = relay
        self.published: list[dict] = []

    def publish(self, TopicArn: str, Message: str, Subject: str) -> dict:
        self.published.append(json.loads(Message))
        self.relay.process_sns_event(sns_event(Message))
        return {"MessageId": str(len(self.published))}


@pytest.fixture
def world(tmp_path):
    config_path = tmp_path / "uptime.yaml"
    config_path.write_text(CONFIG_TEXT)
    config = parse_config(CONFIG_TEXT)
    notifiers = fake_notifiers()
    store = InMemoryIncidentStore()
    dispatcher = Dispatcher(
        config, notifiers, StaticSecrets({"env:PD_KEY": "k"}), InMemoryDeadLetters(), sleep=lambda s: None
    )
    topic = Topic(Relay(config, store, dispatcher))
    return config_path, notifiers, store, topic


def args(config_path, **kw) -> argparse.Namespace:
    values = dict(
        config=str(config_path),
        labels="team=web",
        stack="uptime-relay",
        endpoint_url=None,
        region=None,
        resolve_after="1m",
        timeout="1s",
        dry_run=False,
    )
    values.update(kw)
    return argparse.Namespace(**values)


def run(world, **kw) -> tuple[int, str, str, list[float]]:
    config_path, _, store, topic = world
    out, err, sleeps = io.StringIO(), io.StringIO(), []
    code = alerttest.run(
        args(config_path, **kw),
        out=out,
        err=err,
        sleep=sleeps.append,
        connect=lambda a: (TOPIC, store, topic),
    )
    return code, out.getvalue(), err.getvalue(), sleeps


def test_a_test_alert_pages_the_matched_route_prints_each_delivery_and_resolves(world):
    """GIVEN a route for team=web, WHEN `uptime-relay test --labels team=web` runs, THEN the test
    ALARM then its OK go through the topic to the relay, Slack and PagerDuty get the trigger and
    the resolve, each delivery is printed, and it exits 0."""
    _, notifiers, store, topic = world
    code, out, err, sleeps = run(world)

    assert code == 0, out + err
    assert "route #1 (match team=web) -> slack-web, pd" in out
    assert "slack-web: trigger sent" in out and "pd: resolve sent" in out
    assert [m["NewStateValue"] for m in topic.published] == ["ALARM", "OK"]
    assert 60.0 in sleeps  # --resolve-after 1m
    assert notifiers["pagerduty"].kinds() == [NotificationKind.TRIGGER, NotificationKind.RESOLVE]
    [incident] = store.list(statuses=("resolved",))
    assert incident.labels["uptime_relay_test"] and incident.labels["check"] == "uptime-relay-test"
    [(_, trigger)] = [s for s in notifiers["slack"].sent if s[1].kind is NotificationKind.TRIGGER]
    assert fmt.title(trigger) == "[TEST] [FIRING] uptime-relay-test"


def test_it_exits_non_zero_when_a_channel_failed(world):
    _, notifiers, _, _ = world
    notifiers["pagerduty"].fail_next(DeliveryError("400 invalid routing key", permanent=True, status=400))
    code, out, _, _ = run(world, resolve_after="0s")
    assert code == 1
    assert "pd: trigger: 400 invalid routing key" in out and "FAILED: pd" in out


def test_dry_run_prints_the_route_and_the_rendered_messages_and_sends_nothing(world):
    _, notifiers, _, topic = world
    code, out, _, _ = run(world, dry_run=True)
    assert code == 0 and "dry run: nothing was sent" in out
    assert "slack-web (slack) trigger: " in out and "pd (pagerduty) resolve: " in out
    assert topic.published == [] and notifiers["slack"].attempts == []


def test_no_matching_route_is_said_and_exits_1_without_sending(world):
    _, _, _, topic = world
    code, out, _, _ = run(world, labels="team=db")
    assert code == 1 and "no route matched" in out and topic.published == []


@pytest.mark.parametrize("labels", ["team", "=x", "check=x", "team=web,,bad key=1"])
def test_bad_labels_are_a_usage_error(world, labels):
    code, _, err, _ = run(world, labels=labels)
    assert code == 2 and "--labels" in err


def test_test_incidents_are_left_out_of_reports(world):
    _, _, store, _ = world
    run(world, resolve_after="0s")
    [incident] = store.list(statuses=("resolved",))
    now = datetime.now(UTC)
    assert response_report([incident], now - timedelta(days=1), now + timedelta(days=1)) == []
