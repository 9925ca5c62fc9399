"""The validator's toolkit: typed getters that record a problem (file, line, key path, reason)
instead of raising, so that one pass over the file reports every error.

Every section reader of the loader, and every channel's option rules (``ChannelRules``, kept
beside that channel's notifier), reads its values through a ``Validator``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..urls import display_url
from .model import LABEL_KEY_RE, ConfigIssue, is_secret_ref, parse_duration, secret_ref_problem
from .yamlpos import PosDict, PosList, as_posdict, as_poslist, join, line_of


class Validator:
    """Collects the issues of one file; the getters return None (and record why) when a value is wrong."""

    def __init__(self, source: str):
        self.source = source
        self.issues: list[ConfigIssue] = []
        # (container, key, path, kind, name): names to look up once every section is read
        self.references: list[tuple[Any, str | int, str, str, str]] = []

    def refer(self, container: Any, key: str | int, path: str, kind: str, name: str) -> None:
        """Note that ``name`` must be a defined ``kind`` (channel, person, …); judged at the end."""
        self.references.append((container, key, path, kind, name))

    # -- reporting
    def error(self, container: Any, key: str | int | None, path: str, reason: str) -> None:
        self.issues.append(ConfigIssue(self.source, line_of(container, key), path, reason))

    def issue(self, line: int, path: str, reason: str) -> None:
        """A problem whose line is already known (duplicate keys and names)."""
        self.issues.append(ConfigIssue(self.source, line, path, reason))

    def keys(self, data: PosDict, path: str, allowed: Iterable[str], required: Iterable[str] = ()) -> None:
        allowed = list(allowed)
        for key, line in getattr(data, "duplicate_keys", []):
            self.issue(line, join(path, key), "duplicate key")
        for key in data:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else f" (allowed: {', '.join(allowed)})"
                self.error(data, key, join(path, key), f"unknown key {key!r}{suggestion}")
        for key in required:
            if key not in data:
                self.error(data, None, join(path, key), f"missing required key {key!r}")

    # -- typed getters: return None (and record an error) when wrong
    def mapping(self, parent: Any, key: str | int, path: str, value: Any) -> PosDict | None:
        if isinstance(value, dict):
            return value if isinstance(value, PosDict) else as_posdict(value)
        self.error(parent, key, path, f"expected a mapping, got {kind(value)}")
        return None

    def sequence(self, parent: Any, key: str | int, path: str, value: Any) -> PosList | None:
        if isinstance(value, list):
            return value if isinstance(value, PosList) else as_poslist(value)
        self.error(parent, key, path, f"expected a list, got {kind(value)}")
        return None

    def string(
        self, parent: Any, key: str | int, path: str, value: Any, *, allow_empty=False, secret=False
    ) -> str | None:
        """``secret``: the value may be a literal secret (a key, a token, a password), so an error
        names the key and never quotes the value."""
        if isinstance(value, str) and (allow_empty or value.strip()):
            if is_secret_ref(value) and (problem := secret_ref_problem(value)):
                self.error(parent, key, path, problem)
                return None
            return value
        if isinstance(value, str):
            self.error(parent, key, path, "must not be empty")
        else:
            self.error(parent, key, path, f"expected a string, got {kind(value, secret=secret)}")
        return None

    def boolean(self, parent: Any, key: str, path: str, value: Any) -> bool | None:
        if isinstance(value, bool):
            return value
        self.error(parent, key, path, f"expected true or false, got {kind(value)}")
        return None

    def integer(self, parent: Any, key: str, path: str, value: Any, low: int, high: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(parent, key, path, f"expected a whole number, got {kind(value)}")
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

    def url(self, parent: Any, key: str, path: str, value: Any, *, secret: bool = False) -> str | None:
        """An http(s) URL with a host, or a secret reference (resolved, and so checked, at run time).

        An error shows the URL in its display form (``urls.display_url``: no credentials, no query
        values), or not at all when ``secret`` (a webhook URL is a credential as a whole)."""
        text = self.string(parent, key, path, value, secret=secret)
        if text is None or is_secret_ref(text):
            return text
        shown = "" if secret else f" {display_url(text)!r}"
        try:
            parts = urlsplit(text)
            _ = parts.port
        except ValueError:
            self.error(parent, key, path, f"bad host or port in URL{shown}")
            return None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            got = f", got{shown}" if shown else ""
            self.error(parent, key, path, f"expected an http/https URL with a host{got}")
            return None
        return text

    def labels(self, parent: Any, key: str, path: str, value: Any) -> dict[str, str]:
        data = self.mapping(parent, key, path, value)
        if data is None:
            return {}
        out: dict[str, str] = {}
        for k, v in data.items():
            p = join(path, k)
            if not LABEL_KEY_RE.match(k):
                self.error(data, k, p, f"bad label name {k!r}")
            elif isinstance(v, bool) or not isinstance(v, str | int | float):
                self.error(data, k, p, f"label values must be strings, got {kind(v)}")
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


@dataclass(frozen=True)
class ChannelRules:
    """What one channel ``type`` takes in the config, kept beside that channel's notifier.

    ``keys`` are its option keys (``type`` aside), in the order an error message lists them;
    ``read(v, data, path)`` returns the channel's options, recording every problem on ``v``; it
    reads options whose values are credentials (a webhook URL, a key, a token, a password) with
    ``secret=True``, so that no error quotes them.
    """

    type: str
    keys: tuple[str, ...]
    read: Callable[[Validator, PosDict, str], dict[str, Any]]


def where_item(items: Any, index: int, parent: Any, key: str | int) -> tuple[Any, str | int]:
    """Where to report ``items[index]``: the item's own line when ``items`` is a YAML list, else
    the key holding it (a single value standing in for a list of one)."""
    return (items, index) if isinstance(items, PosList) else (parent, key)


def kind(value: Any, *, secret: bool = False) -> str:
    """How an error message names a value that has the wrong type (``secret``: without quoting it)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, int | float):
        return "a number" if secret else f"a number ({value})"
    if isinstance(value, str):
        return "a string" if secret else f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
