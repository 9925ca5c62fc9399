"""The escalation sweep on a simulated clock: steps fire once, in order, until someone acknowledges.

GIVEN an incident opened at T0 under the `critical` policy (0m slack, 10m PagerDuty, 30m the
on-call person + the on-call mailbox, repeat once) WHEN the escalator sweeps every minute THEN ...
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import Channel
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.escalation import initial_cursor
from uptime_relay.domain.incident import OpeningPlan, decide
from uptime_relay.domain.silence import Silence
from uptime_relay.escalator import sweep
from uptime_relay.notifiers.base import Delivery, DeliveryError, Notification, NotificationKind

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # ana is on call (daily rotation from Nov 24 09:00)

CONFIG = parse_config(
    """
channels:
  slack-critical: {type: slack, bot_token: "xoxb-test", channel: "#alerts"}
  pd-primary: {type: pagerduty, routing_key: "k"}
  oncall-email: {type: email, to: [oncall@example.com], from: alerts@example.com}
people:
  ana: {email: ana@example.com, slack: U0ANA}
  bo: {email: bo@example.com, slack: U0BO}
schedules:
  primary: {timezone: Europe/Berlin, rotation: daily, handoff: "09:00", start: 2026-11-24, members: [ana, bo]}
routes:
  - match: {severity: critical}
    notify: [slack-critical]
    escalation: critical
escalation_policies:
  critical:
    steps:
      - {after: 0m,  notify: [slack-critical]}
      - {after: 10m, notify: [pd-primary]}
      - {after: 30m, notify: ["oncall:primary", oncall-email]}
    repeat: 1
maintenance:
  - {name: patching, match: {team: db}, cron: "0 11 * * *", duration: 1h}
