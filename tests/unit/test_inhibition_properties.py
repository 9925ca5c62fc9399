"""Property tests of inhibition over the relay and its sweep: random state changes of a chain of
checks (``web`` depends_on ``api`` depends_on ``db``), delivered late, twice, out of order and in
separate invocations, with the sweep running every minute.

Whatever the interleaving:
- an incident's first page goes to each channel at most once, and never while a source that
  inhibits it is open in the store;
- no channel gets a resolve for an incident it never got a page for;
- afterwards the store holds the alarms' true final states, and every incident still open with
  no open source has paged exactly once;
- two checks failing in the same minute, whatever order and batches their alarms come in, page
  only the dependency while it stays down;
- the pure decider (``inhibitor``) only ever names an open incident that matches the rule's
  source and ``equal`` labels, never the target itself, and never a two-sided match.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from noise_world import World, minute
from uptime_relay.config import InhibitRule
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.alert import Alert, AlertState
from uptime_relay.domain.incident import OpeningPlan, open_incident
from uptime_relay.domain.inhibition import inhibitor
from uptime_relay.notifiers.base import NotificationKind

CHECKS = ("db", "api", "web")
SOURCE = {"api": "db", "web": "api"}
CONFIG = parse_config(
    """
checks:
  - {name: db, url: http://127.0.0.1:9/db, labels: {severity: critical}}
  - {name: api, url: http://127.0.0.1:9/api, labels: {severity: critical}, depends_on: [db]}
  - {name: web, url: http://127.0.0.1:9/web, labels: {severity: critical}, depends_on: [api]}
channels:
  slack: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd: {type: pagerduty, routing_key: env:PD_KEY}
routes:
  - {match: {severity: critical}, notify: [pd, slack]}
"""
)
END = 45  # minutes swept; every change happens before minute 26 and arrives before minute 28
PROPERTIES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Delivery:
    arrives: datetime
    alert: Alert


@st.composite
def histories(draw) -> list[tuple[str, AlertState, datetime]]:
    """Each check's alternating ALARM/OK changes (ALARM first) at distinct instants."""
    changes = []
    for check in CHECKS:
        seconds = draw(st.lists(st.integers(0, 25 * 60), max_size=5, unique=True).map(sorted))
        for n, s in enumerate(seconds):
            state = AlertState.ALARM if n % 2 == 0 else AlertState.OK
            changes.append((check, state, minute(0) + timedelta(seconds=s)))
    return changes


@st.composite
def deliveries(draw, changes) -> list[Delivery]:
    """Each change delivered after 0-120 s, some twice; arrivals sorted (reordering comes from the delays)."""
    world = World(CONFIG)
    out = []
    for check, state, at in changes:
        for _ in range(draw(st.sampled_from((1, 1, 2)))):
            delay = timedelta(seconds=draw(st.integers(0, 120)))
            out.append(Delivery(at + delay, world.alert(check, state, at)))
    return sorted(out, key=lambda d: d.arrives)


class Observed(World):
    """The world, checking at each step that no first page goes out while its source is open."""

    def __init__(self):
        super().__init__(CONFIG)
        self.violations: list[str] = []

    def open_checks(self) -> set[str]:
        return {i.check for i in self.store.list() if i.check}

    def step(self, act, at: datetime) -> None:
        before, open_before = len(self.log), self.open_checks()
        act()
        open_after = self.open_checks()
        for _, channel, n in self.log[before:]:
            check = n.alert.labels.get("check")
            source = SOURCE.get(check)
            if n.kind is NotificationKind.TRIGGER and source in open_before and source in open_after:
                self.violations.append(f"{check} paged on {channel} at {at} while {source} was open")


def play(deliveries: list[Delivery]) -> Observed:
    world = Observed()
    queue = list(deliveries)
    sweep_at = minute(0.5)
    while queue or sweep_at <= minute(END):
        if queue and queue[0].arrives < sweep_at:
            now = queue[0].arrives
            batch = [d.alert for d in queue if d.arrives == now]  # one invocation
            queue = [d for d in queue if d.arrives != now]
            world.step(lambda b=batch, t=now: world.arrive(b, t), now)
        else:
            world.step(lambda t=sweep_at: world.sweep(t), sweep_at)
            sweep_at += timedelta(minutes=1)
    return world


@PROPERTIES
@given(st.data())
def test_inhibited_pages_wait_for_their_sources_and_go_out_once(data):
    changes = data.draw(histories())
    world = play(data.draw(deliveries(changes)))
    assert world.violations == []
    incidents = world.store.list(statuses=("open", "acknowledged", "resolved"))
    triggers = Counter((n.incident_id, ch) for _, ch, n in world.log if n.kind is NotificationKind.TRIGGER)
    assert all(count == 1 for count in triggers.values()), triggers
    for _, channel, n in world.log:
        if n.kind is NotificationKind.RESOLVE:
            assert (n.incident_id, channel) in triggers, "a resolve for an incident never paged there"
    # the store holds each alarm's true final state
    for check in CHECKS:
        final = [s for c, s, _ in changes if c == check]
        is_open = [i for i in incidents if i.check == check and i.is_open]
        assert len(is_open) == (1 if final and final[-1] is AlertState.ALARM else 0), check
    # every incident still open with no open source has paged, once, on each channel
    open_checks = {i.check for i in incidents if i.is_open}
    for incident in incidents:
        if incident.is_open and SOURCE.get(incident.check) not in open_checks:
            assert {ch for (i, ch) in triggers if i == incident.id} == {"pd", "slack"}, incident.check


@PROPERTIES
@given(
    order=st.permutations(["db", "api", "web"]),
    delays=st.lists(st.integers(0, 29), min_size=3, max_size=3),
    together=st.booleans(),
)
def test_checks_failing_in_the_same_minute_page_only_the_root_whatever_the_arrival(order, delays, together):
    # GIVEN the chain fails in the same minute; its alarms arrive in any order, within 30 s,
    # in one invocation or one each
    world = Observed()
    at = minute(3)
    alerts = [world.alert(check, AlertState.ALARM, at) for check in order]
    if together:
        world.step(lambda: world.arrive(alerts, at + timedelta(seconds=max(delays))), at)
    else:
        for alert, delay in sorted(zip(alerts, delays, strict=True), key=lambda pair: pair[1]):
            world.step(lambda a=alert, d=delay: world.arrive([a], at + timedelta(seconds=d)), at)
    # WHEN the sweep runs for 20 minutes and all stay down
    for m in range(3, 23):
        world.sweep(minute(m + 0.5))
    # THEN only db paged
    assert world.pages("api") == [] and world.pages("web") == []
    assert sorted(ch for _, ch in world.pages("db")) == ["pd", "slack"]


labels = st.dictionaries(
    st.sampled_from(["check", "team", "region"]), st.sampled_from(["a", "b"]), max_size=3
)


@PROPERTIES
@given(
    target=labels,
    sources=st.lists(labels, max_size=4),
    rule=st.tuples(labels.filter(bool), labels.filter(bool), st.lists(st.sampled_from(["region", "team"]))),
)
def test_the_inhibitor_is_exactly_an_open_source_the_rule_allows_never_the_target_itself(
    target, sources, rule
):
    source_match, target_match, equal = rule
    inhibit = InhibitRule(source_match, target_match, tuple(equal), origin="inhibit_rules[0]")
    world = World(CONFIG)
    incidents = []
    for n, source_labels in enumerate(sources):
        alert = world.alert("db", AlertState.ALARM, minute(n))
        alert = replace(alert, id=f"alarm-{n}", labels=source_labels)
        incidents.append(open_incident(alert, OpeningPlan(name=f"s{n}", labels=source_labels)))
    found = inhibitor("inc-target", "alarm-target", target, incidents, (inhibit,))

    def has(match, where) -> bool:
        return all(where.get(k) == v for k, v in match.items())

    qualifying = [
        i
        for i in incidents
        if has(target_match, target)
        and has(source_match, i.labels)
        and all(i.labels.get(k, "") == target.get(k, "") for k in equal)
        and not (has(source_match, target) and has(target_match, i.labels))  # two-sided
    ]
    assert (found is None) == (not qualifying)
    if found is not None:
        assert found.incident_id in {i.id for i in qualifying}
        source = next(i for i in incidents if i.id == found.incident_id)
        # and an incident never inhibits itself
        assert inhibitor(source.id, source.alarm_id, source.labels, [source], (inhibit,)) is None
