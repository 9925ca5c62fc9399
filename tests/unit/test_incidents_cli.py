"""`uptime-relay incidents list|show|ack|resolve|report` against the in-memory store."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from test_actions_support import SIM_START, make_store, open_incident, snapshot
from uptime_relay_tools.cli import build_parser
from uptime_relay_tools.cli import incidents as cli

NOW = SIM_START + timedelta(hours=2, minutes=5)


@pytest.fixture
def store():
    return make_store()


def run(store, *argv):
    args = build_parser().parse_args(["incidents", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(args, store_factory=lambda _args: store, out=out, err=err, now=NOW)
    return code, out.getvalue(), err.getvalue()


def test_list_shows_open_incidents_as_a_readable_table(store):
    api = open_incident(store, "api")
    web = open_incident(store, "web", at=SIM_START + timedelta(hours=1))
    store.acknowledge(web.id, by="alice", via="slack", at=SIM_START + timedelta(hours=1, minutes=3))
    code, out, _ = run(store, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "CHECK/NAME", "OPENED", "(UTC)", "ACKED", "BY", "AGE"]
    assert web.id in lines[1] and "acknowledged" in lines[1] and "alice" in lines[1] and "1h05m" in lines[1]
    assert (
        api.id in lines[2] and "open" in lines[2] and "2026-11-25 12:00" in lines[2] and "2h05m" in lines[2]
    )


def test_list_leaves_out_resolved_incidents_unless_asked(store):
    gone = open_incident(store, "api")
    store.resolve(gone.id, by="alarm", via="alarm", at=SIM_START)
    assert run(store, "list")[1].strip() == "no open/acknowledged incidents"
    assert gone.id in run(store, "list", "--all")[1]
    assert gone.id in run(store, "list", "--status", "resolved")[1]


def test_list_json_prints_one_object_per_line(store):
    api = open_incident(store, "api")
    web = open_incident(store, "web")
    code, out, _ = run(store, "list", "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["id"] for r in rows} == {api.id, web.id}
    assert all(r["status"] == "open" and r["age_s"] == 7500 and "alert" not in r for r in rows)


def test_list_since_filters_by_opening_time(store):
    open_incident(store, "old", at=SIM_START - timedelta(days=3))
    recent = open_incident(store, "recent")
    out = run(store, "list", "--since", "1d", "--json")[1]
    assert [json.loads(line)["id"] for line in out.splitlines()] == [recent.id]


def test_ack_changes_the_incident_and_exits_zero(store):
    incident = open_incident(store)
    code, out, _ = run(store, "ack", incident.id, "--by", "bob")
    assert code == 0 and f"{incident.id} acknowledged by bob" in out
    after = store.get(incident.id)
    assert after.status == "acknowledged" and after.acknowledged_by == "bob" and after.acknowledged_at == NOW
    assert after.due_at is None
    assert after.timeline[-1].kind == "acknowledged" and "via cli" in after.timeline[-1].detail


def test_ack_twice_exits_one_and_says_who_was_first(store):
    incident = open_incident(store)
    assert run(store, "ack", incident.id, "--by", "bob")[0] == 0
    before = snapshot(store, incident.id)
    code, _, err = run(store, "ack", incident.id, "--by", "carol")
    assert code == 1 and "already acknowledged by bob" in err and "Nothing changed" in err
    assert snapshot(store, incident.id) == before


def test_resolve_then_resolve_again(store):
    incident = open_incident(store)
    code, out, _ = run(store, "resolve", incident.id, "--by", "bob")
    assert code == 0 and "resolved by bob" in out
    assert store.get(incident.id).status == "resolved"
    code, _, err = run(store, "resolve", incident.id)
    assert code == 1 and "already resolved" in err


def test_ack_of_a_resolved_incident_changes_nothing(store):
    incident = open_incident(store)
    store.resolve(incident.id, by="alarm", via="alarm", at=SIM_START)
    before = snapshot(store, incident.id)
    code, _, err = run(store, "ack", incident.id)
    assert code == 1 and "already resolved" in err
    assert snapshot(store, incident.id) == before


def test_an_unknown_id_exits_one(store):
    code, out, err = run(store, "ack", "inc-nope")
    assert code == 1 and out == "" and "no such incident" in err


def test_a_unique_id_prefix_is_enough(store):
    incident = open_incident(store)
    code, _, _ = run(store, "resolve", incident.id[:10], "--by", "bob")
    assert code == 0 and store.get(incident.id).status == "resolved"


def test_ack_json_reports_the_result(store):
    incident = open_incident(store)
    code, out, _ = run(store, "ack", incident.id, "--json", "--by", "bob", "--no-notify")
    assert code == 0
    assert json.loads(out) == {
        "id": incident.id,
        "changed": True,
        "reason": None,
        "status": "acknowledged",
        "notified": [],
    }


def test_show_prints_the_timeline(store):
    incident = open_incident(store)
    store.acknowledge(incident.id, by="alice", via="slack", at=SIM_START + timedelta(minutes=4))
    code, out, _ = run(store, "show", incident.id)
    assert code == 0
    assert "acked by  alice" in out
    assert "12:00:00  opened" in out and "12:04:00  acknowledged  by alice via slack" in out


POLICY_CONFIG = """
channels:
  pd-primary: {type: pagerduty, routing_key: env:PD_KEY}
  slack-critical: {type: slack, webhook_url: env:SLACK_HOOK}
  oncall-email: {type: email, to: [ops@example.com], from: relay@example.com}
