"""A Slack button answers within Slack's 3 s: the follow-ups to other channels come after the reply,
and only the Slack message whose button was pressed is left out of them."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from test_actions_support import SIM_START, FixedClock, make_store, open_incident
from uptime_relay.actions import Actions
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.incident import TimelineEntry
from uptime_relay.followups import ChangeNotifier
from uptime_relay.notifiers.base import Delivery, NotificationKind
from uptime_relay.security import slack_signature
from uptime_relay_tools.testing.receivers import HttpReceiver

SIGNING = "slack-signing-secret"
CONFIG = parse_config(
    """
slack:
  signing_secret: env:SLACK_SIGNING_SECRET
channels:
  pd-primary: {type: pagerduty, routing_key: env:PD_KEY}
  slack-critical: {type: slack, bot_token: env:SLACK_TOKEN, channel: "#alerts"}
  slack-escalation: {type: slack, bot_token: env:SLACK_TOKEN, channel: "#sre-leads"}
  slack-hook: {type: slack, webhook_url: "https://hooks.slack.com/services/T0/B0/x"}
routes:
  - notify: [pd-primary, slack-critical]
""",
    "test.yaml",
)


class RecordingNotifier:
    groups_alerts = False

    def __init__(self, type_, log, gate=None):
        self.type = type_
        self.log = log
        self.gate = gate  # a threading.Event the send waits for (a slow channel)

    def build_payloads(self, channel, notification):
        return [{"kind": notification.kind.value}]

    def send(self, channel, notification, secrets):
        self.log.append(("send", channel.name, notification.kind, dict(notification.handles)))
        if self.gate is not None:
            assert self.gate.wait(10), "the test never released the slow channel"
        return Delivery(channel.name, dict(notification.handles), 200)


@pytest.fixture
def store():
    return make_store()


@pytest.fixture
def log():
    return []


def make_actions(store, log, *, runner=None, gate=None):
    notifiers = {t: RecordingNotifier(t, log, gate) for t in ("pagerduty", "slack", "email")}
    dispatcher = Dispatcher(
        CONFIG, notifiers, StaticSecrets(), InMemoryDeadLetters(), max_attempts=1, sleep=lambda s: None
    )
    return Actions(
        CONFIG,
        store,
        secrets=StaticSecrets({"env:SLACK_SIGNING_SECRET": SIGNING}),
        clock=FixedClock(SIM_START + timedelta(minutes=5)),
        on_change=ChangeNotifier(CONFIG, dispatcher, store),
        follow_up_runner=runner,
        environ={},
    )


def escalated_incident(store, *extra_channels):
    """Paged on PagerDuty and #alerts at open, then an escalation step posted to #sre-leads."""
    incident = open_incident(store, pd_key="uptime-relay:k1")
    store.set_handles(incident.id, "slack-critical", {"channel": "C1", "ts": "1700000000.0001"})
    store.set_handles(incident.id, "slack-escalation", {"channel": "C2", "ts": "1700000300.0002"})
    for name in extra_channels:
        store.append_timeline(incident.id, TimelineEntry(SIM_START, "notified", "trigger sent", name))
    return store.get(incident.id)


