"""The Opsgenie channel: Alert API v2 create / acknowledge / close against a receiver that checks
the documented request schema, priorities from the severity tier, and Opsgenie's own
acknowledge / close coming back through the actions URL's webhook."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from channel_kit import EVENTS, alarm, note, rendered
from test_actions_support import SIM_START, FixedClock, make_store, open_incident
from uptime_relay.actions import Actions
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import Channel
from uptime_relay.config.loader import parse_config
from uptime_relay.config.model import ConfigError
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import AlertState
from uptime_relay.domain.incident import TimelineEntry
from uptime_relay.followups import ChangeNotifier
from uptime_relay.notifiers.base import NotificationKind
from uptime_relay.notifiers.opsgenie import OpsgenieNotifier, alias, priority
from uptime_relay.notifiers.registry import make_notifiers
from uptime_relay.security import make_ack_token
from uptime_relay_tools.testing import wire
from uptime_relay_tools.testing.receivers import HttpReceiver, Recorded

API_KEY = "0a1b2c3d-0000-4000-8000-genie0000001"
TOKEN = "og-webhook-t0ken"
ACK_SECRET = "ack-secret"


@pytest.fixture
def genie():
    problems: list[str] = []
    with HttpReceiver(wire.responder({"/v2/alerts": wire.opsgenie_problems}, problems)) as r:
        r.problems = problems
        yield r


def channel(receiver: HttpReceiver, **options) -> Channel:
    return Channel("genie", "opsgenie", {"api_key": "env:OG_KEY", "api_url": receiver.url, **options})


SECRETS = StaticSecrets({"env:OG_KEY": API_KEY, "env:OG_TOKEN": TOKEN, "env:ACK": ACK_SECRET})


# ------------------------------------------------------------------------------------ the API
def test_a_page_creates_an_alert_with_the_alias_priority_and_responders_the_api_accepts(genie):
    """GIVEN an opsgenie channel with responders WHEN a page is sent THEN one Create Alert request,
    valid under the Alert API v2 schema, with GenieKey auth, alias, P1 and the responders."""
    ch = channel(genie, responders=({"type": "team", "name": "Platform"},))
    delivery = OpsgenieNotifier().send(ch, note(), SECRETS)
    assert genie.problems == []
    (request,) = genie.requests
    assert request.path == "/v2/alerts" and request.headers["Authorization"] == f"GenieKey {API_KEY}"
    body = request.json()
    assert body["alias"] == alias(alarm()) == delivery.handles["alias"]
    assert body["priority"] == "P1" and body["responders"] == [{"type": "team", "name": "Platform"}]
    assert len(body["message"]) <= 130 and body["details"]["incident_id"] == "inc-0123456789abcdef0123"
    assert delivery.handles["request_id"] == "local-request"


def test_acknowledge_and_resolve_act_on_the_same_alert_by_alias(genie):
    notifier = OpsgenieNotifier()
    notifier.send(channel(genie), note(), SECRETS)
    notifier.send(channel(genie), note(NotificationKind.ACKNOWLEDGE, acknowledged_by="alice"), SECRETS)
    notifier.send(channel(genie), note(NotificationKind.RESOLVE, [alarm(state=AlertState.OK)]), SECRETS)
    assert genie.problems == []
    quoted = alias(alarm()).replace(":", "%3A")
    assert [r.path for r in genie.requests] == [
        "/v2/alerts",
        f"/v2/alerts/{quoted}/acknowledge?identifierType=alias",
        f"/v2/alerts/{quoted}/close?identifierType=alias",
    ]
    assert genie.requests[1].json()["user"] == "alice"


def test_a_no_data_warning_sends_nothing(genie):
    delivery = OpsgenieNotifier().send(channel(genie), note(NotificationKind.WARNING), SECRETS)
    assert genie.requests == [] and delivery.status is None


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("critical", "P1"),
        ("sev0", "P1"),
        ("p1", "P1"),
        ("error", "P2"),
        ("high", "P2"),
        ("p2", "P2"),
        ("warning", "P3"),
        ("sev3", "P3"),
        ("info", "P4"),
        ("low", "P4"),
        ("p4", "P4"),
        ("p5", "P5"),
    ],
)
def test_the_priority_follows_the_severity_tier(label, expected):
    assert priority(alarm(labels={"severity": label})) == expected


def test_without_a_severity_label_a_firing_alarm_is_p1():
    assert priority(alarm(labels={})) == "P1"


def test_the_default_api_is_the_us_one_and_an_eu_account_names_its_own():
    assert OpsgenieNotifier().requests(Channel("g", "opsgenie", {}), note())[0][0] == "/v2/alerts"
    config = parse_config(
        "channels:\n  g: {type: opsgenie, api_key: env:K, api_url: https://api.eu.opsgenie.com}\n"
    )
    assert config.channels["g"].get("api_url") == "https://api.eu.opsgenie.com"


@pytest.mark.parametrize("event", EVENTS, ids=lambda p: p.name)
def test_every_sample_event_renders_requests_the_api_accepts(capsys, event):
    code, bodies, err = rendered(capsys, "opsgenie", event)
    assert code == 0 and (bodies or "nothing to send" in err)
    for body in bodies:
        definition = "create" if "message" in body else "action"
        assert wire.schema_problems(body, "opsgenie-alert-api-v2.json", definition) == []


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ("api_url: https://api.eu.opsgenie.com", "missing required key 'api_key'"),
        ("api_key: env:K, responders: [squad:x]", "TYPE one of team, user, escalation, schedule"),
        ("api_key: env:K, responders: [{type: user, name: bob}]", "expected TYPE:NAME"),
    ],
)
def test_bad_opsgenie_options_are_refused_with_their_line(options, reason):
    with pytest.raises(ConfigError) as refused:
        parse_config(f"channels:\n  g: {{type: opsgenie, {options}}}\n")
    assert reason in str(refused.value) and ":2" in str(refused.value)


# ------------------------------------------------------------------------------------ webhook
CONFIG = parse_config(
    """
