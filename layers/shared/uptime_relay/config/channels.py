"""The ``channels`` section: a name, a ``type``, and the options that type's rules accept.

The loader knows no channel type: each type's rules (``ChannelRules``) sit beside its notifier and
``notifiers.rules`` maps ``type`` to them.
"""

from __future__ import annotations

import difflib
from typing import Any

from ..notifiers.rules import CHANNEL_RULES
from .model import CHANNEL_NAME_RE, Channel
from .validator import ChannelRules, Validator
from .yamlpos import PosDict, line_of


def read_channel(v: Validator, channels: PosDict, name: str, value: Any) -> Channel | None:
    """A channel with any problem in its options is left out (the file is refused anyway)."""
    path = f"channels.{name}"
    if not CHANNEL_NAME_RE.match(name):
        v.error(channels, name, path, f"bad channel name {name!r}")
    data = v.mapping(channels, name, path, value)
    if data is None:
        return None
    rules = _rules_for(v, data, path)
    if rules is None:
        return None
    v.keys(data, path, ("type", *rules.keys))
    before = len(v.issues)
    options = rules.read(v, data, path)
    if len(v.issues) != before:
        return None
    return Channel(name=name, type=rules.type, options=options, line=line_of(channels, name))


def _rules_for(v: Validator, data: PosDict, path: str) -> ChannelRules | None:
    ctype = data.get("type")
    if isinstance(ctype, str) and ctype in CHANNEL_RULES:
        return CHANNEL_RULES[ctype]
    types = list(CHANNEL_RULES)
    hint = difflib.get_close_matches(str(ctype), types, n=1)
    suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
    reason = "missing required key 'type'" if ctype is None else f"unknown channel type {ctype!r}{suffix}"
    v.error(data, "type", f"{path}.type", f"{reason}; one of {', '.join(types)}")
    return None
