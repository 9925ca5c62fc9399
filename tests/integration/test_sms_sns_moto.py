"""SMS pages through SNS ``Publish`` with ``PhoneNumber`` against a moto server: botocore checks
each request against the SNS service model before it leaves, moto records the text."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns import sns_backends
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import Channel
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.notifiers.base import DeliveryError, Notification, NotificationKind
from uptime_relay.notifiers.registry import make_notifiers

pytestmark = pytest.mark.integration
REGION = "us-east-1"


def page() -> Notification:
    alert = Alert(
        source=AlertSource.CLOUDWATCH,
        id="arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-api-availability",
        name="uptime-api-availability",
        state=AlertState.ALARM,
        reason="2 of the last 3 probes failed",
        time=datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC),
        labels={"check": "api", "severity": "critical"},
    )
    return Notification(NotificationKind.TRIGGER, (alert,), incident_id="inc-0123456789abcdef0123")


def texts() -> list[tuple[str, str]]:
    return list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())


def test_a_page_is_published_to_each_phone_number_through_sns(aws):
    """GIVEN an sms channel and the moto server as SNS WHEN a page is sent through the registry's
    notifier (boto3 from the environment, as in Lambda) THEN SNS holds one text per number."""
    before = len(texts())
    channel = Channel("phones", "sms", {"to": ("+15555550100", "+447700900123"), "sender_id": "Uptime"})
    delivery = make_notifiers()["sms"].send(channel, page(), StaticSecrets())
    sent = texts()[before:]
    assert [number for number, _ in sent] == ["+15555550100", "+447700900123"]
    assert all(message.startswith("FIRING: uptime-api-availability") for _, message in sent)
    assert all(len(message) <= 160 for _, message in sent)
    assert len(delivery.handles["message_ids"]) == 2


def test_a_request_sns_would_refuse_fails_permanently(aws):
    """A message attribute of the wrong shape is caught by botocore's model check: not retried."""
    client = boto3.client("sns", region_name=REGION)
    from uptime_relay.notifiers.sms import _publish

    with pytest.raises(DeliveryError) as refused:
        _publish(client, {"PhoneNumber": "+15555550100", "Message": "x", "MessageAttributes": {"A": "b"}})
    assert refused.value.permanent
