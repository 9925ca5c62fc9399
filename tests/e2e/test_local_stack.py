"""Outages driven through the whole local stack: probe -> alarm -> SNS -> relay -> channels."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from local_e2e import PD_PATH, pd_events, slack_messages, wait_for, write_config
from uptime_relay.security import pagerduty_signature
from uptime_relay_tools.local.alarms import ALARM, OK
from uptime_relay_tools.local.demo import slack_button_request
from uptime_relay_tools.local.faults import Faults, parse_fault
from uptime_relay_tools.testing.receivers import Reply

pytestmark = pytest.mark.e2e

OUTAGE = (3, 7)  # the target answers 503 from minute 3 to minute 7 (exclusive)


def alarm_minutes(stack, state: str) -> list[int]:
    return [
        minute for minute, t in stack.transitions if t.new_state == state and t.alarm.name.endswith("-api")
    ]


def test_an_outage_pages_once_and_resolves_once_on_every_channel_with_one_dedup_key(
    tmp_path, target, receiver, smtp, local_stack
):
    # GIVEN a 2-of-3 check routed to Slack, PagerDuty and email, and a 4-minute outage
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver, smtp_port=smtp.port)
    stack = local_stack(config, outage=OUTAGE, minutes=10)
    # WHEN ten simulated minutes play
    stack.run()
    # THEN the alarm fired within its M-of-N window: the 2nd failed minute (minute 4)
    assert alarm_minutes(stack, ALARM) == [OUTAGE[0] + 1]
    # and went back to OK once fewer than 2 of the last 3 minutes failed (minutes 7 and 8 ok)
    assert alarm_minutes(stack, OK)[-1] == OUTAGE[1] + 1
    # PagerDuty: exactly one trigger and one resolve, sharing one dedup_key
    events = pd_events(receiver)
    assert [e["event_action"] for e in events] == ["trigger", "resolve"]
    assert events[0]["dedup_key"] == events[1]["dedup_key"]
    assert events[0]["routing_key"] == "e2e00000000000000000000000000000"
    # Slack: one message when it broke, one when it recovered
    assert len(slack_messages(receiver)) == 2
    # email: the trigger (with a working ack link) and the resolve
    subjects = [m["Subject"] for m in smtp.messages]
    assert len(subjects) == 2
    assert "FIRING" in subjects[0] and "RESOLVED" in subjects[1]
    (incident,) = stack.incidents()
    assert incident.status == "resolved"


def test_the_ack_link_in_the_email_acknowledges_the_incident(tmp_path, target, receiver, smtp, local_stack):
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver, smtp_port=smtp.port)
    stack = local_stack(config, outage=(2, 30), minutes=5)
    stack.run()
    (incident,) = stack.incidents(("open",))
    link = stack.ack_link(incident.id)
    assert link and link.startswith(stack.actions_url + "/ack/")
    body = smtp.messages[0].get_body(preferencelist=("plain",)).get_content()
    assert link in body.replace("\n", "")

    with urllib.request.urlopen(link, timeout=10) as response:  # the on-call person opens it
        assert response.status == 200
        assert "<form" in response.read().decode()  # a confirmation page: opening changes nothing
    assert stack.incidents(("open",))
    confirm = urllib.request.Request(link, data=b"", method="POST")
    with urllib.request.urlopen(confirm, timeout=10) as response:  # and presses its button
        assert response.status == 200

    (acked,) = stack.incidents(("acknowledged",))
    assert acked.id == incident.id
    assert [e["event_action"] for e in pd_events(receiver)] == ["trigger", "acknowledge"]


def test_it_pages_once_when_sns_delivers_every_message_twice(tmp_path, target, receiver, local_stack):
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver)
    stack = local_stack(config, outage=OUTAGE, faults=Faults(duplicate_deliveries=True), minutes=10)
    stack.run()
    duplicates = [d for d in stack.bus.deliveries if d.duplicate and d.ok]
    assert len(duplicates) >= 2  # the ALARM and the OK were both delivered twice
    assert [e["event_action"] for e in pd_events(receiver)] == ["trigger", "resolve"]
    assert len(slack_messages(receiver)) == 2


def test_an_ok_delivered_before_its_alarm_leaves_no_incident_open(tmp_path, target, receiver, local_stack):
    # a short outage: ALARM at minute 4, OK at minute 6; SNS holds the ALARM back and delivers it
    # after the OK. The relay orders by StateChangeTime, so nothing stays open.
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver)
    stack = local_stack(config, outage=(3, 5), faults=Faults(out_of_order=True), minutes=8)
    stack.run()
    assert alarm_minutes(stack, ALARM) == [4]
    assert any(d.delayed for d in stack.bus.deliveries)
    assert stack.incidents(("open", "acknowledged")) == []
    actions = [e["event_action"] for e in pd_events(receiver)]
    assert actions.count("trigger") == actions.count("resolve") <= 1


def test_a_page_is_delivered_although_slack_answers_429_for_a_while(tmp_path, target, receiver, local_stack):
    receiver.script(
        "/services/T0/B0/e2e",
        Reply(429, "rate_limited", {"Retry-After": "2"}),
        Reply(429, "rate_limited", {"Retry-After": "2"}),
    )
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver)
    stack = local_stack(config, outage=(2, 30), minutes=5)
    stack.run()
    attempts = receiver.to("/services/T0/B0/e2e")
    assert len(attempts) == 3  # two 429s honoured (Retry-After), then delivered: one message, no duplicate
    assert len({a.body for a in attempts}) == 1
    sqs = stack.client("sqs")
    dlq = stack.stack.outputs["NotificationDeadLetterQueueUrl"]
    assert sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0).get("Messages", []) == []
    (incident,) = stack.incidents(("open",))
    assert "slack-critical" in incident.notified_channels()


def test_an_injected_slack_429_storm_is_ridden_out_by_retries_honouring_retry_after(
    tmp_path, target, receiver, local_stack
):
    # --fault slack-critical:429:8s: two attempts fail with Retry-After: 5 (simulated seconds)
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver)
    faults = Faults([parse_fault("slack-critical:429:8s")])
    stack = local_stack(config, outage=(2, 30), faults=faults, minutes=5)
    stack.run()
    assert len(stack.timeline.find("slack-critical trigger answered 429 (injected fault)")) == 2
    assert len(slack_messages(receiver)) == 1  # then delivered once
    assert stack.timeline.find("slack-critical trigger delivered")


def test_slack_buttons_acknowledge_and_resolve_through_the_signed_actions_route(
    tmp_path, target, receiver, local_stack
):
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver)
    stack = local_stack(config, outage=(2, 30), minutes=4)
    stack.run()
    (incident,) = stack.incidents(("open",))

    status, _ = slack_button_request(stack.actions_url, "wrong-secret", incident.id)
    assert status == 401  # a forged request changes nothing
    assert stack.incidents(("open",))

    status, _ = slack_button_request(stack.actions_url, "e2e-signing-secret", incident.id, "ack", "alice")
    assert status == 200
    (acked,) = stack.incidents(("acknowledged",))
    assert acked.acknowledged_by and "alice" in acked.acknowledged_by

    status, _ = slack_button_request(stack.actions_url, "e2e-signing-secret", incident.id, "resolve", "bob")
    assert status == 200
    assert [i.id for i in stack.incidents(("resolved",))] == [incident.id]
    # PagerDuty hears of both: the button's follow-ups run after Slack got its answer
    wait_for(lambda: len(pd_events(receiver)) >= 3, 20, "the follow-ups to reach PagerDuty")
    assert [e["event_action"] for e in pd_events(receiver)] == ["trigger", "acknowledge", "resolve"]


def test_a_slack_clicks_follow_up_rides_out_a_pagerduty_429_as_in_lambda(
    tmp_path, target, receiver, local_stack
):
    """GIVEN an open incident paged to PagerDuty, and PagerDuty answering the next event with one
    ``429 Retry-After: 1``
    WHEN someone acknowledges in Slack
    THEN the follow-up runs in its own asynchronous invocation of the actions function, as in
    Lambda, with its retries and time budget: PagerDuty gets the acknowledge on the second try
    and nothing is dead-lettered."""
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver)
    stack = local_stack(config, outage=(2, 30), minutes=4)
    stack.run()
    (incident,) = stack.incidents(("open",))
    receiver.script(PD_PATH, Reply(429, '{"status":"throttled"}', {"Retry-After": "1"}))

    status, _ = slack_button_request(stack.actions_url, "e2e-signing-secret", incident.id, "ack", "alice")

    assert status == 200
    wait_for(lambda: len(receiver.to(PD_PATH)) >= 3, 20, "the follow-up to be retried")
    assert [e["event_action"] for e in pd_events(receiver)] == ["trigger", "acknowledge", "acknowledge"]
    queue = stack.stack.outputs["NotificationDeadLetterQueueUrl"]
    assert stack.client("sqs").receive_message(QueueUrl=queue).get("Messages", []) == []


def pagerduty_webhook(actions_url: str, secret: str, event: dict) -> tuple[int, dict]:
    body = json.dumps({"event": event}).encode()
    request = urllib.request.Request(
        actions_url + "/pagerduty",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-PagerDuty-Signature": pagerduty_signature(secret, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {}


def test_a_pagerduty_webhook_applies_once_on_the_real_clock_under_simulated_minutes(
    tmp_path, target, receiver, local_stack
):
    # GIVEN the local stack 10 simulated minutes into an outage paged on PagerDuty
    secret = "e2e-pd-webhook-secret"
    config = write_config(
        tmp_path / "c.yaml", target_url=target.url, receiver=receiver, pd_webhook_secret=secret
    )
    stack = local_stack(config, outage=(2, 30), minutes=10)
    stack.run()
    (incident,) = stack.incidents(("open",))
    (trigger,) = pd_events(receiver)

    def event(at: datetime, event_id: str) -> dict:
        return {
            "id": event_id,
            "event_type": "incident.acknowledged",
            "resource_type": "incident",
            "occurred_at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "agent": {"id": "PLH1HKV", "summary": "Tenex Engineer", "type": "user_reference"},
            "client": {"name": "PagerDuty"},
            "data": {"id": "PGR0VU2", "type": "incident", "incident_key": trigger["dedup_key"]},
        }

    # WHEN PagerDuty's acknowledgement arrives stale (6 real minutes old) THEN nothing changes
    now = datetime.now(UTC)
    status, answer = pagerduty_webhook(stack.actions_url, secret, event(now - timedelta(minutes=6), "e-old"))
    assert (status, answer["result"]) == (200, "stale event")
    assert stack.incidents(("open",))
    # WHEN a fresh one arrives (real clock, whatever the simulated one says) THEN it acknowledges
    fresh = event(now, str(uuid.uuid4()))
    status, answer = pagerduty_webhook(stack.actions_url, secret, fresh)
    assert (status, answer["result"]) == (200, "changed")
    (acked,) = stack.incidents(("acknowledged",))
    assert acked.id == incident.id and acked.acknowledged_by == "Tenex Engineer"
    # WHEN the same event is delivered again THEN it is recognised (recorded in DynamoDB)
    status, answer = pagerduty_webhook(stack.actions_url, secret, fresh)
    assert (status, answer["result"]) == (200, "duplicate event")
