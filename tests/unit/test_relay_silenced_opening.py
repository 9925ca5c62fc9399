"""An outage that starts inside a maintenance window or a one-off silence still pages if it outlasts it.

GIVEN the relay opens an incident while a silence covers it (nobody paged: CloudWatch will not send
ALARM again) WHEN the escalation sweep runs once a simulated minute THEN the held first page goes
out once, at the first sweep after the silence is over, to the targets the relay would have paged,
and the policy runs from then on; an incident that recovers inside the window pages nobody.
Also pins the acknowledge link lifetime the README promises (24 h).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from uptime_relay import clock
from uptime_relay.acklinks import ACK_LINK_LIFETIME, ack_url_factory
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.adapters.silences import InMemorySilences
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.silence import Silence
from uptime_relay.escalator import sweep
from uptime_relay.notifiers.base import NotificationKind
from uptime_relay.relay import Relay, silencer
from uptime_relay.security import Expired, verify_ack_token
from uptime_relay_tools.testing.fake_notifiers import fake_notifiers

NIGHT = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # the nightly window: 02:00-04:00 UTC
CONFIG = parse_config(
    """
channels:
  slack-critical: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd-primary: {type: pagerduty, routing_key: env:PD_KEY}
  oncall-email: {type: email, to: [oncall@example.com], from: alerts@example.com}
routes:
  - match: {severity: critical}
    notify: [pd-primary, slack-critical]
    escalation: critical
escalation_policies:
  critical:
    steps:
      - {after: 0m, notify: [slack-critical]}
      - {after: 10m, notify: [oncall-email]}
maintenance:
  - {name: nightly, match: {team: web}, cron: "0 2 * * *", duration: 2h, timezone: UTC}
