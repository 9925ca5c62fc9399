"""Each channel type's config rules sit beside its notifier; the loader knows no channel type.

GIVEN the rules registry (``notifiers.rules``) WHEN a config names a channel THEN the loader checks
that channel's options with its type's rules alone, so a new type is its rules and a registry line.
Reading the config stays cheap: the model loads no YAML, the loader loads no notifier.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from uptime_relay.config import Channel, ConfigError
from uptime_relay.config.loader import parse_config
from uptime_relay.config.validator import ChannelRules, Validator
from uptime_relay.config.yamlpos import PosDict
from uptime_relay.notifiers.registry import make_notifiers
from uptime_relay.notifiers.rules import CHANNEL_RULES


def _read_webhook(v: Validator, data: PosDict, path: str) -> dict[str, Any]:
    if "url" not in data:
        v.error(data, None, f"{path}.url", "missing required key 'url'")
        return {}
    return {"url": v.url(data, "url", f"{path}.url", data["url"])}


WEBHOOK = ChannelRules(type="webhook", keys=("url",), read=_read_webhook)


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text), "uptime.yaml")
    return [str(issue) for issue in info.value.issues]


def _imported_after(statement: str, modules: list[str]) -> list[str]:
    code = f"import sys; {statement}; print(' '.join(m for m in {modules!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_every_channel_type_has_both_config_rules_and_a_notifier():
    assert set(CHANNEL_RULES) == set(make_notifiers())
    assert all(rules.type == name for name, rules in CHANNEL_RULES.items())


def test_a_new_channel_type_is_read_by_its_own_rules_once_registered(monkeypatch):
    # GIVEN a channel type the loader has never heard of, registered with its rules
    monkeypatch.setitem(CHANNEL_RULES, "webhook", WEBHOOK)
    # WHEN a config uses it THEN its options are read by those rules
    config = parse_config("channels: {hook: {type: webhook, url: 'https://hooks.example.com/x'}}")
    assert config.channels["hook"] == Channel(
        name="hook", type="webhook", options={"url": "https://hooks.example.com/x"}, line=1
    )
    # AND its keys, its own errors and the list of types in messages come from the registry
    assert errors_of(
        """\
        channels:
          hook: {type: webhook, url: 'ftp://x', token: y}
          other: {type: webhok}
        """
    ) == [
        "uptime.yaml:2: channels.hook.token: unknown key 'token' (allowed: type, url)",
        "uptime.yaml:2: channels.hook.url: expected an http/https URL with a host, got 'ftp://x'",
        "uptime.yaml:3: channels.other.type: unknown channel type 'webhok' (did you mean 'webhook'?); "
        "one of slack, pagerduty, email, webhook, teams, opsgenie, sms",
    ]


def test_a_channel_whose_rules_find_a_problem_is_refused():
    assert errors_of("channels: {pd: {type: pagerduty, severity: loud}}") == [
        "uptime.yaml:1: channels.pd.routing_key: missing required key 'routing_key'",
        "uptime.yaml:1: channels.pd.severity: one of critical, error, warning, info",
    ]


def test_reading_the_config_loads_no_notifier_and_no_http_client():
    # the probe function reads the config on every cold start but never sends a notification
    loaded = _imported_after(
        "import uptime_relay.config.loader",
        [
            "requests",
            "smtplib",
            "uptime_relay.notifiers.slack",
            "uptime_relay.notifiers.pagerduty",
            "uptime_relay.notifiers.email",
            "uptime_relay.notifiers.http",
        ],
    )
    assert loaded == []


def test_the_config_model_loads_no_yaml_and_no_loader():
    loaded = _imported_after("import uptime_relay.config", ["yaml", "uptime_relay.config.loader"])
    assert loaded == []
