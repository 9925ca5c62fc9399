"""E-mail: plain text + HTML, through Amazon SES (v2, raw MIME) or an SMTP server.

One e-mail per Notification: a whole Alertmanager body is one mail; one with firing and
resolved alerts is titled ``[FIRING:n]`` and lists the resolved ones under "Resolved".

When the alert names one metric, a graph of it (CloudWatch ``GetMetricWidgetImage``) is attached
inline (``multipart/related`` with a ``cid:`` image). Fetching the graph is best effort: if it
fails the e-mail goes out without it. Every piece of alarm text is HTML-escaped.
"""

from __future__ import annotations

import html
import json
import logging
import re
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from .. import clock
from ..config import Channel
from ..domain.alert import Alert
from ..redaction import redact
from . import aws, content
from . import format as fmt
from .base import Delivery, DeliveryError, Notification, NotificationKind, SecretResolver

log = logging.getLogger(__name__)

MAX_SUBJECT = 200
MAX_LISTED_ALERTS = 20
GRAPH_CID_DOMAIN = "uptime-relay"
GRAPH_WIDTH, GRAPH_HEIGHT = 600, 300

SES_TRANSIENT = frozenset(
    {
        "TooManyRequestsException",
        "Throttling",
        "ThrottlingException",
        "LimitExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServiceError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

ClientFactory = Callable[[str | None], Any]


# ------------------------------------------------------------------------------- rendering
def subject(channel: Channel, notification: Notification) -> str:
    prefix = fmt.one_line(channel.get("subject_prefix") or "")
    text = fmt.title(notification)
    check = notification.check.name if notification.check else notification.alert.check
    if check and check not in text:
        text += f" (check {check})"
    return fmt.truncate(fmt.one_line(f"{prefix} {text}" if prefix else text), MAX_SUBJECT)


def _facts(notification: Notification) -> list[tuple[str, str]]:
    alert = notification.alert
    facts: list[tuple[str, str]] = []
    check = notification.check.name if notification.check else alert.check
    if check and len(notification.alerts) == 1:
        facts.append(("Check", check))
    note = fmt.group_note(notification)
    if note:
        facts.append(("Group", note))
    if notification.check is not None:
        facts.append(("Target", notification.check.target))
    facts.append(("State", fmt.status_word(notification)))
    facts.append(("Severity", fmt.severity(notification)))
    since = fmt.since(notification)
    if since:
        facts.append(("Since", since))
    if len(notification.alerts) == 1 and alert.reason:
        facts.append(("Reason", alert.reason))
    facts.extend(content.facts(notification))
    if fmt.resolved_by(notification):
        facts.append(("Resolved by", notification.acknowledged_by or ""))
    elif notification.acknowledged_by:
        facts.append(("Acknowledged by", notification.acknowledged_by))
    if notification.incident_id:
        facts.append(("Incident", notification.incident_id))
    group = (notification.handles or {}).get("incidents")
    if (
        notification.kind is not NotificationKind.RESOLVE
        and isinstance(group, list | tuple)
        and len(group) > 1
    ):
        facts.append(("Incidents in this group", str(len(group))))
    still = (notification.handles or {}).get("still_firing")
    if notification.kind is NotificationKind.RESOLVE and isinstance(still, int) and still > 0:
        facts.append(("Still firing", f"{still} other alert{'s' if still != 1 else ''} of this group"))
    earlier = fmt.earlier_still_firing(notification)
    if earlier:
        facts.append(
            (
                "Still firing",
                f"{earlier} other alert{'s' if earlier != 1 else ''} of this group (earlier message)",
            )
        )
    if notification.escalation_step is not None:
        facts.append(("Escalation step", str(notification.escalation_step + 1)))
    if alert.region:
        facts.append(("Region", alert.region))
    if alert.account:
        facts.append(("Account", alert.account))
    facts.append(("State changed", fmt.format_time(alert.time)))
    return facts


def _wants_ack(notification: Notification) -> bool:
    return fmt.is_web_url(notification.ack_url) and notification.kind in (
        NotificationKind.TRIGGER,
        NotificationKind.ESCALATION,
        NotificationKind.WARNING,
    )


def _alert_sections(notification: Notification) -> list[tuple[str, list[str]]]:
    """``[("Alerts (3)", lines)]`` for a group; a mixed one (firing and resolved alerts of one
    Alertmanager body) ``[("Firing (2)", …), ("Resolved (1)", …)]``; [] for a single alert."""
    mixed = fmt.is_mixed(notification)
    return [
        (
            f"{heading} ({len(alerts)})",
            fmt.capped((fmt.alert_line(a, with_state=not mixed) for a in alerts), MAX_LISTED_ALERTS),
        )
        for heading, alerts in fmt.alert_sections(notification)
    ]


def render_text(notification: Notification) -> str:
    alert = notification.alert
    lines = [fmt.title(notification), ""]
    headline = content.headline(notification)
    if headline:
        lines += [headline, ""]
    if alert.description and len(notification.alerts) == 1:
        lines += [alert.description, ""]
    width = max(len(k) for k, _ in _facts(notification))
    lines += [f"{k + ':':<{width + 1}} {fmt.one_line(v)}" for k, v in _facts(notification)]
    for heading, listed in _alert_sections(notification):
        lines += ["", f"{heading}:", *(f"  - {line}" for line in listed)]
    if _wants_ack(notification):
        lines += ["", f"Acknowledge: {notification.ack_url}"]
    found = content.links(notification)
    if found:
        lines += ["", *(f"{item.text}: {item.href}" for item in found)]
    lines += ["", "-- ", "Sent by uptime-relay."]
    return "\n".join(lines) + "\n"


def render_html(notification: Notification, *, image_cid: str | None = None) -> str:
    """The HTML body; every alarm-derived string goes through ``html.escape``."""
    e = html.escape
    alert = notification.alert
    colour = fmt.colour(notification)
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"></head>',
        '<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1d1c1d">',
        f'<div style="border-left:6px solid {e(colour)};padding:8px 16px">',
        f'<h2 style="margin:0 0 8px 0">{e(fmt.title(notification))}</h2>',
    ]
    headline = content.headline(notification)
    if headline:
        parts.append(f'<p style="font-size:16px"><strong>{e(headline)}</strong></p>')
    if alert.description and len(notification.alerts) == 1:
        parts.append(f'<p style="white-space:pre-wrap">{e(alert.description)}</p>')
    parts.append('<table style="border-collapse:collapse">')
    for key, value in _facts(notification):
        parts.append(
            f'<tr><th style="text-align:left;padding:2px 12px 2px 0;vertical-align:top">{e(key)}</th>'
            f"<td>{e(value)}</td></tr>"
        )
    parts.append("</table>")
    for heading, listed in _alert_sections(notification):
        parts.append(f"<h3>{e(heading)}</h3><ul>")
        parts += [f"<li>{e(line)}</li>" for line in listed]
        parts.append("</ul>")
    if image_cid:
        parts.append(
            f'<p><img src="cid:{e(image_cid)}" alt="{e(_graph_title(alert))}" '
            f'width="{GRAPH_WIDTH}" height="{GRAPH_HEIGHT}"></p>'
        )
    if _wants_ack(notification):
        parts.append(
            f'<p><a href="{e(notification.ack_url or "")}" style="display:inline-block;padding:8px 16px;'
            'background:#1264a3;color:#ffffff;text-decoration:none;border-radius:4px">Acknowledge</a></p>'
        )
    found = content.links(notification)
    if found:
        anchors = " · ".join(f'<a href="{e(item.href)}">{e(item.text)}</a>' for item in found)
        parts.append(f"<p>{anchors}</p>")
    parts += ["</div>", '<p style="color:#616061;font-size:12px">Sent by uptime-relay.</p>', "</body></html>"]
    return "\n".join(parts) + "\n"


def _graph_title(alert: Alert) -> str:
    metric = alert.metric
    return f"{metric.namespace} {metric.name}" if metric else alert.name


def metric_widget(alert: Alert) -> dict[str, Any] | None:
    """The GetMetricWidgetImage definition for the alert's metric (last 3 hours), or None."""
    metric = alert.metric
    if metric is None:
        return None
    series: list[Any] = [metric.namespace, metric.name]
    for name, value in metric.dimensions:
        series += [name, value]
    options: dict[str, Any] = {}
    if metric.stat:
        options["stat"] = _stat(metric.stat)
    series.append(options)
    widget: dict[str, Any] = {
        "metrics": [series],
        "view": "timeSeries",
        "stacked": False,
        "title": fmt.truncate(alert.name, 200),
        "start": "-PT3H",
        "end": "P0D",
        "width": GRAPH_WIDTH,
        "height": GRAPH_HEIGHT,
    }
    if metric.period:
        widget["period"] = metric.period
    if alert.region:
        widget["region"] = alert.region
    return widget


def _stat(stat: str) -> str:
    """CloudWatch alarm messages say "MINIMUM"; widgets want "Minimum" (percentiles stay as is)."""
    known = {
        "average": "Average",
        "minimum": "Minimum",
        "maximum": "Maximum",
        "sum": "Sum",
        "samplecount": "SampleCount",
    }
    return known.get(stat.lower(), stat)


# ------------------------------------------------------------------------------- notifier
class EmailNotifier:
    type = "email"
    groups_alerts = True

    def __init__(
        self,
        *,
        ses: Any = None,
        cloudwatch: Any = None,
        timeout_s: float = 5.0,
        ses_factory: ClientFactory | None = None,
        cloudwatch_factory: ClientFactory | None = None,
    ):
        """``ses``/``cloudwatch`` are boto3 clients (or fakes); when None, clients are made on first
        use by the factories, one per region (default: ``boto3.client`` without retries)."""
        self.timeout_s = timeout_s
        self._ses = ses
        self._cloudwatch = cloudwatch
        self._ses_factory = ses_factory or _boto3_factory("sesv2", timeout_s)
        self._cloudwatch_factory = cloudwatch_factory or _boto3_factory("cloudwatch", timeout_s)
        self._clients: dict[tuple[str, str | None], Any] = {}

    # -- pure
    def build_payloads(self, channel: Channel, notification: Notification) -> list[dict[str, Any]]:
        return [
            {
                "subject": subject(channel, notification),
                "text": render_text(notification),
                "html": render_html(notification),
                "to": list(_recipients(channel)),
                "from": str(channel.get("from") or ""),
            }
        ]

    def build_message(
        self, channel: Channel, notification: Notification, *, image: bytes | None = None
    ) -> EmailMessage:
        """The MIME message: text/plain + (text/html [+ inline image/png] as multipart/related)."""
        msg = EmailMessage()
        msg["Subject"] = subject(channel, notification)
        msg["From"] = str(channel.get("from") or "")
        msg["To"] = ", ".join(_recipients(channel))
        msg["Date"] = format_datetime(clock.now())
        msg["Message-ID"] = make_msgid(domain=GRAPH_CID_DOMAIN)
        msg["Auto-Submitted"] = "auto-generated"  # no out-of-office replies to the alert address
        msg["X-Auto-Response-Suppress"] = "All"
        if notification.incident_id:
            incident = fmt.one_line(notification.incident_id)[:200]
            msg["X-Uptime-Relay-Incident"] = incident
            # every mail about one incident threads together in mail clients
            thread = "<incident-{}@{}>".format(re.sub(r"[^A-Za-z0-9._-]", "-", incident), GRAPH_CID_DOMAIN)
            msg["References"] = thread
            msg["In-Reply-To"] = thread
        msg.set_content(render_text(notification))
        cid = make_msgid(idstring="graph", domain=GRAPH_CID_DOMAIN) if image else None
        msg.add_alternative(render_html(notification, image_cid=cid[1:-1] if cid else None), subtype="html")
        if image and cid:
            html_part = msg.get_payload()[1]
            html_part.add_related(image, maintype="image", subtype="png", cid=cid, filename="graph.png")
        return msg

    # -- I/O
    def send(self, channel: Channel, notification: Notification, secrets: SecretResolver) -> Delivery:
        if not _recipients(channel) or not channel.get("from"):
            raise DeliveryError(f"email channel {channel.name}: needs `to` and `from`", permanent=True)
        image = self._graph(notification.alert)
        message = self.build_message(channel, notification, image=image)
        smtp = channel.get("smtp")
        if smtp:
            self._send_smtp(channel, smtp, message, secrets)
            return Delivery(channel=channel.name, handles={}, status=250)
        message_id = self._send_ses(channel, message)
        return Delivery(
            channel=channel.name, handles={"message_id": message_id} if message_id else {}, status=200
        )

    def _graph(self, alert: Alert) -> bytes | None:
        widget = metric_widget(alert)
        if widget is None:
            return None
        try:
            client = self._client("cloudwatch", alert.region)
            answer = client.get_metric_widget_image(MetricWidget=json.dumps(widget), OutputFormat="png")
            image = answer.get("MetricWidgetImage")
            return bytes(image) if image else None
        except Exception as exc:  # best effort: the e-mail matters more than the picture
            log.warning("metric graph unavailable, sending without it: %s", type(exc).__name__)
            return None

    def _client(self, service: str, region: str | None) -> Any:
        injected = self._ses if service == "sesv2" else self._cloudwatch
        if injected is not None:
            return injected
        key = (service, region)
        if key not in self._clients:
            factory = self._ses_factory if service == "sesv2" else self._cloudwatch_factory
            self._clients[key] = factory(region)
        return self._clients[key]

    def _send_ses(self, channel: Channel, message: EmailMessage) -> str | None:
        def send() -> Any:
            client = self._client("sesv2", channel.get("region"))
            return client.send_email(
                FromEmailAddress=str(channel.get("from")),
                Destination={"ToAddresses": list(_recipients(channel))},
                Content={"Raw": {"Data": message.as_bytes()}},
            )

        answer = aws.call("SES SendEmail", SES_TRANSIENT, send)
        return answer.get("MessageId") if isinstance(answer, dict) else None

    def _send_smtp(
        self, channel: Channel, options: dict[str, Any], message: EmailMessage, secrets: SecretResolver
    ) -> None:
        host = str(options.get("host") or "")
        port = int(options.get("port") or (465 if options.get("ssl") else 25))
        timeout = float(options.get("timeout_s") or self.timeout_s)
        where = f"SMTP {host}:{port}"
        hidden: list[str] = []
        try:
            username = secrets.resolve(str(options["username"])) if options.get("username") else None
            password = secrets.resolve(str(options["password"])) if options.get("password") else None
        except Exception as exc:
            raise DeliveryError(
                f"email channel {channel.name}: SMTP credentials could not be resolved ({type(exc).__name__}: {exc})",
                permanent=bool(getattr(exc, "permanent", False)),
            ) from None
        hidden += [v for v in (username, password) if v]
        try:
            if options.get("ssl"):
                server: smtplib.SMTP = smtplib.SMTP_SSL(
                    host, port, timeout=timeout, context=ssl.create_default_context()
                )
            else:
                server = smtplib.SMTP(host, port, timeout=timeout)
            with server:
                if options.get("starttls") and not options.get("ssl"):
                    server.starttls(context=ssl.create_default_context())
                if username is not None and password is not None:
                    server.login(username, password)
                refused = server.send_message(
                    message, from_addr=str(channel.get("from")), to_addrs=list(_recipients(channel))
                )
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"{where}: every recipient refused ({', '.join(str(c) for c in codes)})",
                permanent=all(c >= 500 for c in codes),
                status=codes[0] if codes else None,
            ) from None
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            raise DeliveryError(
                f"{where}: {exc.smtp_code} {redact(text, hidden, limit=300)}",
                permanent=exc.smtp_code >= 500,
                status=exc.smtp_code,
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"{where}: {redact(str(exc), hidden)}", permanent=True) from None
        except (smtplib.SMTPServerDisconnected, TimeoutError) as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}", permanent=False) from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"{where}: TLS failed ({type(exc).__name__})", permanent=False) from None
        except OSError as exc:
            raise DeliveryError(
                f"{where}: connection failed ({type(exc).__name__})", permanent=False
            ) from None
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}", permanent=False) from None
        if refused:
            log.warning("%s: some recipients refused: %s", where, ", ".join(sorted(refused)))


def _recipients(channel: Channel) -> tuple[str, ...]:
    to = channel.get("to") or ()
    if isinstance(to, str):
        to = (to,)
    return tuple(str(a) for a in to)


def _boto3_factory(service: str, timeout_s: float) -> ClientFactory:
    """boto3 clients with our timeouts and no retries of their own (the Dispatcher retries)."""

    def make(region: str | None) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )
        return boto3.client(service, region_name=region or None, config=config)

    return make


__all__ = ["EmailNotifier", "metric_widget", "render_html", "render_text", "subject"]
