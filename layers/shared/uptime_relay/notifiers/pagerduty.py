"""PagerDuty Events API v2: one event per alert (trigger / acknowledge / resolve).

The ``dedup_key`` is derived from the alert id only (CloudWatch: alarm ARN + contributor;
Alertmanager: fingerprint), so the trigger and the resolve of one incident always share it and
PagerDuty folds repeats (escalation reminders) into the same incident. INSUFFICIENT_DATA warnings
are not sent (PagerDuty would page someone for missing data); routes that want that send TRIGGER.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from ..config import Channel, is_secret_ref
from ..domain.alert import Alert
from . import content
from . import format as fmt
from .base import Delivery, DeliveryError, Notification, NotificationKind, SecretResolver
from .http import post_json

DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
CLIENT = "uptime-relay"
DEDUP_PREFIX = "uptime-relay:"
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
MAX_FIELD = 255  # source / component / group / class: keep them short and readable
MAX_RAW = 8000  # characters of the original event kept in custom_details (payload limit is 512 KB)
MAX_LABEL = 1000
REDACTED_KEY = "[routing_key]"

_ACTIONS = {
    NotificationKind.TRIGGER: "trigger",
    NotificationKind.ESCALATION: "trigger",
    NotificationKind.RESOLVE: "resolve",
    NotificationKind.ACKNOWLEDGE: "acknowledge",
}


MAX_GROUP_MEMBERS = 50  # a group's event names its first members, then "and K more"


def dedup_key(alert: Alert) -> str:
    """``uptime-relay:`` + 40 hex chars of sha256(alert.id): stable per alarm, ≤ 255 chars."""
    return key_for(alert.id)


def key_for(text: str) -> str:
    """The dedup key of an alarm id, or of a route group's id (one PagerDuty incident per group)."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]
    return f"{DEDUP_PREFIX}{digest}"


def _summary(notification: Notification) -> str:
    """The check's headline when the probe's evidence says what failed (``shop is DOWN — HTTP
    503 (expected 2xx), 3 of the last 3 minutes, since 13:34 UTC``), else ``format.summary``."""
    headline = content.headline(notification)
    if headline and content.evidence(notification.alert) is not None:
        return headline
    return fmt.summary(notification)


def group_of(notification: Notification) -> dict[str, Any] | None:
    """The route group a notification speaks for (``handles["group"]``), or None."""
    info = (notification.handles or {}).get("group")
    return info if isinstance(info, dict) and info.get("id") else None


def event_action(notification: Notification) -> str | None:
    """trigger | acknowledge | resolve, or None when nothing is sent (warnings)."""
    return _ACTIONS.get(notification.kind)


