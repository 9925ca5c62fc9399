"""Heartbeat checks: the judgement (pure), the /ping route, the config keys, the probe's results
and the note on the page."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay.actions import Actions
from uptime_relay.adapters.heartbeats import InMemoryHeartbeats
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.alarms import desired_alarm
from uptime_relay.check_pages import CheckNotes
from uptime_relay.config import ConfigError, Heartbeat
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.heartbeat import HeartbeatRecord, heartbeat_status, next_due
from uptime_relay.intake import enrich
from uptime_relay.probe.heartbeats import heartbeat_checks, heartbeat_results
from uptime_relay.secretscope import SecretScope, out_of_scope, references
from uptime_relay_tools.cli import main

T0 = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
DAILY = Heartbeat(grace_s=3600, period_s=86400)
TOKEN = "s3cret-ping-token-0001"
CONFIG = f"""
checks:
  - name: backup
    heartbeat: {{period: 1d, grace: 1h}}
    token: env:BACKUP_PING_TOKEN
  - name: nightly
    heartbeat: {{cron: "0 3 * * *", tz: Europe/Berlin, grace: 30m}}
    token: {TOKEN}
  - name: api
    url: https://api.example.com/health
"""


class Clock:
    def __init__(self, at: datetime):
        self.at = at

    def now(self) -> datetime:
        return self.at


# ------------------------------------------------------------------------------ the judgement
def test_a_daily_job_is_late_only_after_its_period_and_grace():
    """GIVEN a daily job with an hour's grace that succeeded at 03:00 WHEN judged later THEN it is
    ok until the next day 04:00 and late after, saying since when there was no ping."""
    record = HeartbeatRecord(success_at=T0)
    assert heartbeat_status(DAILY, record, T0 + timedelta(hours=25)).state == "ok"
    late = heartbeat_status(DAILY, record, T0 + timedelta(hours=25, minutes=1))
    assert (late.state, late.reason, late.up) == ("late", "heartbeat_late", False)
    assert late.why.startswith("no ping since 2026-12-03 03:00:00 UTC (1d 1h ago)")


def test_a_fail_ping_is_down_at_once_and_the_next_success_clears_it():
    """GIVEN a job that succeeded WHEN it reports a failure THEN it is failed at once; a later
    success makes it ok again."""
    failed = heartbeat_status(
        DAILY, HeartbeatRecord(success_at=T0, fail_at=T0 + timedelta(hours=1)), T0 + timedelta(hours=1)
    )
    assert (failed.state, failed.reason) == ("failed", "heartbeat_failed")
    again = HeartbeatRecord(success_at=T0 + timedelta(hours=2), fail_at=T0 + timedelta(hours=1))
    assert heartbeat_status(DAILY, again, T0 + timedelta(hours=2)).state == "ok"


def test_a_started_run_is_up_within_grace_and_late_after():
    """GIVEN a run that started and did not finish WHEN judged THEN it is running within the grace
    (even past the period) and late after it."""
    record = HeartbeatRecord(success_at=T0, start_at=T0 + timedelta(hours=24, minutes=30))
    assert heartbeat_status(DAILY, record, T0 + timedelta(hours=25, minutes=20)).state == "running"
    late = heartbeat_status(DAILY, record, T0 + timedelta(hours=25, minutes=31))
    assert late.state == "late" and "has not finished within the 1h grace" in late.why
    # a fail after the start ends that run: failed, not running
    ended = HeartbeatRecord(start_at=T0, fail_at=T0 + timedelta(minutes=5))
    assert heartbeat_status(DAILY, ended, T0 + timedelta(minutes=6)).state == "failed"


def test_a_check_never_pinged_waits_for_its_first_ping():
    """GIVEN no ping at all WHEN judged THEN it is up ("new"), as in Healthchecks."""
    status = heartbeat_status(DAILY, None, T0)
    assert (status.state, status.up, status.last_ping) == ("new", True, None)


def test_a_cron_heartbeat_is_due_at_the_next_fire_in_its_time_zone():
    """GIVEN "0 3 * * *" in Europe/Berlin (02:00 UTC in winter) WHEN the job pinged at 02:00 UTC
    THEN the next ping is due the next day 02:00 UTC, late after the grace."""
    beat = Heartbeat(grace_s=1800, cron="0 3 * * *", timezone="Europe/Berlin")
    pinged = datetime(2026, 12, 3, 2, 0, 5, tzinfo=UTC)
    assert next_due(beat, pinged) == datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    record = HeartbeatRecord(success_at=pinged)
    assert heartbeat_status(beat, record, datetime(2026, 12, 4, 2, 30, tzinfo=UTC)).state == "ok"
    assert heartbeat_status(beat, record, datetime(2026, 12, 4, 2, 31, tzinfo=UTC)).state == "late"


# ------------------------------------------------------------------------------ the /ping route
@pytest.fixture
def router():
    config = parse_config(CONFIG)
    beats = InMemoryHeartbeats()
    secrets = StaticSecrets({"env:BACKUP_PING_TOKEN": TOKEN})
    actions = Actions(config, InMemoryIncidentStore(), secrets=secrets, heartbeats=beats, clock=Clock(T0))
    return actions, beats


@pytest.mark.parametrize(("suffix", "kind"), [("", "success"), ("/fail", "fail"), ("/start", "start")])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_ping_with_the_right_token_is_recorded(router, suffix, kind, method):
    """GIVEN a heartbeat check WHEN its job calls its ping URL (GET or POST, /fail, /start)
    THEN 200 and the ping of that kind is stored at the router's time."""
    actions, beats = router
    answer = actions.handle(method, f"/ping/backup/{TOKEN}{suffix}", {}, b"")
    assert (answer.status, answer.body) == (200, "OK")
    assert getattr(beats.get("backup"), f"{kind}_at") == T0


