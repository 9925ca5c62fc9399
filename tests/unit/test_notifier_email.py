"""E-mail channel: rendering (escaping, ack links), SES raw MIME with an inline graph, SMTP, failures."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import Channel, Check
from uptime_relay.domain.alert import Alert, AlertSource, AlertState, MetricRef
from uptime_relay.notifiers.base import DeliveryError, Notification, NotificationKind
from uptime_relay.notifiers.email import EmailNotifier
from uptime_relay.notifiers.registry import make_notifiers
from uptime_relay_tools.testing.receivers import SmtpReceiver

EVENTS = Path(__file__).resolve().parents[2] / "events"
T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00fake-graph-bytes" * 8
ACK_URL = "https://actions.example.com/ack/eyJ0b2tlbiI6MX0.sig"
METRIC = MetricRef("UptimeRelay", "Availability", (("Check", "api"),), stat="MINIMUM", period=60)


def alarm(**kw) -> Alert:
    defaults = dict(
        source=AlertSource.CLOUDWATCH,
        id="arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-api-availability",
        name="uptime-api-availability",
        state=AlertState.ALARM,
        reason="2 of the last 3 probes failed",
        time=T0,
        labels={"alarm": "uptime-api-availability", "check": "api"},
        region="us-east-1",
        account="123456789012",
    )
    defaults.update(kw)
    return Alert(**defaults)


def note(kind=NotificationKind.TRIGGER, alerts=None, **kw) -> Notification:
    kw.setdefault("incident_id", "inc-42")
    kw.setdefault("opened_at", T0)
    return Notification(kind=kind, alerts=tuple(alerts or [alarm()]), **kw)


def email_channel(**options) -> Channel:
    return Channel(
        "oncall-email",
        "email",
        {"to": ("oncall@example.com", "lead@example.com"), "from": "alerts@example.com", **options},
    )


class FakeSes:
    """Records SendEmail calls; raises ``error`` instead when set."""

    def __init__(self, error: Exception | None = None):
        self.calls: list[dict] = []
        self.error = error

    def send_email(self, **kwargs):
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        return {"MessageId": f"msg-{len(self.calls)}"}

    def sent(self):
        return message_from_bytes(self.calls[-1]["Content"]["Raw"]["Data"], policy=policy.default)


class FakeCloudWatch:
    def __init__(self, image: bytes | None = PNG, error: Exception | None = None):
        self.widgets: list[dict] = []
        self.image = image
        self.error = error

    def get_metric_widget_image(self, MetricWidget, OutputFormat="png"):
        self.widgets.append(json.loads(MetricWidget))
        if self.error is not None:
            raise self.error
        return {"MetricWidgetImage": self.image}


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} happened"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "SendEmail",
    )


def inline_images(message) -> list:
    return [part for part in message.walk() if part.get_content_maintype() == "image"]


# ------------------------------------------------------------------------------- rendering
def test_the_render_shape_is_subject_text_html_to_from():
    [payload] = EmailNotifier().build_payloads(email_channel(subject_prefix="[uptime]"), note())

    assert set(payload) == {"subject", "text", "html", "to", "from"}
    assert payload["subject"] == "[uptime] [FIRING] uptime-api-availability"
    assert payload["to"] == ["oncall@example.com", "lead@example.com"]
    assert payload["from"] == "alerts@example.com"
    assert "2 of the last 3 probes failed" in payload["text"] and "Since:" in payload["text"]
    assert "2026-11-20 10:15:30 UTC" in payload["html"]


def test_alarm_text_is_html_escaped_everywhere_in_the_html_body():
    evil = alarm(
        name="api<script>alert(1)</script>",
        reason='<script>alert("reason")</script> & <img src=x onerror=alert(2)>',
        description="<b>desc</b>",
        labels={"check": "api", "runbook": "javascript:alert(3)"},
    )

    [payload] = EmailNotifier().build_payloads(email_channel(), note(alerts=[evil]))

    html = payload["html"]
    assert "<script>" not in html and "<img src=x" not in html and "<b>desc" not in html
    assert "&lt;script&gt;alert(&quot;reason&quot;)&lt;/script&gt; &amp; &lt;img src=x" in html
    assert "javascript:" not in html  # only http(s) links are rendered
    assert "<script>" in payload["text"]  # plain text is shown as is


def test_the_subject_is_one_line_even_when_the_alarm_name_has_newlines():
    sneaky = alarm(name="api\r\nBcc: victim@example.com")

    [payload] = EmailNotifier().build_payloads(email_channel(), note(alerts=[sneaky]))

    assert "\n" not in payload["subject"] and "\r" not in payload["subject"]


def test_the_ack_link_runbook_and_console_link_are_in_both_bodies_while_firing():
    check = Check(name="api", url="https://api.example.com/health", runbook="https://wiki.example.com/rb/api")

    [firing] = EmailNotifier().build_payloads(email_channel(), note(ack_url=ACK_URL, check=check))
    [resolved] = EmailNotifier().build_payloads(
        email_channel(), note(NotificationKind.RESOLVE, [alarm(state=AlertState.OK)], ack_url=ACK_URL)
    )

    for body in (firing["text"], firing["html"]):
        assert ACK_URL in body
        assert "https://wiki.example.com/rb/api" in body
        assert (
            "console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/uptime-api-availability"
            in body
        )
    assert f'href="{ACK_URL}"' in firing["html"]
    assert ACK_URL not in resolved["text"] and ACK_URL not in resolved["html"]
    assert resolved["subject"].startswith("[RESOLVED]")


def test_an_alertmanager_group_is_one_email_listing_the_alerts():
    from uptime_relay.intake import parse_event

    alerts = parse_event((EVENTS / "alertmanager-webhook-firing.json").read_text())

    payloads = EmailNotifier().build_payloads(email_channel(), note(alerts=alerts * 3))

    assert len(payloads) == 1
    assert "Alerts (3)" in payloads[0]["text"]
    assert "https://wiki.example.com/runbooks/high-error-rate" in payloads[0]["html"]


# ------------------------------------------------------------------------------- SES
def test_ses_sends_raw_mime_with_the_metric_graph_inline():
    ses, cloudwatch = FakeSes(), FakeCloudWatch()
    notifier = EmailNotifier(ses=ses, cloudwatch=cloudwatch)

    delivery = notifier.send(email_channel(), note(alerts=[alarm(metric=METRIC)]), StaticSecrets())

    [call] = ses.calls
    assert call["FromEmailAddress"] == "alerts@example.com"
    assert call["Destination"] == {"ToAddresses": ["oncall@example.com", "lead@example.com"]}
    message = ses.sent()
    assert message["Subject"] == "[FIRING] uptime-api-availability"
    [image] = inline_images(message)
    assert image.get_content() == PNG
    cid = image["Content-ID"].strip("<>")
    html_part = next(p for p in message.walk() if p.get_content_type() == "text/html")
    assert f'src="cid:{cid}"' in html_part.get_content()
    assert any(p.get_content_type() == "multipart/related" for p in message.walk())
    [widget] = cloudwatch.widgets
    assert widget["metrics"] == [["UptimeRelay", "Availability", "Check", "api", {"stat": "Minimum"}]]
    assert widget["region"] == "us-east-1" and widget["period"] == 60
    assert delivery.handles == {"message_id": "msg-1"}


def test_an_alert_without_a_metric_sends_no_graph_request():
    ses, cloudwatch = FakeSes(), FakeCloudWatch()

    EmailNotifier(ses=ses, cloudwatch=cloudwatch).send(email_channel(), note(), StaticSecrets())

    assert cloudwatch.widgets == []
    assert inline_images(ses.sent()) == []


def test_a_failing_graph_never_blocks_the_email(caplog):
    ses = FakeSes()
    cloudwatch = FakeCloudWatch(error=client_error("AccessDenied", 403))

    EmailNotifier(ses=ses, cloudwatch=cloudwatch).send(
        email_channel(), note(alerts=[alarm(metric=METRIC)]), StaticSecrets()
    )

    assert len(ses.calls) == 1
    assert inline_images(ses.sent()) == []
    assert "cid:" not in ses.sent().get_body(("html",)).get_content()
    assert "graph unavailable" in caplog.text


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (client_error("TooManyRequestsException", 429), False),
        (client_error("InternalFailure", 500), False),
        (EndpointConnectionError(endpoint_url="https://email.us-east-1.amazonaws.com"), False),
        (client_error("MessageRejected", 400), True),
        (client_error("BadRequestException", 400), True),
        (client_error("AccountSuspendedException", 400), True),
    ],
)
def test_ses_throttling_is_transient_and_rejections_are_permanent(error, permanent):
    notifier = EmailNotifier(ses=FakeSes(error=error), cloudwatch=FakeCloudWatch())

    with pytest.raises(DeliveryError) as caught:
        notifier.send(email_channel(), note(), StaticSecrets())

    assert caught.value.permanent is permanent


# ------------------------------------------------------------------------------- SMTP
def test_smtp_delivers_the_same_message_with_the_inline_graph():
    with SmtpReceiver() as smtp:
        channel = email_channel(smtp={"host": "127.0.0.1", "port": smtp.port, "timeout_s": 5.0})
        cloudwatch = FakeCloudWatch()

        delivery = EmailNotifier(cloudwatch=cloudwatch).send(
            channel, note(alerts=[alarm(metric=METRIC)], ack_url=ACK_URL), StaticSecrets()
        )

        [message] = smtp.messages
        assert smtp.envelopes == [("alerts@example.com", ["oncall@example.com", "lead@example.com"])]
        assert message["Subject"] == "[FIRING] uptime-api-availability"
        assert ACK_URL in message.get_body(("plain",)).get_content()
        assert len(inline_images(message)) == 1
        assert delivery.status == 250


def test_smtp_logs_in_with_the_password_from_its_secret_reference():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    seen: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((auth_data.login, auth_data.password))
        ok = auth_data.password == b"hunter2-from-ssm"
        return AuthResult(success=ok, handled=False)

    class Keep:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    port = _free_port()
    controller = Controller(
        Keep(), hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        options = {
            "host": "127.0.0.1",
            "port": port,
            "username": "relay",
            "password": "ssm:/uptime/smtp-password",
        }
        channel = email_channel(smtp=options)

        EmailNotifier().send(
            channel, note(), StaticSecrets({"ssm:/uptime/smtp-password": "hunter2-from-ssm"})
        )
        with pytest.raises(DeliveryError) as caught:
            EmailNotifier().send(
                channel, note(), StaticSecrets({"ssm:/uptime/smtp-password": "wrong-password"})
            )
    finally:
        controller.stop()

    assert seen[0] == (b"relay", b"hunter2-from-ssm")
    assert caught.value.permanent is True and caught.value.status == 535
    assert "wrong-password" not in str(caught.value)


@pytest.mark.parametrize(
    ("answer", "permanent"), [("451 4.3.0 try again later", False), ("554 5.7.1 rejected", True)]
)
def test_smtp_4xx_is_transient_and_5xx_is_permanent(answer, permanent):
    from aiosmtpd.controller import Controller

    class Refuse:
        async def handle_DATA(self, server, session, envelope):
            return answer

    port = _free_port()
    controller = Controller(Refuse(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        channel = email_channel(smtp={"host": "127.0.0.1", "port": port})
        with pytest.raises(DeliveryError) as caught:
            EmailNotifier().send(channel, note(), StaticSecrets())
    finally:
        controller.stop()

    assert caught.value.permanent is permanent
    assert caught.value.status == int(answer[:3])


def test_an_unreachable_smtp_server_is_transient():
    channel = email_channel(smtp={"host": "127.0.0.1", "port": _free_port(), "timeout_s": 2.0})

    with pytest.raises(DeliveryError) as caught:
        EmailNotifier().send(channel, note(), StaticSecrets())

    assert caught.value.permanent is False
    assert "connection failed" in str(caught.value)


# ------------------------------------------------------------------------------- registry
def test_the_registry_has_one_notifier_per_channel_type_and_creates_no_aws_client_up_front(monkeypatch):
    import boto3

    made: list[str] = []
    monkeypatch.setattr(boto3, "client", lambda service, **kw: made.append(service) or FakeSes())

    notifiers = make_notifiers(timeout_s=2.0)

    assert set(notifiers) == {"slack", "pagerduty", "email"}
    assert {name: n.groups_alerts for name, n in notifiers.items()} == {
        "slack": True,
        "pagerduty": False,
        "email": True,
    }
    assert all(n.type == name for name, n in notifiers.items())
    assert made == []
    notifiers["email"].send(email_channel(region="eu-west-1"), note(), StaticSecrets())
    assert made == ["sesv2"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# real boto3 against SES (moto server): tests/integration/test_ses.py


def test_every_mail_about_one_incident_threads_together_and_suppresses_auto_replies():
    ses = FakeSes()
    notifier = EmailNotifier(ses=ses, cloudwatch=FakeCloudWatch())

    notifier.send(email_channel(), note(), StaticSecrets())
    first = ses.sent()
    notifier.send(
        email_channel(), note(NotificationKind.RESOLVE, [alarm(state=AlertState.OK)]), StaticSecrets()
    )
    second = ses.sent()

    assert first["References"] == second["References"] == "<incident-inc-42@uptime-relay>"
    assert first["Message-ID"] != second["Message-ID"]
    assert first["Auto-Submitted"] == "auto-generated"


def test_a_resolve_of_part_of_a_group_says_how_many_still_fire():
    body = EmailNotifier(ses=FakeSes(), cloudwatch=FakeCloudWatch()).build_payloads(
        email_channel(),
        note(NotificationKind.RESOLVE, [alarm(state=AlertState.OK)], handles={"still_firing": 2}),
    )[0]
    assert "Still firing:" in body["text"] and "2 other alerts of this group" in body["text"]
