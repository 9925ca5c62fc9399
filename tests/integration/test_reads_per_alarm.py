"""The relay's DynamoDB reads per alarm do not grow with the table's history (issue 13, item 4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from uptime_relay.adapters.incidents import create_table
from uptime_relay_tools.testing.table_load import (
    ITEMS_READ,
    fill_resolved,
    reads,
    requests,
    requests_per_alarm,
)

NOW = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)


def test_the_relay_reads_the_same_per_alarm_with_10_and_10000_resolved_incidents_in_the_table(aws):
    """GIVEN one table holding 10 resolved incidents and another holding 10,000 (months of history)
    WHEN one new alarm opens and resolves through the relay the Lambda function builds
    THEN both tables see the same DynamoDB requests, the same read requests and the same items
    read for the ALARM and for the OK, and none of them is a Scan."""
    client = aws("dynamodb")
    figures = {}
    for history in (10, 10_000):
        table = f"reads-{history}-{uuid.uuid4().hex[:8]}"
        create_table(client, table)
        fill_resolved(client, table, history, at=NOW)
        figures[history] = requests_per_alarm(client, table, at=NOW)
    small, large = figures[10], figures[10_000]
    for label in ("ALARM", "OK"):
        assert "Scan" not in small[label] and "Scan" not in large[label], (label, small, large)
        assert small[label] == large[label], (label, small[label], large[label])
        assert reads(large[label]) > 0 and requests(large[label]) > reads(large[label])
        assert large[label][ITEMS_READ] < 10, large[label]
