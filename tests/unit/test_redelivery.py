"""Automatic redelivery: a page that fails transiently is retried by the escalation sweep with a
growing backoff until it gets through (or 24 h pass), never left on the dead-letter queue for a
human; a channel never gets a resolve for a trigger it never saw, nor a trigger twice."""

from __future__ import annotations

import io
import itertools
import json
from datetime import timedelta

from redelivery_world import CONFIG, STEPS_CONFIG, T0, World, outage
from uptime_relay import metricnames
from uptime_relay.escalator import sweep
from uptime_relay.followups import ACK, ChangeNotifier
from uptime_relay.notifiers.base import NotificationKind
from uptime_relay_tools.cli import build_parser
from uptime_relay_tools.cli import incidents as incidents_cli

TRIGGER, RESOLVE = NotificationKind.TRIGGER, NotificationKind.RESOLVE
ESCALATION, ACKNOWLEDGE = NotificationKind.ESCALATION, NotificationKind.ACKNOWLEDGE


def test_slack_outage_at_opening_gets_the_trigger_then_the_resolve_without_anyone_acting():
    """GIVEN Slack answers 503 from a minute before an incident opens until 3 minutes after
    WHEN the incident opens and later resolves, with only the minute sweep running
    THEN Slack receives the trigger once after it recovers, then the resolve once; PagerDuty and
    e-mail got the trigger at once; nothing is on the dead-letter queue."""
    world = World({"slack-critical": outage(T0 - timedelta(minutes=1), T0 + timedelta(minutes=3))})
    incident = world.open()
    assert world.received("pd-primary", incident) == [TRIGGER]
    assert world.received("oncall-email", incident) == [TRIGGER]
    assert world.first_received_at("pd-primary", TRIGGER) == T0
    assert world.received("slack-critical", incident) == []

    world.run_until(T0 + timedelta(minutes=10))
    assert world.received("slack-critical", incident) == [TRIGGER]
    assert (
        T0 + timedelta(minutes=3)
        <= world.first_received_at("slack-critical", TRIGGER)
        <= T0 + timedelta(minutes=4)
    )

    world.resolve()
    world.run_until(T0 + timedelta(minutes=40))
    assert world.received("slack-critical", incident) == [TRIGGER, RESOLVE]
    assert world.received("pd-primary", incident) == [TRIGGER, RESOLVE]
    assert world.dead.records == []
    assert world.store.pending_sends(incident) == []
    kinds = [(e.kind, e.channel) for e in world.store.get(incident).timeline]
    assert kinds.count(("redelivery_scheduled", "slack-critical")) >= 2  # every attempt shows


def test_incident_resolved_while_slack_still_fails_sends_slack_nothing():
    """GIVEN Slack fails when an incident opens and is still failing when it resolves
    WHEN Slack recovers and the sweeps run on
    THEN Slack receives nothing for that incident (no late trigger, no resolve), and the
    timeline says why."""
    world = World({"slack-critical": outage(T0, T0 + timedelta(minutes=8))})
    incident = world.open()
    world.run_until(T0 + timedelta(minutes=5))
    world.resolve()
    world.run_until(T0 + timedelta(minutes=60))
    assert world.received("slack-critical", incident) == []
    assert world.received("pd-primary", incident) == [TRIGGER, RESOLVE]
    assert world.dead.records == []
    assert world.store.pending_sends(incident) == []
    dropped = [e for e in world.store.get(incident).timeline if e.kind == "redelivery_dropped"]
    assert [e.channel for e in dropped] == ["slack-critical"]


def test_a_failed_resolve_is_retried_until_it_gets_through():
    """GIVEN the trigger reached Slack WHEN Slack fails as the incident resolves
    THEN the resolve is retried by the sweep and reaches Slack once."""
    world = World()
    incident = world.open()
    world.now = T0 + timedelta(minutes=5)
    world.faults["slack-critical"] = outage(world.now, world.now + timedelta(minutes=6))
    world.resolve()
    assert world.received("slack-critical", incident) == [TRIGGER]
    world.run_until(T0 + timedelta(minutes=40))
    assert world.received("slack-critical", incident) == [TRIGGER, RESOLVE]
    assert world.dead.records == []