class PagerDutyNotifier:
    type = "pagerduty"
    groups_alerts = False

    def __init__(self, *, timeout_s: float = 5.0, http: Any = None):
        self.timeout_s = timeout_s
        self._http = http

    # -- pure
    def build_payloads(self, channel: Channel, notification: Notification) -> list[dict[str, Any]]:
        """One Events API body per alert; ``routing_key`` is the reference (or a placeholder), never the key."""
        reference = channel.get("routing_key")
        shown = str(reference) if is_secret_ref(reference) else REDACTED_KEY
        return [self._event(channel, notification, alert, shown) for alert in self._targets(notification)]

    def _targets(self, notification: Notification) -> tuple[Alert, ...]:
        if event_action(notification) is None:
            return ()
        if group_of(notification) is not None:  # one event per group, not per member
            return notification.alerts[:1]
        return notification.alerts

    def _event(
        self, channel: Channel, notification: Notification, alert: Alert, routing_key: str
    ) -> dict[str, Any]:
        action = event_action(notification)
        group = group_of(notification)
        body: dict[str, Any] = {
            "routing_key": routing_key,
            "event_action": action,
            "dedup_key": key_for(str(group["id"])) if group is not None else dedup_key(alert),
        }
        if action != "trigger":
            return body  # acknowledge / resolve only need the key
        if group is not None:
            return self._group_event(channel, notification, group, body)
        single = replace(notification, alerts=(alert,))
        labels = dict(alert.labels)
        check = notification.check.name if notification.check else alert.check
        payload: dict[str, Any] = {
            "summary": fmt.truncate(_summary(single), MAX_SUMMARY),
            "source": fmt.truncate(self._source(single), MAX_FIELD),
            "severity": fmt.severity(alert, channel.get("severity")),
            "timestamp": alert.time.isoformat(),
        }
        component = labels.get("component") or labels.get("service") or check
        group = labels.get("group") or labels.get("team") or labels.get("namespace")
        klass = (
            labels.get("class") or labels.get("alertname") or (alert.metric.name if alert.metric else None)
        )
        for key, value in (("component", component), ("group", group), ("class", klass)):
            if value:
                payload[key] = fmt.truncate(fmt.one_line(str(value)), MAX_FIELD)
        details: dict[str, Any] = {
            "state": alert.state.value,
            "reason": fmt.truncate(alert.reason, 4000),
            "labels": {k: fmt.truncate(str(v), MAX_LABEL) for k, v in labels.items()},
        }
        if alert.previous_state is not None:
            details["previous_state"] = alert.previous_state.value
        if alert.description:
            details["description"] = fmt.truncate(alert.description, 4000)
        if alert.annotations:
            details["annotations"] = {
                k: fmt.truncate(str(v), MAX_LABEL) for k, v in alert.annotations.items()
            }
        if check:
            details["check"] = check
        if notification.check is not None:
            details["target"] = notification.check.target
        if notification.incident_id:
            details["incident_id"] = notification.incident_id
        if notification.opened_at is not None:
            details["since"] = notification.opened_at.isoformat()
        if notification.escalation_step is not None:
            details["escalation_step"] = notification.escalation_step
        if alert.region:
            details["region"] = alert.region
        if alert.account:
            details["account"] = alert.account
        shown = content.facts(single)
        if shown:
            details["facts"] = content.facts_dict(shown)
        found_evidence = content.evidence(alert)
        if found_evidence is not None:
            details["evidence"] = found_evidence.to_dict()
        if alert.raw:
            details["raw"] = fmt.truncate(alert.raw, MAX_RAW)
        payload["custom_details"] = details
        body["payload"] = payload
        found = content.links(single)
        if found:
            body["links"] = [
                {"href": item.href, "text": fmt.truncate(item.text, MAX_FIELD)} for item in found
            ]
        body["client"] = CLIENT
        client_url = fmt.console_url(alert) or fmt.generator_url(alert)
        if client_url:
            body["client_url"] = client_url
        return body

    def _group_event(
        self, channel: Channel, notification: Notification, group: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        """A route group's one trigger (first, update, repeat, escalation: same ``dedup_key``):
        the summary names the group and its first members; the details list up to
        ``MAX_GROUP_MEMBERS`` of them with their state, then how many more."""
        alerts = notification.alerts
        firing = fmt.firing_alerts(notification)
        names = [a.name for a in firing]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        listed = [
            {"name": fmt.truncate(a.name, MAX_FIELD), "state": a.state.value}
            for a in alerts[:MAX_GROUP_MEMBERS]
        ]
        details: dict[str, Any] = {
            "group": str(group.get("label") or group["id"]),
            "group_id": str(group["id"]),
            "firing": len(firing),
            "members": listed,
        }
        if len(alerts) > MAX_GROUP_MEMBERS:
            details["and_more"] = len(alerts) - MAX_GROUP_MEMBERS
        if notification.escalation_step is not None:
            details["escalation_step"] = notification.escalation_step
        if notification.opened_at is not None:
            details["since"] = notification.opened_at.isoformat()
        body["payload"] = {
            "summary": fmt.truncate(fmt.one_line(f"{fmt.title(notification)}: {shown}"), MAX_SUMMARY),
            "source": CLIENT,
            "severity": fmt.severity(notification, channel.get("severity")),
            "timestamp": notification.alert.time.isoformat(),
            "group": fmt.truncate(fmt.one_line(str(group.get("label") or "")), MAX_FIELD) or CLIENT,
            "custom_details": details,
        }
        body["client"] = CLIENT
        return body

    @staticmethod
    def _source(notification: Notification) -> str:
        alert = notification.alert
        instance = alert.labels.get("instance")
        if instance:
            return instance
        if notification.check is not None:
            return notification.check.target
        if alert.account or alert.region:
            return ":".join(["aws", *(p for p in (alert.account, alert.region) if p)])
        return alert.labels.get("job") or CLIENT

    # -- I/O
    def send(self, channel: Channel, notification: Notification, secrets: SecretResolver) -> Delivery:
        alerts = self._targets(notification)
        if not alerts:
            return Delivery(channel=channel.name, handles={}, status=None)
        reference = channel.get("routing_key")
        if not reference:
            raise DeliveryError(
                f"pagerduty channel {channel.name}: no routing_key configured", permanent=True
            )
        try:
            key = secrets.resolve(str(reference))
        except Exception as exc:  # resolver errors name the reference, never the value
            raise DeliveryError(
                f"pagerduty channel {channel.name}: routing_key could not be resolved ({type(exc).__name__}: {exc})",
                permanent=bool(getattr(exc, "permanent", False)),
            ) from None
        url = str(channel.get("events_url") or DEFAULT_EVENTS_URL)
        status = None
        keys = []
        for alert in alerts:
            body = self._event(channel, notification, alert, key)
            # a failure part-way raises; the Dispatcher resends all, and PagerDuty folds the
            # repeats by dedup_key
            response = post_json(url, body, timeout=self.timeout_s, secrets=[key], http=self._http)
            status = response.status_code
            keys.append(body["dedup_key"])
        handles: dict[str, Any] = {"dedup_key": keys[0]}
        if len(keys) > 1:
            handles["dedup_keys"] = keys
        return Delivery(channel=channel.name, handles=handles, status=status)
