"""The destinations' pace in DynamoDB (moto server): invocations taking slots of one Slack
webhook each get their own slot, and one that loses the conditional write to another re-reads
and takes the next slot, so the pace holds across invocations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from uptime_relay.adapters.incidents import create_table
from uptime_relay.adapters.pacing import DynamoPacer
from uptime_relay.domain.pacing import SLACK

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def table(aws):
    name = f"pace-{uuid.uuid4().hex[:8]}"
    create_table(aws("dynamodb"), name)
    return name


def test_invocations_share_one_destinations_slots(aws, table):
    pacers = [DynamoPacer(table, client=aws("dynamodb")) for _ in range(3)]  # like 3 Lambdas
    waits = [pacers[i % 3].reserve("slack:hook", SLACK, T0, max_wait_s=60) for i in range(12)]
    assert [(r, round(w, 3)) for r, w in waits] == [(True, w) for w in (0, 0, 0, *range(1, 10))]
    assert pacers[0].reserve("slack:hook", SLACK, T0, max_wait_s=5) == (False, 10)


class Interleaved:
    """A DynamoDB client on which another invocation reserves a slot between our read and our
    conditional write (once): the race the version condition is there for."""

    def __init__(self, client, other: DynamoPacer):
        self._client, self._other, self.raced = client, other, False

    def __getattr__(self, name):
        return getattr(self._client, name)

    def put_item(self, **kwargs):
        if not self.raced:
            self.raced = True
            assert self._other.reserve("slack:hook", SLACK, T0, max_wait_s=60) == (True, 0)
        return self._client.put_item(**kwargs)


def test_an_invocation_that_loses_the_race_takes_the_next_slot(aws, table):
    DynamoPacer(table, client=aws("dynamodb")).reserve("slack:hook", SLACK, T0, max_wait_s=60)  # 2 left
    other = DynamoPacer(table, client=aws("dynamodb"))
    racing = Interleaved(aws("dynamodb"), other)
    reserved, wait = DynamoPacer(table, client=racing).reserve("slack:hook", SLACK, T0, max_wait_s=60)
    assert racing.raced and reserved and wait == 0  # the last burst token, after re-reading
    assert DynamoPacer(table, client=aws("dynamodb")).reserve("slack:hook", SLACK, T0, max_wait_s=60) == (
        True,
        1,
    )