routes:
  - notify: [slack-critical]
    escalation: critical
escalation_policies:
  critical:
    steps:
      - {after: 0m, notify: [slack-critical]}
      - {after: 10m, notify: [pd-primary]}
      - {after: 30m, notify: [oncall-email]}
    repeat: 1
"""


def test_show_names_the_next_step_one_based_like_the_timeline(store, tmp_path):
    config = tmp_path / "uptime.yaml"
    config.write_text(POLICY_CONFIG)
    incident = open_incident(store)  # step 0 went out at open; step index 1 (the second) is next
    code, out, _ = run(store, "show", incident.id, "--config", str(config))
    assert code == 0
    assert "policy    critical: next step 2 of 3 (round 1 of 2), due 12:10 UTC" in out
    assert "step 1," not in out and "round 0" not in out


def test_show_without_a_config_still_counts_from_one(store, tmp_path):
    incident = open_incident(store)
    code, out, _ = run(store, "show", incident.id, "--config", str(tmp_path / "missing.yaml"))
    assert code == 0 and "policy    critical: next step 2 (round 1), due 12:10 UTC" in out


def test_show_says_when_no_step_is_left_or_escalation_stopped(store, tmp_path):
    config = tmp_path / "uptime.yaml"
    config.write_text(POLICY_CONFIG)
    last = open_incident(store, "api")
    assert store.advance(last.id, expected_step=1, expected_round=0, step=3, round=1, due_at=None)
    assert "policy    critical: no step left" in run(store, "show", last.id, "--config", str(config))[1]
    acked = open_incident(store, "web")
    store.acknowledge(acked.id, by="alice", via="slack", at=SIM_START + timedelta(minutes=4))
    out = run(store, "show", acked.id, "--config", str(config))[1]
    assert "policy    critical: escalation stopped (acknowledged)" in out


def test_report_gives_mtta_and_mttr_per_check(store):
    for minutes_to_ack, minutes_to_resolve in ((4, 20), (6, 40)):
        incident = open_incident(store, "api", at=SIM_START - timedelta(days=1, minutes=minutes_to_ack))
        opened = incident.opened_at
        store.acknowledge(incident.id, by="a", via="cli", at=opened + timedelta(minutes=minutes_to_ack))
        store.resolve(incident.id, by="a", via="cli", at=opened + timedelta(minutes=minutes_to_resolve))
    open_incident(store, "web")
    code, out, _ = run(store, "report", "--since", "7d", "--json")
    assert code == 0
    rows = {r["check"]: r for r in map(json.loads, out.splitlines())}
    assert rows["api"]["incidents"] == 2 and rows["api"]["mtta_s"] == 300 and rows["api"]["mttr_s"] == 1800
    assert rows["web"]["mtta_s"] is None
    code, out, _ = run(store, "report", "--check", "api")
    assert code == 0 and "5m00s" in out and "30m00s" in out and "web" not in out


def test_without_a_table_it_exits_two_saying_how_to_name_one(monkeypatch):
    monkeypatch.delenv("TABLE_NAME", raising=False)
    monkeypatch.delenv("UPTIME_STACK", raising=False)
    args = build_parser().parse_args(["incidents", "list"])
    err = io.StringIO()
    assert cli.run(args, out=io.StringIO(), err=err) == 2
    assert "--table" in err.getvalue() and "TABLE_NAME" in err.getvalue()


def test_a_bad_duration_exits_two(store):
    code, _, err = run(store, "list", "--since", "soon")
    assert code == 2 and "--since" in err


def test_a_cli_ack_is_never_recorded_before_the_timeline_it_joins(store):
    # the local stack's simulated clock runs ahead of the terminal's real one
    incident = open_incident(store, at=NOW + timedelta(hours=3))
    assert run(store, "ack", incident.id, "--by", "bob")[0] == 0
    after = store.get(incident.id)
    assert after.acknowledged_at == NOW + timedelta(hours=3)
    assert [e.at for e in after.timeline] == sorted(e.at for e in after.timeline)
