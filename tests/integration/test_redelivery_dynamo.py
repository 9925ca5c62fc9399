"""Automatic redelivery against DynamoDB in a moto server: pending sends live in a small
``REDELIVER#`` item found through the due index's own partition, claimed once by racing sweeps,
and a Slack outage at an incident's opening (or at its escalation step) still ends with the
page then the resolve."""

from __future__ import annotations

import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from uptime_relay.adapters.incidents import DynamoIncidentStore, create_table
from uptime_relay.domain.redelivery import Pending
from uptime_relay.notifiers.base import NotificationKind

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from redelivery_world import STEPS_CONFIG, T0, World, outage

pytestmark = pytest.mark.integration


@pytest.fixture
def store(aws):
    name = f"redeliver-{uuid.uuid4().hex[:8]}"
    client = aws("dynamodb")
    create_table(client, name)
    return DynamoIncidentStore(name, client=client)


def pending(key: str, next_at) -> Pending:
    return Pending(key, "slack-critical", "trigger", T0, next_at, 1, "HTTP 503")


def test_pending_sends_are_found_by_the_due_index_and_claimed_once(store):
    """GIVEN two pending sends of an incident WHEN sweeps look for due ones and race to claim
    THEN only the due one is found, one claim wins, and settling it leaves the other."""
    assert store.defer("inc-1", pending("trigger:slack-critical", T0 + timedelta(minutes=1)))
    assert store.defer("inc-1", pending("trigger:oncall-email", T0 + timedelta(minutes=5)))
    assert store.redeliveries_due(T0) == []
    assert store.redeliveries_due(T0 + timedelta(minutes=1)) == ["inc-1"]
    assert store.due(T0 + timedelta(days=1)) == []  # the escalation sweep's partition is untouched
    at, until = T0 + timedelta(minutes=1), T0 + timedelta(minutes=3)
    won = store.claim_redelivery("inc-1", "trigger:slack-critical", expected_next_at=at, until=until)
    lost = store.claim_redelivery("inc-1", "trigger:slack-critical", expected_next_at=at, until=until)
    assert won is not None and won.next_at == until and lost is None
    assert not store.settle_redelivery("inc-1", "trigger:slack-critical", expected_next_at=at)
    assert store.settle_redelivery("inc-1", "trigger:slack-critical", expected_next_at=until)
    assert [p.key for p in store.pending_sends("inc-1")] == ["trigger:oncall-email"]
    assert store.settle_redelivery("inc-1", "trigger:oncall-email")
    assert store.pending_sends("inc-1") == []
    assert store.redeliveries_due(T0 + timedelta(days=1)) == []


def test_slack_outage_at_opening_is_redelivered_through_dynamodb(store):
    """GIVEN Slack fails for the first 3 minutes of an incident WHEN the sweeps run and the
    incident later resolves THEN Slack gets the trigger once, then the resolve once."""
    world = World({"slack-critical": outage(T0, T0 + timedelta(minutes=3))}, store=store)
    incident = world.open()
    world.run_until(T0 + timedelta(minutes=8))
    world.resolve()
    world.run_until(T0 + timedelta(minutes=10))
    assert world.received("slack-critical", incident) == [NotificationKind.TRIGGER, NotificationKind.RESOLVE]
    assert world.dead.records == []
    assert store.pending_sends(incident) == []


def test_a_step_page_failing_through_a_503_window_is_redelivered_through_dynamodb(store):
    """GIVEN Slack hears of incidents from a 2-minute escalation step and answers 503 from 1 to 5
    minutes WHEN the step fires into the outage and the sweeps run on THEN the policy moves on,
    the step's page waits in a ``REDELIVER#`` item, Slack gets it once after it recovers, then
    the resolve once; nothing is dead-lettered."""
    world = World(
        {"slack-critical": outage(T0 + timedelta(minutes=1), T0 + timedelta(minutes=5))},
        store=store,
        config=STEPS_CONFIG,
    )
    incident = world.open()
    world.run_until(T0 + timedelta(minutes=3))
    (kept,) = store.pending_sends(incident)
    assert (kept.kind, kept.channel) == ("escalation", "slack-critical")
    assert store.get(incident).due_at is None  # the policy is done, not re-armed for a retry
    assert store.redeliveries_due(kept.next_at) == [incident]
    world.run_until(T0 + timedelta(minutes=12))
    world.resolve()
    world.run_until(T0 + timedelta(minutes=14))
    assert world.received("slack-critical", incident) == [
        NotificationKind.ESCALATION,
        NotificationKind.RESOLVE,
    ]
    assert world.dead.records == []
    assert store.pending_sends(incident) == []
