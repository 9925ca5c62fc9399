"""Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received"): one
Adaptive Card (schema 1.5) per notification, in the envelope Workflows expects::

    {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                         "content": {AdaptiveCard}}]}

Office 365 connectors are retired and Workflows take Adaptive Cards only (learn.microsoft.com,
"Create and send messages", Teams platform). The card carries the facts of the Slack message
(title, what happened, check, state and severity, reason, since, incident, who acknowledged, a
group's alerts, links, the context line) and is coloured by severity through the container style
(critical and error ``attention``, warning ``warning``, info ``accent``, resolved ``good``,
acknowledged ``emphasis``). A TRIGGER or ESCALATION with a signed ack link has an
**Acknowledge** button (``Action.OpenUrl``): Workflows cards cannot call back, so the button opens
the same confirmation page an e-mail link does. One Alertmanager body is one card
(``groups_alerts``). Webhook messages cannot be updated later: an acknowledgement or a resolve is a
new card.

Text from alarms is escaped for the card's Markdown subset (``*``, ``_``, ``[``, ``]``, `` ` ``,
``~``, ``#``, ``<``, ``>``), so a reason cannot forge a link or a heading; texts are cut so that a
card stays far below Teams' 28 KB message limit.
"""

from __future__ import annotations

import re
from typing import Any

from ..config import Channel
from . import format as fmt
from .base import Delivery, Notification, NotificationKind, SecretResolver
from .http import post_json
from .options import resolve_option

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"
MAX_TITLE = 200
MAX_FACT = 1000
MAX_LEAD = 2000
MAX_LISTED_ALERTS = 10
MAX_ALERT_LINE = 300
MAX_ACTIONS = 6  # Teams shows at most six buttons in a card's action bar

STYLES = {  # severity tier -> container style (the card's colour)
    "critical": "attention",
    "error": "attention",
    "warning": "warning",
    "info": "accent",
}
TEXT_COLOURS = {"attention": "attention", "warning": "warning", "accent": "accent", "good": "good"}

_MARKDOWN = re.compile(r"([\\*_\[\]`~#<>])")


def escape(text: str | None) -> str:
    """Backslash-escape the Markdown the card's TextBlocks would interpret."""
    return _MARKDOWN.sub(r"\\\1", text or "")


def style(notification: Notification) -> str:
    """The container style that colours the card."""
    if notification.kind is NotificationKind.RESOLVE:
        return "good"
    if notification.kind is NotificationKind.ACKNOWLEDGE:
        return "emphasis"
    if notification.kind is NotificationKind.WARNING:
        return "warning"
    return STYLES[fmt.severity(notification)]


def _text(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text or " ", "wrap": True, **extra}


def _what_happened(notification: Notification) -> list[str]:
    kind = notification.kind
    if kind is NotificationKind.ACKNOWLEDGE:
        by = notification.acknowledged_by
        return [f"**Acknowledged**{' by ' + escape(by) if by else ''}."]
    if kind is NotificationKind.RESOLVE:
        by = fmt.resolved_by(notification)
        return [f"**Resolved**{' by ' + escape(by) if by else ''}."]
    if kind is NotificationKind.ESCALATION and notification.escalation_step is not None:
        return [f"**Escalated** (step {notification.escalation_step + 1}): still not acknowledged."]
    if kind is NotificationKind.WARNING:
        return ["**No data**: the alarm cannot tell whether the check is healthy."]
    return []


def _facts(notification: Notification) -> list[dict[str, str]]:
    kind = notification.kind
    facts: list[tuple[str, str]] = []
    check = notification.check.name if notification.check else notification.alert.check
    if check:
        facts.append(("Check", check))
    state = fmt.status_word(notification)
    facts.append(
        ("State", state if kind is NotificationKind.RESOLVE else f"{state} ({fmt.severity(notification)})")
    )
    reason = fmt.reason(notification)
    if reason and len(notification.alerts) == 1:
        facts.append(("Reason", reason))
    since = fmt.since(notification)
    if since:
        facts.append(("Since", since))
    grouped = list((notification.handles or {}).get("incidents") or [])
    if len(grouped) > 1:
        facts.append(("Incidents", f"{len(grouped)}: {grouped[0]} …"))
    elif notification.incident_id:
        facts.append(("Incident", notification.incident_id))
    if (
        notification.acknowledged_by
        and kind is not NotificationKind.ACKNOWLEDGE
        and not fmt.resolved_by(notification)
    ):
        facts.append(("Acknowledged by", notification.acknowledged_by))
    return [{"title": title, "value": fmt.truncate(escape(value), MAX_FACT)} for title, value in facts]


