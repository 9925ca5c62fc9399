"""A channel's secret never reaches the timeline, the dead-letter queue, the logs, Sentry or a
config error, in whatever encoding a channel echoes it and wherever a text is cut.

GIVEN a channel whose answer echoes its webhook URL (as typed, JSON-escaped, percent-encoded) or
cuts it at the excerpt's boundary, WHEN the delivery fails THEN the error kept in the outcome, the
dead-letter record and the log lines carry ``[redacted]`` instead, and no prefix of the secret.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime
from urllib.parse import quote, quote_plus

import pytest
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import Channel, Config, ConfigError
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.notifiers.base import Notification, NotificationKind
from uptime_relay.notifiers.registry import make_notifiers
from uptime_relay.observability import _before_send
from uptime_relay.redaction import REDACTED, redact
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply

ALERT = Alert(
    source=AlertSource.CLOUDWATCH,
    id="arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-api",
    name="uptime-api",
    state=AlertState.ALARM,
    reason="Threshold Crossed",
    time=datetime(2026, 11, 20, 10, 15, tzinfo=UTC),
    labels={"check": "api"},
)
NOTE = Notification(NotificationKind.TRIGGER, (ALERT,), incident_id="inc-1", opened_at=ALERT.time)
PATH = "/services/T0AAA/B0BBB/Zq9SecretWebhookPart"


def dispatch(channel: Channel, secrets=None, notifiers=None):
    config = Config(channels={channel.name: channel})
    dead = InMemoryDeadLetters()
    dispatcher = Dispatcher(
        config,
        notifiers or make_notifiers(timeout_s=2.0),
        secrets or StaticSecrets(),
        dead,
        sleep=lambda s: None,
        rng=random.Random(3),
    )
    return dispatcher.deliver(channel.name, NOTE), dead


def encodings(secret: str) -> dict[str, str]:
    escaped = json.dumps(secret)[1:-1]
    return {
        "as typed": secret,
        "JSON \\/": escaped.replace("/", "\\/"),
        "JSON \\u": "".join(f"\\u{ord(c):04x}" if not c.isalnum() else c for c in secret),
        "quote": quote(secret, safe=""),
        "quote lower hex": quote(secret, safe="").replace("%2F", "%2f").replace("%3A", "%3a"),
        "quote_plus": quote_plus(secret),
    }


# ------------------------------------------------------------------------------- channels
@pytest.mark.parametrize("encoding", list(encodings("x")))
def test_a_webhook_url_echoed_by_the_channel_in_any_encoding_is_redacted_everywhere(encoding, caplog):
    with HttpReceiver() as receiver:
        url = receiver.url + PATH
        echoed = encodings(url)[encoding]
        receiver.script(PATH, Reply(404, {"error": "no_such_hook", "hook": echoed}))
        channel = Channel("hook", "slack", {"webhook_url": "env:SLACK_HOOK"})
        with caplog.at_level(logging.INFO):
            outcome, dead = dispatch(channel, StaticSecrets({"env:SLACK_HOOK": url}))

    assert not outcome.ok and REDACTED in outcome.error
    texts = {"outcome": outcome.error, "dead letter": json.dumps(dead.records), "logs": caplog.text}
    for where, text in texts.items():
        for form in encodings(url).values():
            assert form not in text, f"the webhook URL ({encoding}) reached the {where}"
        assert "Zq9Secret" not in text


def test_a_secret_cut_at_the_excerpt_boundary_leaves_no_prefix_behind():
    key = "R0uTiNgKeY0123456789abcdefABCDEF"
    with HttpReceiver() as receiver:
        for cut in range(280, 300):
            receiver.script("/v2/enqueue", Reply(400, "e" * cut + key + " trailing words"))
        channel = Channel("pd", "pagerduty", {"routing_key": key, "events_url": f"{receiver.url}/v2/enqueue"})
        for cut in range(280, 300):
            outcome, _ = dispatch(channel)
            excerpt = outcome.error.split("(", 1)[1]
            assert not any(key[:n] in excerpt for n in range(4, len(key) + 1)), cut


def test_a_notifier_that_fails_with_its_secret_in_the_exception_text_is_redacted():
    class Leaky:
        type = "slack"
        groups_alerts = False

        def build_payloads(self, channel, notification):
            return []

        def send(self, channel, notification, secrets):
            token = secrets.resolve(channel.get("bot_token"))
            raise RuntimeError(f"unexpected answer for Authorization: Bearer {quote(token, safe='')}")

    token = "xoxb-1111-2222-SeCrEtToKeN/+="
    channel = Channel("bot", "slack", {"bot_token": "ssm:/uptime/bot", "channel": "C1"})
    outcome, dead = dispatch(channel, StaticSecrets({"ssm:/uptime/bot": token}), {"slack": Leaky()})

    assert outcome.error == f"RuntimeError: unexpected answer for Authorization: Bearer {REDACTED}"
    assert "SeCrEt" not in json.dumps(dead.records)


def test_redaction_happens_before_the_cut_and_at_the_cut():
    secret = "s3cr3t/Value+with spaces"
    text = "x" * 295 + json.dumps(secret)[1:-1].replace("/", "\\/")
    excerpt = redact(text, [secret], limit=300)
    assert len(excerpt) <= 300 and "s3cr" not in excerpt


# ------------------------------------------------------------------------------- Sentry
def test_sentry_events_are_scrubbed_in_the_log_entry_message_tags_and_breadcrumbs():
    trigger = "https://hooks.slack.com/triggers/T0AAA/123456/abcdefSECRET"
    workflow = "https://hooks.slack.com/workflows/T0AAA/A0BBB/123/abcdefSECRET"
    pd_key = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    event = {
        "logentry": {
            "message": "posting to %s failed",
            "params": [trigger],
            "formatted": f"posting to {trigger}",
        },
        "message": f"delivery to {workflow} failed",
        "tags": {"channel_url": workflow, "note": f"routing {pd_key}"},
        "extra": {"target": "https://user:pw@api.example.com/health?token=abcSECRET"},
        "breadcrumbs": {"values": [{"category": "http", "data": {"url": trigger}}]},
        "exception": {"values": [{"value": f"HTTPError: 404 for {trigger}"}]},
        "request": {
            "url": trigger,
            "data": {"routing_key": pd_key},
            "headers": {"X-Slack-Signature": "v0=1"},
        },
    }
    text = json.dumps(_before_send(event, {}))
    assert "SECRET" not in text and pd_key not in text and "user:pw" not in text
    assert "[scrubbed]" in text


# ------------------------------------------------------------------------------- config errors
@pytest.mark.parametrize(
    ("channel", "secret"),
    [
        ("{type: slack, webhook_url: 'hooks.slack.com/services/T0/B0/Zq9SecretWebhookPart'}", "Zq9Secret"),
        ("{type: slack, webhook_url: 'https://hooks.slack.com:x/services/T0/B0/Zq9Secret'}", "Zq9Secret"),
        ("{type: slack, bot_token: 12345678901234567, channel: C1}", "12345678901234567"),
        ("{type: pagerduty, routing_key: 98765432109876543210}", "98765432109876543210"),
        ("{type: pagerduty, routing_key: abc, webhook_secret: 424242424242}", "424242424242"),
        (
            "{type: email, to: [a@example.com], from: b@example.com,"
            " smtp: {host: mail.example.com, password: 31415926535}}",
            "31415926535",
        ),
    ],
)
def test_a_config_error_about_a_secret_option_names_the_key_not_the_value(channel, secret):
    with pytest.raises(ConfigError) as error:
        parse_config(f"channels:\n  target: {channel}\nroutes:\n  - notify: [target]\n")
    assert "channels.target." in str(error.value)
    assert secret not in str(error.value)


def test_a_config_error_about_a_check_url_shows_it_without_credentials():
    with pytest.raises(ConfigError) as error:
        parse_config("checks:\n  - name: api\n    url: 'ftp://probe:hunter2@files.example.com/x?token=abc'\n")
    assert "ftp://files.example.com/x?token=…" in str(error.value)
    assert "hunter2" not in str(error.value) and "abc" not in str(error.value)


def test_a_config_error_about_the_slack_signing_secret_names_the_key_not_the_value():
    with pytest.raises(ConfigError) as error:
        parse_config("slack:\n  signing_secret: 84736251908172635445\n")
    assert "slack.signing_secret" in str(error.value)
    assert "8473625190" not in str(error.value)
