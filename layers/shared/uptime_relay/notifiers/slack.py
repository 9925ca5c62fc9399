"""Slack: an incoming webhook, or a bot token (chat.postMessage / chat.update) for updatable messages.

One Slack message per Notification (a whole Alertmanager group is one message listing its
alerts; a body with firing and resolved alerts is one TRIGGER titled ``[FIRING:n]`` listing the
firing alerts, then the resolved ones under "Resolved", buttons acting on the firing ones only). With a bot token the first send returns handles ``{"channel", "ts"}``; a later RESOLVE
or ACKNOWLEDGE carrying those handles rewrites the original message (state, colour, buttons
removed) with ``chat.update`` and replies in its thread. Webhook messages cannot be updated, so
there the follow-up is a new message.

A message covering several incidents (one Alertmanager body: ``handles["incidents"]`` names
them) carries buttons whose ``value`` is those incident ids joined by commas (``"inc-a,inc-b"``;
as many whole ids as fit in 2000 characters, in order; a single incident's value is just its
id). A RESOLVE for some of them while others still fire (``handles["still_firing"]`` > 0) leaves
the original FIRING and only replies in its thread ("x resolved, n still firing"); the last
one's RESOLVE rewrites the original to RESOLVED.

Block Kit limits (REFERENCE.md) are enforced here: 50 blocks, header 150 chars, section text
3000, 10 fields of 2000, button text 75, button value 2000. All alarm text is escaped (``&<>``),
so an alarm reason can never ping ``<!channel>`` or forge a link.
"""

from __future__ import annotations

import re
from typing import Any

from ..config import Channel
from ..domain.alert import AlertSource
from . import content
from . import format as fmt
from .base import Delivery, DeliveryError, Notification, NotificationKind, SecretResolver
from .http import parse_retry_after, post_json

DEFAULT_API_URL = "https://slack.com/api"

MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK_TEXT = 3000
MAX_LISTED_ALERTS = 10

GROUP_HANDLE = "incidents"  # handles: the incident ids one grouped message covers
STILL_FIRING_HANDLE = "still_firing"  # handles on a RESOLVE: group members still open
BUTTON_VALUE_SEPARATOR = ","
UPDATE_HANDLE = "update"  # handles on a route group's TRIGGER: edit the earlier message

ACK_ACTION = "ack"
RESOLVE_ACTION = "resolve"
ACTIONS_BLOCK_ID = "incident-actions"

# chat.* "ok": false errors that retrying cannot fix.
PERMANENT_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "ekm_access_denied",
        "org_login_required",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "cannot_reply_to_message",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_attachments",
        "too_many_attachments",
        "invalid_arguments",
        "invalid_arg_name",
        "invalid_charset",
        "invalid_form_data",
        "invalid_post_type",
        "missing_post_type",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "as_user_not_supported",
        "duplicate_channel_not_found",
        "team_access_not_granted",
        "method_deprecated",
        "deprecated_endpoint",
    }
)
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)
# chat.update failures after which the thread reply is still worth sending.
_UPDATE_GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
_SPECIAL = {"here": "<!here>", "channel": "<!channel>", "everyone": "<!everyone>"}


class SlackApiError(DeliveryError):
    """A Web API call answered ``{"ok": false, "error": ...}``; ``error`` is Slack's error code."""

    def __init__(self, message: str, *, error: str, **kwargs):
        super().__init__(message, **kwargs)
        self.error = error


