"""The configuration model: typed, frozen, and free of YAML.

What the loader (``config.loader``) builds from the file and what every consumer reads: checks,
channels, routes, escalation policies, people, schedules, maintenance windows. Beside it the small
value rules the domain and services share (durations, secret references, name patterns) and the
error type that lists every problem found.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from ..urls import display_url
from .conditions import Condition

CHECK_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# The check key ``interval``: how often a check is probed (seconds by its written form).
INTERVALS = {
    "10s": 10,
    "20s": 20,
    "30s": 30,
    "1m": 60,
    "2m": 120,
    "5m": 300,
    "10m": 600,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
}
CHANNEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LABEL_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")
DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
SECRET_PREFIXES = ("env:", "ssm:", "secretsmanager:")
INSUFFICIENT_DATA_MODES = ("ignore", "warn", "page")  # Route.insufficient_data
DAY_S = 86400.0
RETENTION_DEFAULT_S = 400 * DAY_S  # `retention`: a year of history and a month to spare
RETENTION_MIN_S = 1 * DAY_S  # a resolved incident stays at least long enough to be looked at
RETENTION_MAX_S = 3660 * DAY_S  # ten years: beyond that the table only grows


# --------------------------------------------------------------------------------------- errors
@dataclass(frozen=True)
class ConfigIssue:
    file: str
    line: int
    path: str
    reason: str
    column: int = 0  # 1-based, where known (a condition's syntax error); 0 = the whole line

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        if self.line and self.column:
            where += f":{self.column}"
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
    conditions: tuple[Condition, ...] = ()  # expect.conditions, parsed (config/conditions.py)

    def status_ok(self, status: int) -> bool:
        return any(r.matches(status) for r in self.status)


@dataclass(frozen=True)
class AlarmPolicy:
    """M of N: ``datapoints`` failed minutes out of the last ``evaluation_periods`` open an incident."""

    datapoints: int = 2
    evaluation_periods: int = 3


@dataclass(frozen=True)
class Flapping:
    """A check flaps when its alarm changes state ``threshold`` times within ``window_s``; it stops
    flapping after a whole ``window_s`` without a change (``domain.flapping``)."""

    window_s: float
    threshold: int


@dataclass(frozen=True)
class InhibitRule:
    """While an incident whose labels match ``source`` is open, an incident matching ``target``
    (and, for every label in ``equal``, holding the same value as the source) pages nobody.
    ``origin`` says where the rule comes from (``inhibit_rules[0]``, ``checks[2].depends_on``)."""

    source: Mapping[str, str]
    target: Mapping[str, str]
    equal: tuple[str, ...] = ()
    origin: str = ""
    line: int = 0


@dataclass(frozen=True)
class Dependencies:
    """A check's health JSON names its dependencies: each member of the object at ``path`` is
    one, healthy when its ``status_key`` (or the member itself, when it is text) is in ``healthy``
    (case-insensitive). One that disappears is reported down for ``forget_after_s``, then forgotten."""

    path: str = "services"
    status_key: str = "status"
    healthy: tuple[str, ...] = ("ok", "up", "healthy")
    forget_after_s: float = 86400.0


@dataclass(frozen=True)
class Heartbeat:
    """A heartbeat check: the job pings; late after ``period_s`` (or the next ``cron`` fire in
    ``timezone``) plus ``grace_s`` without a ping. Exactly one of ``period_s`` and ``cron``."""

    grace_s: float
    period_s: float | None = None
    cron: str | None = None
    timezone: str = "UTC"

    def describe(self) -> str:
        grace = format_seconds(self.grace_s)
        if self.cron is not None:
            return f"on cron {self.cron!r} ({self.timezone}), grace {grace}"
        return f"every {format_seconds(self.period_s or 0)}, grace {grace}"


def format_seconds(seconds: float) -> str:
    """60 -> '1m', 90000 -> '1d 1h': the largest units, as a config would write them."""
    left = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return " ".join(parts) or "0s"


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
    depends_on: tuple[str, ...] = ()  # check names: their open incidents inhibit this check's
    flapping: Flapping | None = None  # flap detection (None: off)
    heartbeat: Heartbeat | None = None  # a heartbeat check: pinged by the job, never probed
    token: str | None = None  # its ping token (a secret reference; a literal for local runs)
    dependencies: Dependencies | None = None  # one availability metric per dependency in its JSON
    sla: float | None = None  # target uptime in percent (e.g. 99.9), judged by `uptime-relay uptime`
    interval_s: int = 60  # one of INTERVALS: how often it is probed
    regions: tuple[str, ...] = ()  # empty: probed from the home region only
    quorum: int | None = None  # regions that must see it failing; None: a majority of ``regions``

    @property
    def kind(self) -> str:
        if self.heartbeat is not None:
            return "heartbeat"
        return "tcp" if self.tcp_host is not None else "http"

    @property
    def target(self) -> str:
        """What a person or a log is told the check probes: the URL in its display form (no
        credentials, no query values; ``urls.display_url``) or ``host:port``. The probe itself
        uses ``url``. A heartbeat check probes nothing: ``heartbeat``."""
        if self.heartbeat is not None:
            return "heartbeat"
        return display_url(self.url) if self.url is not None else f"{self.tcp_host}:{self.tcp_port}"

    @property
    def fast(self) -> bool:
        """Probed several times a minute (fast mode: high-resolution metrics and alarm periods)."""
        return self.interval_s < 60

    @property
    def required_quorum(self) -> int:
        """How many of ``regions`` must see it failing (a majority unless ``quorum`` is set)."""
        if self.quorum is not None:
            return self.quorum
        return len(self.regions) // 2 + 1 if self.regions else 1


@dataclass(frozen=True)
class Channel:
    name: str
    type: str
    options: Mapping[str, Any]
    line: int = 0

    def get(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)


GROUP_BY_ALL = "..."  # `group_by: ['...']`: every label (Alertmanager's meaning): each alert its own group
GROUP_WAIT_DEFAULT_S = 30.0  # Alertmanager's defaults
GROUP_INTERVAL_DEFAULT_S = 300.0
REPEAT_INTERVAL_DEFAULT_S = 4 * 3600.0


@dataclass(frozen=True)
class Grouping:
    """A route's ``group_by`` / ``group_wait`` / ``group_interval`` / ``repeat_interval``
    (Alertmanager's meaning; the relay acts on them at the escalation sweep's minute)."""

    by: tuple[str, ...]  # label names; (GROUP_BY_ALL,) = every label
    wait_s: float = GROUP_WAIT_DEFAULT_S
    interval_s: float = GROUP_INTERVAL_DEFAULT_S
    repeat_s: float = REPEAT_INTERVAL_DEFAULT_S

    @property
    def every_label(self) -> bool:
        return GROUP_BY_ALL in self.by


@dataclass(frozen=True)
class Route:
    match: Mapping[str, str]
    notify: tuple[str, ...]
    escalation: str | None = None
    continue_: bool = False
    insufficient_data: str = "warn"
    line: int = 0
    grouping: Grouping | None = None  # None: no group_by, each incident pages on its own

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
    phone: str | None = None  # E.164, for `sms` channels naming the person (or their schedule)


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
class StatusGroup:
    name: str
    checks: tuple[str, ...]


@dataclass(frozen=True)
class StatusPage:
    """The public status page (``status_page``): only the checks its groups list appear on it."""

    title: str
    groups: tuple[StatusGroup, ...]
    description: str | None = None

    def check_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for group in self.groups for name in group.checks))


@dataclass(frozen=True)
class SlackSettings:
    signing_secret: str | None = None


@dataclass(frozen=True)
class ProbeSettings:
    concurrency: int = 100


STORM_THRESHOLD_DEFAULT = 10
STORM_WINDOW_DEFAULT_S = 60.0


@dataclass(frozen=True)
class StormSettings:
    """``storm: {threshold, window}``: past ``threshold`` openings on one route within ``window``,
    the new ones go into one summary per channel. ``storm: off`` disables it."""

    threshold: int = STORM_THRESHOLD_DEFAULT
    window_s: float = STORM_WINDOW_DEFAULT_S
    enabled: bool = True


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
    retention: float = RETENTION_DEFAULT_S  # seconds a resolved incident and its timeline are kept
    source: str = "<config>"
    inhibit_rules: tuple[InhibitRule, ...] = ()  # as written; ``domain.inhibition`` adds depends_on's
    status_page: StatusPage | None = None  # no `status_page` key: no page, no badges
    storm: StormSettings = field(default_factory=StormSettings)

    def check(self, name: str) -> Check | None:
        for check in self.checks:
            if check.name == name:
                return check
        return None
