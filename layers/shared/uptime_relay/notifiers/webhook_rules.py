"""The options a ``webhook`` channel takes in the config (beside ``notifiers.webhook``, which sends)."""

from __future__ import annotations

import re
from typing import Any

from ..config.validator import ChannelRules, Validator
from ..config.yamlpos import PosDict

HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")  # an HTTP token (RFC 9110)
# set by uptime-relay on every request: a configured header may not replace them
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "x-uptime-relay-timestamp", "x-uptime-relay-signature"}
)


def read_options(v: Validator, data: PosDict, path: str) -> dict[str, Any]:
    """``url`` (required; may be a secret reference), ``secret`` (signs), ``headers``."""
    options: dict[str, Any] = {}
    if "url" not in data:
        v.error(data, None, f"{path}.url", "missing required key 'url'")
    else:
        options["url"] = v.url(data, "url", f"{path}.url", data["url"], secret=True)
    if "secret" in data:
        options["secret"] = v.string(data, "secret", f"{path}.secret", data["secret"], secret=True)
    if "headers" in data:
        options["headers"] = _headers(v, data, f"{path}.headers")
    return options


def _headers(v: Validator, data: PosDict, path: str) -> dict[str, str]:
    headers = v.mapping(data, "headers", path, data["headers"])
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        where = f"{path}.{name}"
        if not isinstance(name, str) or not HEADER_NAME_RE.match(name):
            v.error(headers, name, where, f"not an HTTP header name: {name!r}")
            continue
        if name.lower() in RESERVED_HEADERS:
            v.error(headers, name, where, f"{name} is set by uptime-relay and cannot be configured")
            continue
        text = v.string(headers, name, where, value, secret=True)
        if text is not None and ("\r" in text or "\n" in text):
            v.error(headers, name, where, "a header value cannot contain a line break")
            continue
        if text is not None:
            out[name] = text
    return out


RULES = ChannelRules(type="webhook", keys=("url", "secret", "headers"), read=read_options)
