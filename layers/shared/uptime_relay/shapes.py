"""The shape of a signed request body, checked once where its handler starts.

A signature proves who sent a body, not that its fields have the types the handler reads. Each
signed route declares the fields it reads as a small schema and calls ``check`` (or ``read_json``
then ``check``) before touching the payload; ``BadShape`` names the first wrong field
(``payload.user: expected an object, got a string``) and the route answers 400 with that text.

A schema is a Python type (``str``, ``int``, ``bool``, ``dict``, ``list``, ``object`` for anything),
``Obj`` (a JSON object whose listed fields, when present, have their shapes; other fields are
allowed), ``ListOf`` (a JSON array whose items all have one shape) or ``Nullable`` (null, or the
shape); ``Obj.required`` lists the fields that must be there. ``Text(max_len)`` is a string that
is not blank and not longer than ``max_len``. Only the fields a schema lists are visited, so
checking costs no more than reading them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_SHOWN = 40  # how much of a wrong value's type name a message quotes (never the value itself)

_JSON_NAMES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


class BadShape(ValueError):
    """A body that is not the JSON a route reads; ``str(exc)`` is safe to answer (no values)."""


@dataclass(frozen=True)
class Obj:
    fields: Mapping[str, Any] = field(default_factory=dict)
    required: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ListOf:
    item: Any


@dataclass(frozen=True)
class Nullable:
    shape: Any


@dataclass(frozen=True)
class Text:
    """A string with something in it, at most ``max_len`` characters."""

    max_len: int


def read_json(text: str | bytes, what: str) -> Any:
    """``text`` parsed as JSON, or ``BadShape`` (not JSON, not UTF-8, or nested past the parser)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise BadShape(f"{what}: JSON nested too deeply") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadShape(f"{what}: not JSON") from None


def check(value: Any, shape: Any, where: str) -> None:
    """Raise ``BadShape`` unless ``value`` has ``shape`` (see the module docstring)."""
    if isinstance(shape, Nullable):
        if value is not None:
            check(value, shape.shape, where)
    elif isinstance(shape, Obj):
        if not isinstance(value, dict):
            raise BadShape(f"{where}: expected an object, got {_name(value)}")
        missing = sorted(shape.required - value.keys())
        if missing:
            raise BadShape(f"{where}.{missing[0]}: missing")
        for name, sub in shape.fields.items():
            if name in value:
                check(value[name], sub, f"{where}.{name}")
    elif isinstance(shape, ListOf):
        if not isinstance(value, list):
            raise BadShape(f"{where}: expected an array, got {_name(value)}")
        for i, item in enumerate(value):
            check(item, shape.item, f"{where}[{i}]")
    elif isinstance(shape, Text):
        if not isinstance(value, str) or not value.strip():
            raise BadShape(f"{where}: expected a non-empty string, got {_name(value)}")
        if len(value) > shape.max_len:
            raise BadShape(f"{where}: longer than {shape.max_len} characters")
    elif shape is not object and (
        not isinstance(value, shape) or (isinstance(value, bool) and shape is not bool)
    ):
        raise BadShape(f"{where}: expected {_JSON_NAMES.get(shape, shape.__name__)}, got {_name(value)}")


def _name(value: Any) -> str:
    if isinstance(value, str) and not value.strip():
        return "an empty string"
    return _JSON_NAMES.get(type(value), type(value).__name__[:MAX_SHOWN])
