"""Hardening of the actions function (issue 12): PagerDuty webhooks cannot be replayed, signed but
oddly shaped payloads are refused with 400, and every HTML page forbids framing and sniffing.

GIVEN an open incident, WHEN an authentic-looking request reaches the actions router, THEN it acts
at most once per PagerDuty event, never crashes on the payload's shape, and its pages carry the
browser protections.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from test_actions_support import SIM_START, FixedClock, make_store, open_incident, snapshot
from uptime_relay.actions import Actions
from uptime_relay.adapters.ack_tokens import InMemoryUsedTokens
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.security import make_ack_token, pagerduty_signature, slack_signature

SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
ACK_SECRET = "ack-link-secret-0123456789"
PD_SECRET = "pd-webhook-secret"
KEY = "uptime-relay:abc123"

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


@pytest.fixture
def store():
    return make_store()


@pytest.fixture
def real_clock():
    return FixedClock(datetime.now(UTC))


@pytest.fixture
def sim_clock():
    # the local stack's simulated clock runs far from the wall clock (--minute-seconds)
    return FixedClock(SIM_START + timedelta(minutes=12))


@pytest.fixture
def used_tokens():
    return InMemoryUsedTokens()


def build(store, real_clock, sim_clock, used_tokens, **kw):
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
        **kw,
    )


@pytest.fixture
def actions(store, real_clock, sim_clock, used_tokens):
    return build(store, real_clock, sim_clock, used_tokens)


def pd_event(event_type="incident.acknowledged", *, at, key=KEY, event_id=None, change=None):
    """A PagerDuty v3 webhook body (the shape PagerDuty documents), ``event`` fields overridable."""
    event = {
        "id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "resource_type": "incident",
        "occurred_at": at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "agent": {"id": "PLH1HKV", "summary": "Tenex Engineer", "type": "user_reference"},
        "client": {"name": "PagerDuty"},
        "data": {"id": "PGR0VU2", "type": "incident", "incident_key": key, "status": "acknowledged"},
    }
    event.update(change or {})
    return json.dumps({"event": event}).encode()


def post_pd(actions, body):
    signed = {"X-PagerDuty-Signature": pagerduty_signature(PD_SECRET, body)}
    return actions.handle("POST", "/pagerduty", signed, body)


def post_slack(actions, payload, *, ts):
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {
        "X-Slack-Request-Timestamp": str(int(ts)),
        "X-Slack-Signature": slack_signature(SIGNING, str(int(ts)), body),
    }
    return actions.handle("POST", "/slack/actions", headers, body)


# ------------------------------------------------------------------------------ 1. PagerDuty replay
def test_a_captured_pagerduty_acknowledgement_replayed_later_does_not_touch_the_next_incident(
    actions, store, real_clock, sim_clock
):
    """GIVEN an incident acknowledged through a signed PagerDuty webhook, and a later incident of the
    same alarm (same dedup key) WHEN the captured body is sent again THEN it answers 2xx (PagerDuty
    does not retry it) and the later incident stays open, its escalation pending."""
    first = open_incident(store, pd_key=KEY)
    body = pd_event("incident.acknowledged", at=real_clock.now())
    assert post_pd(actions, body).status == 200
    assert store.get(first.id).status == "acknowledged"
    store.resolve(first.id, by="alarm", via="alarm", at=sim_clock.now())
    later = open_incident(store, pd_key=KEY, at=SIM_START + timedelta(minutes=20))
    before = snapshot(store, later.id)

    replay = post_pd(actions, body)

    assert replay.status == 200 and json.loads(replay.body)["result"] == "duplicate event"
    assert snapshot(store, later.id) == before


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6), timedelta(days=-30)])
def test_a_pagerduty_event_outside_the_five_minute_window_changes_nothing(actions, store, real_clock, skew):
    """GIVEN a signed, never seen PagerDuty resolve WHEN its occurred_at is more than 5 minutes away
    from the real clock THEN it answers 2xx, says it is stale, and the incident stays open."""
    incident = open_incident(store, pd_key=KEY)
    before = snapshot(store, incident.id)
    response = post_pd(actions, pd_event("incident.resolved", at=real_clock.now() + skew))
    assert response.status == 200 and json.loads(response.body)["result"] == "stale event"
    assert snapshot(store, incident.id) == before


def test_the_pagerduty_window_uses_the_real_clock_under_simulated_minutes(actions, store, real_clock):
    """GIVEN the local stack's simulated clock days away from the wall clock WHEN PagerDuty sends an
    event that just happened (real time) THEN it is applied."""
    incident = open_incident(store, pd_key=KEY)
    response = post_pd(actions, pd_event("incident.resolved", at=real_clock.now() - timedelta(minutes=4)))
    assert response.status == 200
    assert store.get(incident.id).status == "resolved"


class FailingStore:
    """The incident store, whose writes fail until ``healthy`` (DynamoDB throttled or down)."""

    def __init__(self, inner):
        self.inner, self.healthy = inner, False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def acknowledge(self, *args, **kw):
        if not self.healthy:
            raise ConnectionError("dynamodb unavailable")
        return self.inner.acknowledge(*args, **kw)


def test_a_pagerduty_event_that_failed_in_our_store_is_applied_when_pagerduty_retries(
    store, real_clock, sim_clock, used_tokens
):
    """GIVEN the store failing WHEN a PagerDuty acknowledgement arrives THEN it answers 5xx (so
    PagerDuty retries) and its event id is not used up: the retry, once the store is back, applies."""
    flaky = FailingStore(store)
    actions = build(flaky, real_clock, sim_clock, used_tokens)
    incident = open_incident(store, pd_key=KEY)
    body = pd_event("incident.acknowledged", at=real_clock.now())
    assert post_pd(actions, body).status == 500
    assert store.get(incident.id).status == "open"
    flaky.healthy = True
    assert post_pd(actions, body).status == 200
    assert store.get(incident.id).status == "acknowledged"


# ------------------------------------------------------------------------------ 6. signed odd shapes
SLACK_OK = {
    "type": "block_actions",
    "user": {"id": "U024BE7LH", "username": "alice"},
    "actions": [{"action_id": "ack", "value": "INC", "type": "button"}],
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"user": "alice"}, "payload.user"),
        ({"user": ["alice"]}, "payload.user"),
        ({"user": {"id": ["U1"]}}, "payload.user.id"),
        ({"actions": "ack"}, "payload.actions"),
        ({"actions": [{"action_id": "ack", "value": {"id": "x"}}]}, "payload.actions[0].value"),
        ({"actions": [{"action_id": ["ack"], "value": "INC"}]}, "payload.actions[0].action_id"),
        ({"response_url": 7}, "payload.response_url"),
        ({"message": "hello"}, "payload.message"),
        ({"message": {"blocks": 5}}, "payload.message.blocks"),
        ({"container": ["C1"]}, "payload.container"),
        ({"type": ["block_actions"]}, "payload.type"),
    ],
)
def test_a_signed_slack_payload_of_the_wrong_shape_is_a_400_naming_the_field(
    actions, store, real_clock, change, field
):
    """GIVEN a correctly signed Slack interactivity request WHEN a field has the wrong JSON type
    THEN the answer is 400 naming that field, and the incident is untouched."""
    incident = open_incident(store)
    before = snapshot(store, incident.id)
    payload = json.loads(json.dumps(SLACK_OK).replace("INC", incident.id)) | change
    response = post_slack(actions, payload, ts=real_clock.now().timestamp())
    assert response.status == 400, response.body
    assert field in response.body
    assert snapshot(store, incident.id) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"data": "PGR0VU2"}, "event.data"),
        ({"agent": "Tenex Engineer"}, "event.agent"),
        ({"event_type": ["incident.acknowledged"]}, "event.event_type"),
        ({"data": {"incident_key": ["k"]}}, "event.data.incident_key"),
        ({"agent": {"summary": {"name": "x"}}}, "event.agent.summary"),
        ({"id": 12}, "event.id"),
        ({"id": ""}, "event.id"),
        ({"occurred_at": 1764763200}, "event.occurred_at"),
        ({"occurred_at": "yesterday"}, "event.occurred_at"),
        ({"occurred_at": "2026-12-03T12:00:00"}, "event.occurred_at"),  # no zone
    ],
)
def test_a_signed_pagerduty_event_of_the_wrong_shape_is_a_400_naming_the_field(
    actions, store, real_clock, change, field
):
    """GIVEN a correctly signed PagerDuty webhook WHEN a field has the wrong type or form THEN the
    answer is 400 naming that field, and the incident is untouched."""
    incident = open_incident(store, pd_key=KEY)
    before = snapshot(store, incident.id)
    response = post_pd(actions, pd_event("incident.acknowledged", at=real_clock.now(), change=change))
    assert response.status == 400, response.body
    assert field in response.body
    assert snapshot(store, incident.id) == before


@pytest.mark.parametrize(
    "body",
    [b'{"event": "incident.acknowledged"}', b"[]", b'{"event": {}}', b"[" * 100_000, b"\xff"],
)
def test_a_signed_pagerduty_body_that_is_no_event_object_is_a_400(actions, body):
    """GIVEN a correctly signed body WHEN it is not a PagerDuty v3 event object (or JSON nested past
    the parser's limits) THEN the answer is 400."""
    assert post_pd(actions, body).status == 400


def test_a_signed_slack_payload_nested_past_the_parsers_limit_is_a_400(actions, real_clock):
    """GIVEN a correctly signed Slack request WHEN its payload is JSON nested 100,000 deep THEN the
    answer is 400 (not a crash)."""
    body = urlencode({"payload": "[" * 100_000}).encode()
    ts = str(int(real_clock.now().timestamp()))
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": slack_signature(SIGNING, ts, body)}
    assert actions.handle("POST", "/slack/actions", headers, body).status == 400


# ------------------------------------------------------------------------------ 8. page protections
PROTECTIONS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


def html_pages(actions, store, sim_clock):
    """Every HTML page the function answers: confirmation, acknowledged, used, expired, forged."""
    incident = open_incident(store)
    token = make_ack_token(ACK_SECRET, incident.id, sim_clock.now() + timedelta(hours=1))
    expired = make_ack_token(ACK_SECRET, incident.id, sim_clock.now() - timedelta(hours=1))
    yield actions.handle("GET", f"/ack/{token}", {}, b"")
    yield actions.handle("HEAD", f"/ack/{token}", {}, b"")
    yield actions.handle("POST", f"/ack/{token}", {}, b"")
    yield actions.handle("POST", f"/ack/{token}", {}, b"")  # already used
    yield actions.handle("GET", f"/ack/{expired}", {}, b"")
    yield actions.handle("GET", "/ack/forged.token", {}, b"")
    unconfigured = Actions(CONFIG, store, secrets=StaticSecrets(), clock=sim_clock, environ={})
    yield unconfigured.handle("GET", f"/ack/{token}", {}, b"")


def test_every_html_page_forbids_framing_sniffing_and_leaking_the_token(actions, store, sim_clock):
    """GIVEN the ack link pages WHEN any of them is served THEN it carries a CSP with
    frame-ancestors 'none', X-Frame-Options DENY, nosniff and no-referrer (the URL holds the token)."""
    pages = list(html_pages(actions, store, sim_clock))
    assert [p.status for p in pages] == [200, 200, 200, 403, 403, 401, 503]
    for page in pages:
        assert page.headers["Content-Type"].startswith("text/html")
        for name, value in PROTECTIONS.items():
            assert page.headers.get(name) == value, (page.status, name)
        policy = csp(page)
        assert policy["default-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]


def test_the_confirmation_page_still_renders_and_posts_under_its_policy(actions, store, sim_clock):
    """GIVEN the confirmation page and its Content-Security-Policy WHEN a browser enforces it THEN
    everything the page uses is allowed: inline style attributes only (no script, no external
    resource, no <style> element) and a form posting to its own origin."""
    incident = open_incident(store)
    token = make_ack_token(ACK_SECRET, incident.id, sim_clock.now() + timedelta(hours=1))
    page = actions.handle("GET", f"/ack/{token}", {}, b"")
    policy = csp(page)
    assert "style=" in page.body and policy["style-src"] == ["'unsafe-inline'"]
    assert not re.search(r"<(script|style|link|img|iframe|object)\b", page.body)
    assert not re.search(r"\b(src|href)=", page.body)
    (action,) = re.findall(r'<form method="post" action="([^"]+)"', page.body)
    assert action.startswith("/ack/") and policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'none'"]  # a relative form action cannot be re-pointed


def test_every_other_answer_says_nosniff(actions):
    """GIVEN any non-HTML answer (JSON, text, 404, 405) WHEN served THEN it says nosniff too."""
    for method, path in (("GET", "/nope"), ("GET", "/pagerduty"), ("POST", "/pagerduty")):
        response = actions.handle(method, path, {}, b"{}")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
