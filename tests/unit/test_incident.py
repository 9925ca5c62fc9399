"""The incident state machine: what one alert does, decided on the alarm's own StateChangeTime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.incident import (
    Action,
    AlarmRecord,
    Cursor,
    Incident,
    OpeningPlan,
    TimelineEntry,
    alert_from_dict,
    alert_to_dict,
    decide,
    incident_from_dict,
    incident_id,
    incident_to_dict,
)

T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
ALARM_ID = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-api-availability"


def alert(state: AlertState, at: datetime, reason: str = "threshold crossed") -> Alert:
    return Alert(
        source=AlertSource.CLOUDWATCH,
        id=ALARM_ID,
        name="uptime-api-availability",
        state=state,
        reason=reason,
        time=at,
        labels={"check": "api", "severity": "critical"},
        extra={"group_key": ALARM_ID},
    )


def apply(record, incident, a, **kw):
    """Decide, then 'write' the way a store would; returns (transition, record, incident)."""
    t = decide(record, incident, a, **kw)
    return t, (t.record or record), (t.incident or incident)


def test_an_alarm_opens_an_incident_with_a_deterministic_id():
    t = decide(None, None, alert(AlertState.ALARM, T0), plan=OpeningPlan(name="api", route_channels=("pd",)))
    assert t.action is Action.OPENED
    assert t.incident.id == incident_id(ALARM_ID, T0)
    assert t.incident.status == "open" and t.incident.route_channels == ("pd",)
    assert t.record.open_incident == t.incident.id and t.record.version == 1 and t.incident.version == 1
    assert [e.kind for e in t.incident.timeline] == ["opened"]


def test_the_same_alarm_delivered_twice_is_a_duplicate():
    _, record, incident = apply(None, None, alert(AlertState.ALARM, T0))
    t = decide(record, incident, alert(AlertState.ALARM, T0))
    assert t.action is Action.DUPLICATE and not t.writes


def test_a_later_alarm_joins_the_open_incident_without_a_new_page():
    _, record, incident = apply(None, None, alert(AlertState.ALARM, T0))
    t = decide(record, incident, alert(AlertState.ALARM, T0 + timedelta(minutes=5)))
    assert t.action is Action.JOINED and t.incident.id == incident.id
    assert t.incident.last_state_time == T0 + timedelta(minutes=5)


def test_ok_resolves_and_stops_escalation():
    plan = OpeningPlan(name="api", policy="critical", cursor=Cursor(1, 0, T0 + timedelta(minutes=10)))
    _, record, incident = apply(None, None, alert(AlertState.ALARM, T0), plan=plan)
    assert incident.due_at == T0 + timedelta(minutes=10)
    t = decide(record, incident, alert(AlertState.OK, T0 + timedelta(minutes=9)))
    assert t.action is Action.RESOLVED
    assert t.incident.status == "resolved" and t.incident.due_at is None
    assert t.incident.resolved_at == T0 + timedelta(minutes=9)
    assert t.record.open_incident is None


def test_an_ok_older_than_the_open_alarm_is_ignored_and_noted():
    _, record, incident = apply(None, None, alert(AlertState.ALARM, T0))
    t = decide(record, incident, alert(AlertState.OK, T0 - timedelta(minutes=1)))
    assert t.action is Action.STALE
    assert t.incident.status == "open" and t.incident.timeline[-1].kind == "ignored"
    assert t.record is None


def test_an_ok_that_arrives_before_its_alarm_makes_the_late_alarm_stale():
    _, record, incident = apply(None, None, alert(AlertState.OK, T0 + timedelta(minutes=3)))
    assert record.last_state == "OK" and incident is None
    t = decide(record, incident, alert(AlertState.ALARM, T0))
    assert t.action is Action.STALE and t.incident is None


def test_a_newer_alarm_after_a_resolve_opens_a_new_incident():
    _, record, first = apply(None, None, alert(AlertState.ALARM, T0))
    _, record, first = apply(record, first, alert(AlertState.OK, T0 + timedelta(minutes=5)))
    t = decide(record, first, alert(AlertState.ALARM, T0 + timedelta(minutes=20)))
    assert t.action is Action.OPENED and t.incident.id != first.id


def test_insufficient_data_is_recorded_once_and_does_not_move_the_ordering_time():
    _, record, incident = apply(None, None, alert(AlertState.ALARM, T0))
    t, record, incident = apply(
        record, incident, alert(AlertState.INSUFFICIENT_DATA, T0 + timedelta(minutes=2))
    )
    assert t.action is Action.INSUFFICIENT and incident.timeline[-1].kind == "insufficient_data"
    assert record.last_state_time == T0
    again = decide(record, incident, alert(AlertState.INSUFFICIENT_DATA, T0 + timedelta(minutes=2)))
    assert again.action is Action.DUPLICATE
    # an OK between the ALARM and the INSUFFICIENT_DATA still resolves
    ok = decide(record, incident, alert(AlertState.OK, T0 + timedelta(minutes=1)))
    assert ok.action is Action.RESOLVED


def test_insufficient_data_in_page_mode_opens_like_an_alarm():
    t = decide(None, None, alert(AlertState.INSUFFICIENT_DATA, T0), insufficient_mode="page")
    assert t.action is Action.OPENED


def test_a_silenced_alarm_opens_an_incident_with_its_first_page_held_until_the_silence_is_rechecked():
    plan = OpeningPlan(
        name="api",
        route_channels=("pd",),
        policy="critical",
        cursor=Cursor(1, 0, T0 + timedelta(minutes=10)),
        silenced="maintenance nightly",
        hold_until=T0 + timedelta(minutes=1),
    )
    t = decide(None, None, alert(AlertState.ALARM, T0), plan=plan)
    incident = t.incident
    assert incident.silenced and incident.route_channels == ("pd",) and incident.pending == ("pd",)
    # nothing is sent now; the sweep looks again at the hold's end, and the policy waits for the page
    assert incident.due_at == incident.pending_until == T0 + timedelta(minutes=1)
    assert incident.cursor_held and incident.held_due_at is None
    assert [(e.kind, e.detail) for e in incident.timeline][1] == (
        "silenced",
        "maintenance nightly; first page held until it ends",
    )


def test_an_acknowledged_incident_is_still_resolved_by_ok():
    _, record, incident = apply(None, None, alert(AlertState.ALARM, T0))
    from dataclasses import replace

    acked = replace(incident, status="acknowledged", acknowledged_by="alice")
    t = decide(record, acked, alert(AlertState.OK, T0 + timedelta(minutes=1)))
    assert t.action is Action.RESOLVED


def test_alerts_and_incidents_survive_a_json_round_trip():
    a = alert(AlertState.ALARM, T0)
    assert alert_from_dict(alert_to_dict(a)) == a
    inc = decide(None, None, a).incident
    inc = Incident(
        **{
            **inc.__dict__,
            "handles": {"slack": {"ts": "1.2"}},
            "timeline": (*inc.timeline, TimelineEntry(T0, "notified", "", "slack")),
        }
    )
    assert incident_from_dict(incident_to_dict(inc)) == inc
    assert inc.notified_channels() == ("slack",)


def test_a_record_without_open_incident_ignores_a_dangling_incident():
    record = AlarmRecord(ALARM_ID, "OK", T0, None, None, 3)
    t = decide(record, None, alert(AlertState.ALARM, T0 + timedelta(seconds=1)))
    assert t.action is Action.OPENED and t.record.version == 4


def test_a_flapping_alarm_cannot_grow_the_timeline_without_bound():
    _, record, incident = apply(None, None, alert(AlertState.ALARM, T0))
    incident = incident.with_entries(TimelineEntry(T0, "notified", "", "pd"))
    for i in range(1, 400):
        _, record, incident = apply(
            record, incident, alert(AlertState.INSUFFICIENT_DATA, T0 + timedelta(seconds=i))
        )
    assert len(incident.timeline) == 200
    assert [e.kind for e in incident.timeline[:2]] == ["opened", "notified"]
    assert incident.timeline[-1].at == T0 + timedelta(seconds=399)
    assert incident.notified_channels() == ("pd",)


def test_a_silenced_alarm_with_nobody_to_page_and_no_policy_holds_nothing():
    plan = OpeningPlan(name="api", silenced="maintenance nightly", unrouted=True, hold_until=T0)
    incident = decide(None, None, alert(AlertState.ALARM, T0), plan=plan).incident
    assert incident.silenced and incident.due_at is None and not incident.cursor_held
    assert [e.kind for e in incident.timeline] == ["opened", "silenced", "unrouted"]
