"""Fallback alerts (input nobody could parse) open an incident no OK will ever resolve: it escalates
only as far as its policy goes, and a person closes it from the CLI or the Slack button.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from uptime_relay.actions import Actions
from uptime_relay.adapters.ack_tokens import InMemoryUsedTokens
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import AlertSource
from uptime_relay.escalator import sweep
from uptime_relay.intake import parse_event
from uptime_relay.notifiers.base import NotificationKind
from uptime_relay.relay import Relay
from uptime_relay.security import slack_signature
from uptime_relay_tools.cli import build_parser
from uptime_relay_tools.cli import incidents as incidents_cli
from uptime_relay_tools.testing.fake_notifiers import fake_notifiers

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
CONFIG = parse_config(
    """
slack:
  signing_secret: env:SLACK_SIGNING_SECRET
channels:
  slack-critical: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd-primary: {type: pagerduty, routing_key: env:PD_KEY}
routes:
  - notify: [slack-critical]
    escalation: everything
escalation_policies:
  everything:
    steps:
      - {after: 0m, notify: [slack-critical]}
      - {after: 10m, notify: [pd-primary]}
    repeat: 2
"""
)


class FixedClock:
    def __init__(self, at):
        self.at = at

    def now(self):
        return self.at

    def sleep(self, seconds):
        self.at += timedelta(seconds=seconds)


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

    def garbage(self):
        (alert,) = parse_event(b"disk full on db-7 !!! (not an alarm format)", received_at=T0)
        assert alert.source is AlertSource.FALLBACK
        (result,) = self.relay.handle([alert], now=T0)
        assert result.action == "opened"
        return result.incident_id

    def sweeps(self, minutes, start=0):
        for minute in range(start, minutes + 1):
            sweep(CONFIG, self.store, self.dispatcher, T0 + timedelta(minutes=minute))

    def sent(self):
        return [(ch, n.kind) for notifier in self.notifiers.values() for ch, n in notifier.sent]


@pytest.fixture
def world():
    return World()


def test_a_fallback_alert_says_nothing_will_resolve_it_on_its_own():
    (alert,) = parse_event("plain text from another publisher", received_at=T0)
    assert "uptime-relay incidents resolve" in alert.reason and "Slack" in alert.reason


def test_a_fallback_incident_escalates_only_as_far_as_its_policy_then_stays_open_quietly(world):
    iid = world.garbage()
    world.sweeps(24 * 60)  # a whole day of sweeps, once a minute
    # first page + step 2, then the policy's two repeats of both steps: 6 sends, then silence
    assert [k for _, k in world.sent()].count(NotificationKind.TRIGGER) == 1
    assert [k for _, k in world.sent()].count(NotificationKind.ESCALATION) == 5
    incident = world.store.get(iid)
    assert incident.status == "open" and incident.due_at is None
    assert world.store.due(T0 + timedelta(days=365)) == []


def test_the_cli_resolves_a_fallback_incident_and_escalation_stops(world):
    iid = world.garbage()
    args = build_parser().parse_args(["incidents", "resolve", iid, "--by", "bob"])
    out, err = io.StringIO(), io.StringIO()
    code = incidents_cli.run(
        args, store_factory=lambda _a: world.store, out=out, err=err, now=T0 + timedelta(minutes=5)
    )
    assert code == 0, err.getvalue()
    incident = world.store.get(iid)
    assert incident.status == "resolved" and incident.resolved_by == "bob"
    before = len(world.sent())
    world.sweeps(120, start=5)
    assert len(world.sent()) == before  # nothing escalates after the resolve
    assert world.store.list() == []


def test_the_slack_resolve_button_resolves_a_fallback_incident(world):
    iid = world.garbage()
    real = FixedClock(datetime.now(UTC))
    actions = Actions(
        CONFIG,
        world.store,
        secrets=StaticSecrets({"env:SLACK_SIGNING_SECRET": SIGNING}),
        used_tokens=InMemoryUsedTokens(),
        clock=FixedClock(T0 + timedelta(minutes=3)),
        real_clock=real,
        environ={},
    )
    payload = {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "alice", "name": "alice"},
        "actions": [{"action_id": "resolve", "value": iid, "type": "button"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(real.now().timestamp()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": slack_signature(SIGNING, ts, body),
    }
    assert actions.handle("POST", "/slack/actions", headers, body).status == 200
    incident = world.store.get(iid)
    assert incident.status == "resolved" and incident.due_at is None
    before = len(world.sent())
    world.sweeps(60, start=3)
    assert len(world.sent()) == before
