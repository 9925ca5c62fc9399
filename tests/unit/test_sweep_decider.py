"""The escalation sweep's pure decider: what one due incident needs, given its policy, the
silences and the time (``domain.sweep.decide_sweep``). No store, no clock, no dispatcher."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from uptime_relay.config import Maintenance
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.escalation import Cursor
from uptime_relay.domain.incident import Incident, TimelineEntry
from uptime_relay.domain.silence import Silence
from uptime_relay.domain.sweep import (
    HOLD_S,
    SILENCE_RECHECK_S,
    FireStep,
    HoldFirstPage,
    HoldStep,
    Nothing,
    RestoreCursor,
    Stop,
    TakeOverFirstPage,
    Unsilence,
    already_sent,
    decide_sweep,
    schedule_anchor,
    step_tag,
)

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CONFIG = parse_config(
    """
channels:
  slack-critical: {type: slack, webhook_url: "https://hooks.example.test/x"}
  pd-primary: {type: pagerduty, routing_key: "k"}
  oncall-email: {type: email, to: [oncall@example.com], from: alerts@example.com}
routes:
  - match: {severity: critical}
    notify: [slack-critical]
    escalation: critical
escalation_policies:
  critical:
    steps:
      - {after: 0m,  notify: [slack-critical]}
      - {after: 10m, notify: [pd-primary]}
      - {after: 30m, notify: [oncall-email]}
