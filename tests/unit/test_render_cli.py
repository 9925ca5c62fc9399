"""`uptime-relay render`: the exact bodies each channel would be sent, for every sample event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from uptime_relay_tools.cli import main

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted(p for p in (ROOT / "events").iterdir() if p.is_file())
CHANNELS = ("slack", "pagerduty", "email")

CONFIG = """
checks:
  - name: api
    url: https://api.example.com/health
    labels: {severity: critical, team: platform}
    runbook: https://wiki.example.com/runbooks/api
channels:
  oncall-email: {type: email, to: [oncall@corp.example], from: alerts@corp.example}
  slack-critical: {type: slack, webhook_url: "https://hooks.slack.com/services/T000/B000/XyzSecretPart"}
  pd-primary: {type: pagerduty, routing_key: 0123456789abcdef0123456789abcdef}
routes:
  - notify: [slack-critical, pd-primary, oncall-email]
"""


def render(capsys, *args: str) -> tuple[int, list[dict], str]:
    code = main(["render", *args])
    out, err = capsys.readouterr()
    bodies = [json.loads(line) for line in out.splitlines()]
    assert len(bodies) == len(out.splitlines())  # one JSON document per line
    return code, bodies, err


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "uptime.yaml"
    path.write_text(CONFIG)
    return str(path)


def assert_shape(channel: str, body: dict) -> None:
    if channel == "email":
        assert set(body) == {"subject", "text", "html", "to", "from"}
        assert body["subject"] and body["text"] and body["html"] and body["to"]
    elif channel == "slack":
        assert body["text"] and isinstance(body["blocks"], list)
    else:
        assert body["event_action"] in ("trigger", "resolve", "acknowledge")
        assert body["dedup_key"] and body["routing_key"]


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("event", EVENTS, ids=lambda p: p.name)
def test_every_event_renders_for_every_channel(capsys, event, channel):
    code, bodies, err = render(capsys, str(event), "--channel", channel)
    assert code == 0
    if not bodies:  # only a warning sent to PagerDuty renders nothing, and says why
        assert channel == "pagerduty" and "INSUFFICIENT_DATA" in err
    for body in bodies:
        assert_shape(channel, body)


def test_an_alarm_renders_the_trigger_and_its_ok_the_resolve_with_the_same_dedup_key(capsys):
    _, [trigger], _ = render(capsys, str(ROOT / "events/sns-alarm-metric.json"), "--channel", "pagerduty")
    _, [resolve], _ = render(capsys, str(ROOT / "events/sns-ok-metric.json"), "--channel", "pagerduty")
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"]


def test_insufficient_data_prints_nothing_for_pagerduty_and_says_why(capsys):
    code, bodies, err = render(
        capsys, str(ROOT / "events/sns-insufficient-data-metric.json"), "--channel", "pagerduty"
    )
    assert (code, bodies) == (0, [])
    assert "never triggers PagerDuty" in err


def test_insufficient_data_is_a_warning_on_slack(capsys):
    code, [body], _ = render(
        capsys, str(ROOT / "events/sns-insufficient-data-metric.json"), "--channel", "slack"
    )
    assert code == 0 and "NO DATA" in body["text"]


def test_an_alertmanager_body_is_one_slack_message_but_one_pagerduty_event_per_alert(capsys):
    event = str(ROOT / "events/alertmanager-webhook-three-alerts.json")
    _, slack, _ = render(capsys, event, "--channel", "slack")
    _, email, _ = render(capsys, event, "--channel", "email")
    _, pagerduty, _ = render(capsys, event, "--channel", "pagerduty")
    assert (len(slack), len(email), len(pagerduty)) == (1, 1, 3)
    assert len({b["dedup_key"] for b in pagerduty}) == 3


def test_garbage_renders_a_fallback_notification_with_the_raw_text(capsys):
    code, [body], _ = render(capsys, str(ROOT / "events/garbage.txt"), "--channel", "email")
    assert code == 0
    assert "not an alarm" in body["text"]


def test_stdin_can_be_rendered(capsys, monkeypatch):
    import io
    import sys

    data = (ROOT / "events/sns-alarm-metric.json").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, [body], _ = render(capsys, "-", "--channel", "slack")
    assert code == 0 and "[FIRING] api" in body["text"]  # titled by the check (issue 15)


@pytest.mark.parametrize("bad", ["does-not-exist.json", "."])
def test_an_unreadable_event_file_exits_2(capsys, tmp_path, bad):
    code, bodies, err = render(capsys, str(tmp_path / bad), "--channel", "slack")
    assert (code, bodies) == (2, [])
    assert "cannot read" in err


def test_an_invalid_config_exits_2_with_the_errors(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("checks: [{name: API!}]\n")
    code, _, err = render(
        capsys, str(ROOT / "events/sns-alarm-metric.json"), "--channel", "slack", "--config", str(bad)
    )
    assert code == 2 and "bad.yaml" in err


def test_without_config_the_builtin_example_channels_are_used(capsys):
    _, [email], _ = render(capsys, str(ROOT / "events/sns-alarm-metric.json"), "--channel", "email")
    assert (email["to"], email["from"]) == (["oncall@example.com"], "uptime-relay@example.com")


def test_with_config_the_first_channel_of_the_type_and_the_check_labels_are_used(capsys, config_file):
    event = str(ROOT / "events/sns-alarm-metric.json")
    _, [email], _ = render(capsys, event, "--channel", "email", "--config", config_file)
    assert (email["to"], email["from"]) == (["oncall@corp.example"], "alerts@corp.example")
    _, [page], _ = render(capsys, event, "--channel", "pagerduty", "--config", config_file)
    assert page["payload"]["severity"] == "critical"
    assert page["payload"]["custom_details"]["labels"]["team"] == "platform"


def test_literal_secrets_in_the_config_are_never_printed(capsys, config_file):
    for channel in CHANNELS:
        for event in EVENTS:
            code = main(["render", str(event), "--channel", channel, "--config", config_file])
            out, err = capsys.readouterr()
            assert code == 0
            assert "0123456789abcdef0123456789abcdef" not in out + err
            assert "XyzSecretPart" not in out + err


def test_help_names_the_builtin_example_channels(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["render", "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "https://hooks.slack.com/services/EXAMPLE" in out and "oncall@example.com" in out


@pytest.mark.parametrize(
    ("mode", "pagerduty_lines", "slack_lines"),
    [("warn", 0, 1), ("page", 1, 1), ("ignore", 0, 0)],
)
def test_insufficient_data_follows_the_matched_routes_setting(
    capsys, tmp_path, mode, pagerduty_lines, slack_lines
):
    path = tmp_path / "uptime.yaml"
    path.write_text(CONFIG.replace("  - notify: [slack-critical, pd-primary, oncall-email]",
                                   f"  - notify: [slack-critical, pd-primary]\n    insufficient_data: {mode}"))  # fmt: skip
    event = str(ROOT / "events/sns-insufficient-data-metric.json")
    code, pagerduty, err = render(capsys, event, "--channel", "pagerduty", "--config", str(path))
    assert (code, len(pagerduty)) == (0, pagerduty_lines)
    if pagerduty:
        assert pagerduty[0]["event_action"] == "trigger"
    else:
        assert "insufficient_data" in err
    _, slack, _ = render(capsys, event, "--channel", "slack", "--config", str(path))
    assert len(slack) == slack_lines


def test_an_event_with_a_lone_surrogate_still_renders(capsys, tmp_path):
    event = tmp_path / "surrogate.json"
    event.write_text('{"AlarmName": "bad \\ud800 name", "NewStateValue": "ALARM"}')
    for channel in CHANNELS:
        code, bodies, _ = render(capsys, str(event), "--channel", channel)
        assert code == 0 and bodies


# ------------------------------------------------------------------ the relay's own code path
MIXED = {
    "receiver": "uptime-relay",
    "status": "firing",
    "version": "4",
    "groupKey": '{}:{alertname="HighErrorRate"}',
    "truncatedAlerts": 0,
    "groupLabels": {"alertname": "HighErrorRate"},
    "commonLabels": {"alertname": "HighErrorRate"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager.example.com:9093",
    "alerts": [
        {
            "status": "resolved",
            "labels": {"alertname": "HighErrorRate", "instance": "api-1"},
            "annotations": {"summary": "api-1 error rate back to normal"},
            "startsAt": "2026-11-20T10:00:00Z",
            "endsAt": "2026-11-20T10:20:00Z",
            "fingerprint": "aaaa000000000001",
        },
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "instance": "api-2"},
            "annotations": {"summary": "api-2 error rate above 5%"},
            "startsAt": "2026-11-20T10:05:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "aaaa000000000002",
        },
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "instance": "api-3"},
            "annotations": {"summary": "api-3 error rate above 5%"},
            "startsAt": "2026-11-20T10:06:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "aaaa000000000003",
        },
    ],
}


def _incident_id(fingerprint: str, at: str) -> str:
    from datetime import datetime

    from uptime_relay.domain.incident import incident_id

    return incident_id(fingerprint, datetime.fromisoformat(at))


def test_a_mixed_alertmanager_body_is_one_slack_and_one_email_message_listing_both_states(capsys, tmp_path):
    event = tmp_path / "mixed.json"
    event.write_text(json.dumps(MIXED))
    _, [slack], _ = render(capsys, str(event), "--channel", "slack")
    _, [email], _ = render(capsys, str(event), "--channel", "email")
    assert slack["text"].startswith("[FIRING:2] HighErrorRate")
    assert email["subject"].startswith("[FIRING:2] HighErrorRate")
    lists = [b["text"]["text"] for b in slack["blocks"] if b["type"] == "section" and "text" in b]
    [firing] = [t for t in lists if t.startswith("*Firing (2)*")]
    [resolved] = [t for t in lists if t.startswith("*Resolved (1)*")]
    assert "api-2" in firing and "api-3" in firing and "api-1" not in firing
    assert "api-1" in resolved and "back to normal" in resolved
    firing_text = email["text"].split("Firing (2):")[1].split("Resolved (1):")
    assert "api-2" in firing_text[0] and "api-3" in firing_text[0] and "api-1" in firing_text[1]
    assert "<h3>Firing (2)</h3>" in email["html"] and "<h3>Resolved (1)</h3>" in email["html"]


def test_a_mixed_alertmanager_body_is_one_pagerduty_event_per_alert_with_its_own_action(capsys, tmp_path):
    event = tmp_path / "mixed.json"
    event.write_text(json.dumps(MIXED))
    _, pagerduty, _ = render(capsys, str(event), "--channel", "pagerduty")
    assert [b["event_action"] for b in pagerduty] == ["resolve", "trigger", "trigger"]
    assert len({b["dedup_key"] for b in pagerduty}) == 3


def test_slack_buttons_and_the_ack_link_cover_only_the_still_firing_incidents(capsys, tmp_path):
    event = tmp_path / "mixed.json"
    event.write_text(json.dumps(MIXED))
    _, [message], _ = render(capsys, str(event), "--channel", "slack")
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    expected = ",".join(
        [
            _incident_id("aaaa000000000002", "2026-11-20T10:05:00+00:00"),
            _incident_id("aaaa000000000003", "2026-11-20T10:06:00+00:00"),
        ]
    )
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("ack", expected),
        ("resolve", expected),
    ]
    resolved_id = _incident_id("aaaa000000000001", "2026-11-20T10:00:00+00:00")
    assert resolved_id not in json.dumps(message)
    _, [email], _ = render(capsys, str(event), "--channel", "email")
    assert "Incidents in this group: 2" in email["text"] and resolved_id not in email["text"]


def test_one_firing_and_one_resolved_alert_still_counts_the_firing_one(capsys, tmp_path):
    body = dict(MIXED, alerts=MIXED["alerts"][:2])
    event = tmp_path / "mixed.json"
    event.write_text(json.dumps(body))
    _, [slack], _ = render(capsys, str(event), "--channel", "slack")
    assert slack["text"].startswith("[FIRING:1] HighErrorRate")
    assert slack["attachments"][0]["text"].endswith("1 firing, 1 resolved")


def test_email_shows_the_placeholder_ack_link_and_the_relays_incident_id(capsys):
    _, [email], _ = render(capsys, str(ROOT / "events/sns-alarm-metric.json"), "--channel", "email")
    assert "Acknowledge: https://<actions-url>/ack/<token>" in email["text"]
    assert "Incident:" in email["text"] and "inc-" in email["text"]


def test_render_prints_exactly_what_the_relay_sends(capsys, tmp_path):
    """The relay, fed the same event, hands the channels the same bodies render prints."""
    from uptime_relay.adapters.incidents import InMemoryIncidentStore
    from uptime_relay.adapters.queue import InMemoryDeadLetters
    from uptime_relay.adapters.secrets import StaticSecrets
    from uptime_relay.config.loader import load_config
    from uptime_relay.delivery import Dispatcher
    from uptime_relay.intake import enrich, parse_event
    from uptime_relay.notifiers.base import Delivery
    from uptime_relay.notifiers.registry import make_notifiers
    from uptime_relay.relay import Relay
    from uptime_relay_tools.cli.render import PLACEHOLDER_ACK_URL

    class Recording:
        def __init__(self, real):
            self.real, self.type, self.groups_alerts = real, real.type, real.groups_alerts
            self.bodies: list[dict] = []

        def build_payloads(self, channel, notification):
            return self.real.build_payloads(channel, notification)

        def send(self, channel, notification, secrets):
            self.bodies.extend(self.real.build_payloads(channel, notification))
            return Delivery(channel.name, {}, 200)

    path = tmp_path / "uptime.yaml"
    path.write_text(CONFIG)
    config = load_config(str(path))
    notifiers = {t: Recording(n) for t, n in make_notifiers().items()}
    dispatcher = Dispatcher(config, notifiers, StaticSecrets(), InMemoryDeadLetters())
    relay = Relay(
        config, InMemoryIncidentStore(), dispatcher, ack_url_for=lambda _, **__: PLACEHOLDER_ACK_URL
    )
    for name in ("alertmanager-webhook-three-alerts.json", "sns-alarm-metric.json"):
        event = ROOT / "events" / name
        alerts = [enrich(a, config) for a in parse_event(event.read_bytes())]
        relay.handle(alerts, alerts[0].time)
        for channel in CHANNELS:
            _, rendered, _ = render(capsys, str(event), "--channel", channel, "--config", str(path))
            assert rendered == notifiers[channel].bodies, (name, channel)
            notifiers[channel].bodies.clear()
