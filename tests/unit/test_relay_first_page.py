"""The first page: never lost when the relay dies after saving the incident, and the on-call person
named by an `after: 0m` step is e-mailed as well as mentioned.

GIVEN the relay saved a new incident (first page pending under a lease) and died before sending,
and the alarm is never delivered again, WHEN the escalation sweep runs THEN the opening page goes
out exactly once after the lease and escalation then carries on from the policy's real cursor.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.escalation import initial_cursor
from uptime_relay.escalator import sweep
from uptime_relay.notifiers.base import NotificationKind
from uptime_relay.relay import Relay
from uptime_relay_tools.testing.fake_notifiers import fake_notifiers

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # ana is on call (daily rotation from Nov 24 09:00)
CONFIG = parse_config(
    """
channels:
  slack-critical: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd-primary: {type: pagerduty, routing_key: env:PD_KEY}
  oncall-email: {type: email, to: [oncall@example.com], from: alerts@example.com}
people:
  ana: {email: ana@example.com, slack: U0ANA}
  bo: {email: bo@example.com, slack: U0BO}
schedules:
  primary: {timezone: Europe/Berlin, rotation: daily, handoff: "09:00", start: 2026-11-24, members: [ana, bo]}
routes:
  - match: {severity: critical}
    notify: [pd-primary, slack-critical]
    escalation: critical
  - match: {severity: people}
    notify: [slack-critical]
    escalation: people
  - match: {severity: quiet}
    notify: [pd-primary]
escalation_policies:
  critical:
    steps:
      - {after: 0m, notify: [slack-critical]}
      - {after: 10m, notify: [oncall-email]}
  people:
    steps:
      - {after: 0m, notify: ["oncall:primary", "person:bo"]}
      - {after: 15m, notify: [pd-primary]}