@pytest.mark.parametrize(
    "path",
    [
        "/ping/backup/wrong-token-00000000",
        f"/ping/backup/{TOKEN}x",
        f"/ping/api/{TOKEN}",  # not a heartbeat check
        f"/ping/nobody/{TOKEN}",
        f"/ping/backup/{TOKEN}/finish",
        "/ping/backup",
    ],
)
def test_anything_but_the_right_token_answers_404_and_records_nothing(router, path, caplog):
    """GIVEN a heartbeat check WHEN a ping comes with a wrong token, for another check, or a bad
    path THEN 404, nothing is stored, and no log line holds the token."""
    actions, beats = router
    with caplog.at_level(logging.DEBUG):
        answer = actions.handle("GET", path, {}, b"")
    assert answer.status == 404
    assert beats.records == {}
    assert TOKEN not in caplog.text and "wrong-token" not in caplog.text


def test_a_repeated_ping_answers_200_and_changes_nothing(router):
    """GIVEN a recorded ping WHEN the job retries it THEN 200 again and the stored time stays."""
    actions, beats = router
    assert actions.handle("GET", f"/ping/nightly/{TOKEN}", {}, b"").status == 200
    assert actions.handle("GET", f"/ping/nightly/{TOKEN}", {}, b"").status == 200
    assert beats.get("nightly").success_at == T0


def test_other_methods_are_refused_and_an_unreadable_token_records_nothing(router):
    """GIVEN the ping route WHEN called with PUT THEN 405; WHEN the check's token reference cannot
    be resolved THEN 503 (our fault, said so) and nothing is stored."""
    actions, beats = router
    assert actions.handle("PUT", f"/ping/backup/{TOKEN}", {}, b"").status == 405
    actions.secrets = StaticSecrets({})
    assert actions.handle("GET", f"/ping/backup/{TOKEN}", {}, b"").status == 503
    assert beats.records == {}


# ------------------------------------------------------------------------------ config
def test_heartbeat_checks_read_with_a_one_minute_alarm_and_no_request():
    """GIVEN the contract's heartbeat checks WHEN read THEN each has its schedule and token and
    alarms on its first late minute; its alarm description says what is expected."""
    config = parse_config(CONFIG)
    backup, nightly = config.check("backup"), config.check("nightly")
    assert (
        backup.heartbeat == Heartbeat(grace_s=3600, period_s=86400)
        and backup.token == "env:BACKUP_PING_TOKEN"
    )
    assert nightly.heartbeat == Heartbeat(grace_s=1800, cron="0 3 * * *", timezone="Europe/Berlin")
    assert (backup.alarm.datapoints, backup.alarm.evaluation_periods) == (1, 1)
    assert (backup.kind, backup.target) == ("heartbeat", "heartbeat")
    alarm = desired_alarm(backup, namespace="UptimeRelay", topic_arn="arn:aws:sns:us-east-1:1:t", prefix="s")
    assert alarm["AlarmDescription"].startswith("backup: its job did not ping in time (every 1d, grace 1h)")


def test_heartbeat_mistakes_are_all_listed_with_their_lines():
    """GIVEN heartbeat checks written wrong WHEN validated THEN every mistake is named with its line."""
    with pytest.raises(ConfigError) as refused:
        parse_config(
            """\
checks:
  - name: a
    heartbeat: {period: 1d}
  - name: b
    heartbeat: {period: 1d, cron: "0 3 * * *"}
    token: env:B
  - name: c
    url: https://example.com/
    heartbeat: {period: 1d}
    token: env:C
  - name: d
    heartbeat: {cron: "0 25 * * *", tz: Mars/Olympus}
    token: short
  - name: e
    heartbeat: {period: 10s, tz: UTC}
    token: env:E
    expect: {status: 200}
  - name: f
    url: https://example.com/
    token: env:F
""",
            "uptime.yaml",
        )
    text = str(refused.value)
    assert "uptime.yaml:2: checks[0].token: a heartbeat check needs a token" in text
    assert "uptime.yaml:5: checks[1].heartbeat: give either period (e.g. 1d) or cron" in text
    assert "uptime.yaml:8: checks[2].url: a heartbeat check is pinged by its job: it has no url" in text
    assert "uptime.yaml:12: checks[3].heartbeat.cron: hour field" in text
    assert "uptime.yaml:12: checks[3].heartbeat.tz: unknown time zone 'Mars/Olympus'" in text
    assert "uptime.yaml:13: checks[3].token: a literal token must be 16-256 of" in text
    assert "short" not in text  # a literal token is never quoted back
    assert "uptime.yaml:15: checks[4].heartbeat.period: must be at least 60s" in text
    assert "uptime.yaml:15: checks[4].heartbeat.tz: tz goes with cron, not with period" in text
    assert "uptime.yaml:17: checks[4].expect: 'expect' does not apply to a heartbeat check" in text
    assert "uptime.yaml:20: checks[5].token: a token belongs to a heartbeat check" in text


