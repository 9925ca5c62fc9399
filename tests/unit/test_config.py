"""The configuration validator: one pass, every error, each with file, line, key path and reason."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from uptime_relay.config import ConfigError, StatusRange, parse_duration
from uptime_relay.config.loader import load_config, parse_config
from uptime_relay_tools.cli import main

REPO = Path(__file__).resolve().parents[2]


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text), "uptime.yaml")
    return [str(issue) for issue in info.value.issues]


def test_the_bundled_example_config_is_valid():
    config = load_config(REPO / "config" / "uptime.yaml")
    api = config.check("api")
    assert api is not None and api.url == "https://api.example.com/health"
    assert api.expect.status == (StatusRange(200, 200), StatusRange(204, 204))
    assert api.expect.max_latency_ms == 1500
    assert api.alarm.datapoints == 2 and api.alarm.evaluation_periods == 3
    assert config.check("postgres").kind == "tcp"
    assert config.check("postgres").tcp_port == 5432
    assert config.escalation_policies["critical"].steps[1].after_s == 600


def test_defaults_follow_the_contract():
    config = parse_config("checks: [{name: web, url: 'http://127.0.0.1:8080/'}]")
    web = config.checks[0]
    assert web.method == "GET" and web.timeout_s == 10 and web.follow_redirects and web.max_redirects == 5
    assert web.verify_tls and web.retries == 1 and not web.latency_metric
    assert web.expect.status_ok(200) and web.expect.status_ok(302) and not web.expect.status_ok(404)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("10s", 10), ("5m", 300), ("1h", 3600), ("1d", 86400), ("1.5s", 1.5), ("0m", 0)],
)
def test_durations_take_the_contract_units(text, seconds):
    assert parse_duration(text) == seconds


def test_it_reports_every_error_at_once_with_line_and_key_path():
    errors = errors_of(
        """\
        checks:
          - name: api
            url: https://api.example.com/health
            timout: 10s
            expect: {status: [200, "7xx"], max_latency: 15}
          - name: api
            tcp: db:99999
        channels:
          slack: {type: slak, webhook_url: x}
        routes:
          - notify: [slack-critcal]
            escalation: crit
        escalation_policies:
          critical:
            steps:
              - {after: 10, notify: [pd]}
        """
    )
    assert errors == [
        "uptime.yaml:4: checks[0].timout: unknown key 'timout' (did you mean 'timeout'?)",
        "uptime.yaml:5: checks[0].expect.max_latency: bad duration 15: write it with a unit, "
        "e.g. 500ms, 10s, 5m, 1h, 1d",
        "uptime.yaml:5: checks[0].expect.status[1]: expected a status code or class like '2xx', got a string ('7xx')",
        "uptime.yaml:6: checks[1].name: duplicate check name 'api' (first defined on line 2)",
        "uptime.yaml:7: checks[1].tcp: port 99999 is out of range (1-65535)",
        "uptime.yaml:9: channels.slack.type: unknown channel type 'slak' (did you mean 'slack'?); "
        "one of slack, pagerduty, email, webhook, teams, opsgenie, sms",
        "uptime.yaml:11: routes[0].notify[0]: 'slack-critcal' names a channel that is not defined",
        "uptime.yaml:12: routes[0].escalation: 'crit' names an escalation policy that is not defined "
        "(did you mean 'critical'?)",
        "uptime.yaml:16: escalation_policies.critical.steps[0].after: bad duration 10: write it with a unit, "
        "e.g. 500ms, 10s, 5m, 1h, 1d",
        "uptime.yaml:16: escalation_policies.critical.steps[0].notify[0]: 'pd' names a channel that is not defined",
    ]


def test_a_misspelt_channel_gets_a_did_you_mean():
    errors = errors_of(
        """\
        channels:
          slack-critical: {type: slack, webhook_url: "ssm:/uptime/slack"}
        routes:
          - notify: [slack-critcal]
        """
    )
    assert errors == [
        "uptime.yaml:4: routes[0].notify[0]: 'slack-critcal' names a channel that is not defined "
        "(did you mean 'slack-critical'?)"
    ]


def test_a_channel_with_its_own_error_is_not_also_reported_as_missing():
    errors = errors_of(
        """\
        channels:
          pd: {type: pagerduty, routing_key: "env:"}
        routes:
          - notify: [pd]
        """
    )
    assert errors == [
        "uptime.yaml:2: channels.pd.routing_key: bad secret reference 'env:': env: needs a variable name"
    ]


def test_a_check_needs_exactly_one_target():
    assert errors_of("checks: [{name: a}]") == [
        "uptime.yaml:1: checks[0]: needs a target: url (http or https), tcp (host:port) or heartbeat"
    ]
    both = errors_of("checks: [{name: a, url: 'http://x/', tcp: 'x:1'}]")
    assert both == ["uptime.yaml:1: checks[0].tcp: give either url or tcp, not both"]


def test_bad_values_name_what_is_wrong():
    errors = errors_of(
        """\
        checks:
          - name: a
            url: http://x/
            timeout: 2m
            max_redirects: -1
            verify_tls: "yes"
            alarm: {datapoints: 4, evaluation_periods: 3}
            expect: {body_regex: "(", cert_min_days: -1}
        """
    )
    assert errors == [
        "uptime.yaml:4: checks[0].timeout: must be at most 55s: every probe run ends within the minute",
        "uptime.yaml:5: checks[0].max_redirects: must be between 0 and 30, got -1",
        "uptime.yaml:6: checks[0].verify_tls: expected true or false, got a string ('yes')",
        "uptime.yaml:7: checks[0].alarm.datapoints: datapoints (4) cannot exceed evaluation_periods (3)",
        "uptime.yaml:8: checks[0].expect.body_regex: invalid regular expression: missing ), "
        "unterminated subpattern at position 0",
        "uptime.yaml:8: checks[0].expect.cert_min_days: expected a number of days (0 or more), got a number (-1)",
    ]


def test_duplicate_yaml_keys_are_refused():
    errors = errors_of(
        """\
        channels:
          a: {type: email, to: [x@example.com], from: y@example.com}
          a: {type: email, to: [x@example.com], from: y@example.com}
        """
    )
    assert errors == ["uptime.yaml:3: channels.a: defined twice"]


def test_invalid_yaml_names_the_line():
    errors = errors_of("checks:\n  - name: a\n   url: [\n")
    assert len(errors) == 1 and errors[0].startswith("uptime.yaml:3: (top level): not valid YAML")


def test_schedules_people_and_maintenance_are_checked():
    errors = errors_of(
        """\
        people:
          alice: {email: alice@example.com, slack: U1}
        schedules:
          primary:
            timezone: Europe/Berln
            members: [alice, bob]
        maintenance:
          - {name: nightly, cron: "0 2 * *", duration: 30m}
        escalation_policies:
          p:
            steps: [{after: 0m, notify: ["oncall:primry", "person:alice"]}]
        """
    )
    assert errors == [
        "uptime.yaml:5: schedules.primary.timezone: unknown time zone 'Europe/Berln' "
        "(use an IANA name such as Europe/Berlin)",
        "uptime.yaml:6: schedules.primary.members[1]: 'bob' names a person that is not defined under people",
        "uptime.yaml:8: maintenance[0].cron: expected 5 cron fields (minute hour day-of-month month day-of-week), "
        "got '0 2 * *'",
        "uptime.yaml:11: escalation_policies.p.steps[0].notify[0]: 'primry' names a schedule that is not defined "
        "under schedules (did you mean 'primary'?)",
    ]


def test_validate_command_exits_0_for_a_good_file(capsys):
    assert main(["validate", str(REPO / "config" / "uptime.yaml")]) == 0
    assert "ok (3 checks" in capsys.readouterr().out


def test_validate_command_exits_2_with_every_error_on_stderr(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("checks:\n  - name: x\n    url: http://x/\n    timeout: soon\nrouts: []\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4: checks[0].timeout: bad duration 'soon'" in err
    assert f"{bad}:5: routs: unknown key 'routs' (did you mean 'routes'?)" in err
    assert err.startswith("configuration invalid: 2 errors")


def test_an_unreadable_file_is_a_config_error(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read file" in capsys.readouterr().err


def test_a_maintenance_cron_with_an_out_of_range_field_is_refused():
    errors = errors_of(
        """\
        maintenance:
          - {name: nightly, cron: "99 2 * * *", duration: 30m}
        """
    )
    assert len(errors) == 1
    assert errors[0].startswith("uptime.yaml:2: maintenance[0].cron: ")
    assert "minute" in errors[0] and "99" in errors[0]


def test_status_ranges_read_back_as_written():
    from uptime_relay.config import StatusRange

    assert str(StatusRange(200, 399)) == "2xx, 3xx"  # the default: no half hidden
    assert str(StatusRange(200, 299)) == "2xx"
    assert str(StatusRange(204, 204)) == "204"


def test_http_settings_on_a_tcp_check_are_refused_rather_than_ignored():
    errors = errors_of(
        """\
        checks:
          - name: db
            tcp: db.internal:5432
            method: POST
            expect: {status: 200, max_latency: 200ms}
        """
    )
    assert errors == [
        "uptime.yaml:4: checks[0].method: 'method' does not apply to a tcp check (it only connects)",
        "uptime.yaml:5: checks[0].expect.status: 'status' does not apply to a tcp check "
        "(it only connects; max_latency does)",
    ]
