"""AWS formats read natively (issue 15): CloudWatch alarm -> Lambda actions, EventBridge events of
AWS Health, GuardDuty, Security Hub, CodePipeline, CodeBuild and AWS Backup, SNS subscription
confirmations, and the fallback for any other EventBridge event. Samples are the files in events/."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import AlertSource, AlertState
from uptime_relay.intake import parse_event
from uptime_relay.intake.awsevents import guardduty_severity
from uptime_relay.notifiers import format as fmt
from uptime_relay.notifiers.base import NotificationKind
from uptime_relay.relay import Relay
from uptime_relay_tools.testing.fake_notifiers import fake_notifiers

EVENTS = Path(__file__).resolve().parents[2] / "events"
RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)


def one(name: str):
    [alert] = parse_event((EVENTS / name).read_bytes(), received_at=RECEIVED)
    return alert


def test_a_lambda_alarm_action_is_read_as_the_alarm_and_its_ok_resolves_it():
    """GIVEN CloudWatch invoking the relay directly (alarmData), THEN the ALARM and the OK are the
    same alarm (same id), read with its metric, never an unrecognised critical page."""
    alarm, ok = one("lambda-alarm-action-metric.json"), one("lambda-alarm-action-ok.json")
    assert (alarm.source, alarm.state, ok.state) == (AlertSource.CLOUDWATCH, AlertState.ALARM, AlertState.OK)
    assert alarm.id == ok.id == "arn:aws:cloudwatch:us-east-1:444455556666:alarm:lambda-demo-metric-alarm"
    assert alarm.name == "lambda-demo-metric-alarm" and alarm.metric.name == "CallCount"
    assert alarm.time == datetime(2026, 11, 20, 10, 15, 30, 490000, tzinfo=UTC)
    assert alarm.extra["delivered_via"] == "lambda alarm action" and alarm.extra["threshold"] == 5.0


def test_a_composite_lambda_alarm_action_keeps_its_rule_and_triggering_children():
    alert = one("lambda-alarm-action-composite.json")
    assert alert.extra["alarm_rule"].startswith("ALARM(SuppressionDemo.Child.Alarm)")
    assert alert.annotations["triggering_children"] == "SuppressionDemo.Child.Alarm (ALARM)"


@pytest.mark.parametrize(
    "sample, state, name, severity",
    [
        ("eventbridge-health-issue.json", AlertState.ALARM, "AWS Health: AWS_EC2_OPERATIONAL_ISSUE", "high"),
        ("eventbridge-guardduty-finding.json", AlertState.ALARM, "GuardDuty: Unprotected port", "high"),
        ("eventbridge-securityhub-finding.json", AlertState.ALARM, "Security Hub: S3.8", "high"),
        ("eventbridge-codepipeline-failed.json", AlertState.ALARM, "CodePipeline myPipeline", None),
        ("eventbridge-codepipeline-succeeded.json", AlertState.OK, "CodePipeline myPipeline", None),
        ("eventbridge-codebuild-failed.json", AlertState.ALARM, "CodeBuild my-sample-project", None),
        ("eventbridge-backup-job-failed.json", AlertState.ALARM, "AWS Backup Job arn:aws:ec2", None),
        ("eventbridge-backup-job-completed.json", AlertState.OK, "AWS Backup Job arn:aws:ec2", None),
    ],
)
def test_each_aws_service_event_is_read_with_its_state_name_severity_and_own_time(
    sample, state, name, severity
):
    event = json.loads((EVENTS / sample).read_text())
    alert = one(sample)
    assert alert.source is AlertSource.AWS_EVENT
    assert alert.state is state and alert.name.startswith(name)
    assert alert.labels.get("severity") == severity
    assert alert.time != RECEIVED and alert.time.year == 2026  # the event's own time
    assert alert.region == event["region"] or alert.region == event["detail"].get("eventRegion")


def test_a_failure_and_the_later_success_of_the_same_pipeline_or_backup_share_one_id():
    assert one("eventbridge-codepipeline-failed.json").id == one("eventbridge-codepipeline-succeeded.json").id
    assert one("eventbridge-backup-job-failed.json").id == one("eventbridge-backup-job-completed.json").id


def test_a_run_that_neither_failed_nor_succeeded_resolves_nothing():
    event = json.loads((EVENTS / "eventbridge-codepipeline-failed.json").read_text())
    event["detail"]["state"] = "STARTED"
    [started] = parse_event(event)
    assert started.state is AlertState.OK
    assert started.id != one("eventbridge-codepipeline-failed.json").id  # its own execution id


@pytest.mark.parametrize(
    "score, level",
    [(9.5, "critical"), (8.9, "high"), (7.0, "high"), (5, "medium"), (2.0, "low"), ("x", "medium")],
)
def test_guardduty_severity_comes_from_its_score(score, level):
    assert guardduty_severity(score) == level


def test_a_security_hub_finding_that_passed_or_was_archived_resolves():
    event = json.loads((EVENTS / "eventbridge-securityhub-finding.json").read_text())
    event["detail"]["findings"][0]["Compliance"]["Status"] = "PASSED"
    [passed] = parse_event(event)
    assert passed.state is AlertState.OK and passed.id == one("eventbridge-securityhub-finding.json").id


def test_a_scheduled_health_change_and_an_sns_subscription_confirmation_only_inform():
    notice, confirmation = (
        one("eventbridge-health-scheduled-change.json"),
        one("sns-subscription-confirmation.json"),
    )
    for alert in (notice, confirmation):
        assert alert.state is AlertState.INSUFFICIENT_DATA and alert.extra["informational"] is True
    facts = dict(confirmation.extra["facts"])
    assert facts["Confirm at"].startswith("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription")
    assert "Token=2336412f" in facts["Confirm at"]  # the URL works as it is


def test_an_unknown_eventbridge_event_is_titled_by_its_detail_type_at_its_own_time():
    alert = one("eventbridge-unknown-ec2-state-change.json")
    assert alert.source is AlertSource.FALLBACK
    assert alert.name == "EC2 Instance State-change Notification (aws.ec2)"
    assert alert.time == datetime(2026, 11, 20, 10, 16, tzinfo=UTC)


# --------------------------------------------------------------------------------- through the relay
CONFIG = parse_config(
    """
