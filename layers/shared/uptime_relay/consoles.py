"""AWS console links, partition-aware: one place builds every CloudWatch console URL the
notifications carry (an alarm, the alarm list filtered by name, Logs Insights over a time range).

Partitions have their own console hosts: ``aws`` (``<region>.console.aws.amazon.com``),
``aws-cn`` (``<region>.console.amazonaws.cn``) and ``aws-us-gov`` (``console.amazonaws-us-gov.com``).
Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
# Characters the console's rison-like fragment (``~(key~'value)``) cannot carry as they are.
_RISON_ESCAPES = {"~": "~~", "'": "~'", "*": "*2a", "(": "*28", ")": "*29", "!": "*21"}
SEARCH_PREFIX = 64  # characters of an alarm name the short (alarm list) link searches for


def partition(region: str | None) -> str:
    """``aws``, ``aws-cn`` (cn-*) or ``aws-us-gov`` (us-gov-*)."""
    region = region or ""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def console_host(region: str) -> str:
    kind = partition(region)
    if kind == "aws-cn":
        return f"{region}.console.amazonaws.cn"
    if kind == "aws-us-gov":
        return "console.amazonaws-us-gov.com"
    return f"{region}.console.aws.amazon.com"


def valid_region(region: str | None) -> bool:
    return bool(region) and bool(_REGION.match(region or ""))


def _cloudwatch(region: str) -> str:
    return f"https://{console_host(region)}/cloudwatch/home?region={region}"


def alarm_url(region: str | None, name: str | None) -> str | None:
    """The alarm's own page; None without a valid Region code or a name."""
    if not valid_region(region) or not name:
        return None
    return f"{_cloudwatch(region or '')}#alarmsV2:alarm/{quote(name, safe='')}"


def _rison(text: str) -> str:
    return "".join(_RISON_ESCAPES.get(ch, ch) for ch in text)


def alarm_list_url(region: str | None, name: str | None) -> str | None:
    """The alarm list searched for the start of ``name``: short whatever the name's length, and
    it still lands on the alarm (the short form of :func:`alarm_url`)."""
    if not valid_region(region) or not name:
        return None
    search = quote(_rison(name[:SEARCH_PREFIX]), safe="")
    return f"{_cloudwatch(region or '')}#alarmsV2:?~(search~'{search})"


def _insights_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def logs_insights_url(
    region: str | None, log_group: str | None, query: str, start: datetime, end: datetime
) -> str | None:
    """CloudWatch Logs Insights with ``query`` over ``log_group`` between ``start`` and ``end``
    (absolute times, UTC). The console reads its state from the fragment in a rison-like form
    whose values are percent-encoded and then have ``%`` written as ``*`` (``/`` is ``*2F``)."""
    if not valid_region(region) or not log_group:
        return None

    def value(text: str) -> str:  # every character but letters, digits and "_.-" as *XX
        return quote(text, safe="").replace("~", "%7E").replace("%", "*")

    state = (
        f"~(end~'{value(_insights_time(end))}~start~'{value(_insights_time(start))}~timeType~'ABSOLUTE"
        f"~tz~'UTC~editorString~'{value(query)}~source~(~'{value(log_group)}))"
    )
    # the fragment's own "?queryDetail=" is written with "$" for "%"
    return f"{_cloudwatch(region or '')}#logsV2:logs-insights$3FqueryDetail$3D{state}"


def shorten_url(href: str, limit: int) -> str | None:
    """A shorter URL that still works, when ``href`` is longer than ``limit``: a CloudWatch alarm
    link becomes the alarm list searched for the alarm's name; any other URL loses its query and
    fragment, else keeps only its site. None when nothing fits. ``href`` itself when it fits."""
    if len(href) <= limit:
        return href
    parts = urlsplit(href)
    if parts.fragment.startswith("alarmsV2:alarm/"):
        region = (parse_qs(parts.query).get("region") or [None])[0]
        shorter = alarm_list_url(region, unquote(parts.fragment[len("alarmsV2:alarm/") :]))
        if shorter and len(shorter) <= limit:
            return shorter
    for candidate in (
        urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
        urlunsplit((parts.scheme, parts.netloc, "/", "", "")),
    ):
        if len(candidate) <= limit:
            return candidate
    return None


def is_alarm_list(href: str) -> bool:
    return "#alarmsV2:?~(search~" in href
