"""Heartbeat pings in DynamoDB (moto): one keyed conditional write per ping, keyed batch reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay.adapters.heartbeats import DynamoHeartbeats
from uptime_relay.adapters.incidents import create_table

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)


@pytest.fixture
def heartbeats(aws):
    name = f"uptime-relay-{uuid.uuid4().hex[:8]}"
    create_table(aws("dynamodb"), name)
    return DynamoHeartbeats(name, client=aws("dynamodb"))


def test_a_ping_is_stored_once_and_never_moves_back_in_time(heartbeats):
    """GIVEN a stored success ping WHEN the same ping comes again, and an older one arrives late
    THEN neither changes what is stored; a newer ping does."""
    assert heartbeats.record("backup", "success", T0) is True
    assert heartbeats.record("backup", "success", T0) is False  # a retry of the same ping
    assert heartbeats.record("backup", "success", T0 - timedelta(minutes=5)) is False  # reordered
    assert heartbeats.get("backup").success_at == T0
    assert heartbeats.record("backup", "success", T0 + timedelta(minutes=1)) is True
    assert heartbeats.record("backup", "start", T0 + timedelta(minutes=2)) is True
    record = heartbeats.get("backup")
    assert (record.success_at, record.start_at, record.fail_at) == (
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=2),
        None,
    )


def test_the_probe_reads_many_records_by_key_and_skips_checks_never_pinged(heartbeats):
    """GIVEN 130 heartbeat checks of which some were pinged WHEN read in one go THEN every pinged
    one comes back (BatchGetItem takes 100 keys a call) and the others are absent."""
    names = [f"job-{i}" for i in range(130)]
    for name in names[::3]:
        heartbeats.record(name, "fail", T0)
    records = heartbeats.get_many(names)
    assert sorted(records) == sorted(names[::3])
    assert all(r.fail_at == T0 for r in records.values())
    assert heartbeats.get("job-1") is None
