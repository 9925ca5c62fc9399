"""Issue 15 through the whole local stack: a check's page says what the probe saw (503 and why) on
every channel, and ``uptime-relay test --endpoint-url`` sends a test alert through the alert topic
to the real receivers and resolves it."""

from __future__ import annotations

import argparse
import io

import pytest
from local_e2e import pd_events, slack_messages, wait_for, write_config
from uptime_relay_tools.cli import alerttest

pytestmark = pytest.mark.e2e


def _slack_text(message: dict) -> str:
    return " ".join(
        block.get("text", {}).get("text", "") if isinstance(block.get("text"), dict) else ""
        for block in message["blocks"]
    ) + " ".join(f["text"] for block in message["blocks"] for f in block.get("fields", []))


def test_a_check_answering_503_pages_with_503_and_the_reason_on_every_channel(
    tmp_path, target, receiver, smtp, local_stack
):
    """GIVEN a check routed to Slack, PagerDuty and e-mail, WHEN its target answers 503 for long
    enough to open an incident, THEN each page says "503" and why (unexpected HTTP status), titled
    by the check, and the resolve says how long it was down."""
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver, smtp_port=smtp.port)
    stack = local_stack(config, outage=(2, 6), minutes=9)
    stack.run()

    trigger, resolve = slack_messages(receiver)
    text = _slack_text(trigger)
    assert trigger["blocks"][0]["text"]["text"].endswith("[FIRING] api")
    assert "api is DOWN — HTTP 503 (expected 2xx, 3xx)" in text
    assert "unexpected HTTP status (status_mismatch)" in text
    assert "of the last 3 minutes" in text
    assert "api is UP again — down for" in _slack_text(resolve)

    pd_trigger = pd_events(receiver)[0]
    assert "503" in pd_trigger["payload"]["summary"]
    evidence = pd_trigger["payload"]["custom_details"]["evidence"]
    assert (evidence["status_code"], evidence["reason"]) == (503, "status_mismatch")

    body = smtp.messages[0].get_body(preferencelist=("plain",)).get_content()
    assert "HTTP 503" in body and "unexpected HTTP status (status_mismatch)" in body
    assert smtp.messages[0]["Subject"] == "[FIRING] api"


def test_uptime_relay_test_reaches_the_receivers_through_the_alert_topic_and_resolves(
    tmp_path, target, receiver, smtp, local_stack
):
    """GIVEN the local stack running, WHEN `uptime-relay test --endpoint-url …` publishes its test
    alarm to the alert topic, THEN Slack, PagerDuty and e-mail get the trigger and the resolve,
    marked as a test, the command prints each delivery and exits 0."""
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver, smtp_port=smtp.port)
    stack = local_stack(config, minutes=1)
    args = argparse.Namespace(
        config=str(config),
        labels="severity=critical",
        stack=stack.stack_name,
        endpoint_url=stack.endpoint,
        region="us-east-1",
        resolve_after="0s",
        timeout="30s",
        dry_run=False,
    )
    out, err = io.StringIO(), io.StringIO()

    code = alerttest.run(args, out=out, err=err)

    printed = out.getvalue()
    assert code == 0, printed + err.getvalue()
    assert "route #1 (match severity=critical) -> slack-critical, pd-primary, oncall-email" in printed
    assert "slack-critical: trigger sent" in printed and "pd-primary: resolve sent" in printed
    wait_for(lambda: len(smtp.messages) == 2, 10, "the test trigger and resolve e-mails")
    assert [e["event_action"] for e in pd_events(receiver)] == ["trigger", "resolve"]
    assert pd_events(receiver)[0]["payload"]["summary"].startswith("[TEST] uptime-relay-test")
    assert [m["blocks"][0]["text"]["text"][2:] for m in slack_messages(receiver)] == [
        "[TEST] [FIRING] uptime-relay-test",
        "[TEST] [RESOLVED] uptime-relay-test",
    ]
    (incident,) = stack.incidents()
    assert incident.status == "resolved" and incident.labels["uptime_relay_test"]