channels:
  genie: {type: opsgenie, api_key: env:OG_KEY, api_url: "http://127.0.0.1:9", webhook_token: env:OG_TOKEN}
  oncall-email: {type: email, to: [oncall@example.com], from: alerts@example.com}
routes:
  - notify: [genie, oncall-email]
""",
    "test.yaml",
)


def opsgenie_call(action: str, alert_alias: str, *, user: str = "bob@example.com") -> bytes:
    """An Opsgenie outgoing-webhook body, as its integration sends it."""
    return json.dumps(
        {
            "action": action,
            "alert": {"alertId": "44f717bf", "message": "m", "alias": alert_alias, "username": user},
            "source": {"name": "web", "type": "web"},
        }
    ).encode()


def actions_with(store, config=CONFIG, notifiers=None, genie_url=None):
    if genie_url is not None:
        channels = dict(config.channels)
        genie_channel = channels["genie"]
        channels["genie"] = Channel("genie", "opsgenie", {**genie_channel.options, "api_url": genie_url})
        from dataclasses import replace

        config = replace(config, channels=channels)
    dispatcher = Dispatcher(
        config,
        notifiers or make_notifiers(),
        SECRETS,
        InMemoryDeadLetters(),
        max_attempts=1,
        sleep=lambda s: None,
    )
    return Actions(
        config,
        store,
        secrets=SECRETS,
        clock=FixedClock(SIM_START + timedelta(minutes=3)),
        ack_secret_ref="env:ACK",
        on_change=ChangeNotifier(config, dispatcher, store),
        environ={},
    )


def paged(store):
    incident = open_incident(store)
    store.set_handles(incident.id, "genie", {"alias": alias(incident.alert)})
    store.append_timeline(incident.id, TimelineEntry(SIM_START, "notified", "trigger sent", "genie"))
    return store.get(incident.id)


def test_an_opsgenie_acknowledgement_stops_our_escalation_and_is_not_sent_back(genie):
    """GIVEN an incident paged to Opsgenie WHEN Opsgenie's webhook says Acknowledge THEN ours is
    acknowledged by that user, its escalation stops, and Opsgenie is not told again."""
    store = make_store()
    incident = paged(store)
    actions = actions_with(store, genie_url=genie.url)
    body = opsgenie_call("Acknowledge", alias(incident.alert))
    response = actions.handle("POST", "/opsgenie", {"X-Uptime-Relay-Token": TOKEN}, body)
    assert response.status == 200 and json.loads(response.body)["result"] == "changed"
    after = store.get(incident.id)
    assert after.status == "acknowledged" and after.acknowledged_by == "bob@example.com"
    assert after.due_at is None
    assert genie.requests == []


def test_an_opsgenie_close_resolves_ours(genie):
    store = make_store()
    incident = paged(store)
    body = opsgenie_call("Close", alias(incident.alert))
    response = actions_with(store, genie_url=genie.url).handle(
        "POST", "/opsgenie", {"x-uptime-relay-token": TOKEN}, body
    )
    assert response.status == 200
    assert store.get(incident.id).status == "resolved"


def test_an_ack_in_uptime_relay_is_mirrored_to_opsgenie_by_alias(genie):
    """GIVEN an incident paged to Opsgenie WHEN someone acknowledges from the e-mail link THEN
    Opsgenie gets Acknowledge Alert for the same alias (schema-checked)."""
    store = make_store()
    incident = paged(store)
    actions = actions_with(store, genie_url=genie.url)
    token = make_ack_token(ACK_SECRET, incident.id, SIM_START + timedelta(hours=1))
    assert actions.handle("POST", f"/ack/{token}", {}, b"").status == 200
    assert genie.problems == []
    (request,) = genie.requests
    assert request.path.endswith("/acknowledge?identifierType=alias")
    assert alias(incident.alert).replace(":", "%3A") in request.path


@pytest.mark.parametrize("headers", [{}, {"X-Uptime-Relay-Token": "wrong"}, {"X-Uptime-Relay-Token": ""}])
def test_a_webhook_without_the_right_token_is_refused_and_changes_nothing(headers):
    store = make_store()
    incident = paged(store)
    response = actions_with(store).handle(
        "POST", "/opsgenie", headers, opsgenie_call("Close", alias(incident.alert))
    )
    assert response.status == 401
    assert store.get(incident.id).status == "open"


def test_without_a_webhook_token_configured_every_call_is_refused():
    config = parse_config("channels:\n  genie: {type: opsgenie, api_key: env:OG_KEY}\n")
    store = make_store()
    response = actions_with(store, config=config).handle(
        "POST", "/opsgenie", {"X-Uptime-Relay-Token": TOKEN}, opsgenie_call("Close", "x")
    )
    assert response.status == 401


def test_other_actions_and_unknown_aliases_change_nothing_and_answer_200():
    store = make_store()
    incident = paged(store)
    actions = actions_with(store)
    headers = {"X-Uptime-Relay-Token": TOKEN}
    noted = actions.handle("POST", "/opsgenie", headers, opsgenie_call("AddNote", alias(incident.alert)))
    unknown = actions.handle("POST", "/opsgenie", headers, opsgenie_call("Close", "uptime-relay:unknown"))
    assert json.loads(noted.body)["result"] == "ignored"
    assert json.loads(unknown.body)["result"] == "no matching incident"
    assert store.get(incident.id).status == "open"


def test_a_malformed_webhook_body_answers_400_naming_the_field():
    store = make_store()
    body = json.dumps({"action": "Close", "alert": {"alias": 5}}).encode()
    response = actions_with(store).handle("POST", "/opsgenie", {"X-Uptime-Relay-Token": TOKEN}, body)
    assert response.status == 400 and "body.alert.alias" in response.body


def test_the_receiver_refuses_a_create_without_a_message():
    """The receiver's check is the documented schema: a body it would refuse is refused."""
    record = Recorded("POST", "/v2/alerts", {"Authorization": "GenieKey k"}, b'{"alias": "x"}', 0.0)
    assert any("message" in p for p in wire.opsgenie_problems(record))
