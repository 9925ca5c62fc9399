"""Slack channel: Block Kit messages, webhook and bot-token sending, follow-ups, failure classes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import Channel, Check
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.notifiers.base import DeliveryError, Notification, NotificationKind
from uptime_relay.notifiers.slack import SlackNotifier
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply

EVENTS = Path(__file__).resolve().parents[2] / "events"
T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
WEBHOOK_REF = "ssm:/uptime/slack-critical"
TOKEN_REF = "secretsmanager:uptime/slack-bot"
TOKEN = "xoxb-1111-2222-SECRETTOKEN"


def alarm(name="uptime-api-availability", reason="2 of the last 3 probes failed", **kw) -> Alert:
    defaults = dict(
        source=AlertSource.CLOUDWATCH,
        id=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}",
        name=name,
        state=AlertState.ALARM,
        reason=reason,
        time=T0,
        labels={"alarm": name, "check": "api", "severity": "critical"},
        region="us-east-1",
        account="123456789012",
    )
    defaults.update(kw)
    return Alert(**defaults)


def note(kind=NotificationKind.TRIGGER, alerts=None, **kw) -> Notification:
    kw.setdefault("incident_id", "inc-42")
    kw.setdefault("opened_at", T0)
    return Notification(kind=kind, alerts=tuple(alerts or [alarm()]), **kw)


def webhook_channel(receiver: HttpReceiver, **options) -> tuple[Channel, StaticSecrets, str]:
    secret_url = f"{receiver.url}/services/T0/B0/WEBHOOKSECRET"
    return (
        Channel("slack-critical", "slack", {"webhook_url": WEBHOOK_REF, **options}),
        StaticSecrets({WEBHOOK_REF: secret_url}),
        secret_url,
    )


def bot_channel(receiver: HttpReceiver, **options) -> tuple[Channel, StaticSecrets]:
    opts = {"bot_token": TOKEN_REF, "channel": "#alerts", "api_url": f"{receiver.url}/api", **options}
    return Channel("slack-bot", "slack", opts), StaticSecrets({TOKEN_REF: TOKEN})


def blocks_of(payload: dict) -> list[dict]:
    return payload["blocks"]


def assert_within_block_kit_limits(payload: dict) -> None:
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            if "text" in block:
                assert 0 < len(block["text"]["text"]) <= 3000
            fields = block.get("fields", [])
            assert len(fields) <= 10
            assert all(0 < len(f["text"]) <= 2000 for f in fields)
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
        if block["type"] == "actions":
            for button in block["elements"]:
                assert len(button["text"]["text"]) <= 75
                assert len(button["value"]) <= 2000
    assert len(payload["text"]) <= 3000


def buttons(payload: dict) -> dict[str, str]:
    return {
        element["action_id"]: element["value"]
        for block in payload["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    }


def mrkdwn_texts(payload: dict) -> list[str]:
    """Every string Slack parses for mentions and links."""
    found = [payload["text"], *(a.get("text", "") for a in payload.get("attachments", []))]

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload["blocks"])
    return found


def all_text(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False)


# ------------------------------------------------------------------------------- rendering
def test_a_trigger_is_one_message_with_check_state_reason_since_and_ack_resolve_buttons():
    channel = Channel("s", "slack", {"webhook_url": WEBHOOK_REF})
    check = Check(name="api", url="https://api.example.com/health", runbook="https://wiki.example.com/rb/api")

    [payload] = SlackNotifier().build_payloads(channel, note(check=check))

    text = all_text(payload)
    assert blocks_of(payload)[0]["type"] == "header"
    assert "[FIRING] uptime-api-availability" in blocks_of(payload)[0]["text"]["text"]
    fields = next(b["fields"] for b in blocks_of(payload) if "fields" in b)
    labels = [f["text"].split("\n")[0] for f in fields]
    assert labels[:4] == ["*Check*", "*State*", "*Reason*", "*Since*"]
    assert "2 of the last 3 probes failed" in text
    assert "2026-11-20 10:15:30 UTC" in text
    assert "<https://wiki.example.com/rb/api|Runbook>" in text
    assert (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#alarmsV2:alarm/uptime-api-availability" in text
    )
    assert buttons(payload) == {"ack": "inc-42", "resolve": "inc-42"}
    assert payload["attachments"][0]["color"] == "#D0021B"
    assert_within_block_kit_limits(payload)


def test_buttons_only_appear_while_there_is_something_to_acknowledge():
    channel = Channel("s", "slack", {"webhook_url": WEBHOOK_REF})
    slack = SlackNotifier()

    [resolved] = slack.build_payloads(channel, note(NotificationKind.RESOLVE, [alarm(state=AlertState.OK)]))
    [acked] = slack.build_payloads(channel, note(NotificationKind.ACKNOWLEDGE, acknowledged_by="alice"))
    [no_incident] = slack.build_payloads(channel, note(incident_id=None))
    [warning] = slack.build_payloads(
        channel, note(NotificationKind.WARNING, [alarm(state=AlertState.INSUFFICIENT_DATA)])
    )

    assert buttons(resolved) == {} and buttons(no_incident) == {}
    assert buttons(acked) == {"resolve": "inc-42"}  # acknowledged: only Resolve is left
    assert buttons(warning) == {"ack": "inc-42", "resolve": "inc-42"}
    assert resolved["attachments"][0]["color"] == "#2EB67D"
    assert "alice" in all_text(acked)


def test_a_huge_multibyte_alarm_still_fits_every_block_kit_limit():
    huge = "ünïcødé-🚨-" * 2000
    alert = alarm(
        name=huge,
        reason=huge,
        description=huge,
        labels={"check": huge, "severity": "critical"},
        region="us-east-1",
    )
    channel = Channel("s", "slack", {"webhook_url": WEBHOOK_REF, "mention": "@here"})

    [payload] = SlackNotifier().build_payloads(
        channel, note(alerts=[alert], incident_id="inc-" + "9" * 3000, mentions=("U0123ABCD",) * 3)
    )

    assert_within_block_kit_limits(payload)
    header = blocks_of(payload)[0]["text"]["text"]
    assert header.endswith("…")
    header.encode("utf-8")  # no broken surrogate or split character


def test_an_alertmanager_group_is_one_message_listing_its_alerts_capped_with_and_n_more():
    alerts = [
        alarm(
            source=AlertSource.ALERTMANAGER,
            id=f"fp{i:04d}",
            name="HighErrorRate",
            reason=f"errors on api-{i}",
            labels={"alertname": "HighErrorRate", "instance": f"api-{i}:3001", "severity": "warning"},
            region=None,
            account=None,
        )
        for i in range(25)
    ]
    channel = Channel("s", "slack", {"webhook_url": WEBHOOK_REF})

    payloads = SlackNotifier().build_payloads(channel, note(alerts=alerts))

    assert len(payloads) == 1
    listing = next(
        b["text"]["text"] for b in payloads[0]["blocks"] if "Alerts (25)" in b.get("text", {}).get("text", "")
    )
    assert "api-0:3001" in listing and "api-9:3001" in listing and "api-10:3001" not in listing
    assert listing.endswith("and 15 more")
    assert "[FIRING:25] HighErrorRate" in payloads[0]["blocks"][0]["text"]["text"]
    assert payloads[0]["attachments"][0]["color"] == "#F2C744"  # warning severity
    assert_within_block_kit_limits(payloads[0])


def test_alarm_text_cannot_ping_everyone_or_forge_a_link():
    alert = alarm(reason="<!channel> disk full <https://evil.example|click me> & more", name="db<!here>")
    channel = Channel("s", "slack", {"webhook_url": WEBHOOK_REF})

    [payload] = SlackNotifier().build_payloads(channel, note(alerts=[alert]))

    text = "\n".join(mrkdwn_texts(payload))
    assert "<!channel>" not in text and "<!here>" not in text and "<https://evil" not in text
    assert payload["blocks"][0]["text"]["type"] == "plain_text"  # headers never parse mentions
    assert "&lt;!channel&gt; disk full &lt;https://evil.example|click me&gt; &amp; more" in text


def test_on_call_mentions_and_the_channel_mention_option_ping_people():
    channel = Channel("s", "slack", {"webhook_url": WEBHOOK_REF, "mention": "@here"})

    [payload] = SlackNotifier().build_payloads(channel, note(mentions=("U0ONCALL1", "S0TEAM01", "U0ONCALL1")))
    [resolved] = SlackNotifier().build_payloads(
        channel, note(NotificationKind.RESOLVE, [alarm(state=AlertState.OK)], mentions=("U0ONCALL1",))
    )

    assert payload["text"].startswith("<@U0ONCALL1> <!subteam^S0TEAM01> <!here>")
    assert "<@U0ONCALL1>" not in all_text(resolved)  # nobody is woken up for good news


def test_it_renders_the_sample_alertmanager_event_with_its_runbook_and_source_link():
    from uptime_relay.intake import parse_event

    alerts = parse_event((EVENTS / "alertmanager-webhook-firing.json").read_text())
    channel = Channel("s", "slack", {"webhook_url": WEBHOOK_REF})

    [payload] = SlackNotifier().build_payloads(channel, note(alerts=alerts))

    text = all_text(payload)
    assert "https://wiki.example.com/runbooks/high-error-rate|Runbook" in text
    assert "http://prometheus.example.com:9090/graph?g0.expr=...|Source" in text
    assert_within_block_kit_limits(payload)


# ------------------------------------------------------------------------------- webhook sending
def test_webhook_send_posts_the_rendered_message_and_keeps_the_url_secret():
    with HttpReceiver() as receiver:
        channel, secrets, _ = webhook_channel(receiver)
        slack = SlackNotifier()

        delivery = slack.send(channel, note(), secrets)

        [request] = receiver.to("/services/T0/B0/WEBHOOKSECRET")
        assert request.json() == slack.build_payloads(channel, note())[0]
        assert delivery.handles == {} and delivery.status == 200
        assert "WEBHOOKSECRET" not in all_text(slack.build_payloads(channel, note()))


def test_webhook_resolve_posts_a_new_message_because_webhooks_cannot_edit():
    with HttpReceiver() as receiver:
        channel, secrets, _ = webhook_channel(receiver)

        SlackNotifier().send(
            channel,
            note(NotificationKind.RESOLVE, [alarm(state=AlertState.OK, time=T0 + timedelta(minutes=9))]),
            secrets,
        )

        [request] = receiver.requests
        assert "[RESOLVED] uptime-api-availability" in request.json()["blocks"][0]["text"]["text"]
        assert "lasted 9m" in request.text


def test_a_429_with_retry_after_seconds_is_transient_and_says_when_to_retry():
    with HttpReceiver() as receiver:
        channel, secrets, _ = webhook_channel(receiver)
        receiver.script("/services/T0/B0/WEBHOOKSECRET", Reply(429, "rate_limited", {"Retry-After": "7"}))

        with pytest.raises(DeliveryError) as caught:
            SlackNotifier().send(channel, note(), secrets)

        assert caught.value.permanent is False
        assert caught.value.retry_after == 7.0
        assert caught.value.status == 429


def test_a_429_with_an_http_date_retry_after_is_converted_to_seconds():
    from email.utils import format_datetime

    from uptime_relay import clock

    with HttpReceiver() as receiver:
        channel, secrets, _ = webhook_channel(receiver)
        later = format_datetime(clock.now() + timedelta(seconds=120), usegmt=True)
        receiver.script("/services/T0/B0/WEBHOOKSECRET", Reply(429, "", {"Retry-After": later}))

        with pytest.raises(DeliveryError) as caught:
            SlackNotifier().send(channel, note(), secrets)

        assert caught.value.permanent is False
        assert 100 < caught.value.retry_after <= 120


@pytest.mark.parametrize(
    ("status", "body"),
    [(400, "invalid_payload"), (403, "invalid_token"), (404, "no_service"), (410, "channel_is_archived")],
)
def test_webhook_answers_that_retrying_cannot_fix_are_permanent(status, body):
    with HttpReceiver() as receiver:
        channel, secrets, _ = webhook_channel(receiver)
        receiver.script("/services/T0/B0/WEBHOOKSECRET", Reply(status, body))

        with pytest.raises(DeliveryError) as caught:
            SlackNotifier().send(channel, note(), secrets)

        assert caught.value.permanent is True and caught.value.status == status
        assert body in str(caught.value)


def test_server_errors_timeouts_and_refused_connections_are_transient():
    with HttpReceiver() as receiver:
        channel, secrets, _ = webhook_channel(receiver)
        receiver.script(
            "/services/T0/B0/WEBHOOKSECRET", Reply(503, "rollup_error"), Reply(200, "ok", delay=1.0)
        )

        with pytest.raises(DeliveryError) as server_error:
            SlackNotifier().send(channel, note(), secrets)
        with pytest.raises(DeliveryError) as timed_out:
            SlackNotifier(timeout_s=0.2).send(channel, note(), secrets)
        port = receiver.port
    refused_secrets = StaticSecrets({WEBHOOK_REF: f"http://127.0.0.1:{port}/services/T0/B0/WEBHOOKSECRET"})
    with pytest.raises(DeliveryError) as refused:
        SlackNotifier().send(channel, note(), refused_secrets)

    for caught in (server_error, timed_out, refused):
        assert caught.value.permanent is False
        assert "WEBHOOKSECRET" not in str(caught.value)
    assert "timed out" in str(timed_out.value)
    assert "connection failed" in str(refused.value)


def test_the_webhook_url_never_appears_in_an_error_even_when_the_server_echoes_it():
    with HttpReceiver() as receiver:
        channel, secrets, secret_url = webhook_channel(receiver)
        receiver.script("/services/T0/B0/WEBHOOKSECRET", Reply(404, f"no_service for {secret_url}"))

        with pytest.raises(DeliveryError) as caught:
            SlackNotifier().send(channel, note(), secrets)

        assert "WEBHOOKSECRET" not in str(caught.value)
        assert "127.0.0.1" in str(caught.value)


# ------------------------------------------------------------------------------- bot token
def test_bot_mode_posts_with_the_token_and_returns_channel_and_ts_handles():
    with HttpReceiver() as receiver:
        channel, secrets = bot_channel(receiver)
        receiver.script(
            "/api/chat.postMessage",
            Reply(200, {"ok": True, "channel": "C0ALERTS", "ts": "1700000000.000100"}),
        )
        slack = SlackNotifier()

        delivery = slack.send(channel, note(), secrets)

        [request] = receiver.to("/api/chat.postMessage")
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.json()["channel"] == "#alerts"
        assert TOKEN not in request.text
        assert TOKEN not in all_text(slack.build_payloads(channel, note()))
        assert delivery.handles == {"channel": "C0ALERTS", "ts": "1700000000.000100"}


def test_bot_mode_resolve_updates_the_original_message_and_replies_in_its_thread():
    with HttpReceiver(Reply(200, {"ok": True, "channel": "C0ALERTS", "ts": "1700000099.000200"})) as receiver:
        channel, secrets = bot_channel(receiver)
        handles = {"channel": "C0ALERTS", "ts": "1700000000.000100"}
        resolved = note(
            NotificationKind.RESOLVE,
            [alarm(state=AlertState.OK, time=T0 + timedelta(minutes=12))],
            handles=handles,
        )

        delivery = SlackNotifier().send(channel, resolved, secrets)

        [update] = receiver.to("/api/chat.update")
        [reply] = receiver.to("/api/chat.postMessage")
        assert update.json()["channel"] == "C0ALERTS" and update.json()["ts"] == "1700000000.000100"
        assert "[RESOLVED]" in update.json()["blocks"][0]["text"]["text"]
        assert buttons(update.json()) == {}
        assert update.json()["attachments"][0]["color"] == "#2EB67D"
        assert reply.json()["thread_ts"] == "1700000000.000100"
        assert "Resolved" in reply.json()["text"]
        assert delivery.handles == handles  # later follow-ups still edit the original


def test_bot_mode_acknowledge_marks_the_original_as_acknowledged_and_leaves_only_resolve():
    with HttpReceiver(Reply(200, {"ok": True, "channel": "C0ALERTS", "ts": "2.0"})) as receiver:
        channel, secrets = bot_channel(receiver)
        acked = note(
            NotificationKind.ACKNOWLEDGE,
            acknowledged_by="alice",
            handles={"channel": "C0ALERTS", "ts": "1.0"},
        )

        SlackNotifier().send(channel, acked, secrets)

        [update] = receiver.to("/api/chat.update")
        [reply] = receiver.to("/api/chat.postMessage")
        assert "[ACKNOWLEDGED]" in update.json()["blocks"][0]["text"]["text"]
        assert buttons(update.json()) == {"resolve": "inc-42"}
        assert "Acknowledged by alice" in reply.json()["text"]


def test_a_vanished_original_message_still_gets_the_thread_reply():
    with HttpReceiver(Reply(200, {"ok": True, "channel": "C0ALERTS", "ts": "2.0"})) as receiver:
        channel, secrets = bot_channel(receiver)
        receiver.script("/api/chat.update", Reply(200, {"ok": False, "error": "message_not_found"}))

        SlackNotifier().send(
            channel,
            note(
                NotificationKind.RESOLVE,
                [alarm(state=AlertState.OK)],
                handles={"channel": "C0ALERTS", "ts": "1.0"},
            ),
            secrets,
        )

        assert len(receiver.to("/api/chat.postMessage")) == 1


@pytest.mark.parametrize("error", ["invalid_auth", "channel_not_found", "not_in_channel"])
def test_web_api_errors_that_retrying_cannot_fix_are_permanent(error):
    with HttpReceiver() as receiver:
        channel, secrets = bot_channel(receiver)
        receiver.script("/api/chat.postMessage", Reply(200, {"ok": False, "error": error}))

        with pytest.raises(DeliveryError) as caught:
            SlackNotifier().send(channel, note(), secrets)

        assert caught.value.permanent is True
        assert error in str(caught.value)
        assert TOKEN not in str(caught.value)


def test_web_api_rate_limits_are_transient_with_the_advised_wait():
    with HttpReceiver() as receiver:
        channel, secrets = bot_channel(receiver)
        receiver.script(
            "/api/chat.postMessage",
            Reply(200, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"}),
            Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"}),
        )

        with pytest.raises(DeliveryError) as soft:
            SlackNotifier().send(channel, note(), secrets)
        with pytest.raises(DeliveryError) as hard:
            SlackNotifier().send(channel, note(), secrets)

        assert (soft.value.permanent, soft.value.retry_after) == (False, 3.0)
        assert (hard.value.permanent, hard.value.retry_after) == (False, 30.0)


def test_an_escalation_with_handles_is_broadcast_in_the_original_thread():
    with HttpReceiver(Reply(200, {"ok": True, "channel": "C0ALERTS", "ts": "3.0"})) as receiver:
        channel, secrets = bot_channel(receiver)
        escalated = note(
            NotificationKind.ESCALATION, escalation_step=1, handles={"channel": "C0ALERTS", "ts": "1.0"}
        )

        delivery = SlackNotifier().send(channel, escalated, secrets)

        [post] = receiver.to("/api/chat.postMessage")
        assert post.json()["thread_ts"] == "1.0" and post.json()["reply_broadcast"] is True
        assert buttons(post.json()) == {"ack": "inc-42", "resolve": "inc-42"}
        assert delivery.handles == {"channel": "C0ALERTS", "ts": "1.0"}


def test_a_resolve_by_hand_says_who_resolved_it_instead_of_repeating_the_alarm_reason():
    with HttpReceiver(Reply(200, {"ok": True, "channel": "C0ALERTS", "ts": "2.0"})) as receiver:
        channel, secrets = bot_channel(receiver)
        by_hand = note(  # the alarm is still in ALARM: someone pressed Resolve
            NotificationKind.RESOLVE, acknowledged_by="bob", handles={"channel": "C0ALERTS", "ts": "1.0"}
        )

        SlackNotifier().send(channel, by_hand, secrets)

        [update] = receiver.to("/api/chat.update")
        [reply] = receiver.to("/api/chat.postMessage")
        assert "*Resolved* by bob." in all_text(update.json())
        assert "Acknowledged by" not in all_text(update.json())
        assert reply.json()["text"] == "✅ Resolved by bob."


def test_unrecognised_input_is_shown_verbatim_in_a_code_block():
    from uptime_relay.intake import parse_event

    alerts = parse_event("Nightly backup failed:\n  <!channel> snapshot quota exceeded ``` & more")
    channel = Channel("s", "slack", {"webhook_url": WEBHOOK_REF})

    [payload] = SlackNotifier().build_payloads(channel, note(alerts=alerts))

    lead = payload["blocks"][1]["text"]["text"]
    assert lead.startswith("```") and lead.endswith("```")
    assert "Nightly backup failed:\n  &lt;!channel&gt; snapshot quota exceeded ''' &amp; more" in lead
    assert_within_block_kit_limits(payload)


def test_a_no_data_warning_does_not_ping_the_whole_channel():
    channel = Channel("s", "slack", {"webhook_url": WEBHOOK_REF, "mention": "@here"})

    [payload] = SlackNotifier().build_payloads(
        channel, note(NotificationKind.WARNING, [alarm(state=AlertState.INSUFFICIENT_DATA)])
    )

    assert "<!here>" not in "\n".join(mrkdwn_texts(payload))
    assert "*No data*" in all_text(payload)


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=4000)


@settings(max_examples=60, deadline=None)
@given(
    name=_text,
    reason=_text,
    description=st.one_of(st.none(), _text),
    labels=st.dictionaries(st.sampled_from(["check", "severity", "instance", "runbook"]), _text),
    count=st.integers(min_value=1, max_value=120),
    kind=st.sampled_from(list(NotificationKind)),
    mentions_=st.lists(st.from_regex(r"U[A-Z0-9]{8}", fullmatch=True), max_size=30),
)
def test_any_alert_content_renders_within_block_kit_limits(
    name, reason, description, labels, count, kind, mentions_
):
    alerts = [
        alarm(name=name, reason=reason, description=description, labels=labels, id=f"id-{i}")
        for i in range(count)
    ]
    channel = Channel("s", "slack", {"bot_token": TOKEN_REF, "channel": "#alerts", "mention": "@here"})
    handles = {"channel": "C0ALERTS", "ts": "1.0"} if kind is NotificationKind.RESOLVE else {}

    for payload in SlackNotifier().build_payloads(
        channel, note(kind, alerts, mentions=tuple(mentions_), acknowledged_by=name[:50], handles=handles)
    ):
        assert_within_block_kit_limits(payload)
        json.dumps(payload).encode("utf-8")
