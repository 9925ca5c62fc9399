"""Helpers every intake parser shares: defensive field access, text, times, the delivery around a
message (its envelope) and the notes a parser leaves when it had to assume something.

Everything here is pure and tolerant: a field of the wrong type reads as missing, never raises.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..domain.alert import AlertState

RAW_LIMIT_BYTES = 4000
_WRITABLE_INT_BITS = 12_000  # about 3,600 digits: str() of an int refuses over 4,300
_TRUNCATED = "… [truncated: {total} bytes in all]"


# ----------------------------------------------------------------------------------- field access
def text(value: Any) -> str | None:
    """A non-empty string, or None (numbers are written out; containers and bools are not text)."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


# ----------------------------------------------------------------------------------- numbers
NUMBER_LIMIT = 10**18  # no count, period or threshold of an alarm comes near it
_NUMBER_TEXT_LIMIT = 32
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?", re.ASCII)


def number(
    value: Any, notes: list[str], *, field: str, signed: bool = False, fraction: bool = False
) -> int | float | None:
    """The number ``value`` states, by the one rule for every numeric field of every format.

    A JSON number, or a string of ASCII digits (``[+-]``, and ``.``/exponent when ``fraction``)
    of at most 32 characters; at most ``NUMBER_LIMIT`` in size; negative only when ``signed``; with
    a fraction only when ``fraction`` (else a whole float such as ``60.0`` reads as ``60``).
    Anything else (``"²"`` and ``"①"``, which ``str.isdigit()`` accepts and ``int()`` refuses,
    other scripts' digits, ``1_000``, ``0x3c``, spaces, NaN, a bool, a container) reads as None,
    with a parse note naming ``field``. A missing value (None) is None without a note."""
    if value is None:
        return None
    found = _read_number(value, signed=signed, fraction=fraction)
    if found is None:
        notes.append(f"{field} unreadable ({shown(value)}); left out")
    return found


def _read_number(value: Any, *, signed: bool, fraction: bool) -> int | float | None:
    if isinstance(value, str):
        if len(value) > _NUMBER_TEXT_LIMIT:
            return None
        if fraction and _DECIMAL_TEXT.fullmatch(value):
            value = float(value)
        elif _INTEGER_TEXT.fullmatch(value):
            value = int(value)
        else:
            return None
    if isinstance(value, float):
        if not math.isfinite(value) or not (fraction or value.is_integer()):
            return None
        value = value if fraction else int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if abs(value) > NUMBER_LIMIT or (value < 0 and not signed):
        return None
    return value


