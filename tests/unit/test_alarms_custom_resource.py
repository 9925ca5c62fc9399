"""The Custom::CheckAlarms request cycle (uptime_relay.custom_resource.run) with an in-memory
CloudWatch and a real HTTP receiver standing in for CloudFormation's pre-signed ResponseURL."""

from __future__ import annotations

import pytest
from test_alarms import RecordingCloudWatch
from uptime_relay import custom_resource
from uptime_relay_tools.testing.receivers import HttpReceiver

TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
IN_SCOPE = """
checks:
  - {name: api, url: 'https://api.example.com/health', headers: {Authorization: 'ssm:/uptime/api'}}
channels:
  pd: {type: pagerduty, routing_key: 'secretsmanager:uptime/pd'}
routes:
  - {match: {}, notify: [pd]}
"""
OUT_OF_SCOPE = IN_SCOPE.replace("ssm:/uptime/api", "env:API_TOKEN").replace("uptime/pd", "team/pd")


class Context:
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:s-alarms"
    log_stream_name = "2026/11/25/[$LATEST]abc"

    def get_remaining_time_in_millis(self):
        return 900_000


@pytest.fixture
def deployed(tmp_path, monkeypatch):
    """The reconciler's environment as template.yaml sets it, with a config file to edit."""
    cfg = tmp_path / "uptime.yaml"
    cfg.write_text(IN_SCOPE)
    monkeypatch.setenv("UPTIME_CONFIG", str(cfg))
    monkeypatch.delenv("CONFIG_LAYER_ARN", raising=False)
    monkeypatch.setenv("SECRETS_SSM_PREFIX", "/uptime/")
    monkeypatch.setenv("SECRETS_MANAGER_PREFIX", "uptime/")
    return cfg


def request(receiver, kind="Create", **props):
    event = {
        "RequestType": kind,
        "ResponseURL": receiver.url + "/cfn?X-Amz-Signature=x",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/guid",
        "RequestId": "r-1",
        "LogicalResourceId": "CheckAlarms",
        "ResourceProperties": {"TopicArn": TOPIC, "Prefix": "s", "Namespace": "N", **props},
    }
    if kind != "Create":
        event["PhysicalResourceId"] = "s-check-alarms"
    return event


def serve(event_for, cloudwatch):
    with HttpReceiver() as receiver:
        status = custom_resource.run(event_for(receiver), Context(), cloudwatch=cloudwatch)
        (put,) = receiver.to("/cfn")
    return status, put.json()


def test_a_config_within_the_stacks_secret_prefixes_deploys(deployed):
    cloudwatch = RecordingCloudWatch()
    status, body = serve(request, cloudwatch)
    assert status == body["Status"] == "SUCCESS"
    assert body["Data"]["Created"] == 1 and list(cloudwatch.alarms) == ["s-check-api"]


def test_the_deploy_fails_listing_every_reference_the_stack_cannot_read(deployed):
    deployed.write_text(OUT_OF_SCOPE)
    cloudwatch = RecordingCloudWatch()
    status, body = serve(lambda r: request(r, "Update"), cloudwatch)
    assert status == body["Status"] == "FAILED"
    reason = body["Reason"]
    assert reason.startswith("configuration refused: 2 secret reference(s) the stack cannot read")
    assert "checks[api].headers.Authorization: env:API_TOKEN" in reason
    assert "channels.pd.routing_key: secretsmanager:team/pd" in reason
    assert "Allowed: ssm:/uptime/... (SecretsSsmPrefix) and secretsmanager:uptime/..." in reason
    assert body["PhysicalResourceId"] == "s-check-alarms"  # an Update keeps its id
    assert cloudwatch.writes == []


def test_the_template_parameters_references_are_checked_too(deployed):
    status, body = serve(
        lambda r: request(
            r, AlertmanagerTokenRef="ssm:/am/token", PagerDutyWebhookSecretRef="ssm:/uptime/pd"
        ),
        RecordingCloudWatch(),
    )
    assert status == "FAILED"
    assert "parameter AlertmanagerTokenRef: ssm:/am/token" in body["Reason"]
    assert "PagerDutyWebhookSecretRef" not in body["Reason"]


def test_resource_properties_name_the_prefixes_before_the_environment(deployed):
    status, _ = serve(
        lambda r: request(r, SecretsSsmPrefix="/other/", SecretsManagerPrefix="uptime/"),
        RecordingCloudWatch(),
    )
    assert status == "FAILED"


def test_deleting_the_stack_is_never_blocked_by_the_secret_check(deployed):
    deployed.write_text(OUT_OF_SCOPE)
    cloudwatch = RecordingCloudWatch(
        {"s-check-old": {"AlarmName": "s-check-old", "Namespace": "N", "MetricName": "Availability"}}
    )
    status, body = serve(lambda r: request(r, "Delete"), cloudwatch)
    assert status == "SUCCESS" and body["Data"]["Deleted"] == 1


def test_without_prefixes_in_the_environment_nothing_is_checked(deployed, monkeypatch):
    monkeypatch.delenv("SECRETS_SSM_PREFIX")
    deployed.write_text(OUT_OF_SCOPE)
    status, _ = serve(request, RecordingCloudWatch())
    assert status == "SUCCESS"
