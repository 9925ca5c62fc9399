"""The noise-control keys in the config: inhibit_rules, depends_on, flapping (every error listed,
with its line)."""

from __future__ import annotations

import pytest
from uptime_relay.config import ConfigError, Flapping, InhibitRule
from uptime_relay.config.loader import parse_config


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "uptime.yaml")
    return [str(issue) for issue in caught.value.issues]


def test_the_keys_are_read_into_the_model():
    config = parse_config(
        """\
checks:
  - {name: db, url: http://127.0.0.1/db}
  - {name: api, url: http://127.0.0.1/api, depends_on: [db], flapping: {window: 1h, threshold: 4}}
inhibit_rules:
  - {source: {check: db}, target: {team: platform}, equal: [region]}
"""
    )
    api = config.check("api")
    assert api.depends_on == ("db",) and api.flapping == Flapping(3600, 4)
    assert config.inhibit_rules == (
        InhibitRule({"check": "db"}, {"team": "platform"}, ("region",), origin="inhibit_rules[0]", line=5),
    )


def test_depends_on_cycles_unknown_names_and_self_are_config_errors():
    assert errors_of(
        """\
checks:
  - {name: db, url: http://127.0.0.1/x, depends_on: [cache]}
  - {name: cache, url: http://127.0.0.1/x, depends_on: [api]}
  - {name: api, url: http://127.0.0.1/x, depends_on: [db, dbb, api]}
"""
    ) == [
        "uptime.yaml:2: checks[0].depends_on: depends_on cycle: db -> cache -> api -> db (each would inhibit the other)",
        "uptime.yaml:4: checks[2].depends_on[1]: 'dbb' names a check that is not defined (did you mean 'db'?)",
        "uptime.yaml:4: checks[2].depends_on[2]: check 'api' cannot depend on itself",
    ]


def test_bad_inhibit_rules_and_flapping_are_listed_together():
    assert errors_of(
        """\
checks:
  - {name: api, url: http://127.0.0.1/x, flapping: {window: 30s, threshold: 1}}
inhibit_rules:
  - {source: {}, target: {team: web}}
  - {target: {team: web}, equal: [1], also: x}
"""
    ) == [
        "uptime.yaml:2: checks[0].flapping.threshold: must be between 2 and 100, got 1",
        "uptime.yaml:2: checks[0].flapping.window: must be between 1m and 7d, got '30s'",
        "uptime.yaml:4: inhibit_rules[0].source: must name at least one label (empty would match every alert)",
        "uptime.yaml:5: inhibit_rules[1].also: unknown key 'also' (allowed: source, target, equal)",
        "uptime.yaml:5: inhibit_rules[1].equal[0]: expected a label name, got a number (1)",
        "uptime.yaml:5: inhibit_rules[1].source: missing required key 'source'",
    ]
