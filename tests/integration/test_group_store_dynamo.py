"""One contract for the group store (route groups, storm counters), run against the in-memory
fake and DynamoDB (moto server)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay.adapters.groups import DynamoGroupStore, InMemoryGroupStore
from uptime_relay.adapters.incidents import create_table
from uptime_relay.domain.grouping import Spec, Timing, join, resolve_member

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SPEC = Spec("k1", 0, {"team": "web"}, ("slack",), Timing(30, 300, 3600))


@pytest.fixture(params=["memory", pytest.param("dynamo", marks=pytest.mark.integration)])
def groups(request):
    if request.param == "memory":
        return InMemoryGroupStore()
    client = request.getfixturevalue("aws")("dynamodb")
    name = f"incidents-{uuid.uuid4().hex[:8]}"
    create_table(client, name)
    return DynamoGroupStore(name, client=client)


def test_a_group_is_written_conditionally_and_found_due_by_the_sweep(groups):
    """GIVEN a new group WHEN two writers change the version they both read THEN only the first
    wins; the group is in the due index from its group_wait on, and leaves it once finished."""
    first = groups.change("k1", lambda g: join(g, SPEC, "inc-1", "one", T0))
    assert first is not None and first.version == 1
    stale = groups.get("k1")
    assert groups.put(join(stale, SPEC, "inc-2", "two", T0))
    assert not groups.put(join(stale, SPEC, "inc-3", "three", T0))  # lost the race
    assert [m.id for m in groups.get("k1").members] == ["inc-1", "inc-2"]
    assert groups.due(T0) == []
    assert [g.key for g in groups.due(T0 + timedelta(seconds=30))] == ["k1"]
    for member in ("inc-1", "inc-2"):
        groups.change("k1", lambda g, m=member: resolve_member(g, m, T0))
    finished = groups.change("k1", lambda g: replace(g, finished=True, due_at=None))
    assert finished is not None and groups.due(T0 + timedelta(days=1)) == []


def test_the_storm_counter_counts_openings_per_route_per_window(groups):
    """GIVEN openings on one route WHEN they are counted THEN the count grows within the window and
    starts again after it; another route has its own count."""
    counts = [groups.count_opening(0, T0 + timedelta(seconds=s), 60).count for s in (0, 10, 59)]
    assert counts == [1, 2, 3]
    assert groups.count_opening(1, T0, 60).count == 1
    assert groups.count_opening(0, T0 + timedelta(seconds=61), 60).count == 1
