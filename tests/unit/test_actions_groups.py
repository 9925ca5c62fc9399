"""One Slack message (and one e-mail) covers a whole Alertmanager group: its buttons and its
acknowledge link act on every incident of the group, and resolving one member elsewhere leaves
the grouped message FIRING while the others still fire."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from test_actions_support import SIM_START, FixedClock, make_store, open_incident
from uptime_relay.actions import Actions
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.followups import ChangeNotifier
from uptime_relay.notifiers.base import Delivery, NotificationKind
from uptime_relay.security import slack_signature
from uptime_relay_tools.testing.receivers import HttpReceiver

SIGNING = "group-signing-secret"
CONFIG = parse_config(
    """
slack:
  signing_secret: env:SLACK_SIGNING_SECRET
channels:
  pd-primary: {type: pagerduty, routing_key: env:PD_KEY}
  slack-critical: {type: slack, bot_token: env:SLACK_TOKEN, channel: "#alerts"}
routes:
  - notify: [pd-primary, slack-critical]
""",
    "groups.yaml",
)
MESSAGE = {"channel": "C1", "ts": "1700000000.0001"}


class RecordingNotifier:
    groups_alerts = False

    def __init__(self, type_):
        self.type = type_
        self.sent = []

    def build_payloads(self, channel, notification):
        return [{"kind": notification.kind.value}]

    def send(self, channel, notification, secrets):
        self.sent.append((channel.name, notification))
        return Delivery(channel.name, dict(notification.handles), 200)


@pytest.fixture
def store():
    return make_store()


@pytest.fixture
def notifiers():
    return {t: RecordingNotifier(t) for t in ("pagerduty", "slack")}


@pytest.fixture
def real_clock():
    return FixedClock(datetime.now(UTC))


@pytest.fixture
def actions(store, notifiers, real_clock):
    dispatcher = Dispatcher(
        CONFIG, notifiers, StaticSecrets(), InMemoryDeadLetters(), max_attempts=1, sleep=lambda s: None
    )
    router = Actions(
        CONFIG,
        store,
        secrets=StaticSecrets({"env:SLACK_SIGNING_SECRET": SIGNING}),
        clock=FixedClock(SIM_START + timedelta(minutes=7)),
        real_clock=real_clock,
        on_change=ChangeNotifier(CONFIG, dispatcher, store),
        environ={},
    )
    router.follow_up_runner = router.run_follow_up  # follow-ups run before the answer (assertable)
    return router


def grouped(store, n=3):
    """``n`` incidents of one Alertmanager body, paged in ONE Slack message (handles name them all)."""
    incidents = [
        open_incident(store, f"api-{i}", pd_key=f"uptime-relay:k{i}", at=SIM_START + timedelta(seconds=i))
        for i in range(n)
    ]
    ids = [i.id for i in incidents]
    for incident_id in ids:
        assert store.set_handles(incident_id, "slack-critical", {**MESSAGE, "incidents": ids})
    return ids


def press(actions, real_clock, action_id, value, response_url=None):
    payload = {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "alice"},
        "actions": [{"action_id": action_id, "value": value, "type": "button"}],
        "container": {"channel_id": MESSAGE["channel"], "message_ts": MESSAGE["ts"]},
        "response_url": response_url,
        "message": {"text": "3 alerts firing", "blocks": []},
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(real_clock.now().timestamp()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": slack_signature(SIGNING, ts, body),
    }
    return actions.handle("POST", "/slack/actions", headers, body)


def test_a_grouped_messages_resolve_button_resolves_every_incident_of_the_group(
    actions, store, notifiers, real_clock
):
    ids = grouped(store)
    with HttpReceiver() as slack:
        response = press(actions, real_clock, "resolve", ",".join(ids), response_url=slack.url + "/r")
        update = slack.to("/r")[0].json()
    assert response.status == 200 and response.body == ""
    assert [store.get(i).status for i in ids] == ["resolved"] * 3
    assert all(store.get(i).resolved_by == "alice" for i in ids)
    assert update["replace_original"] is True and "Resolved by <@U024BE7LH>" in json.dumps(update)
    # each incident's own PagerDuty event is resolved; the pressed Slack message is not posted again
    assert sorted(n.handles["dedup_key"] for _, n in notifiers["pagerduty"].sent) == [
        "uptime-relay:k0",
        "uptime-relay:k1",
        "uptime-relay:k2",
    ]
    assert notifiers["slack"].sent == []


def test_a_grouped_ack_button_acknowledges_the_members_still_open(actions, store, real_clock):
    ids = grouped(store)
    store.resolve(ids[0], by="alarm", via="alarm", at=SIM_START)
    assert press(actions, real_clock, "ack", ",".join(ids)).status == 200
    assert [store.get(i).status for i in ids] == ["resolved", "acknowledged", "acknowledged"]
    assert store.get(ids[1]).acknowledged_by == store.get(ids[2]).acknowledged_by == "alice"


def test_a_grouped_button_with_nothing_left_to_do_answers_for_the_first_incident(actions, store, real_clock):
    ids = grouped(store)
    for incident_id in ids:
        store.resolve(incident_id, by="bob", via="cli", at=SIM_START)
    response = press(actions, real_clock, "ack", ",".join(ids))
    answer = json.loads(response.body)
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == f"{store.get(ids[0]).name} is already resolved (by bob)."


def test_resolving_one_member_elsewhere_keeps_the_grouped_slack_message_firing(actions, store, notifiers):
    ids = grouped(store)
    actions.apply("resolve", ids[0], by="Tenex Engineer", via="pagerduty", at=SIM_START)
    ((_, first),) = notifiers["slack"].sent
    assert first.kind is NotificationKind.RESOLVE and first.handles["still_firing"] == 2
    actions.apply("resolve", ids[1], by="bob", via="cli", at=SIM_START)
    assert notifiers["slack"].sent[-1][1].handles["still_firing"] == 1
    actions.apply("resolve", ids[2], by="bob", via="cli", at=SIM_START)
    last = notifiers["slack"].sent[-1][1]
    assert last.handles["still_firing"] == 0 and last.handles["ts"] == MESSAGE["ts"]  # now RESOLVED


def test_a_single_incidents_resolve_carries_no_group_count(actions, store, notifiers):
    incident = open_incident(store, pd_key="uptime-relay:k1")
    store.set_handles(incident.id, "slack-critical", dict(MESSAGE))
    actions.apply("resolve", incident.id, by="bob", via="cli", at=SIM_START)
    ((_, sent),) = notifiers["slack"].sent
    assert sent.handles == MESSAGE
