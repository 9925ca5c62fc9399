"""An Alertmanager body with firing AND resolved alerts is ONE Slack message and ONE e-mail
(CONTRACT: "Slack and email send one message per Alertmanager body"), through the relay with
the real notifiers over real HTTP and SMTP. Only a Slack bot message that can be updated keeps
its own follow-up (edit + thread reply); PagerDuty stays one event per alert."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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
from uptime_relay.notifiers.slack import (
    MAX_BLOCKS,
    MAX_FIELD_TEXT,
    MAX_HEADER,
    MAX_SECTION_TEXT,
    SlackNotifier,
)
from uptime_relay.paging import Send, plan_notifications
from uptime_relay.relay import Relay
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply, SmtpReceiver
from uptime_relay_tools.testing.relay_kit import alertmanager_body

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
GROUP = '{}:{alertname="HighErrorRate"}'
TS = "1700000000.000100"


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def member(n: int, status: str = "firing") -> dict:
    return {
        "labels": {"alertname": "HighErrorRate", "instance": f"api-{n}", "severity": "critical"},
        "annotations": {"summary": f"api-{n} error rate {'above 5%' if status == 'firing' else 'normal'}"},
        "startsAt": at(n),
        "endsAt": at(30) if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": f"fp{n:014d}",
        "status": status,
    }


def iid(n: int) -> str:
    return incident_id(f"fp{n:014d}", T0 + timedelta(minutes=n))


class World:
    def __init__(self, receiver: HttpReceiver, slack: str, smtp: SmtpReceiver | None = None):
        email = (
            f"  mail: {{type: email, to: [oncall@example.com], from: alerts@example.com,"
            f" smtp: {{host: 127.0.0.1, port: {smtp.port}}}}}\n"
            if smtp
            else ""
        )
        config = parse_config(
            f"""
channels:
  slack: {slack}
  pd: {{type: pagerduty, routing_key: env:PD_KEY, events_url: "{receiver.url}/pd"}}
{email}routes:
  - notify: [slack, pd{", mail" if smtp else ""}]
