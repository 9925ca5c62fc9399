"""PagerDuty channel: Events API v2 bodies, dedup keys, what is sent when, failure classes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import Channel, Check
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.notifiers.base import DeliveryError, Notification, NotificationKind
from uptime_relay.notifiers.pagerduty import PagerDutyNotifier, dedup_key
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply

EVENTS = Path(__file__).resolve().parents[2] / "events"
T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
KEY_REF = "secretsmanager:uptime/pd"
ROUTING_KEY = "R0UT1NGKEYSECRET0123456789abcdef"
ACCEPTED = Reply(202, {"status": "success", "message": "Event processed", "dedup_key": "x"})


def alarm(name="uptime-api-availability", **kw) -> Alert:
    defaults = dict(
        source=AlertSource.CLOUDWATCH,
        id=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}",
        name=name,
        state=AlertState.ALARM,
        reason="2 of the last 3 probes failed",
        time=T0,
        labels={"alarm": name, "check": "api", "severity": "critical", "team": "platform"},
        region="us-east-1",
        account="123456789012",
    )
    defaults.update(kw)
    return Alert(**defaults)


def note(kind=NotificationKind.TRIGGER, alerts=None, **kw) -> Notification:
    kw.setdefault("incident_id", "inc-42")
    kw.setdefault("opened_at", T0)
    return Notification(kind=kind, alerts=tuple(alerts or [alarm()]), **kw)


def pd_channel(receiver: HttpReceiver | None = None, **options) -> Channel:
    opts = {"routing_key": KEY_REF, **options}
    if receiver is not None:
        opts["events_url"] = f"{receiver.url}/v2/enqueue"
    return Channel("pd-primary", "pagerduty", opts)


SECRETS = StaticSecrets({KEY_REF: ROUTING_KEY})


# ------------------------------------------------------------------------------- payloads
def test_a_trigger_is_an_events_v2_body_with_summary_source_severity_links_and_details():
    check = Check(name="api", url="https://api.example.com/health", runbook="https://wiki.example.com/rb/api")

    [event] = PagerDutyNotifier().build_payloads(pd_channel(), note(check=check))

    assert event["event_action"] == "trigger"
    assert event["routing_key"] == KEY_REF  # the reference, never the key
    assert event["dedup_key"] == dedup_key(alarm())
    payload = event["payload"]
    assert payload["summary"].startswith(
        "uptime-api-availability (check api) — 2 of the last 3 probes failed"
    )
    assert payload["source"] == "https://api.example.com/health"
    assert payload["severity"] == "critical"
    assert payload["timestamp"] == "2026-11-20T10:15:30+00:00"
    assert payload["component"] == "api" and payload["group"] == "platform"
    details = payload["custom_details"]
    assert details["incident_id"] == "inc-42" and details["check"] == "api"
    assert details["labels"]["team"] == "platform" and details["reason"] == "2 of the last 3 probes failed"
    assert {"href": "https://wiki.example.com/rb/api", "text": "Runbook"} in event["links"]
    assert event["client"] == "uptime-relay"
    assert event["client_url"].startswith(
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
    )


def test_the_trigger_and_the_resolve_of_one_alarm_share_the_dedup_key():
    from uptime_relay.intake import parse_event

    [firing] = parse_event((EVENTS / "sns-alarm-metric.json").read_text())
    [ok] = parse_event((EVENTS / "sns-ok-metric.json").read_text())
    notifier = PagerDutyNotifier()

    [trigger] = notifier.build_payloads(pd_channel(), note(alerts=[firing]))
    [resolve] = notifier.build_payloads(pd_channel(), note(NotificationKind.RESOLVE, [ok]))

    assert trigger["dedup_key"] == resolve["dedup_key"]
    assert resolve == {"routing_key": KEY_REF, "event_action": "resolve", "dedup_key": trigger["dedup_key"]}
    assert len(trigger["dedup_key"]) <= 255
    assert dedup_key(firing) != dedup_key(alarm(id=firing.id + "/contributor-2"))


def test_acknowledge_and_escalation_map_to_acknowledge_and_a_repeat_trigger():
    notifier = PagerDutyNotifier()

    [ack] = notifier.build_payloads(pd_channel(), note(NotificationKind.ACKNOWLEDGE, acknowledged_by="alice"))
    [escalation] = notifier.build_payloads(pd_channel(), note(NotificationKind.ESCALATION, escalation_step=1))

    assert ack["event_action"] == "acknowledge"
    assert escalation["event_action"] == "trigger"
    assert ack["dedup_key"] == escalation["dedup_key"] == dedup_key(alarm())


def test_insufficient_data_warnings_never_page():
    warning = note(NotificationKind.WARNING, [alarm(state=AlertState.INSUFFICIENT_DATA)])

    with HttpReceiver() as receiver:
        payloads = PagerDutyNotifier().build_payloads(pd_channel(receiver), warning)
        delivery = PagerDutyNotifier().send(pd_channel(receiver), warning, SECRETS)

        assert payloads == []
        assert receiver.requests == []
        assert delivery.handles == {}


def test_a_huge_alarm_name_still_gives_a_summary_within_1024_characters():
    huge = "checkout-💳-" * 500

    [event] = PagerDutyNotifier().build_payloads(pd_channel(), note(alerts=[alarm(name=huge, reason=huge)]))

    summary = event["payload"]["summary"]
    assert len(summary) <= 1024 and summary.endswith("…")
    summary.encode("utf-8")
    assert len(event["dedup_key"]) <= 255
    assert len(json.dumps(event).encode()) < 512 * 1024


def test_an_alertmanager_group_sends_one_event_per_alert():
    from uptime_relay.intake import parse_event

    [base] = parse_event((EVENTS / "alertmanager-webhook-firing.json").read_text())
    alerts = [
        replace(base, id=f"fingerprint-{i}", labels={**base.labels, "instance": f"api-{i}:3001"})
        for i in range(3)
    ]

    events = PagerDutyNotifier().build_payloads(pd_channel(), note(alerts=alerts))

    assert PagerDutyNotifier.groups_alerts is False
    assert len(events) == 3
    assert len({e["dedup_key"] for e in events}) == 3
    assert [e["payload"]["source"] for e in events] == ["api-0:3001", "api-1:3001", "api-2:3001"]
    assert events[0]["links"][0] == {
        "href": "https://wiki.example.com/runbooks/high-error-rate",
        "text": "Runbook",
    }


@pytest.mark.parametrize(
    ("label", "option", "expected"),
    [
        ("warn", None, "warning"),
        ("P1", None, "critical"),
        (None, "error", "error"),
        ("info", "critical", "info"),
    ],
)
def test_severity_comes_from_the_label_else_the_channel_option(label, option, expected):
    labels = {"check": "api"} | ({"severity": label} if label else {})
    channel = pd_channel(**({"severity": option} if option else {}))

    [event] = PagerDutyNotifier().build_payloads(channel, note(alerts=[alarm(labels=labels)]))

    assert event["payload"]["severity"] == expected


def test_a_literal_routing_key_is_never_rendered():
    channel = Channel("pd", "pagerduty", {"routing_key": ROUTING_KEY})

    events = PagerDutyNotifier().build_payloads(channel, note())

    assert ROUTING_KEY not in json.dumps(events)


# ------------------------------------------------------------------------------- sending
def test_send_posts_each_event_with_the_resolved_key_and_returns_the_dedup_key():
    with HttpReceiver(ACCEPTED) as receiver:
        delivery = PagerDutyNotifier().send(pd_channel(receiver), note(), SECRETS)

        [request] = receiver.to("/v2/enqueue")
        assert request.json()["routing_key"] == ROUTING_KEY
        assert request.json()["payload"]["summary"].startswith("uptime-api-availability")
        assert delivery.handles == {"dedup_key": dedup_key(alarm())}
        assert delivery.status == 202


def test_a_bad_request_is_permanent_and_names_no_secret():
    with HttpReceiver() as receiver:
        receiver.script(
            "/v2/enqueue",
            Reply(
                400,
                {"status": "invalid event", "message": "Event object is invalid", "errors": [ROUTING_KEY]},
            ),
        )

        with pytest.raises(DeliveryError) as caught:
            PagerDutyNotifier().send(pd_channel(receiver), note(), SECRETS)

        assert caught.value.permanent is True and caught.value.status == 400
        assert "Event object is invalid" in str(caught.value)
        assert ROUTING_KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("reply", "retry_after"),
    [(Reply(429, "", {"Retry-After": "12"}), 12.0), (Reply(500, "oops"), None), (Reply(503, ""), None)],
)
def test_throttling_and_server_errors_are_transient(reply, retry_after):
    with HttpReceiver() as receiver:
        receiver.script("/v2/enqueue", reply)

        with pytest.raises(DeliveryError) as caught:
            PagerDutyNotifier().send(pd_channel(receiver), note(), SECRETS)

        assert caught.value.permanent is False
        assert caught.value.retry_after == retry_after
        assert caught.value.status == reply.status


def test_an_unresolvable_routing_key_fails_naming_the_reference_only():
    with HttpReceiver(ACCEPTED) as receiver:
        with pytest.raises(DeliveryError) as caught:
            PagerDutyNotifier().send(pd_channel(receiver), note(), StaticSecrets({}))
        assert receiver.requests == []

    assert KEY_REF in str(caught.value)
    assert caught.value.permanent is True  # a reference that does not exist: retrying cannot help
