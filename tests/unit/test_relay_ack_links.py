"""The acknowledge link in an e-mail, from the relay (or the escalator) that writes it to the actions
router that honours it: it acknowledges as the mail's one recipient, and a grouped e-mail's link
acknowledges every incident the mail lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from uptime_relay import clock
from uptime_relay.acklinks import ack_url_factory
from uptime_relay.actions import EMAIL_LINK_BY, Actions
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.escalator import sweep
from uptime_relay.notifiers.base import NotificationKind
from uptime_relay.relay import Relay
from uptime_relay_tools.testing.fake_notifiers import fake_notifiers
from uptime_relay_tools.testing.relay_kit import alertmanager_body

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
ACK_SECRET = "ack-link-secret-for-tests"
CONFIG = parse_config(
    """
channels:
  oncall-email: {type: email, to: [oncall@example.com], from: alerts@example.com}
  team-email: {type: email, to: [ana@example.com, bo@example.com], from: alerts@example.com}
people:
  ana: {email: ana@example.com, slack: U0ANA}
routes:
  - match: {team: solo}
    notify: [oncall-email]
    escalation: ana-after-5m
  - match: {team: many}
    notify: [team-email]
escalation_policies:
  ana-after-5m:
    steps:
      - {after: 5m, notify: ["person:ana"]}
""",
    "ack-links.yaml",
)


class StillClock:
    def __init__(self, at: datetime):
        self.at = at

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        return None


class World:
    def __init__(self):
        self.store = InMemoryIncidentStore()
        self.notifiers = fake_notifiers()
        self.dispatcher = Dispatcher(
            CONFIG, self.notifiers, StaticSecrets(), InMemoryDeadLetters(), sleep=lambda s: None
        )
        self.ack_url_for = ack_url_factory("https://actions.example.test", lambda: ACK_SECRET)
        self.relay = Relay(CONFIG, self.store, self.dispatcher, ack_url_for=self.ack_url_for)
        self.actions = Actions(
            CONFIG,
            self.store,
            secrets=StaticSecrets({"env:ACK": ACK_SECRET}),
            ack_secret_ref="env:ACK",
            clock=clock.current(),
            environ={},
        )

    def emails(self, kind=NotificationKind.TRIGGER):
        return [(ch, n) for ch, n in self.notifiers["email"].sent if n.kind is kind]

    def click(self, url: str):
        """Open the link (confirmation page), then press its Acknowledge button."""
        path = urlsplit(url).path
        page = self.actions.handle("GET", path, {}, b"")
        assert page.status == 200, page.body
        return self.actions.handle("POST", path, {}, b"")


@pytest.fixture
def world():
    previous = clock.install(StillClock(T0))
    try:
        yield World()
    finally:
        clock.install(previous)


def firing(team: str, n: int):
    return alertmanager_body(
        [
            {
                "labels": {"alertname": "HighErrorRate", "team": team, "instance": f"api-{i}"},
                "fingerprint": f"{team}-fp{i}",
                "startsAt": "2026-11-25T10:00:00Z",
            }
            for i in range(n)
        ],
        group_key=f'{{}}:{{team="{team}"}}',
    )


def test_an_email_to_one_address_acknowledges_as_that_address(world):
    world.relay.process_sns_event(firing("solo", 1))
    [(channel, mail)] = world.emails()
    assert channel == "oncall-email" and mail.ack_url
    response = world.click(mail.ack_url)
    assert response.status == 200 and "acknowledged by oncall@example.com" in response.body
    [incident] = world.store.list()
    assert incident.status == "acknowledged" and incident.acknowledged_by == "oncall@example.com"


def test_an_escalation_emailed_to_one_person_acknowledges_as_that_person(world):
    world.relay.process_sns_event(firing("solo", 1))
    sweep(CONFIG, world.store, world.dispatcher, T0 + timedelta(minutes=5), ack_url_for=world.ack_url_for)
    [(channel, mail)] = world.emails(NotificationKind.ESCALATION)
    assert channel == "oncall-email"  # the person's copy goes out through the e-mail channel
    assert world.click(mail.ack_url).status == 200
    [incident] = world.store.list()
    assert incident.acknowledged_by == "ana@example.com"


def test_a_grouped_emails_link_acknowledges_every_incident_it_lists(world):
    world.relay.process_sns_event(firing("many", 3))
    [(channel, mail)] = world.emails()
    assert channel == "team-email" and len(mail.alerts) == 3
    assert len(urlsplit(mail.ack_url).path) - len("/ack/") <= 300  # the token stays compact
    response = world.click(mail.ack_url)
    assert response.status == 200 and "3 incidents are acknowledged" in response.body
    incidents = world.store.list()
    assert len(incidents) == 3
    # mailed to two people: nobody in particular is recorded
    assert {(i.status, i.acknowledged_by) for i in incidents} == {("acknowledged", EMAIL_LINK_BY)}


def test_a_big_groups_link_stays_compact_and_still_acknowledges_the_whole_group(world):
    world.relay.process_sns_event(firing("many", 12))
    [(_, mail)] = world.emails()
    assert len(urlsplit(mail.ack_url).path) - len("/ack/") <= 300
    assert world.click(mail.ack_url).status == 200
    incidents = world.store.list()
    assert len(incidents) == 12 and {i.status for i in incidents} == {"acknowledged"}


def test_a_grouped_link_with_one_member_resolved_acknowledges_the_rest(world):
    world.relay.process_sns_event(firing("many", 3))
    [(_, mail)] = world.emails()
    first, *rest = world.store.list()
    world.store.resolve(first.id, by="alarm", via="alarm", at=T0)
    assert world.click(mail.ack_url).status == 200
    assert world.store.get(first.id).status == "resolved"
    assert {world.store.get(i.id).status for i in rest} == {"acknowledged"}