def button(action, incident_id, *, channel="C1", ts="1700000000.0001", response_url=None):
    payload = {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "alice"},
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "channel": {"id": channel, "name": "alerts"},
        "message": {"ts": ts, "text": "ALARM api"},
        "actions": [{"action_id": action, "value": incident_id, "type": "button"}],
        "response_url": response_url,
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    now = str(int(datetime.now(UTC).timestamp()))
    headers = {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": slack_signature(SIGNING, now, body)}
    return headers, body


def test_the_slack_answer_does_not_wait_for_the_other_channels(store, log):
    incident = escalated_incident(store)
    jobs = []

    def runner(job):  # what the Lambda's asynchronous self-invocation receives
        log.append(("handed off", job["incident_id"]))
        jobs.append(json.loads(json.dumps(job)))  # it travels as JSON

    actions = make_actions(store, log, runner=runner)
    with HttpReceiver() as slack:
        headers, body = button("ack", incident.id, response_url=slack.url + "/r")
        response = actions.handle("POST", "/slack/actions", headers, body)
        log.append(("replied", response.status))
        updated = slack.to("/r")

    # before the reply: the store write, the clicked message's update, the hand-off; no sends
    assert store.get(incident.id).status == "acknowledged"
    assert updated and "Acknowledged by <@U024BE7LH>" in json.dumps(updated[0].json())
    assert log == [("handed off", incident.id), ("replied", 200)]

    actions.run_follow_up(jobs[0])  # later, in the asynchronous invocation
    sends = [(name, kind) for what, name, kind, _ in log[2:] if what == "send"]
    assert sends == [
        ("pd-primary", NotificationKind.ACKNOWLEDGE),
        ("slack-escalation", NotificationKind.ACKNOWLEDGE),
    ]


def test_outside_lambda_the_follow_ups_run_in_the_background(store, log):
    incident = escalated_incident(store)
    slow = threading.Event()
    actions = make_actions(store, log, gate=slow)
    done = threading.Event()
    on_change = actions.on_change

    def finished(*args, **kwargs):
        try:
            return on_change(*args, **kwargs)
        finally:
            done.set()

    actions.on_change = finished
    headers, body = button("resolve", incident.id)
    response = actions.handle("POST", "/slack/actions", headers, body)
    # the reply came while the first follow-up is still held up by the slow channel
    assert response.status == 200 and not slow.is_set() and not done.is_set()
    assert store.get(incident.id).status == "resolved"
    slow.set()
    assert done.wait(10)
    assert [name for _, name, _, _ in log] == ["pd-primary", "slack-escalation"]


def test_a_failed_hand_off_still_tells_the_other_channels(store, log):
    incident = escalated_incident(store)

    def broken(job):
        raise RuntimeError("AccessDeniedException: lambda:InvokeFunction")

    actions = make_actions(store, log, runner=broken)
    headers, body = button("ack", incident.id)
    assert actions.handle("POST", "/slack/actions", headers, body).status == 200
    assert [name for _, name, _, _ in log] == ["pd-primary", "slack-escalation"]


def test_a_button_in_the_escalation_channel_updates_the_first_slack_message(store, log):
    incident = escalated_incident(store)
    actions = make_actions(store, log, runner=lambda job: actions.run_follow_up(job))
    headers, body = button("ack", incident.id, channel="C2", ts="1700000300.0002")
    assert actions.handle("POST", "/slack/actions", headers, body).status == 200
    slack_sends = [(name, handles) for _, name, _, handles in log if name.startswith("slack")]
    assert slack_sends == [("slack-critical", {"channel": "C1", "ts": "1700000000.0001"})]


def test_a_button_on_an_older_message_of_a_channel_updates_its_newer_one(store, log):
    incident = escalated_incident(store)
    actions = make_actions(store, log, runner=lambda job: actions.run_follow_up(job))
    headers, body = button("ack", incident.id, channel="C1", ts="1699999000.0009")
    assert actions.handle("POST", "/slack/actions", headers, body).status == 200
    assert {name for _, name, _, _ in log} == {"pd-primary", "slack-critical", "slack-escalation"}


def test_a_button_on_a_webhook_message_skips_that_webhook_channel_only(store, log):
    # webhooks give no message handle back: the press came from the one channel without one
    incident = escalated_incident(store, "slack-hook")
    actions = make_actions(store, log, runner=lambda job: actions.run_follow_up(job))
    headers, body = button("resolve", incident.id, channel="C9", ts="1700000000.0005")
    assert actions.handle("POST", "/slack/actions", headers, body).status == 200
    assert {name for _, name, _, _ in log} == {"pd-primary", "slack-critical", "slack-escalation"}


def test_a_follow_up_job_for_an_unknown_incident_or_kind_sends_nothing(store, log):
    actions = make_actions(store, log)
    assert (
        actions.run_follow_up({"kind": "ack", "incident_id": "inc-gone", "by": "a", "via": "slack"}) is None
    )
    incident = escalated_incident(store)
    actions.run_follow_up({"kind": "delete", "incident_id": incident.id, "by": "a", "via": "slack"})
    actions.run_follow_up({"incident_id": incident.id})
    assert log == []


def test_an_acknowledgement_overtaken_by_its_resolve_is_not_announced_after_it(store, log):
    incident = escalated_incident(store)
    jobs = []
    actions = make_actions(store, log, runner=jobs.append)
    for action in ("ack", "resolve"):
        headers, body = button(action, incident.id)
        assert actions.handle("POST", "/slack/actions", headers, body).status == 200
    for job in jobs:  # the asynchronous invocations, late
        actions.run_follow_up(job)
    assert [(name, kind) for _, name, kind, _ in log] == [
        ("pd-primary", NotificationKind.RESOLVE),
        ("slack-escalation", NotificationKind.RESOLVE),
    ]
