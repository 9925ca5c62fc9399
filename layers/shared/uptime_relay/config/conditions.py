"""``expect.conditions``: one-line comparisons such as ``json.health_score >= 80`` or
``timings.ttfb < 300ms``, parsed once when the config is read (pure; no YAML, no I/O).

A condition is ``<left side> <operator> <right side>``:

- left sides: ``status``, ``latency``, ``cert_days``, ``body``, ``json.<dotted path>``,
  ``timings.<phase>`` (dns, connect, tls, ttfb, transfer, total) and ``header.<name>``;
- operators: ``== != < <= > >= in contains matches``;
- right sides: a number (with a unit where the left side is a time: ``ms s m h`` for ``latency``
  and ``timings.*``, bare = ms; ``d h`` for ``cert_days``, bare = days), a quoted or bare string,
  ``true``/``false``/``null``, or a list ``[200, 204]`` for ``in``; ``matches`` takes a regular
  expression (quoted, or the rest of the line).

``parse_condition`` raises :class:`ConditionSyntaxError` with the 1-based column of the culprit,
so ``validate`` can point at line and column. The probe evaluates a parsed :class:`Condition`
(``probe/conditions.py``).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "in", "contains", "matches")
ORDERING = ("<", "<=", ">", ">=")
SUBJECTS = ("status", "latency", "cert_days", "body", "json.", "timings.", "header.")
TIMING_PHASES = ("dns", "connect", "tls", "ttfb", "transfer", "total")
# what each kind of left side accepts
_OPERATORS_FOR = {
    "status": ("==", "!=", "<", "<=", ">", ">=", "in"),
    "latency": ("==", "!=", "<", "<=", ">", ">="),
    "timings": ("==", "!=", "<", "<=", ">", ">="),
    "cert_days": ("==", "!=", "<", "<=", ">", ">="),
    "body": ("==", "!=", "contains", "matches"),
    "header": OPERATORS,
    "json": OPERATORS,
}
_TIME_UNITS_MS = {"ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DAY_UNITS = {"d": 1.0, "h": 1 / 24}
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_OPERATOR = re.compile(r"==|!=|<=|>=|<|>|(?:in|contains|matches)(?=\s|\[|\"|'|$)")
_LEFT = re.compile(r"[^\s=!<>\[]+")
# left sides that only a TCP check can still use (it only connects)
TCP_SUBJECTS = ("latency", "timings")
TCP_PHASES = ("dns", "connect", "total")


class ConditionSyntaxError(ValueError):
    """A condition that cannot be read: ``reason`` and the 1-based ``column`` it points at."""

    def __init__(self, reason: str, column: int):
        super().__init__(f"column {column}: {reason}")
        self.reason = reason
        self.column = column


@dataclass(frozen=True)
class Condition:
    """One parsed condition. ``subject`` is the kind of left side (status, latency, cert_days,
    body, json, timings, header) and ``key`` its path, phase or header name (lower case).
    ``value`` is the right side: a number (ms for times, days for cert_days), a string, a bool,
    None, or a tuple (``in``); for ``matches`` the pattern text."""

    text: str
    subject: str
    key: str
    operator: str
    value: Any

    @property
    def left(self) -> str:
        return f"{self.subject}.{self.key}" if self.key else self.subject


def parse_condition(text: str) -> Condition:
    """Read one condition, or raise ConditionSyntaxError naming the column of the culprit."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionSyntaxError("empty condition: write e.g. 'status == 200'", 1)
    at = _skip(text, 0)
    left = _LEFT.match(text, at)
    if left is None:
        raise ConditionSyntaxError(f"expected a left side ({_subjects()})", at + 1)
    subject, key = _subject(left.group(0), at)
    at = _skip(text, left.end())
    op = _OPERATOR.match(text, at)
    if op is None:
        found = text[at:].split(maxsplit=1)[0] if text[at:].strip() else "nothing"
        raise ConditionSyntaxError(
            f"expected an operator ({' '.join(OPERATORS)}) after {left.group(0)!r}, got {found!r}", at + 1
        )
    operator = op.group(0)
    if operator not in _OPERATORS_FOR[subject]:
        allowed = " ".join(_OPERATORS_FOR[subject])
        raise ConditionSyntaxError(f"{operator!r} does not apply to {subject} (use {allowed})", at + 1)
    at = _skip(text, op.end())
    if at >= len(text):
        raise ConditionSyntaxError(f"expected a value after {operator!r}", at + 1)
    value = _right(text, at, subject, operator)
    return Condition(text=text.strip(), subject=subject, key=key, operator=operator, value=value)