# ------------------------------------------------------------------------------- text helpers
def escape(text: str | None) -> str:
    """Slack mrkdwn escaping: only ``&``, ``<`` and ``>`` (Slack decodes exactly these)."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(href: str, text: str) -> str:
    """``<href|text>`` with both parts made safe (no ``|``/``>`` can end the link early)."""
    safe_href = href.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    safe_text = escape(fmt.one_line(text)).replace("|", "¦")
    return f"<{safe_href}|{safe_text}>"


def mention(value: str) -> str | None:
    """A Slack mention for a user id (U…/W…), user group (S…), @here/@channel; or None."""
    value = (value or "").strip()
    if not value:
        return None
    if re.fullmatch(r"<[@!#][^<>\s]+>", value):
        return value
    bare = value.lstrip("@!")
    if bare.lower() in _SPECIAL:
        return _SPECIAL[bare.lower()]
    if _USER_ID.match(bare):
        return f"<@{bare}>"
    if _GROUP_ID.match(bare):
        return f"<!subteam^{bare}>"
    return escape(value if value.startswith("@") or "@" in value else f"@{value}")


def mentions(channel: Channel, notification: Notification) -> list[str]:
    """Mentions for this message: on-call people first, then the channel's ``mention`` option."""
    if notification.kind not in (
        NotificationKind.TRIGGER,
        NotificationKind.ESCALATION,
        NotificationKind.WARNING,
    ):
        return []
    raw = [*notification.mentions]
    option = channel.get("mention")
    # the channel-wide mention (e.g. @here) is for pages, not for "no data" warnings
    if isinstance(option, str) and notification.kind is not NotificationKind.WARNING:
        raw.extend(part for part in re.split(r"[,\s]+", option) if part)
    out: list[str] = []
    for item in raw:
        m = mention(item)
        if m and m not in out:
            out.append(m)
    return out


def incident_ids(notification: Notification) -> list[str]:
    """The incidents this message's buttons act on: every incident of a grouped TRIGGER/WARNING
    (``handles["incidents"]``), else the notification's own incident."""
    ids: list[str] = []
    grouped = (notification.handles or {}).get(GROUP_HANDLE)
    if notification.kind in (NotificationKind.TRIGGER, NotificationKind.WARNING) and isinstance(
        grouped, list | tuple
    ):
        ids = [str(i) for i in grouped if i]
    if notification.incident_id and notification.incident_id not in ids:
        ids.insert(0, notification.incident_id)
    return list(dict.fromkeys(ids))


def button_value(ids: list[str], limit: int = MAX_BUTTON_VALUE) -> str:
    """``"inc-a,inc-b,…"``: as many whole ids as fit in ``limit`` characters, in order."""
    value = ""
    for incident_id in ids:
        candidate = f"{value}{BUTTON_VALUE_SEPARATOR}{incident_id}" if value else incident_id
        if len(candidate) > limit:
            break
        value = candidate
    if not value and ids:  # one id longer than the limit (never for our ids): cut it
        value = fmt.truncate(ids[0], limit, ellipsis="")
    return value


def still_firing(notification: Notification) -> int:
    """On a RESOLVE of part of a grouped message: how many of the group still fire (0: none)."""
    if notification.kind is not NotificationKind.RESOLVE:
        return 0
    try:
        return max(0, int((notification.handles or {}).get(STILL_FIRING_HANDLE) or 0))
    except (TypeError, ValueError):
        return 0


