"""Automatic redelivery through the whole local stack, with real Slack, PagerDuty and SMTP
receivers and injected Slack faults: nobody runs a command, nothing waits on the DLQ."""

from __future__ import annotations

import pytest
from local_e2e import pd_events, slack_messages, write_config
from uptime_relay_tools.local.faults import Faults, parse_fault

pytestmark = pytest.mark.e2e


def dead_letters(stack) -> list:
    sqs = stack.client("sqs")
    dlq = stack.stack.outputs["NotificationDeadLetterQueueUrl"]
    return sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0, MaxNumberOfMessages=10).get("Messages", [])


def test_slack_failing_over_the_opening_gets_the_trigger_then_the_resolve_on_its_own(
    tmp_path, target, receiver, smtp, local_stack
):
    """GIVEN Slack answers 503 for 4 simulated minutes (3m to 7m) covering an incident's opening (4m)
    WHEN the outage ends at 12m and nobody runs any command
    THEN Slack receives the trigger once after it recovered, then the resolve once; PagerDuty and
    e-mail got the trigger when the incident opened; the dead-letter queue is empty."""
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver, smtp_port=smtp.port)
    faults = Faults([parse_fault("slack-critical:503:4m@3m")])
    stack = local_stack(config, outage=(3, 12), faults=faults, minutes=16)
    stack.run()
    messages = slack_messages(receiver)
    assert len(messages) == 2, messages  # the trigger, then the resolve: once each
    assert [e["event_action"] for e in pd_events(receiver)] == ["trigger", "resolve"]
    assert len(smtp.messages) == 2
    (incident,) = stack.incidents(("resolved",))
    timeline = incident.timeline
    opened = next(e.at for e in timeline if e.kind == "opened")
    first_pd = next(e.at for e in timeline if e.kind == "notified" and e.channel == "pd-primary")
    first_slack = next(e.at for e in timeline if e.kind == "notified" and e.channel == "slack-critical")
    assert (first_pd - opened).total_seconds() < 60  # not delayed by Slack
    assert first_slack > first_pd
    assert any(e.kind == "redelivery_scheduled" and e.channel == "slack-critical" for e in timeline)
    assert dead_letters(stack) == []


def test_an_incident_resolved_while_slack_still_fails_sends_slack_nothing(
    tmp_path, target, receiver, smtp, local_stack
):
    """GIVEN Slack answers 503 from 3m to 13m WHEN an incident opens at 4m and resolves at 8m
    THEN Slack receives nothing for it, PagerDuty and e-mail the trigger and the resolve."""
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver, smtp_port=smtp.port)
    faults = Faults([parse_fault("slack-critical:503:10m@3m")])
    stack = local_stack(config, outage=(3, 7), faults=faults, minutes=16)
    stack.run()
    assert slack_messages(receiver) == []
    assert [e["event_action"] for e in pd_events(receiver)] == ["trigger", "resolve"]
    assert len(smtp.messages) == 2
    (incident,) = stack.incidents(("resolved",))
    assert any(e.kind == "redelivery_dropped" and e.channel == "slack-critical" for e in incident.timeline)
    assert dead_letters(stack) == []


def test_a_permanent_404_is_dead_lettered_at_once(tmp_path, target, receiver, local_stack):
    """GIVEN Slack answers 404 WHEN an incident opens THEN the trigger is on the dead-letter
    queue right away and is not retried by the sweeps."""
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver)
    faults = Faults([parse_fault("slack-critical:404:30m@0m")])
    stack = local_stack(config, outage=(2, 30), faults=faults, minutes=6)
    stack.run()
    (record,) = dead_letters(stack)
    assert "slack-critical" in record["Body"] and "404" in record["Body"]
    (incident,) = stack.incidents(("open",))
    assert not any(e.kind == "redelivery_scheduled" for e in incident.timeline)