def tcp_problem(condition: Condition) -> str | None:
    """Why a TCP check (it only connects) cannot use ``condition``, or None."""
    if condition.subject not in TCP_SUBJECTS or (
        condition.subject == "timings" and condition.key not in TCP_PHASES
    ):
        usable = ", ".join(["latency", *(f"timings.{p}" for p in TCP_PHASES)])
        return f"{condition.left!r} does not apply to a tcp check (it only connects; use {usable})"
    return None


# --------------------------------------------------------------------------------------- parts
def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def _subjects() -> str:
    return "status, latency, cert_days, body, json.<path>, timings.<phase>, header.<name>"


def _subject(word: str, at: int) -> tuple[str, str]:
    head, dot, rest = word.partition(".")
    if head in ("json", "timings", "header") and dot:
        if not rest:
            raise ConditionSyntaxError(
                f"{head}. needs a {_what_after(head)} after the dot", at + len(word) + 1
            )
        if head == "timings":
            if rest not in TIMING_PHASES:
                hint = _hint(rest, TIMING_PHASES)
                raise ConditionSyntaxError(
                    f"unknown timing phase {rest!r}{hint} (one of {', '.join(TIMING_PHASES)})", at + 9
                )
            return head, rest
        if head == "header":
            if not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", rest):
                raise ConditionSyntaxError(f"bad header name {rest!r}", at + 8)
            return head, rest.lower()
        return head, rest
    if word in ("status", "latency", "cert_days", "body"):
        return word, ""
    candidates = ["status", "latency", "cert_days", "body", "json", "timings", "header"]
    hint = _hint(head, candidates)
    raise ConditionSyntaxError(f"unknown left side {word!r}{hint} (use {_subjects()})", at + 1)


def _what_after(head: str) -> str:
    return {"json": "dotted path", "timings": "phase", "header": "header name"}[head]


def _hint(word: str, options: Any) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _right(text: str, at: int, subject: str, operator: str) -> Any:
    rest = text[at:].rstrip()
    if operator == "matches":
        pattern, end = _string_or_rest(text, at)
        _expect_end(text, end)
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConditionSyntaxError(f"invalid regular expression: {exc}", at + 1) from None
        return pattern
    if operator == "in":
        if not rest.startswith("["):
            raise ConditionSyntaxError("'in' needs a list, e.g. [200, 204]", at + 1)
        items, end = _list(text, at, subject)
        _expect_end(text, end)
        return items
    if operator == "contains":
        if subject == "json" and rest[:1] not in ('"', "'"):
            value, end = _scalar(text, at, subject, operator)
        else:
            value, end = _string_or_rest(text, at)
        _expect_end(text, end)
        return value
    value, end = _scalar(text, at, subject, operator)
    _expect_end(text, end)
    return value


def _expect_end(text: str, end: int) -> None:
    at = _skip(text, end)
    if at < len(text):
        raise ConditionSyntaxError(f"unexpected {text[at:]!r} after the value", at + 1)


def _string_or_rest(text: str, at: int) -> tuple[str, int]:
    """A quoted string that ends the condition, else the rest of the line as written."""
    if text[at] in "\"'":
        try:
            value, end = _quoted(text, at)
        except ConditionSyntaxError:
            value, end = "", at
        if end > at and _skip(text, end) >= len(text):
            return value, end
    return text[at:].rstrip(), len(text.rstrip())


