"""One contract for the incident store, run against the in-memory fake and DynamoDB (moto server)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay.adapters.incidents import DynamoIncidentStore, InMemoryIncidentStore, create_table
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.incident import Action, Cursor, OpeningPlan, TimelineEntry, decide

T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)


@pytest.fixture(params=["memory", pytest.param("dynamo", marks=pytest.mark.integration)])
def store(request):
    if request.param == "memory":
        return InMemoryIncidentStore()
    client = request.getfixturevalue("aws")("dynamodb")
    name = f"incidents-{uuid.uuid4().hex[:8]}"
    create_table(client, name)
    return DynamoIncidentStore(name, client=client)


def alert(state: AlertState, at: datetime, alarm: str = "alarm-a") -> Alert:
    return Alert(
        source=AlertSource.CLOUDWATCH,
        id=alarm,
        name=alarm,
        state=state,
        reason="r",
        time=at,
        labels={"severity": "critical"},
    )


def plan(due: datetime | None = None) -> OpeningPlan:
    cursor = Cursor(1, 0, due) if due else None
    return OpeningPlan(
        name="api",
        labels={"severity": "critical"},
        route_channels=("pd", "slack"),
        policy="critical" if due else None,
        cursor=cursor,
    )


def feed(store, a: Alert, due: datetime | None = None):
    return store.apply(a, lambda record, incident: decide(record, incident, a, plan=plan(due)))


def test_it_opens_once_for_a_duplicate_alarm_and_resolves_on_ok(store):
    opened = feed(store, alert(AlertState.ALARM, T0))
    again = feed(store, alert(AlertState.ALARM, T0))
    assert opened.action is Action.OPENED and again.action is Action.DUPLICATE
    incident = store.get(opened.incident.id)
    assert incident.status == "open" and incident.route_channels == ("pd", "slack")
    assert incident.alert == alert(AlertState.ALARM, T0)
    assert [i.id for i in store.list()] == [incident.id]
    resolved = feed(store, alert(AlertState.OK, T0 + timedelta(minutes=5)))
    assert resolved.action is Action.RESOLVED
    assert store.get(incident.id).status == "resolved"
    assert store.list() == [] and [i.id for i in store.list(statuses=("resolved",))] == [incident.id]


def test_an_ok_before_its_alarm_leaves_nothing_open(store):
    assert feed(store, alert(AlertState.OK, T0 + timedelta(minutes=2))).action is Action.RECORDED
    assert feed(store, alert(AlertState.ALARM, T0)).action is Action.STALE
    assert store.list() == []
    assert store.get_alarm("alarm-a").last_state == "OK"


def test_a_stale_write_is_refused_and_apply_re_decides(store):
    first = feed(store, alert(AlertState.ALARM, T0))
    # a writer that read before the open tries to open again from its stale view
    stale = decide(None, None, alert(AlertState.ALARM, T0 + timedelta(seconds=1)))
    assert store.commit(stale) is False
    assert store.get(first.incident.id).version == 1


def test_concurrent_duplicates_open_one_incident(store):
    results = []

    def run():
        results.append(feed(store, alert(AlertState.ALARM, T0)).action)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results).count(Action.OPENED) == 1
    assert len(store.list()) == 1


def test_due_lists_pending_steps_and_advance_is_conditional(store):
    due = T0 + timedelta(minutes=10)
    inc = feed(store, alert(AlertState.ALARM, T0), due=due).incident
    assert store.due(due - timedelta(seconds=1)) == []
    assert [i.id for i in store.due(due)] == [inc.id]
    assert store.advance(
        inc.id, expected_step=1, expected_round=0, step=2, round=0, due_at=due + timedelta(minutes=20)
    )
    assert not store.advance(inc.id, expected_step=1, expected_round=0, step=2, round=0, due_at=None)
    moved = store.get(inc.id)
    assert (moved.step, moved.round, moved.due_at) == (2, 0, due + timedelta(minutes=20))
    assert store.advance(inc.id, expected_step=2, expected_round=0, step=3, round=0, due_at=None)
    assert store.due(due + timedelta(days=1)) == [] and store.get(inc.id).due_at is None


def test_acknowledge_and_resolve_stop_escalation_once(store):
    due = T0 + timedelta(minutes=10)
    inc = feed(store, alert(AlertState.ALARM, T0), due=due).incident
    assert store.acknowledge(inc.id, by="alice", via="slack", at=T0 + timedelta(minutes=1))
    assert not store.acknowledge(inc.id, by="bob", via="slack", at=T0 + timedelta(minutes=2))
    acked = store.get(inc.id)
    assert acked.status == "acknowledged" and acked.acknowledged_by == "alice" and acked.due_at is None
    assert store.due(due + timedelta(hours=1)) == []
    assert not store.advance(inc.id, expected_step=1, expected_round=0, step=2, round=0, due_at=None)
    assert store.resolve(inc.id, by="alice", via="link", at=T0 + timedelta(minutes=3))
    assert not store.resolve(inc.id, by="alice", via="link", at=T0 + timedelta(minutes=4))
    done = store.get(inc.id)
    assert done.status == "resolved" and done.resolved_by == "alice"
    assert [e.kind for e in done.timeline][-2:] == ["acknowledged", "resolved"]
    # the alarm's OK afterwards changes nothing and opens nothing
    assert feed(store, alert(AlertState.OK, T0 + timedelta(minutes=5))).action is Action.RECORDED


def test_timeline_and_handles_are_appended(store):
    inc = feed(store, alert(AlertState.ALARM, T0)).incident
    assert store.append_timeline(inc.id, TimelineEntry(T0, "notified", "sent", "pd"))
    assert store.set_handles(inc.id, "slack", {"channel": "C1", "ts": "1700000000.000100"})
    assert store.record_outcomes(
        inc.id, [TimelineEntry(T0, "notified", "", "slack")], {"pd": {"dedup_key": "k"}}
    )
    got = store.get(inc.id)
    assert got.handles == {"slack": {"channel": "C1", "ts": "1700000000.000100"}, "pd": {"dedup_key": "k"}}
    assert [(e.kind, e.channel) for e in got.timeline] == [
        ("opened", None),
        ("notified", "pd"),
        ("notified", "slack"),
    ]
    assert got.version == 4
    assert not store.append_timeline("inc-missing", TimelineEntry(T0, "notified"))
    assert store.get("inc-missing") is None


def test_first_page_pending_is_settled_and_claimed_once(store):
    lease = T0 + timedelta(seconds=60)
    a = alert(AlertState.ALARM, T0)
    p = OpeningPlan(name="api", route_channels=("pd", "slack"), lease_until=lease)
    inc = store.apply(a, lambda r, i: decide(r, i, a, plan=p)).incident
    assert store.get(inc.id).pending == ("pd", "slack")
    assert store.record_outcomes(inc.id, [TimelineEntry(T0, "notified", "", "pd")], {}, settled=["pd"])
    assert store.get(inc.id).pending == ("slack",)
    later = T0 + timedelta(minutes=2)
    assert store.claim_pending(inc.id, expected_until=lease, until=later)
    assert not store.claim_pending(inc.id, expected_until=lease, until=later)  # someone else has it
    assert store.get(inc.id).pending_until == later
    assert store.record_outcomes(inc.id, [], {}, settled=["slack"])
    assert store.get(inc.id).pending == ()
    assert not store.claim_pending(inc.id, expected_until=later, until=later + timedelta(minutes=1))


def test_the_escalation_anchor_is_stored_with_the_incident(store):
    arrived = T0 + timedelta(minutes=7)  # the alarm reached the relay late
    a = alert(AlertState.ALARM, T0)
    p = OpeningPlan(
        name="api", policy="critical", cursor=Cursor(1, 0, arrived + timedelta(minutes=10)), anchor=arrived
    )
    inc = store.apply(a, lambda r, i: decide(r, i, a, plan=p)).incident
    got = store.get(inc.id)
    assert got.escalation_anchor == arrived and got.opened_at == T0
    assert [i.escalation_anchor for i in store.due(arrived + timedelta(minutes=10))] == [arrived]


def test_move_step_claims_a_due_step_once_and_moves_on_only_under_the_claim(store):
    due = T0 + timedelta(minutes=10)
    inc = feed(store, alert(AlertState.ALARM, T0), due=due).incident
    lease = due + timedelta(minutes=2)
    claim = TimelineEntry(due, "escalation_attempt", "step 2: attempt 1")
    # not due yet: nobody may claim it
    assert not store.move_step(
        inc.id, step=1, round=0, to_step=1, to_round=0, due_at=lease, due_by=due - timedelta(seconds=1)
    )
    assert store.move_step(
        inc.id, step=1, round=0, to_step=1, to_round=0, due_at=lease, due_by=due, entries=[claim]
    )
    # a second sweep that read the same due step loses
    assert not store.move_step(inc.id, step=1, round=0, to_step=1, to_round=0, due_at=lease, due_by=due)
    assert store.due(due) == [] and [i.id for i in store.due(lease)] == [inc.id]
    # moving on needs the claim (the lease end) still in place
    assert not store.move_step(
        inc.id, step=1, round=0, to_step=2, to_round=0, due_at=None, expected_due=lease + timedelta(1)
    )
    anchor = T0 + timedelta(minutes=1)
    assert store.move_step(
        inc.id, step=1, round=0, to_step=2, to_round=0, due_at=None, expected_due=lease, anchor=anchor
    )
    got = store.get(inc.id)
    assert (got.step, got.round, got.due_at, got.escalation_anchor) == (2, 0, None, anchor)
    assert [e.kind for e in got.timeline] == ["opened", "escalation_attempt"]
    assert store.due(due + timedelta(days=1)) == []


def test_move_step_leaves_an_acknowledged_incident_alone(store):
    due = T0 + timedelta(minutes=10)
    inc = feed(store, alert(AlertState.ALARM, T0), due=due).incident
    assert store.acknowledge(inc.id, by="ana", via="slack", at=T0 + timedelta(minutes=1))
    assert not store.move_step(inc.id, step=1, round=0, to_step=2, to_round=0, due_at=None, due_by=due)
    assert store.get(inc.id).status == "acknowledged"


def open_silenced(store, hold: datetime):
    a = alert(AlertState.ALARM, T0)
    silenced = OpeningPlan(
        name="api",
        labels={"severity": "critical"},
        route_channels=("pd", "slack"),
        policy="critical",
        cursor=Cursor(1, 0, T0 + timedelta(minutes=10)),
        silenced="maintenance nightly",
        hold_until=hold,
    )
    return store.apply(a, lambda record, incident: decide(record, incident, a, plan=silenced)).incident


def test_a_silenced_opening_is_due_at_its_hold_and_the_hold_moves_only_under_its_token(store):
    hold = T0 + timedelta(minutes=1)
    incident = open_silenced(store, hold)
    saved = store.get(incident.id)
    assert saved.silenced and saved.cursor_held and saved.pending == ("pd", "slack")
    assert [i.id for i in store.due(hold)] == [incident.id] and store.due(hold - timedelta(seconds=1)) == []

    later = hold + timedelta(minutes=1)
    assert store.hold_silenced(incident.id, expected_until=hold, until=later)
    assert not store.hold_silenced(incident.id, expected_until=hold, until=later)  # a racing sweep
    assert store.due(hold) == [] and [i.id for i in store.due(later)] == [incident.id]
    assert store.get(incident.id).timeline == saved.timeline  # re-checks leave no entries


def test_unsilence_takes_the_held_page_once_and_stops_at_an_acknowledgement(store):
    hold = T0 + timedelta(minutes=1)
    incident = open_silenced(store, hold)
    now = T0 + timedelta(hours=2)
    lease, cursor_due = now + timedelta(minutes=1), now + timedelta(minutes=10)

    def take():
        return store.unsilence(
            incident.id, expected_until=hold, until=lease, step=1, round=0, held_due_at=cursor_due,
            anchor=now, entries=[TimelineEntry(now, "unsilenced", "silence over")],
        )  # fmt: skip

    results = []
    threads = [threading.Thread(target=lambda: results.append(take())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    taken = store.get(incident.id)
    assert not taken.silenced and taken.pending_until == lease and taken.due_at == lease
    assert taken.held_due_at == cursor_due and taken.escalation_anchor == now
    assert [e.kind for e in taken.timeline].count("unsilenced") == 1
    # the rest is an ordinary first page: settled, then the cursor goes back
    assert store.record_outcomes(incident.id, [], {}, settled=["pd", "slack"])
    assert store.release_hold(incident.id, due_at=taken.held_due_at)
    assert store.get(incident.id).due_at == cursor_due

    acked_alarm = alert(AlertState.ALARM, T0, alarm="alarm-b")
    silenced = OpeningPlan(name="b", labels={}, route_channels=("pd",), silenced="s1", hold_until=hold)
    acked = store.apply(acked_alarm, lambda r, i: decide(r, i, acked_alarm, plan=silenced)).incident
    assert store.acknowledge(acked.id, by="ana", via="cli", at=T0 + timedelta(minutes=5))
    assert not store.hold_silenced(acked.id, expected_until=hold, until=now)
    assert not store.unsilence(
        acked.id, expected_until=hold, until=lease, step=0, round=0, held_due_at=None, anchor=now
    )
