"""Intake: the reconciler's bookkeeping trailer never reaches a human-facing description."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from uptime_relay.alarms import desired_alarm
from uptime_relay.config.loader import parse_config
from uptime_relay.intake import parse_event
from uptime_relay_tools.testing.relay_kit import alarm_message

T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
CONFIG = parse_config(
    """
checks:
  - name: api
    url: https://api.example.com/health
    description: "Public API health.\\nOwner: platform team"
channels:
  slack: {type: slack, webhook_url: https://hooks.example.invalid/x}
routes:
  - notify: [slack]
"""
)


def reconciled_description() -> str:
    alarm = desired_alarm(CONFIG.checks[0], namespace="UptimeRelay", topic_arn="arn:t", prefix="uptime-prod")
    return alarm["AlarmDescription"]


def test_the_reconciler_trailer_is_stripped_from_a_cloudwatch_alarm_description():
    description = reconciled_description()
    assert "uptime-relay spec " in description  # what CloudWatch really sends us
    message = alarm_message("uptime-api-availability", "ALARM", T0, check="api", description=description)
    (alert,) = parse_event(json.dumps(message))
    assert "uptime-relay spec" not in alert.description
    assert "edit the config" not in alert.description
    assert alert.description == description.split("\n[uptime-relay spec ")[0].rstrip()
    assert "Public API health." in alert.description


def test_the_reconciler_trailer_is_stripped_from_an_eventbridge_alarm_description():
    description = reconciled_description()
    event = {
        "version": "0",
        "id": "e-1",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": "2026-11-20T10:15:30Z",
        "region": "us-east-1",
        "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-api-availability"],
        "detail": {
            "alarmName": "uptime-api-availability",
            "state": {"value": "ALARM", "reason": "down", "timestamp": "2026-11-20T10:15:30.000+0000"},
            "previousState": {"value": "OK", "timestamp": "2026-11-20T10:00:00.000+0000"},
            "configuration": {
                "description": description,
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": "UptimeRelay",
                                "name": "Availability",
                                "dimensions": {"Check": "api"},
                            },
                            "period": 60,
                            "stat": "Minimum",
                        },
                        "returnData": True,
                    }
                ],
            },
        },
    }
    (alert,) = parse_event(event)
    assert alert.description is not None and "uptime-relay spec" not in alert.description
    assert alert.description.startswith("Public API health.")


def test_a_description_of_only_the_trailer_becomes_no_description():
    trailer = (
        "[uptime-relay spec 0123456789ab; managed by uptime-relay stack x: edit the config, not this alarm]"
    )
    message = alarm_message("a", "ALARM", T0, check="api", description=trailer)
    (alert,) = parse_event(json.dumps(message))
    assert alert.description is None


def test_an_ordinary_description_with_brackets_is_kept_whole():
    text = "Checks the API [see runbook]\nmanaged by humans"
    message = alarm_message("a", "ALARM", T0, check="api", description=text)
    (alert,) = parse_event(json.dumps(message))
    assert alert.description == text
