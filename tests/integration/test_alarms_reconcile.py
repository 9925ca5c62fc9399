"""Per-check alarms against a moto CloudWatch: the reconciler and the custom resource handler."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import zipfile
from pathlib import Path

import pytest
from uptime_relay import alarms, custom_resource, metricnames
from uptime_relay.config.loader import parse_config
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
NS = "UptimeRelay/test"


def config(text: str):
    return parse_config(text, "test.yaml")


TWO_CHECKS = """
checks:
  - name: api
    url: https://api.example.com/health
    labels: {severity: critical, team: platform}
    runbook: https://wiki.example.com/runbooks/api
  - name: web
    url: https://www.example.com/
"""


@pytest.fixture
def cloudwatch(aws):
    return aws("cloudwatch")


@pytest.fixture
def prefix(request):
    # a prefix per test: the moto server is shared by the session
    return "t" + str(abs(hash(request.node.name)) % 10**8)


def described(cloudwatch, prefix):
    return alarms.existing_alarms(cloudwatch, prefix, NS)


def test_it_creates_one_alarm_per_check_watching_availability(cloudwatch, prefix):
    desired = alarms.desired_alarms(config(TWO_CHECKS), namespace=NS, topic_arn=TOPIC, prefix=prefix)

    changes = alarms.reconcile(cloudwatch, desired, prefix)

    assert sorted(changes.created) == [f"{prefix}-check-api", f"{prefix}-check-web"]
    api = described(cloudwatch, prefix)[f"{prefix}-check-api"]
    assert api["MetricName"] == metricnames.AVAILABILITY and api["Namespace"] == NS
    assert api["Dimensions"] == [{"Name": metricnames.CHECK_DIMENSION, "Value": "api"}]
    assert (api["Statistic"], api["Period"], api["Threshold"]) == ("Minimum", 60, 1.0)
    assert api["ComparisonOperator"] == "LessThanThreshold"
    assert (api["DatapointsToAlarm"], api["EvaluationPeriods"]) == (2, 3)
    assert api["AlarmActions"] == api["OKActions"] == api["InsufficientDataActions"] == [TOPIC]
    assert "https://wiki.example.com/runbooks/api" in api["AlarmDescription"]
    tags = {
        t["Key"]: t["Value"] for t in cloudwatch.list_tags_for_resource(ResourceARN=api["AlarmArn"])["Tags"]
    }
    assert tags["uptime-relay:check"] == "api" and tags["severity"] == "critical"


def test_it_leaves_identical_alarms_untouched(cloudwatch, prefix):
    desired = alarms.desired_alarms(config(TWO_CHECKS), namespace=NS, topic_arn=TOPIC, prefix=prefix)
    alarms.reconcile(cloudwatch, desired, prefix)

    again = alarms.reconcile(cloudwatch, desired, prefix)

    assert not again.changed
    assert sorted(again.unchanged) == [f"{prefix}-check-api", f"{prefix}-check-web"]


def test_it_updates_an_alarm_when_its_m_of_n_changes(cloudwatch, prefix):
    alarms.reconcile(
        cloudwatch,
        alarms.desired_alarms(config(TWO_CHECKS), namespace=NS, topic_arn=TOPIC, prefix=prefix),
        prefix,
    )
    stricter = TWO_CHECKS.replace(
        "runbook: https://wiki.example.com/runbooks/api",
        "runbook: https://wiki.example.com/runbooks/api\n    alarm: {datapoints: 4, evaluation_periods: 5}",
    )

    changes = alarms.reconcile(
        cloudwatch,
        alarms.desired_alarms(config(stricter), namespace=NS, topic_arn=TOPIC, prefix=prefix),
        prefix,
    )

    assert changes.updated == [f"{prefix}-check-api"] and changes.unchanged == [f"{prefix}-check-web"]
    api = described(cloudwatch, prefix)[f"{prefix}-check-api"]
    assert (api["DatapointsToAlarm"], api["EvaluationPeriods"]) == (4, 5)


def test_it_retags_an_alarm_when_labels_change(cloudwatch, prefix):
    alarms.reconcile(
        cloudwatch,
        alarms.desired_alarms(config(TWO_CHECKS), namespace=NS, topic_arn=TOPIC, prefix=prefix),
        prefix,
    )
    relabelled = TWO_CHECKS.replace("severity: critical, team: platform", "severity: warning")

    changes = alarms.reconcile(
        cloudwatch,
        alarms.desired_alarms(config(relabelled), namespace=NS, topic_arn=TOPIC, prefix=prefix),
        prefix,
    )

    assert changes.updated == [f"{prefix}-check-api"]
    arn = described(cloudwatch, prefix)[f"{prefix}-check-api"]["AlarmArn"]
    tags = {t["Key"]: t["Value"] for t in cloudwatch.list_tags_for_resource(ResourceARN=arn)["Tags"]}
    assert tags["severity"] == "warning" and "team" not in tags


def test_it_deletes_the_alarm_of_a_removed_check_and_spares_other_stacks(cloudwatch, prefix):
    alarms.reconcile(
        cloudwatch,
        alarms.desired_alarms(config(TWO_CHECKS), namespace=NS, topic_arn=TOPIC, prefix=prefix),
        prefix,
    )
    # another stack named "<prefix>-check-x" has alarms that start with our prefix, on its own namespace
    other = alarms.desired_alarms(
        config(TWO_CHECKS), namespace="UptimeRelay/other", topic_arn=TOPIC, prefix=f"{prefix}-check-x"
    )
    alarms.reconcile(cloudwatch, other, f"{prefix}-check-x")
    only_api = TWO_CHECKS.split("  - name: web")[0]

    changes = alarms.reconcile(
        cloudwatch,
        alarms.desired_alarms(config(only_api), namespace=NS, topic_arn=TOPIC, prefix=prefix),
        prefix,
    )

    assert changes.deleted == [f"{prefix}-check-web"]
    assert list(described(cloudwatch, prefix)) == [f"{prefix}-check-api"]
    assert len(alarms.existing_alarms(cloudwatch, f"{prefix}-check-x", "UptimeRelay/other")) == 2


# --------------------------------------------------------------------------------------- custom resource
def load_handler():
    spec = importlib.util.spec_from_file_location("alarms_app", ROOT / "functions" / "alarms" / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["alarms_app"] = module
    spec.loader.exec_module(module)
    return module


class Context:
    function_name = "uptime-relay-alarms"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:uptime-relay-alarms"
    aws_request_id = "req-1"
    log_stream_name = "2026/11/25/[$LATEST]abc"


def cfn_event(receiver, request_type, prefix, **props):
    return {
        "RequestType": request_type,
        "ResponseURL": receiver.url + "/cfn-response?X-Amz-Signature=x",
        "StackId": f"arn:aws:cloudformation:us-east-1:123456789012:stack/{prefix}/guid",
        "RequestId": "request-1",
        "ResourceType": "Custom::CheckAlarms",
        "LogicalResourceId": "CheckAlarms",
        "ResourceProperties": {
            "ServiceToken": "arn:fn",
            "TopicArn": TOPIC,
            "Prefix": prefix,
            "Namespace": NS,
            **props,
        },
    }


@pytest.fixture
def handler(aws, tmp_path, monkeypatch):
    cfg = tmp_path / "uptime.yaml"
    cfg.write_text(TWO_CHECKS)
    monkeypatch.setenv("UPTIME_CONFIG", str(cfg))
    monkeypatch.delenv("CONFIG_LAYER_ARN", raising=False)
    monkeypatch.setenv("SECRETS_SSM_PREFIX", "/uptime/")
    monkeypatch.setenv("SECRETS_MANAGER_PREFIX", "uptime/")
    module = load_handler()
    module._cloudwatch.cache_clear()
    return module, cfg


def test_the_custom_resource_reconciles_and_reports_success(handler, cloudwatch, prefix):
    module, _ = handler
    with HttpReceiver() as receiver:
        module.lambda_handler(cfn_event(receiver, "Create", prefix), Context())
        (put,) = receiver.to("/cfn-response")
    body = put.json()
    assert put.method == "PUT"
    assert body["Status"] == "SUCCESS" and body["Data"]["Created"] == 2
    assert body["PhysicalResourceId"] == f"{prefix}-check-alarms" and body["RequestId"] == "request-1"
    assert len(described(cloudwatch, prefix)) == 2


def test_the_custom_resource_reports_failure_with_the_config_errors(handler, cloudwatch, prefix):
    module, cfg = handler
    cfg.write_text("checks:\n  - name: Bad Name\n    url: ftp://x\n")
    with HttpReceiver() as receiver:
        module.lambda_handler(cfn_event(receiver, "Update", prefix), Context())
        (put,) = receiver.to("/cfn-response")
    body = put.json()
    assert body["Status"] == "FAILED"
    assert "configuration invalid" in body["Reason"] and "checks[0].name" in body["Reason"]
    assert described(cloudwatch, prefix) == {}


def test_the_custom_resource_still_answers_when_the_response_url_fails_once(handler, prefix):
    module, _ = handler
    with HttpReceiver() as receiver:
        receiver.script("/cfn-response", Reply(503))
        module.lambda_handler(cfn_event(receiver, "Create", prefix), Context())
        puts = receiver.to("/cfn-response")
    assert [json.loads(p.body)["Status"] for p in puts] == ["SUCCESS", "SUCCESS"]


def test_deleting_the_custom_resource_removes_every_check_alarm(handler, cloudwatch, prefix):
    module, _ = handler
    with HttpReceiver() as receiver:
        module.lambda_handler(cfn_event(receiver, "Create", prefix), Context())
        delete = cfn_event(receiver, "Delete", prefix)
        delete["PhysicalResourceId"] = f"{prefix}-check-alarms"
        module.lambda_handler(delete, Context())
        statuses = [p.json()["Status"] for p in receiver.to("/cfn-response")]
    assert statuses == ["SUCCESS", "SUCCESS"]
    assert described(cloudwatch, prefix) == {}


class FakeLambda:
    """The one Lambda call the reconciler makes on a rollback, answered with a receiver URL."""

    def __init__(self, url):
        self.url = url
        self.asked = []

    def get_layer_version_by_arn(self, Arn):
        self.asked.append(Arn)
        return {"LayerVersionArn": Arn, "Content": {"Location": self.url}}


def test_on_rollback_it_reconciles_from_the_earlier_config_layer_version(
    handler, cloudwatch, prefix, monkeypatch
):
    _module, _ = handler  # the mounted (new) config has two checks
    monkeypatch.setenv("CONFIG_LAYER_ARN", "arn:aws:lambda:us-east-1:123456789012:layer:s-config:2")
    old_zip = io.BytesIO()
    with zipfile.ZipFile(old_zip, "w") as archive:
        archive.writestr("uptime.yaml", TWO_CHECKS.split("  - name: web")[0])
    with HttpReceiver() as receiver:
        receiver.script("/layer.zip", Reply(200, old_zip.getvalue()))
        fake = FakeLambda(receiver.url + "/layer.zip")
        event = cfn_event(
            receiver,
            "Update",
            prefix,
            ConfigLayerArn="arn:aws:lambda:us-east-1:123456789012:layer:s-config:1",
        )
        _, data = custom_resource.handle(event, cloudwatch, lambda_client=fake)
    assert fake.asked == ["arn:aws:lambda:us-east-1:123456789012:layer:s-config:1"]
    assert data["Created"] == 1
    assert list(described(cloudwatch, prefix)) == [f"{prefix}-check-api"]


class ShortContext(Context):
    """A Lambda context whose time budget runs out after ``calls`` checks of the clock."""

    def __init__(self, calls):
        self.calls = calls

    def get_remaining_time_in_millis(self):
        self.calls -= 1
        return 600_000 if self.calls >= 0 else 1_000


class InvokeRecorder:
    def __init__(self):
        self.invocations = []

    def invoke(self, FunctionName, InvocationType, Payload):
        self.invocations.append((FunctionName, InvocationType, json.loads(Payload)))
        return {"StatusCode": 202}


def test_when_time_runs_out_it_continues_in_a_fresh_invocation_before_answering(handler, cloudwatch, prefix):
    module, _ = handler
    recorder = InvokeRecorder()
    with HttpReceiver() as receiver:
        first = cfn_event(receiver, "Create", prefix)
        module.lambda_handler(first, ShortContext(calls=1), lambda_client=recorder)
        assert receiver.to("/cfn-response") == []  # CloudFormation is not answered yet
        assert len(described(cloudwatch, prefix)) == 1
        ((function, kind, payload),) = recorder.invocations
        assert (function, kind) == (Context.invoked_function_arn, "Event")
        assert payload["UptimeRelayContinuation"] == 1 and payload["RequestId"] == first["RequestId"]

        module.lambda_handler(payload, ShortContext(calls=100), lambda_client=recorder)
        (put,) = receiver.to("/cfn-response")
    assert put.json()["Status"] == "SUCCESS" and put.json()["Data"]["Created"] == 1
    assert len(described(cloudwatch, prefix)) == 2


def test_it_gives_up_with_a_reason_after_an_hour_of_continuations(handler, prefix):
    module, _ = handler
    recorder = InvokeRecorder()
    with HttpReceiver() as receiver:
        event = cfn_event(receiver, "Create", prefix)
        event["UptimeRelayContinuation"] = custom_resource.MAX_CONTINUATIONS
        module.lambda_handler(event, ShortContext(calls=0), lambda_client=recorder)
        (put,) = receiver.to("/cfn-response")
    assert recorder.invocations == []
    assert put.json()["Status"] == "FAILED" and "deploy again" in put.json()["Reason"]


OUT_OF_SCOPE = """
checks:
  - name: api
    url: https://api.example.com/health
    headers: {Authorization: ssm:/uptime/api-token}