""",
    "test.yaml",
)
POLICY = CONFIG.escalation_policies["critical"]
LABELS = {"check": "api", "severity": "critical"}


def incident(**changes) -> Incident:
    """An open incident whose step 2 (index 1) is due at T0 + 10 minutes."""
    base = Incident(
        id="inc-1",
        alarm_id="alarm-1",
        name="api down",
        status="open",
        opened_at=T0,
        last_state_time=T0,
        labels=LABELS,
        policy="critical",
        step=1,
        round=0,
        due_at=T0 + timedelta(minutes=10),
        escalation_anchor=T0,
    )
    return replace(base, **changes)


def silence(until: datetime) -> Silence:
    return Silence("sil-1", {"check": "api"}, T0, until, created_by="alice")


def unreadable() -> list[Silence]:
    raise AssertionError("the silences were read although the decision did not need them")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# ----------------------------------------------------------------------------- nothing to do
def test_an_acknowledged_incident_does_not_escalate():
    # GIVEN an acknowledged incident   WHEN its step is due   THEN nothing happens
    decision = decide_sweep(incident(status="acknowledged"), POLICY, at(10), silences=unreadable)
    assert decision == Nothing("acknowledged: no escalation")


def test_a_step_not_yet_due_waits():
    assert decide_sweep(incident(), POLICY, at(9), silences=unreadable) == Nothing("not due")


def test_a_first_page_whose_lease_still_runs_is_left_to_its_sender():
    held = incident(cursor_held=True, pending=("slack-critical",), pending_until=at(11), due_at=at(10))
    assert decide_sweep(held, POLICY, at(10), silences=unreadable) == Nothing("first page still being sent")


# ----------------------------------------------------------------------------- first pages
def test_a_first_page_whose_sender_died_is_taken_over_once_the_lease_runs_out():
    held = incident(cursor_held=True, pending=("slack-critical",), pending_until=at(1), due_at=at(1))
    assert decide_sweep(held, POLICY, at(2), silences=unreadable) == TakeOverFirstPage()


def test_a_settled_first_page_gets_its_escalation_cursor_back():
    # GIVEN the first page settled, but its sender died before giving the cursor back
    settled = incident(cursor_held=True, pending=(), pending_until=at(1), due_at=at(1))
    assert decide_sweep(settled, POLICY, at(2), silences=unreadable) == RestoreCursor()


def test_a_first_page_held_by_a_silence_is_checked_again_a_minute_later():
    held = incident(
        silenced=True, cursor_held=True, pending=("slack-critical",), pending_until=at(5), due_at=at(5)
    )
    decision = decide_sweep(held, POLICY, at(5), silences=lambda: [silence(at(60))])
    assert isinstance(decision, HoldFirstPage)
    assert decision.until == at(5) + timedelta(seconds=SILENCE_RECHECK_S)
    assert "alice" in decision.why


def test_a_first_page_held_by_a_silence_goes_out_when_the_silence_is_over_and_the_policy_starts_then():
    held = incident(
        silenced=True, cursor_held=True, pending=("slack-critical",), pending_until=at(61), due_at=at(61)
    )
    decision = decide_sweep(held, POLICY, at(61), silences=lambda: [silence(at(60))])
    assert isinstance(decision, Unsilence)
    # step 1 (0m) goes out with the first page: the policy continues at step 2, 10 minutes from now
    assert (decision.step, decision.round, decision.held_due_at) == (1, 0, at(71))
    assert decision.entry.kind == "unsilenced" and decision.entry.detail.endswith("sending the first page")


def test_a_maintenance_window_holds_a_silenced_first_page_like_a_silence():
    nightly = Maintenance("nightly", {"check": "api"}, cron="0 10 * * *", duration_s=7200)
    held = incident(
        silenced=True, cursor_held=True, pending=("slack-critical",), pending_until=at(5), due_at=at(5)
    )
    decision = decide_sweep(held, POLICY, at(5), maintenance=[nightly])
    assert isinstance(decision, HoldFirstPage) and "nightly" in decision.why


# ----------------------------------------------------------------------------- steps
def test_a_due_step_fires_with_the_step_after_it_timed_from_the_anchor():
    decision = decide_sweep(incident(), POLICY, at(10))
    assert isinstance(decision, FireStep)
    assert (decision.step, decision.round, decision.tag) == (1, 0, "escalation step 2, round 1")
    assert (decision.attempt, decision.abandoned) == (1, False)
    assert decision.following == Cursor(2, 0, at(30))
    assert decision.anchor is None  # already stored on the incident


def test_the_last_step_fires_with_nothing_after_it():
    decision = decide_sweep(incident(step=2, due_at=at(30)), POLICY, at(30))
    assert isinstance(decision, FireStep) and decision.following is None


def test_a_step_whose_sweeps_died_on_three_claims_is_abandoned_on_the_fourth():
    tag = step_tag(1, 0)
    claims = [
        TimelineEntry(at(10 + i), "escalation_attempt", f"{tag}: attempt {i + 1} claimed") for i in range(3)
    ]
    third = decide_sweep(incident(timeline=tuple(claims[:2])), POLICY, at(12))
    fourth = decide_sweep(incident(timeline=tuple(claims)), POLICY, at(14))
    assert isinstance(third, FireStep) and (third.attempt, third.abandoned) == (3, False)
    assert isinstance(fourth, FireStep) and (fourth.attempt, fourth.abandoned) == (4, True)


def test_a_step_covered_by_a_silence_waits_and_says_so_once_per_window():
    decision = decide_sweep(incident(), POLICY, at(10), silences=lambda: [silence(at(60))])
    assert isinstance(decision, HoldStep)
    assert decision.due_at == at(10) + timedelta(seconds=HOLD_S)
    (note,) = decision.entries
    again = decide_sweep(incident(timeline=(note,)), POLICY, at(15), silences=lambda: [silence(at(60))])
    assert isinstance(again, HoldStep) and again.entries == ()


def test_a_policy_that_left_the_config_stops_the_escalation():
    decision = decide_sweep(incident(policy="gone"), None, at(10), silences=unreadable)
    assert decision == Stop(
        "escalation policy 'gone' is not in the config (or has fewer steps)", "no such policy step"
    )


def test_a_silenced_incident_stops_escalating():
    assert decide_sweep(incident(silenced=True), POLICY, at(10), silences=unreadable) == Stop(
        "incident is silenced", "silenced"
    )


# ----------------------------------------------------------------------------- reading the timeline
def test_what_a_step_already_sent_is_read_back_from_its_notified_entries():
    tag = step_tag(1, 0)
    timeline = (
        TimelineEntry(at(10), "notified", f"{tag} [pd-primary]: escalated to pd-primary", "pd-primary"),
        TimelineEntry(at(10), "notified", f"{step_tag(2, 0)} [oncall-email]: escalated", "oncall-email"),
    )
    assert already_sent(incident(timeline=timeline), tag) == {"pd-primary"}


def test_an_incident_from_before_the_anchor_field_is_timed_from_its_relay_cursor():
    # GIVEN an incident stored without escalation_anchor whose step 2 was set due at 10:12
    old = incident(escalation_anchor=None, due_at=at(12))
    # THEN its schedule counts from 10:02, and the first claim stores that anchor
    assert schedule_anchor(old, POLICY) == at(2)
    decision = decide_sweep(old, POLICY, at(12))
    assert isinstance(decision, FireStep) and decision.anchor == at(2)
    assert decision.following == Cursor(2, 0, at(32))
