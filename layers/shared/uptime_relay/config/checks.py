"""The ``checks`` section: each check's target (url or tcp), request, expectations and alarm."""

from __future__ import annotations

import json
import re
from typing import Any

from ..urls import display_url
from .conditions import Condition, ConditionSyntaxError, parse_condition, tcp_problem
from .model import (
    CHECK_NAME_RE,
    INTERVALS,
    AlarmPolicy,
    Check,
    ConfigIssue,
    Dependencies,
    Expect,
    Heartbeat,
    StatusRange,
    is_secret_ref,
    secret_ref_problem,
)
from .noise import read_noise
from .schedules import read_cron
from .validator import Validator, join, kind, where_item
from .yamlpos import PosDict, PosList, column_of, line_of

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
    "depends_on",
    "flapping",
    "heartbeat",
    "token",
    "dependencies",
    "sla",
    "interval",
    "regions",
    "quorum",
)
DEPENDENCIES_KEYS = ("path", "status_key", "healthy", "forget_after")
HEARTBEAT_KEYS = ("period", "grace", "cron", "tz")
HEARTBEAT_DEFAULT_GRACE_S = 3600.0  # as Healthchecks: an hour unless the check says otherwise
HEARTBEAT_MIN_S = 60.0  # the probe looks once a minute
# what a heartbeat check cannot have: it makes no request
HEARTBEAT_IGNORED_KEYS = (
    "method",
    "headers",
    "body",
    "timeout",
    "follow_redirects",
    "max_redirects",
    "verify_tls",
    "ca_file",
    "expect",
    "retries",
    "latency_metric",
    "dependencies",
)
TOKEN_RE = re.compile(r"[A-Za-z0-9._~-]{16,256}")
EXPECT_KEYS = ("status", "body_contains", "body_regex", "json", "max_latency", "cert_min_days", "conditions")
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
    if "sla" in data:
        fields["sla"] = read_sla(v, data, f"{path}.sla")
    if "alarm" in data:
        fields["alarm"] = _alarm(v, data, f"{path}.alarm")
    fields.update(read_noise(v, data, path))
    if "heartbeat" in data or "token" in data:
        fields.update(_heartbeat_fields(v, data, path))
    if "dependencies" in data and "heartbeat" not in data:
        fields["dependencies"] = _dependencies(v, data, f"{path}.dependencies")
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
    if "heartbeat" in data:
        for key in ("url", "tcp"):
            if key in data:
                v.error(
                    data, key, f"{path}.{key}", f"a heartbeat check is pinged by its job: it has no {key}"
                )
        return "url" not in data and "tcp" not in data
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
    v.error(data, None, path, "needs a target: url (http or https), tcp (host:port) or heartbeat")
    return False


def _heartbeat_fields(v: Validator, data: PosDict, path: str) -> dict[str, Any]:
    """``heartbeat`` + ``token`` (both or neither); a heartbeat alarms on its first late minute."""
    if "heartbeat" not in data:
        v.error(data, "token", f"{path}.token", "a token belongs to a heartbeat check (add heartbeat:)")
        return {}
    fields: dict[str, Any] = {"heartbeat": _heartbeat(v, data, f"{path}.heartbeat")}
    for key in HEARTBEAT_IGNORED_KEYS:
        if key in data:
            v.error(
                data,
                key,
                f"{path}.{key}",
                f"{key!r} does not apply to a heartbeat check (it makes no request)",
            )
    if "token" not in data:
        v.error(data, None, f"{path}.token", "a heartbeat check needs a token (e.g. env:BACKUP_PING_TOKEN)")
    else:
        token = v.string(data, "token", f"{path}.token", data["token"], secret=True)
        if token is not None and not is_secret_ref(token) and not TOKEN_RE.fullmatch(token):
            v.error(
                data,
                "token",
                f"{path}.token",
                "a literal token must be 16-256 of A-Z a-z 0-9 . _ ~ - (or a secret reference)",
            )
            token = None
        fields["token"] = token
    if "alarm" not in data:
        fields["alarm"] = AlarmPolicy(datapoints=1, evaluation_periods=1)
    return fields


