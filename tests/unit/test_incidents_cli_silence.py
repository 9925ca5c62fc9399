"""`uptime-relay silence add|list|end` and the silence store the relay and escalator read."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from test_actions_support import SIM_START
from uptime_relay.adapters.silences import InMemorySilences
from uptime_relay.domain.silence import is_silenced
from uptime_relay_tools.cli import build_parser
from uptime_relay_tools.cli import silence as cli

NOW = SIM_START


@pytest.fixture
def silences():
    return InMemorySilences()


def run(silences, *argv, now=NOW):
    args = build_parser().parse_args(["silence", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(args, store_factory=lambda _args: silences, out=out, err=err, now=now)
    return code, out.getvalue(), err.getvalue()


def test_a_silence_added_from_the_cli_silences_matching_incidents_for_its_duration(silences):
    code, out, _ = run(
        silences,
        "add",
        "--match",
        "check=api",
        "--match",
        "env=prod",
        "--for",
        "2h",
        "--comment",
        "db migration",
        "--by",
        "alice",
    )
    assert code == 0 and "silencing check=api, env=prod until 2026-11-25 14:00 UTC" in out
    labels = {"check": "api", "env": "prod", "severity": "critical"}
    active = silences.active(NOW + timedelta(minutes=30))
    why = is_silenced(labels, NOW + timedelta(minutes=30), active)
    assert why and "alice" in why and "db migration" in why
    assert is_silenced({"check": "web", "env": "prod"}, NOW, silences.active(NOW)) is None
    assert silences.active(NOW + timedelta(hours=2)) == []


def test_list_shows_active_silences_and_hides_ended_ones(silences):
    run(silences, "add", "--match", "check=api", "--for", "30m", "--by", "alice")
    code, out, _ = run(silences, "list", now=NOW + timedelta(minutes=10))
    assert code == 0 and "active" in out and "check=api" in out and "20m00s" in out and "alice" in out
    assert run(silences, "list", now=NOW + timedelta(hours=1))[1].strip() == "no silences"
    assert "ended" in run(silences, "list", "--all", now=NOW + timedelta(hours=1))[1]


def test_list_json_prints_one_object_per_line(silences):
    run(silences, "add", "--match", "check=api", "--for", "30m")
    (row,) = [json.loads(line) for line in run(silences, "list", "--json")[1].splitlines()]
    assert row["match"] == {"check": "api"} and row["active"] is True


def test_ending_a_silence_lets_alerts_through_again(silences):
    run(silences, "add", "--match", "check=api", "--for", "2h")
    (silence,) = silences.list()
    later = NOW + timedelta(minutes=5)
    code, out, _ = run(silences, "end", silence.id, now=later)
    assert code == 0 and "ended" in out
    assert silences.active(later) == []
    code, _, err = run(silences, "end", silence.id, now=later)
    assert code == 1 and "already ended" in err


def test_an_upcoming_silence_can_be_cancelled(silences):
    run(silences, "add", "--match", "check=api", "--for", "1h", "--start", "2026-11-26T02:00:00+00:00")
    (silence,) = silences.list()
    assert run(silences, "end", silence.id)[0] == 0
    assert silences.active(silence.starts_at + timedelta(minutes=1)) == []


def test_ending_an_unknown_silence_exits_one(silences):
    code, _, err = run(silences, "end", "sil-nope")
    assert code == 1 and "no such silence" in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--match", "check", "--for", "1h"], "LABEL=VALUE"),
        (["--match", "bad key=x", "--for", "1h"], "bad label name"),
        (["--match", "check=api", "--for", "soon"], "--for"),
        (["--match", "check=api", "--for", "120d"], "at most 90d"),
        (["--match", "check=api", "--for", "1h", "--start", "tomorrow"], "--start"),
    ],
)
def test_bad_silences_are_refused_with_a_reason(silences, argv, says):
    code, _, err = run(silences, "add", *argv)
    assert code == 2 and says in err
    assert silences.list() == []


def test_the_relay_silencer_combines_silences_and_maintenance(silences):
    from uptime_relay.config.loader import parse_config
    from uptime_relay.relay import silencer

    config = parse_config(
        'maintenance:\n  - {name: nightly, match: {team: db}, cron: "0 2 * * *", duration: 1h}\n', "t.yaml"
    )
    run(silences, "add", "--match", "check=api", "--for", "1h", "--by", "alice")
    silenced = silencer(config, silences.active)
    assert "alice" in silenced({"check": "api"}, NOW + timedelta(minutes=1))
    assert "nightly" in silenced({"team": "db"}, NOW.replace(hour=2, minute=30))
    assert silenced({"check": "web"}, NOW) is None


def test_an_unreadable_silence_store_silences_nothing():
    from uptime_relay.config.loader import parse_config
    from uptime_relay.relay import silencer

    class Broken:
        def active(self, at):
            raise RuntimeError("table gone")

    assert silencer(parse_config("{}", "t.yaml"), Broken().active)({"check": "api"}, NOW) is None
