"""A foreign CloudWatch alarm (not created by the stack) is routed by its tags: the relay Lambda
handler reads them from CloudWatch (moto server) and a route matching ``severity: critical`` pages."""

from __future__ import annotations

import importlib.util
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from uptime_relay.adapters.incidents import create_table
from uptime_relay_tools.testing.receivers import HttpReceiver
from uptime_relay_tools.testing.relay_kit import alarm_message, sns_event

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)


class Context:
    function_name = "relay"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:relay"
    aws_request_id = "req-tags"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def relay(aws, tmp_path, monkeypatch):
    with HttpReceiver() as slack:
        config = tmp_path / "uptime.yaml"
        config.write_text(
            f"""
channels:
  slack-critical: {{type: slack, webhook_url: "{slack.url}/critical"}}
  slack-other: {{type: slack, webhook_url: "{slack.url}/other"}}
routes:
  - match: {{severity: critical}}
    notify: [slack-critical]
  - notify: [slack-other]
"""
        )
        dynamodb, sqs = aws("dynamodb"), aws("sqs")
        table = f"uptime-{uuid.uuid4().hex[:8]}"
        create_table(dynamodb, table)
        queue_url = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        for key, value in {
            "TABLE_NAME": table,
            "DLQ_URL": queue_url,
            "UPTIME_CONFIG": str(config),
            "POWERTOOLS_SERVICE_NAME": "uptime-relay",
            "POWERTOOLS_METRICS_NAMESPACE": "UptimeRelayTest",
        }.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("SENTRY_DSN", raising=False)
        spec = importlib.util.spec_from_file_location("relay_app_tags", ROOT / "functions/relay/app.py")
        app = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(app)
        yield app, slack, aws("cloudwatch")


def foreign_alarm(cloudwatch, name: str, tags: dict[str, str]) -> str:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Dimensions=[{"Name": "LoadBalancer", "Value": "app/payments/0123456789abcdef"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarm["AlarmArn"]


def message(arn: str, name: str) -> dict:
    body = alarm_message(
        name,
        "ALARM",
        T0,
        namespace="AWS/ApplicationELB",
        metric="HTTPCode_Target_5XX_Count",
        dimensions={"LoadBalancer": "app/payments/0123456789abcdef"},
    )
    body["AlarmArn"] = arn
    return body


def test_a_foreign_alarm_tagged_critical_is_routed_by_its_tag(relay):
    app, slack, cloudwatch = relay
    arn = foreign_alarm(cloudwatch, "payments-5xx", {"severity": "critical", "team": "payments"})
    result = app.lambda_handler(sns_event(message(arn, "payments-5xx")), Context())
    assert [r["action"] for r in result["results"]] == ["opened"]
    assert len(slack.to("/critical")) == 1
    assert slack.to("/other") == []


def test_an_untagged_foreign_alarm_takes_the_default_route(relay):
    app, slack, cloudwatch = relay
    arn = foreign_alarm(cloudwatch, "search-5xx", {})
    app.lambda_handler(sns_event(message(arn, "search-5xx")), Context())
    assert slack.to("/critical") == []
    assert len(slack.to("/other")) == 1