def _dependencies(v: Validator, data: PosDict, path: str) -> Dependencies | None:
    """``dependencies: {path, status_key, healthy, forget_after}``: an http check's health JSON."""
    if "tcp" in data:
        v.error(data, "dependencies", path, "dependencies come from a health JSON: a tcp check has none")
        return None
    deps = v.mapping(data, "dependencies", path, data["dependencies"])
    if deps is None:
        return None
    v.keys(deps, path, DEPENDENCIES_KEYS)
    fields: dict[str, Any] = {}
    for key in ("path", "status_key"):
        if key in deps:
            fields[key] = v.string(deps, key, f"{path}.{key}", deps[key])
    if "healthy" in deps:
        items = deps["healthy"] if isinstance(deps["healthy"], list) else [deps["healthy"]]
        words = [str(item) for item in items if isinstance(item, str | int) and not isinstance(item, bool)]
        if not items or len(words) != len(items):
            v.error(
                deps, "healthy", f"{path}.healthy", "expected a list of status words, e.g. [ok, up, healthy]"
            )
            fields["healthy"] = None
        else:
            fields["healthy"] = tuple(w.lower() for w in words)
    if "forget_after" in deps:
        fields["forget_after_s"] = v.duration(
            deps, "forget_after", f"{path}.forget_after", deps["forget_after"], minimum=HEARTBEAT_MIN_S
        )
    if any(value is None for value in fields.values()):
        return None
    return Dependencies(**fields)


def _heartbeat(v: Validator, data: PosDict, path: str) -> Heartbeat | None:
    beat = v.mapping(data, "heartbeat", path, data["heartbeat"])
    if beat is None:
        return None
    v.keys(beat, path, HEARTBEAT_KEYS)
    if ("period" in beat) == ("cron" in beat):
        v.error(data, "heartbeat", path, "give either period (e.g. 1d) or cron (e.g. '0 3 * * *'), not both")
        return None
    grace = HEARTBEAT_DEFAULT_GRACE_S
    if "grace" in beat:
        grace = v.duration(beat, "grace", f"{path}.grace", beat["grace"], minimum=HEARTBEAT_MIN_S)
    if "period" in beat:
        if "tz" in beat:
            v.error(beat, "tz", f"{path}.tz", "tz goes with cron, not with period")
        period = v.duration(beat, "period", f"{path}.period", beat["period"], minimum=HEARTBEAT_MIN_S)
        return Heartbeat(grace_s=grace, period_s=period) if grace is not None and period is not None else None
    cron = read_cron(v, beat, f"{path}.cron")
    zone = v.zone(beat, "tz", f"{path}.tz", beat["tz"]) if "tz" in beat else "UTC"
    if grace is None or cron is None or zone is None:
        return None
    return Heartbeat(grace_s=grace, cron=cron, timezone=zone)


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
    if "conditions" in data:
        fields["conditions"] = read_conditions(v, data, join(path, "conditions"))
    return Expect(**{k: val for k, val in fields.items() if val is not None})


def read_conditions(v: Validator, parent: PosDict, path: str) -> tuple[Condition, ...] | None:
    """``expect.conditions``: each parsed now; a syntax error names its line and column."""
    items = v.sequence(parent, "conditions", path, parent["conditions"])
    if items is None:
        return None
    out: list[Condition] = []
    for index, item in enumerate(items):
        p = join(path, index)
        if not isinstance(item, str):
            v.error(items, index, p, f"expected a condition such as 'status == 200', got {kind(item)}")
            continue
        try:
            out.append(parse_condition(item))
        except ConditionSyntaxError as exc:
            start = column_of(items, index)
            column = start + exc.column - 1 if start else 0
            v.issues.append(ConfigIssue(v.source, line_of(items, index), p, exc.reason, column))
    return tuple(out) if len(out) == len(items) else None


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
        conditions = expect.get("conditions")
        for index, text in enumerate(conditions if isinstance(conditions, list) else []):
            try:
                problem = tcp_problem(parse_condition(text)) if isinstance(text, str) else None
            except ConditionSyntaxError:
                problem = None  # already reported by read_conditions
            if problem:
                v.error(conditions, index, f"{path}.expect.conditions[{index}]", problem)
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


def read_sla(v: Validator, data: PosDict, path: str) -> float | None:
    """``sla: 99.9``: the uptime the check promises, in percent (above 0, at most 100)."""
    value = data["sla"]
    if isinstance(value, str):
        value = value.strip().removesuffix("%").strip()
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, int | float):
        v.error(data, "sla", path, f"expected a percentage such as 99.9, got {kind(data['sla'])}")
        return None
    if not 0 < value <= 100:
        v.error(data, "sla", path, f"must be above 0 and at most 100 (a percentage), got {value:g}")
        return None
    return float(value)


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
