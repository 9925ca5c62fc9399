"""The Teams channel: an Adaptive Card 1.5 in the Workflows envelope, checked against the vendored
schema; colour by severity, the acknowledge link, escaped alarm text, bounded size."""

from __future__ import annotations

import json

import pytest
from channel_kit import EVENTS, alarm, note, rendered
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import Channel
from uptime_relay.domain.alert import AlertState
from uptime_relay.notifiers.base import DeliveryError, NotificationKind
from uptime_relay.notifiers.teams import TeamsNotifier
from uptime_relay_tools.testing import wire
from uptime_relay_tools.testing.receivers import HttpReceiver, Recorded, Reply

ACK = "https://actions.example.com/ack/tok3n"
SECRETS = StaticSecrets({"ssm:/uptime/teams": "placeholder"})


def card_of(notification) -> dict:
    return TeamsNotifier().card(notification)


def as_record(body: dict) -> Recorded:
    return Recorded("POST", "/teams", {}, json.dumps(body).encode(), 0.0)


def test_a_page_reaches_the_workflows_receiver_as_a_valid_adaptive_card_1_5():
    """GIVEN a Workflows webhook WHEN a page is sent THEN the request is the message envelope with
    one Adaptive Card that the 1.5 schema accepts, and nothing is refused."""
    problems: list[str] = []
    with HttpReceiver(wire.responder({"/workflows": wire.teams_problems}, problems)) as r:
        url = f"{r.url}/workflows/abc/triggers/manual/paths/invoke?sig=s3cret"
        secrets = StaticSecrets({"ssm:/uptime/teams": url})
        delivery = TeamsNotifier().send(
            Channel("teams", "teams", {"webhook_url": "ssm:/uptime/teams"}), note(ack_url=ACK), secrets
        )
    assert delivery.status == 202 and problems == []
    body = r.requests[0].json()
    assert body["type"] == "message"
    assert body["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"


@pytest.mark.parametrize("event", EVENTS, ids=lambda p: p.name)
def test_every_sample_event_renders_a_card_the_schema_accepts(capsys, event):
    code, bodies, err = rendered(capsys, "teams", event)
    assert code == 0
    assert bodies or "nothing to send" in err
    for body in bodies:
        assert wire.teams_problems(as_record(body)) == []


@pytest.mark.parametrize(
    ("severity", "style"),
    [("critical", "attention"), ("p2", "attention"), ("warning", "warning"), ("low", "accent")],
)
def test_the_card_is_coloured_by_the_severity_tier(severity, style):
    card = card_of(note(alerts=[alarm(labels={"severity": severity})]))
    assert card["body"][0]["style"] == style


def test_resolved_is_green_and_acknowledged_is_grey():
    assert card_of(note(NotificationKind.RESOLVE, [alarm(state=AlertState.OK)]))["body"][0]["style"] == "good"
    assert (
        card_of(note(NotificationKind.ACKNOWLEDGE, acknowledged_by="alice"))["body"][0]["style"] == "emphasis"
    )


def test_a_page_has_an_acknowledge_button_opening_the_signed_link_and_a_resolve_has_none():
    page = card_of(note(ack_url=ACK))
    assert page["actions"][0] == {
        "type": "Action.OpenUrl",
        "title": "Acknowledge",
        "url": ACK,
        "style": "positive",
    }
    resolved = card_of(note(NotificationKind.RESOLVE, [alarm(state=AlertState.OK)], ack_url=ACK))
    assert all(a["title"] != "Acknowledge" for a in resolved.get("actions", []))


def test_the_card_states_the_facts_of_the_slack_message():
    facts = {f["title"]: f["value"] for f in card_of(note())["body"][1]["facts"]}
    assert facts["Check"] == "api"
    assert facts["State"] == "FIRING (critical)"
    assert facts["Reason"] == "2 of the last 3 probes failed"
    assert facts["Incident"] == "inc-0123456789abcdef0123"


def test_alarm_text_cannot_forge_a_link_or_markup():
    card = card_of(note(alerts=[alarm(reason="[click](https://evil.example) **now** <b>")]))
    reason = {f["title"]: f["value"] for f in card["body"][1]["facts"]}["Reason"]
    assert reason == r"\[click\](https://evil.example) \*\*now\*\* \<b\>"


def test_a_big_group_stays_under_the_28_kb_teams_limit_and_valid():
    alerts = [alarm(name=f"a{i}", id=f"id-{i}", reason="x" * 5000, description="d" * 5000) for i in range(40)]
    body = TeamsNotifier().message(note(alerts=alerts))
    assert len(json.dumps(body).encode()) < 28 * 1024
    assert wire.teams_problems(as_record(body)) == []


def test_a_throttled_workflow_is_retried_later_and_the_url_is_not_in_the_error():
    with HttpReceiver(Reply(429, "", {"Retry-After": "3"})) as r:
        secrets = StaticSecrets({"ssm:/uptime/teams": f"{r.url}/workflows/x?sig=s3cret"})
        with pytest.raises(DeliveryError) as failed:
            TeamsNotifier().send(
                Channel("teams", "teams", {"webhook_url": "ssm:/uptime/teams"}), note(), secrets
            )
    assert not failed.value.permanent and failed.value.retry_after == 3
    assert "s3cret" not in str(failed.value)


def test_the_local_stack_console_shows_a_card_as_plain_lines():
    """GIVEN a Teams channel with no real destination on the local stack WHEN a card is printed
    THEN its title, facts and buttons read as text, without the Markdown escapes."""
    from uptime_relay_tools.local.channels import render_payload

    body = TeamsNotifier().message(note(alerts=[alarm(reason="HTTP 503 *down*")], ack_url=ACK))
    text = render_payload(Channel("teams", "teams", {}), body)
    assert "[FIRING] uptime-api-availability" in text
    assert "Reason: HTTP 503 *down*" in text
    assert "[Acknowledge]" in text