channels:
  pd: {type: pagerduty, routing_key: ssm:/team/pd, webhook_secret: secretsmanager:uptime/pd-webhook}
  ops: {type: slack, webhook_url: secretsmanager:team/slack}
routes:
  - {match: {}, notify: [pd, ops]}
"""


def test_a_config_naming_secrets_the_stack_cannot_read_fails_the_deploy_and_creates_no_alarm(
    handler, cloudwatch, prefix
):
    module, cfg = handler
    cfg.write_text(OUT_OF_SCOPE)
    with HttpReceiver() as receiver:
        module.lambda_handler(cfn_event(receiver, "Update", prefix), Context())
        (put,) = receiver.to("/cfn-response")
    body = put.json()
    assert body["Status"] == "FAILED"
    assert "channels.pd.routing_key: ssm:/team/pd" in body["Reason"]
    assert "channels.ops.webhook_url: secretsmanager:team/slack" in body["Reason"]
    assert "ssm:/uptime/api-token" not in body["Reason"] and "uptime/pd-webhook" not in body["Reason"]
    assert "ssm:/uptime/..." in body["Reason"] and "secretsmanager:uptime/..." in body["Reason"]
    assert described(cloudwatch, prefix) == {}


def test_a_rollback_to_an_earlier_config_with_such_secrets_is_not_refused(
    handler, cloudwatch, prefix, monkeypatch
):
    module, _ = handler
    monkeypatch.setenv("CONFIG_LAYER_ARN", "arn:aws:lambda:us-east-1:123456789012:layer:s-config:2")
    old_zip = io.BytesIO()
    with zipfile.ZipFile(old_zip, "w") as archive:
        archive.writestr("uptime.yaml", OUT_OF_SCOPE)
    with HttpReceiver() as receiver:
        receiver.script("/layer.zip", Reply(200, old_zip.getvalue()))
        event = cfn_event(
            receiver,
            "Update",
            prefix,
            ConfigLayerArn="arn:aws:lambda:us-east-1:123456789012:layer:s-config:1",
        )
        module.lambda_handler(event, Context(), lambda_client=FakeLambda(receiver.url + "/layer.zip"))
        (put,) = receiver.to("/cfn-response")
    assert put.json()["Status"] == "SUCCESS"
    assert list(described(cloudwatch, prefix)) == [f"{prefix}-check-api"]
