"""Inhibition end to end over the relay and its sweep (in-memory stores, fake channels).

GIVEN ``api`` with ``depends_on: [db]`` (and a top-level inhibit rule for ``equal``), WHEN their
alarms arrive in any order, in one invocation or several, THEN only the source pages; the target
is recorded "inhibited by db" and pages once, when db resolves while it is still down.
"""

from __future__ import annotations

import pytest
from noise_world import World, minute
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.inhibition import derived_inhibit_rules
from uptime_relay.notifiers.base import NotificationKind

CONFIG = parse_config(
    """
checks:
  - {name: db, url: http://127.0.0.1:9/db, labels: {severity: critical, region: eu}}
  - {name: api, url: http://127.0.0.1:9/api, depends_on: [db], labels: {severity: p1, region: eu}}
  - {name: web-eu, url: http://127.0.0.1:9/w, labels: {severity: high, team: web, region: eu}}
  - {name: web-us, url: http://127.0.0.1:9/w, labels: {severity: high, team: web, region: us}}
  - {name: lb-eu, url: http://127.0.0.1:9/l, labels: {severity: critical, role: lb, region: eu}}
inhibit_rules:
  - source: {role: lb}
    target: {team: web}
    equal: [region]
channels:
  slack: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd: {type: pagerduty, routing_key: env:PD_KEY}
routes:
  - match: {severity: critical}
    notify: [pd, slack]
    escalation: critical
  - notify: [slack]
escalation_policies:
  critical:
    steps:
      - {after: 0m, notify: [slack]}
      - {after: 5m, notify: [pd]}
"""
)


@pytest.fixture
def world() -> World:
    return World(CONFIG)


def test_depends_on_is_one_more_derived_rule():
    rules = derived_inhibit_rules(CONFIG)
    assert [(r.source, r.target, r.equal) for r in rules] == [
        ({"role": "lb"}, {"team": "web"}, ("region",)),
        ({"check": "db"}, {"check": "api"}, ()),
    ]
    assert rules[1].origin == "check api depends_on db"


@pytest.mark.parametrize("order", ["db first", "api first", "api first, db in the next invocation"])
def test_when_both_go_down_only_the_dependency_pages_whatever_the_order(world, order):
    # GIVEN db and api fail in the same minute
    if order == "db first":
        world.arrive(
            [world.alert("db", "ALARM", minute(1)), world.alert("api", "ALARM", minute(1))], minute(1.1)
        )
    elif order == "api first":
        world.arrive(
            [world.alert("api", "ALARM", minute(1)), world.alert("db", "ALARM", minute(1))], minute(1.1)
        )
    else:
        world.down("api", minute(1), now=minute(1.1))
        world.down("db", minute(1), now=minute(1.8))
    # WHEN the sweep runs every minute for a quarter of an hour
    world.sweeps(1, 15)
    # THEN db paged (and escalated); api paged nobody, and its timeline says why
    assert sorted(ch for _, ch in world.pages("db")) == ["pd", "slack"]
    assert world.pages("api") == [] and world.pages("api", NotificationKind.ESCALATION) == []
    (api,) = world.incidents("api")
    (db,) = world.incidents("db")
    inhibited = [e for e in api.timeline if e.kind == "inhibited"]
    assert len(inhibited) == 1
    assert inhibited[0].detail.startswith(f"inhibited by db (incident {db.id}; check api depends_on db)")


def test_the_target_pages_once_when_the_source_resolves_while_it_is_still_down(world):
    world.down("db", minute(1))
    world.down("api", minute(1), now=minute(1.2))
    world.sweeps(1, 9)
    # WHEN db recovers at minute 10 and api stays down
    world.up("db", minute(10))
    world.sweeps(10, 30)
    # THEN api pages once, at the first sweep after db's resolve, to its route's targets
    assert world.pages("api") == [(minute(10.5), "pd"), (minute(10.5), "slack")]
    (api,) = world.incidents("api")
    assert api.status == "open"
    assert any(e.kind == "released" and "no inhibiting incident open" in e.detail for e in api.timeline)
    # and its policy runs from that page: its 5-minute step at 15:30
    assert world.pages("api", NotificationKind.ESCALATION) == [(minute(15.5), "pd")]


