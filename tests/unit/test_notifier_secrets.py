"""A secret reference that cannot be resolved: wrong references are dead-lettered at once with an
error naming the reference; throttling and network trouble are retried like any transient failure.

GIVEN channels of every type whose secret is a reference, WHEN the reference does not exist
(SSM ParameterNotFound, Secrets Manager ResourceNotFoundException, an unset environment variable,
a malformed reference) THEN the dispatcher tries once, never waits, and dead-letters a record that
names the reference; WHEN SSM throttles or the network fails THEN it backs off and tries 4 times.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import SecretError, SecretResolver
from uptime_relay.config import Channel, Config
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.notifiers.base import Notification, NotificationKind
from uptime_relay.notifiers.registry import make_notifiers
from uptime_relay_tools.testing.receivers import HttpReceiver, SmtpReceiver

ALERT = Alert(
    source=AlertSource.CLOUDWATCH,
    id="arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-api",
    name="uptime-api",
    state=AlertState.ALARM,
    reason="Threshold Crossed",
    time=datetime(2026, 11, 20, 10, 15, tzinfo=UTC),
    labels={"check": "api"},
)
NOTE = Notification(NotificationKind.TRIGGER, (ALERT,), incident_id="inc-1", opened_at=ALERT.time)


def config_with(channel_yaml: str) -> Config:
    return parse_config(f"channels:\n  target: {channel_yaml}\nroutes:\n  - notify: [target]\n")


def dispatch(config: Config, resolver) -> tuple[object, InMemoryDeadLetters, list[float]]:
    sleeps: list[float] = []
    dead = InMemoryDeadLetters()
    dispatcher = Dispatcher(
        config, make_notifiers(timeout_s=2.0), resolver, dead, sleep=sleeps.append, rng=random.Random(3)
    )
    return dispatcher.deliver("target", NOTE), dead, sleeps


@pytest.fixture
def receiver():
    with HttpReceiver() as http:
        yield http


@pytest.fixture
def smtp():
    with SmtpReceiver() as server:
        yield server


def channels(http_url: str, smtp_port: int, reference: str) -> dict[str, str]:
    return {
        "slack webhook": f"{{type: slack, webhook_url: '{reference}'}}",
        "slack bot": f"{{type: slack, bot_token: '{reference}', channel: C1, api_url: '{http_url}/api'}}",
        "pagerduty": f"{{type: pagerduty, routing_key: '{reference}', events_url: '{http_url}/v2/enqueue'}}",
        "email": (
            f"{{type: email, to: [ops@example.com], from: relay@example.com,"
            f" smtp: {{host: 127.0.0.1, port: {smtp_port}, username: '{reference}', password: pw}}}}"
        ),
    }


@pytest.mark.parametrize("kind", ["slack webhook", "slack bot", "pagerduty", "email"])
def test_an_unset_environment_variable_is_dead_lettered_at_once_naming_the_reference(kind, receiver, smtp):
    reference = "env:UPTIME_NO_SUCH_VARIABLE"
    config = config_with(channels(receiver.url, smtp.port, reference)[kind])
    outcome, dead, sleeps = dispatch(config, SecretResolver(environ={}))
    assert outcome.dead_lettered and outcome.attempts == 1 and sleeps == []
    assert reference in outcome.error and "not set" in outcome.error
    assert len(dead) == 1 and reference in dead.records[0]["error"]
    assert receiver.requests == [] and smtp.messages == []


def ssm_resolver(stub_errors: list[str]) -> SecretResolver:
    client = boto3.client(
        "ssm", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    stubber = Stubber(client)
    for code in stub_errors:
        stubber.add_client_error("get_parameter", service_error_code=code, http_status_code=400)
    stubber.activate()
    return SecretResolver(ssm_client=client)


def test_a_missing_ssm_parameter_is_dead_lettered_at_once(receiver, smtp):
    config = config_with(channels(receiver.url, smtp.port, "ssm:/uptime/pagerduty/key")["pagerduty"])
    outcome, dead, sleeps = dispatch(config, ssm_resolver(["ParameterNotFound"]))
    assert outcome.dead_lettered and outcome.attempts == 1 and sleeps == []
    assert "ssm:/uptime/pagerduty/key" in outcome.error and "ParameterNotFound" in outcome.error
    assert len(dead) == 1
    assert receiver.requests == []


def test_a_missing_secrets_manager_secret_is_dead_lettered_at_once(receiver, smtp):
    client = boto3.client(
        "secretsmanager",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stubber = Stubber(client)
    stubber.add_client_error(
        "get_secret_value", service_error_code="ResourceNotFoundException", http_status_code=400
    )
    stubber.activate()
    config = config_with(channels(receiver.url, smtp.port, "secretsmanager:uptime/slack-bot")["slack bot"])
    outcome, _, sleeps = dispatch(config, SecretResolver(secrets_client=client))
    assert outcome.dead_lettered and outcome.attempts == 1 and sleeps == []
    assert "secretsmanager:uptime/slack-bot" in outcome.error and "ResourceNotFoundException" in outcome.error


def test_ssm_throttling_is_retried_with_backoff_then_dead_lettered(receiver, smtp):
    config = config_with(channels(receiver.url, smtp.port, "ssm:/uptime/slack/hook")["slack webhook"])
    outcome, dead, sleeps = dispatch(config, ssm_resolver(["ThrottlingException"] * 4))
    assert outcome.dead_lettered and outcome.attempts == 4 and len(sleeps) == 3
    assert sleeps == sorted(sleeps) and "ThrottlingException" in outcome.error
    assert len(dead) == 1


def test_a_throttled_lookup_that_then_succeeds_delivers(receiver, smtp):
    client = boto3.client(
        "ssm", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    stubber = Stubber(client)
    stubber.add_client_error("get_parameter", service_error_code="ThrottlingException", http_status_code=400)
    stubber.add_response(
        "get_parameter",
        {"Parameter": {"Name": "/uptime/pd", "Type": "SecureString", "Value": "r" * 32, "Version": 1}},
    )
    stubber.activate()
    config = config_with(channels(receiver.url, smtp.port, "ssm:/uptime/pd")["pagerduty"])
    outcome, dead, sleeps = dispatch(config, SecretResolver(ssm_client=client))
    assert outcome.ok and outcome.attempts == 2 and len(sleeps) == 1 and len(dead) == 0
    (event,) = [r.json() for r in receiver.to("/v2/enqueue")]
    assert event["routing_key"] == "r" * 32


class Unreachable:
    """An SSM client whose endpoint cannot be reached."""

    def get_parameter(self, **_):
        raise EndpointConnectionError(endpoint_url="https://ssm.us-east-1.amazonaws.com/")


def test_a_network_error_reading_a_secret_is_transient():
    resolver = SecretResolver(ssm_client=Unreachable())
    with pytest.raises(SecretError) as caught:
        resolver.resolve("ssm:/uptime/slack/hook")
    assert caught.value.permanent is False and "ssm:/uptime/slack/hook" in str(caught.value)


def test_a_malformed_reference_is_permanent_and_names_the_reference(receiver, smtp):
    # parse_config refuses a malformed reference; one built in code (or an old config) still is
    base = config_with(channels(receiver.url, smtp.port, "env:X")["pagerduty"])
    channel = base.channels["target"]
    broken = Channel(channel.name, channel.type, {**channel.options, "routing_key": "env:not a name"})
    config = parse_config("channels:\n  target: {type: pagerduty, routing_key: env:X}\n")
    config.channels["target"] = broken
    outcome, _, sleeps = dispatch(config, SecretResolver(environ={"X": "y"}))
    assert outcome.dead_lettered and outcome.attempts == 1 and sleeps == []
    assert "env:not a name" in outcome.error


def test_the_error_never_contains_a_resolved_value():
    resolver = SecretResolver(environ={"PD_KEY": "s3cr3t-value"})
    with pytest.raises(SecretError) as caught:
        resolver.resolve("env:PD_KEY_MISSING")
    assert "s3cr3t-value" not in str(caught.value) and caught.value.permanent
