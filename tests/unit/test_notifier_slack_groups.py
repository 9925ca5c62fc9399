"""One Slack message for a whole Alertmanager group: its buttons act on every incident of the
group, and it stays FIRING until the group's last member resolves (bot token, real HTTP)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.incident import incident_id
from uptime_relay.intake import parse_event
from uptime_relay.notifiers.base import Notification, NotificationKind
from uptime_relay.notifiers.registry import make_notifiers
from uptime_relay.notifiers.slack import MAX_BUTTON_VALUE, SlackNotifier, button_value
from uptime_relay.relay import Relay
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply
from uptime_relay_tools.testing.relay_kit import alertmanager_body

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
GROUP = '{}:{alertname="HighErrorRate"}'


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def member(n: int, status: str = "firing", ended: int | None = None) -> dict:
    alert = {
        "labels": {"alertname": "HighErrorRate", "instance": f"api-{n}", "severity": "critical"},
        "annotations": {"summary": f"api-{n} error rate above 5%"},
        "startsAt": at(n),
        "fingerprint": f"fp{n:014d}",
        "status": status,
    }
    if ended is not None:
        alert["endsAt"] = at(ended)
    return alert


class World:
    def __init__(self, receiver: HttpReceiver):
        config = parse_config(
            f"""
channels:
  slack: {{type: slack, bot_token: env:SLACK_TOKEN, channel: "#alerts", api_url: "{receiver.url}/api"}}
routes:
  - notify: [slack]
"""
        )
        self.receiver = receiver
        self.store = InMemoryIncidentStore()
        dispatcher = Dispatcher(
            config,
            make_notifiers(),
            StaticSecrets({"env:SLACK_TOKEN": "xoxb-test"}),
            InMemoryDeadLetters(),
            sleep=lambda s: None,
        )
        self.relay = Relay(config, self.store, dispatcher)

    def body(self, *alerts: dict, status: str = "firing") -> None:
        self.relay.handle(parse_event(alertmanager_body(list(alerts), group_key=GROUP, status=status)), T0)

    def calls(self, method: str) -> list[dict]:
        return [r.json() for r in self.receiver.to(f"/api/{method}")]


@pytest.fixture
def world():
    def reply(record):
        return Reply(200, {"ok": True, "channel": "C0ALERTS", "ts": "1700000000.000100"})

    receiver = HttpReceiver(default=reply).start()
    yield World(receiver)
    receiver.stop()


def buttons(message: dict) -> dict[str, str]:
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    return {e["action_id"]: e["value"] for e in actions["elements"]}


def test_the_buttons_of_a_grouped_message_act_on_every_incident_of_the_group(world):
    world.body(member(1), member(2), member(3))

    [post] = world.calls("chat.postMessage")
    ids = [incident_id(f"fp{n:014d}", T0 + timedelta(minutes=n)) for n in (1, 2, 3)]
    assert buttons(post) == {"ack": ",".join(ids), "resolve": ",".join(ids)}
    assert sorted(i.id for i in world.store.list()) == sorted(ids)


def test_a_members_resolve_replies_in_the_thread_and_the_last_one_marks_the_message_resolved(world):
    world.body(member(1), member(2), member(3))

    world.body(member(1, "resolved", ended=20), member(2), member(3))

    assert world.calls("chat.update") == []  # the message still says FIRING
    [reply] = [p for p in world.calls("chat.postMessage") if p.get("thread_ts")]
    assert reply["thread_ts"] == "1700000000.000100"
    assert "resolved, 2 still firing" in reply["text"]

    world.body(member(2, "resolved", ended=25), member(3, "resolved", ended=25), status="resolved")

    [update] = world.calls("chat.update")
    assert update["ts"] == "1700000000.000100" and update["text"].startswith("[RESOLVED")
    assert not [b for b in update["blocks"] if b["type"] == "actions"]
    assert world.store.list() == []


def test_a_single_incident_keeps_its_plain_id_as_the_button_value(world):
    world.body(member(1))
    [post] = world.calls("chat.postMessage")
    assert buttons(post) == {"ack": incident_id(f"fp{1:014d}", T0 + timedelta(minutes=1))} | {
        "resolve": incident_id(f"fp{1:014d}", T0 + timedelta(minutes=1))
    }


def test_the_button_value_holds_as_many_whole_ids_as_fit_in_slacks_limit():
    ids = [f"inc-{n:020x}" for n in range(200)]  # 24 characters each, as the relay makes them
    value = button_value(ids)
    assert len(value) <= MAX_BUTTON_VALUE
    assert value.split(",") == ids[:80]

    alert = Alert(AlertSource.ALERTMANAGER, "fp", "HighErrorRate", AlertState.ALARM, "x", T0)
    note = Notification(NotificationKind.TRIGGER, (alert,), incident_id=ids[0], handles={"incidents": ids})
    message = SlackNotifier().message(
        parse_config("channels: {s: {type: slack, webhook_url: https://h.invalid}}").channels["s"], note
    )
    assert buttons(message)["ack"] == value
    assert "buttons act on the first 80 of 200 incidents" in json.dumps(message)
