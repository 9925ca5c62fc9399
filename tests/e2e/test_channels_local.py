"""The wave-2 channels on the local stack: a check outage reaches a signed webhook, a Teams
Workflows webhook, the Opsgenie Alert API (each a local receiver checking the wire format) and SMS
through moto's SNS; Opsgenie's acknowledgement comes back through the actions URL."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from local_e2e import wait_for
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns import sns_backends
from uptime_relay.notifiers.opsgenie import alias
from uptime_relay_tools.testing import wire
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply

pytestmark = pytest.mark.e2e

HOOK_SECRET = "e2e-hook-secret"
GENIE_TOKEN = "e2e-genie-token"
PHONE = "+15555550142"


@pytest.fixture
def services():
    problems: list[str] = []
    checks = {
        "/hook": wire.webhook_problems(HOOK_SECRET),
        "/workflows": wire.teams_problems,
        "/v2/alerts": wire.opsgenie_problems,
    }
    with HttpReceiver(wire.responder(checks, problems)) as r:
        r.problems = problems
        yield r


def write_config(path: Path, target_url: str, services: HttpReceiver, *, escalation: bool = False) -> Path:
    policy = (
        "    escalation: critical\nescalation_policies:\n  critical:\n    steps:\n"
        "      - {after: 0m, notify: [hook]}\n      - {after: 3m, notify: [phones]}\n"
        if escalation
        else ""
    )
    path.write_text(
        f"""
checks:
  - name: api
    url: {target_url}/health
    timeout: 2s
    labels: {{severity: critical, service: api}}
    alarm: {{datapoints: 2, evaluation_periods: 3}}
channels:
  hook: {{type: webhook, url: "{services.url}/hook", secret: {HOOK_SECRET}}}
  teams: {{type: teams, webhook_url: "{services.url}/workflows/e2e/triggers/manual/paths/invoke?sig=e2e"}}
  genie: {{type: opsgenie, api_key: e2e-genie-key, api_url: "{services.url}", webhook_token: {GENIE_TOKEN}, responders: [team:Platform]}}
  phones: {{type: sms, to: ["{PHONE}"]}}
routes:
  - match: {{severity: critical}}
    notify: {"[hook, genie]" if escalation else "[hook, teams, genie, phones]"}
{policy}""",
        encoding="utf-8",
    )
    return path


def texts_to(number: str) -> list[str]:
    messages = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values()
    return [message for phone, message in messages if phone == number]


def test_an_outage_reaches_the_webhook_teams_opsgenie_and_sms_and_resolves(
    tmp_path, target, services, local_stack
):
    """GIVEN a check routed to all four new channels, the webhook failing once with a 503 WHEN the
    target is down for four minutes THEN each channel gets the trigger then the resolve (SMS: the
    trigger only), every request passes its service's schema, and the webhook's retry delivers."""
    services.script("/hook", Reply(503, "busy"))
    before = len(texts_to(PHONE))
    config = write_config(tmp_path / "c.yaml", target.url, services)
    stack = local_stack(config, outage=(3, 7), minutes=10)
    stack.run()
    assert services.problems == []
    hooks = [r.json() for r in services.to("/hook") if r.body]
    assert [h["status"] for h in hooks] == ["firing", "firing", "resolved"]  # 503, retried, resolve
    assert all(wire.verify_signature(HOOK_SECRET, r.headers, r.body) for r in services.to("/hook"))
    assert hooks[-1]["incident"]["status"] == "resolved"
    cards = [r.json() for r in services.requests if r.path.startswith("/workflows")]
    titles = [c["attachments"][0]["content"]["body"][0]["items"][0]["text"] for c in cards]
    assert len(titles) == 2 and "FIRING" in titles[0] and "RESOLVED" in titles[1]
    (ack,) = [a for a in cards[0]["attachments"][0]["content"]["actions"] if a["title"] == "Acknowledge"]
    assert ack["url"].startswith(stack.actions_url + "/ack/")  # the signed link, as in e-mails
    genie = [r for r in services.requests if r.path.startswith("/v2/alerts")]
    assert genie[0].path == "/v2/alerts" and genie[0].json()["priority"] == "P1"
    assert genie[1].path.endswith("/close?identifierType=alias")
    assert genie[0].json()["alias"].replace(":", "%3A") in genie[1].path
    (sms,) = texts_to(PHONE)[before:]
    assert sms.startswith("FIRING: ") and len(sms) <= 160
    (incident,) = stack.incidents()
    assert incident.status == "resolved" and sms.endswith(f"[{incident.id}]")


def opsgenie_webhook(actions_url: str, body: bytes, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        actions_url + "/opsgenie",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-Uptime-Relay-Token": token},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


def test_an_opsgenie_acknowledgement_on_the_actions_url_stops_the_escalation(
    tmp_path, target, services, local_stack
):
    """GIVEN an outage paged to the webhook and Opsgenie, with an SMS step 3 minutes later WHEN
    Opsgenie's webhook says the alert was acknowledged (the minute after it opened) THEN the
    incident is acknowledged by that user, Opsgenie is not told back, and the SMS step never fires
    although the outage goes on past it."""
    before = len(texts_to(PHONE))
    config = write_config(tmp_path / "c.yaml", target.url, services, escalation=True)
    stack = local_stack(config, outage=(2, 40), minutes=9)
    answers: list[tuple[int, dict]] = []

    def acknowledge_in_opsgenie(stack, minute: int) -> None:
        opened = stack.incidents(("open",))
        if answers or not opened:
            return
        body = json.dumps(
            {
                "action": "Acknowledge",
                "alert": {"alertId": "a1", "alias": alias(opened[0].alert), "username": "oncall@example.com"},
                "source": {"name": "web", "type": "web"},
            }
        ).encode()
        answers.append(opsgenie_webhook(stack.actions_url, b"{}", "wrong-token"))
        answers.append(opsgenie_webhook(stack.actions_url, body, GENIE_TOKEN))

    stack.after_minute = acknowledge_in_opsgenie
    stack.run()
    assert [status for status, _ in answers] == [401, 200] and answers[1][1]["result"] == "changed"
    (acked,) = stack.incidents(("acknowledged",))
    assert acked.acknowledged_by == "oncall@example.com" and acked.due_at is None
    assert texts_to(PHONE)[before:] == []
    assert not [r for r in services.requests if "/acknowledge" in r.path]  # Opsgenie told us: no echo
    wait_for(
        lambda: any(r.path == "/hook" and b'"acknowledged"' in r.body for r in services.requests),
        10,
        "the webhook's acknowledge follow-up",
    )
    assert services.problems == []
