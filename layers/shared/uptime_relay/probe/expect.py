"""Evaluating a check's ``expect`` block against what the probe saw (pure functions).

Order (the first failing one is the reason): status, body_contains, body_regex, json,
cert_min_days (cert_expiring), max_latency (too_slow).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..config import Expect

_MISSING = object()


def describe_statuses(expect: Expect) -> str:
    return ", ".join(_describe_range(r.low, r.high) for r in expect.status)


def _describe_range(low: int, high: int) -> str:
    if low == high:
        return str(low)
    if low % 100 == 0 and high % 100 == 99:
        return ", ".join(f"{c}xx" for c in range(low // 100, high // 100 + 1))
    return f"{low}-{high}"


def body_text(body: bytes, content_type: str | None) -> str:
    charset = "utf-8"
    if content_type:
        match = re.search(r"charset=\"?([A-Za-z0-9_.:-]+)", content_type, re.IGNORECASE)
        if match:
            charset = match.group(1)
    try:
        return body.decode(charset, "replace")
    except LookupError:
        return body.decode("utf-8", "replace")


def check_response(
    expect: Expect, status: int, body: bytes, content_type: str | None, truncated: bool, bound: int
) -> tuple[str, str] | None:
    """(reason, error) for the first unmet expectation about the response, or None."""
    if not expect.status_ok(status):
        return "status_mismatch", f"status {status}, expected {describe_statuses(expect)}"
    note = f" (body over {bound} bytes: checked the first {bound})" if truncated else ""
    if expect.body_contains is not None or expect.body_regex is not None:
        text = body_text(body, content_type)
        if expect.body_contains is not None and expect.body_contains not in text:
            return "body_mismatch", f"body does not contain {_quote(expect.body_contains)}{note}"
        if expect.body_regex is not None and not re.search(expect.body_regex, text):
            return "body_mismatch", f"body does not match /{expect.body_regex}/{note}"
    if expect.json:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return "json_mismatch", f"body is not JSON ({_first_line(exc)}){note}"
        for path, wanted in expect.json.items():
            found = lookup(document, str(path))
            if found is _MISSING:
                return "json_mismatch", f"json {path}: missing{note}"
            if not same_value(found, wanted):
                return "json_mismatch", f"json {path}: expected {_show(wanted)}, got {_show(found)}"
    return None


def check_cert(expect: Expect, days_left: float | None) -> tuple[str, str] | None:
    if expect.cert_min_days is None or days_left is None:
        return None
    if days_left < expect.cert_min_days:
        return (
            "cert_expiring",
            f"certificate expires in {days_left:.1f} days (minimum {expect.cert_min_days:g})",
        )
    return None


def check_latency(expect: Expect, latency_ms: float) -> tuple[str, str] | None:
    if expect.max_latency_ms is not None and latency_ms > expect.max_latency_ms:
        return "too_slow", f"took {latency_ms:.0f} ms, limit {expect.max_latency_ms:.0f} ms"
    return None


def lookup(document: Any, path: str) -> Any:
    """Follow a dotted path (``db.healthy``, ``items.0.id``); a key that itself contains dots
    matches when written whole. Returns the sentinel ``_MISSING`` when absent."""
    if isinstance(document, Mapping) and path in document:
        return document[path]
    head, dot, rest = path.partition(".")
    if isinstance(document, Mapping):
        if head not in document:
            return _MISSING
        child = document[head]
    elif isinstance(document, list) and re.fullmatch(r"-?\d+", head):
        index = int(head)
        if not -len(document) <= index < len(document):
            return _MISSING
        child = document[index]
    else:
        return _MISSING
    return lookup(child, rest) if dot else child


def same_value(found: Any, wanted: Any) -> bool:
    """Equality that does not let ``true`` equal ``1``."""
    if isinstance(found, bool) or isinstance(wanted, bool):
        return isinstance(found, bool) and isinstance(wanted, bool) and found is wanted
    return found == wanted


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _quote(text: str) -> str:
    return _show(text)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