"""
        )
        self.receiver, self.smtp = receiver, smtp
        self.store = InMemoryIncidentStore()
        dispatcher = Dispatcher(
            config,
            make_notifiers(),
            StaticSecrets({"env:SLACK_TOKEN": "xoxb-test", "env:PD_KEY": "k" * 32}),
            InMemoryDeadLetters(),
            sleep=lambda s: None,
        )
        self.relay = Relay(
            config, self.store, dispatcher, ack_url_for=lambda i, **kw: f"https://a.example/ack/{i.id}"
        )

    def body(self, *alerts: dict, status: str = "firing") -> None:
        self.relay.handle(parse_event(alertmanager_body(list(alerts), group_key=GROUP, status=status)), T0)

    def json(self, path: str) -> list[dict]:
        return [r.json() for r in self.receiver.to(path)]


def reply(record):
    if record.path.startswith("/pd"):
        return Reply(202, {"status": "success", "dedup_key": "x"})
    if record.path.startswith("/api/"):
        return Reply(200, {"ok": True, "channel": "C0ALERTS", "ts": TS})
    return Reply(200, "ok")


@pytest.fixture
def receiver():
    server = HttpReceiver(default=reply).start()
    yield server
    server.stop()


@pytest.fixture
def smtp():
    server = SmtpReceiver().start()
    yield server
    server.stop()


def sections(message: dict) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"] if b["type"] == "section" and "text" in b]


def buttons(message: dict) -> dict[str, str]:
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    return {e["action_id"]: e["value"] for e in actions["elements"]}


def test_a_body_resolving_one_alert_and_opening_another_is_one_webhook_message_and_one_email(receiver, smtp):
    world = World(receiver, f'{{type: slack, webhook_url: "{receiver.url}/hook"}}', smtp)
    world.body(member(1))
    assert len(world.json("/hook")) == 1 and len(smtp.messages) == 1

    world.body(member(1, "resolved"), member(2), member(3))

    [_, message] = world.json("/hook")
    assert message["text"].startswith("[FIRING:2] HighErrorRate")
    [firing] = [s for s in sections(message) if s.startswith("*Firing (2)*")]
    [resolved] = [s for s in sections(message) if s.startswith("*Resolved (1)*")]
    assert "api-2" in firing and "api-3" in firing and "api-1" in resolved
    assert buttons(message) == {"ack": f"{iid(2)},{iid(3)}", "resolve": f"{iid(2)},{iid(3)}"}

    [_, mail] = smtp.messages
    assert mail["Subject"].startswith("[FIRING:2] HighErrorRate")
    text = mail.get_body(("plain",)).get_content()
    assert "Resolved (1):" in text and "api-1" in text.split("Resolved (1):")[1]
    assert f"Acknowledge: https://a.example/ack/{iid(2)}" in text

    # PagerDuty: one event per alert, each with its own action
    actions = [(e["event_action"], e["dedup_key"]) for e in world.json("/pd")]
    assert [a for a, _ in actions] == ["trigger", "resolve", "trigger", "trigger"]
    assert actions[0][1] == actions[1][1]

    assert {i.id for i in world.store.list()} == {iid(2), iid(3)}
    [first] = world.store.list(statuses=("resolved",))
    assert ("notified", "slack", "resolve sent") in [(e.kind, e.channel, e.detail) for e in first.timeline]


def test_the_one_message_says_how_many_of_the_earlier_message_still_fire(receiver, smtp):
    world = World(receiver, f'{{type: slack, webhook_url: "{receiver.url}/hook"}}', smtp)
    world.body(member(1), member(2), member(3))

    world.body(member(1, "resolved"), member(2), member(3), member(4))  # 2 and 3 fire on, unchanged

    [_, message] = world.json("/hook")
    assert message["text"].startswith("[FIRING:1] HighErrorRate")
    assert "2 other alerts of this group still firing (earlier message)" in json.dumps(message)
    assert buttons(message) == {"ack": iid(4), "resolve": iid(4)}
    text = smtp.messages[1].get_body(("plain",)).get_content()
    assert "Still firing:" in text and "2 other alerts of this group (earlier message)" in text


def test_a_bot_message_is_still_updated_and_the_new_alerts_go_out_as_one_message(receiver):
    world = World(
        receiver,
        f'{{type: slack, bot_token: env:SLACK_TOKEN, channel: "#alerts", api_url: "{receiver.url}/api"}}',
    )
    world.body(member(1))

    world.body(member(1, "resolved"), member(2), member(3))

    [update] = world.json("/api/chat.update")
    assert update["ts"] == TS and update["text"].startswith("[RESOLVED")
    posts = world.json("/api/chat.postMessage")
    [thread_reply] = [p for p in posts if p.get("thread_ts")]
    assert thread_reply["thread_ts"] == TS
    [_, new] = [p for p in posts if not p.get("thread_ts")]
    assert new["text"].startswith("[FIRING:2] HighErrorRate") and "api-1" not in json.dumps(new)
    assert buttons(new)["ack"] == f"{iid(2)},{iid(3)}"


def test_a_body_of_resolved_alerts_only_is_still_a_resolve(receiver):
    world = World(receiver, f'{{type: slack, webhook_url: "{receiver.url}/hook"}}')
    world.body(member(1), member(2))

    world.body(member(1, "resolved"), member(2, "resolved"), status="resolved")

    [_, message] = world.json("/hook")
    assert message["text"].startswith("[RESOLVED:2] HighErrorRate")
    assert not [b for b in message["blocks"] if b["type"] == "actions"]


def test_a_large_mixed_body_stays_within_slacks_block_kit_limits():
    def alert(n: int, state: AlertState) -> Alert:
        return Alert(
            AlertSource.ALERTMANAGER,
            f"fp{n}",
            "HighErrorRate",
            state,
            "x" * 500 + "<!channel> & more",
            T0,
            labels={"alertname": "HighErrorRate", "instance": f"api-{n}" + "-long" * 40},
        )

    alerts = tuple(alert(n, AlertState.ALARM) for n in range(40)) + tuple(
        alert(n, AlertState.OK) for n in range(40, 100)
    )
    ids = [f"inc-{n:020x}" for n in range(40)]
    note = Notification(NotificationKind.TRIGGER, alerts, incident_id=ids[0], handles={"incidents": ids})
    channel = parse_config("channels: {s: {type: slack, webhook_url: https://h.invalid}}").channels["s"]
    message = SlackNotifier().message(channel, note)

    assert message["text"].startswith("[FIRING:40] HighErrorRate")
    assert len(message["blocks"]) <= MAX_BLOCKS
    assert len(message["blocks"][0]["text"]["text"]) <= MAX_HEADER
    for block in message["blocks"]:
        if "text" in block:
            assert len(block["text"]["text"]) <= MAX_SECTION_TEXT
        for item in block.get("fields", []) + block.get("elements", []):
            assert len(item.get("text", "") if isinstance(item.get("text"), str) else "") <= MAX_FIELD_TEXT
    listed = "\n".join(sections(message))
    assert "*Firing (40)*" in listed and "*Resolved (60)*" in listed
    assert "and 30 more" in listed and "and 50 more" in listed
    assert "<!channel>" not in json.dumps(message)
    assert message["attachments"][0]["text"].endswith("40 firing, 60 resolved")


# ------------------------------------------------------------------ plan_notifications, any batch
@dataclass(frozen=True)
class FakeIncident:
    id: str
    opened_at: datetime | None = None
    handles: dict = field(default_factory=dict)


@st.composite
def batches(draw):
    sends = []
    for n in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from([NotificationKind.TRIGGER, NotificationKind.RESOLVE]))
        channel = draw(st.sampled_from(["slack", "mail", "pd"]))
        body = draw(st.sampled_from(["body-a", "body-b"]))
        ts = draw(st.booleans()) and kind is NotificationKind.RESOLVE and channel == "slack"
        state = AlertState.ALARM if kind is NotificationKind.TRIGGER else AlertState.OK
        alert = Alert(AlertSource.ALERTMANAGER, f"fp{n}", "X", state, "r", T0, extra={"group_key": body})
        handles = {channel: {"channel": "C1", "ts": f"17.{n}"}} if ts else {}
        sends.append(Send(kind, channel, alert, FakeIncident(f"inc-{n}", T0, handles)))
    return sends


@settings(max_examples=200, deadline=None)
@given(batches())
def test_every_send_is_planned_once_and_a_body_is_one_message_unless_a_message_can_be_updated(sends):
    plans = plan_notifications(None, sends, groups_alerts=lambda channel: channel != "pd")

    covered = [id(s) for p in plans for s in p.sends]
    assert sorted(covered) == sorted(id(s) for s in sends)
    for p in plans:
        note, kinds = p.notification, [s.kind for s in p.sends]
        if p.channel == "pd":
            assert len(p.sends) == 1 and note.kind is kinds[0]
            continue
        firing = [s.incident.id for s in p.sends if s.kind is NotificationKind.TRIGGER]
        assert note.kind is kinds[0] and kinds == sorted(
            kinds, key=lambda k: k is not NotificationKind.TRIGGER
        )
        if note.kind is NotificationKind.TRIGGER:  # its incident and buttons: the firing ones
            assert note.incident_id == firing[0]
            assert set(note.handles.get("incidents", firing)) == set(firing)
        if note.kind is NotificationKind.RESOLVE:  # only a message that can be updated, or no firing
            has_ts = all(s.incident.handles.get(p.channel, {}).get("ts") for s in p.sends)
            has_trigger = any(
                s.kind is NotificationKind.TRIGGER
                and s.channel == p.channel
                and s.alert.extra["group_key"] == p.sends[0].alert.extra["group_key"]
                for s in sends
            )
            assert has_ts or not has_trigger
    messages = Counter(
        (p.channel, p.sends[0].alert.extra["group_key"])
        for p in plans
        if p.channel != "pd" and p.notification.kind is NotificationKind.TRIGGER
    )
    assert all(count == 1 for count in messages.values())
