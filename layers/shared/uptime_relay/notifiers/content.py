"""What one alert's message says, for every channel: the check's evidence, a foreign alarm's
definition, an AWS event's facts and the links, as plain text the channels escape and lay out.

Channels call these helpers (Slack: a headline and a facts section; e-mail: the first lines and
the facts table; PagerDuty: the summary and ``custom_details``), so a new channel gets the same
content by calling them too. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from .. import consoles
from ..domain.alert import Alert, AlertSource, AlertState, Link
from ..domain.evidence import EXTRA_KEY as EVIDENCE_KEY
from ..domain.evidence import LOG_GROUP_KEY, Evidence
from .base import Notification, NotificationKind
from .format import check_page, format_duration, one_line
from .format import links as alert_links

INFO_KEY = "informational"  # Alert.extra: an event that informs and never pages
FACTS_KEY = "facts"  # Alert.extra: [[label, value], …] an intake parser states about the event
MAX_FACT = 300  # characters of one fact's value
MAX_URL = 1500  # characters of a URL fact

# CloudWatch's "Threshold Crossed: 3 out of the last 3 datapoints [0.0 (03/12/26 13:36:00), …]"
_OUT_OF = re.compile(r"\b(\d+) out of the last (\d+) datapoints?\b")
_POINT_TIME = re.compile(r"\((\d{2})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})\)")

_REASONS = {
    "dns_error": "DNS lookup failed",
    "connect_refused": "connection refused",
    "connect_timeout": "connection timed out",
    "tls_error": "TLS handshake failed",
    "cert_expiring": "certificate expiring",
    "timeout": "timed out",
    "status_mismatch": "unexpected HTTP status",
    "body_mismatch": "response body did not match",
    "json_mismatch": "JSON response did not match",
    "too_slow": "too slow",
    "too_many_redirects": "too many redirects",
    "blocked_target": "blocked target (link-local or metadata address)",
    "error": "probe error",
    "condition_failed": "a condition failed",
}
_COMPARISONS = {
    "GreaterThanOrEqualToThreshold": "≥",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "≤",
    "LessThanLowerOrGreaterThanUpperThreshold": "outside the band",
    "LessThanLowerThreshold": "below the band",
    "GreaterThanUpperThreshold": "above the band",
}


# ------------------------------------------------------------------------------- our checks
def check_name(notification: Notification) -> str | None:
    """The check this single-alert message pages about (``format.check_page``), if any."""
    if len(notification.alerts) != 1:
        return None
    return check_page(notification.alert)


def evidence(alert: Alert) -> Evidence | None:
    data = alert.extra.get(EVIDENCE_KEY)
    return Evidence.from_dict(data) if isinstance(data, dict) else None


def failing_minutes(alert: Alert) -> tuple[int, int] | None:
    """(failed, of) from a CloudWatch "M out of the last N datapoints" reason, when it says so."""
    found = _OUT_OF.search(alert.reason or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


def first_failing_minute(alert: Alert) -> datetime | None:
    """The oldest datapoint the reason lists (CloudWatch writes them ``dd/mm/yy HH:MM:SS``)."""
    times = []
    for day, month, year, hour, minute, second in _POINT_TIME.findall(alert.reason or "")[:20]:
        try:
            times.append(
                datetime(
                    2000 + int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC
                )
            )
        except ValueError:
            continue
    return min(times) if times else None


def what_failed(found: Evidence) -> str:
    """The failure in words: ``HTTP 503 (expected 2xx)``, ``connection refused``…"""
    if found.reason == "status_mismatch" and found.status_code is not None:
        expected = ""
        if found.error and "expected " in found.error:
            expected = f" (expected {found.error.split('expected ', 1)[1]})"
        return f"HTTP {found.status_code}{expected}"
    words = _REASONS.get(found.reason, found.reason.replace("_", " "))
    if found.error and found.reason != "status_mismatch":
        return f"{words}: {found.error}"
    return words


def _hhmm(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%H:%M UTC")


def headline(notification: Notification) -> str | None:
    """The one line a person reads first, for our checks:
    ``shop is DOWN — HTTP 503 (expected 2xx), 3 of the last 3 minutes, since 13:34 UTC`` or
    ``shop is UP again — down for 4m (since 13:34 UTC)``; None for anything else."""
    check = check_name(notification)
    if not check or len(notification.alerts) != 1:
        return None
    alert = notification.alert
    kind = notification.kind
    if kind is NotificationKind.RESOLVE:
        if alert.state is not AlertState.OK or notification.opened_at is None:
            return None
        lasted = format_duration(max(timedelta(0), alert.time - notification.opened_at))
        return one_line(f"{check} is UP again — down for {lasted} (since {_hhmm(notification.opened_at)})")
    if (
        kind not in (NotificationKind.TRIGGER, NotificationKind.ESCALATION)
        or alert.state is not AlertState.ALARM
    ):
        return None
    parts = []
    found = evidence(alert)
    if found is not None:
        parts.append(what_failed(found))
    minutes = failing_minutes(alert)
    if minutes:
        parts.append(f"{minutes[0]} of the last {minutes[1]} minutes")
    since = first_failing_minute(alert) or (found.since if found else None) or notification.opened_at
    if since is not None:
        parts.append(f"since {_hhmm(since)}")
    return one_line(f"{check} is DOWN — {', '.join(parts)}" if parts else f"{check} is DOWN")


def evidence_facts(alert: Alert) -> list[tuple[str, str]]:
    """What the probe saw on the failing minutes, one fact a line."""
    found = evidence(alert)
    if found is None:
        return []
    facts = [("Failure", f"{_REASONS.get(found.reason, found.reason)} ({found.reason})")]
    if found.status_code is not None:
        facts.append(("Status", str(found.status_code)))
    if found.error:
        facts.append(("Error", found.error))
    if found.phase:
        facts.append(("Phase", found.phase))
    if found.latency_ms is not None:
        facts.append(("Latency", f"{found.latency_ms:.0f} ms"))
    if found.url:
        facts.append(("URL", found.url))
    if found.body_excerpt:
        facts.append(("Body", found.body_excerpt))
    return facts


# ------------------------------------------------------------------------------- foreign alarms
def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _dimensions(dimensions) -> str:
    return ", ".join(f"{k}={v}" for k, v in dimensions)


def _period(seconds: object) -> str | None:
    if isinstance(seconds, int) and seconds > 0:
        return format_duration(timedelta(seconds=seconds))
    return None


def alarm_facts(alert: Alert) -> list[tuple[str, str]]:
    """A CloudWatch alarm's definition: metric (namespace, name, dimensions), condition
    (statistic, comparison, threshold, M of N periods), expression (metric math), rule and the
    children that triggered (composite). Nothing for our own checks (their evidence says more)."""
    if alert.source not in (AlertSource.CLOUDWATCH, AlertSource.EVENTBRIDGE) or alert.check:
        return []
    extra = alert.extra
    facts: list[tuple[str, str]] = []
    metric = alert.metric
    if metric is not None:
        facts.append(("Metric", f"{metric.namespace} {metric.name}".strip()))
        if metric.dimensions:
            facts.append(("Dimensions", _dimensions(metric.dimensions)))
    for query in extra.get("metrics") or ():
        if not isinstance(query, dict):
            continue
        if query.get("expression"):
            label = f"{query['id']} = " if query.get("id") else ""
            facts.append(("Expression", f"{label}{query['expression']}"))
        elif metric is None and query.get("name"):
            label = f"{query['id']}: " if query.get("id") else ""
            dims = f" ({_dimensions(query.get('dimensions') or ())})" if query.get("dimensions") else ""
            stat = f" {query['stat']}" if query.get("stat") else ""
            facts.append(
                ("Metric", f"{label}{query.get('namespace') or ''} {query['name']}{stat}{dims}".strip())
            )
    condition = _condition(alert)
    if condition:
        facts.append(("Condition", condition))
    if extra.get("alarm_rule"):
        facts.append(("Rule", str(extra["alarm_rule"])))
    if alert.annotations.get("triggering_children"):
        facts.append(("Triggered by", alert.annotations["triggering_children"]))
    return [(label, _cut(value)) for label, value in facts]


def _condition(alert: Alert) -> str | None:
    extra = alert.extra
    threshold = extra.get("threshold")
    comparison = extra.get("comparison_operator")
    if threshold is None and comparison is None:
        return None
    stat = alert.metric.stat if alert.metric and alert.metric.stat else None
    if comparison:
        op = _COMPARISONS.get(str(comparison), str(comparison))
        text = " ".join(p for p in (stat, op, _number(threshold) if threshold is not None else None) if p)
    else:  # EventBridge and Lambda action events state the threshold only
        text = ", ".join(p for p in (stat, f"threshold {_number(threshold)}") if p)
    m, n = extra.get("datapoints_to_alarm"), extra.get("evaluation_periods")
    period = _period(alert.metric.period if alert.metric else None)
    if isinstance(n, int):
        window = f"{m if isinstance(m, int) else n} of {n}"
        text += f" for {window} periods" + (f" of {period}" if period else "")
    return text


# ------------------------------------------------------------------------------- AWS events
def event_facts(alert: Alert) -> list[tuple[str, str]]:
    """Facts an intake parser stated about an AWS event (service, resource, severity…)."""
    out = []
    for item in alert.extra.get(FACTS_KEY) or ():
        if isinstance(item, list | tuple) and len(item) == 2 and item[1] not in (None, ""):
            value = str(item[1])
            # a URL is shown whole (a cut one does not work); the channels' own limits still hold
            out.append((str(item[0]), _cut(value, MAX_URL if value.startswith("https://") else MAX_FACT)))
    return out


def facts(notification: Notification) -> list[tuple[str, str]]:
    """Every content fact of a single-alert message: evidence, alarm definition, event facts."""
    if len(notification.alerts) != 1:
        return []
    alert = notification.alert
    if notification.kind is NotificationKind.RESOLVE:
        return []
    check = check_name(notification)
    named = [("Alarm", _cut(alert.name))] if check and alert.name and alert.name != check else []
    return evidence_facts(alert) + named + alarm_facts(alert) + event_facts(alert)


def facts_dict(found: list[tuple[str, str]]) -> dict[str, str]:
    """Facts as a JSON object for structured channels; a repeated label (the metrics of a
    metric-math alarm) gets its number: ``Metric``, ``Metric 2``, …"""
    out: dict[str, str] = {}
    for label, value in found:
        key, n = label, 1
        while key in out:
            n += 1
            key = f"{label} {n}"
        out[key] = value
    return out


def _cut(text: str, limit: int = MAX_FACT) -> str:
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ------------------------------------------------------------------------------- links
def insights_link(notification: Notification, now: datetime | None = None) -> Link | None:
    """Logs Insights over the probe's log lines of this check, for the incident's time range
    (from a few minutes before it started to a few minutes after this message's state change)."""
    check = check_name(notification)
    alert = notification.alert if notification.alerts else None
    if not check or alert is None:
        return None
    group = alert.extra.get(LOG_GROUP_KEY)
    if not isinstance(group, str) or not group:
        return None
    found = evidence(alert)
    start = notification.opened_at or (found.since if found else None) or alert.time
    first = first_failing_minute(alert)
    if first is not None and first < start:
        start = first
    start = start - timedelta(minutes=5)
    end = max(alert.time, now or alert.time) + timedelta(minutes=5)
    safe = check.replace("\\", "\\\\").replace('"', '\\"')
    query = (
        "fields @timestamp, reason, phase, status_code, latency_ms, error\n"
        f'| filter check = "{safe}"\n'
        "| sort @timestamp desc"
    )
    href = consoles.logs_insights_url(alert.region, group, query, start, end)
    return Link(href=href, text="Probe logs") if href else None


def short_link(link: Link, limit: int) -> Link | None:
    """``link`` if it fits in ``limit`` characters, else a shorter one that still works
    (``consoles.shorten_url``: the alarm list searched for the alarm's name, or the address
    without its query); None if nothing fits."""
    if len(link.href) <= limit:
        return link
    shorter = consoles.shorten_url(link.href, limit)
    if shorter is None:
        return None
    return Link(href=shorter, text=f"{link.text} (list)" if consoles.is_alarm_list(shorter) else link.text)


def links(notification: Notification) -> list[Link]:
    """The message's links (``format.links``: runbook, console, sources), then the probe's
    Logs Insights link for our checks."""
    found = alert_links(notification)
    extra = insights_link(notification)
    if extra is not None and all(item.href != extra.href for item in found):
        found.append(extra)
    return found
