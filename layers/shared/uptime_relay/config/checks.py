"""The ``checks`` section: each check's target (url or tcp), request, expectations and alarm."""

from __future__ import annotations

import json
import re
from typing import Any

from ..urls import display_url
from .model import (
    CHECK_NAME_RE,
    INTERVALS,
    AlarmPolicy,
    Check,
    Expect,
    StatusRange,
    is_secret_ref,
    secret_ref_problem,
)
from .validator import Validator, join, kind, where_item
from .yamlpos import PosDict, PosList

CHECK_KEYS = (
    "name",
    "url",
    "tcp",
    "method",
    "headers",
    "body",
    "timeout",
    "follow_redirects",
    "max_redirects",
    "verify_tls",
    "ca_file",
    "expect",
    "labels",
    "runbook",
    "description",
    "alarm",
    "retries",
    "latency_metric",
    "interval",
    "regions",
    "quorum",
)
EXPECT_KEYS = ("status", "body_contains", "body_regex", "json", "max_latency", "cert_min_days")
TCP_IGNORED_KEYS = ("method", "headers", "body", "follow_redirects", "max_redirects", "verify_tls", "ca_file")
TCP_IGNORED_EXPECT = ("status", "body_contains", "body_regex", "json", "cert_min_days")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_TIMEOUT_S = 55.0


def read_check(v: Validator, checks: PosList, index: int, value: Any) -> Check | None:
    path = f"checks[{index}]"
    data = v.mapping(checks, index, path, value)
    if data is None:
        return None
    v.keys(data, path, CHECK_KEYS, required=("name",))
    fields: dict[str, Any] = {"line": data.line}
    named = _name(v, data, path, fields)
    targeted = _target(v, data, path, fields)
    fields.update(_request(v, data, path))
    if "tcp" in data and "url" not in data:
        _refuse_http_settings(v, data, path)
    fields.update(_about(v, data, path))
    if "alarm" in data:
        fields["alarm"] = _alarm(v, data, f"{path}.alarm")
    fields.update(_cadence(v, data, path, fields.get("timeout_s")))
    _alarm_span(v, data, path, fields.get("interval_s", 60), fields.get("alarm"))
    fields = {k: val for k, val in fields.items() if val is not None}
    if not (named and targeted) or "name" not in fields:
        return None
    return Check(**fields)


def _name(v: Validator, data: PosDict, path: str, fields: dict[str, Any]) -> bool:
    if "name" not in data:
        return False
    name = data["name"]
    if not isinstance(name, str) or not CHECK_NAME_RE.match(name):
        v.error(
            data,
            "name",
            f"{path}.name",
            f"bad check name {name!r}: use 1-63 of a-z, 0-9 and '-', starting with a letter or digit",
        )
        return False
    fields["name"] = name
    return True


def _target(v: Validator, data: PosDict, path: str, fields: dict[str, Any]) -> bool:
    """Exactly one of ``url`` (http or https) and ``tcp`` (host:port)."""
    if "url" in data and "tcp" in data:
        v.error(data, "tcp", f"{path}.tcp", "give either url or tcp, not both")
        return False
    if "url" in data:
        url = v.url(data, "url", f"{path}.url", data["url"])
        fields["url"] = url
        if url is not None and is_secret_ref(url):
            v.error(data, "url", f"{path}.url", "the URL itself cannot be a secret reference")
        return url is not None and not is_secret_ref(url)
    if "tcp" in data:
        target = _tcp_target(v, data, f"{path}.tcp", data["tcp"])
        if target is not None:
            fields["tcp_host"], fields["tcp_port"] = target
        return target is not None
    v.error(data, None, path, "needs a target: url (http or https) or tcp (host:port)")
    return False