""",
    "escalator-test.yaml",
)


class FakeNotifier:
    """Records every send; ``failures[channel]`` scripts DeliveryErrors for the next sends."""

    groups_alerts = True

    def __init__(self, type_: str, log: list, failures: dict[str, deque]):
        self.type = type_
        self.log = log
        self.failures = failures

    def build_payloads(self, channel: Channel, notification: Notification) -> list[dict[str, Any]]:
        return [{"channel": channel.name}]

    def send(self, channel: Channel, notification: Notification, secrets: Any) -> Delivery:
        script = self.failures.get(channel.name)
        if script:
            raise script.popleft()
        self.log.append((channel.name, dict(channel.options), notification))
        return Delivery(channel.name, handles={"ts": "1.1"} if self.type == "slack" else {}, status=200)


class World:
    def __init__(self, store=None):
        self.store = store or InMemoryIncidentStore()
        self.sent: list[tuple[str, dict, Notification]] = []
        self.failures: dict[str, deque] = {}
        self.dead = InMemoryDeadLetters()
        notifiers = {t: FakeNotifier(t, self.sent, self.failures) for t in ("slack", "pagerduty", "email")}
        self.dispatcher = Dispatcher(CONFIG, notifiers, StaticSecrets(), self.dead, sleep=lambda s: None)

    def open(self, *, labels=None, at=T0, alarm="arn:aws:cloudwatch:us-east-1:1:alarm:api", silenced=None):
        labels = labels or {"check": "api", "severity": "critical"}
        alert = Alert(
            AlertSource.CLOUDWATCH, alarm, "api down", AlertState.ALARM, "3 of 3 failed", at, labels
        )
        policy = CONFIG.escalation_policies["critical"]
        plan = OpeningPlan(
            name="api down",
            labels=labels,
            check="api",
            route_channels=("slack-critical",),
            policy="critical",
            cursor=initial_cursor(policy, at),
            silenced=silenced,
        )
        transition = decide(None, None, alert, plan=plan)
        assert self.store.commit(transition)
        return transition.incident.id

    def sweep(self, at: datetime, **kw):
        return sweep(CONFIG, self.store, self.dispatcher, at, **kw)

    def run(self, until_min: int, every_min: int = 1, **kw) -> list[tuple[int, str]]:
        """Sweep once a simulated minute from T0 to T0+until; (minute, channel) of every send."""
        out = []
        for minute in range(0, until_min + 1, every_min):
            before = len(self.sent)
            self.sweep(T0 + timedelta(minutes=minute), **kw)
            out.extend((minute, name) for name, _, _ in self.sent[before:])
        return out

    def dead_letters(self):
        return [r.record for r in self.dead.receive(max=10)]


def test_steps_fire_in_order_at_their_delays_and_the_policy_repeats_once():
    world = World()
    world.open()
    assert world.run(120) == [
        (10, "pd-primary"),
        (30, "oncall-email"),  # the on-call mailbox
        (30, "slack-critical"),  # the on-call person mentioned where the incident lives
        (30, "oncall-email"),  # a copy to the on-call person's own address
        (50, "slack-critical"),  # round 2
        (60, "pd-primary"),
        (80, "oncall-email"),
        (80, "slack-critical"),
        (80, "oncall-email"),
    ]
    incident = world.store.list()[0]
    assert incident.due_at is None  # nothing left to escalate


def test_escalations_are_marked_as_such_with_their_step():
    world = World()
    world.open()
    world.run(10)
    [(_, _, notification)] = world.sent
    assert notification.kind is NotificationKind.ESCALATION
    assert notification.escalation_step == 1
    assert notification.incident_id == world.store.list()[0].id
    assert notification.alert.name == "api down"


def test_the_on_call_person_is_mentioned_and_emailed():
    world = World()
    world.open()
    world.run(30)
    at_30 = world.sent[1:]
    slack = [n for name, _, n in at_30 if name == "slack-critical"]
    assert slack[0].mentions == ("U0ANA",)
    mail_to = [opts["to"] for name, opts, _ in at_30 if name == "oncall-email"]
    assert mail_to == [("oncall@example.com",), ("ana@example.com",)]


def test_the_next_day_the_next_person_is_paged():
    world = World()
    world.open(at=T0 + timedelta(days=1))
    for minute in range(31):
        world.sweep(T0 + timedelta(days=1, minutes=minute))
    assert [n.mentions for name, _, n in world.sent if name == "slack-critical"] == [("U0BO",)]


def test_an_acknowledgement_stops_the_escalation():
    world = World()
    iid = world.open()
    world.run(12)
    assert world.store.acknowledge(iid, by="ana", via="slack", at=T0 + timedelta(minutes=12))
    before = len(world.sent)
    for minute in range(13, 200):
        world.sweep(T0 + timedelta(minutes=minute))
    assert len(world.sent) == before == 1


def test_a_resolved_incident_is_not_escalated():
    world = World()
    iid = world.open()
    world.store.resolve(iid, by="alarm", via="cloudwatch", at=T0 + timedelta(minutes=5))
    assert world.run(120) == []


def test_the_sweep_double_checks_status_even_if_a_stale_due_entry_is_read():
    world = World()
    iid = world.open()
    stale = world.store.due(T0 + timedelta(minutes=10))  # read before the ack lands
    world.store.acknowledge(iid, by="bo", via="ack-link", at=T0 + timedelta(minutes=10))

    class StaleDue:
        def __getattr__(self, name):
            return getattr(world.store, name)

        def due(self, now):
            return stale

    report = sweep(CONFIG, StaleDue(), world.dispatcher, T0 + timedelta(minutes=10))
    assert world.sent == []
    assert report.fired == []
    assert report.skipped and report.skipped[0][0] == iid


def test_overlapping_sweeps_that_read_the_same_due_incident_fire_the_step_once():
    world = World()
    world.open()
    now = T0 + timedelta(minutes=10)
    snapshot = world.store.due(now)

    class Snapshot:
        def __getattr__(self, name):
            return getattr(world.store, name)

        def due(self, _now):
            return snapshot

    first = sweep(CONFIG, Snapshot(), world.dispatcher, now)
    second = sweep(CONFIG, Snapshot(), world.dispatcher, now)  # started before the first wrote
    assert [name for name, _, _ in world.sent] == ["pd-primary"]
    assert len(first.fired) == 1 and second.fired == []
    assert "claimed" in second.skipped[0][1]


def test_many_concurrent_sweeps_fire_each_step_once():
    world = World()
    for n in range(5):
        world.open(alarm=f"alarm-{n}")
    now = T0 + timedelta(minutes=10)
    barrier = threading.Barrier(8)

    def run():
        barrier.wait()
        world.sweep(now)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(n.incident_id for _, _, n in world.sent) == sorted(i.id for i in world.store.list())


def test_a_transiently_failed_step_is_redelivered_on_the_next_sweep_and_the_policy_keeps_its_timing():
    """GIVEN PagerDuty answering 503 when step 2 fires WHEN the next sweep runs THEN the step's
    page is redelivered to PagerDuty, nothing is dead-lettered, and step 3 still comes at 30m."""
    world = World()
    iid = world.open()
    world.failures["pd-primary"] = deque(DeliveryError("503", permanent=False, status=503) for _ in range(4))
    first = world.run(10)
    assert first == []  # all four dispatcher attempts failed
    retried = world.sweep(T0 + timedelta(minutes=11))
    assert [name for name, _, _ in world.sent] == ["pd-primary"]
    assert retried.fired[0].redelivery
    assert retried.fired[0].delivered == ("escalation:escalation step 2, round 1:pd-primary",)
    assert world.dead_letters() == []
    kinds = [e.kind for e in world.store.get(iid).timeline]
    assert "escalation_failed" in kinds and "redelivery_scheduled" in kinds
    # the schedule is unchanged by the redelivery: step 3 still comes at 30m
    assert world.store.get(iid).due_at == T0 + timedelta(minutes=30)


def test_a_retry_resends_only_to_the_targets_that_failed():
    world = World()
    world.open()
    world.run(29)
    world.failures["slack-critical"] = deque(DeliveryError("500", permanent=False) for _ in range(4))
    world.sweep(T0 + timedelta(minutes=30))
    assert [name for name, _, _ in world.sent[1:]] == ["oncall-email", "oncall-email"]
    world.sweep(T0 + timedelta(minutes=31))
    assert [name for name, _, _ in world.sent[3:]] == ["slack-critical"]


def test_a_step_that_keeps_failing_is_redelivered_for_24_h_and_only_then_dead_lettered():
    """GIVEN PagerDuty failing transiently all day WHEN the sweeps run THEN each PagerDuty step page
    is retried with a growing backoff, the policy moves on meanwhile, and each reaches the
    dead-letter queue once, only after 24 hours."""
    world = World()
    iid = world.open()
    world.failures["pd-primary"] = deque(DeliveryError("503", permanent=False) for _ in range(5000))
    sends = world.run(35)
    assert world.dead_letters() == []
    assert (30, "oncall-email") in sends  # the next step still fired on time
    (pending,) = world.store.pending_sends(iid)
    assert (pending.kind, pending.channel, pending.attempts) == (
        "escalation",
        "pd-primary",
        5,
    )  # 10 11 13 17 25
    for minute in range(36, 10 + 24 * 60):
        world.sweep(T0 + timedelta(minutes=minute))
    assert world.dead_letters() == []  # not yet 24 h since the first failure
    for minute in range(10 + 24 * 60, 10 + 25 * 60):
        world.sweep(T0 + timedelta(minutes=minute))
    dead = world.dead_letters()
    assert [d["channel"] for d in dead] == ["pd-primary", "pd-primary"]  # round 1's and round 2's step 2
    assert all(d["notification"]["kind"] == "escalation" for d in dead)
    assert world.store.pending_sends(iid) == []
    assert "pd-primary" not in world.store.get(iid).notified_channels()


def test_a_permanent_failure_is_dead_lettered_at_once_and_not_retried():
    world = World()
    iid = world.open()
    world.failures["pd-primary"] = deque([DeliveryError("invalid routing key", permanent=True, status=400)])
    world.run(10)
    assert len(world.dead_letters()) == 1
    assert world.store.get(iid).due_at == T0 + timedelta(minutes=30)
    world.sweep(T0 + timedelta(minutes=11))
    assert world.sent == []


def test_an_incident_opened_silenced_pages_when_its_silence_ends_and_then_escalates_from_there():
    world = World()
    silence = Silence("s1", {"check": "api"}, T0, T0 + timedelta(minutes=45), "ana", "deploy")
    iid = world.open(silenced=silence.describe())
    assert world.run(44, silences=[silence]) == []  # held while the silence lasts
    resumed = world.run(60, silences=[silence])
    assert resumed[:2] == [(45, "slack-critical"), (55, "pd-primary")]  # page, then step 2 10 min later
    assert world.sent[0][2].kind is NotificationKind.TRIGGER
    assert world.store.get(iid).escalation_anchor == T0 + timedelta(minutes=45)


def test_a_silence_holds_the_escalation_and_it_resumes_after_the_silence_expires():
    world = World()
    world.open()
    silence = Silence("s1", {"check": "api"}, T0, T0 + timedelta(minutes=20), "ana", "deploy")
    assert world.run(19, silences=[silence]) == []
    resumed = world.run(60, silences=[silence])
    assert resumed[0] == (20, "pd-primary")  # the held step goes out when the silence ends
    held = [e for e in world.store.list()[0].timeline if e.kind == "escalation_held"]
    assert len(held) == 1 and "s1" in held[0].detail  # noted once, not every hold


def test_a_maintenance_window_from_the_config_holds_matching_incidents():
    world = World()
    world.open(labels={"check": "api", "severity": "critical", "team": "db"})  # patching 11:00-12:00 UTC
    sends = world.run(120)
    assert sends[0] == (10, "pd-primary")
    assert all(not 60 <= minute < 120 for minute, _ in sends)


def test_escalated_channels_are_remembered_for_the_resolve_and_slack_threads():
    world = World()
    iid = world.open()
    world.run(30)
    incident = world.store.get(iid)
    assert set(incident.notified_channels()) >= {"pd-primary", "slack-critical", "oncall-email"}
    assert incident.handles["slack-critical"] == {"ts": "1.1"}
    world.run(50)
    round_two = [n for name, _, n in world.sent if name == "slack-critical"][-1]
    assert round_two.handles == {"ts": "1.1"}  # reminders reply in the original thread


def test_ack_links_are_included_when_the_sweep_can_make_them():
    world = World()
    iid = world.open()
    world.run(10, ack_url_for=lambda incident, **_: f"https://ack.example.test/{incident.id}")
    assert world.sent[0][2].ack_url == f"https://ack.example.test/{iid}"


def test_an_incident_whose_policy_left_the_config_stops_with_a_note():
    world = World()
    iid = world.open()
    changed = dataclasses.replace(CONFIG, escalation_policies={})  # redeployed without `critical`
    report = sweep(changed, world.store, world.dispatcher, T0 + timedelta(minutes=10))
    assert world.sent == [] and report.skipped
    incident = world.store.get(iid)
    assert incident.due_at is None
    assert any(e.kind == "escalation_stopped" and "critical" in e.detail for e in incident.timeline)


def test_a_sweep_holding_a_stale_copy_does_not_resend_what_a_partly_failed_attempt_delivered():
    world = World()
    world.open()
    world.run(29)
    now = T0 + timedelta(minutes=30)
    snapshot = world.store.due(now)  # a slow sweep read this before the other one ran

    class Snapshot:
        def __getattr__(self, name):
            return getattr(world.store, name)

        def due(self, _now):
            return snapshot

    world.failures["slack-critical"] = deque(DeliveryError("500", permanent=False) for _ in range(4))
    sweep(CONFIG, Snapshot(), world.dispatcher, now)  # emails go out, Slack fails: kept for redelivery
    early = sweep(CONFIG, Snapshot(), world.dispatcher, now)  # the step moved on: the stale claim loses
    assert early.fired == [] and len(world.sent) == 3
    # at the redelivery time a sweep still holding the stale copy sends only Slack's page
    late = sweep(CONFIG, Snapshot(), world.dispatcher, now + timedelta(minutes=1))
    assert [name for name, _, _ in world.sent[1:]] == ["oncall-email", "oncall-email", "slack-critical"]
    assert [f.delivered for f in late.fired] == [("escalation:escalation step 3, round 1:slack-critical",)]


def test_the_whole_story_with_the_relay_page_escalate_acknowledge_resolve():
    from uptime_relay.relay import Relay

    world = World()
    relay = Relay(CONFIG, world.store, world.dispatcher)
    alarm = "arn:aws:cloudwatch:us-east-1:1:alarm:api"
    labels = {"check": "api", "severity": "critical"}

    def alert(state, minute):
        return Alert(
            AlertSource.CLOUDWATCH, alarm, "api down", state, "r", T0 + timedelta(minutes=minute), labels
        )

    relay.handle([alert(AlertState.ALARM, 0)], T0)
    # slack-critical is in the route and in the 0m step: paged once
    assert [name for name, _, _ in world.sent] == ["slack-critical"]
    world.run(12)
    assert [name for name, _, _ in world.sent] == ["slack-critical", "pd-primary"]
    [incident] = world.store.list()
    world.store.acknowledge(incident.id, by="ana", via="slack", at=T0 + timedelta(minutes=12))
    for minute in range(13, 120):
        world.sweep(T0 + timedelta(minutes=minute))
    assert len(world.sent) == 2
    relay.handle([alert(AlertState.OK, 120)], T0 + timedelta(minutes=120))
    resolves = {name for name, _, n in world.sent[2:] if n.kind is NotificationKind.RESOLVE}
    assert resolves == {"slack-critical", "pd-primary"}  # the escalated channel hears the resolve too


def test_silences_from_the_silence_store_hold_escalation_and_are_read_only_when_needed():
    from uptime_relay.adapters.silences import InMemorySilences

    world = World()
    world.open()
    silences = InMemorySilences()
    silences.add(Silence("s1", {"check": "api"}, T0, T0 + timedelta(minutes=15), "ana", "deploy"))
    reads = []

    def active(at):
        reads.append(at)
        return silences.active(at)

    world.run(20, silences=active)
    assert [name for name, _, _ in world.sent] == ["pd-primary"]
    assert reads == [T0 + timedelta(minutes=m) for m in (10, 15)]  # only when a step was due


# ----------------------------------------------------------------------------- crash safety
class Killed(BaseException):
    """The Lambda being killed (timeout, out of memory): nothing after it runs."""


class DyingDispatcher(Dispatcher):
    """The real dispatcher, except that the next ``deaths`` deliveries kill the invocation."""

    def __init__(self, real: Dispatcher, deaths: int = 1):
        self.__dict__.update(real.__dict__)
        self.deaths = [deaths]  # shared with the copies made for e-mail sends to people

    def deliver(self, channel_name, notification, *, dead_letter=True, to=()):
        if self.deaths[0] > 0:
            self.deaths[0] -= 1
            raise Killed(f"killed while sending to {channel_name}")
        return super().deliver(channel_name, notification, dead_letter=dead_letter, to=to)


def test_a_step_whose_sweep_was_killed_before_delivering_is_sent_once_after_the_lease():
    world = World()
    iid = world.open()
    dying = DyingDispatcher(world.dispatcher)
    try:
        sweep(CONFIG, world.store, dying, T0 + timedelta(minutes=10))
    except Killed:
        pass
    assert world.sent == []
    assert world.store.get(iid).step == 1  # the step is still the pending one, under a lease
    for minute in range(11, 30):  # the lease (2 min) runs out at 12m
        sweep(CONFIG, world.store, dying, T0 + timedelta(minutes=minute))
    assert [name for name, _, _ in world.sent] == ["pd-primary"]
    incident = world.store.get(iid)
    assert incident.step == 2 and incident.due_at == T0 + timedelta(minutes=30)  # schedule unchanged
    attempts = [e.detail for e in incident.timeline if e.kind == "escalation_attempt"]
    assert [a.split(" claimed")[0] for a in attempts] == [
        "escalation step 2, round 1: attempt 1",
        "escalation step 2, round 1: attempt 2",
    ]


def test_overlapping_sweeps_after_a_killed_one_send_the_step_once():
    world = World()
    world.open()
    try:
        sweep(CONFIG, world.store, DyingDispatcher(world.dispatcher), T0 + timedelta(minutes=10))
    except Killed:
        pass
    now = T0 + timedelta(minutes=12)
    snapshot = world.store.due(now)
    assert len(snapshot) == 1

    class Snapshot:
        def __getattr__(self, name):
            return getattr(world.store, name)

        def due(self, _now):
            return snapshot

    first = sweep(CONFIG, Snapshot(), world.dispatcher, now)
    second = sweep(CONFIG, Snapshot(), world.dispatcher, now)
    assert [name for name, _, _ in world.sent] == ["pd-primary"]
    assert len(first.fired) == 1 and second.fired == []


def test_a_claimed_step_is_not_taken_over_while_its_lease_runs():
    world = World()
    iid = world.open()
    try:
        sweep(CONFIG, world.store, DyingDispatcher(world.dispatcher), T0 + timedelta(minutes=10))
    except Killed:
        pass
    report = sweep(CONFIG, world.store, world.dispatcher, T0 + timedelta(minutes=11))
    assert world.sent == [] and report.fired == []
    assert world.store.get(iid).due_at == T0 + timedelta(minutes=12)


def test_a_step_whose_sweeps_keep_dying_is_given_up_after_its_attempts_and_the_policy_moves_on():
    world = World()
    iid = world.open()
    dying = DyingDispatcher(world.dispatcher, deaths=3)  # attempts 1, 2 and 3 are killed
    for minute in range(10, 31):
        try:
            sweep(CONFIG, world.store, dying, T0 + timedelta(minutes=minute))
        except Killed:
            pass
    dead = world.dead_letters()
    assert [d["channel"] for d in dead] == ["pd-primary"]
    assert "stopped" in dead[0]["error"]
    incident = world.store.get(iid)
    assert any(e.kind == "escalation_gave_up" for e in incident.timeline)
    assert [name for name, _, _ in world.sent] == ["oncall-email", "slack-critical", "oncall-email"]  # step 3


def test_a_sweep_killed_after_recording_its_sends_does_not_resend_them():
    world = World()
    iid = world.open()

    class DiesBeforeMovingOn:
        def __getattr__(self, name):
            return getattr(world.store, name)

        def record_outcomes(self, *args, **kwargs):
            world.store.record_outcomes(*args, **kwargs)
            raise Killed("killed after recording")

    try:
        sweep(CONFIG, DiesBeforeMovingOn(), world.dispatcher, T0 + timedelta(minutes=10))
    except Killed:
        pass
    assert [name for name, _, _ in world.sent] == ["pd-primary"]
    world.run(29)
    assert [name for name, _, _ in world.sent] == ["pd-primary"]  # not again after the lease
    assert world.store.get(iid).due_at == T0 + timedelta(minutes=30)


def test_a_redelivered_step_page_keeps_the_incidents_first_slack_message_as_its_handle():
    """GIVEN the incident's Slack message is known WHEN step 3's Slack page fails and is
    redelivered THEN later updates still go to that first message (the step does not replace it)."""
    world = World()
    iid = world.open()
    world.store.set_handles(iid, "slack-critical", {"ts": "0.1"})
    world.run(29)
    world.failures["slack-critical"] = deque(DeliveryError("500", permanent=False) for _ in range(4))
    world.sweep(T0 + timedelta(minutes=30))
    world.sweep(T0 + timedelta(minutes=31))
    assert [name for name, _, _ in world.sent][-1] == "slack-critical"  # redelivered
    assert world.store.get(iid).handles["slack-critical"] == {"ts": "0.1"}
