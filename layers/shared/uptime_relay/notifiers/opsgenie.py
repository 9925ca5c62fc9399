"""Opsgenie Alert API v2: create on a page, acknowledge on an acknowledgement, close on a resolve.

One request per alert (as PagerDuty): ``POST {api_url}/v2/alerts`` creates (Opsgenie
de-duplicates open alerts by ``alias``, so a repeat or an escalation only raises its count),
``POST {api_url}/v2/alerts/{alias}/acknowledge?identifierType=alias`` and ``…/close?…`` follow
up. Authentication is ``Authorization: GenieKey <api_key>``; Opsgenie answers 202 ("Request will
be processed"). ``api_url`` is ``https://api.opsgenie.com`` by default, ``https://api.eu.opsgenie.com``
for EU accounts. Field limits (docs.opsgenie.com "Alert API", Create Alert): message 130
characters, alias 512, description 15,000, entity 512, source 100, 20 tags of 50 characters,
details 8,000 characters in total; ``priority`` P1-P5.

The ``alias`` is derived from the alert id only (``uptime-relay:`` + 40 hex digits of its sha256),
so the create, the acknowledgement and the close of one incident always name the same alert.
Priority comes from the severity tier (``format.severity``): critical P1, error P2, warning P3,
info P4; a ``severity: p5`` label gives P5. INSUFFICIENT_DATA warnings are not sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from ..config import Channel
from ..domain.alert import Alert
from . import format as fmt
from .base import Delivery, Notification, NotificationKind, SecretResolver
from .http import post_json
from .options import resolve_option

DEFAULT_API_URL = "https://api.opsgenie.com"
EU_API_URL = "https://api.eu.opsgenie.com"
ALIAS_PREFIX = "uptime-relay:"
SOURCE = "uptime-relay"
MAX_MESSAGE = 130
MAX_ALIAS = 512
MAX_DESCRIPTION = 15000
MAX_ENTITY = 512
MAX_SOURCE = 100
MAX_NOTE = 25000
MAX_USER = 100
MAX_TAGS = 20
MAX_TAG = 50
MAX_DETAILS = 8000  # characters of keys and values together
PRIORITIES = {"critical": "P1", "error": "P2", "warning": "P3", "info": "P4"}

CREATE, ACKNOWLEDGE, CLOSE = "create", "acknowledge", "close"
_ACTIONS = {
    NotificationKind.TRIGGER: CREATE,
    NotificationKind.ESCALATION: CREATE,
    NotificationKind.ACKNOWLEDGE: ACKNOWLEDGE,
    NotificationKind.RESOLVE: CLOSE,
}


def alias(alert: Alert) -> str:
    """``uptime-relay:`` + 40 hex digits of sha256(alert id): stable per alarm."""
    return ALIAS_PREFIX + hashlib.sha256(alert.id.encode("utf-8")).hexdigest()[:40]


def priority(alert: Alert) -> str:
    """P1-P5 from the alert's severity tier; the label ``p5`` is Opsgenie's P5 (informational)."""
    if str(alert.labels.get("severity", "")).strip().lower() == "p5":
        return "P5"
    return PRIORITIES[fmt.severity(alert)]


def action(notification: Notification) -> str | None:
    return _ACTIONS.get(notification.kind)


def path(action_name: str, alert: Alert) -> str:
    """The request path under ``api_url``."""
    if action_name == CREATE:
        return "/v2/alerts"
    return f"/v2/alerts/{quote(alias(alert), safe='')}/{action_name}?identifierType=alias"


def _details(notification: Notification, alert: Alert) -> dict[str, str]:
    """String key/value pairs, at most MAX_DETAILS characters in all (the first ones kept)."""
    pairs: list[tuple[str, str]] = [("state", alert.state.value)]
    check = notification.check.name if notification.check else alert.check
    if check:
        pairs.append(("check", check))
    if notification.check is not None:
        pairs.append(("target", notification.check.target))
    if notification.incident_id:
        pairs.append(("incident_id", notification.incident_id))
    if notification.opened_at is not None:
        pairs.append(("since", notification.opened_at.isoformat()))
    if notification.escalation_step is not None:
        pairs.append(("escalation_step", str(notification.escalation_step)))
    if notification.ack_url:
        pairs.append(("ack_url", notification.ack_url))
    for key in ("region", "account"):
        if getattr(alert, key):
            pairs.append((key, str(getattr(alert, key))))
    for link in fmt.links(replace(notification, alerts=(alert,))):
        pairs.append((link.text, link.href))
    pairs.extend((f"label.{k}", str(v)) for k, v in alert.labels.items())
    details: dict[str, str] = {}
    room = MAX_DETAILS
    for key, value in pairs:
        key = fmt.truncate(key, 100)
        value = fmt.truncate(value, 1000)
        if key in details or len(key) + len(value) > room:
            continue
        details[key] = value
        room -= len(key) + len(value)
    return details


def _tags(alert: Alert) -> list[str]:
    tags = ["uptime-relay", f"severity:{fmt.severity(alert)}"]
    for key in ("team", "service", "check", "env", "environment"):
        value = alert.labels.get(key)
        if value:
            tags.append(f"{key}:{value}")
    return list(dict.fromkeys(fmt.truncate(fmt.one_line(t), MAX_TAG) for t in tags))[:MAX_TAGS]


class OpsgenieNotifier:
    type = "opsgenie"
    groups_alerts = False

    def __init__(self, *, timeout_s: float = 5.0, http: Any = None):
        self.timeout_s = timeout_s
        self._http = http

    # -- pure
    def requests(self, channel: Channel, notification: Notification) -> list[tuple[str, dict[str, Any]]]:
        """(path, body) per alert; [] for a notification Opsgenie does not get (warnings)."""
        name = action(notification)
        if name is None:
            return []
        return [
            (path(name, alert), self._body(channel, notification, alert, name))
            for alert in notification.alerts
        ]

    def build_payloads(self, channel: Channel, notification: Notification) -> list[dict[str, Any]]:
        return [body for _, body in self.requests(channel, notification)]

    def _body(self, channel: Channel, notification: Notification, alert: Alert, name: str) -> dict[str, Any]:
        single = replace(notification, alerts=(alert,))
        if name != CREATE:
            body: dict[str, Any] = {"source": SOURCE, "note": fmt.truncate(fmt.summary(single), MAX_NOTE)}
            if notification.acknowledged_by:
                body["user"] = fmt.truncate(notification.acknowledged_by, MAX_USER)
            return body
        labels = alert.labels
        check = notification.check.name if notification.check else alert.check
        entity = labels.get("service") or labels.get("component") or check or alert.name
        description = "\n\n".join(
            part for part in (fmt.summary(single), alert.description or "", fmt.since(single)) if part
        )
        body = {
            "message": fmt.truncate(
                fmt.one_line(f"{fmt.status_word(single)}: {fmt.summary(single)}"), MAX_MESSAGE
            ),
            "alias": alias(alert),
            "description": fmt.truncate(description, MAX_DESCRIPTION),
            "responders": [dict(r) for r in channel.get("responders") or ()],
            "tags": _tags(alert),
            "details": _details(notification, alert),
            "entity": fmt.truncate(fmt.one_line(entity), MAX_ENTITY),
            "source": SOURCE,
            "priority": priority(alert),
        }
        if not body["responders"]:
            del body["responders"]  # the API key's integration routes it
        return body

    # -- I/O
    def send(self, channel: Channel, notification: Notification, secrets: SecretResolver) -> Delivery:
        planned = self.requests(channel, notification)
        if not planned:
            return Delivery(channel=channel.name, handles={}, status=None)
        key = resolve_option(secrets, channel, "api_key")
        base = str(channel.get("api_url") or DEFAULT_API_URL).rstrip("/")
        headers = {"Authorization": f"GenieKey {key}"}
        status = None
        aliases = []
        request_id = None
        for (where, body), alert in zip(planned, notification.alerts, strict=True):
            # a failure part-way raises; the Dispatcher resends all, and Opsgenie folds a repeated
            # create into the open alert with that alias (acknowledge and close are idempotent)
            response = post_json(
                base + where, body, headers=headers, timeout=self.timeout_s, secrets=[key], http=self._http
            )
            status = response.status_code
            aliases.append(alias(alert))
            request_id = _request_id(response) or request_id
        handles: dict[str, Any] = {"alias": aliases[0]}
        if len(aliases) > 1:
            handles["aliases"] = aliases
        if request_id:
            handles["request_id"] = request_id
        return Delivery(channel=channel.name, handles=handles, status=status)


def _request_id(response: Any) -> str | None:
    try:
        found = response.json().get("requestId")
    except (ValueError, AttributeError):
        return None
    return str(found)[:100] if found else None
