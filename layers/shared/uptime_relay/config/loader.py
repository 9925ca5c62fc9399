"""The configuration file: loaded and validated once, for every consumer (probe, relay, CLI, local).

An invalid file is refused as a whole: every error is collected and reported together, each with
file, line, key path and reason. The result is the typed model of ``config.model`` (a tree of
frozen dataclasses); nothing downstream reads the raw YAML.

Each section has its reader (``checks``, ``channels``, ``routing``, ``schedules``); this module
reads the file, runs them in order, and then checks the names one section gives another.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..notifiers.sms_rules import link_phones
from . import yamlpos
from .channels import read_channel
from .checks import read_check
from .model import (
    RETENTION_DEFAULT_S,
    RETENTION_MAX_S,
    RETENTION_MIN_S,
    STORM_THRESHOLD_DEFAULT,
    STORM_WINDOW_DEFAULT_S,
    Config,
    ConfigError,
    ConfigIssue,
    ProbeSettings,
    SlackSettings,
    StormSettings,
)
from .noise import check_dependencies, read_inhibit_rule
from .routing import read_policy, read_route
from .schedules import read_maintenance, read_person, read_schedule
from .statuspage import read_status_page
from .validator import Validator, kind
from .yamlpos import PosDict, as_posdict, line_of

DEFAULT_CONFIG_ENV = "UPTIME_CONFIG"
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
    "retention",
    "inhibit_rules",
    "status_page",
    "storm",
)
# the kinds of name one section may give another (see Validator.refer), and where each is defined
_SECTION_OF = {
    "channel": "channels",
    "escalation policy": "escalation_policies",
    "person": "people",
    "schedule": "schedules",
}


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a configuration file. Raises ConfigError (also for an unreadable file)."""
    source = str(path)
    try:
        with Path(path).open("rb") as file:
            data = file.read(yamlpos.MAX_FILE_BYTES + 1)  # no further: the file may be endless
    except OSError as exc:
        raise ConfigError([ConfigIssue(source, 0, "", f"cannot read file: {exc.strerror or exc}")]) from None
    if len(data) > yamlpos.MAX_FILE_BYTES:
        raise ConfigError([ConfigIssue(source, 0, "", yamlpos.TOO_LARGE)])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([ConfigIssue(source, 0, "", "file is not UTF-8 text")]) from None
    return parse_config(text, source)


def default_config_path() -> Path:
    """Where a deployed function finds its config: $UPTIME_CONFIG, else the config layer's file (/opt/uptime.yaml)."""
    return Path(os.environ.get(DEFAULT_CONFIG_ENV, "/opt/uptime.yaml"))


def parse_config(text: str, source: str = "<config>") -> Config:
    """Validate YAML text into a Config, or raise ConfigError listing every problem."""
    root = _read_yaml(text, source)
    v = Validator(source)
    v.keys(root, "", TOP_KEYS)
    checks = _listed(v, root, "checks", read_check)
    slack = _slack_settings(v, root)
    probe = _probe_settings(v, root)
    retention = _retention(v, root)
    storm = _storm(v, root)
    channels = _named(v, root, "channels", read_channel)
    policies = _named(v, root, "escalation_policies", read_policy)
    people = _named(v, root, "people", read_person)
    schedules = _named(v, root, "schedules", read_schedule)
    channels = link_phones(v, root, channels, people, schedules)  # sms: person:/oncall: targets
    routes = _listed(v, root, "routes", read_route)
    maintenance = _listed(v, root, "maintenance", read_maintenance)
    inhibit_rules = _listed(v, root, "inhibit_rules", read_inhibit_rule)
    status_page = read_status_page(v, root)
    _duplicate_check_names(v, root)
    check_dependencies(v, root)
    _undefined_names(v, root)
    if v.issues:
        raise ConfigError(v.issues)
    return Config(
        checks=checks,
        channels=channels,
        routes=routes,
        escalation_policies=policies,
        people=people,
        schedules=schedules,
        maintenance=maintenance,
        slack=slack,
        probe=probe,
        retention=retention,
        source=source,
        inhibit_rules=inhibit_rules,
        status_page=status_page,
        storm=storm,
    )


def _read_yaml(text: str, source: str) -> PosDict:
    """The top-level mapping (an empty file is an empty config), or ConfigError."""
    try:
        root = yamlpos.load(text)
    except yamlpos.LoadError as exc:
        raise ConfigError([ConfigIssue(source, exc.line, exc.path, exc.reason)]) from None
    if root is None:
        return as_posdict({})
    if not isinstance(root, dict):
        raise ConfigError(
            [ConfigIssue(source, 1, "", f"expected a mapping at the top level, got {kind(root)}")]
        )
    return root


