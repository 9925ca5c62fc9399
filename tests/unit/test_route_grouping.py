"""Route grouping and the storm guard through the relay, the escalation sweep and the actions
route, with in-memory stores and recording channels."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from uptime_relay.actions import RESOLVE, Actions, apply_action
from uptime_relay.adapters.groups import InMemoryGroupStore
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import ConfigError
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.escalator import sweep
from uptime_relay.followups import ChangeNotifier
from uptime_relay.notifiers.base import Delivery, NotificationKind
from uptime_relay.notifiers.pagerduty import PagerDutyNotifier
from uptime_relay.notifiers.slack import SlackNotifier
from uptime_relay.relay import Relay
from uptime_relay.security import slack_signature

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SIGNING = "signing"
BASE = """
slack:
  signing_secret: env:SIGNING
channels:
  slack: {{type: slack, bot_token: env:TOKEN, channel: "#web"}}
  pd: {{type: pagerduty, routing_key: env:PD}}
  mail: {{type: email, to: [web@example.com], from: uptime@example.com}}
{extra}
routes:
  - match: {{team: web}}
    notify: [slack, pd, mail]
{route}
"""


def config(route: str = "", extra: str = ""):
    return parse_config(BASE.format(route=route, extra=extra), "grouping.yaml")


GROUPED = config("    group_by: [team]\n    group_interval: 5m\n    repeat_interval: 1h\n")


class Recording:
    """A channel that records what it was sent and answers like the real one (Slack: a message
    ts on a new post; PagerDuty: the event's dedup key)."""

    groups_alerts = True

    def __init__(self, type_: str):
        self.type = type_
        self.sent: list[tuple[str, object]] = []

    def build_payloads(self, channel, notification):
        return []

    def send(self, channel, notification, secrets):
        self.sent.append((channel.name, notification))
        if self.type == "slack":
            return Delivery(channel.name, {"channel": "C1", "ts": f"17.{len(self.sent)}"}, 200)
        if self.type == "pagerduty":
            body = PagerDutyNotifier().build_payloads(channel, notification)
            return Delivery(channel.name, {"dedup_key": body[0]["dedup_key"]} if body else {}, 202)
        return Delivery(channel.name, {}, 250)


class FixedClock:
    def __init__(self, at):
        self.at = at

    def now(self):
        return self.at

    def sleep(self, seconds):
        return None


class World:
    def __init__(self, cfg=GROUPED):
        self.config = cfg
        self.store = InMemoryIncidentStore()
        self.groups = InMemoryGroupStore()
        self.channels = {t: Recording(t) for t in ("slack", "pagerduty", "email")}
        secrets = StaticSecrets({"env:PD": "k", "env:TOKEN": "t", "env:SIGNING": SIGNING})
        self.dispatcher = Dispatcher(cfg, self.channels, secrets, InMemoryDeadLetters(), sleep=lambda s: None)
        self.relay = Relay(cfg, self.store, self.dispatcher, groups=self.groups)
        self.real = FixedClock(datetime.now(UTC))
        self.actions = Actions(
            cfg,
            self.store,
            groups=self.groups,
            secrets=secrets,
            clock=FixedClock(T0),
            real_clock=self.real,
            on_change=ChangeNotifier(cfg, self.dispatcher, self.store),
            environ={},
        )
        self.actions.follow_up_runner = self.actions.run_follow_up

    def alarm(self, n: int, state: AlertState, at: datetime, **labels):
        alert = Alert(
            AlertSource.CLOUDWATCH,
            f"alarm-{n}",
            f"check-{n}",
            state,
            "down",
            at,
            labels={"team": "web", **labels},
        )
        return self.relay.handle([alert], at)

    def sweep(self, at: datetime):
        return sweep(self.config, self.store, self.dispatcher, at, groups=self.groups)

    def sent(self, type_: str) -> list[tuple[NotificationKind, int]]:
        return [(n.kind, len(n.alerts)) for _, n in self.channels[type_].sent]

    def take(self):
        out = {t: self.sent(t) for t in self.channels}
        for channel in self.channels.values():
            channel.sent.clear()
        return out

    def press(self, action: str, value: str):
        self.actions._clock = FixedClock(T0 + timedelta(minutes=20))
        payload = {
            "type": "block_actions",
            "user": {"id": "U1", "username": "alice"},
            "actions": [{"action_id": action, "value": value, "type": "button"}],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        ts = str(int(self.real.now().timestamp()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": slack_signature(SIGNING, ts, body),
        }
        return self.actions.handle("POST", "/slack/actions", headers, body)


@pytest.fixture
def world():
    return World()


def test_a_groups_members_page_once_together_after_group_wait(world):
    """GIVEN a route with group_by: [team] (group_wait 30s by default)
    WHEN five of its checks alarm within a few seconds
    THEN nothing is sent until the sweep after group_wait, which sends ONE message per channel
    naming all five; each member is its own incident noting the group and the page."""
    for n in range(5):
        world.alarm(n, AlertState.ALARM, T0 + timedelta(seconds=n))
    assert world.take() == {"slack": [], "pagerduty": [], "email": []}
    world.sweep(T0 + timedelta(seconds=20))
    assert world.take()["slack"] == []
    world.sweep(T0 + timedelta(seconds=40))
    assert world.take() == {t: [(NotificationKind.TRIGGER, 5)] for t in ("slack", "pagerduty", "email")}
    incidents = world.store.list()
    assert len(incidents) == 5 and len({i.group_id for i in incidents}) == 1
    for incident in incidents:
        kinds = [e.kind for e in incident.timeline]
        assert kinds[:2] == ["opened", "grouped"] and kinds.count("notified") == 3
        assert incident.due_at is None and not incident.pending  # no page or escalation of its own


def test_a_change_is_an_edit_of_the_one_slack_message_at_group_interval_and_the_last_resolve_resolves(
    world,
):
    """GIVEN a group already paged (Slack through a bot token) WHEN a member joins and one resolves
    THEN nothing goes out before group_interval; then the Slack message is edited in place
    (chat.update) listing the new state; the last member's resolve resolves the group once."""
    world.alarm(0, AlertState.ALARM, T0)
    world.alarm(1, AlertState.ALARM, T0)
    world.sweep(T0 + timedelta(seconds=30))
    first = world.channels["slack"].sent[0][1]
    world.take()
    world.alarm(2, AlertState.ALARM, T0 + timedelta(minutes=1))
    world.alarm(0, AlertState.OK, T0 + timedelta(minutes=2))
    world.sweep(T0 + timedelta(minutes=3))
    assert world.take()["slack"] == []
    world.sweep(T0 + timedelta(minutes=5, seconds=30))
    (_, update), *_ = world.channels["slack"].sent
    assert update.incident_id == first.incident_id
    (body,) = SlackNotifier().build_payloads(world.config.channels["slack"], update)
    assert body["ts"] == "17.1" and "chat.update" not in json.dumps(body)  # an edit of the first post
    assert "[FIRING:2] team=web" in json.dumps(body) and "Resolved (1)" in json.dumps(body)
    assert [(k, n) for k, n in world.take()["pagerduty"]] == [(NotificationKind.TRIGGER, 3)]
    world.alarm(1, AlertState.OK, T0 + timedelta(minutes=6))
    assert world.take()["slack"] == []  # one still fires; the change waits for group_interval
    world.alarm(2, AlertState.OK, T0 + timedelta(minutes=7))
    sent = world.take()
    assert sent["slack"] == [(NotificationKind.RESOLVE, 3)] and sent["pagerduty"] == [
        (NotificationKind.RESOLVE, 3)
    ]
    assert {i.status for i in world.store.list(statuses=("open", "acknowledged", "resolved"))} == {"resolved"}


def test_one_pagerduty_incident_per_group():
    """GIVEN a group's notification WHEN PagerDuty renders it THEN it is one event whose dedup key
    belongs to the group (its trigger, update and resolve share it), listing the members."""
    world = World(config("    group_by: [team]\n    group_wait: 0s\n"))
    for n in range(3):
        world.alarm(n, AlertState.ALARM, T0)
    (_, notification), *_ = world.channels["pagerduty"].sent
    (event,) = PagerDutyNotifier().build_payloads(world.config.channels["pd"], notification)
    assert event["payload"]["summary"].startswith("[FIRING] team=web")
    assert event["payload"]["custom_details"]["group_id"] == notification.incident_id


def test_group_wait_0s_pages_from_the_relay_and_an_alertmanager_body_is_one_group_message():
    """GIVEN group_wait: 0s WHEN an Alertmanager body of three alerts arrives THEN the relay sends
    one message per channel at once, naming the three (every kind of alert is grouped)."""
    world = World(config("    group_by: [team]\n    group_wait: 0s\n"))
    alerts = [
        Alert(AlertSource.ALERTMANAGER, f"fp{n}", "HighLatency", AlertState.ALARM, "slow", T0,
              labels={"team": "web", "alertname": "HighLatency", "instance": f"i{n}"}, extra={"group_key": "g"})
        for n in range(3)
    ]  # fmt: skip
    world.relay.handle(alerts, T0)
    assert world.take() == {t: [(NotificationKind.TRIGGER, 3)] for t in ("slack", "pagerduty", "email")}


def test_acknowledging_the_group_acknowledges_its_members_and_stops_repeats_until_one_joins(world):
    """GIVEN a paged group (repeat_interval 1h) WHEN someone presses its Acknowledge button THEN
    every member is acknowledged, Slack and PagerDuty hear it (not e-mail), and no repeat goes out
    an hour later; a new member joining re-arms it and the repeat comes back."""
    world.alarm(0, AlertState.ALARM, T0)
    world.alarm(1, AlertState.ALARM, T0)
    world.sweep(T0 + timedelta(seconds=30))
    group_id = world.channels["slack"].sent[0][1].incident_id
    world.take()
    response = world.press("ack", group_id)
    assert response.status == 200
    assert {i.status for i in world.store.list(statuses=("open", "acknowledged"))} == {"acknowledged"}
    world.sweep(T0 + timedelta(minutes=21))
    sent = world.take()
    assert sent["slack"] == [(NotificationKind.ACKNOWLEDGE, 2)] and sent["pagerduty"] == [
        (NotificationKind.ACKNOWLEDGE, 2)
    ]
    assert sent["email"] == []
    world.sweep(T0 + timedelta(hours=2))
    assert world.take() == {"slack": [], "pagerduty": [], "email": []}
    world.alarm(5, AlertState.ALARM, T0 + timedelta(hours=2))
    world.sweep(T0 + timedelta(hours=2, minutes=6))  # the change, at group_interval
    assert world.take()["email"] == [(NotificationKind.TRIGGER, 3)]
    world.sweep(T0 + timedelta(hours=3, minutes=7))  # and repeats again
    assert world.take()["email"] == [(NotificationKind.TRIGGER, 3)]


def test_a_grouped_routes_escalation_runs_once_per_group_not_per_member():
    """GIVEN a grouped route with an escalation policy (step after 5m to e-mail)
    WHEN ten members fire and nobody acknowledges THEN the step sends ONE escalation of the group."""
    world = World(
        config(
            "    group_by: [team]\n    escalation: web\n",
            extra="escalation_policies:\n  web:\n    steps:\n      - {after: 5m, notify: [mail]}",
        )
    )
    for n in range(10):
        world.alarm(n, AlertState.ALARM, T0)
    world.sweep(T0 + timedelta(seconds=30))
    world.take()
    for minute in range(1, 12):
        world.sweep(T0 + timedelta(minutes=minute, seconds=30))
    assert world.take()["email"] == [(NotificationKind.ESCALATION, 10)]


def test_the_storm_guard_sends_one_summary_past_the_threshold_and_resolves_everything():
    """GIVEN a route without group_by and the default storm guard (10 per minute)
    WHEN 25 checks alarm within the minute THEN 10 page on their own and the other 15 go out as one
    summary per channel at the next sweep; every incident is recorded and every page resolves."""
    world = World(config())
    for n in range(25):
        world.alarm(n, AlertState.ALARM, T0 + timedelta(seconds=n))
    assert world.take()["slack"] == [(NotificationKind.TRIGGER, 1)] * 10
    world.sweep(T0 + timedelta(seconds=60))
    (_, summary), *_ = world.channels["slack"].sent
    assert world.take()["pagerduty"] == [(NotificationKind.TRIGGER, 15)]
    assert "[FIRING:15] storm on route 1" in json.dumps(
        SlackNotifier().build_payloads(world.config.channels["slack"], summary)
    )
    for n in range(25):
        world.alarm(n, AlertState.OK, T0 + timedelta(minutes=3, seconds=n))
    sent = world.take()
    assert sent["pagerduty"] == [(NotificationKind.RESOLVE, 1)] * 10 + [(NotificationKind.RESOLVE, 15)]
    incidents = world.store.list(statuses=("open", "acknowledged", "resolved"))
    assert len(incidents) == 25 and {i.status for i in incidents} == {"resolved"}


def test_the_storm_guard_counts_an_alertmanager_body_once_and_can_be_turned_off():
    """GIVEN the storm guard WHEN one Alertmanager body brings 12 alerts THEN it is one opening (one
    message per channel, as before); with ``storm: off`` 12 separate alarms all page."""
    world = World(config())
    alerts = [
        Alert(AlertSource.ALERTMANAGER, f"fp{n}", "Down", AlertState.ALARM, "down", T0,
              labels={"team": "web", "alertname": "Down"}, extra={"group_key": "body"})
        for n in range(12)
    ]  # fmt: skip
    world.relay.handle(alerts, T0)
    assert world.take()["slack"] == [(NotificationKind.TRIGGER, 12)]
    off = World(config(extra="storm: off"))
    for n in range(12):
        off.alarm(n, AlertState.ALARM, T0)
    assert len(off.take()["pagerduty"]) == 12


def test_grouping_timers_without_group_by_and_bad_storm_settings_are_config_errors():
    """GIVEN timers on a route without group_by, and a storm threshold of 0 WHEN the config loads
    THEN every problem is listed with its line, and the timer's error says to add group_by."""
    with pytest.raises(ConfigError) as caught:
        config("    group_wait: 10s\n    repeat_interval: 1m\n", extra="storm: {threshold: 0, window: 10s}")
    text = str(caught.value)
    assert "routes[0].group_wait: `group_wait` needs `group_by`" in text and "group_by: ['...']" in text
    assert "routes[0].repeat_interval" in text
    assert "storm.threshold: must be between 1" in text and "storm.window: must be at least 60s" in text
    assert "grouping.yaml:" in text


def test_members_resolved_by_hand_resolve_an_acknowledged_group_at_the_next_sweep(world):
    """GIVEN a paged group that was acknowledged (nothing of it is due) WHEN its members are resolved
    by hand (``incidents resolve``, ``apply_action``) THEN the group learns it and the next sweep
    sends its resolve once."""
    world.alarm(0, AlertState.ALARM, T0)
    world.alarm(1, AlertState.ALARM, T0)
    world.sweep(T0 + timedelta(seconds=30))
    group_id = world.channels["slack"].sent[0][1].incident_id
    world.press("ack", group_id)
    world.sweep(T0 + timedelta(minutes=21))
    world.take()
    at = T0 + timedelta(minutes=30)
    for incident in world.store.list(statuses=("acknowledged",)):
        assert apply_action(
            world.store, RESOLVE, incident.id, by="bob", via="cli", at=at, groups=world.groups
        ).changed
    world.sweep(at + timedelta(minutes=1))
    assert world.take()["pagerduty"] == [(NotificationKind.RESOLVE, 2)]