"""
)
POLICY = CONFIG.escalation_policies["critical"]


class World:
    def __init__(self):
        self.store = InMemoryIncidentStore()
        self.notifiers = fake_notifiers()
        self.email_to: list[tuple[str, ...]] = []  # the `to` each e-mail went to
        email, send = self.notifiers["email"], self.notifiers["email"].send

        def recording_send(channel, notification, secrets):
            self.email_to.append(tuple(channel.options.get("to") or ()))
            return send(channel, notification, secrets)

        email.send = recording_send
        self.dead = InMemoryDeadLetters()
        self.dispatcher = Dispatcher(
            CONFIG, self.notifiers, StaticSecrets({"env:PD_KEY": "k"}), self.dead, sleep=lambda s: None
        )
        self.relay = Relay(CONFIG, self.store, self.dispatcher)

    def alert(self, severity="critical", at=T0):
        return Alert(AlertSource.CLOUDWATCH, f"alarm-{severity}", "api down", AlertState.ALARM, "r", at,
                     labels={"severity": severity})  # fmt: skip

    def open_and_die(self, severity="critical", at=T0):
        """The relay saves the incident, then the function dies before any send."""

        def crash(*args):
            raise SystemExit("function timed out after saving the incident")

        real, self.relay._deliver = self.relay._deliver, crash
        try:
            with pytest.raises(SystemExit):
                self.relay.handle([self.alert(severity, at)], now=at)
        finally:
            self.relay._deliver = real
        (incident,) = self.store.list()
        return incident

    def sweep(self, at):
        return sweep(CONFIG, self.store, self.dispatcher, at)

    def sent(self):
        return [(ch, n.kind) for notifier in self.notifiers.values() for ch, n in notifier.sent]

    def sent_to(self, channel):
        return [n for notifier in self.notifiers.values() for ch, n in notifier.sent if ch == channel]


@pytest.fixture
def world():
    return World()


def test_a_first_page_whose_sender_died_is_sent_by_the_sweep_once(world):
    incident = world.open_and_die()
    assert incident.pending == ("pd-primary", "slack-critical") and world.sent() == []
    assert incident.due_at == incident.pending_until  # the due index sees the pending first page

    world.sweep(T0 + timedelta(seconds=30))  # the opener's lease still runs: it may be sending
    assert world.sent() == []
    report = world.sweep(T0 + timedelta(seconds=61))
    assert sorted(world.sent()) == [
        ("pd-primary", NotificationKind.TRIGGER),
        ("slack-critical", NotificationKind.TRIGGER),
    ]
    assert [f.first_page for f in report.fired] == [True]
    for minute in range(2, 10):  # later sweeps send nothing more
        world.sweep(T0 + timedelta(minutes=minute))
    assert len(world.sent()) == 2

    after = world.store.get(incident.id)
    assert after.pending == () and not after.cursor_held
    assert after.handles.keys() == {"pd-primary", "slack-critical"}
    assert after.due_at == initial_cursor(POLICY, T0).due_at  # the real escalation cursor is back
    world.sweep(T0 + timedelta(minutes=10))
    assert world.sent()[2:] == [("oncall-email", NotificationKind.ESCALATION)]


def test_a_normal_first_page_gives_the_escalation_cursor_back_at_once(world):
    world.relay.handle([world.alert()], now=T0)
    (incident,) = world.store.list()
    assert incident.pending == () and not incident.cursor_held
    assert incident.due_at == initial_cursor(POLICY, T0).due_at
    world.sweep(T0 + timedelta(seconds=61))
    world.sweep(T0 + timedelta(minutes=5))
    assert len(world.sent()) == 2  # the two first-page TRIGGERs, nothing from the sweeps


def test_a_sender_that_died_after_sending_but_before_restoring_the_cursor_is_finished_by_the_sweep(world):
    real_release = world.store.release_hold

    def dies(*args, **kwargs):
        raise SystemExit("function died after recording the first page")

    world.store.release_hold = dies
    with pytest.raises(SystemExit):
        world.relay.handle([world.alert()], now=T0)
    world.store.release_hold = real_release
    (incident,) = world.store.list()
    assert incident.pending == () and incident.cursor_held
    world.sweep(T0 + timedelta(seconds=61))
    after = world.store.get(incident.id)
    assert not after.cursor_held and after.due_at == initial_cursor(POLICY, T0).due_at
    assert len(world.sent()) == 2  # nothing sent twice


def test_a_redelivery_and_the_sweep_take_the_first_page_over_only_once(world):
    incident = world.open_and_die()
    world.relay.handle([world.alert()], now=T0 + timedelta(seconds=61))  # Lambda's retry claims it
    world.sweep(T0 + timedelta(seconds=62))
    world.sweep(T0 + timedelta(minutes=3))
    assert sorted(world.sent()) == [
        ("pd-primary", NotificationKind.TRIGGER),
        ("slack-critical", NotificationKind.TRIGGER),
    ]
    assert world.store.get(incident.id).due_at == initial_cursor(POLICY, T0).due_at


def test_an_acknowledged_or_resolved_incident_is_not_paged_by_the_sweep(world):
    incident = world.open_and_die()
    world.store.resolve(incident.id, by="bob", via="cli", at=T0 + timedelta(seconds=10))
    world.sweep(T0 + timedelta(minutes=2))
    assert world.sent() == []


def test_without_an_escalation_policy_the_sweep_sends_the_first_page_then_leaves_it(world):
    incident = world.open_and_die("quiet")
    assert incident.due_at == incident.pending_until
    world.sweep(T0 + timedelta(seconds=61))
    assert world.sent() == [("pd-primary", NotificationKind.TRIGGER)]
    after = world.store.get(incident.id)
    assert after.due_at is None and world.store.due(T0 + timedelta(days=1)) == []


def test_a_step_zero_oncall_target_is_emailed_and_mentioned_at_open(world):
    world.relay.handle([world.alert("people")], now=T0)
    (slack,) = world.sent_to("slack-critical")
    assert set(slack.mentions) == {"U0ANA", "U0BO"}
    emails = world.notifiers["email"].sent
    assert len(emails) == 1
    channel, notification = emails[0]
    assert channel == "oncall-email" and notification.kind is NotificationKind.TRIGGER
    assert notification.alerts[0].name == "api down"
    assert world.email_to == [("ana@example.com", "bo@example.com")]
    (incident,) = world.store.list()
    assert incident.pending == () and incident.emails == ("ana@example.com", "bo@example.com")
    assert any(e.kind == "notified" and e.channel == "oncall-email" for e in incident.timeline)


def test_the_on_call_persons_email_is_part_of_a_first_page_the_sweep_takes_over(world):
    incident = world.open_and_die("people")
    assert incident.pending == ("slack-critical", "oncall-email:people")
    world.sweep(T0 + timedelta(seconds=61))
    assert sorted(world.sent()) == [
        ("oncall-email", NotificationKind.TRIGGER),
        ("slack-critical", NotificationKind.TRIGGER),
    ]
    assert world.email_to == [("ana@example.com", "bo@example.com")]
    assert world.store.get(incident.id).pending == ()