def _alert_lists(notification: Notification) -> list[dict[str, Any]]:
    blocks = []
    for heading, listed in fmt.alert_sections(notification):
        shown = list(listed[:MAX_LISTED_ALERTS])
        lines = [f"- {fmt.truncate(escape(fmt.alert_line(a)), MAX_ALERT_LINE)}" for a in shown]
        if len(listed) > len(shown):
            lines.append(f"- and {len(listed) - len(shown)} more")
        blocks.append(_text(f"**{heading} ({len(listed)})**", spacing="Medium"))
        blocks.append(_text("\n".join(lines), spacing="Small"))
    return blocks


def _context(notification: Notification) -> str:
    alert = notification.alert
    parts = [f"severity {fmt.severity(notification)}", f"source {alert.source.value}"]
    if alert.region:
        parts.append(alert.region)
    if alert.account:
        parts.append(f"account {alert.account}")
    parts.append(f"state changed {fmt.format_time(alert.time)}")
    return escape(" · ".join(parts))


def _actions(notification: Notification) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = []
    acting = notification.kind in (NotificationKind.TRIGGER, NotificationKind.ESCALATION)
    if acting and fmt.is_web_url(notification.ack_url):
        actions.append(
            {
                "type": "Action.OpenUrl",
                "title": "Acknowledge",
                "url": notification.ack_url,
                "style": "positive",
            }
        )
    for link in fmt.links(notification):
        actions.append({"type": "Action.OpenUrl", "title": fmt.truncate(link.text, 50), "url": link.href})
    return actions[:MAX_ACTIONS]


class TeamsNotifier:
    type = "teams"
    groups_alerts = True

    def __init__(self, *, timeout_s: float = 5.0, http: Any = None):
        self.timeout_s = timeout_s
        self._http = http

    # -- pure
    def build_payloads(self, channel: Channel, notification: Notification) -> list[dict[str, Any]]:
        return [self.message(notification)]

    def card(self, notification: Notification) -> dict[str, Any]:
        """The Adaptive Card (schema 1.5)."""
        colour = style(notification)
        lead = _what_happened(notification)
        description = notification.alert.description if len(notification.alerts) == 1 else None
        if description:
            lead.append(escape(fmt.one_line(description)))
        header = [
            _text(
                fmt.truncate(escape(f"{fmt.emoji(notification)} {fmt.title(notification)}"), MAX_TITLE),
                size="Large",
                weight="Bolder",
                color=TEXT_COLOURS.get(colour, "default"),
            )
        ]
        if lead:
            header.append(_text(fmt.truncate("\n\n".join(lead), MAX_LEAD)))
        body: list[dict[str, Any]] = [
            {"type": "Container", "style": colour, "bleed": True, "items": header},
            {"type": "FactSet", "facts": _facts(notification)},
            *_alert_lists(notification),
            _text(_context(notification), size="Small", isSubtle=True, spacing="Medium"),
        ]
        card: dict[str, Any] = {
            "$schema": CARD_SCHEMA,
            "type": "AdaptiveCard",
            "version": CARD_VERSION,
            "fallbackText": fmt.truncate(fmt.summary(notification), MAX_LEAD),
            "body": body,
        }
        actions = _actions(notification)
        if actions:
            card["actions"] = actions
        return card

    def message(self, notification: Notification) -> dict[str, Any]:
        """The Workflows webhook body: the card in a ``message`` envelope."""
        return {
            "type": "message",
            "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": self.card(notification)}],
        }

    # -- I/O
    def send(self, channel: Channel, notification: Notification, secrets: SecretResolver) -> Delivery:
        url = resolve_option(secrets, channel, "webhook_url")
        response = post_json(
            url, self.message(notification), timeout=self.timeout_s, secrets=[url], http=self._http
        )
        return Delivery(channel=channel.name, handles={}, status=response.status_code)
