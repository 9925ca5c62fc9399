"""The configuration file: loaded and validated once, for every consumer (probe, relay, CLI, local).

An invalid file is refused as a whole: every error is collected and reported together, each with
file, line, key path and reason. The result is a tree of frozen dataclasses; nothing downstream
reads the raw YAML.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from . import yamlpos
from .yamlpos import PosDict, PosList, line_of

CHECK_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
CHANNEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LABEL_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")
DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
SECRET_PREFIXES = ("env:", "ssm:", "secretsmanager:")
CHANNEL_TYPES = ("slack", "pagerduty", "email")
INSUFFICIENT_DATA_MODES = ("ignore", "warn", "page")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


# --------------------------------------------------------------------------------------- errors
@dataclass(frozen=True)
class ConfigIssue:
    file: str
    line: int
    path: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '(top level)'}: {self.reason}"


class ConfigError(Exception):
    """The configuration was refused. ``issues`` lists every problem found."""

    def __init__(self, issues: Iterable[ConfigIssue]):
        self.issues = sorted(issues, key=lambda i: (i.line, i.path))
        count = len(self.issues)
        head = f"configuration invalid: {count} error{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *(f"  {issue}" for issue in self.issues)]))


# --------------------------------------------------------------------------------------- values
def parse_duration(value: Any) -> float:
    """'500ms', '10s', '5m', '1h', '1d' -> seconds. Raises ValueError with a readable reason."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"bad duration {value!r}: write it with a unit, e.g. 500ms, 10s, 5m, 1h, 1d")
    match = DURATION_RE.match(value)
    if not match:
        raise ValueError(f"bad duration {value!r}: expected a number and a unit (ms, s, m, h, d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def is_secret_ref(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SECRET_PREFIXES)


def secret_ref_problem(value: str) -> str | None:
    """Why a string that looks like a secret reference is malformed, or None."""
    if value.startswith("env:"):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value[4:]):
            return f"bad secret reference {value!r}: env: needs a variable name"
    elif value.startswith("ssm:"):
        if not re.fullmatch(r"/?[A-Za-z0-9_.\-/]+", value[4:]):
            return f"bad secret reference {value!r}: ssm: needs a parameter name such as /uptime/slack"
    elif value.startswith("secretsmanager:") and not value[len("secretsmanager:") :].strip():
        return f"bad secret reference {value!r}: secretsmanager: needs a secret id"
    return None