def _tcp_target(v: Validator, parent: Any, path: str, value: Any) -> tuple[str, int] | None:
    text = v.string(parent, "tcp", path, value)
    if text is None:
        return None
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([^:\[\]\s]+):(\d+)", text.strip())
    if not match:
        v.error(parent, "tcp", path, f"expected host:port (or [ipv6]:port), got {text!r}")
        return None
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 1 <= port <= 65535:
        v.error(parent, "tcp", path, f"port {port} is out of range (1-65535)")
        return None
    return host, port


def _request(v: Validator, data: PosDict, path: str) -> dict[str, Any]:
    """How the check probes: method, headers, body, timeout, redirects, TLS, retries, expectations."""
    fields: dict[str, Any] = {}
    if "method" in data:
        fields["method"] = _method(v, data, f"{path}.method")
    if "headers" in data:
        fields["headers"] = _headers(v, data, f"{path}.headers")
    if data.get("body") is not None:
        body = data["body"]
        if isinstance(body, dict | list):
            try:
                fields["body"] = json.dumps(body, allow_nan=False)
            except (TypeError, ValueError):  # a date, bytes, a set, NaN…: YAML has more than JSON
                v.error(
                    data,
                    "body",
                    f"{path}.body",
                    "a body written as YAML must hold only JSON values"
                    " (text, finite numbers, true/false, null, lists and mappings)",
                )
        else:
            fields["body"] = v.string(data, "body", f"{path}.body", body, allow_empty=True)
    if "timeout" in data:
        fields["timeout_s"] = _timeout(v, data, f"{path}.timeout")
    for key in ("follow_redirects", "verify_tls", "latency_metric"):
        if key in data:
            fields[key] = v.boolean(data, key, f"{path}.{key}", data[key])
    if "max_redirects" in data:
        fields["max_redirects"] = v.integer(
            data, "max_redirects", f"{path}.max_redirects", data["max_redirects"], 0, 30
        )
    if "retries" in data:
        fields["retries"] = v.integer(data, "retries", f"{path}.retries", data["retries"], 0, 3)
    if "ca_file" in data:
        fields["ca_file"] = v.string(data, "ca_file", f"{path}.ca_file", data["ca_file"])
    if "expect" in data:
        fields["expect"] = read_expect(v, data, f"{path}.expect", data["expect"])
    return fields


def _method(v: Validator, data: PosDict, path: str) -> str | None:
    method = v.string(data, "method", path, data["method"])
    if method is None:
        return None
    if method.upper() not in METHODS:
        v.error(data, "method", path, f"unknown HTTP method {method!r} (one of {', '.join(METHODS)})")
    return method.upper()


def _headers(v: Validator, data: PosDict, path: str) -> dict[str, str] | None:
    headers = v.mapping(data, "headers", path, data["headers"])
    if headers is None:
        return None
    clean = {}
    for name, value in headers.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            v.error(headers, name, f"{path}.{name}", f"header values must be strings, got {kind(value)}")
        elif isinstance(value, str) and is_secret_ref(value) and (problem := secret_ref_problem(value)):
            v.error(headers, name, f"{path}.{name}", problem)
        else:
            clean[str(name)] = str(value)
    return clean


def _timeout(v: Validator, data: PosDict, path: str) -> float | None:
    timeout = v.duration(data, "timeout", path, data["timeout"], minimum=0.001)
    if timeout is not None and timeout > MAX_TIMEOUT_S:
        v.error(data, "timeout", path, "must be at most 55s: every probe run ends within the minute")
        return None
    return timeout


def read_expect(v: Validator, parent: Any, path: str, value: Any) -> Expect:
    data = v.mapping(parent, "expect", path, value)
    if data is None:
        return Expect()
    v.keys(data, path, EXPECT_KEYS)
    fields: dict[str, Any] = {}
    if "status" in data:
        fields["status"] = _status_ranges(v, data, "status", join(path, "status"), data["status"])
    if "body_contains" in data:
        fields["body_contains"] = v.string(
            data, "body_contains", join(path, "body_contains"), data["body_contains"]
        )
    if "body_regex" in data:
        fields["body_regex"] = _regex(v, data, join(path, "body_regex"))
    if "json" in data:
        expected = v.mapping(data, "json", join(path, "json"), data["json"])
        if expected is not None:
            if not expected:
                v.error(data, "json", join(path, "json"), "must name at least one dotted path")
            fields["json"] = dict(expected)
    if "max_latency" in data:
        fields["max_latency_ms"] = _ms(
            v.duration(data, "max_latency", join(path, "max_latency"), data["max_latency"], minimum=0.001)
        )
    if "cert_min_days" in data:
        fields["cert_min_days"] = _days(v, data, join(path, "cert_min_days"))
    return Expect(**{k: val for k, val in fields.items() if val is not None})