def test_a_target_that_recovers_before_its_source_never_pages(world):
    world.down("db", minute(1))
    world.down("api", minute(2))
    world.sweeps(2, 5)
    world.up("api", minute(6))
    world.up("db", minute(8))
    world.sweeps(6, 20)
    assert world.pages("api") == [] and world.pages("api", NotificationKind.RESOLVE) == []
    assert world.incidents("api")[0].status == "resolved"


def test_a_target_alone_pages_after_waiting_one_sweep_for_its_sources(world):
    # GIVEN api fails and db does not
    world.down("api", minute(1), now=minute(1.1))
    assert world.pages("api") == []  # held: a db alarm may still be on its way
    world.sweeps(1, 4)
    # THEN it pages at the first sweep after its minute of waiting
    assert world.pages("api") == [(minute(2.5), "pd"), (minute(2.5), "slack")]
    (api,) = world.incidents("api")
    assert [e.kind for e in api.timeline][:2] == ["opened", "held"]


def test_a_check_nobody_inhibits_pages_at_once(world):
    world.down("db", minute(1))
    assert world.pages("db") == [(minute(1), "pd"), (minute(1), "slack")]


def test_equal_labels_must_match_for_an_inhibit_rule(world):
    # GIVEN the eu load balancer is down
    world.down("lb-eu", minute(1))
    # WHEN both web checks fail
    world.down("web-eu", minute(1), now=minute(1.2))
    world.down("web-us", minute(1), now=minute(1.2))
    world.sweeps(1, 5)
    # THEN only the one in the same region is inhibited
    assert world.pages("web-eu") == []
    assert world.pages("web-us") == [(minute(2.5), "slack")]


def test_an_acknowledged_source_still_inhibits(world):
    world.down("db", minute(1))
    (db,) = world.incidents("db")
    world.store.acknowledge(db.id, by="alice", via="slack", at=minute(2))
    world.down("api", minute(3))
    world.sweeps(3, 8)
    assert world.pages("api") == []


def test_a_source_resolved_earlier_in_the_same_invocation_no_longer_inhibits(world):
    # GIVEN db is down
    world.down("db", minute(1))
    # WHEN one invocation brings web-us's ALARM (a rule's target: the open incidents are read),
    # then db's OK, then api's ALARM
    world.arrive(
        [
            world.alert("web-us", "ALARM", minute(4)),
            world.alert("db", "OK", minute(4)),
            world.alert("api", "ALARM", minute(4)),
        ],
        minute(4.1),
    )
    world.sweeps(4, 6)
    # THEN api was never inhibited by the resolved db: it waited one sweep, then paged
    (api,) = world.incidents("api")
    assert [e.kind for e in api.timeline][:2] == ["opened", "held"]
    assert "inhibited" not in [e.kind for e in api.timeline]
    assert world.pages("api") == [(minute(5.5), "pd"), (minute(5.5), "slack")]


def test_an_already_paged_incident_stops_escalating_while_a_source_is_open(world):
    # GIVEN api paged alone (db was fine) at the 2:30 sweep; its 5-minute step is due at 7:30
    world.down("api", minute(1))
    world.sweeps(1, 3)
    assert world.pages("api") == [(minute(2.5), "pd"), (minute(2.5), "slack")]
    # WHEN db goes down at minute 4 and recovers at minute 9
    world.down("db", minute(4))
    world.sweeps(4, 8)
    world.up("db", minute(9))
    world.sweeps(9, 20)
    # THEN api's step waited while db was open, and went out once afterwards
    (api,) = world.incidents("api")
    assert any(e.kind == "escalation_held" and "inhibited by db" in e.detail for e in api.timeline)
    assert world.pages("api", NotificationKind.ESCALATION) == [(minute(12.5), "pd")]


def test_when_open_incidents_cannot_be_read_a_target_still_pages(world, monkeypatch, caplog):
    # GIVEN the store's listing index fails
    def broken(*args, **kwargs):
        raise RuntimeError("listing index unavailable")

    monkeypatch.setattr(world.store, "list", broken)
    # WHEN api fails THEN it pages after its wait (nothing is inhibited), and the error is logged
    world.down("api", minute(1))
    world.sweeps(1, 3)
    assert world.pages("api") == [(minute(2.5), "pd"), (minute(2.5), "slack")]
    assert "open incidents could not be read" in caplog.text
