"""The signed webhook channel: an Alertmanager v4 document plus an incident, signed over
``timestamp.body``; what an existing Alertmanager receiver and a verifying receiver see."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from channel_kit import EVENTS, alarm, note, rendered
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import Channel
from uptime_relay.config.loader import parse_config
from uptime_relay.config.model import ConfigError
from uptime_relay.domain.alert import AlertState
from uptime_relay.intake import parse_event
from uptime_relay.notifiers.base import DeliveryError, NotificationKind
from uptime_relay.notifiers.webhook import WebhookNotifier, signature
from uptime_relay_tools.testing import wire
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply

SECRET = "whsec-0123456789"
SECRETS = StaticSecrets({"env:HOOK_SECRET": SECRET, "env:HOOK_TOKEN": "Bearer t0ken"})


def channel(receiver: HttpReceiver, **options) -> Channel:
    return Channel("hook", "webhook", {"url": f"{receiver.url}/hook", **options})


@pytest.fixture
def hook():
    problems: list[str] = []
    with HttpReceiver(wire.responder({"/hook": wire.webhook_problems(None)}, problems)) as r:
        r.problems = problems
        yield r


def test_a_signed_page_verifies_at_the_receiver_and_a_changed_body_does_not(hook):
    """GIVEN a webhook channel with a secret WHEN a page is sent THEN the receiver's check of
    X-Uptime-Relay-Signature over "<timestamp>.<raw body>" passes, and fails for one changed byte."""
    delivery = WebhookNotifier().send(channel(hook, secret="env:HOOK_SECRET"), note(), SECRETS)
    assert delivery.status == 202 and hook.problems == []
    (request,) = hook.requests
    assert wire.verify_signature(SECRET, request.headers, request.body)
    stamp = int(request.headers["X-Uptime-Relay-Timestamp"])
    assert abs(stamp - time.time()) < 60
    assert request.headers["X-Uptime-Relay-Signature"] == signature(SECRET, stamp, request.body)
    assert not wire.verify_signature(SECRET, request.headers, request.body.replace(b"FIRING", b"FIRINF"))
    assert not wire.verify_signature("another-secret", request.headers, request.body)
    assert not wire.verify_signature(SECRET, request.headers, request.body, now=stamp + 301)


def test_the_body_is_an_alertmanager_v4_document_that_our_own_alertmanager_intake_reads_back(hook):
    """GIVEN a trigger WHEN sent THEN the body is Alertmanager's webhook v4 (schema-checked) plus an
    incident object, and an Alertmanager receiver (our intake) reads the same alert back."""
    WebhookNotifier().send(channel(hook), note(), SECRETS)
    body = hook.requests[0].json()
    assert hook.problems == []
    assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "hook"
    assert body["incident"]["id"] == "inc-0123456789abcdef0123"
    assert body["incident"]["status"] == "open" and body["incident"]["severity"] == "critical"
    (read_back,) = parse_event(hook.requests[0].body)
    assert read_back.name == "uptime-api-availability"
    assert read_back.state is AlertState.ALARM
    assert read_back.labels["check"] == "api"


def test_a_resolve_says_resolved_with_an_end_time_and_keeps_the_fingerprint(hook):
    notifier = WebhookNotifier()
    notifier.send(channel(hook), note(), SECRETS)
    notifier.send(channel(hook), note(NotificationKind.RESOLVE, [alarm(state=AlertState.OK)]), SECRETS)
    trigger, resolve = (r.json() for r in hook.requests)
    assert hook.problems == []
    assert resolve["status"] == "resolved" and resolve["alerts"][0]["status"] == "resolved"
    assert resolve["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    assert trigger["alerts"][0]["fingerprint"] == resolve["alerts"][0]["fingerprint"]
    assert resolve["incident"]["status"] == "resolved"


def test_configured_headers_are_sent_with_secret_values_resolved(hook):
    """GIVEN headers, one of them a secret reference WHEN sent THEN both arrive, the secret resolved."""
    ch = channel(hook, headers={"X-Env": "prod", "Authorization": "env:HOOK_TOKEN"})
    WebhookNotifier().send(ch, note(), SECRETS)
    headers = hook.requests[0].headers
    assert headers["X-Env"] == "prod" and headers["Authorization"] == "Bearer t0ken"
    assert "X-Uptime-Relay-Signature" not in headers  # no secret, no signature


def test_a_429_is_retryable_with_its_retry_after_and_the_url_never_appears():
    with (
        HttpReceiver(Reply(429, "slow down", {"Retry-After": "7"})) as r,
        pytest.raises(DeliveryError) as failed,
    ):
        WebhookNotifier().send(channel(r, secret="env:HOOK_SECRET"), note(), SECRETS)
    assert not failed.value.permanent and failed.value.retry_after == 7
    assert "/hook" not in str(failed.value) and SECRET not in str(failed.value)


@pytest.mark.parametrize("event", EVENTS, ids=lambda p: p.name)
def test_render_prints_a_valid_document_for_every_sample_event(capsys, event):
    """GIVEN each sample event WHEN rendered for webhook THEN each body passes the v4 schema."""
    code, bodies, err = rendered(capsys, "webhook", event)
    assert code == 0
    for body in bodies:
        assert wire.schema_problems(body, "alertmanager-webhook-v4.json") == []
        assert body["incident"]["event"] in ("trigger", "resolve")
    assert bodies or "nothing to send" in err


def test_render_of_a_three_alert_body_is_one_document_with_its_common_labels(capsys):
    _, (body,), _ = rendered(capsys, "webhook", EVENTS[0].with_name("alertmanager-webhook-three-alerts.json"))
    assert len(body["alerts"]) == 3
    assert body["commonLabels"]["alertname"] == "DiskFilling"
    assert json.dumps(body).count('"fingerprint"') == 3


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ("url: ftp://x", "expected an http/https URL"),
        ("url: https://x.example, headers: {X-Uptime-Relay-Signature: forged}", "set by uptime-relay"),
        ("url: https://x.example, headers: {'bad header': v}", "not an HTTP header name"),
        ("secret: env:S", "missing required key 'url'"),
    ],
)
def test_bad_webhook_options_are_refused_with_their_line(options, reason):
    with pytest.raises(ConfigError) as refused:
        parse_config(f"channels:\n  hook: {{type: webhook, {options}}}\n")
    assert reason in str(refused.value) and ":2" in str(refused.value)


def test_the_readme_verification_snippet_accepts_a_signed_request_and_refuses_a_changed_one(hook):
    """The README's "Verify a webhook" code, run as written against a real signed request."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Verify a webhook", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    WebhookNotifier().send(channel(hook, secret="env:HOOK_SECRET"), note(), SECRETS)
    request = hook.requests[0]
    verify = namespace["verify"]
    assert verify(SECRET.encode(), request.headers, request.body)
    assert not verify(SECRET.encode(), request.headers, request.body + b" ")


def test_a_header_whose_secret_is_missing_fails_naming_the_header_not_the_value(hook):
    ch = channel(hook, headers={"Authorization": "env:NOT_SET_ANYWHERE"})
    with pytest.raises(DeliveryError) as failed:
        WebhookNotifier().send(ch, note(), SECRETS)
    assert "header Authorization could not be resolved" in str(failed.value)
    assert hook.requests == []
