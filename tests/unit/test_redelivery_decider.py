"""The pure redelivery decider (``domain.redelivery``): backoff, give-up after 24 h, and which
pending sends are sent, dropped or dead-lettered, with the time passed in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from uptime_relay.domain.incident import Incident, TimelineEntry
from uptime_relay.domain.redelivery import (
    Drop,
    GiveUp,
    Pending,
    Redeliver,
    after_failure,
    backoff,
    decide_redelivery,
    resolve_owed,
)

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
INCIDENT = Incident("inc-1", "alarm-1", "api down", "open", T0, T0)


def first(kind="trigger", retry_after=None) -> Pending:
    found = after_failure(
        None,
        key=f"{kind}:slack",
        channel="slack",
        kind=kind,
        now=T0,
        error="HTTP 503",
        retry_after=retry_after,
    )
    assert found is not None
    return found


def test_backoff_doubles_from_a_minute_up_to_fifteen_and_never_undercuts_retry_after():
    assert [backoff(n) for n in range(1, 8)] == [60, 120, 240, 480, 900, 900, 900]
    assert backoff(1, retry_after=5) == 60
    assert backoff(1, retry_after=1800) == 1800
    assert backoff(10_000) == 900  # no overflow however long it fails


def test_each_failure_pushes_the_next_attempt_out_until_24_hours_have_passed():
    pending = first()
    assert (pending.attempts, pending.next_at) == (1, T0 + timedelta(minutes=1))
    again = after_failure(
        pending, key=pending.key, channel="slack", kind="trigger", now=T0 + timedelta(minutes=1), error="x"
    )
    assert again is not None and again.attempts == 2 and again.next_at == T0 + timedelta(minutes=3)
    assert again.first_failed_at == T0 and again.error == "x"
    late = T0 + timedelta(hours=24)
    assert (
        after_failure(pending, key=pending.key, channel="slack", kind="trigger", now=late, error="x") is None
    )


def test_only_due_sends_are_decided():
    pending = first()
    assert decide_redelivery([pending], INCIDENT, T0) == []
    assert decide_redelivery([pending], INCIDENT, T0 + timedelta(minutes=1)) == [Redeliver(pending)]


def test_a_trigger_is_dropped_once_its_incident_resolved_but_a_resolve_is_still_sent():
    resolved = replace(INCIDENT, status="resolved", resolved_at=T0)
    now = T0 + timedelta(minutes=1)
    trigger, resolve = first("trigger"), first("resolve")
    decisions = decide_redelivery([trigger, resolve], resolved, now)
    assert isinstance(decisions[0], Drop) and "resolved before its trigger" in decisions[0].why
    assert decisions[1] == Redeliver(resolve)
    assert all(isinstance(d, Drop) for d in decide_redelivery([trigger, resolve], None, now))


def test_an_acknowledged_incident_still_gets_its_trigger():
    acked = replace(INCIDENT, status="acknowledged")
    assert decide_redelivery([first()], acked, T0 + timedelta(minutes=1)) == [Redeliver(first())]


def test_a_send_due_after_24_hours_is_given_up():
    pending = replace(first(), next_at=T0 + timedelta(hours=24))
    (decision,) = decide_redelivery([pending], INCIDENT, T0 + timedelta(hours=24))
    assert isinstance(decision, GiveUp) and "24 h" in decision.why


def test_a_trigger_delivered_after_the_resolve_was_written_owes_a_resolve():
    sent_at = T0 + timedelta(minutes=2)
    notified = TimelineEntry(sent_at, "notified", "trigger sent", "slack")
    resolved_entry = TimelineEntry(T0 + timedelta(minutes=1), "resolved", "alarm returned to OK")
    after = replace(INCIDENT, status="resolved", timeline=(resolved_entry, notified))
    before = replace(INCIDENT, status="resolved", timeline=(notified, resolved_entry))
    assert resolve_owed(after, "slack", sent_at)
    assert not resolve_owed(before, "slack", sent_at)  # the resolve went to slack already
    assert not resolve_owed(replace(after, status="open"), "slack", sent_at)
    assert not resolve_owed(after, "pd", sent_at)


def test_pending_sends_round_trip_through_json():
    pending = replace(
        first(), to=("ana@example.com",), members=("inc-1", "inc-2"), notification={"kind": "trigger"}
    )
    assert Pending.from_json(pending.to_json()) == pending
