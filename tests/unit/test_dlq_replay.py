"""`uptime-relay dlq replay`: what is over is not re-paged; resolves still go out."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.notifiers.base import DeliveryError, NotificationKind
from uptime_relay.relay import Relay
from uptime_relay_tools.cli.dlq import replay
from uptime_relay_tools.testing.fake_notifiers import fake_notifiers
from uptime_relay_tools.testing.relay_kit import alarm_message

T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
CONFIG = parse_config(
    """
checks:
  - name: api
    url: https://api.example.com/health
    labels: {severity: critical}
channels:
  pd-primary: {type: pagerduty, routing_key: env:PD_KEY}
routes:
  - notify: [pd-primary]
"""
)


class World:
    def __init__(self):
        self.store = InMemoryIncidentStore()
        self.dlq = InMemoryDeadLetters()
        self.notifiers = fake_notifiers()
        self.dispatcher = Dispatcher(
            CONFIG, self.notifiers, StaticSecrets({"env:PD_KEY": "k"}), self.dlq, sleep=lambda s: None
        )
        self.relay = Relay(CONFIG, self.store, self.dispatcher)

    def alarm(self, state: str, at: datetime, *, fail: bool = False):
        if fail:
            self.notifiers["pagerduty"].fail_next(DeliveryError("400 bad event", permanent=True))
        from uptime_relay.intake import parse_event

        return self.relay.handle(parse_event(alarm_message("api-down", state, at, check="api")), at)

    def replay(self, *, store=True) -> tuple[tuple[int, int], str]:
        out = io.StringIO()
        counts = replay(self.dlq, self.dispatcher, CONFIG, store=self.store if store else None, out=out)
        return counts, out.getvalue()


def test_a_dead_lettered_trigger_of_a_resolved_incident_is_skipped_and_deleted_not_re_paged():
    world = World()
    world.alarm("ALARM", T0, fail=True)  # the page is dead-lettered
    world.alarm("OK", T0 + timedelta(minutes=5))  # the outage ends; its resolve is delivered
    pd = world.notifiers["pagerduty"]
    sent_before = len(pd.sent)

    (replayed, kept), printed = world.replay()

    assert (replayed, kept) == (0, 0)
    assert len(pd.sent) == sent_before  # nobody paged for an outage that is over
    assert len(world.dlq) == 0
    assert "skipped and deleted (incident no longer open: inc-" in printed and "resolved" in printed


def test_a_dead_lettered_trigger_of_an_acknowledged_incident_is_skipped():
    world = World()
    world.alarm("ALARM", T0, fail=True)
    [incident] = world.store.list()
    world.store.acknowledge(incident.id, by="alice", via="cli", at=T0 + timedelta(minutes=1))

    (replayed, _), printed = world.replay()

    assert replayed == 0 and len(world.dlq) == 0
    assert "acknowledged" in printed


def test_a_dead_lettered_trigger_of_a_still_open_incident_is_replayed():
    world = World()
    world.alarm("ALARM", T0, fail=True)

    (replayed, kept), _ = world.replay()

    assert (replayed, kept) == (1, 0)
    assert world.notifiers["pagerduty"].kinds() == [NotificationKind.TRIGGER]


def test_a_dead_lettered_resolve_is_replayed_even_though_its_incident_is_closed():
    world = World()
    world.alarm("ALARM", T0)
    world.alarm("OK", T0 + timedelta(minutes=5), fail=True)

    (replayed, kept), _ = world.replay()

    assert (replayed, kept) == (1, 0)
    assert world.notifiers["pagerduty"].kinds() == [NotificationKind.TRIGGER, NotificationKind.RESOLVE]


def test_without_a_table_every_record_is_replayed():
    world = World()
    world.alarm("ALARM", T0, fail=True)
    world.alarm("OK", T0 + timedelta(minutes=5))

    (replayed, _), _ = world.replay(store=False)

    assert replayed == 1


def test_a_grouped_trigger_is_replayed_while_any_incident_of_its_group_is_open():
    from uptime_relay_tools.cli.dlq import closed_incidents

    world = World()
    world.alarm("ALARM", T0)
    [incident] = world.store.list()
    note = {"kind": "trigger", "incident_id": "inc-gone", "handles": {"incidents": ["inc-gone", incident.id]}}
    record = {"channel": "pd-primary", "kind": "trigger", "incident_id": "inc-gone", "notification": note}

    assert closed_incidents(record, world.store) is None  # one member still fires: replay it

    world.store.resolve(incident.id, by="alice", via="cli", at=T0 + timedelta(minutes=3))
    why = closed_incidents(record, world.store)
    assert "inc-gone not found" in why and f"{incident.id} resolved" in why
