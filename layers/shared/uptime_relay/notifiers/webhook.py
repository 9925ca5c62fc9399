"""A generic signed webhook: an Alertmanager webhook (version 4) document plus an ``incident`` object.

The body is what Alertmanager's own webhook receiver sends (``version`` "4", ``groupKey``,
``status``, ``receiver``, ``groupLabels``, ``commonLabels``, ``commonAnnotations``,
``externalURL``, ``truncatedAlerts``, ``alerts[]`` with ``status``, ``labels``, ``annotations``,
``startsAt``, ``endsAt``, ``generatorURL``, ``fingerprint``), so receivers written for
Alertmanager work unchanged; uptime-relay adds one top-level key, ``incident``, which such
receivers ignore. One Alertmanager body is one document (``groups_alerts``), as Alertmanager
sends it.

With a ``secret`` the request is signed (CONTRACT.md): ``X-Uptime-Relay-Timestamp: <unix
seconds>`` and ``X-Uptime-Relay-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw
body>")>``, the body sent byte for byte as signed; the timestamp is the real clock's (also under
the local stack's simulated minutes), so a receiver can refuse old requests. ``headers`` are added to every request
(values may be secret references, resolved at send time).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

from ..config import Channel, is_secret_ref
from ..domain.alert import Alert, AlertSource, AlertState
from . import format as fmt
from .base import Delivery, DeliveryError, Notification, NotificationKind, SecretResolver
from .http import encode_json, post_data
from .options import resolve_option

TIMESTAMP_HEADER = "X-Uptime-Relay-Timestamp"
SIGNATURE_HEADER = "X-Uptime-Relay-Signature"
SIGNATURE_PREFIX = "sha256="
ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of a firing alert
MAX_TEXT = 4000

_STATUS = {
    NotificationKind.TRIGGER: "open",
    NotificationKind.ESCALATION: "open",
    NotificationKind.WARNING: "open",
    NotificationKind.ACKNOWLEDGE: "acknowledged",
    NotificationKind.RESOLVE: "resolved",
}


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    message = str(int(timestamp)).encode("ascii") + b"." + body
    return SIGNATURE_PREFIX + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def fingerprint(alert: Alert) -> str:
    """The alert's Alertmanager fingerprint (its id) when it came from one, else 16 hex digits of
    sha256(alert id): stable per alarm, so a trigger and its resolve share it."""
    if alert.source is AlertSource.ALERTMANAGER:
        return alert.id
    return hashlib.sha256(alert.id.encode("utf-8")).hexdigest()[:16]


def _labels(alert: Alert) -> dict[str, str]:
    labels = {str(k): str(v) for k, v in alert.labels.items()}
    labels.setdefault("alertname", alert.name or "alert")
    return labels


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


class WebhookNotifier:
    type = "webhook"
    groups_alerts = True

    def __init__(self, *, timeout_s: float = 5.0, http: Any = None):
        self.timeout_s = timeout_s
        self._http = http

    # -- pure
    def build_payloads(self, channel: Channel, notification: Notification) -> list[dict[str, Any]]:
        return [self.document(channel, notification)]

    def document(self, channel: Channel, notification: Notification) -> dict[str, Any]:
        """The Alertmanager v4 document with the ``incident`` object."""
        resolving = notification.kind is NotificationKind.RESOLVE
        alerts = [self._alert(notification, alert, resolving) for alert in notification.alerts]
        firing = any(a["status"] == "firing" for a in alerts)
        first = notification.alert
        group_labels = first.extra.get("group_labels")
        group_key = first.extra.get("group_key") or f"uptime-relay/{fingerprint(first)}"
        external = first.extra.get("external_url")
        return {
            "version": "4",
            "groupKey": str(group_key),
            "truncatedAlerts": int(first.extra.get("truncated_alerts") or 0),
            "status": "firing" if firing else "resolved",
            "receiver": channel.name,
            "groupLabels": dict(group_labels) if isinstance(group_labels, dict) else {},
            "commonLabels": _common([a["labels"] for a in alerts]),
            "commonAnnotations": _common([a["annotations"] for a in alerts]),
            "externalURL": str(external) if fmt.is_web_url(external) else "",
            "alerts": alerts,
            "incident": self._incident(notification),
        }

    @staticmethod
    def _alert(notification: Notification, alert: Alert, resolving: bool) -> dict[str, Any]:
        resolved = resolving or alert.state is AlertState.OK
        starts = alert.extra.get("starts_at") or _iso(notification.opened_at or alert.time)
        ends = alert.extra.get("ends_at") if resolved else None
        annotations = {str(k): fmt.truncate(str(v), MAX_TEXT) for k, v in alert.annotations.items()}
        if alert.reason:
            annotations.setdefault("summary", fmt.truncate(alert.reason, MAX_TEXT))
        if alert.description:
            annotations.setdefault("description", fmt.truncate(alert.description, MAX_TEXT))
        return {
            "status": "resolved" if resolved else "firing",
            "labels": _labels(alert),
            "annotations": annotations,
            "startsAt": str(starts),
            "endsAt": str(ends or (_iso(alert.time) if resolved else ZERO_TIME)),
            "generatorURL": fmt.generator_url(alert) or fmt.console_url(alert) or "",
            "fingerprint": fingerprint(alert),
        }

    @staticmethod
    def _incident(notification: Notification) -> dict[str, Any]:
        alert = notification.alert
        check = notification.check.name if notification.check else alert.check
        return {
            "id": notification.incident_id,
            "event": notification.kind.value,
            "status": _STATUS[notification.kind],
            "title": fmt.title(notification),
            "summary": fmt.summary(notification),
            "severity": fmt.severity(notification),
            "check": check,
            "opened_at": _iso(notification.opened_at) if notification.opened_at else None,
            "acknowledged_by": notification.acknowledged_by,
            "escalation_step": notification.escalation_step,
            "ack_url": notification.ack_url,
            "incidents": list((notification.handles or {}).get("incidents") or []),
            "links": [{"href": link.href, "text": link.text} for link in fmt.links(notification)],
        }

    # -- I/O
    def send(self, channel: Channel, notification: Notification, secrets: SecretResolver) -> Delivery:
        url = resolve_option(secrets, channel, "url")
        hidden = [url]
        headers: dict[str, str] = {}
        for name, value in (channel.get("headers") or {}).items():
            resolved = _header_value(secrets, channel, str(name), value)
            headers[str(name)] = resolved
            hidden.append(resolved)
        data = encode_json(self.document(channel, notification))
        if channel.get("secret"):
            secret = resolve_option(secrets, channel, "secret")
            hidden.append(secret)
            timestamp = int(time.time())  # the real clock: receivers check it against theirs
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = signature(secret, timestamp, data)
        response = post_data(url, data, headers, timeout=self.timeout_s, secrets=hidden, http=self._http)
        return Delivery(channel=channel.name, handles={}, status=response.status_code)


def _header_value(secrets: SecretResolver, channel: Channel, name: str, value: Any) -> str:
    if not is_secret_ref(value):
        return str(value)
    try:
        return secrets.resolve(str(value))
    except Exception as exc:  # resolver errors name the reference, never the value
        raise DeliveryError(
            f"webhook channel {channel.name}: header {name} could not be resolved ({type(exc).__name__}: {exc})",
            permanent=bool(getattr(exc, "permanent", False)),
        ) from None
