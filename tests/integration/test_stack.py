"""template.yaml translated and created in moto: the local stack holds what the template declares."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest
from uptime_relay_tools.local.cloudformation import create_stack, translate_template

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def translated():
    return translate_template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def aws_clients(moto_endpoint):
    def client(service):
        return boto3.client(service, region_name="us-east-1", endpoint_url=moto_endpoint)

    return client


@pytest.fixture(scope="module")
def stack(aws_clients, translated):
    """One stack for the module's read-only assertions (creating it takes about a second)."""
    aws = aws_clients
    name = f"uptime-relay-{uuid.uuid4().hex[:6]}"
    created = create_stack(
        aws("cloudformation"),
        translated,
        name,
        {"AlertEmail": "oncall@example.com", "MetricsNamespace": f"UptimeRelay/{name}"},
        clients=aws,
        actions_url="http://127.0.0.1:8080/",
    )
    return created


def test_the_table_has_the_due_and_listing_indexes_and_ttl(aws, stack):
    ddb = aws("dynamodb")
    table = ddb.describe_table(TableName=stack.outputs["TableName"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    indexes = {
        g["IndexName"]: [k["AttributeName"] for k in g["KeySchema"]] for g in table["GlobalSecondaryIndexes"]
    }
    assert indexes == {"due": ["due_pk", "due_at"], "listing": ["list_pk", "list_at"]}
    ttl = ddb.describe_time_to_live(TableName=stack.outputs["TableName"])["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"


def test_topics_exist_and_the_emergency_topic_mails_the_operator(aws, stack):
    sns = aws("sns")
    arns = {t["TopicArn"] for t in sns.list_topics()["Topics"]}
    assert {stack.outputs["AlertTopicArn"], stack.outputs["EmergencyTopicArn"]} <= arns
    subs = sns.list_subscriptions_by_topic(TopicArn=stack.outputs["EmergencyTopicArn"])["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "oncall@example.com")]
    # the relay's subscription is delivered in-process by the local runner, not by moto
    assert stack.lambda_subscriptions == [(stack.outputs["AlertTopicArn"], "RelayFunction")]


def test_dead_letter_queues_keep_messages_fourteen_days(aws, stack):
    sqs = aws("sqs")
    for output in ("NotificationDeadLetterQueueUrl", "AlertDeadLetterQueueUrl"):
        attrs = sqs.get_queue_attributes(QueueUrl=stack.outputs[output], AttributeNames=["All"])["Attributes"]
        assert attrs["MessageRetentionPeriod"] == str(14 * 86400)


def test_self_monitoring_alarms_page_the_emergency_topic(aws, stack):
    found = aws("cloudwatch").describe_alarms(AlarmNamePrefix=f"{stack.stack_name}-")["MetricAlarms"]
    by_name = {a["AlarmName"]: a for a in found}
    probe = by_name[f"{stack.stack_name}-probe-not-running"]
    assert probe["TreatMissingData"] == "breaching"
    assert probe["Namespace"] == f"UptimeRelay/{stack.stack_name}"
    relay_errors = by_name[f"{stack.stack_name}-relay-errors"]
    assert relay_errors["Dimensions"] == [{"Name": "FunctionName", "Value": f"{stack.stack_name}-relay"}]
    assert len(by_name) == 12  # ChannelFailingAlarm (issue 13) is the 11th, ChecksNotProbed (16) the 12th
    for alarm in by_name.values():
        assert alarm["AlarmActions"] == [stack.outputs["EmergencyTopicArn"]]


def test_functions_get_lambdas_environment_with_every_reference_resolved(aws, stack):
    relay = stack.function("relay")
    assert relay.code_path == "functions/relay" and relay.handler == "app.lambda_handler"
    assert relay.environment["TABLE_NAME"] == stack.outputs["TableName"]
    assert relay.environment["DLQ_URL"] == stack.outputs["NotificationDeadLetterQueueUrl"]
    assert relay.environment["ACTIONS_URL"] == "http://127.0.0.1:8080"
    ref = relay.environment["ACK_SECRET_REF"]
    assert ref == f"secretsmanager:{stack.outputs['AckSigningSecretArn']}"
    secret = aws("secretsmanager").get_secret_value(SecretId=ref.removeprefix("secretsmanager:"))
    assert len(secret["SecretString"]) == 64
    assert stack.function("alarms").environment["ALERT_TOPIC_ARN"] == stack.outputs["AlertTopicArn"]
    assert stack.function("probe").timeout_s <= 75  # a fast shard's last round ends at :60
    assert stack.outputs["SlackInteractivityUrl"] == "http://127.0.0.1:8080/slack/actions"


def test_without_an_alert_email_no_subscription_is_made(aws, translated):
    name = f"uptime-relay-{uuid.uuid4().hex[:6]}"
    created = create_stack(aws("cloudformation"), translated, name, {}, clients=aws)
    subs = aws("sns").list_subscriptions_by_topic(TopicArn=created.outputs["EmergencyTopicArn"])
    assert subs["Subscriptions"] == []
    assert "EmergencyEmailSubscription" not in created.resources


def test_the_reconciler_knows_the_granted_secret_prefixes_and_webhook_secrets_are_opt_in(stack):
    alarms = stack.function("alarms").environment
    assert (alarms["SECRETS_SSM_PREFIX"], alarms["SECRETS_MANAGER_PREFIX"]) == ("/uptime/", "uptime/")
    actions = stack.function("actions").environment
    # no token configured: the actions function refuses /alertmanager calls (401)
    assert actions.get("ALERTMANAGER_TOKEN_REF", "") == ""
    assert actions.get("PAGERDUTY_WEBHOOK_SECRET_REF", "") == ""
