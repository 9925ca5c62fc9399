"""E-mail through SES v2 for real: a boto3 ``sesv2`` client talking HTTP to the moto server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import Channel
from uptime_relay.domain.alert import Alert, AlertSource, AlertState, MetricRef
from uptime_relay.notifiers.base import DeliveryError, Notification, NotificationKind
from uptime_relay.notifiers.email import EmailNotifier

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00fake-graph-bytes" * 8
METRIC = MetricRef("UptimeRelay", "Availability", (("Check", "api"),), stat="MINIMUM", period=60)
SENDER = "alerts@example.com"


class FakeCloudWatch:
    def get_metric_widget_image(self, MetricWidget, OutputFormat="png"):
        json.loads(MetricWidget)
        return {"MetricWidgetImage": PNG}


def note(**kw) -> Notification:
    alert = Alert(
        source=AlertSource.CLOUDWATCH,
        id="arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-api-availability",
        name="uptime-api-availability",
        state=AlertState.ALARM,
        reason="2 of the last 3 probes failed",
        time=T0,
        labels={"alarm": "uptime-api-availability", "check": "api"},
        region="us-east-1",
        metric=METRIC,
    )
    return Notification(NotificationKind.TRIGGER, (alert,), incident_id="inc-42", opened_at=T0, **kw)


def channel(sender: str = SENDER) -> Channel:
    return Channel(
        "oncall-email", "email", {"to": ("oncall@example.com", "lead@example.com"), "from": sender}
    )


@pytest.fixture
def ses(aws):
    client = aws("sesv2")
    try:
        client.create_email_identity(EmailIdentity=SENDER)
    except client.exceptions.AlreadyExistsException:
        pass
    return client


def sent_last_24h(aws) -> float:
    """What SES itself reports as sent (over HTTP)."""
    return aws("ses").get_send_quota()["SentLast24Hours"]


def sent_messages():
    """The moto server runs in this process (ThreadedMotoServer): its SES backend is readable."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages


def test_a_real_sesv2_client_accepts_the_raw_message_with_its_inline_graph(aws, ses):
    before, sent_before = sent_last_24h(aws), len(sent_messages())

    delivery = EmailNotifier(ses=ses, cloudwatch=FakeCloudWatch()).send(channel(), note(), StaticSecrets())

    assert sent_last_24h(aws) > before and delivery.handles["message_id"]
    [sent] = sent_messages()[sent_before:]
    message = message_from_bytes(sent.raw_data.encode(), policy=policy.default)
    assert set(sent.destinations) == {"oncall@example.com", "lead@example.com"}
    assert message["Subject"] == "[FIRING] uptime-api-availability"
    assert [p for p in message.walk() if p.get_content_maintype() == "image"]


def test_an_unverified_sender_is_rejected_permanently_by_ses(aws, ses):
    before = sent_last_24h(aws)
    with pytest.raises(DeliveryError) as caught:
        EmailNotifier(ses=ses, cloudwatch=FakeCloudWatch()).send(
            channel("nobody@unverified.example"), note(), StaticSecrets()
        )

    assert caught.value.permanent is True
    assert "MessageRejected" in str(caught.value)
    assert sent_last_24h(aws) == before


def test_the_registry_notifier_finds_ses_through_aws_endpoint_url(aws, ses):
    from uptime_relay.notifiers.registry import make_notifiers

    before = sent_last_24h(aws)
    make_notifiers(cloudwatch=FakeCloudWatch())["email"].send(channel(), note(), StaticSecrets())
    assert sent_last_24h(aws) > before
