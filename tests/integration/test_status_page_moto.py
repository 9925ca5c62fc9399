"""The status page's adapters on a moto server: the snapshot item's conditional writes, and the
Availability reads in batches that stay within GetMetricData's limits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay import metricnames
from uptime_relay.adapters.availability import CloudWatchAvailability
from uptime_relay.adapters.incidents import create_table
from uptime_relay.adapters.status_cache import DynamoStatusCache, Snapshot
from uptime_relay.domain.availability import Span

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def cache(aws):
    name = f"status-{uuid.uuid4().hex[:8]}"
    create_table(aws("dynamodb"), name)
    return name


def snapshot(version: int, at: datetime = T0) -> Snapshot:
    return Snapshot(body={"history": {"v": version}, "live": {}}, history_at=at, live_at=at, version=version)


def test_one_of_two_views_arriving_together_refreshes_and_a_stale_write_is_refused(aws, cache):
    """GIVEN two actions containers finding the snapshot stale at the same moment
    THEN only one wins the refresh lease until it stores or the lease runs out, and a write
    built on an older version than the stored one is refused."""
    one, two = (
        DynamoStatusCache(cache, client=aws("dynamodb")),
        DynamoStatusCache(cache, client=aws("dynamodb")),
    )
    assert one.get() is None
    assert one.claim(T0, T0 + timedelta(seconds=30))
    assert not two.claim(T0 + timedelta(seconds=1), T0 + timedelta(seconds=31))
    assert one.put(snapshot(1))
    stored = two.get()
    assert stored is not None and stored.version == 1 and stored.body == {"history": {"v": 1}, "live": {}}
    assert stored.history_at == T0
    # storing released the lease
    assert two.claim(T0 + timedelta(seconds=2), T0 + timedelta(seconds=32))
    assert two.put(snapshot(2))
    assert not one.put(snapshot(2))  # built on version 1 too: refused
    # a lease nobody released (its holder died) runs out
    assert two.claim(T0 + timedelta(seconds=3), T0 + timedelta(seconds=33))
    assert not one.claim(T0 + timedelta(seconds=10), T0 + timedelta(seconds=40))
    assert one.claim(T0 + timedelta(seconds=34), T0 + timedelta(seconds=64))


def test_availability_of_many_checks_is_read_in_batches_within_the_limits(aws):
    """GIVEN 300 checks, each probed for 10 minutes with 2 failures
    WHEN one span is read THEN every check's tally is exact and it took 2 calls (250 checks each)."""
    namespace = f"UptimeRelayTest{uuid.uuid4().hex[:6]}"
    cloudwatch = aws("cloudwatch")
    checks = [f"check-{i}" for i in range(300)]
    data = [
        {
            "MetricName": metricnames.AVAILABILITY,
            "Dimensions": [{"Name": metricnames.CHECK_DIMENSION, "Value": check}],
            "Timestamp": T0 + timedelta(minutes=minute),
            "Value": 0.0 if minute in (3, 4) else 1.0,
        }
        for check in checks
        for minute in range(10)
    ]
    for start in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 1000])
    reader = CloudWatchAvailability(cloudwatch, namespace)
    found = reader.tallies(checks, [Span(T0, T0 + timedelta(hours=1), 3600)])
    assert reader.calls == 2
    assert {(t[0].probed, t[0].up) for t in found.values()} == {(10.0, 8.0)}
