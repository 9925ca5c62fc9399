"""Evaluating ``expect.conditions`` (parsed by ``config.conditions``) against what a probe saw.

Pure: an :class:`Observation` goes in, ``("condition_failed", error)`` for the first condition that
does not hold comes out (or None). The error names the condition and the actual value, e.g.
``condition "timings.ttfb < 300ms" failed: timings.ttfb was 412 ms``. A left side the probe could
not observe (no certificate on plain HTTP, a missing header or JSON path, a body that is not
JSON) fails its condition and says so: a condition is never taken as met by default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config.conditions import Condition
from .expect import _MISSING, body_text, lookup, same_value

REASON = "condition_failed"
_UNSEEN = object()  # the probe never observed this left side
_NOT_JSON = object()


@dataclass
class Observation:
    """What one attempt saw. ``body`` is the (bounded) body as text; ``headers`` lower-case names."""

    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    latency_ms: float | None = None
    timings: Mapping[str, float | None] = field(default_factory=dict)
    cert_days: float | None = None
    _document: Any = field(default=_UNSEEN, repr=False)

    def document(self) -> Any:
        """The body as JSON (parsed once), or ``_UNSEEN`` when there is none or it is not JSON."""
        if self._document is _UNSEEN and self.body is not None:
            try:
                self._document = json.loads(self.body)
            except ValueError:
                self._document = _NOT_JSON
        return _UNSEEN if self._document is _NOT_JSON else self._document


def observed(
    response: Any, timings: Mapping[str, float | None], cert_days: float | None, latency_ms: float
) -> Observation:
    """The observation of one attempt: its last response (``http11.Response``; None for a TCP
    check), phase timings in ms, the earliest certificate expiry and the attempt's latency."""
    if response is None:
        return Observation(latency_ms=latency_ms, timings=timings, cert_days=cert_days)
    return Observation(
        status=response.status,
        headers=response.headers,
        body=body_text(response.body, response.header("content-type")),
        latency_ms=latency_ms,
        timings=timings,
        cert_days=cert_days,
    )


def check_conditions(conditions: Sequence[Condition], seen: Observation) -> tuple[str, str] | None:
    """(``condition_failed``, error) for the first condition that does not hold, else None."""
    for condition in conditions:
        actual, why = _actual(condition, seen)
        if why is not None:
            return REASON, f"condition {_quote(condition.text)} failed: {why}"
        if not _holds(condition, actual):
            return (
                REASON,
                f"condition {_quote(condition.text)} failed: {condition.left} was {_show(condition, actual)}",
            )
    return None


# --------------------------------------------------------------------------------------- parts
def _actual(condition: Condition, seen: Observation) -> tuple[Any, str | None]:
    """The left side's value, or (None, why it could not be observed)."""
    subject = condition.subject
    if subject == "status":
        return seen.status, None if seen.status is not None else "no HTTP status was received"
    if subject == "latency":
        return seen.latency_ms, None if seen.latency_ms is not None else "no latency was measured"
    if subject == "timings":
        value = seen.timings.get(condition.key)
        why = (
            None
            if value is not None
            else f"timings.{condition.key} was not measured (the probe never reached it)"
        )
        return value, why
    if subject == "cert_days":
        why = None if seen.cert_days is not None else "no certificate was seen (not an https target)"
        return seen.cert_days, why
    if subject == "body":
        return seen.body, None if seen.body is not None else "no body was received"
    if subject == "header":
        value = seen.headers.get(condition.key)
        return value, None if value is not None else f"header {condition.key} is missing"
    document = seen.document()
    if document is _UNSEEN:
        return None, "the body is not JSON"
    found = lookup(document, condition.key)
    if found is _MISSING:
        return None, f"json.{condition.key} is missing"
    return found, None


def _holds(condition: Condition, actual: Any) -> bool:
    op, wanted = condition.operator, condition.value
    if op == "matches":
        return isinstance(actual, str) and re.search(wanted, actual) is not None
    if op == "contains":
        if isinstance(actual, str):
            return isinstance(wanted, str) and wanted in actual
        if isinstance(actual, list):
            return any(same_value(item, wanted) for item in actual)
        return False
    if op == "in":
        return any(_equal(actual, item) for item in wanted)
    if op in ("==", "!="):
        return _equal(actual, wanted) == (op == "==")
    number = _as_number(actual)
    if number is None or isinstance(wanted, bool) or not isinstance(wanted, int | float):
        return False
    return {"<": number < wanted, "<=": number <= wanted, ">": number > wanted, ">=": number >= wanted}[op]


def _equal(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, str) and isinstance(wanted, int | float) and not isinstance(wanted, bool):
        number = _as_number(actual)  # a header value is text: "3" == 3
        return number is not None and number == wanted
    return same_value(actual, wanted)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _show(condition: Condition, actual: Any) -> str:
    if condition.subject in ("latency", "timings") and isinstance(actual, int | float):
        return f"{actual:.0f} ms"
    if condition.subject == "cert_days" and isinstance(actual, int | float):
        return f"{actual:.1f} days"
    if condition.subject == "status":
        return str(actual)
    text = json.dumps(actual, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