channels:
  slack: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd: {type: pagerduty, routing_key: env:PD_KEY}
routes:
  - notify: [pd, slack]
    insufficient_data: page
"""
)


def relay():
    notifiers = fake_notifiers()
    dispatcher = Dispatcher(
        CONFIG, notifiers, StaticSecrets({"env:PD_KEY": "k"}), InMemoryDeadLetters(), sleep=lambda s: None
    )
    return Relay(CONFIG, InMemoryIncidentStore(), dispatcher), notifiers


def sent(notifiers) -> list[tuple[str, NotificationKind]]:
    return [(ch, n.kind) for notifier in notifiers.values() for ch, n in notifier.sent]


def test_a_failed_pipeline_pages_and_its_success_resolves_it():
    r, notifiers = relay()
    r.process_sns_event(json.loads((EVENTS / "eventbridge-codepipeline-failed.json").read_text()))
    r.process_sns_event(json.loads((EVENTS / "eventbridge-codepipeline-succeeded.json").read_text()))
    assert sorted(sent(notifiers)) == sorted(
        [
            ("pd", NotificationKind.TRIGGER),
            ("pd", NotificationKind.RESOLVE),
            ("slack", NotificationKind.TRIGGER),
            ("slack", NotificationKind.RESOLVE),
        ]
    )


def test_a_subscription_confirmation_never_pages_even_where_the_route_pages_on_insufficient_data():
    r, notifiers = relay()
    r.process_sns_event(json.loads((EVENTS / "sns-subscription-confirmation.json").read_text()))
    assert sent(notifiers) == [("slack", NotificationKind.WARNING)]
    [(_, message)] = notifiers["slack"].sent
    assert fmt.title(message) == "[INFO] SNS subscription confirmation for MyTopic"