def _quoted(text: str, at: int) -> tuple[str, int]:
    quote = text[at]
    end = at + 1
    while end < len(text) and text[end] != quote:
        end += 2 if text[end] == "\\" and quote == '"' else 1
    if end >= len(text):
        raise ConditionSyntaxError(f"unterminated string (no closing {quote})", at + 1)
    raw = text[at : end + 1]
    if quote == '"':
        try:
            return json.loads(raw), end + 1
        except ValueError:
            raise ConditionSyntaxError(f"bad escape in string {raw}", at + 1) from None
    return raw[1:-1], end + 1


def _list(text: str, at: int, subject: str) -> tuple[tuple[Any, ...], int]:
    items: list[Any] = []
    at = _skip(text, at + 1)
    if at < len(text) and text[at] == "]":
        raise ConditionSyntaxError("the list is empty", at + 1)
    while True:
        if at >= len(text):
            raise ConditionSyntaxError("the list is not closed with ]", at + 1)
        value, at = _scalar(text, at, subject, "in", stops=",]")
        items.append(value)
        at = _skip(text, at)
        if at < len(text) and text[at] == ",":
            at = _skip(text, at + 1)
            continue
        if at < len(text) and text[at] == "]":
            return tuple(items), at + 1
        raise ConditionSyntaxError("expected ',' or ']' in the list", at + 1)


def _scalar(text: str, at: int, subject: str, operator: str, stops: str = "") -> tuple[Any, int]:
    """A number (with its unit), a string, true/false/null; ``stops`` end a bare word in a list."""
    if text[at] in "\"'":
        value, end = _quoted(text, at)
        return _typed(value, subject, operator, at), end
    end = at
    while end < len(text) and text[end] not in stops and not (stops and text[end].isspace()):
        end += 1
    word = text[at:end].rstrip() if not stops else text[at:end]
    end = at + len(word)
    if not word:
        raise ConditionSyntaxError("expected a value", at + 1)
    number = _NUMBER.match(word)
    if number is not None:
        after = word[number.end() :]
        unit = after.strip()
        unit_at = at + number.end() + len(after) - len(after.lstrip())
        return _number(float(number.group(0)), unit, subject, unit_at, at), end
    if word in ("true", "false", "null"):
        if subject != "json":
            raise ConditionSyntaxError(f"{word} can only be compared with a json value", at + 1)
        return {"true": True, "false": False, "null": None}[word], end
    return _typed(word, subject, operator, at), end


def _number(value: float, unit: str, subject: str, unit_at: int, at: int) -> float | int:
    """``unit_at`` / ``at``: 0-based offsets of the unit and of the number, for errors."""
    if subject in ("latency", "timings"):
        if unit and unit not in _TIME_UNITS_MS:
            raise ConditionSyntaxError(f"unknown unit {unit!r} for a time (ms, s, m, h)", unit_at + 1)
        return value * _TIME_UNITS_MS[unit or "ms"]
    if subject == "cert_days":
        if unit and unit not in _DAY_UNITS:
            raise ConditionSyntaxError(f"unknown unit {unit!r} for cert_days (d, h)", unit_at + 1)
        return value * _DAY_UNITS[unit or "d"]
    if unit:
        raise ConditionSyntaxError(
            f"a unit ({unit!r}) only applies to latency, timings.* and cert_days", unit_at + 1
        )
    if subject == "status" and not (value.is_integer() and 100 <= value <= 599):
        raise ConditionSyntaxError(f"{value:g} is not an HTTP status code (100-599)", at + 1)
    return int(value) if value.is_integer() else value


def _typed(value: str, subject: str, operator: str, at: int) -> str:
    """A string right side: refused where the left side is a number."""
    if subject in ("status", "latency", "timings", "cert_days"):
        raise ConditionSyntaxError(f"expected a number for {subject}, got {value!r}", at + 1)
    if operator in ORDERING:
        raise ConditionSyntaxError(f"{operator!r} compares numbers, got {value!r}", at + 1)
    return value