def _status_ranges(
    v: Validator, parent: Any, key: str, path: str, value: Any
) -> tuple[StatusRange, ...] | None:
    """``200``, ``"2xx"`` or a list of them; None unless every item reads."""
    items = value if isinstance(value, list) else [value]
    out: list[StatusRange] = []
    for index, item in enumerate(items):
        p = join(path, index) if isinstance(value, list) else path
        where = where_item(value, index, parent, key)
        if isinstance(item, bool):
            v.error(*where, p, f"expected a status code or class like '2xx', got {kind(item)}")
        elif isinstance(item, int):
            if 100 <= item <= 599:
                out.append(StatusRange(item, item))
            else:
                v.error(*where, p, f"status {item} is not an HTTP status code (100-599)")
        elif isinstance(item, str) and re.fullmatch(r"[1-5]xx", item.strip().lower()):
            digit = int(item.strip()[0])
            out.append(StatusRange(digit * 100, digit * 100 + 99))
        elif isinstance(item, str) and item.strip().isdigit() and 100 <= int(item) <= 599:
            out.append(StatusRange(int(item), int(item)))
        else:
            v.error(*where, p, f"expected a status code or class like '2xx', got {kind(item)}")
    if not items:
        v.error(parent, key, path, "must list at least one status")
    return tuple(out) if out and len(out) == len(items) else None


def _regex(v: Validator, data: PosDict, path: str) -> str | None:
    pattern = v.string(data, "body_regex", path, data["body_regex"])
    if pattern is None:
        return None
    try:
        re.compile(pattern)
    except re.error as exc:
        v.error(data, "body_regex", path, f"invalid regular expression: {exc}")
        return None
    return pattern


def _days(v: Validator, data: PosDict, path: str) -> float | None:
    days = data["cert_min_days"]
    if isinstance(days, bool) or not isinstance(days, int | float) or days < 0:
        v.error(data, "cert_min_days", path, f"expected a number of days (0 or more), got {kind(days)}")
        return None
    return float(days)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def _refuse_http_settings(v: Validator, data: PosDict, path: str) -> None:
    """A tcp check only connects: HTTP settings would be silently ignored, so refuse them."""
    for key in TCP_IGNORED_KEYS:
        if key in data:
            v.error(data, key, f"{path}.{key}", f"{key!r} does not apply to a tcp check (it only connects)")
    expect = data.get("expect")
    if isinstance(expect, dict):
        for key in expect:
            if key in TCP_IGNORED_EXPECT:
                v.error(
                    expect,
                    key,
                    f"{path}.expect.{key}",
                    f"{key!r} does not apply to a tcp check (it only connects; max_latency does)",
                )


def _about(v: Validator, data: PosDict, path: str) -> dict[str, Any]:
    """What the alert says about the check: labels, runbook, description."""
    fields: dict[str, Any] = {}
    if "labels" in data:
        fields["labels"] = v.labels(data, "labels", f"{path}.labels", data["labels"])
    if "runbook" in data:
        runbook = v.url(data, "runbook", f"{path}.runbook", data["runbook"])
        # a link people follow: its credentials never reach a channel (urls.display_url)
        fields["runbook"] = display_url(runbook, link=True) if runbook is not None else None
    if "description" in data:
        fields["description"] = v.string(data, "description", f"{path}.description", data["description"])
    return fields


