"""Local channels: placeholders print to the console, faults fail sends, real sends are reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from uptime_relay import clock
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.intake import parse_event
from uptime_relay.notifiers import registry
from uptime_relay.notifiers.base import DeliveryError, Notification, NotificationKind
from uptime_relay.notifiers.pagerduty import PagerDutyNotifier
from uptime_relay.notifiers.slack import SlackNotifier
from uptime_relay_tools.local.channels import (
    LocalNotifier,
    console_channels,
    has_real_destination,
    render_payload,
    unresolvable_secrets,
    wrapped_notifiers,
)
from uptime_relay_tools.local.faults import Faults, FaultSpecError, parse_fault
from uptime_relay_tools.testing.fake_notifiers import FakeNotifier

EVENTS = Path(__file__).resolve().parents[2] / "events"
START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

CONFIG = parse_config(
    """
channels:
  placeholder-slack: {type: slack, webhook_url: "https://hooks.example.com/services/T/B/x"}
  local-slack: {type: slack, webhook_url: "http://127.0.0.1:9/hook"}
  secret-slack: {type: slack, webhook_url: "ssm:/uptime/slack"}
  pd-default: {type: pagerduty, routing_key: "env:PD_KEY"}
  pd-placeholder: {type: pagerduty, routing_key: k, events_url: "https://events.example.com/v2/enqueue"}
  mail-placeholder: {type: email, to: [oncall@example.com], from: a@example.com}
  mail-smtp: {type: email, to: [oncall@example.com], from: a@example.com, smtp: {host: 127.0.0.1, port: 2525}}
"""
)


def trigger() -> Notification:
    (alert,) = parse_event(json.loads((EVENTS / "sns-alarm-metric.json").read_text()))
    return Notification(NotificationKind.TRIGGER, (alert,), incident_id="inc-1")


class Clock:
    def __init__(self) -> None:
        self.at = START

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def fake_clock():
    fake = Clock()
    previous = clock.install(fake)
    yield fake
    clock.install(previous)


def test_documentation_placeholders_have_no_real_destination_and_local_urls_do():
    assert console_channels(CONFIG) == {"placeholder-slack", "pd-placeholder", "mail-placeholder"}
    assert has_real_destination(CONFIG.channels["local-slack"])
    assert has_real_destination(CONFIG.channels["mail-smtp"])


def test_console_channels_can_cover_every_channel():
    assert console_channels(CONFIG, everything=True) == set(CONFIG.channels)


def test_channels_whose_secrets_cannot_be_resolved_are_named_with_the_reference():
    missing = unresolvable_secrets(CONFIG, StaticSecrets({"env:PD_KEY": "x"}))
    assert missing == {"secret-slack": "secret ssm:/uptime/slack is not available locally"}


def test_a_console_channel_prints_the_rendered_message_and_sends_nothing(fake_clock):
    lines: list[str] = []
    notifier = LocalNotifier(
        SlackNotifier(),
        console={"placeholder-slack"},
        faults=Faults(),
        say=lambda t, raw=False: lines.append(t),
        run_start=START,
    )
    delivery = notifier.send(CONFIG.channels["placeholder-slack"], trigger(), StaticSecrets())
    assert delivery.channel == "placeholder-slack"
    assert lines[0] == "placeholder-slack trigger (printed here, not sent)"
    assert "uptime-api-availability" in lines[1]
    assert "&gt;" not in lines[1]  # Slack escapes are undone for reading


def test_pagerduty_payloads_render_as_action_key_and_summary():
    channel = CONFIG.channels["pd-placeholder"]
    (payload,) = PagerDutyNotifier().build_payloads(channel, trigger())
    text = render_payload(channel, payload)
    assert text.startswith(f"trigger dedup_key={payload['dedup_key']} severity=")
    assert "uptime-api-availability" in text


def test_an_injected_429_fails_sends_until_it_is_over_then_the_real_notifier_sends(fake_clock):
    inner = FakeNotifier("slack")
    lines: list[str] = []
    faults = Faults([parse_fault("slack:429:3m")])
    notifier = LocalNotifier(
        inner, console=set(), faults=faults, say=lambda t, raw=False: lines.append(t), run_start=START
    )
    channel = CONFIG.channels["local-slack"]
    with pytest.raises(DeliveryError) as failed:
        notifier.send(channel, trigger(), StaticSecrets())
    assert failed.value.status == 429 and not failed.value.permanent and failed.value.retry_after
    fake_clock.at += timedelta(minutes=2, seconds=59)
    with pytest.raises(DeliveryError):
        notifier.send(channel, trigger(), StaticSecrets())
    fake_clock.at += timedelta(seconds=2)
    notifier.send(channel, trigger(), StaticSecrets())
    assert len(inner.sent) == 1
    assert lines[-1] == "local-slack trigger delivered"


def test_a_fault_can_start_later_and_name_one_channel(fake_clock):
    fault = parse_fault("pd-default:500:2m@5m")
    faults = Faults([fault])
    assert faults.active("pd-default", "pagerduty", START + timedelta(minutes=4), START) is None
    assert faults.active("pd-default", "pagerduty", START + timedelta(minutes=6), START) is fault
    assert faults.active("other-pd", "pagerduty", START + timedelta(minutes=6), START) is None
    assert fault.transient


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("slack", "expected CHANNEL:STATUS:DURATION"),
        ("slack:abc:1m", "not an HTTP status"),
        ("slack:429:soon", "duration"),
    ],
)
def test_a_bad_fault_spec_is_refused_naming_the_problem(spec, problem):
    with pytest.raises(FaultSpecError, match=problem):
        parse_fault(spec)


def test_handlers_building_notifiers_during_the_run_get_the_wrapped_ones():
    original = registry.make_notifiers
    with wrapped_notifiers(lambda n: ("wrapped", n.type)):
        from uptime_relay.notifiers import registry as again

        assert again.make_notifiers()["slack"] == ("wrapped", "slack")
    assert registry.make_notifiers is original