def _listed(v: Validator, root: PosDict, key: str, read: Callable[..., Any]) -> tuple[Any, ...]:
    """A section that is a list (checks, routes, maintenance): ``read(v, items, index, item)`` each."""
    if root.get(key) is None:
        return ()
    items = v.sequence(root, key, key, root[key])
    built = (read(v, items, i, item) for i, item in enumerate(items or []))
    return tuple(b for b in built if b is not None)


def _named(v: Validator, root: PosDict, key: str, read: Callable[..., Any]) -> dict[str, Any]:
    """A section that maps names to items (channels, people, …): ``read(v, section, name, item)`` each."""
    if root.get(key) is None:
        return {}
    data = v.mapping(root, key, key, root[key])
    if data is None:
        return {}
    for name, line in getattr(data, "duplicate_keys", []):
        v.issue(line, f"{key}.{name}", "defined twice")
    out: dict[str, Any] = {}
    for name, item in data.items():
        if (built := read(v, data, str(name), item)) is not None:
            out[str(name)] = built
    return out


def _slack_settings(v: Validator, root: PosDict) -> SlackSettings:
    data = v.mapping(root, "slack", "slack", root["slack"]) if "slack" in root else None
    if data is None:
        return SlackSettings()
    v.keys(data, "slack", ("signing_secret",))
    if "signing_secret" not in data:
        return SlackSettings()
    return SlackSettings(
        v.string(data, "signing_secret", "slack.signing_secret", data["signing_secret"], secret=True)
    )


def _probe_settings(v: Validator, root: PosDict) -> ProbeSettings:
    data = v.mapping(root, "probe", "probe", root["probe"]) if "probe" in root else None
    if data is None:
        return ProbeSettings()
    v.keys(data, "probe", ("concurrency",))
    if "concurrency" not in data:
        return ProbeSettings()
    return ProbeSettings(
        v.integer(data, "concurrency", "probe.concurrency", data["concurrency"], 1, 2000) or 100
    )


def _retention(v: Validator, root: PosDict) -> float:
    """How long resolved incidents (and their timelines) are kept, between RETENTION_MIN_S and
    RETENTION_MAX_S; the incident store writes the TTL of a resolved incident from it."""
    if root.get("retention") is None:
        return RETENTION_DEFAULT_S
    seconds = v.duration(root, "retention", "retention", root["retention"])
    if seconds is None:
        return RETENTION_DEFAULT_S
    if not RETENTION_MIN_S <= seconds <= RETENTION_MAX_S:
        v.error(
            root,
            "retention",
            "retention",
            f"must be between {RETENTION_MIN_S / 86400:g}d and {RETENTION_MAX_S / 86400:g}d, "
            f"got {root['retention']!r}",
        )
        return RETENTION_DEFAULT_S
    return seconds


def _storm(v: Validator, root: PosDict) -> StormSettings:
    """``storm: {threshold: 10, window: 1m}`` (on by default), or ``storm: off``."""
    value = root.get("storm")
    if value is None:
        return StormSettings()
    if value is False or value == "off":
        return StormSettings(enabled=False)
    data = v.mapping(root, "storm", "storm", value)
    if data is None:
        return StormSettings()
    v.keys(data, "storm", ("threshold", "window"))
    threshold = (
        v.integer(data, "threshold", "storm.threshold", data["threshold"], 1, 100000)
        if "threshold" in data
        else None
    )
    window = (
        v.duration(data, "window", "storm.window", data["window"], minimum=60.0) if "window" in data else None
    )
    return StormSettings(
        threshold=threshold if threshold is not None else STORM_THRESHOLD_DEFAULT,
        window_s=window if window is not None else STORM_WINDOW_DEFAULT_S,
    )


def _duplicate_check_names(v: Validator, root: PosDict) -> None:
    """Judged on the names written in the file, also for checks with errors of their own."""
    checks = root.get("checks")
    seen: dict[str, int] = {}
    for i, item in enumerate(checks if isinstance(checks, list) else []):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        line = line_of(item, "name")
        if name in seen:
            v.issue(
                line,
                f"checks[{i}].name",
                f"duplicate check name {name!r} (first defined on line {seen[name]})",
            )
        else:
            seen[name] = line


def _undefined_names(v: Validator, root: PosDict) -> None:
    """Every name one section gives another must be defined there. Judged on the names written in
    the file: a channel with its own errors still exists, so naming it is not a second error."""
    defined = {
        what: set(root[section]) if isinstance(root.get(section), dict) else set()
        for what, section in _SECTION_OF.items()
    }
    for container, key, path, what, name in v.references:
        if name not in defined[what]:
            where = f" under {_SECTION_OF[what]}" if what in ("person", "schedule") else ""
            article = "an" if what[0] in "aeiou" else "a"
            v.error(
                container,
                key,
                path,
                f"{name!r} names {article} {what} that is not defined{where}" + _hint(name, defined[what]),
            )


def _hint(name: str, options: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""
