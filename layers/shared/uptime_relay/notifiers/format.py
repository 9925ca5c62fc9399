"""Formatting shared by every channel: titles, severity, colours, links and safe truncation.

Everything here is pure (no I/O, no clock): the same notification always renders the same text,
which is what ``uptime-relay render`` prints and what the channels send.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from .. import consoles, metricnames
from ..domain import severity as _severity
from ..domain.alert import Alert, AlertSource, AlertState, Link
from ..safetext import safe_text
from ..urls import MAX_LENGTH as URL_LIMIT
from ..urls import display_url
from .base import Notification, NotificationKind

ELLIPSIS = "…"
SEVERITIES = _severity.SEVERITIES  # the tiers, most severe first (``domain.severity``)

# Colours for the Slack attachment bar and the e-mail banner.
COLOURS = {
    "critical": "#D0021B",
    "error": "#E8590C",
    "warning": "#F2C744",
    "info": "#439FE0",
    "resolved": "#2EB67D",
    "acknowledged": "#8D8D8D",
}


# ------------------------------------------------------------------------------- truncation
def truncate(text: str | None, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """At most ``limit`` characters; cut text ends with ``ellipsis``.

    Python strings are code points, so a cut never splits a UTF-8 sequence; a trailing lone
    surrogate or a combining mark left dangling at the cut is dropped as well.
    """
    text = text or ""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    if limit <= len(ellipsis):
        return ellipsis[:limit]
    cut = text[: limit - len(ellipsis)]
    while cut and (0xD800 <= ord(cut[-1]) <= 0xDFFF or _is_combining(text[len(cut)])):
        # don't strand half a surrogate pair or separate a base letter from its accent
        cut = cut[:-1]
    return cut.rstrip() + ellipsis


def truncate_bytes(
    text: str | None, max_bytes: int, ellipsis: str = ELLIPSIS, encoding: str = "utf-8"
) -> str:
    """At most ``max_bytes`` when encoded; never ends inside a multi-byte character."""
    text = text or ""
    data = text.encode(encoding, "replace")
    if len(data) <= max_bytes:
        return text
    tail = ellipsis.encode(encoding)
    if max_bytes <= len(tail):
        return ""
    cut = data[: max_bytes - len(tail)].decode(encoding, "ignore")  # drops a partial last char
    return cut.rstrip() + ellipsis


def _is_combining(ch: str) -> bool:
    return unicodedata.combining(ch) != 0


def one_line(text: str | None) -> str:
    """Collapse whitespace (newlines, tabs) into single spaces, bidi controls made visible and
    invisible or control characters removed (``safetext.safe_text``): safe for subjects, headers
    and summaries."""
    return " ".join(safe_text(text).split())


# ------------------------------------------------------------------------------- state words
def severity(notification_or_alert: Notification | Alert, default: str | None = None) -> str:
    """critical | error | warning | info: the tier of the ``severity`` label (``domain.severity``:
    p0/p1/sev0/sev1 are critical, …; the most severe of a group), else ``default`` (a channel's
    ``severity`` option, for alerts whose label is missing or unknown), else by state."""
    alerts = _alerts(notification_or_alert)
    if isinstance(notification_or_alert, Notification):
        alerts = firing_alerts(notification_or_alert)  # a resolved member does not raise it
    tier = _severity.most_severe(_severity.normalise(a.labels.get("severity")) for a in alerts)
    if tier is not None:
        return tier
    if default is not None and default in SEVERITIES:
        return default
    state = alerts[0].state if alerts else AlertState.ALARM
    if state is AlertState.INSUFFICIENT_DATA:
        return "warning"
    if state is AlertState.OK:
        return "info"
    return "critical"


def resolved_alerts(notification: Notification) -> tuple[Alert, ...]:
    """The alerts of a TRIGGER that have already resolved: one Alertmanager body with firing and
    resolved alerts is ONE message (firing listed first, then these under "Resolved"); () for
    every other notification (a RESOLVE's alerts are what it is about, not a part of it)."""
    if notification.kind is not NotificationKind.TRIGGER:
        return ()
    return tuple(a for a in notification.alerts if a.state is AlertState.OK)


def firing_alerts(notification: Notification) -> tuple[Alert, ...]:
    """The alerts a notification is about, without a mixed TRIGGER's resolved ones."""
    firing = tuple(a for a in notification.alerts if a.state is not AlertState.OK)
    return firing if firing and resolved_alerts(notification) else notification.alerts


def is_mixed(notification: Notification) -> bool:
    """A TRIGGER listing firing and resolved alerts of one Alertmanager body."""
    return bool(resolved_alerts(notification)) and bool(firing_alerts(notification))


def earlier_still_firing(notification: Notification) -> int:
    """On a mixed TRIGGER: how many alerts of the resolved members' earlier message, not listed
    in this one, still fire (``handles["still_firing"]``, set by the relay; 0 when unknown)."""
    if not is_mixed(notification):
        return 0
    try:
        return max(0, int((notification.handles or {}).get("still_firing") or 0))
    except (TypeError, ValueError):
        return 0


def status_word(notification: Notification) -> str:
    """The one-word state shown in titles: FIRING, RESOLVED, ACKNOWLEDGED, ESCALATED, NO DATA,
    FLAPPING (a check started flapping) or STABLE (it settled again)."""
    kind = notification.kind
    if kind is NotificationKind.RESOLVE:
        return "RESOLVED"
    if kind is NotificationKind.ACKNOWLEDGE:
        return "ACKNOWLEDGED"
    if kind is NotificationKind.WARNING:
        return "INFO" if informational(notification) else "NO DATA"
    if kind is NotificationKind.ESCALATION:
        return "ESCALATED"
    if kind is NotificationKind.FLAPPING:
        return "FLAPPING" if notification.alert.state is not AlertState.OK else "STABLE"
    return "FIRING"


def informational(notification: Notification) -> bool:
    """Every alert of it is an event that informs and never pages (``extra["informational"]``:
    an SNS subscription confirmation, an AWS Health notice)."""
    return bool(notification.alerts) and all(a.extra.get("informational") for a in notification.alerts)


def colour(notification: Notification, default_severity: str | None = None) -> str:
    if notification.kind is NotificationKind.RESOLVE:
        return COLOURS["resolved"]
    if notification.kind is NotificationKind.ACKNOWLEDGE:
        return COLOURS["acknowledged"]
    if notification.kind is NotificationKind.WARNING:
        return COLOURS["warning"]
    if notification.kind is NotificationKind.FLAPPING:
        return COLOURS["warning" if notification.alert.state is not AlertState.OK else "resolved"]
    return COLOURS[severity(notification, default_severity)]


def emoji(notification: Notification) -> str:
    if notification.kind is NotificationKind.WARNING and informational(notification):
        return "📣"
    return {
        NotificationKind.TRIGGER: "🔴",
        NotificationKind.ESCALATION: "🚨",
        NotificationKind.WARNING: "⚠️",
        NotificationKind.RESOLVE: "✅",
        NotificationKind.ACKNOWLEDGE: "👀",
        NotificationKind.FLAPPING: "🔁",
    }[notification.kind]


# ------------------------------------------------------------------------------- names and lines
def check_page(alert: Alert) -> str | None:
    """The check an alert pages about when it is one of our checks' availability alarms (or a
    test alert shaped like one): its pages are titled by the check and say what the probe saw.
    A health-JSON dependency's page is about ``<check> / <dependency>``. None for any other
    alarm, also one that names a check (a latency anomaly alarm on it)."""
    if alert.check and alert.labels.get("metric") == metricnames.AVAILABILITY:
        dependency = alert.labels.get("dependency")
        return f"{alert.check} / {dependency}" if dependency else alert.check
    return None


def display_name(notification: Notification) -> str:
    """The name of what is alerting: a route group's label (``team=web``, set by ``paging.groups``
    in ``handles["group"]``), the check (for our checks), the alarm / alertname, or "<first> and N
    more" for a mixed group."""
    group = (notification.handles or {}).get("group")
    if isinstance(group, dict) and group.get("label"):
        return str(group["label"])
    alerts = notification.alerts
    if not alerts:
        return "alert"
    checks = {check_page(a) for a in alerts}
    if len(checks) == 1 and None not in checks:  # our check: its name, not its alarm's
        return str(checks.pop())
    names = {a.name for a in alerts}
    if len(names) == 1:
        return alerts[0].name or "alert"
    common = {a.labels.get("alertname") for a in alerts}
    if len(common) == 1 and None not in common:
        return str(common.pop())
    return f"{alerts[0].name} and {len(alerts) - 1} more"


def group_note(notification: Notification) -> str | None:
    """One line about the route group a notification speaks for (``handles["group"]``, set by
    ``paging.groups``), or None: how many of its members fire; a storm summary says why it exists
    and where the full list is."""
    group = (notification.handles or {}).get("group")
    if not isinstance(group, dict) or not group.get("id"):
        return None
    members, firing = int(group.get("members") or 0), int(group.get("firing") or 0)
    if group.get("storm"):
        return (
            f"Storm guard: {members} incident{'s' if members != 1 else ''} opened on this route past "
            "the threshold and are summarised here (the first are listed; every one is in "
            "`uptime-relay incidents list`)."
        )
    return f"{firing} of {members} alert{'s' if members != 1 else ''} of group {group.get('label')} firing."


def title(notification: Notification) -> str:
    """``[FIRING] uptime-api-availability`` / ``[FIRING:3] HighErrorRate`` (one line, untruncated;
    ``[TEST] `` first for a test alert).
    A mixed TRIGGER counts its firing alerts only, as Alertmanager's own Slack template does
    (``[FIRING:2] HighErrorRate`` for two firing and one resolved, ``[FIRING:1]`` for one)."""
    word = status_word(notification)
    count = len(firing_alerts(notification))
    if count > 1 or is_mixed(notification):
        word = f"{word}:{count}"
    test = "[TEST] " if any(a.is_test for a in notification.alerts) else ""
    return one_line(f"{test}[{word}] {display_name(notification)}")


def summary(notification: Notification) -> str:
    """One sentence about what happened, for notifications and the PagerDuty summary."""
    alert = notification.alert
    what = display_name(notification)
    check = notification.check.name if notification.check else alert.check
    subject = f"{what} (check {check})" if check and check != what else what
    if any(a.is_test for a in notification.alerts):
        subject = f"[TEST] {subject}"
    kind = notification.kind
    if kind is NotificationKind.RESOLVE:
        by = resolved_by(notification)
        return one_line(f"Resolved{' by ' + by if by else ''}: {subject}")
    if kind is NotificationKind.ACKNOWLEDGE:
        by = f" by {notification.acknowledged_by}" if notification.acknowledged_by else ""
        return one_line(f"Acknowledged{by}: {subject}")
    if kind is NotificationKind.WARNING:
        word = "Info" if informational(notification) else "No data"
        return one_line(f"{word}: {subject} — {alert.reason}")
    if kind is NotificationKind.FLAPPING:
        word = "Flapping" if alert.state is not AlertState.OK else "Stable again"
        return one_line(f"{word}: {subject} — {alert.reason}")
    return one_line(f"{subject} — {alert.reason}" if alert.reason else subject)


def resolved_by(notification: Notification) -> str | None:
    """Who resolved it by hand (Slack button, ack link, CLI); None when the alarm itself cleared."""
    if notification.kind is not NotificationKind.RESOLVE or not notification.alerts:
        return None
    if notification.alert.state is AlertState.OK:
        return None
    return notification.acknowledged_by


def reason(notification: Notification) -> str:
    alert = notification.alert
    return alert.reason or alert.description or ""


def format_time(at: datetime | None) -> str:
    if at is None:
        return ""
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at.utcoffset() == timedelta(0) else at.isoformat()


def format_duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if secs and not days and not hours:
        parts.append(f"{secs}s")
    return " ".join(parts) or "0s"


def since(notification: Notification) -> str:
    """``2026-11-20 10:15:30 UTC`` (and, on resolve, how long it lasted), or "" when unknown."""
    opened = notification.opened_at
    if opened is None:
        return ""
    text = format_time(opened)
    alert_time = notification.alert.time if notification.alerts else None
    if notification.kind is NotificationKind.RESOLVE and alert_time and alert_time > opened:
        text += f" (lasted {format_duration(alert_time - opened)})"
    elif alert_time and alert_time > opened:
        text += f" ({format_duration(alert_time - opened)} ago)"
    return text


# ------------------------------------------------------------------------------- links
def is_web_url(url: str | None) -> bool:
    """Only http(s) URLs are ever rendered as links (no javascript:, data:, …)."""
    if not url or not isinstance(url, str):
        return False
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def runbook(notification: Notification) -> str | None:
    """The check's runbook, else a ``runbook``/``runbook_url`` label or annotation."""
    if notification.check is not None and is_web_url(notification.check.runbook):
        return notification.check.runbook
    for alert in notification.alerts:
        for source in (alert.annotations, alert.labels):
            for key in ("runbook_url", "runbook"):
                value = source.get(key)
                if is_web_url(value):
                    return str(value).strip()
    return None


def console_url(alert: Alert) -> str | None:
    """CloudWatch console deep link for a CloudWatch alarm (needs the region code)."""
    if alert.source not in (AlertSource.CLOUDWATCH, AlertSource.EVENTBRIDGE):
        return None
    name = alert.labels.get("alarm") or alert.extra.get("alarm_name") or alert.name
    return consoles.alarm_url(alert.region, str(name) if name else None)


def generator_url(alert: Alert) -> str | None:
    """Alertmanager's generatorURL (the Prometheus graph) when the intake kept it (link form:
    ``urls.display_url(link=True)``)."""
    for key in ("generator_url", "generatorURL"):
        value = alert.extra.get(key)
        if is_web_url(value):
            return display_url(str(value), link=True)
    for link in alert.links:
        text = link.text.lower()
        if is_web_url(link.href) and ("generator" in text or text in ("source", "prometheus", "graph")):
            return display_url(link.href, link=True)
    return None


def links(notification: Notification) -> list[Link]:
    """Runbook, console / source links and any other links the alerts carry; http(s) only, no
    duplicates, each in its link form (``urls.display_url(link=True)``: no credentials). A link
    too long to show whole is replaced by a shorter one that works (``consoles.shorten_url``)."""
    out: list[Link] = []
    seen: set[str] = set()

    def add(href: str | None, text: str) -> None:
        if href is None or not is_web_url(href):
            return
        href = href.strip()
        if len(href) > URL_LIMIT:  # shown whole it would be cut: a shorter one that works instead
            shorter = consoles.shorten_url(href, URL_LIMIT)
            if shorter is None:
                return
            if consoles.is_alarm_list(shorter) and not consoles.is_alarm_list(href):
                text = f"{text} (list)"
            href = shorter
        href = display_url(href, link=True)
        if href not in seen:
            seen.add(href)
            out.append(Link(href=href, text=text))

    add(runbook(notification), "Runbook")
    for alert in notification.alerts[:1]:
        add(console_url(alert), "CloudWatch alarm")
        add(generator_url(alert), "Source")
    for alert in notification.alerts[:5]:
        for link in alert.links:
            add(link.href, one_line(link.text) or "Link")
    return out


def alert_line(alert: Alert, *, with_state: bool = True) -> str:
    """``name — reason`` on one line, for lists of grouped alerts (unescaped, untruncated); a
    state other than ALARM is named first (``[OK] …``) unless ``with_state`` is False (the list
    it is in is headed by its state)."""
    label = alert.name
    instance = alert.labels.get("instance")
    if instance and instance not in label:
        label = f"{label} ({instance})"
    text = alert.annotations.get("summary") or alert.annotations.get("description") or alert.reason
    state = "" if alert.state is AlertState.ALARM or not with_state else f"[{alert.state.value}] "
    return one_line(f"{state}{label} — {text}" if text else f"{state}{label}")


def alert_sections(notification: Notification) -> list[tuple[str, tuple[Alert, ...]]]:
    """The alert lists a grouped message shows, each with its heading: ``[("Alerts", all)]``, or
    for a mixed TRIGGER ``[("Firing", …), ("Resolved", …)]``; [] for a single alert."""
    if len(notification.alerts) <= 1:
        return []
    if is_mixed(notification):
        return [("Firing", firing_alerts(notification)), ("Resolved", resolved_alerts(notification))]
    return [("Alerts", notification.alerts)]


def capped(items: Iterable[str], limit: int) -> list[str]:
    """The first ``limit`` items, plus "and N more" when there were more."""
    items = list(items)
    if len(items) <= limit:
        return items
    return [*items[:limit], f"and {len(items) - limit} more"]


def _alerts(value: Notification | Alert) -> tuple[Alert, ...]:
    return value.alerts if isinstance(value, Notification) else (value,)