def _alert_list(header: str, alerts, marker: str, *, with_state: bool) -> str:
    """A heading and one bullet per alert (at most ``MAX_LISTED_ALERTS``, then "and N more"),
    each line cut so that the whole list, "and N more" included, fits one section's text."""
    shown = list(alerts[:MAX_LISTED_ALERTS])
    more = len(alerts) - len(shown)
    tail = f"and {more} more" if more else ""
    room = MAX_SECTION_TEXT - len(header) - len(tail) - 2
    per_line = max(20, min(300, room // max(1, len(shown)) - len(marker) - 3))
    lines = [
        f"• {marker}{_cut_mrkdwn(escape(fmt.alert_line(a, with_state=with_state)), per_line)}" for a in shown
    ]
    return "\n".join([header, *lines, *([tail] if tail else [])])


def _counts(notification: Notification) -> str:
    """`` · 3 alerts`` / `` · 2 firing, 1 resolved`` for a group, "" for a single alert."""
    if fmt.is_mixed(notification):
        firing, resolved = fmt.firing_alerts(notification), fmt.resolved_alerts(notification)
        return f" · {len(firing)} firing, {len(resolved)} resolved"
    return f" · {len(notification.alerts)} alerts" if len(notification.alerts) > 1 else ""


def _names(notification: Notification, limit: int = 3) -> str:
    names = list(dict.fromkeys(a.name for a in notification.alerts))
    shown = ", ".join(escape(fmt.one_line(n)) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": fmt.truncate(fmt.one_line(text), limit) or " ", "emoji": True}


def _mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _cut_mrkdwn(text, limit) or " "}


def _cut_mrkdwn(text: str, limit: int) -> str:
    """Truncate mrkdwn without leaving half an escape (``&am…``) or half a link (``<http…``)."""
    if len(text) <= limit:
        return text
    cut = fmt.truncate(text, limit)
    body = cut[: -len(fmt.ELLIPSIS)]
    amp, semi = body.rfind("&"), body.rfind(";")
    if amp > semi:
        body = body[:amp]
    lt, gt = body.rfind("<"), body.rfind(">")
    if lt > gt:
        body = body[:lt]
    return body.rstrip() + fmt.ELLIPSIS


# ------------------------------------------------------------------------------- the message's blocks
def _lead(notification: Notification, who: list[str]) -> list[str]:
    """The opening lines: mentions, what happened (acknowledged, resolved, escalated, no data),
    earlier alerts still firing, and the description of a single alert."""
    lead = [" ".join(who)] if who else []
    headline = content.headline(notification)
    if headline:
        lead.append(f"*{escape(headline)}*")
    lead.extend(_what_happened(notification))
    note = fmt.group_note(notification)
    if note:
        lead.append(escape(note))
    earlier = fmt.earlier_still_firing(notification)
    if earlier:
        lead.append(
            f"{earlier} other alert{'s' if earlier != 1 else ''} of this group still firing (earlier message)."
        )
    description = notification.alert.description if len(notification.alerts) == 1 else None
    if description and notification.alert.source is AlertSource.FALLBACK:
        # unrecognised input: show what arrived, line breaks kept, as a code block
        raw = _cut_mrkdwn(escape(description).replace("```", "'''"), MAX_SECTION_TEXT - 200)
        lead.append(f"```{raw}```")
    elif description:
        lead.append(escape(fmt.one_line(description)))
    return lead


def _what_happened(notification: Notification) -> list[str]:
    kind = notification.kind
    if kind is NotificationKind.ACKNOWLEDGE:
        by = notification.acknowledged_by
        return [f"*Acknowledged*{' by ' + escape(by) if by else ''}."]
    if kind is NotificationKind.RESOLVE:
        by = fmt.resolved_by(notification)
        lines = [f"*Resolved*{' by ' + escape(by) if by else ''}."]
        firing = still_firing(notification)
        if firing:
            lines.append(f"{firing} other alert{'s' if firing != 1 else ''} of this group still firing.")
        elif (notification.handles or {}).get(GROUP_HANDLE):
            lines.append("Every alert of this group is resolved.")
        return lines
    if kind is NotificationKind.ESCALATION and notification.escalation_step is not None:
        return [f"*Escalated* (step {notification.escalation_step + 1}): still not acknowledged."]
    if kind is NotificationKind.WARNING and fmt.informational(notification):
        return ["*For information*: nobody is paged for this."]
    if kind is NotificationKind.WARNING:
        return ["*No data*: the alarm cannot tell whether the check is healthy."]
    return []


def _fields(notification: Notification, reason: str, ids: list[str]) -> dict[str, Any]:
    """Check, state, reason, since, incident(s) and who acknowledged, as a section's fields."""
    kind = notification.kind
    fields = []
    check = notification.check.name if notification.check else notification.alert.check
    if check and len(notification.alerts) == 1:
        fields.append(f"*Check*\n{escape(check)}")
    state = fmt.status_word(notification)
    fields.append(
        f"*State*\n{state} ({fmt.severity(notification)})"
        if kind is not NotificationKind.RESOLVE
        else f"*State*\n{state}"
    )
    if reason and len(notification.alerts) == 1:
        fields.append(f"*Reason*\n{escape(reason)}")
    since = fmt.since(notification)
    if since:
        fields.append(f"*Since*\n{escape(since)}")
    if len(ids) > 1:
        fields.append(f"*Incidents*\n{len(ids)}: {escape(ids[0])} …")
    elif ids:
        fields.append(f"*Incident*\n{escape(ids[0])}")
    if (
        notification.acknowledged_by
        and kind is not NotificationKind.ACKNOWLEDGE
        and not fmt.resolved_by(notification)
    ):
        fields.append(f"*Acknowledged by*\n{escape(notification.acknowledged_by)}")
    return {"type": "section", "fields": [_mrkdwn(f, MAX_FIELD_TEXT) for f in fields[:MAX_FIELDS]]}


def _alert_lists(notification: Notification) -> list[dict[str, Any]]:
    """A grouped message's alerts: one section, or the firing ones, then the resolved ones."""
    mixed = fmt.is_mixed(notification)
    blocks = []
    for heading, listed in fmt.alert_sections(notification):
        # a mixed group lists its firing alerts, then its resolved ones under "Resolved"
        marker = "✅ " if mixed and heading == "Resolved" else ""
        text = _alert_list(f"*{heading} ({len(listed)})*", listed, marker, with_state=not mixed)
        blocks.append({"type": "section", "text": _mrkdwn(text)})
    return blocks


def _facts(notification: Notification) -> list[dict[str, Any]]:
    """What the probe saw (our checks), the alarm's definition (other alarms) or the event's
    facts (AWS events): one section, a fact a line (``content.facts``)."""
    found = content.facts(notification)
    if not found:
        return []
    lines = [f"*{escape(label)}:* {escape(value)}" for label, value in found]
    return [{"type": "section", "text": _mrkdwn("\n".join(lines))}]


def _links(notification: Notification) -> list[dict[str, Any]]:
    """One section of links (runbook, console, sources, probe logs), when there are any. A link
    too long for the section is replaced by a shorter one that works (``content.short_link``),
    never by a cut one; what still cannot fit is counted, not cut."""
    found = content.links(notification)[:10]
    if not found:
        return []
    parts: list[str] = []
    left_out = 0
    room = MAX_SECTION_TEXT - 40  # " · and N more links" stays within the section
    for item in found:
        fitted = content.short_link(item, min(MAX_FIELD_TEXT, room) - len(item.text) - 8)
        rendered = link(fitted.href, fitted.text) if fitted else ""
        if not rendered or len(rendered) + 3 > room:
            left_out += 1
            continue
        parts.append(rendered)
        room -= len(rendered) + 3
    if left_out:
        parts.append(f"{left_out} more link{'s' if left_out != 1 else ''} in the e-mail and PagerDuty event")
    return [{"type": "section", "text": _mrkdwn(" · ".join(parts))}] if parts else []


def _context(notification: Notification, ids: list[str]) -> dict[str, Any]:
    """Severity, source, Region, account, when the state changed; and, when the buttons cannot
    name every incident, how many they act on."""
    alert = notification.alert
    context = [f"severity *{fmt.severity(notification)}*", f"source {alert.source.value}"]
    if alert.region:
        context.append(escape(alert.region))
    if alert.account:
        context.append(f"account {escape(alert.account)}")
    context.append(f"state changed {escape(fmt.format_time(alert.time))}")
    covered = len(button_value(ids).split(BUTTON_VALUE_SEPARATOR)) if ids else 0
    if notification.kind is not NotificationKind.RESOLVE and covered < len(ids):
        context.append(f"buttons act on the first {covered} of {len(ids)} incidents")
    return {
        "type": "context",
        "elements": [_mrkdwn(c, MAX_FIELD_TEXT) for c in context[:MAX_CONTEXT_ELEMENTS]],
    }


def _buttons(kind: NotificationKind, ids: list[str]) -> list[dict[str, Any]]:
    """Acknowledge and Resolve (only Resolve once acknowledged; none on a resolve)."""
    if not ids or kind is NotificationKind.RESOLVE:
        return []
    value = button_value(ids)
    elements = [
        {
            "type": "button",
            "action_id": RESOLVE_ACTION,
            "text": _plain("Resolve", MAX_BUTTON_TEXT),
            "value": value,
        }
    ]
    if kind is not NotificationKind.ACKNOWLEDGE:  # once acknowledged, only Resolve is left
        ack = {
            "type": "button",
            "action_id": ACK_ACTION,
            "text": _plain("Acknowledge", MAX_BUTTON_TEXT),
            "style": "primary",
            "value": value,
        }
        elements.insert(0, ack)
    return [{"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": elements}]


# ------------------------------------------------------------------------------- the notifier
class SlackNotifier:
    type = "slack"
    groups_alerts = True

    def __init__(self, *, timeout_s: float = 5.0, http: Any = None):
        self.timeout_s = timeout_s
        self._http = http

    # -- pure
    def build_payloads(self, channel: Channel, notification: Notification) -> list[dict[str, Any]]:
        return [body for _, body in self._plan(channel, notification)]

    def message(self, channel: Channel, notification: Notification) -> dict[str, Any]:
        """The Block Kit message (``text``, ``blocks``, ``attachments``) for a notification:
        header, lead, fields, alert lists, links, context, buttons."""
        who = mentions(channel, notification)
        title = fmt.title(notification)
        reason = fmt.reason(notification)
        ids = incident_ids(notification)
        lead = _lead(notification, who)
        blocks = [
            {"type": "header", "text": _plain(f"{fmt.emoji(notification)} {title}", MAX_HEADER)},
            *([{"type": "section", "text": _mrkdwn("\n".join(lead))}] if lead else []),
            _fields(notification, reason, ids),
            *_facts(notification),
            *_alert_lists(notification),
            *_links(notification),
            _context(notification, ids),
            *_buttons(notification.kind, ids),
        ]
        said = content.headline(notification) or reason
        fallback = " ".join(
            part
            for part in (" ".join(who), escape(title), "—" if said else "", escape(fmt.one_line(said)))
            if part
        )
        return {
            "text": _cut_mrkdwn(fallback, MAX_FALLBACK_TEXT),
            "blocks": blocks[:MAX_BLOCKS],
            "attachments": [
                {
                    "color": fmt.colour(notification),
                    "fallback": _cut_mrkdwn(escape(title), MAX_HEADER),
                    "text": f"{fmt.status_word(notification)} · severity {fmt.severity(notification)}"
                    + _counts(notification),
                }
            ],
        }

    def thread_reply(self, notification: Notification) -> dict[str, Any]:
        """The short reply posted under the original message on acknowledge / resolve."""
        firing = still_firing(notification)
        if notification.kind is NotificationKind.ACKNOWLEDGE:
            by = notification.acknowledged_by
            text = f"{fmt.emoji(notification)} Acknowledged{' by ' + escape(by) if by else ''}."
        elif firing:
            text = f"{fmt.emoji(notification)} {_names(notification)} resolved, {firing} still firing."
        else:
            by = fmt.resolved_by(notification)
            text = f"{fmt.emoji(notification)} Resolved{' by ' + escape(by) if by else ''}."
            since = fmt.since(notification)
            if since and "lasted" in since:
                text += f" Failing since {escape(since)}."
            reason = fmt.reason(notification)
            if reason and not by:
                text += f"\n{escape(fmt.one_line(reason))}"
        text = _cut_mrkdwn(text, MAX_SECTION_TEXT)
        return {"text": text, "blocks": [{"type": "section", "text": _mrkdwn(text)}]}

    def _plan(self, channel: Channel, notification: Notification) -> list[tuple[str, dict[str, Any]]]:
        """(endpoint, body) pairs: "webhook" or a Web API method name."""
        message = self.message(channel, notification)
        if not channel.get("bot_token"):
            return [("webhook", message)]
        extras = {"unfurl_links": False, "unfurl_media": False}
        handles = notification.handles or {}
        original_channel, ts = handles.get("channel"), handles.get("ts")
        if original_channel and ts:
            if still_firing(notification):  # part of the group: the original stays FIRING
                return [
                    (
                        "chat.postMessage",
                        {
                            "channel": original_channel,
                            "thread_ts": ts,
                            **self.thread_reply(notification),
                            **extras,
                        },
                    )
                ]
            if notification.kind in (NotificationKind.RESOLVE, NotificationKind.ACKNOWLEDGE):
                return [
                    ("chat.update", {"channel": original_channel, "ts": ts, **message}),
                    (
                        "chat.postMessage",
                        {
                            "channel": original_channel,
                            "thread_ts": ts,
                            **self.thread_reply(notification),
                            **extras,
                        },
                    ),
                ]
            if notification.kind is NotificationKind.TRIGGER and handles.get(UPDATE_HANDLE):
                # a route group's membership changed: its one message is edited in place
                return [("chat.update", {"channel": original_channel, "ts": ts, **message})]
            if notification.kind is NotificationKind.ESCALATION:
                return [
                    (
                        "chat.postMessage",
                        {
                            "channel": original_channel,
                            "thread_ts": ts,
                            "reply_broadcast": True,
                            **message,
                            **extras,
                        },
                    )
                ]
        return [("chat.postMessage", {"channel": channel.get("channel"), **message, **extras})]

    # -- I/O
    def send(self, channel: Channel, notification: Notification, secrets: SecretResolver) -> Delivery:
        plan = self._plan(channel, notification)
        if not channel.get("bot_token"):
            url = _resolve(secrets, channel, "webhook_url")
            response = post_json(url, plan[0][1], timeout=self.timeout_s, secrets=[url], http=self._http)
            return Delivery(channel=channel.name, handles={}, status=response.status_code)

        token = _resolve(secrets, channel, "bot_token")
        api_url = str(channel.get("api_url") or DEFAULT_API_URL).rstrip("/")
        handles = dict(notification.handles or {})
        status = None
        for method, body in plan:
            try:
                result, status = self._call(api_url, method, body, token)
            except DeliveryError as exc:
                if method == "chat.update" and isinstance(exc, SlackApiError) and exc.error in _UPDATE_GONE:
                    continue  # the original is gone or frozen: the thread reply still tells the story
                raise
            if method == "chat.postMessage" and "thread_ts" not in body:
                handles = {"channel": result.get("channel") or body.get("channel"), "ts": result.get("ts")}
        keep = {k: handles[k] for k in ("channel", "ts") if handles.get(k)}
        return Delivery(channel=channel.name, handles=keep, status=status)

    def _call(
        self, api_url: str, method: str, body: dict[str, Any], token: str
    ) -> tuple[dict[str, Any], int]:
        response = post_json(
            f"{api_url}/{method}",
            body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=self.timeout_s,
            secrets=[token],
            http=self._http,
        )
        try:
            result = response.json()
        except ValueError:
            raise DeliveryError(
                f"Slack {method}: answer was not JSON (HTTP {response.status_code})",
                permanent=False,
                status=response.status_code,
            ) from None
        if not isinstance(result, dict):
            raise DeliveryError(
                f"Slack {method}: unexpected answer", permanent=False, status=response.status_code
            )
        if result.get("ok"):
            return result, response.status_code
        error = str(result.get("error") or "unknown_error")[:100]
        transient = error in TRANSIENT_ERRORS
        raise SlackApiError(
            f"Slack {method}: {error}",
            error=error,
            permanent=not transient,
            retry_after=parse_retry_after(response.headers.get("Retry-After")) if transient else None,
            status=response.status_code,
        )


def _resolve(secrets: SecretResolver, channel: Channel, key: str) -> str:
    reference = channel.get(key)
    if not reference:
        raise DeliveryError(f"slack channel {channel.name}: no {key} configured", permanent=True)
    try:
        return secrets.resolve(str(reference))
    except Exception as exc:  # a missing secret is a configuration problem; say which reference
        raise DeliveryError(
            f"slack channel {channel.name}: {key} could not be resolved ({type(exc).__name__}: {exc})",
            permanent=bool(getattr(exc, "permanent", False)),
        ) from None


__all__ = [
    "ACK_ACTION",
    "DEFAULT_API_URL",
    "RESOLVE_ACTION",
    "SlackApiError",
    "SlackNotifier",
    "button_value",
    "escape",
    "incident_ids",
    "link",
    "mention",
    "mentions",
]