def _alarm(v: Validator, data: PosDict, path: str) -> AlarmPolicy | None:
    """``datapoints`` of ``evaluation_periods`` (M of N); datapoints defaults to min(2, N)."""
    alarm = v.mapping(data, "alarm", path, data["alarm"])
    if alarm is None:
        return None
    v.keys(alarm, path, ("datapoints", "evaluation_periods"))
    n = alarm.get("evaluation_periods", AlarmPolicy.evaluation_periods)
    m = alarm.get("datapoints", min(AlarmPolicy.datapoints, n) if isinstance(n, int) else 1)
    n_ok = v.integer(alarm, "evaluation_periods", f"{path}.evaluation_periods", n, 1, 60)
    m_ok = v.integer(alarm, "datapoints", f"{path}.datapoints", m, 1, 60)
    if n_ok is None or m_ok is None:
        return None
    if m_ok > n_ok:
        v.error(
            alarm,
            "datapoints",
            f"{path}.datapoints",
            f"datapoints ({m_ok}) cannot exceed evaluation_periods ({n_ok})",
        )
        return None
    return AlarmPolicy(m_ok, n_ok)


# AWS region names (partition-agnostic: us-east-1, eu-central-2, us-gov-west-1, cn-north-1 ...)
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


def _cadence(v: Validator, data: PosDict, path: str, timeout_s: float | None) -> dict[str, Any]:
    """``interval`` (how often), ``regions`` and ``quorum`` (from where, and how many must agree)."""
    fields: dict[str, Any] = {}
    interval = None
    if "interval" in data:
        raw = data["interval"]
        interval = INTERVALS.get(raw) if isinstance(raw, str) else None
        if interval is None:
            v.error(
                data,
                "interval",
                f"{path}.interval",
                f"bad interval {raw!r}: one of {', '.join(INTERVALS)}",
            )
        else:
            fields["interval_s"] = interval
            timeout = timeout_s if timeout_s is not None else 10.0
            if interval < 60 and timeout > interval:
                v.error(
                    data,
                    "timeout" if "timeout" in data else "interval",
                    f"{path}.timeout",
                    f"timeout ({timeout:g}s) must not exceed the interval ({raw}): "
                    "a fast check is probed again before a longer probe could end",
                )
    regions: tuple[str, ...] = ()
    if "regions" in data:
        listed = v.sequence(data, "regions", f"{path}.regions", data["regions"])
        if listed is not None:
            names = []
            for index, item in enumerate(listed):
                if not isinstance(item, str) or not REGION_RE.match(item):
                    v.error(
                        listed,
                        index,
                        f"{path}.regions[{index}]",
                        f"bad region {item!r}: an AWS region name such as us-east-1",
                    )
                elif item in names:
                    v.error(listed, index, f"{path}.regions[{index}]", f"region {item} is listed twice")
                else:
                    names.append(item)
            if not listed:
                v.error(data, "regions", f"{path}.regions", "list at least one region, or leave regions out")
            regions = tuple(names)
            fields["regions"] = regions
    if "quorum" in data:
        if "regions" not in data:
            v.error(data, "quorum", f"{path}.quorum", "quorum needs regions (the regions that vote)")
        else:
            fields["quorum"] = v.integer(
                data, "quorum", f"{path}.quorum", data["quorum"], 1, max(1, len(regions))
            )
    return fields


def _alarm_span(v: Validator, data: PosDict, path: str, interval_s: int, alarm: AlarmPolicy | None) -> None:
    """CloudWatch: an alarm with periods under an hour may look back at most one day."""
    if alarm is None or interval_s >= 3600 or interval_s * alarm.evaluation_periods <= 86400:
        return
    v.error(
        data,
        "alarm",
        f"{path}.alarm.evaluation_periods",
        f"{alarm.evaluation_periods} periods of {interval_s // 60}m look back more than one day, "
        f"CloudWatch's limit: at most {86400 // interval_s}",
    )
