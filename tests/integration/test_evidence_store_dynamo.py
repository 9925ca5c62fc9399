"""The probe's evidence record on DynamoDB (moto): conditional puts, only on change, newest wins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay.adapters.evidence import DynamoEvidenceStore
from uptime_relay.adapters.incidents import create_table
from uptime_relay.domain.evidence import Evidence

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 3, 13, 34, tzinfo=UTC)


def failure(reason="status_mismatch", status=503, at=T0) -> Evidence:
    return Evidence(check="shop", reason=reason, status_code=status, phase="expect", since=at, at=at)


def test_the_same_failure_keeps_its_first_record_a_new_one_replaces_it_and_an_older_one_never_does(aws):
    """GIVEN the shop failing with 503, WHEN the same failure is put again (another container),
    THEN the first record and its ``since`` stay; a different failure replaces it; a record older
    than the stored one (a late run) is refused."""
    table = f"uptime-relay-{uuid.uuid4().hex[:8]}"
    create_table(aws("dynamodb"), table)
    store = DynamoEvidenceStore(table, client=aws("dynamodb"))

    assert store.put(failure()) is True
    assert store.put(failure(at=T0 + timedelta(minutes=3))) is False  # unchanged: not written
    assert store.get("shop").since == T0
    assert store.put(failure("connect_refused", None, T0 + timedelta(minutes=5))) is True
    assert store.put(failure("timeout", None, T0 + timedelta(minutes=4))) is False  # older run
    found = store.get("shop")
    assert (found.reason, found.since) == ("connect_refused", T0 + timedelta(minutes=5))
    assert store.get("other") is None
