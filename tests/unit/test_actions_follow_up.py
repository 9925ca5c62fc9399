"""After a person acknowledges or resolves from outside, the other channels hear about it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_actions_support import SIM_START, FixedClock, make_store, open_incident
from uptime_relay.acklinks import ack_recipient
from uptime_relay.actions import Actions
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.incident import TimelineEntry
from uptime_relay.followups import ChangeNotifier
from uptime_relay.notifiers.base import Delivery, DeliveryError, NotificationKind
from uptime_relay.security import make_ack_token

ACK_SECRET = "ack-secret"
CONFIG = parse_config(
    """
channels:
  pd-primary: {type: pagerduty, routing_key: env:PD_KEY}
  slack-critical: {type: slack, bot_token: env:SLACK_TOKEN, channel: "#alerts"}
  oncall-email: {type: email, to: [oncall@example.com], from: alerts@example.com}
routes:
  - notify: [pd-primary, slack-critical, oncall-email]
""",
    "test.yaml",
)


class RecordingNotifier:
    groups_alerts = False

    def __init__(self, type_, fail=False):
        self.type = type_
        self.sent = []
        self.fail = fail

    def build_payloads(self, channel, notification):
        return [{"kind": notification.kind.value}]

    def send(self, channel, notification, secrets):
        self.sent.append((channel.name, notification))
        if isinstance(self.fail, DeliveryError):
            raise self.fail
        if self.fail:
            raise DeliveryError("service unavailable", permanent=False, status=503)
        return Delivery(channel.name, dict(notification.handles), 200)


@pytest.fixture
def notifiers():
    return {t: RecordingNotifier(t) for t in ("pagerduty", "slack", "email")}


@pytest.fixture
def store():
    return make_store()


@pytest.fixture
def dead_letters():
    return InMemoryDeadLetters()


@pytest.fixture
def actions(store, notifiers, dead_letters):
    dispatcher = Dispatcher(
        CONFIG, notifiers, StaticSecrets(), dead_letters, max_attempts=1, sleep=lambda s: None
    )
    return Actions(
        CONFIG,
        store,
        secrets=StaticSecrets({"env:ACK": ACK_SECRET}),
        clock=FixedClock(SIM_START + timedelta(minutes=7)),
        ack_secret_ref="env:ACK",
        on_change=ChangeNotifier(CONFIG, dispatcher, store),
        environ={},
    )


def paged_incident(store):
    incident = open_incident(store, pd_key="uptime-relay:k1")
    store.set_handles(incident.id, "slack-critical", {"channel": "C1", "ts": "1700000000.0001"})
    store.append_timeline(incident.id, TimelineEntry(SIM_START, "notified", "trigger sent", "oncall-email"))
    return store.get(incident.id)


def ack_link(actions, incident, recipient=None):
    token = make_ack_token(ACK_SECRET, incident.id, SIM_START + timedelta(hours=1), recipient=recipient)
    assert actions.handle("GET", f"/ack/{token}", {}, b"").status == 200  # the confirmation page
    return actions.handle("POST", f"/ack/{token}", {}, b"")  # its Acknowledge button


def test_an_email_ack_acknowledges_in_pagerduty_and_updates_slack_but_sends_no_mail(
    actions, store, notifiers
):
    incident = paged_incident(store)
    assert ack_link(actions, incident, recipient=ack_recipient(CONFIG, "oncall-email")).status == 200
    ((_, pd),) = notifiers["pagerduty"].sent
    assert pd.kind is NotificationKind.ACKNOWLEDGE and pd.handles == {"dedup_key": "uptime-relay:k1"}
    assert pd.acknowledged_by == "oncall@example.com"
    assert store.get(incident.id).acknowledged_by == "oncall@example.com"
    ((_, slack),) = notifiers["slack"].sent
    assert slack.kind is NotificationKind.ACKNOWLEDGE and slack.handles["ts"] == "1700000000.0001"
    assert notifiers["email"].sent == []
    notified = [
        e.channel
        for e in store.get(incident.id).timeline
        if e.kind == "notified" and e.detail.startswith("ack")
    ]
    assert notified == ["pd-primary", "slack-critical"]


def test_a_pagerduty_resolve_is_not_echoed_back_to_pagerduty(actions, store, notifiers):
    incident = paged_incident(store)
    actions.apply("resolve", incident.id, by="Tenex Engineer", via="pagerduty", at=SIM_START)
    assert notifiers["pagerduty"].sent == []
    assert [n.kind for _, n in notifiers["slack"].sent] == [NotificationKind.RESOLVE]
    assert [n.kind for _, n in notifiers["email"].sent] == [NotificationKind.RESOLVE]


def test_a_slack_button_does_not_update_slack_twice(actions, store, notifiers):
    incident = paged_incident(store)
    pressed = {"channel": "C1", "ts": "1700000000.0001"}
    actions.apply("ack", incident.id, by="alice", via="slack", at=SIM_START, source=pressed)
    assert notifiers["slack"].sent == []
    assert len(notifiers["pagerduty"].sent) == 1


def ack_with_pagerduty_failing(store, notifiers, dead_letters):
    dispatcher = Dispatcher(
        CONFIG, notifiers, StaticSecrets(), dead_letters, max_attempts=1, sleep=lambda s: None
    )
    actions = Actions(
        CONFIG,
        store,
        secrets=StaticSecrets({"env:ACK": ACK_SECRET}),
        clock=FixedClock(SIM_START),
        ack_secret_ref="env:ACK",
        on_change=ChangeNotifier(CONFIG, dispatcher, store),
        environ={},
    )
    incident = paged_incident(store)
    assert ack_link(actions, incident).status == 200
    after = store.get(incident.id)
    assert after.status == "acknowledged"
    assert len(notifiers["pagerduty"].sent) == 1  # one attempt: Slack and browsers are waiting
    assert any(e.kind == "delivery_failed" and e.channel == "pd-primary" for e in after.timeline)
    return after


def test_a_transiently_failed_follow_up_is_kept_for_redelivery_and_the_ack_stands(
    store, notifiers, dead_letters
):
    """GIVEN PagerDuty answering 503 WHEN someone acknowledges THEN the acknowledge update is kept
    for automatic redelivery (not dead-lettered), and the acknowledgement stands."""
    notifiers["pagerduty"].fail = True
    after = ack_with_pagerduty_failing(store, notifiers, dead_letters)
    (pending,) = store.pending_sends(after.id)
    assert (pending.kind, pending.channel) == ("acknowledge", "pd-primary")
    assert any(e.kind == "redelivery_scheduled" for e in after.timeline)
    assert dead_letters.records == []


def test_a_permanently_failed_follow_up_is_dead_lettered_at_once(store, notifiers, dead_letters):
    """GIVEN PagerDuty rejecting the routing key (400) WHEN someone acknowledges THEN the
    acknowledge update goes to the dead-letter queue at once, nothing is kept for redelivery."""
    notifiers["pagerduty"].fail = DeliveryError("invalid routing key", permanent=True, status=400)
    after = ack_with_pagerduty_failing(store, notifiers, dead_letters)
    assert store.pending_sends(after.id) == []
    assert len(dead_letters.records) == 1


def test_nothing_is_sent_when_nothing_changed(actions, store, notifiers):
    incident = paged_incident(store)
    store.acknowledge(incident.id, by="bob", via="cli", at=SIM_START)
    actions.apply("ack", incident.id, by="alice", via="slack", at=SIM_START)
    assert all(n.sent == [] for n in notifiers.values())


def test_the_recipient_of_an_ack_link_is_the_one_address_its_mail_went_to():
    config = parse_config(
        """
channels:
  one: {type: email, to: [oncall@example.com], from: alerts@example.com}
  team: {type: email, to: [a@example.com, b@example.com], from: alerts@example.com}
  slack-critical: {type: slack, webhook_url: "https://hooks.slack.com/services/T/B/x"}
routes:
  - notify: [one]
""",
        "test.yaml",
    )
    assert ack_recipient(config, "one") == "oncall@example.com"
    assert ack_recipient(config, "team") is None
    # an escalation e-mails a person through a channel: that person is the recipient
    assert ack_recipient(config, "team", ("alice@example.com",)) == "alice@example.com"
    assert ack_recipient(config, "slack-critical") is None
    assert ack_recipient(config, "gone") is None