def test_a_permanent_404_is_dead_lettered_at_once_and_not_retried():
    """GIVEN Slack answers 404 (the webhook is gone) WHEN an incident opens
    THEN the trigger is on the dead-letter queue at once and no sweep tries it again."""
    world = World({"slack-critical": outage(T0, T0 + timedelta(days=2), status=404)})
    incident = world.open()
    assert [r["channel"] for r in world.dead.records] == ["slack-critical"]
    assert world.store.pending_sends(incident) == []
    attempts = len(world.notifiers["slack"].attempts)
    world.run_until(T0 + timedelta(minutes=10))
    assert len(world.notifiers["slack"].attempts) == attempts


def test_backoff_grows_and_honours_retry_after():
    """GIVEN Slack keeps failing WHEN the sweeps retry THEN the attempts are ~1, 2, 4, 8, 15, 15
    minutes apart; a Retry-After longer than that is waited out."""
    world = World({"slack-critical": outage(T0, T0 + timedelta(hours=3))})
    incident = world.open()
    world.run_until(T0 + timedelta(minutes=90))
    slack_attempts = [
        e.at for e in world.store.get(incident).timeline
        if e.kind == "redelivery_scheduled" and e.channel == "slack-critical"
    ]  # fmt: skip
    gaps = [int((b - a).total_seconds() // 60) for a, b in itertools.pairwise(slack_attempts)]
    assert gaps[:6] == [1, 2, 4, 8, 15, 15]

    world = World({"slack-critical": outage(T0, T0 + timedelta(hours=1), status=429, retry_after=1800)})
    incident = world.open()
    (pending,) = world.store.pending_sends(incident)
    assert pending.next_at == T0 + timedelta(minutes=30)


def test_a_send_failing_for_24_hours_reaches_the_dead_letter_queue_once():
    """GIVEN Slack fails for two days WHEN the sweeps retry THEN after 24 h the trigger is put on
    the dead-letter queue once and not tried again."""
    world = World({"slack-critical": outage(T0, T0 + timedelta(days=2))})
    incident = world.open()
    world.run_until(T0 + timedelta(hours=23, minutes=50))
    assert world.dead.records == []
    world.run_until(T0 + timedelta(hours=24, minutes=30))
    assert [r["channel"] for r in world.dead.records] == ["slack-critical"]
    assert world.store.pending_sends(incident) == []


def test_racing_sweeps_redeliver_once():
    """GIVEN a due pending trigger WHEN two sweeps read it at the same instant
    THEN only the one that claims it sends it."""
    world = World({"slack-critical": outage(T0, T0 + timedelta(seconds=30))})
    incident = world.open()
    world.now = T0 + timedelta(minutes=1)
    (pending,) = world.store.pending_sends(incident)
    until = world.now + timedelta(minutes=2)
    first = world.store.claim_redelivery(incident, pending.key, expected_next_at=pending.next_at, until=until)
    second = world.store.claim_redelivery(
        incident, pending.key, expected_next_at=pending.next_at, until=until
    )
    assert first is not None and second is None
    # a sweep that reads the claimed send does not send it before the claim runs out
    sweep(CONFIG, world.store, world.dispatcher, world.now)
    assert world.received("slack-critical", incident) == []


def test_trigger_redelivered_while_the_incident_resolves_is_followed_by_its_resolve():
    """GIVEN Slack's trigger is being redelivered WHEN the incident resolves meanwhile (the
    relay's resolves do not include Slack: it had no trigger yet)
    THEN the sweep sends Slack the resolve right after the trigger."""
    world = World({"slack-critical": outage(T0, T0 + timedelta(seconds=30))})
    incident = world.open()
    world.now = T0 + timedelta(minutes=1)
    world.notifiers["slack"].during_send = world.resolve
    world.sweep()
    assert world.received("slack-critical", incident) == [TRIGGER, RESOLVE]
    world.run_until(T0 + timedelta(minutes=30))
    assert world.received("slack-critical", incident) == [TRIGGER, RESOLVE]


def test_incidents_show_lists_what_is_still_pending():
    """GIVEN Slack failed an incident's trigger WHEN `incidents show` runs THEN it lists the send
    still pending and its next attempt time."""
    world = World({"slack-critical": outage(T0, T0 + timedelta(hours=1))})
    incident = world.open()
    out, err = io.StringIO(), io.StringIO()
    args = build_parser().parse_args(["incidents", "show", incident])
    incidents_cli.run(args, store_factory=lambda _a: world.store, out=out, err=err, now=world.now)
    text = out.getvalue()
    assert "pending redelivery" in text
    assert "slack-critical  trigger  next attempt 10:01:00 UTC" in text
    args.json = True
    out = io.StringIO()
    incidents_cli.run(args, store_factory=lambda _a: world.store, out=out, err=err, now=world.now)
    (pending,) = json.loads(out.getvalue())["redelivery_pending"]
    assert pending["channel"] == "slack-critical" and pending["kind"] == "trigger"


def emf_points(text: str) -> list[tuple[str, float]]:
    points = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            doc = json.loads(line)
            (directive,) = doc["_aws"]["CloudWatchMetrics"]
            assert directive["Dimensions"] == [[metricnames.CHANNEL_DIMENSION]]
            assert [m["Name"] for m in directive["Metrics"]] == [metricnames.CHANNEL_FAILING]
            points.append((doc[metricnames.CHANNEL_DIMENSION], doc[metricnames.CHANNEL_FAILING]))
    return points


def test_each_failing_channel_reports_how_long_it_has_failed(capsys, caplog):
    """GIVEN Slack and e-mail fail for 10 minutes and PagerDuty works WHEN an incident opens and
    the sweeps retry THEN ChannelFailingSeconds is emitted for Slack and e-mail only (dimension:
    the channel), growing past the alarm's 300 s, and the log says why."""
    world = World(
        {
            "slack-critical": outage(T0, T0 + timedelta(minutes=10)),
            "oncall-email": outage(T0, T0 + timedelta(minutes=10), status=500),
        }
    )
    world.open()
    world.run_until(T0 + timedelta(minutes=10))
    points = emf_points(capsys.readouterr().out)
    assert {channel for channel, _ in points} == {"slack-critical", "oncall-email"}
    slack = [seconds for channel, seconds in points if channel == "slack-critical"]
    assert slack[0] == 0 and slack == sorted(slack) and slack[-1] >= metricnames.CHANNEL_FAILING_ALARM_S
    assert any(
        "channel oncall-email failing for" in r.getMessage() and "500" in r.getMessage()
        for r in caplog.records
    )


# ----------------------------------------------------------------------------- escalation steps
def test_a_step_page_that_fails_is_redelivered_after_the_outage_then_gets_its_resolve():
    """GIVEN Slack hears of incidents only from a 2-minute escalation step, and answers 503 from
    1 to 6 minutes WHEN the step fires into the outage THEN the policy moves on, Slack gets the
    step's page once after it recovers, then the resolve once; nothing is dead-lettered."""
    world = World(
        {"slack-critical": outage(T0 + timedelta(minutes=1), T0 + timedelta(minutes=6))}, config=STEPS_CONFIG
    )
    incident = world.open()
    world.run_until(T0 + timedelta(minutes=3))
    assert world.received("slack-critical", incident) == []
    assert world.store.get(incident).due_at is None  # the (one-step) policy is done: not re-armed
    (pending,) = world.store.pending_sends(incident)
    assert (pending.kind, pending.channel) == ("escalation", "slack-critical")
    world.run_until(T0 + timedelta(minutes=20))
    assert world.received("slack-critical", incident) == [ESCALATION]
    assert (
        T0 + timedelta(minutes=6)
        <= world.first_received_at("slack-critical", ESCALATION)
        <= T0 + timedelta(minutes=10)
    )
    world.resolve()
    world.run_until(T0 + timedelta(minutes=40))
    assert world.received("slack-critical", incident) == [ESCALATION, RESOLVE]
    assert world.dead.records == [] and world.store.pending_sends(incident) == []


def test_a_step_page_still_failing_when_the_incident_resolves_sends_nothing():
    """GIVEN Slack's step page failed WHEN the incident resolves before Slack recovers
    THEN Slack receives nothing for it (no late page, no resolve), and the timeline says why."""
    world = World({"slack-critical": outage(T0, T0 + timedelta(minutes=10))}, config=STEPS_CONFIG)
    incident = world.open()
    world.run_until(T0 + timedelta(minutes=4))
    world.resolve()
    world.run_until(T0 + timedelta(minutes=60))
    assert world.received("slack-critical", incident) == []
    assert world.dead.records == [] and world.store.pending_sends(incident) == []
    dropped = [e for e in world.store.get(incident).timeline if e.kind == "redelivery_dropped"]
    assert [e.channel for e in dropped] == ["slack-critical"] and "resolved" in dropped[0].detail


def test_a_step_page_rejected_for_good_is_dead_lettered_at_once():
    world = World({"slack-critical": outage(T0, T0 + timedelta(days=2), status=404)}, config=STEPS_CONFIG)
    incident = world.open()
    world.run_until(T0 + timedelta(minutes=30))
    assert [r["notification"]["kind"] for r in world.dead.records] == ["escalation"]
    assert world.store.pending_sends(incident) == []
    assert any(e.kind == "escalation_gave_up" for e in world.store.get(incident).timeline)


# ----------------------------------------------------------------------------- follow-ups
def acknowledge(world: World, incident: str) -> None:
    world.store.acknowledge(incident, by="ana", via="slack", at=world.now)
    ChangeNotifier(CONFIG, world.dispatcher, world.store)(ACK, world.store.get(incident), "ana", "link")


def test_a_failed_acknowledge_update_is_redelivered_after_the_outage():
    """GIVEN PagerDuty answers 503 when someone acknowledges WHEN the sweeps run after it
    recovers THEN PagerDuty gets the acknowledge once, and nothing is dead-lettered."""
    world = World()
    incident = world.open()
    world.now = T0 + timedelta(minutes=2)
    world.faults["pd-primary"] = outage(world.now, world.now + timedelta(minutes=3))
    acknowledge(world, incident)
    assert world.received("pd-primary", incident) == [TRIGGER]
    world.run_until(T0 + timedelta(minutes=30))
    assert world.received("pd-primary", incident) == [TRIGGER, ACKNOWLEDGE]
    assert world.dead.records == [] and world.store.pending_sends(incident) == []


def test_an_acknowledge_update_still_pending_when_the_incident_resolves_is_dropped():
    """GIVEN PagerDuty's acknowledge update failed WHEN the incident resolves (PagerDuty gets the
    resolve) before the update's next attempt THEN the update is dropped: no late "acknowledged"
    after the resolve."""
    world = World()
    incident = world.open()
    world.faults["pd-primary"] = outage(world.now, world.now + timedelta(seconds=30))
    acknowledge(world, incident)
    world.now = T0 + timedelta(seconds=40)
    world.resolve()
    world.run_until(T0 + timedelta(minutes=30))
    assert world.received("pd-primary", incident) == [TRIGGER, RESOLVE]
    assert world.dead.records == [] and world.store.pending_sends(incident) == []
