"""SMS through Amazon SNS ``Publish`` with ``PhoneNumber``: one short text per page and recipient.

A page (TRIGGER or ESCALATION) is one message of at most 160 GSM-7 characters per recipient, the
incident id always kept at its end: ``FIRING: api-availability (check api) - HTTP 503 [inc-…]``.
Text outside the GSM 03.38 alphabet is transliterated (accents dropped, dashes and quotes made
plain, anything else ``?``) so that SNS never switches to UCS-2 (70 characters) or splits the
page; characters of the extension table (``^{}\\[~]|€``) count twice. Resolves are sent only
with ``on_resolve: true``; acknowledgements and no-data warnings never.

Recipients are the channel's ``to``: E.164 numbers, ``person:NAME`` (their ``phone``) and
``oncall:SCHEDULE`` (whoever is on call when the text goes out; ``render`` shows who was on call
when the alarm changed state). Each text is published with ``AWS.SNS.SMS.SMSType``
(``Transactional`` unless ``sms_type`` says otherwise) and, when configured,
``AWS.SNS.SMS.SenderID`` / ``AWS.MM.SMS.OriginationNumber``.

SNS answers per recipient: if the second of three publishes fails, a retry of the whole
notification would text the first again, so each notifier remembers for a minute
(``SENT_MEMORY_S``: the Dispatcher's retries of one delivery end within about 30 s) which recipient
already got which message and skips them on a retry in the same process.
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .. import clock
from ..config import Channel, Schedule
from ..domain.schedule import oncall
from . import aws
from . import format as fmt
from .base import Delivery, DeliveryError, Notification, NotificationKind, SecretResolver
from .sms_rules import ONCALL_PREFIX, PERSON_PREFIX, PHONES, SCHEDULES

MAX_SEPTETS = 160
SENT_MEMORY_S = 60.0  # longer than one delivery's retries (at most ~30 s), shorter than any re-page
DEFAULT_SMS_TYPE = "Transactional"
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€"
_PLAIN = {  # written as escapes: the characters look like ASCII ones
    "\u2014": "-",  # em dash
    "\u2013": "-",  # en dash
    "\u2010": "-",  # hyphen
    "\u2026": "...",  # ellipsis
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\t": " ",
    "\u00b7": "-",  # middle dot
}
SNS_TRANSIENT = frozenset(
    {
        "Throttled",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "KMSThrottling",
        "RequestTimeout",
    }
)
ClientFactory = Callable[[str | None], Any]


# ------------------------------------------------------------------------------- GSM-7 text
def septets(text: str) -> int:
    """How many GSM-7 septets ``text`` (already GSM-7) takes: extension characters count twice."""
    return sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)


def to_gsm7(text: str) -> str:
    """``text`` in the GSM-7 alphabet: plain equivalents, accents dropped, anything else ``?``."""
    out = []
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
            out.append(ch)
            continue
        if ch in _PLAIN:
            out.append(_PLAIN[ch])
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        if base and all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in base):
            out.append(base)
        elif unicodedata.category(ch).startswith(("C", "Z")) or unicodedata.category(ch) == "So":
            out.append(" ")  # controls, odd spaces, emoji
        else:
            out.append("?")
    return " ".join("".join(out).split())


def cut_septets(text: str, limit: int) -> str:
    """At most ``limit`` septets; a cut text ends with ``...``."""
    if septets(text) <= limit:
        return text
    room = max(0, limit - 3)
    kept, used = [], 0
    for ch in text:
        cost = septets(ch)
        if used + cost > room:
            break
        kept.append(ch)
        used += cost
    return "".join(kept).rstrip() + "..."


def text(notification: Notification) -> str:
    """The one SMS of a notification: ≤ 160 GSM-7 septets, the incident id kept at the end."""
    tail = f" [{to_gsm7(notification.incident_id)}]" if notification.incident_id else ""
    subject = fmt.summary(notification)  # a resolve's starts "Resolved: "
    if notification.kind in (NotificationKind.TRIGGER, NotificationKind.ESCALATION):
        subject = f"{fmt.status_word(notification)}: {subject}"
    head = to_gsm7(subject)
    return cut_septets(head, MAX_SEPTETS - septets(tail)) + tail


# ------------------------------------------------------------------------------- recipients
def recipients(channel: Channel, at: datetime) -> tuple[list[str], list[str]]:
    """The E.164 numbers ``channel`` texts at the instant ``at``, and what could not be resolved."""
    phones: dict[str, str] = dict(channel.get(PHONES) or {})
    schedules: dict[str, Schedule] = dict(channel.get(SCHEDULES) or {})
    numbers: list[str] = []
    problems: list[str] = []
    for target in channel.get("to") or ():
        if target.startswith(PERSON_PREFIX):
            who: str | None = target[len(PERSON_PREFIX) :]
        elif target.startswith(ONCALL_PREFIX):
            schedule = schedules.get(target[len(ONCALL_PREFIX) :])
            who = None
            if schedule is not None:
                try:
                    who = oncall(schedule, at)
                except ValueError as exc:
                    problems.append(f"{target}: {exc}")
                    continue
        else:
            numbers.append(target)
            continue
        if who is None or who not in phones:
            problems.append(f"{target}: no phone number known")
            continue
        numbers.append(phones[who])
    return list(dict.fromkeys(numbers)), problems


def sends_for(channel: Channel, notification: Notification) -> bool:
    """Pages always; a resolve only with ``on_resolve: true``; never acknowledgements or warnings."""
    kind = notification.kind
    if kind in (NotificationKind.TRIGGER, NotificationKind.ESCALATION):
        return True
    return kind is NotificationKind.RESOLVE and bool(channel.get("on_resolve"))


def _attributes(channel: Channel) -> dict[str, dict[str, str]]:
    attributes = {
        "AWS.SNS.SMS.SMSType": {
            "DataType": "String",
            "StringValue": str(channel.get("sms_type") or DEFAULT_SMS_TYPE),
        }
    }
    if channel.get("sender_id"):
        attributes["AWS.SNS.SMS.SenderID"] = {
            "DataType": "String",
            "StringValue": str(channel.get("sender_id")),
        }
    if channel.get("origination_number"):
        attributes["AWS.MM.SMS.OriginationNumber"] = {
            "DataType": "String",
            "StringValue": str(channel.get("origination_number")),
        }
    return attributes


class SmsNotifier:
    type = "sms"
    groups_alerts = True  # one Alertmanager body is one text, not one per alert

    def __init__(
        self, *, sns: Any = None, client_factory: ClientFactory | None = None, timeout_s: float = 5.0
    ):
        """``sns``: an SNS client (or a fake); without one, a client per region is made on first use."""
        self._sns = sns
        self._factory = client_factory or _boto3_factory(timeout_s)
        self._clients: dict[str | None, Any] = {}
        self._sent: dict[str, float] = {}

    # -- pure
    def publishes(self, channel: Channel, notification: Notification, at: datetime) -> list[dict[str, Any]]:
        """The ``Publish`` requests (``PhoneNumber``, ``Message``, ``MessageAttributes``), one per recipient."""
        if not sends_for(channel, notification):
            return []
        numbers, _ = recipients(channel, at)
        message = text(notification)
        attributes = _attributes(channel)
        return [{"PhoneNumber": n, "Message": message, "MessageAttributes": attributes} for n in numbers]

    def build_payloads(self, channel: Channel, notification: Notification) -> list[dict[str, Any]]:
        """As sent, with the on-call people of the moment the alarm changed state."""
        return self.publishes(channel, notification, notification.alert.time)

    # -- I/O
    def send(self, channel: Channel, notification: Notification, secrets: SecretResolver) -> Delivery:
        if not sends_for(channel, notification):
            return Delivery(channel=channel.name, handles={}, status=None)
        at = clock.now()
        numbers, problems = recipients(channel, at)
        requests = self.publishes(channel, notification, at)
        if not requests:
            why = "; ".join(problems) or "no recipient"
            raise DeliveryError(f"sms channel {channel.name}: nobody to text ({why})", permanent=True)
        client = self._client(channel.get("region"))
        now = time.monotonic()
        self._sent = {k: t for k, t in self._sent.items() if now - t < SENT_MEMORY_S}
        ids = []
        for request in requests:
            key = _sent_key(channel, notification, request)
            if key in self._sent:
                continue  # texted already (an earlier attempt of this notification)
            ids.append(_publish(client, request))
            self._sent[key] = now
        handles: dict[str, Any] = {"recipients": len(numbers)}
        if ids:
            handles["message_ids"] = ids
        return Delivery(channel=channel.name, handles=handles, status=200)

    def _client(self, region: str | None) -> Any:
        if self._sns is not None:
            return self._sns
        if region not in self._clients:
            self._clients[region] = self._factory(region)
        return self._clients[region]


def _sent_key(channel: Channel, notification: Notification, request: dict[str, Any]) -> str:
    parts = [
        channel.name,
        notification.kind.value,
        str(notification.incident_id),
        str(notification.escalation_step),
        *(a.id for a in notification.alerts),
        request["PhoneNumber"],
        request["Message"],
    ]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _publish(client: Any, request: dict[str, Any]) -> str:
    answer = aws.call("SNS Publish", SNS_TRANSIENT, lambda: client.publish(**request))
    return str(answer.get("MessageId") or "") if isinstance(answer, dict) else ""


def _boto3_factory(timeout_s: float) -> ClientFactory:
    """SNS clients with our timeouts and no retries of their own (the Dispatcher retries)."""

    def make(region: str | None) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )
        return boto3.client("sns", region_name=region or None, config=config)

    return make
