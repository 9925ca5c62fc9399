"""Acknowledge and resolve from outside: Slack buttons, email links, PagerDuty webhooks, Alertmanager.

GIVEN an open incident in the store, WHEN a request reaches the actions router, THEN the incident
changes only for authentic requests, and every refusal leaves it exactly as it was.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from test_actions_support import SIM_START, FixedClock, make_store, open_incident, snapshot
from uptime_relay.actions import Actions
from uptime_relay.adapters.ack_tokens import InMemoryUsedTokens
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.alert import AlertSource
from uptime_relay.notifiers.pagerduty import dedup_key
from uptime_relay.security import make_ack_token, pagerduty_signature, slack_signature
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply

EVENTS = Path(__file__).resolve().parents[2] / "events"
SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
ACK_SECRET = "ack-link-secret-0123456789"
PD_SECRET = "pd-webhook-secret"

CONFIG = parse_config(
    """
slack:
  signing_secret: env:SLACK_SIGNING_SECRET
channels:
  pd-primary: {type: pagerduty, routing_key: env:PD_ROUTING_KEY}
  slack-critical: {type: slack, webhook_url: env:SLACK_WEBHOOK}
routes:
  - notify: [pd-primary, slack-critical]
""",
    "test.yaml",
)


@pytest.fixture(autouse=True)
def package_logs_reach_caplog(monkeypatch):
    # a Lambda handler loaded earlier in the session may have pointed the package logger at
    # Powertools' handler (propagate=False); these tests read refusals through caplog
    monkeypatch.setattr(logging.getLogger("uptime_relay"), "propagate", True)


@pytest.fixture
def store():
    return make_store()


@pytest.fixture
def real_clock():
    return FixedClock(datetime.now(UTC))


@pytest.fixture
def sim_clock():
    # the local stack's simulated clock runs far from the wall clock
    return FixedClock(SIM_START + timedelta(minutes=12))


@pytest.fixture
def used_tokens():
    return InMemoryUsedTokens()


@pytest.fixture
def actions(store, real_clock, sim_clock, used_tokens):
    secrets = StaticSecrets(
        {"env:SLACK_SIGNING_SECRET": SIGNING, "env:ACK_SECRET": ACK_SECRET, "env:PD_WEBHOOK": PD_SECRET}
    )
    return Actions(
        CONFIG,
        store,
        secrets=secrets,
        used_tokens=used_tokens,
        clock=sim_clock,
        real_clock=real_clock,
        ack_secret_ref="env:ACK_SECRET",
        pagerduty_secret_refs=["env:PD_WEBHOOK"],
        environ={},
    )


def slack_request(action_id, incident_id, *, ts, secret=SIGNING, response_url=None, message=None):
    payload = {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "alice", "name": "alice"},
        "actions": [{"action_id": action_id, "value": incident_id, "type": "button"}],
        "response_url": response_url,
        "message": message,
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(int(ts)),
        "X-Slack-Signature": slack_signature(secret, str(int(ts)), body),
    }
    return headers, body


# --------------------------------------------------------------------------------------- Slack
def test_a_slack_ack_button_acknowledges_and_updates_the_message(actions, store, real_clock):
    incident = open_incident(store)
    original = {
        "text": "ALARM api",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*api* is failing"}},
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "action_id": "ack", "value": incident.id},
                    {"type": "button", "action_id": "resolve", "value": incident.id},
                ],
            },
        ],
    }
    with HttpReceiver() as slack:
        headers, body = slack_request(
            "ack",
            incident.id,
            ts=real_clock.now().timestamp(),
            response_url=slack.url + "/actions/T1/123/abc",
            message=original,
        )
        response = actions.handle("POST", "/slack/actions", headers, body)
        update = slack.to("/actions/T1/123/abc")

    assert response.status == 200 and response.body == ""
    after = store.get(incident.id)
    assert after.status == "acknowledged" and after.acknowledged_by == "alice"
    assert after.due_at is None  # escalation stopped
    assert any(e.kind.startswith("ack") and "alice" in e.detail for e in after.timeline)
    sent = update[0].json()
    assert sent["replace_original"] is True
    assert sent["blocks"][0] == original["blocks"][0]
    assert "Acknowledged by <@U024BE7LH> at 12:12 UTC" in json.dumps(sent["blocks"])
    buttons = [e["action_id"] for b in sent["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["resolve"]


def test_a_slack_resolve_button_resolves_and_removes_the_buttons(actions, store, real_clock):
    incident = open_incident(store)
    with HttpReceiver() as slack:
        headers, body = slack_request(
            "resolve", incident.id, ts=real_clock.now().timestamp(), response_url=slack.url + "/r"
        )
        assert actions.handle("POST", "/slack/actions", headers, body).status == 200
        sent = slack.to("/r")[0].json()
    assert store.get(incident.id).status == "resolved"
    assert not [b for b in sent["blocks"] if b["type"] == "actions"]
    assert "Resolved by <@U024BE7LH> at 12:12 UTC" in json.dumps(sent)


def test_slack_signatures_follow_the_real_clock_not_the_simulated_one(actions, store, real_clock, sim_clock):
    # simulated time is hours away from the wall clock; Slack signs with wall-clock time
    assert abs((sim_clock.now() - real_clock.now()).total_seconds()) > 3600
    incident = open_incident(store)
    headers, body = slack_request("ack", incident.id, ts=real_clock.now().timestamp())
    assert actions.handle("POST", "/slack/actions", headers, body).status == 200
    assert store.get(incident.id).status == "acknowledged"
    # ... and the recorded time is the simulated one
    assert store.get(incident.id).acknowledged_at == sim_clock.now()


def test_a_forged_slack_request_is_refused_and_changes_nothing(actions, store, real_clock, caplog):
    incident = open_incident(store)
    before = snapshot(store, incident.id)
    headers, body = slack_request("ack", incident.id, ts=real_clock.now().timestamp(), secret="guessed")
    response = actions.handle("POST", "/slack/actions", headers, body)
    assert response.status == 401
    assert snapshot(store, incident.id) == before
    assert "does not match" in caplog.text
    assert SIGNING not in caplog.text and headers["X-Slack-Signature"][3:] not in caplog.text


@pytest.mark.parametrize("offset", [301, -301], ids=["301s-old", "301s-in-the-future"])
def test_a_stale_slack_request_is_refused_and_changes_nothing(actions, store, real_clock, offset):
    incident = open_incident(store)
    before = snapshot(store, incident.id)
    headers, body = slack_request("resolve", incident.id, ts=real_clock.now().timestamp() - offset)
    assert actions.handle("POST", "/slack/actions", headers, body).status == 401
    assert snapshot(store, incident.id) == before


def test_a_slack_request_with_a_body_changed_in_transit_is_refused(actions, store, real_clock):
    incident = open_incident(store)
    other = open_incident(store, alarm="other")
    before = snapshot(store, other.id)
    headers, body = slack_request("resolve", incident.id, ts=real_clock.now().timestamp())
    tampered = body.replace(incident.id.encode(), other.id.encode())
    assert actions.handle("POST", "/slack/actions", headers, tampered).status == 401
    assert snapshot(store, other.id) == before


def test_an_unknown_incident_gets_an_ephemeral_message(actions, real_clock):
    with HttpReceiver() as slack:
        headers, body = slack_request(
            "ack", "inc-gone", ts=real_clock.now().timestamp(), response_url=slack.url + "/r"
        )
        response = actions.handle("POST", "/slack/actions", headers, body)
        posted = slack.to("/r")[0].json()
    assert response.status == 200
    assert json.loads(response.body)["response_type"] == "ephemeral"
    assert posted["response_type"] == "ephemeral" and posted["replace_original"] is False
    assert "not known" in posted["text"]


def test_a_resolved_incident_is_not_changed_by_a_late_button(actions, store, real_clock):
    incident = open_incident(store)
    store.resolve(incident.id, by="alarm", via="alarm", at=SIM_START)
    before = snapshot(store, incident.id)
    headers, body = slack_request("ack", incident.id, ts=real_clock.now().timestamp())
    response = actions.handle("POST", "/slack/actions", headers, body)
    assert response.status == 200
    assert "already resolved" in json.loads(response.body)["text"]
    assert snapshot(store, incident.id) == before


def test_a_second_ack_says_who_acknowledged_first(actions, store, real_clock):
    incident = open_incident(store)
    store.acknowledge(incident.id, by="bob", via="cli", at=SIM_START)
    before = snapshot(store, incident.id)
    headers, body = slack_request("ack", incident.id, ts=real_clock.now().timestamp())
    response = actions.handle("POST", "/slack/actions", headers, body)
    assert "already acknowledged by bob" in json.loads(response.body)["text"]
    assert snapshot(store, incident.id) == before


def test_an_acknowledged_incident_can_still_be_resolved_from_slack(actions, store, real_clock):
    incident = open_incident(store)
    store.acknowledge(incident.id, by="bob", via="cli", at=SIM_START)
    headers, body = slack_request("resolve", incident.id, ts=real_clock.now().timestamp())
    assert actions.handle("POST", "/slack/actions", headers, body).status == 200
    assert store.get(incident.id).status == "resolved"


def test_a_broken_response_url_does_not_undo_the_ack(actions, store, real_clock):
    incident = open_incident(store)
    with HttpReceiver(Reply(500, "boom")) as slack:
        headers, body = slack_request(
            "ack", incident.id, ts=real_clock.now().timestamp(), response_url=slack.url + "/r"
        )
        assert actions.handle("POST", "/slack/actions", headers, body).status == 200
        gone = slack.url + "/r"
    assert store.get(incident.id).status == "acknowledged"
    # and an unreachable one neither (connection refused)
    second = open_incident(store, alarm="second")
    headers, body = slack_request("ack", second.id, ts=real_clock.now().timestamp(), response_url=gone)
    assert actions.handle("POST", "/slack/actions", headers, body).status == 200
    assert store.get(second.id).status == "acknowledged"


def test_a_signed_but_unreadable_slack_payload_is_a_bad_request(actions, real_clock):
    body = b"payload=%7Bnot-json"
    ts = str(int(real_clock.now().timestamp()))
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": slack_signature(SIGNING, ts, body)}
    assert actions.handle("POST", "/slack/actions", headers, body).status == 400


def test_slack_is_refused_when_no_signing_secret_is_configured(store, real_clock):
    incident = open_incident(store)
    before = snapshot(store, incident.id)
    actions = Actions(
        parse_config("{}", "empty.yaml"), store, secrets=StaticSecrets(), real_clock=real_clock, environ={}
    )
    headers, body = slack_request("ack", incident.id, ts=real_clock.now().timestamp())
    assert actions.handle("POST", "/slack/actions", headers, body).status == 401
    assert snapshot(store, incident.id) == before


# --------------------------------------------------------------------------------------- ack links
def ack_path(incident_id, expires, **kw):
    return "/ack/" + make_ack_token(ACK_SECRET, incident_id, expires, **kw)


def test_an_email_ack_link_opened_shows_a_confirmation_page_and_changes_nothing(
    actions, store, sim_clock, used_tokens
):
    # mail link scanners (Safe Links, Proofpoint) fetch every link before a human does
    incident = open_incident(store, name="<script>alert(1)</script>")
    path = ack_path(incident.id, sim_clock.now() + timedelta(hours=1))
    before = snapshot(store, incident.id)
    for _ in range(2):
        page = actions.handle("GET", path, {}, b"")
        assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    head = actions.handle("HEAD", path, {}, b"")
    assert head.status == 200 and head.body == ""
    assert snapshot(store, incident.id) == before
    assert used_tokens.used == {}
    assert "<script>alert" not in page.body and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.body
    assert ">open<" in page.body and "2026-11-25 12:00 UTC" in page.body
    assert f'<form method="post" action="{path}">' in page.body
    assert ">Acknowledge</button>" in page.body


def test_the_confirmation_button_acknowledges_once(actions, store, sim_clock):
    incident = open_incident(store)
    path = ack_path(incident.id, sim_clock.now() + timedelta(hours=1))
    assert actions.handle("GET", path, {}, b"").status == 200
    response = actions.handle("POST", path, {"Content-Type": "application/x-www-form-urlencoded"}, b"")
    assert response.status == 200 and "is acknowledged" in response.body
    after = store.get(incident.id)
    assert after.status == "acknowledged" and after.due_at is None
    assert any("email link" in e.detail for e in after.timeline)


def test_a_replayed_ack_link_is_forbidden_and_changes_nothing(actions, store, sim_clock):
    incident = open_incident(store)
    path = ack_path(incident.id, sim_clock.now() + timedelta(hours=1))
    assert actions.handle("POST", path, {}, b"").status == 200
    store.resolve(incident.id, by="alarm", via="alarm", at=sim_clock.now())
    before = snapshot(store, incident.id)
    replay = actions.handle("POST", path, {}, b"")
    assert replay.status == 403 and "already used" in replay.body
    opened_again = actions.handle("GET", path, {}, b"")
    assert opened_again.status == 403 and "already used" in opened_again.body
    assert "<form" not in opened_again.body
    assert snapshot(store, incident.id) == before


def test_an_ack_link_for_one_recipient_records_that_person(actions, store, sim_clock):
    incident = open_incident(store)
    path = ack_path(incident.id, sim_clock.now() + timedelta(hours=1), recipient="alice@example.com")
    assert "alice@example.com" in actions.handle("GET", path, {}, b"").body
    assert actions.handle("POST", path, {}, b"").status == 200
    after = store.get(incident.id)
    assert after.acknowledged_by == "alice@example.com"
    assert after.timeline[-1].detail == "by alice@example.com via email link"


def test_an_ack_link_mailed_to_several_people_is_recorded_as_the_link_holder(actions, store, sim_clock):
    incident = open_incident(store)
    assert actions.handle("POST", ack_path(incident.id, sim_clock.now() + timedelta(hours=1)), {}, b"")
    after = store.get(incident.id)
    assert after.acknowledged_by == "email link holder"
    assert after.timeline[-1].detail == "by email link holder via email link"


def test_a_tampered_ack_link_is_refused_and_changes_nothing(actions, store, sim_clock, caplog):
    incident = open_incident(store)
    before = snapshot(store, incident.id)
    path = ack_path(incident.id, sim_clock.now() + timedelta(hours=1))
    i = len("/ack/") + 3
    flipped = path[:i] + ("A" if path[i] != "A" else "B") + path[i + 1 :]
    assert actions.handle("GET", flipped, {}, b"").status == 401
    response = actions.handle("POST", flipped, {}, b"")
    assert response.status == 401
    assert snapshot(store, incident.id) == before
    assert flipped[5:] not in caplog.text  # the token is never logged


def test_an_expired_ack_link_is_forbidden_by_the_simulated_clock(actions, store, sim_clock, used_tokens):
    incident = open_incident(store)
    before = snapshot(store, incident.id)
    path = ack_path(incident.id, sim_clock.now() - timedelta(seconds=1))
    assert actions.handle("GET", path, {}, b"").status == 403
    response = actions.handle("POST", path, {}, b"")
    assert response.status == 403 and "expired" in response.body
    assert snapshot(store, incident.id) == before
    assert used_tokens.used == {}


def test_an_ack_link_for_an_incident_already_resolved_changes_nothing(actions, store, sim_clock):
    incident = open_incident(store)
    store.resolve(incident.id, by="alarm", via="alarm", at=sim_clock.now())
    before = snapshot(store, incident.id)
    path = ack_path(incident.id, sim_clock.now() + timedelta(hours=1))
    page = actions.handle("GET", path, {}, b"")
    assert page.status == 200 and "already resolved" in page.body and "<form" not in page.body
    response = actions.handle("POST", path, {}, b"")
    assert response.status == 200 and "already resolved" in response.body
    assert snapshot(store, incident.id) == before


def test_an_ack_link_for_an_unknown_incident_says_so(actions, sim_clock):
    path = ack_path("inc-gone", sim_clock.now() + timedelta(hours=1))
    for method in ("GET", "POST"):
        response = actions.handle(method, path, {}, b"")
        assert response.status == 404 and "not known" in response.body


def test_ack_links_are_unavailable_without_a_secret(store, sim_clock):
    incident = open_incident(store)
    actions = Actions(CONFIG, store, secrets=StaticSecrets(), clock=sim_clock, environ={})
    response = actions.handle("POST", ack_path(incident.id, sim_clock.now() + timedelta(hours=1)), {}, b"")
    assert response.status == 503
    assert store.get(incident.id).status == "open"


# --------------------------------------------------------------------------------------- PagerDuty
def pd_body(event_type, incident_key, *, agent="Tenex Engineer"):
    # a fresh event that just happened (real clock): PagerDuty events apply once, within 5 minutes
    return json.dumps(
        {
            "event": {
                "id": str(uuid.uuid4()),
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "agent": {"id": "PLH1HKV", "summary": agent, "type": "user_reference"},
                "client": {"name": "PagerDuty"},
                "data": {
                    "id": "PGR0VU2",
                    "type": "incident",
                    "incident_key": incident_key,
                    "status": "acknowledged",
                },
            }
        }
    ).encode()


def test_a_pagerduty_acknowledgement_stops_our_escalation(actions, store):
    incident = open_incident(store, pd_key="uptime-relay:abc123")
    body = pd_body("incident.acknowledged", "uptime-relay:abc123")
    response = actions.handle(
        "POST", "/pagerduty", {"X-PagerDuty-Signature": pagerduty_signature(PD_SECRET, body)}, body
    )
    assert response.status == 200
    after = store.get(incident.id)
    assert after.status == "acknowledged" and after.acknowledged_by == "Tenex Engineer"
    assert after.due_at is None
    assert any("Tenex Engineer" in e.detail and "pagerduty" in e.detail.lower() for e in after.timeline)


def test_a_pagerduty_resolve_resolves_ours_found_by_the_opening_alert(actions, store):
    incident = open_incident(store)  # no handles stored: matched through dedup_key(incident.alert)
    body = pd_body("incident.resolved", dedup_key(incident.alert))
    response = actions.handle(
        "POST", "/pagerduty", {"x-pagerduty-signature": pagerduty_signature(PD_SECRET, body)}, body
    )
    assert response.status == 200
    assert store.get(incident.id).status == "resolved"


def test_a_wrongly_signed_pagerduty_webhook_is_refused_and_changes_nothing(actions, store):
    incident = open_incident(store, pd_key="uptime-relay:abc123")
    before = snapshot(store, incident.id)
    body = pd_body("incident.resolved", "uptime-relay:abc123")
    response = actions.handle(
        "POST", "/pagerduty", {"X-PagerDuty-Signature": pagerduty_signature("guess", body)}, body
    )
    assert response.status == 401
    assert snapshot(store, incident.id) == before


def test_other_pagerduty_events_and_unknown_keys_are_ignored(actions, store):
    incident = open_incident(store, pd_key="uptime-relay:abc123")
    before = snapshot(store, incident.id)
    for body in (pd_body("incident.annotated", "uptime-relay:abc123"), pd_body("incident.resolved", "other")):
        response = actions.handle(
            "POST", "/pagerduty", {"X-PagerDuty-Signature": pagerduty_signature(PD_SECRET, body)}, body
        )
        assert response.status == 200
    assert snapshot(store, incident.id) == before


# --------------------------------------------------------------------------------------- Alertmanager
LOCAL = {"ALERTMANAGER_ALLOW_UNAUTHENTICATED": "true"}  # what the local stack sets


def test_alertmanager_webhooks_are_refused_when_no_token_is_configured(store, sim_clock, caplog):
    received = []
    actions = Actions(
        CONFIG, store, secrets=StaticSecrets(), clock=sim_clock, on_alerts=received.append, environ={}
    )
    body = (EVENTS / "alertmanager-webhook-firing.json").read_bytes()
    for headers in ({}, {"Authorization": "Bearer anything"}):
        response = actions.handle("POST", "/alertmanager", headers, body)
        assert response.status == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert received == []
    assert "ALERTMANAGER_TOKEN_REF" in caplog.text


def test_alertmanager_without_a_token_is_accepted_only_with_the_explicit_opt_out(store, sim_clock):
    received = []
    body = (EVENTS / "alertmanager-webhook-firing.json").read_bytes()
    for value, status in (("false", 401), ("", 401), ("true", 200)):
        actions = Actions(
            CONFIG,
            store,
            secrets=StaticSecrets(),
            clock=sim_clock,
            on_alerts=received.append,
            environ={"ALERTMANAGER_ALLOW_UNAUTHENTICATED": value},
        )
        assert actions.handle("POST", "/alertmanager", {}, body).status == status
    assert len(received) == 1


def test_the_alertmanager_token_comes_from_alertmanager_token_ref(store, sim_clock):
    received = []
    actions = Actions(
        CONFIG,
        store,
        secrets=StaticSecrets({"ssm:/uptime/am-token": "s3cret"}),
        clock=sim_clock,
        on_alerts=received.append,
        # the opt-out does not weaken a configured token
        environ={
            "ALERTMANAGER_TOKEN_REF": "ssm:/uptime/am-token",
            "ALERTMANAGER_ALLOW_UNAUTHENTICATED": "true",
        },
    )
    body = (EVENTS / "alertmanager-webhook-firing.json").read_bytes()
    for refused in ({}, {"Authorization": "Basic czNjcmV0"}, {"Authorization": "Bearer s3cre"}):
        assert actions.handle("POST", "/alertmanager", refused, body).status == 401
    assert received == []
    # the scheme is case-insensitive (RFC 7235)
    assert actions.handle("POST", "/alertmanager", {"authorization": "bearer s3cret"}, body).status == 200
    assert len(received) == 1


def test_an_alertmanager_webhook_reaches_the_relay(store, sim_clock):
    received = []
    actions = Actions(
        CONFIG, store, secrets=StaticSecrets(), clock=sim_clock, on_alerts=received.append, environ=LOCAL
    )
    body = (EVENTS / "alertmanager-webhook-firing.json").read_bytes()
    response = actions.handle("POST", "/alertmanager", {"Content-Type": "application/json"}, body)
    assert response.status == 200
    alerts = received[0]
    assert alerts and all(a.source is AlertSource.ALERTMANAGER for a in alerts)
    assert json.loads(response.body) == {"accepted": len(alerts)}


def test_an_unreadable_alertmanager_body_is_still_delivered_as_a_fallback(store, sim_clock):
    received = []
    actions = Actions(
        CONFIG, store, secrets=StaticSecrets(), clock=sim_clock, on_alerts=received.append, environ=LOCAL
    )
    response = actions.handle("POST", "/alertmanager", {}, b"{this is not json")
    assert response.status == 200
    (alerts,) = received
    assert alerts[0].source is AlertSource.FALLBACK and "this is not json" in alerts[0].raw


def test_the_relay_gets_the_simulated_time(store, sim_clock):
    calls = []

    class Relay:
        def enrich(self, alert):
            return alert

        def handle(self, alerts, now):
            calls.append((alerts, now))

    actions = Actions(CONFIG, store, secrets=StaticSecrets(), clock=sim_clock, relay=Relay(), environ=LOCAL)
    body = (EVENTS / "alertmanager-webhook-firing.json").read_bytes()
    assert actions.handle("POST", "/alertmanager", {}, body).status == 200
    assert calls[0][1] == sim_clock.now()


def test_a_failing_relay_answers_500_so_alertmanager_retries(store, sim_clock):
    def boom(alerts):
        raise RuntimeError("dynamodb down")

    actions = Actions(CONFIG, store, secrets=StaticSecrets(), clock=sim_clock, on_alerts=boom, environ=LOCAL)
    assert actions.handle("POST", "/alertmanager", {}, b"{}").status == 500


def test_an_alertmanager_bearer_token_is_enforced_when_configured(store, sim_clock):
    received = []
    actions = Actions(
        CONFIG,
        store,
        secrets=StaticSecrets({"env:AM_TOKEN": "t0ken"}),
        clock=sim_clock,
        on_alerts=received.append,
        alertmanager_token_ref="env:AM_TOKEN",
        environ={},
    )
    body = (EVENTS / "alertmanager-webhook-firing.json").read_bytes()
    assert actions.handle("POST", "/alertmanager", {"Authorization": "Bearer nope"}, body).status == 401
    assert received == []
    assert actions.handle("POST", "/alertmanager", {"Authorization": "Bearer t0ken"}, body).status == 200


# --------------------------------------------------------------------------------------- routing
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 404),
        ("GET", "/slack/actions", 405),
        ("PUT", "/pagerduty", 405),
        ("PUT", "/ack/abc", 405),
        ("GET", "/alertmanager", 405),
        ("POST", "/nope", 404),
    ],
)
def test_unknown_routes_and_methods_are_refused(actions, method, path, status):
    response = actions.handle(method, path, {}, b"")
    assert response.status == status
    if status == 405:
        assert response.headers["Allow"]


def test_the_slack_answer_never_waits_longer_than_two_seconds_on_response_url(actions, store, real_clock):
    # Slack wants an answer within 3 s: the store write is inline, the response_url post is bounded
    posts = []

    class SlowSlack:
        def post(self, url, json, timeout):
            posts.append(timeout)
            raise TimeoutError("read timed out")

    actions._slack_client = SlowSlack()
    incident = open_incident(store)
    headers, body = slack_request(
        "ack", incident.id, ts=real_clock.now().timestamp(), response_url="https://hooks.slack.invalid/r"
    )
    assert actions.handle("POST", "/slack/actions", headers, body).status == 200
    assert store.get(incident.id).status == "acknowledged"
    assert posts == [2.0]


def test_a_pagerduty_channel_webhook_secret_from_the_config_verifies_its_webhooks(
    store, real_clock, sim_clock, used_tokens
):
    config = parse_config(
        """
channels:
  pd-primary: {type: pagerduty, routing_key: env:PD_ROUTING_KEY, webhook_secret: env:PD_WEBHOOK}
routes:
  - notify: [pd-primary]
""",
        "test.yaml",
    )
    actions = Actions(
        config,
        store,
        secrets=StaticSecrets({"env:PD_WEBHOOK": PD_SECRET, "env:ACK_SECRET": ACK_SECRET}),
        used_tokens=used_tokens,
        clock=sim_clock,
        real_clock=real_clock,
        ack_secret_ref="env:ACK_SECRET",
        environ={},
    )
    incident = open_incident(store, pd_key="uptime-relay:abc123")
    body = pd_body("incident.acknowledged", "uptime-relay:abc123")
    forged = actions.handle(
        "POST", "/pagerduty", {"X-PagerDuty-Signature": pagerduty_signature("x", body)}, body
    )
    assert forged.status == 401 and store.get(incident.id).status == "open"
    signed = {"X-PagerDuty-Signature": pagerduty_signature(PD_SECRET, body)}
    assert actions.handle("POST", "/pagerduty", signed, body).status == 200
    assert store.get(incident.id).status == "acknowledged"
