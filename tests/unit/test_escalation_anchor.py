"""Escalation delays count from when the relay learnt of the alarm, not from the alarm's own time.

GIVEN an Alertmanager alert that started firing at 09:50 but reached the relay at 10:00, under a
policy "5 minutes: PagerDuty, 15 minutes: the on-call mailbox" WHEN the escalator sweeps every
minute THEN PagerDuty is paged at 10:05 and the mailbox at 10:15, while the incident still says it
opened at 09:50.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.escalation import anchor_of, due_at
from uptime_relay.domain.incident import TimelineEntry
from uptime_relay.domain.silence import Silence
from uptime_relay.escalator import sweep
from uptime_relay.notifiers.base import Delivery, DeliveryError
from uptime_relay.relay import Relay

STARTED = datetime(2026, 11, 24, 9, 50, tzinfo=UTC)
ARRIVED = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CONFIG = parse_config(
    """
channels:
  slack-critical: {type: slack, webhook_url: "https://hooks.example.test/x"}
  pd-primary: {type: pagerduty, routing_key: "k"}
  oncall-email: {type: email, to: [oncall@example.com], from: alerts@example.com}
routes:
  - match: {severity: critical}
    notify: [slack-critical]
    escalation: critical
escalation_policies:
  critical:
    steps:
      - {after: 5m, notify: [pd-primary]}
      - {after: 15m, notify: [oncall-email]}