# ------------------------------------------------------------------------------ the probe run
def test_the_probe_judges_heartbeats_without_probing_them():
    """GIVEN two heartbeat checks, one on time and one that reported a failure WHEN the run judges
    them THEN one ok and one heartbeat_failed result come out; the url check is left to the engine."""
    config = parse_config(CONFIG)
    probed, beats = heartbeat_checks(config.checks)
    assert [c.name for c in probed] == ["api"] and [c.name for c in beats] == ["backup", "nightly"]
    store = InMemoryHeartbeats()
    store.record("backup", "success", T0)
    store.record("nightly", "fail", T0)
    results = heartbeat_results(beats, store, T0 + timedelta(minutes=1))
    assert [(r.check, r.ok, r.reason) for r in results] == [
        ("backup", True, "ok"),
        ("nightly", False, "heartbeat_failed"),
    ]
    assert results[1].error.startswith("the job reported a failure at 2026-12-03 03:00:00 UTC")


class BrokenStore(InMemoryHeartbeats):
    def get_many(self, checks):
        raise RuntimeError("table unreachable")

    def get(self, check):
        raise RuntimeError("table unreachable")


def test_heartbeats_are_not_reported_down_when_their_pings_cannot_be_read():
    """GIVEN a store that fails WHEN the run judges heartbeats THEN it reports none of them
    (not probed: no metric), rather than reporting them down."""
    beats = heartbeat_checks(parse_config(CONFIG).checks)[1]
    assert heartbeat_results(beats, BrokenStore(), T0) == []
    assert heartbeat_results(beats, None, T0) == []


# ------------------------------------------------------------------------------ the page
def alert(check: str, at: datetime) -> Alert:
    return Alert(
        source=AlertSource.CLOUDWATCH,
        id=f"arn:aws:cloudwatch:us-east-1:1:alarm:s-check-{check}",
        name=f"s-check-{check}",
        state=AlertState.ALARM,
        reason="Threshold Crossed",
        time=at,
        labels={"check": check},
        description=f"{check}: its job did not ping in time.",
    )


def test_the_page_of_a_late_heartbeat_says_when_the_last_ping_came():
    """GIVEN a daily job last pinged 25 h 5 min before its alarm WHEN the relay enriches the alert
    THEN its description names the last ping and how long ago, and an annotation holds the time."""
    config = parse_config(CONFIG)
    store = InMemoryHeartbeats()
    store.record("backup", "success", T0)
    notes = CheckNotes(store, enrich)
    enriched = notes(alert("backup", T0 + timedelta(hours=25, minutes=5)), config)
    assert "Last ping: 2026-12-03 03:00:00 UTC (1d 1h ago)." in enriched.description
    assert "No ping since 2026-12-03 03:00:00 UTC" in enriched.description
    assert enriched.annotations["last_ping"] == T0.isoformat()
    never = notes(alert("nightly", T0), config)
    assert never.description.endswith("No ping received yet.") and never.annotations["last_ping"] == "never"
    other = notes(alert("api", T0), config)
    assert "last_ping" not in other.annotations
    broken = CheckNotes(BrokenStore(), enrich)(alert("backup", T0), config)
    assert broken.description == "backup: its job did not ping in time."


def test_a_heartbeat_token_outside_the_stacks_secret_prefixes_is_refused_at_deploy():
    """GIVEN heartbeat tokens in and outside the stack's secret prefixes WHEN the deploy checks the
    config's references THEN the token the actions function could not read is named (an env:
    token too: a deployed function has no such variable)."""
    config = parse_config(
        CONFIG.replace("env:BACKUP_PING_TOKEN", "ssm:/uptime/backup-ping")
        + "  - name: other\n    heartbeat: {period: 1h}\n    token: ssm:/elsewhere/ping\n"
    )
    refs = dict(references(config))
    assert refs["checks[backup].token"] == "ssm:/uptime/backup-ping"
    offending = out_of_scope(
        references(config), SecretScope("/uptime/", "uptime/", region="us-east-1", account="1")
    )
    assert [o.where for o in offending] == ["checks[other].token"]


def test_check_names_heartbeat_checks_on_stderr_and_probes_none_of_them(tmp_path, capsys):
    """GIVEN a config whose only checks are heartbeats WHEN `uptime-relay check` runs THEN it says
    each is pinged by its job, not probed, and exits 0 having probed nothing."""
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.split("  - name: api")[0], encoding="utf-8")
    assert main(["check", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "backup: a heartbeat check is pinged by its job, not probed" in captured.err
    assert "uptime-relay heartbeat-url nightly" in captured.err
