"""Flap state in DynamoDB (moto server): conditional writes per check, and the quiet checks found
through the due index's own ``FLAP`` partition (a keyed query, beside the incidents' ``DUE``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay.adapters.flapping import DynamoFlaps
from uptime_relay.adapters.incidents import DynamoIncidentStore, create_table
from uptime_relay.config import Flapping
from uptime_relay.domain.flapping import left, record_change

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SETTING = Flapping(600, 3)


@pytest.fixture
def table(aws):
    name = f"flap-{uuid.uuid4().hex[:8]}"
    create_table(aws("dynamodb"), name)
    return name


def test_a_check_flaps_once_and_is_due_when_quiet_in_its_own_partition(aws, table):
    # GIVEN two invocations recording changes of one check
    ours, theirs = DynamoFlaps(table, client=aws("dynamodb")), DynamoFlaps(table, client=aws("dynamodb"))
    state = None
    for m in (0, 2):
        state = record_change(ours.get("api"), "api", T0 + timedelta(minutes=m), SETTING).state
        assert ours.put(state, quiet_at=state.quiet_at(SETTING))
    # WHEN both record the third change from the same read: only one write wins
    read = ours.get("api")
    third = record_change(read, "api", T0 + timedelta(minutes=4), SETTING)
    assert third.entered
    assert ours.put(third.state, quiet_at=third.state.quiet_at(SETTING))
    assert not theirs.put(third.state, quiet_at=third.state.quiet_at(SETTING))
    stored = theirs.get("api")
    assert stored == third.state and stored.flapping
    # THEN it is due once a whole window passed without a change, and never as an incident
    assert ours.due(T0 + timedelta(minutes=13)) == []
    assert ours.due(T0 + timedelta(minutes=14)) == [stored]
    assert DynamoIncidentStore(table, client=aws("dynamodb")).due(T0 + timedelta(days=1)) == []
    # and leaving flapping takes it out of the due index
    assert ours.put(left(stored), quiet_at=None)
    assert ours.due(T0 + timedelta(days=1)) == [] and not ours.get("api").flapping
