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


def test_an_escalation_is_dropped_once_its_incident_is_acknowledged_or_resolved():
    """GIVEN a step page kept for redelivery WHEN the incident was acknowledged or resolved before
    it got through THEN it is dropped: escalation stops there, nobody is paged late."""
    now = T0 + timedelta(minutes=1)
    page = first("escalation")
    assert decide_redelivery([page], INCIDENT, now) == [Redeliver(page)]
    for status in ("acknowledged", "resolved"):
        (decision,) = decide_redelivery([page], replace(INCIDENT, status=status), now)
        assert isinstance(decision, Drop) and status in decision.why
    (gone,) = decide_redelivery([page], None, now)
    assert isinstance(gone, Drop) and "gone" in gone.why


def test_an_acknowledge_update_is_sent_only_while_the_incident_is_still_acknowledged():
    """GIVEN an acknowledge update kept for redelivery WHEN the incident has since resolved (its
    resolve supersedes it) or reopened THEN it is dropped; while still acknowledged it is sent."""
    now = T0 + timedelta(minutes=1)
    update = first("acknowledge")
    acked = replace(INCIDENT, status="acknowledged")
    assert decide_redelivery([update], acked, now) == [Redeliver(update)]
    for status in ("resolved", "open"):
        (decision,) = decide_redelivery([update], replace(INCIDENT, status=status), now)
        assert isinstance(decision, Drop) and "out of date" in decision.why


def test_a_resolve_follow_up_is_sent_whatever_the_status_and_every_kind_gives_up_after_24_hours():
    now = T0 + timedelta(hours=24)
    resolve = first("resolve")
    assert decide_redelivery([resolve], replace(INCIDENT, status="open"), T0 + timedelta(minutes=1)) == [
        Redeliver(resolve)
    ]
    for kind in ("escalation", "acknowledge"):
        status = "acknowledged" if kind == "acknowledge" else "open"
        (decision,) = decide_redelivery([first(kind)], replace(INCIDENT, status=status), now)
        assert isinstance(decision, GiveUp)


def test_an_escalation_delivered_after_the_resolve_was_written_owes_a_resolve():
    sent_at = T0 + timedelta(minutes=2)
    notified = TimelineEntry(sent_at, "notified", "escalation step 1, round 1 [slack]: escalated", "slack")
    resolved_entry = TimelineEntry(T0 + timedelta(minutes=1), "resolved", "alarm returned to OK")
    assert resolve_owed(
        replace(INCIDENT, status="resolved", timeline=(resolved_entry, notified)), "slack", sent_at
    )


def test_every_kind_round_trips_through_json_and_an_unknown_one_reads_as_a_trigger():
    for kind in ("trigger", "resolve", "escalation", "acknowledge"):
        assert Pending.from_json(first(kind).to_json()).kind == kind
    legacy = first().to_json().replace('"kind": "trigger"', '"kind": "warning"')
    assert Pending.from_json(legacy).kind == "trigger"