"""
)
TRIGGERS = [("pd-primary", NotificationKind.TRIGGER), ("slack-critical", NotificationKind.TRIGGER)]


class World:
    def __init__(self):
        self.store = InMemoryIncidentStore()
        self.silences = InMemorySilences()
        self.notifiers = fake_notifiers()
        self.dispatcher = Dispatcher(
            CONFIG,
            self.notifiers,
            StaticSecrets({"env:PD_KEY": "k"}),
            InMemoryDeadLetters(),
            sleep=lambda s: None,
        )
        self.relay = Relay(
            CONFIG, self.store, self.dispatcher, silenced=silencer(CONFIG, self.silences.active)
        )
        self.log: list[tuple[datetime, str, NotificationKind]] = []

    def alert(self, state: AlertState, at: datetime, **labels: str) -> Alert:
        labels = {"severity": "critical", "team": "web", **labels}
        return Alert(AlertSource.CLOUDWATCH, "alarm-web", "web down", state, "3 of 3 failed", at, labels)

    def relay_at(self, state: AlertState, at: datetime, **labels: str) -> None:
        before = self._counts()
        self.relay.handle([self.alert(state, at, **labels)], now=at)
        self._log_since(before, at)

    def sweep(self, at: datetime):
        before = self._counts()
        report = sweep(CONFIG, self.store, self.dispatcher, at, silences=self.silences.active)
        self._log_since(before, at)
        return report

    def _counts(self) -> dict[str, int]:
        return {t: len(n.sent) for t, n in self.notifiers.items()}

    def _log_since(self, before: dict[str, int], at: datetime) -> None:
        for t, notifier in self.notifiers.items():
            self.log.extend((at, ch, n.kind) for ch, n in notifier.sent[before[t] :])

    def sweep_minutes(self, start: datetime, end: datetime) -> None:
        at = start
        while at <= end:
            self.sweep(at)
            at += timedelta(minutes=1)

    def sent(self) -> list[tuple[str, NotificationKind]]:
        return [(ch, n.kind) for notifier in self.notifiers.values() for ch, n in notifier.sent]

    def incident(self):
        (incident,) = self.store.list(statuses=("open", "acknowledged", "resolved"))
        return incident


@pytest.fixture
def world():
    return World()


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return NIGHT.replace(hour=hh, minute=mm, second=ss)


def test_an_outage_that_recovers_inside_the_window_pages_nobody(world):
    world.relay_at(AlertState.ALARM, at(2, 5))
    world.sweep_minutes(at(2, 5), at(2, 40))
    world.relay_at(AlertState.OK, at(2, 40, 30))
    world.sweep_minutes(at(2, 41), at(5, 0))
    assert world.log == []
    incident = world.incident()
    assert incident.status == "resolved" and incident.due_at is None
    kinds = [e.kind for e in incident.timeline]
    assert kinds[:2] == ["opened", "silenced"] and "unsilenced" not in kinds
    assert "maintenance nightly" in incident.timeline[1].detail


def test_an_outage_that_outlasts_the_window_pages_once_when_it_ends_then_escalates(world):
    world.relay_at(AlertState.ALARM, at(2, 5))
    assert world.log == []  # nobody paged inside the window
    world.sweep_minutes(at(2, 5), at(4, 30))
    # the opening page at the first sweep after 04:00, once, to the relay's first-page targets;
    # the policy then runs from that page: its 10-minute step at 04:10
    assert sorted(world.log) == [
        (at(4, 0), "pd-primary", NotificationKind.TRIGGER),
        (at(4, 0), "slack-critical", NotificationKind.TRIGGER),
        (at(4, 10), "oncall-email", NotificationKind.ESCALATION),
    ]
    incident = world.incident()
    assert not incident.silenced and incident.pending == () and not incident.cursor_held
    assert incident.escalation_anchor == at(4, 0)
    assert incident.handles.keys() >= {"pd-primary", "slack-critical"}  # the resolve will reach them
    # two hours of once-a-minute re-checks left no trace beyond the silenced/unsilenced notes
    kinds = [e.kind for e in incident.timeline]
    assert kinds.count("silenced") == 1 and kinds.count("unsilenced") == 1 and len(kinds) < 10

    world.relay_at(AlertState.OK, at(4, 45))
    assert sorted(world.log[3:]) == [
        (at(4, 45), "oncall-email", NotificationKind.RESOLVE),
        (at(4, 45), "pd-primary", NotificationKind.RESOLVE),
        (at(4, 45), "slack-critical", NotificationKind.RESOLVE),
    ]


def test_a_one_off_silence_ended_early_pages_at_the_next_sweep(world):
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    world.silences.add(Silence("sil-1", {"team": "web"}, start, start + timedelta(hours=2), "ana", "deploy"))
    world.relay_at(AlertState.ALARM, start + timedelta(minutes=1))
    world.sweep_minutes(start + timedelta(minutes=1), start + timedelta(minutes=20))
    assert world.log == []
    world.silences.end("sil-1", start + timedelta(minutes=20, seconds=30))  # `silence end`
    world.sweep(start + timedelta(minutes=21))
    assert sorted((ch, kind) for _, ch, kind in world.log) == TRIGGERS
    world.sweep_minutes(start + timedelta(minutes=22), start + timedelta(minutes=35))
    assert world.log[2:] == [(start + timedelta(minutes=31), "oncall-email", NotificationKind.ESCALATION)]


def test_overlapping_sweeps_after_the_window_send_the_first_page_once(world):
    world.relay_at(AlertState.ALARM, at(2, 5))
    world.sweep(at(3, 59))
    gate = threading.Barrier(4)

    def run():
        gate.wait()
        world.sweep(at(4, 0))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    world.sweep(at(4, 0, 30))  # and a retried invocation after them
    assert sorted(world.sent()) == TRIGGERS


def test_a_sweep_that_dies_after_taking_the_held_page_is_finished_by_a_later_sweep(world):
    world.relay_at(AlertState.ALARM, at(2, 5))
    crash = {"on": True}
    real = world.dispatcher.deliver

    def deliver(*args, **kwargs):
        if crash["on"]:
            raise SystemExit("sweep killed while sending")
        return real(*args, **kwargs)

    world.dispatcher.deliver = deliver
    with pytest.raises(SystemExit):
        world.sweep(at(4, 0))
    crash["on"] = False
    world.sweep(at(4, 0, 30))  # its lease still runs
    assert world.sent() == []
    world.sweep_minutes(at(4, 2), at(4, 5))
    assert sorted(world.sent()) == TRIGGERS


def test_an_incident_acknowledged_inside_the_window_is_not_paged_after_it(world):
    world.relay_at(AlertState.ALARM, at(2, 5))
    assert world.store.acknowledge(world.incident().id, by="ana", via="cli", at=at(2, 30))
    world.sweep_minutes(at(2, 30), at(5, 0))
    assert world.log == []


def test_a_redelivered_alarm_inside_the_window_pages_nobody(world):
    world.relay_at(AlertState.ALARM, at(2, 5))
    world.sweep(at(2, 6))
    world.relay_at(AlertState.ALARM, at(2, 5))  # the same state change again (SNS retry)
    world.relay_at(AlertState.ALARM, at(2, 30))
    world.sweep_minutes(at(2, 30), at(3, 59))
    assert world.log == []
    world.sweep(at(4, 0))
    assert sorted(world.sent()) == TRIGGERS


def test_ack_links_last_24_hours():
    assert timedelta(hours=24) == ACK_LINK_LIFETIME

    class Still:
        def now(self):
            return NIGHT

        def sleep(self, seconds):
            return None

    previous = clock.install(Still())
    try:
        url = ack_url_factory("https://actions.example", lambda: "s3cret")(SimpleNamespace(id="inc-1"))
    finally:
        clock.install(previous)
    token = url.rsplit("/", 1)[1]
    assert verify_ack_token("s3cret", token, NIGHT + timedelta(hours=23, minutes=59)).expires_at == (
        NIGHT + timedelta(hours=24)
    )
    with pytest.raises(Expired):
        verify_ack_token("s3cret", token, NIGHT + timedelta(hours=24, seconds=1))
