"""Every sample event, and some hostile ones, through intake and all three channels' build_payloads,
checked against the documented limits of Slack Block Kit, the PagerDuty Events API v2 and e-mail."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from uptime_relay.domain.alert import AlertState
from uptime_relay.intake import enrich, parse_event
from uptime_relay.notifiers.registry import make_notifiers
from uptime_relay_tools.cli.render import EXAMPLE_CHANNELS, notifications

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted(p for p in (ROOT / "events").iterdir() if p.is_file())
RECEIVED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NOTIFIERS = make_notifiers()

# Slack Block Kit
SLACK_MAX_BLOCKS = 50
SLACK_MAX_HEADER = 150
SLACK_MAX_SECTION_TEXT = 3000
SLACK_MAX_FIELDS = 10
SLACK_MAX_FIELD_TEXT = 2000
SLACK_MAX_BUTTON_TEXT = 75
SLACK_MAX_CONTEXT_ELEMENTS = 10
# PagerDuty Events API v2
PD_MAX_SUMMARY = 1024
PD_MAX_DEDUP_KEY = 255
PD_MAX_PAYLOAD_BYTES = 512 * 1024
PD_SEVERITIES = {"critical", "error", "warning", "info"}
# E-mail (RFC 5322 line length)
EMAIL_MAX_SUBJECT = 998


def payloads(channel_type: str, data) -> list[dict]:
    notifier = NOTIFIERS[channel_type]
    alerts = [enrich(a, None) for a in parse_event(data, received_at=RECEIVED)]
    out = []
    for note in notifications(
        alerts, groups_alerts=notifier.groups_alerts, config=None, channel_type=channel_type
    ):
        out.extend(notifier.build_payloads(EXAMPLE_CHANNELS[channel_type], note))
    return out


def check_slack(body: dict) -> None:
    assert body["text"]
    for blocks in _block_lists(body):
        assert len(blocks) <= SLACK_MAX_BLOCKS
        for block in blocks:
            kind = block["type"]
            if kind == "header":
                assert block["text"]["type"] == "plain_text"
                assert 0 < len(block["text"]["text"]) <= SLACK_MAX_HEADER
            if kind == "section":
                if "text" in block:
                    assert 0 < len(block["text"]["text"]) <= SLACK_MAX_SECTION_TEXT
                fields = block.get("fields", [])
                assert len(fields) <= SLACK_MAX_FIELDS
                assert all(0 < len(f["text"]) <= SLACK_MAX_FIELD_TEXT for f in fields)
            if kind == "context":
                assert 0 < len(block["elements"]) <= SLACK_MAX_CONTEXT_ELEMENTS
            if kind == "actions":
                for element in block["elements"]:
                    if element["type"] == "button":
                        assert 0 < len(element["text"]["text"]) <= SLACK_MAX_BUTTON_TEXT


def _block_lists(body: dict):
    if "blocks" in body:
        yield body["blocks"]
    for attachment in body.get("attachments", []):
        if "blocks" in attachment:
            yield attachment["blocks"]


def check_pagerduty(body: dict) -> None:
    assert len(json.dumps(body).encode("utf-8")) <= PD_MAX_PAYLOAD_BYTES
    assert 0 < len(body["dedup_key"]) <= PD_MAX_DEDUP_KEY
    assert body["event_action"] in ("trigger", "acknowledge", "resolve")
    if body["event_action"] == "trigger":
        payload = body["payload"]
        assert 0 < len(payload["summary"]) <= PD_MAX_SUMMARY
        assert payload["source"]
        assert payload["severity"] in PD_SEVERITIES
        for image in body.get("images", []):
            assert image["src"].startswith("https://")


def check_email(body: dict) -> None:
    assert set(body) == {"subject", "text", "html", "to", "from"}
    assert 0 < len(body["subject"]) <= EMAIL_MAX_SUBJECT
    assert "\n" not in body["subject"] and "\r" not in body["subject"]
    assert "<script" not in body["html"].lower()


CHECKS = {"slack": check_slack, "pagerduty": check_pagerduty, "email": check_email}


@pytest.mark.parametrize("channel", sorted(CHECKS))
@pytest.mark.parametrize("event", EVENTS, ids=lambda p: p.name)
def test_every_sample_event_fits_every_channel(event, channel):
    bodies = payloads(channel, event.read_bytes())
    states = {a.state for a in parse_event(event.read_bytes(), received_at=RECEIVED)}
    if channel == "pagerduty" and states == {AlertState.INSUFFICIENT_DATA}:
        assert bodies == []
    else:
        assert bodies
    for body in bodies:
        CHECKS[channel](body)


# --------------------------------------------------------------------------- hostile inputs
def _metric_message(**overrides) -> dict:
    event = json.loads((ROOT / "events/sns-alarm-metric.json").read_bytes())
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message.update(overrides)
    return message


HUGE_NAME = "x" * 255 + "-" + "é" * 300
HOSTILE = {
    "huge reason and description": _metric_message(
        NewStateReason="r" * 50_000, AlarmDescription="d" * 50_000
    ),
    "long unicode name": _metric_message(AlarmName=HUGE_NAME, AlarmArn=None),
    "markup in every field": _metric_message(
        AlarmName="<script>alert(1)</script> & <b>co</b>",
        NewStateReason="<img src=x onerror=alert(1)> *bold* <!channel> `code`",
        AlarmDescription="<script>alert(2)</script>",
    ),
    "thirty dimensions": _metric_message(
        Trigger={
            "MetricName": "M",
            "Namespace": "N",
            "Dimensions": [{"name": f"dim{i}", "value": "v" * 900} for i in range(30)],
        }
    ),
    "alertmanager body with 120 alerts": {
        "version": "4",
        "groupKey": '{}:{alertname="Flood"}',
        "status": "firing",
        "receiver": "r",
        "commonLabels": {"alertname": "Flood"},
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Flood", "instance": f"host-{i}:9100"},
                "annotations": {"summary": "s" * 3000, "description": "<script>x</script>" * 100},
                "startsAt": "2026-11-20T10:00:00Z",
                "fingerprint": f"{i:016x}",
            }
            for i in range(120)
        ],
    },
    "a megabyte of garbage": ("\u00ff\u4e2d\U0001f525" * 120_000).encode("utf-8")[:-1],
}


@pytest.mark.parametrize("channel", sorted(CHECKS))
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_events_still_fit_every_channel(case, channel):
    bodies = payloads(channel, HOSTILE[case])
    assert bodies
    for body in bodies:
        CHECKS[channel](body)


def test_markup_in_an_alarm_is_escaped_in_the_email_html():
    [body] = payloads("email", HOSTILE["markup in every field"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body["html"]
    assert "<b>co</b>" not in body["html"]


def test_markup_in_an_alarm_cannot_ping_a_slack_channel():
    [body] = payloads("slack", HOSTILE["markup in every field"])
    assert "<!channel>" not in json.dumps(body, ensure_ascii=False)


def test_a_contributor_alarm_and_its_ok_resolve_the_same_pagerduty_incident():
    [trigger] = payloads(
        "pagerduty", (ROOT / "events/sns-alarm-metrics-insights-contributor.json").read_bytes()
    )
    [resolve] = payloads("pagerduty", (ROOT / "events/sns-ok-metrics-insights-contributor.json").read_bytes())
    assert trigger["dedup_key"] == resolve["dedup_key"]
    [other] = payloads("pagerduty", (ROOT / "events/sns-alarm-metric.json").read_bytes())
    assert other["dedup_key"] != trigger["dedup_key"]