def shown(value: Any) -> str:
    """``value`` as a parse note shows it: a string quoted (cut to 40 characters), else its type."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:39] + "…")
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) <= NUMBER_LIMIT:
        return repr(value)
    return f"a {type(value).__name__}"


def json_object(value: Any) -> Any:
    """``value`` parsed as JSON when it is a JSON string; else ``value`` itself; None if unparseable."""
    if isinstance(value, str):
        try:
            return clean(json.loads(value))
        except (ValueError, RecursionError):
            return None
    return value


def string_map(value: Any) -> dict[str, str]:
    """A mapping of labels/attributes, keeping only string keys with text values."""
    out: dict[str, str] = {}
    for key, val in mapping(value).items():
        if isinstance(key, str) and key and (t := text(val)) is not None:
            out[key] = t
    return out


def state(value: Any) -> AlertState | None:
    if isinstance(value, str):
        try:
            return AlertState(value.strip().upper())
        except ValueError:
            return None
    return None


# ----------------------------------------------------------------------------------- text
def truncate(value: str, limit: int = RAW_LIMIT_BYTES) -> str:
    """``value`` cut to at most ``limit`` UTF-8 bytes, never inside a character, with a marker."""
    data = value.encode("utf-8", "replace")
    if len(data) <= limit:
        return data.decode("utf-8")
    marker = _TRUNCATED.format(total=len(data))
    keep = max(0, limit - len(marker.encode("utf-8")))
    return data[:keep].decode("utf-8", "ignore") + marker


def _clean_text(value: str) -> str:
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON "\\ud800"): unusable in any channel
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


def _clean_scalar(value: Any) -> Any:
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, int) and value.bit_length() > _WRITABLE_INT_BITS:
        return f"<an integer of {value.bit_length()} bits, too long to write out>"
    return value


def clean(value: Any, depth: int = 0) -> Any:
    """``value`` with every lone UTF-16 surrogate (legal in JSON escapes, not encodable as UTF-8)
    replaced by U+FFFD, in strings and keys at any depth, and every integer too long for Python
    to write as text (``str()`` refuses over 4300 digits) replaced by a note saying so. Other
    values are returned as they are."""
    if not isinstance(value, Mapping | list | tuple):
        return _clean_scalar(value)
    if depth > 200:
        return value
    if isinstance(value, Mapping):
        return {_clean_scalar(k): clean(v, depth + 1) for k, v in value.items()}
    return [clean(v, depth + 1) for v in value]


def decode(data: bytes) -> str:
    """Bytes as text: UTF-8 (with a BOM tolerated); undecodable bytes become U+FFFD."""
    return data.decode("utf-8-sig", "replace")


# ----------------------------------------------------------------------------------- time
_TIME_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<clock>\d{2}:\d{2}(?::\d{2})?)(?:[.,](?P<frac>\d+))?"
    r"\s*(?P<tz>Z|z|UTC|[+-]\d{2}:?\d{2}|[+-]\d{2})?$",
    re.ASCII,  # \d is [0-9] only, as in the number rule
)


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 / RFC 3339 in the forms AWS and Alertmanager write (``+0000``, ``Z``, nanoseconds)
    as an aware UTC datetime; epoch milliseconds/seconds as numbers; None when unparseable.
    A time without a zone is taken as UTC. Alertmanager's zero time (year 1) reads as None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = value / 1000 if value > 1e11 else value  # a huge int: OverflowError
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    match = _TIME_RE.match(value.strip())
    if not match:
        return None
    clock = match["clock"] if match["clock"].count(":") == 2 else match["clock"] + ":00"
    frac = (match["frac"] or "0")[:6].ljust(6, "0")
    tz = match["tz"] or "Z"
    if tz in ("Z", "z", "UTC"):
        offset = timedelta(0)
    else:
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 23 or minutes > 59:
            return None
        offset = sign * timedelta(hours=hours, minutes=minutes)
    try:
        naive = datetime.fromisoformat(f"{match['date']}T{clock}.{frac}")
    except ValueError:
        return None
    if naive.year <= 1:
        return None
    try:
        return (naive - offset).replace(tzinfo=UTC)
    except OverflowError:
        return None


# ----------------------------------------------------------------------------------- delivery context
@dataclass(frozen=True)
class Envelope:
    """What the delivery around a message told us (SNS record or SNS-over-SQS body)."""

    received_at: datetime
    message_id: str | None = None
    timestamp: datetime | None = None
    topic_arn: str | None = None
    subject: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    via: str | None = None  # "sns", "sqs", "sqs+sns"

    def extra(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.message_id:
            out["sns_message_id"] = self.message_id
        if self.timestamp:
            out["sns_timestamp"] = self.timestamp.isoformat()
        if self.topic_arn:
            out["sns_topic_arn"] = self.topic_arn
        if self.subject:
            out["sns_subject"] = self.subject
        if self.via:
            out["delivered_via"] = self.via
        return out

    @property
    def fallback_time(self) -> datetime:
        return self.timestamp or self.received_at


# ----------------------------------------------------------------------------------- parse notes
def state_or_assumed(value: Any, assumed: AlertState, notes: list[str], *, field: str) -> AlertState:
    """The state ``value`` names; else ``assumed``, with a parse note naming ``field``."""
    found = state(value)
    if found is not None:
        return found
    notes.append(f"{field} missing or unknown ({shown(value)}); assumed {assumed}")
    return assumed


def time_or_delivery(found: datetime | None, envelope: Envelope, notes: list[str], *, field: str) -> datetime:
    """The time the message states; else the delivery's, with a parse note naming ``field``."""
    if found is not None:
        return found
    notes.append(f"{field} missing or unreadable; used the delivery time")
    return envelope.fallback_time
