"""`uptime-relay render` shows a route group's message (``group_by``), for an Alertmanager body
and for a list of alarm events, as the escalation sweep would send it."""

from __future__ import annotations

import json
from pathlib import Path

from uptime_relay_tools.cli import main

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
CONFIG = """
channels:
  slack-web: {type: slack, webhook_url: "https://hooks.slack.com/services/T000/B000/XyzSecretPart"}
  pd-web: {type: pagerduty, routing_key: env:PD_KEY}
  mail-web: {type: email, to: [web@corp.example], from: alerts@corp.example}
routes:
  - notify: [slack-web, pd-web, mail-web]
    group_by: [%s]
"""


def render(capsys, tmp_path, event: Path, channel: str, group_by: str = "alertname") -> list[dict]:
    config = tmp_path / "uptime.yaml"
    config.write_text(CONFIG % group_by)
    assert main(["render", str(event), "--channel", channel, "--config", str(config)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_an_alertmanager_body_renders_as_its_groups_one_message(capsys, tmp_path):
    """GIVEN a route with group_by: [alertname] WHEN an Alertmanager body of three alerts is rendered
    THEN Slack shows one "[FIRING:3] alertname=…" message whose buttons act on the group, and
    PagerDuty ONE event with the group's dedup key naming the three."""
    event = EVENTS / "alertmanager-webhook-three-alerts.json"
    (slack,) = render(capsys, tmp_path, event, "slack")
    header = slack["blocks"][0]["text"]["text"]
    assert "[FIRING:3] alertname=" in header
    buttons = next(b for b in slack["blocks"] if b["type"] == "actions")["elements"]
    assert {b["value"] for b in buttons} == {buttons[0]["value"]} and buttons[0]["value"].startswith("grp-")
    (pd,) = render(capsys, tmp_path, event, "pagerduty")
    assert pd["event_action"] == "trigger" and pd["payload"]["custom_details"]["firing"] == 3
    assert len(pd["payload"]["custom_details"]["members"]) == 3


def test_a_list_of_alarm_events_renders_as_one_group_message_listing_them(capsys, tmp_path):
    """GIVEN a route grouping every label it is given ([region] here) WHEN a JSON list of two
    CloudWatch alarm events is rendered THEN e-mail gets one message listing both alarms."""
    events = [
        json.loads((EVENTS / name).read_text())
        for name in ("sns-alarm-metric.json", "sns-alarm-metric-math.json")
    ]
    listed = tmp_path / "alarms.json"
    listed.write_text(json.dumps(events))
    (mail,) = render(capsys, tmp_path, listed, "email", group_by="region")
    assert "[FIRING:2]" in mail["subject"]
    assert "uptime-api-availability" in mail["text"] and "checkout-error-rate" in mail["text"]
    assert "of group" in mail["text"]


def test_a_group_whose_alerts_all_resolved_renders_its_resolve(capsys, tmp_path):
    """GIVEN a grouped route WHEN an Alertmanager body with only resolved alerts is rendered THEN the
    group's resolve is shown (PagerDuty: a resolve of the group's key)."""
    (pd,) = render(capsys, tmp_path, EVENTS / "alertmanager-webhook-resolved.json", "pagerduty")
    assert pd["event_action"] == "resolve" and pd["dedup_key"].startswith("uptime-relay:")