# --------------------------------------------------------------------------------------- model
@dataclass(frozen=True)
class StatusRange:
    low: int
    high: int

    def matches(self, status: int) -> bool:
        return self.low <= status <= self.high

    def __str__(self) -> str:
        if self.low == self.high:
            return str(self.low)
        if self.low % 100 == 0 and self.high % 100 == 99:
            return ", ".join(f"{c}xx" for c in range(self.low // 100, self.high // 100 + 1))
        return f"{self.low}-{self.high}"


@dataclass(frozen=True)
class Expect:
    status: tuple[StatusRange, ...] = (StatusRange(200, 399),)
    body_contains: str | None = None
    body_regex: str | None = None
    json: Mapping[str, Any] | None = None
    max_latency_ms: float | None = None
    cert_min_days: float | None = None

    def status_ok(self, status: int) -> bool:
        return any(r.matches(status) for r in self.status)


@dataclass(frozen=True)
class AlarmPolicy:
    """M of N: ``datapoints`` failed minutes out of the last ``evaluation_periods`` open an incident."""

    datapoints: int = 2
    evaluation_periods: int = 3


@dataclass(frozen=True)
class Check:
    name: str
    url: str | None = None
    tcp_host: str | None = None
    tcp_port: int | None = None
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    timeout_s: float = 10.0
    follow_redirects: bool = True
    max_redirects: int = 5
    verify_tls: bool = True
    ca_file: str | None = None
    expect: Expect = field(default_factory=Expect)
    labels: Mapping[str, str] = field(default_factory=dict)
    runbook: str | None = None
    description: str | None = None
    alarm: AlarmPolicy = field(default_factory=AlarmPolicy)
    retries: int = 1
    latency_metric: bool = False
    line: int = 0

    @property
    def kind(self) -> str:
        return "tcp" if self.tcp_host is not None else "http"

    @property
    def target(self) -> str:
        return self.url if self.url is not None else f"{self.tcp_host}:{self.tcp_port}"


@dataclass(frozen=True)
class Channel:
    name: str
    type: str
    options: Mapping[str, Any]
    line: int = 0

    def get(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)


@dataclass(frozen=True)
class Route:
    match: Mapping[str, str]
    notify: tuple[str, ...]
    escalation: str | None = None
    continue_: bool = False
    insufficient_data: str = "warn"
    line: int = 0

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match.items())


@dataclass(frozen=True)
class EscalationStep:
    after_s: float
    notify: tuple[str, ...]  # channel names, "oncall:SCHEDULE" or "person:NAME"


@dataclass(frozen=True)
class EscalationPolicy:
    name: str
    steps: tuple[EscalationStep, ...]
    repeat: int = 0


@dataclass(frozen=True)
class Person:
    name: str
    email: str | None = None
    slack: str | None = None  # Slack user id (U…) for mentions
    full_name: str | None = None


@dataclass(frozen=True)
class Override:
    person: str
    start: datetime  # aware
    end: datetime  # aware


@dataclass(frozen=True)
class Schedule:
    name: str
    timezone: str
    rotation: str  # daily | weekly
    handoff: time
    handoff_day: int  # 0 = Monday (weekly rotations)
    start: date
    members: tuple[str, ...]
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class Maintenance:
    """A recurring silence: from each time ``cron`` fires (in ``timezone``) for ``duration_s``."""

    name: str
    match: Mapping[str, str]
    cron: str
    duration_s: float
    timezone: str = "UTC"


@dataclass(frozen=True)
class SlackSettings:
    signing_secret: str | None = None


@dataclass(frozen=True)
class ProbeSettings:
    concurrency: int = 100


@dataclass(frozen=True)
class Config:
    checks: tuple[Check, ...] = ()
    channels: Mapping[str, Channel] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    escalation_policies: Mapping[str, EscalationPolicy] = field(default_factory=dict)
    people: Mapping[str, Person] = field(default_factory=dict)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    maintenance: tuple[Maintenance, ...] = ()
    slack: SlackSettings = field(default_factory=SlackSettings)
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    source: str = "<config>"

    def check(self, name: str) -> Check | None:
        for check in self.checks:
            if check.name == name:
                return check
        return None


# --------------------------------------------------------------------------------------- validator
class _Validator:
    def __init__(self, source: str):
        self.source = source
        self.issues: list[ConfigIssue] = []
        # (container, key, path, kind, name): names to look up once every section is read
        self.references: list[tuple[Any, str | int, str, str, str]] = []

    def refer(self, container: Any, key: str | int, path: str, kind: str, name: str) -> None:
        self.references.append((container, key, path, kind, name))

    # -- reporting
    def error(self, container: Any, key: str | int | None, path: str, reason: str) -> None:
        self.issues.append(ConfigIssue(self.source, line_of(container, key), path, reason))

    def keys(self, data: PosDict, path: str, allowed: Iterable[str], required: Iterable[str] = ()) -> None:
        allowed = list(allowed)
        for key, line in getattr(data, "duplicate_keys", []):
            self.issues.append(ConfigIssue(self.source, line, _join(path, key), "duplicate key"))
        for key in data:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else f" (allowed: {', '.join(allowed)})"
                self.error(data, key, _join(path, key), f"unknown key {key!r}{suggestion}")
        for key in required:
            if key not in data:
                self.error(data, None, _join(path, key), f"missing required key {key!r}")

    # -- typed getters: return None (and record an error) when wrong
    def mapping(self, parent: Any, key: str | int, path: str, value: Any) -> PosDict | None:
        if isinstance(value, dict):
            return value if isinstance(value, PosDict) else _posdict(value)
        self.error(parent, key, path, f"expected a mapping, got {_kind(value)}")
        return None

    def sequence(self, parent: Any, key: str | int, path: str, value: Any) -> PosList | None:
        if isinstance(value, list):
            return value if isinstance(value, PosList) else _poslist(value)
        self.error(parent, key, path, f"expected a list, got {_kind(value)}")
        return None

    def string(self, parent: Any, key: str | int, path: str, value: Any, *, allow_empty=False) -> str | None:
        if isinstance(value, str) and (allow_empty or value.strip()):
            if is_secret_ref(value) and (problem := secret_ref_problem(value)):
                self.error(parent, key, path, problem)
                return None
            return value
        if isinstance(value, str):
            self.error(parent, key, path, "must not be empty")
        else:
            self.error(parent, key, path, f"expected a string, got {_kind(value)}")
        return None

    def boolean(self, parent: Any, key: str, path: str, value: Any) -> bool | None:
        if isinstance(value, bool):
            return value
        self.error(parent, key, path, f"expected true or false, got {_kind(value)}")
        return None

    def integer(self, parent: Any, key: str, path: str, value: Any, low: int, high: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(parent, key, path, f"expected a whole number, got {_kind(value)}")
            return None
        if not low <= value <= high:
            self.error(parent, key, path, f"must be between {low} and {high}, got {value}")
            return None
        return value

    def duration(self, parent: Any, key: str, path: str, value: Any, *, minimum: float = 0.0) -> float | None:
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.error(parent, key, path, str(exc))
            return None
        if seconds < minimum:
            self.error(parent, key, path, f"must be at least {minimum:g}s, got {value!r}")
            return None
        return seconds

    def labels(self, parent: Any, key: str, path: str, value: Any) -> dict[str, str]:
        data = self.mapping(parent, key, path, value)
        if data is None:
            return {}
        out: dict[str, str] = {}
        for k, v in data.items():
            p = _join(path, k)
            if not LABEL_KEY_RE.match(k):
                self.error(data, k, p, f"bad label name {k!r}")
            elif isinstance(v, bool) or not isinstance(v, str | int | float):
                self.error(data, k, p, f"label values must be strings, got {_kind(v)}")
            else:
                out[k] = str(v)
        return out

    def zone(self, parent: Any, key: str, path: str, value: Any) -> str | None:
        name = self.string(parent, key, path, value)
        if name is None:
            return None
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.error(
                parent, key, path, f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
            )
            return None
        return name


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _posdict(value: dict) -> PosDict:
    out = PosDict(value)
    out.key_lines = {}
    return out


def _poslist(value: list) -> PosList:
    out = PosList(value)
    out.item_lines = []
    return out


# --------------------------------------------------------------------------------------- sections
TOP_KEYS = (
    "checks",
    "slack",
    "channels",
    "routes",
    "escalation_policies",
    "people",
    "schedules",
    "maintenance",
    "probe",
)
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
)
EXPECT_KEYS = ("status", "body_contains", "body_regex", "json", "max_latency", "cert_min_days")
TCP_IGNORED_KEYS = ("method", "headers", "body", "follow_redirects", "max_redirects", "verify_tls", "ca_file")
TCP_IGNORED_EXPECT = ("status", "body_contains", "body_regex", "json", "cert_min_days")
CHANNEL_KEYS = {
    "slack": ("type", "webhook_url", "bot_token", "channel", "mention", "api_url"),
    "pagerduty": ("type", "routing_key", "events_url", "severity", "webhook_secret"),
    "email": ("type", "to", "from", "smtp", "region", "subject_prefix"),
}
SMTP_KEYS = ("host", "port", "username", "password", "starttls", "ssl", "timeout")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _status_ranges(
    v: _Validator, parent: Any, key: str, path: str, value: Any
) -> tuple[StatusRange, ...] | None:
    items = value if isinstance(value, list) else [value]
    out: list[StatusRange] = []
    for index, item in enumerate(items):
        p = _join(path, index) if isinstance(value, list) else path
        where = (value, index) if isinstance(value, PosList) else (parent, key)
        if isinstance(item, bool):
            v.error(*where, p, f"expected a status code or class like '2xx', got {_kind(item)}")
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
            v.error(*where, p, f"expected a status code or class like '2xx', got {_kind(item)}")
    if not items:
        v.error(parent, key, path, "must list at least one status")
    return tuple(out) if out and len(out) == len(items) else None


def _expect(v: _Validator, parent: Any, path: str, value: Any) -> Expect:
    data = v.mapping(parent, "expect", path, value)
    if data is None:
        return Expect()
    v.keys(data, path, EXPECT_KEYS)
    kwargs: dict[str, Any] = {}
    if "status" in data:
        ranges = _status_ranges(v, data, "status", _join(path, "status"), data["status"])
        if ranges:
            kwargs["status"] = ranges
    if "body_contains" in data:
        kwargs["body_contains"] = v.string(
            data, "body_contains", _join(path, "body_contains"), data["body_contains"]
        )
    if "body_regex" in data:
        pattern = v.string(data, "body_regex", _join(path, "body_regex"), data["body_regex"])
        if pattern is not None:
            try:
                re.compile(pattern)
                kwargs["body_regex"] = pattern
            except re.error as exc:
                v.error(data, "body_regex", _join(path, "body_regex"), f"invalid regular expression: {exc}")
    if "json" in data:
        expected = v.mapping(data, "json", _join(path, "json"), data["json"])
        if expected is not None:
            if not expected:
                v.error(data, "json", _join(path, "json"), "must name at least one dotted path")
            kwargs["json"] = dict(expected)
    if "max_latency" in data:
        kwargs["max_latency_ms"] = _ms(
            v.duration(data, "max_latency", _join(path, "max_latency"), data["max_latency"], minimum=0.001)
        )
    if "cert_min_days" in data:
        days = data["cert_min_days"]
        if isinstance(days, bool) or not isinstance(days, int | float) or days < 0:
            v.error(
                data,
                "cert_min_days",
                _join(path, "cert_min_days"),
                f"expected a number of days (0 or more), got {_kind(days)}",
            )
        else:
            kwargs["cert_min_days"] = float(days)
    return Expect(**{k: val for k, val in kwargs.items() if val is not None})


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def _tcp_target(v: _Validator, parent: Any, path: str, value: Any) -> tuple[str, int] | None:
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


def _url(
    v: _Validator, parent: Any, key: str, path: str, value: Any, schemes=("http", "https")
) -> str | None:
    text = v.string(parent, key, path, value)
    if text is None or is_secret_ref(text):
        return text
    parts = urlsplit(text)
    if parts.scheme not in schemes or not parts.hostname:
        v.error(parent, key, path, f"expected an {'/'.join(schemes)} URL with a host, got {text!r}")
        return None
    try:
        _ = parts.port
    except ValueError:
        v.error(parent, key, path, f"bad port in URL {text!r}")
        return None
    return text


def _check(v: _Validator, checks: PosList, index: int, value: Any) -> Check | None:
    path = f"checks[{index}]"
    data = v.mapping(checks, index, path, value)
    if data is None:
        return None
    v.keys(data, path, CHECK_KEYS, required=("name",))
    kwargs: dict[str, Any] = {"line": data.line}
    ok = True
    name = data.get("name")
    if "name" in data:
        if not isinstance(name, str) or not CHECK_NAME_RE.match(name):
            v.error(
                data,
                "name",
                f"{path}.name",
                f"bad check name {name!r}: use 1-63 of a-z, 0-9 and '-', starting with a letter or digit",
            )
            ok = False
        else:
            kwargs["name"] = name
    else:
        ok = False
    if "url" in data and "tcp" in data:
        v.error(data, "tcp", f"{path}.tcp", "give either url or tcp, not both")
        ok = False
    elif "url" in data:
        url = _url(v, data, "url", f"{path}.url", data["url"])
        if url is None or is_secret_ref(url):
            if url is not None:
                v.error(data, "url", f"{path}.url", "the URL itself cannot be a secret reference")
            ok = False
        kwargs["url"] = url
    elif "tcp" in data:
        target = _tcp_target(v, data, f"{path}.tcp", data["tcp"])
        if target is None:
            ok = False
        else:
            kwargs["tcp_host"], kwargs["tcp_port"] = target
    else:
        v.error(data, None, path, "needs a target: url (http or https) or tcp (host:port)")
        ok = False
    if "method" in data:
        method = v.string(data, "method", f"{path}.method", data["method"])
        if method is not None:
            if method.upper() not in METHODS:
                v.error(
                    data,
                    "method",
                    f"{path}.method",
                    f"unknown HTTP method {method!r} (one of {', '.join(METHODS)})",
                )
            kwargs["method"] = method.upper()
    if "headers" in data:
        headers = v.mapping(data, "headers", f"{path}.headers", data["headers"])
        if headers is not None:
            clean = {}
            for hk, hv in headers.items():
                if isinstance(hv, bool) or not isinstance(hv, str | int | float):
                    v.error(
                        headers, hk, f"{path}.headers.{hk}", f"header values must be strings, got {_kind(hv)}"
                    )
                elif isinstance(hv, str) and is_secret_ref(hv) and (problem := secret_ref_problem(hv)):
                    v.error(headers, hk, f"{path}.headers.{hk}", problem)
                else:
                    clean[str(hk)] = str(hv)
            kwargs["headers"] = clean
    if data.get("body") is not None:
        body = data["body"]
        if isinstance(body, dict | list):
            import json as _json

            kwargs["body"] = _json.dumps(body)
        else:
            kwargs["body"] = v.string(data, "body", f"{path}.body", body, allow_empty=True)
    if "timeout" in data:
        timeout = v.duration(data, "timeout", f"{path}.timeout", data["timeout"], minimum=0.001)
        if timeout is not None and timeout > 55:
            v.error(
                data,
                "timeout",
                f"{path}.timeout",
                "must be at most 55s: every probe run ends within the minute",
            )
        elif timeout is not None:
            kwargs["timeout_s"] = timeout
    for key in ("follow_redirects", "verify_tls", "latency_metric"):
        if key in data:
            kwargs[key] = v.boolean(data, key, f"{path}.{key}", data[key])
    if "max_redirects" in data:
        kwargs["max_redirects"] = v.integer(
            data, "max_redirects", f"{path}.max_redirects", data["max_redirects"], 0, 30
        )
    if "retries" in data:
        kwargs["retries"] = v.integer(data, "retries", f"{path}.retries", data["retries"], 0, 3)
    if "ca_file" in data:
        kwargs["ca_file"] = v.string(data, "ca_file", f"{path}.ca_file", data["ca_file"])
    if "expect" in data:
        kwargs["expect"] = _expect(v, data, f"{path}.expect", data["expect"])
    if "tcp" in data and "url" not in data:
        # a tcp check only connects: HTTP settings would be silently ignored, so refuse them
        for key in TCP_IGNORED_KEYS:
            if key in data:
                v.error(
                    data, key, f"{path}.{key}", f"{key!r} does not apply to a tcp check (it only connects)"
                )
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
    if "labels" in data:
        kwargs["labels"] = v.labels(data, "labels", f"{path}.labels", data["labels"])
    if "runbook" in data:
        kwargs["runbook"] = _url(v, data, "runbook", f"{path}.runbook", data["runbook"])
    if "description" in data:
        kwargs["description"] = v.string(data, "description", f"{path}.description", data["description"])
    if "alarm" in data:
        alarm = v.mapping(data, "alarm", f"{path}.alarm", data["alarm"])
        if alarm is not None:
            v.keys(alarm, f"{path}.alarm", ("datapoints", "evaluation_periods"))
            n = alarm.get("evaluation_periods", AlarmPolicy.evaluation_periods)
            m = alarm.get("datapoints", min(AlarmPolicy.datapoints, n) if isinstance(n, int) else 1)
            n_ok = v.integer(alarm, "evaluation_periods", f"{path}.alarm.evaluation_periods", n, 1, 60)
            m_ok = v.integer(alarm, "datapoints", f"{path}.alarm.datapoints", m, 1, 60)
            if n_ok is not None and m_ok is not None:
                if m_ok > n_ok:
                    v.error(
                        alarm,
                        "datapoints",
                        f"{path}.alarm.datapoints",
                        f"datapoints ({m_ok}) cannot exceed evaluation_periods ({n_ok})",
                    )
                else:
                    kwargs["alarm"] = AlarmPolicy(m_ok, n_ok)
    kwargs = {k: val for k, val in kwargs.items() if val is not None}
    if not ok or "name" not in kwargs:
        return None
    return Check(**kwargs)


def _channel(v: _Validator, channels: PosDict, name: str, value: Any) -> Channel | None:
    path = f"channels.{name}"
    if not CHANNEL_NAME_RE.match(name):
        v.error(channels, name, path, f"bad channel name {name!r}")
    data = v.mapping(channels, name, path, value)
    if data is None:
        return None
    ctype = data.get("type")
    if ctype not in CHANNEL_TYPES:
        hint = difflib.get_close_matches(str(ctype), CHANNEL_TYPES, n=1)
        suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
        reason = "missing required key 'type'" if ctype is None else f"unknown channel type {ctype!r}{suffix}"
        v.error(data, "type", f"{path}.type", f"{reason}; one of {', '.join(CHANNEL_TYPES)}")
        return None
    v.keys(data, path, CHANNEL_KEYS[ctype])
    options: dict[str, Any] = {}
    before = len(v.issues)
    if ctype == "slack":
        if ("webhook_url" in data) == ("bot_token" in data):
            v.error(data, None, path, "a slack channel needs exactly one of webhook_url or bot_token")
        if "webhook_url" in data:
            options["webhook_url"] = _url(v, data, "webhook_url", f"{path}.webhook_url", data["webhook_url"])
        if "bot_token" in data:
            options["bot_token"] = v.string(data, "bot_token", f"{path}.bot_token", data["bot_token"])
            if "channel" not in data:
                v.error(
                    data,
                    None,
                    f"{path}.channel",
                    'a bot_token channel needs `channel` (e.g. "#alerts" or C0123)',
                )
        for key in ("channel", "mention"):
            if key in data:
                options[key] = v.string(data, key, f"{path}.{key}", data[key])
        if "api_url" in data:
            options["api_url"] = _url(v, data, "api_url", f"{path}.api_url", data["api_url"])
    elif ctype == "pagerduty":
        if "routing_key" not in data:
            v.error(data, None, f"{path}.routing_key", "missing required key 'routing_key'")
        else:
            options["routing_key"] = v.string(data, "routing_key", f"{path}.routing_key", data["routing_key"])
        if "events_url" in data:
            options["events_url"] = _url(v, data, "events_url", f"{path}.events_url", data["events_url"])
        if "webhook_secret" in data:  # verifies PagerDuty webhook v3 calls to the actions URL
            options["webhook_secret"] = v.string(
                data, "webhook_secret", f"{path}.webhook_secret", data["webhook_secret"]
            )
        if "severity" in data:
            sev = data["severity"]
            if sev not in ("critical", "error", "warning", "info"):
                v.error(data, "severity", f"{path}.severity", "one of critical, error, warning, info")
            options["severity"] = sev
    else:  # email
        to = data.get("to")
        if to is None:
            v.error(data, None, f"{path}.to", "missing required key 'to'")
        else:
            addresses = [to] if isinstance(to, str) else to
            if not isinstance(addresses, list) or not addresses:
                v.error(data, "to", f"{path}.to", "expected an address or a list of addresses")
            else:
                for i, addr in enumerate(addresses):
                    if not isinstance(addr, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+", addr):
                        where = (addresses, i) if isinstance(addresses, PosList) else (data, "to")
                        v.error(*where, f"{path}.to[{i}]", f"not an email address: {addr!r}")
                options["to"] = tuple(str(a) for a in addresses)
        sender = data.get("from")
        if sender is None:
            v.error(data, None, f"{path}.from", "missing required key 'from'")
        elif not isinstance(sender, str) or "@" not in sender:
            v.error(data, "from", f"{path}.from", f"not an email address: {sender!r}")
        else:
            options["from"] = sender
        if "smtp" in data:
            smtp = v.mapping(data, "smtp", f"{path}.smtp", data["smtp"])
            if smtp is not None:
                v.keys(smtp, f"{path}.smtp", SMTP_KEYS, required=("host",))
                s: dict[str, Any] = {}
                if "host" in smtp:
                    s["host"] = v.string(smtp, "host", f"{path}.smtp.host", smtp["host"])
                s["port"] = v.integer(smtp, "port", f"{path}.smtp.port", smtp.get("port", 25), 1, 65535)
                for key in ("username", "password"):
                    if key in smtp:
                        s[key] = v.string(smtp, key, f"{path}.smtp.{key}", smtp[key])
                for key in ("starttls", "ssl"):
                    if key in smtp:
                        s[key] = v.boolean(smtp, key, f"{path}.smtp.{key}", smtp[key])
                if "timeout" in smtp:
                    s["timeout_s"] = v.duration(
                        smtp, "timeout", f"{path}.smtp.timeout", smtp["timeout"], minimum=0.1
                    )
                options["smtp"] = s
        for key in ("region", "subject_prefix"):
            if key in data:
                options[key] = v.string(data, key, f"{path}.{key}", data[key])
    if len(v.issues) != before:
        return None
    return Channel(name=name, type=ctype, options=options, line=line_of(channels, name))


def _notify_list(
    v: _Validator, parent: Any, key: str, path: str, value: Any, *, people: bool = False
) -> tuple[str, ...]:
    """Channel names (and, in escalation steps, ``oncall:SCHEDULE`` / ``person:NAME``)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        v.error(parent, key, path, "expected a list of channel names")
        return ()
    out = []
    for i, item in enumerate(items):
        where = (items, i) if isinstance(items, PosList) else (parent, key)
        if not isinstance(item, str) or not item:
            v.error(*where, f"{path}[{i}]", f"expected a channel name, got {_kind(item)}")
            continue
        out.append(item)
        if people and item.startswith("oncall:"):
            v.refer(*where, f"{path}[{i}]", "schedule", item[len("oncall:") :])
        elif people and item.startswith("person:"):
            v.refer(*where, f"{path}[{i}]", "person", item[len("person:") :])
        else:
            v.refer(*where, f"{path}[{i}]", "channel", item)
    return tuple(out)


def _route(v: _Validator, routes: PosList, index: int, value: Any) -> Route | None:
    path = f"routes[{index}]"
    data = v.mapping(routes, index, path, value)
    if data is None:
        return None
    v.keys(data, path, ("match", "notify", "escalation", "continue", "insufficient_data"))
    match = v.labels(data, "match", f"{path}.match", data["match"]) if "match" in data else {}
    notify = _notify_list(v, data, "notify", f"{path}.notify", data["notify"]) if "notify" in data else ()
    if "notify" not in data and "escalation" not in data:
        v.error(data, None, path, "a route needs `notify`, `escalation` or both")
    escalation = None
    if "escalation" in data:
        escalation = v.string(data, "escalation", f"{path}.escalation", data["escalation"])
        if escalation:
            v.refer(data, "escalation", f"{path}.escalation", "escalation policy", escalation)
    cont = v.boolean(data, "continue", f"{path}.continue", data["continue"]) if "continue" in data else False
    mode = data.get("insufficient_data", "warn")
    if mode not in INSUFFICIENT_DATA_MODES:
        v.error(
            data,
            "insufficient_data",
            f"{path}.insufficient_data",
            f"expected one of {', '.join(INSUFFICIENT_DATA_MODES)}, got {_kind(mode)}",
        )
        mode = "warn"
    return Route(
        match=match,
        notify=notify,
        escalation=escalation,
        continue_=bool(cont),
        insufficient_data=mode,
        line=line_of(routes, index),
    )


def _policy(v: _Validator, policies: PosDict, name: str, value: Any) -> EscalationPolicy | None:
    path = f"escalation_policies.{name}"
    data = v.mapping(policies, name, path, value)
    if data is None:
        return None
    v.keys(data, path, ("steps", "repeat"), required=("steps",))
    steps_raw = v.sequence(data, "steps", f"{path}.steps", data.get("steps", [])) if "steps" in data else None
    steps: list[EscalationStep] = []
    last_after = -1.0
    for i, raw in enumerate(steps_raw or []):
        spath = f"{path}.steps[{i}]"
        step = v.mapping(steps_raw, i, spath, raw)
        if step is None:
            continue
        v.keys(step, spath, ("after", "notify"), required=("after", "notify"))
        after = v.duration(step, "after", f"{spath}.after", step["after"]) if "after" in step else None
        notify = (
            _notify_list(v, step, "notify", f"{spath}.notify", step["notify"], people=True)
            if "notify" in step
            else ()
        )
        if after is not None:
            if after < last_after:
                v.error(step, "after", f"{spath}.after", "steps must be in order of their `after` delay")
            last_after = after
            steps.append(EscalationStep(after, notify))
    if steps_raw is not None and not steps_raw:
        v.error(data, "steps", f"{path}.steps", "needs at least one step")
    repeat = v.integer(data, "repeat", f"{path}.repeat", data["repeat"], 0, 100) if "repeat" in data else 0
    return EscalationPolicy(name=name, steps=tuple(steps), repeat=repeat or 0)


def _person(v: _Validator, people: PosDict, name: str, value: Any) -> Person | None:
    path = f"people.{name}"
    data = v.mapping(people, name, path, value)
    if data is None:
        return None
    v.keys(data, path, ("email", "slack", "name"))
    if not data:
        v.error(people, name, path, "a person needs at least one contact: email or slack")
    email = data.get("email")
    if email is not None and (not isinstance(email, str) or "@" not in email):
        v.error(data, "email", f"{path}.email", f"not an email address: {email!r}")
        email = None
    slack = v.string(data, "slack", f"{path}.slack", data["slack"]) if "slack" in data else None
    full = v.string(data, "name", f"{path}.name", data["name"]) if "name" in data else None
    return Person(name=name, email=email, slack=slack, full_name=full)


def _aware(v: _Validator, parent: Any, key: str, path: str, value: Any, zone: str | None) -> datetime | None:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time(0, 0))
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            v.error(parent, key, path, f"expected a date-time like 2026-11-24T09:00, got {value!r}")
            return None
    else:
        v.error(parent, key, path, f"expected a date-time like 2026-11-24T09:00, got {_kind(value)}")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone or "UTC"))
    return parsed


def _schedule(v: _Validator, schedules: PosDict, name: str, value: Any) -> Schedule | None:
    path = f"schedules.{name}"
    data = v.mapping(schedules, name, path, value)
    if data is None:
        return None
    v.keys(
        data,
        path,
        ("timezone", "rotation", "handoff", "handoff_day", "start", "members", "overrides"),
        required=("members",),
    )
    zone = v.zone(data, "timezone", f"{path}.timezone", data["timezone"]) if "timezone" in data else "UTC"
    rotation = data.get("rotation", "weekly")
    if rotation not in ("daily", "weekly"):
        v.error(data, "rotation", f"{path}.rotation", f"expected daily or weekly, got {_kind(rotation)}")
        rotation = "weekly"
    handoff_raw = data.get("handoff", "09:00")
    handoff = time(9, 0)
    if isinstance(handoff_raw, int) and not isinstance(handoff_raw, bool) and 0 <= handoff_raw < 24 * 60:
        handoff = time(handoff_raw // 60, handoff_raw % 60)  # YAML 1.1 reads 09:00 as sexagesimal 540
    elif isinstance(handoff_raw, str) and re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", handoff_raw.strip()):
        hh, mm = handoff_raw.strip().split(":")
        handoff = time(int(hh), int(mm))
    else:
        v.error(
            data,
            "handoff",
            f"{path}.handoff",
            f'expected a local time like "09:00", got {_kind(handoff_raw)}',
        )
    day_raw = str(data.get("handoff_day", "monday")).lower()
    if day_raw not in WEEKDAYS:
        v.error(data, "handoff_day", f"{path}.handoff_day", f"expected a weekday name, got {day_raw!r}")
        day_raw = "monday"
    start_raw = data.get("start", date(2026, 1, 5))
    if isinstance(start_raw, datetime):
        start = start_raw.date()
    elif isinstance(start_raw, date):
        start = start_raw
    else:
        try:
            start = date.fromisoformat(str(start_raw))
        except ValueError:
            v.error(
                data, "start", f"{path}.start", f"expected a date like 2026-01-05, got {_kind(start_raw)}"
            )
            start = date(2026, 1, 5)
    members = v.sequence(data, "members", f"{path}.members", data["members"]) if "members" in data else None
    member_names: list[str] = []
    for i, m in enumerate(members or []):
        if not isinstance(m, str):
            v.error(members, i, f"{path}.members[{i}]", f"expected a person's name, got {_kind(m)}")
        else:
            member_names.append(m)
            v.refer(members, i, f"{path}.members[{i}]", "person", m)
    if members is not None and not members:
        v.error(data, "members", f"{path}.members", "needs at least one member")
    overrides: list[Override] = []
    if "overrides" in data:
        raw_list = v.sequence(data, "overrides", f"{path}.overrides", data["overrides"]) or []
        for i, raw in enumerate(raw_list):
            opath = f"{path}.overrides[{i}]"
            o = v.mapping(raw_list, i, opath, raw)
            if o is None:
                continue
            v.keys(o, opath, ("person", "start", "end"), required=("person", "start", "end"))
            if not all(k in o for k in ("person", "start", "end")):
                continue
            person = v.string(o, "person", f"{opath}.person", o["person"])
            if person:
                v.refer(o, "person", f"{opath}.person", "person", person)
            o_start = _aware(v, o, "start", f"{opath}.start", o["start"], zone)
            o_end = _aware(v, o, "end", f"{opath}.end", o["end"], zone)
            if person and o_start and o_end:
                if o_end <= o_start:
                    v.error(o, "end", f"{opath}.end", "must be after start")
                else:
                    overrides.append(Override(person, o_start, o_end))
    return Schedule(
        name=name,
        timezone=zone or "UTC",
        rotation=rotation,
        handoff=handoff,
        handoff_day=WEEKDAYS.index(day_raw),
        start=start,
        members=tuple(member_names),
        overrides=tuple(overrides),
    )


CRON_FIELD_RE = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")


def _maintenance(v: _Validator, items: PosList, index: int, value: Any) -> Maintenance | None:
    path = f"maintenance[{index}]"
    data = v.mapping(items, index, path, value)
    if data is None:
        return None
    v.keys(
        data, path, ("name", "match", "cron", "duration", "timezone"), required=("name", "cron", "duration")
    )
    name = v.string(data, "name", f"{path}.name", data["name"]) if "name" in data else None
    match = v.labels(data, "match", f"{path}.match", data["match"]) if "match" in data else {}
    cron = v.string(data, "cron", f"{path}.cron", data["cron"]) if "cron" in data else None
    if cron is not None:
        fields = cron.split()
        if len(fields) != 5 or not all(CRON_FIELD_RE.match(f) for f in fields):
            v.error(
                data,
                "cron",
                f"{path}.cron",
                f"expected 5 cron fields (minute hour day-of-month month day-of-week), got {cron!r}",
            )
            cron = None
        else:
            from .domain.silence import CronError, parse_cron  # the matcher that runs it

            try:
                parse_cron(cron)
            except CronError as exc:
                v.error(data, "cron", f"{path}.cron", str(exc))
                cron = None
    duration = (
        v.duration(data, "duration", f"{path}.duration", data["duration"], minimum=60)
        if "duration" in data
        else None
    )
    zone = v.zone(data, "timezone", f"{path}.timezone", data["timezone"]) if "timezone" in data else "UTC"
    if name and cron and duration and zone:
        return Maintenance(name=name, match=match, cron=cron, duration_s=duration, timezone=zone)
    return None


_SECTION_OF = {
    "channel": "channels",
    "escalation policy": "escalation_policies",
    "person": "people",
    "schedule": "schedules",
}


def _cross_checks(v: _Validator, root: PosDict) -> None:
    """Duplicate check names and references between sections, judged on the names written in the
    file (a channel with its own errors still exists, so naming it is not a second error)."""
    checks = root.get("checks")
    seen: dict[str, int] = {}
    for i, item in enumerate(checks if isinstance(checks, list) else []):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        line = line_of(item, "name")
        if name in seen:
            v.issues.append(
                ConfigIssue(
                    v.source,
                    line,
                    f"checks[{i}].name",
                    f"duplicate check name {name!r} (first defined on line {seen[name]})",
                )
            )
        else:
            seen[name] = line
    defined = {
        kind: set(root[section]) if isinstance(root.get(section), dict) else set()
        for kind, section in _SECTION_OF.items()
    }
    for container, key, path, kind, name in v.references:
        if name not in defined[kind]:
            where = f" under {_SECTION_OF[kind]}" if kind in ("person", "schedule") else ""
            article = "an" if kind[0] in "aeiou" else "a"
            v.error(
                container,
                key,
                path,
                f"{name!r} names {article} {kind} that is not defined{where}" + _hint(name, defined[kind]),
            )


def _hint(name: str, options: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


# --------------------------------------------------------------------------------------- entry points
def parse_config(text: str, source: str = "<config>") -> Config:
    """Validate YAML text into a Config, or raise ConfigError listing every problem."""
    v = _Validator(source)
    try:
        root = yamlpos.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigIssue(source, line, "", f"not valid YAML: {problem}")]) from None
    if root is None:
        root = _posdict({})
    if not isinstance(root, dict):
        raise ConfigError(
            [ConfigIssue(source, 1, "", f"expected a mapping at the top level, got {_kind(root)}")]
        )
    v.keys(root, "", TOP_KEYS)

    checks: list[Check] = []
    if "checks" in root:
        raw = (
            v.sequence(root, "checks", "checks", root["checks"])
            if root["checks"] is not None
            else _poslist([])
        )
        for i, item in enumerate(raw or []):
            if (check := _check(v, raw, i, item)) is not None:
                checks.append(check)

    slack = SlackSettings()
    if "slack" in root:
        sdata = v.mapping(root, "slack", "slack", root["slack"])
        if sdata is not None:
            v.keys(sdata, "slack", ("signing_secret",))
            if "signing_secret" in sdata:
                slack = SlackSettings(
                    v.string(sdata, "signing_secret", "slack.signing_secret", sdata["signing_secret"])
                )

    probe = ProbeSettings()
    if "probe" in root:
        pdata = v.mapping(root, "probe", "probe", root["probe"])
        if pdata is not None:
            v.keys(pdata, "probe", ("concurrency",))
            if "concurrency" in pdata:
                conc = v.integer(pdata, "concurrency", "probe.concurrency", pdata["concurrency"], 1, 2000)
                probe = ProbeSettings(conc or 100)

    def named_section(key: str, builder) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if key in root and root[key] is not None:
            data = v.mapping(root, key, key, root[key])
            if data is not None:
                for dup, line in getattr(data, "duplicate_keys", []):
                    v.issues.append(ConfigIssue(source, line, f"{key}.{dup}", "defined twice"))
                for name, item in data.items():
                    if (built := builder(v, data, str(name), item)) is not None:
                        out[str(name)] = built
        return out

    channels = named_section("channels", _channel)
    policies = named_section("escalation_policies", _policy)
    people = named_section("people", _person)
    schedules = named_section("schedules", _schedule)

    routes: list[Route] = []
    if "routes" in root and root["routes"] is not None:
        raw = v.sequence(root, "routes", "routes", root["routes"])
        for i, item in enumerate(raw or []):
            if (route := _route(v, raw, i, item)) is not None:
                routes.append(route)

    maintenance: list[Maintenance] = []
    if "maintenance" in root and root["maintenance"] is not None:
        raw = v.sequence(root, "maintenance", "maintenance", root["maintenance"])
        for i, item in enumerate(raw or []):
            if (m := _maintenance(v, raw, i, item)) is not None:
                maintenance.append(m)

    config = Config(
        checks=tuple(checks),
        channels=channels,
        routes=tuple(routes),
        escalation_policies=policies,
        people=people,
        schedules=schedules,
        maintenance=tuple(maintenance),
        slack=slack,
        probe=probe,
        source=source,
    )
    _cross_checks(v, root)
    if v.issues:
        raise ConfigError(v.issues)
    return config


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a configuration file. Raises ConfigError (also for an unreadable file)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(source, 0, "", f"cannot read file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigIssue(source, 0, "", "file is not UTF-8 text")]) from None
    return parse_config(text, source)


DEFAULT_CONFIG_ENV = "UPTIME_CONFIG"


def default_config_path() -> Path:
    """Where a deployed function finds its config: $UPTIME_CONFIG, else the config layer's file (/opt/uptime.yaml)."""
    return Path(os.environ.get(DEFAULT_CONFIG_ENV, "/opt/uptime.yaml"))


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
