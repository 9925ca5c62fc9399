"""Secret references resolve at run time and never leak; Sentry stays out unless a DSN is set."""

from __future__ import annotations

import subprocess
import sys

import pytest
from uptime_relay.adapters.secrets import SecretError, SecretResolver
from uptime_relay.observability import _before_send, scrub


def test_env_references_resolve_and_literals_pass_through():
    secrets = SecretResolver(environ={"SLACK_URL": "https://hooks.example/abc"})
    assert secrets.resolve("env:SLACK_URL") == "https://hooks.example/abc"
    assert secrets.resolve("http://127.0.0.1:9/hook") == "http://127.0.0.1:9/hook"


def test_a_missing_secret_names_the_reference_not_a_value():
    with pytest.raises(SecretError, match="env:NOPE: environment variable NOPE is not set"):
        SecretResolver(environ={}).resolve("env:NOPE")


def test_scrub_removes_secret_keys_payload_bodies_and_webhook_urls():
    event = {
        "routing_key": "R" * 32,
        "Message": '{"AlarmName": "x"}',
        "note": "posting to https://hooks.slack.com/services/T0/B0/XYZ failed",
        "nested": [{"bot_token": "xoxb-1-2"}],
    }
    assert scrub(event) == {
        "routing_key": "[scrubbed]",
        "Message": "[scrubbed]",
        "note": "posting to [scrubbed] failed",
        "nested": [{"bot_token": "[scrubbed]"}],
    }


def test_sentry_events_lose_request_bodies_and_frame_locals():
    event = {
        "request": {"data": "secret body"},
        "exception": {
            "values": [{"value": "xoxb-123-abc rejected", "stacktrace": {"frames": [{"vars": {"k": 1}}]}}]
        },
        "extra": {"password": "hunter2"},
    }
    sent = _before_send(event, {})
    assert "request" not in sent
    assert sent["exception"]["values"][0]["value"] == "[scrubbed] rejected"
    assert "vars" not in sent["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert sent["extra"] == {"password": "[scrubbed]"}


def test_sentry_sdk_is_not_imported_without_a_dsn():
    code = (
        "import os, sys; os.environ.pop('SENTRY_DSN', None);"
        "from uptime_relay.observability import init_sentry;"
        "assert init_sentry() is False; print('sentry_sdk' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