""",
    "anchor-test.yaml",
)


class Recorder:
    groups_alerts = True

    def __init__(self, type_: str, log: list, failures: dict[str, deque]):
        self.type = type_
        self.log = log
        self.failures = failures

    def build_payloads(self, channel, notification) -> list[dict[str, Any]]:
        return [{}]

    def send(self, channel, notification, secrets):
        script = self.failures.get(channel.name)
        if script:
            raise script.popleft()
        self.log.append((self.now(), channel.name))
        return Delivery(channel.name)


class World:
    def __init__(self):
        self.store = InMemoryIncidentStore()
        self.sent: list[tuple[datetime, str]] = []
        self.failures: dict[str, deque] = {}
        self.at = ARRIVED
        notifiers = {}
        for type_ in ("slack", "pagerduty", "email"):
            notifiers[type_] = Recorder(type_, self.sent, self.failures)
            notifiers[type_].now = lambda: self.at
        self.dispatcher = Dispatcher(
            CONFIG, notifiers, StaticSecrets(), InMemoryDeadLetters(), sleep=lambda s: None
        )
        self.relay = Relay(CONFIG, self.store, self.dispatcher)

    def late_alert(self) -> str:
        alert = Alert(
            AlertSource.ALERTMANAGER,
            "am-fingerprint-1",
            "HighErrorRate",
            AlertState.ALARM,
            "error rate above 5%",
            STARTED,
            {"alertname": "HighErrorRate", "severity": "critical"},
        )
        [result] = self.relay.handle([alert], ARRIVED)
        return result.incident_id

    def sweeps(self, until: datetime, **kw) -> None:
        while self.at <= until:
            sweep(CONFIG, self.store, self.dispatcher, self.at, **kw)
            self.at += timedelta(minutes=1)


def minute(hh_mm: str) -> datetime:
    hours, minutes = hh_mm.split(":")
    return datetime(2026, 11, 24, int(hours), int(minutes), tzinfo=UTC)


def test_a_late_alert_gets_its_full_escalation_delays_counted_from_its_arrival():
    world = World()
    iid = world.late_alert()
    world.sweeps(minute("10:30"))
    assert world.sent == [
        (minute("10:00"), "slack-critical"),  # the first page, at once
        (minute("10:05"), "pd-primary"),  # 5 minutes after arrival, not at the first sweep
        (minute("10:15"), "oncall-email"),  # 15 minutes after arrival, 10 after the previous step
    ]
    incident = world.store.get(iid)
    assert incident.opened_at == STARTED  # reporting keeps the alarm's own time


def test_the_schedule_keeps_its_anchor_through_a_retried_step():
    world = World()
    world.late_alert()
    world.failures["pd-primary"] = deque(DeliveryError("503", permanent=False) for _ in range(4))
    world.sweeps(minute("10:30"))
    assert world.sent[1:] == [(minute("10:06"), "pd-primary"), (minute("10:15"), "oncall-email")]


def test_the_schedule_keeps_its_anchor_through_a_silence_hold():
    world = World()
    world.late_alert()
    silence = Silence("s1", {"alertname": "HighErrorRate"}, ARRIVED, minute("10:07"), "ana", "deploy")
    world.sweeps(minute("10:30"), silences=[silence])
    # held at 10:05 for HOLD_S (5 min): the held step goes out at 10:10, the next on its own time
    assert world.sent[1:] == [(minute("10:10"), "pd-primary"), (minute("10:15"), "oncall-email")]


def test_an_alert_that_arrives_on_time_escalates_from_its_own_time():
    world = World()
    alert = Alert(
        AlertSource.CLOUDWATCH,
        "alarm-api",
        "api down",
        AlertState.ALARM,
        "r",
        ARRIVED,
        {"severity": "critical"},
    )
    world.relay.handle([alert], ARRIVED + timedelta(seconds=20))  # delivered 20 s after the state change
    world.sweeps(minute("10:30"))
    assert [at for at, _ in world.sent[1:]] == [
        minute("10:06"),  # due 10:05:20, fired by the first sweep after it
        minute("10:16"),
    ]


@given(
    step=st.integers(0, 1),
    round_=st.integers(0, 3),
    offset_s=st.integers(0, 86_400),
)
def test_the_anchor_of_a_due_time_is_the_time_the_schedule_counts_from(step, round_, offset_s):
    policy = CONFIG.escalation_policies["critical"]
    anchor = ARRIVED + timedelta(seconds=offset_s)
    assert anchor_of(policy, step, round_, due_at(policy, anchor, step, round_)) == anchor


def test_the_anchor_survives_a_trimmed_timeline_between_a_failed_attempt_and_its_retry():
    """A flapping alarm fills the timeline (capped at 200 entries) while a step waits for its retry:
    the claim entries are trimmed away, the schedule still counts from the arrival."""
    world = World()
    iid = world.late_alert()
    assert world.store.get(iid).escalation_anchor == ARRIVED
    world.failures["pd-primary"] = deque(DeliveryError("503", permanent=False) for _ in range(4))
    world.sweeps(minute("10:05"))  # pd-primary fails at 10:05: retried at 10:06
    flap = Alert(
        AlertSource.ALERTMANAGER,
        "am-fingerprint-1",
        "HighErrorRate",
        AlertState.ALARM,
        "error rate above 5%",
        STARTED,
        {"alertname": "HighErrorRate", "severity": "critical"},
    )
    for second in range(1, 251):  # the same alarm again and again: each one a timeline entry
        world.relay.handle([replace(flap, time=STARTED + timedelta(seconds=second))], minute("10:05"))
    incident = world.store.get(iid)
    assert not any(e.kind == "escalation_attempt" for e in incident.timeline)  # trimmed away
    world.sweeps(minute("10:30"))
    assert world.sent[1:] == [(minute("10:06"), "pd-primary"), (minute("10:15"), "oncall-email")]


def test_an_incident_from_before_the_anchor_field_keeps_its_schedule_from_the_old_text():
    """Incidents written by an older relay have no ``escalation_anchor``: the anchor older sweeps
    wrote into the claim entry is read once and then stored in the field."""
    world = World()
    iid = world.late_alert()
    world.failures["pd-primary"] = deque(DeliveryError("503", permanent=False) for _ in range(4))
    world.sweeps(minute("10:05"))
    old = world.store.get(iid)
    legacy_claim = TimelineEntry(
        minute("10:05"),
        "escalation_attempt",
        f"escalation step 1, round 1: attempt 1 claimed until x; timed from {ARRIVED.isoformat()}",
    )
    world.store._incidents[iid] = replace(old, escalation_anchor=None, timeline=(*old.timeline, legacy_claim))
    world.sweeps(minute("10:30"))
    assert world.sent[1:] == [(minute("10:06"), "pd-primary"), (minute("10:15"), "oncall-email")]
    assert world.store.get(iid).escalation_anchor == ARRIVED
