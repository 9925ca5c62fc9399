"""The options an ``email`` channel takes in the config (beside ``notifiers.email``, which sends;
kept apart so that reading the config does not load the mail and HTTP machinery)."""

from __future__ import annotations

import re
from typing import Any

from ..config.validator import ChannelRules, Validator, where_item
from ..config.yamlpos import PosDict

SMTP_KEYS = ("host", "port", "username", "password", "starttls", "ssl", "timeout")
DEFAULT_SMTP_PORT = 25


def read_options(v: Validator, data: PosDict, path: str) -> dict[str, Any]:
    """``to`` and ``from`` are required; sent through SES (``region``) unless ``smtp`` is given."""
    options: dict[str, Any] = {}
    if data.get("to") is None:
        v.error(data, None, f"{path}.to", "missing required key 'to'")
    elif (to := _recipients(v, data, f"{path}.to")) is not None:
        options["to"] = to
    sender = data.get("from")
    if sender is None:
        v.error(data, None, f"{path}.from", "missing required key 'from'")
    elif not isinstance(sender, str) or "@" not in sender:
        v.error(data, "from", f"{path}.from", f"not an email address: {sender!r}")
    else:
        options["from"] = sender
    if "smtp" in data and (smtp := _smtp(v, data, f"{path}.smtp")) is not None:
        options["smtp"] = smtp
    for key in ("region", "subject_prefix"):
        if key in data:
            options[key] = v.string(data, key, f"{path}.{key}", data[key])
    return options


def _recipients(v: Validator, data: PosDict, path: str) -> tuple[str, ...] | None:
    """One address or a list of them."""
    to = data["to"]
    addresses = [to] if isinstance(to, str) else to
    if not isinstance(addresses, list) or not addresses:
        v.error(data, "to", path, "expected an address or a list of addresses")
        return None
    for i, address in enumerate(addresses):
        if not isinstance(address, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+", address):
            v.error(
                *where_item(addresses, i, data, "to"), f"{path}[{i}]", f"not an email address: {address!r}"
            )
    return tuple(str(a) for a in addresses)


def _smtp(v: Validator, data: PosDict, path: str) -> dict[str, Any] | None:
    smtp = v.mapping(data, "smtp", path, data["smtp"])
    if smtp is None:
        return None
    v.keys(smtp, path, SMTP_KEYS, required=("host",))
    options: dict[str, Any] = {}
    if "host" in smtp:
        options["host"] = v.string(smtp, "host", f"{path}.host", smtp["host"])
    options["port"] = v.integer(smtp, "port", f"{path}.port", smtp.get("port", DEFAULT_SMTP_PORT), 1, 65535)
    for key in ("username", "password"):
        if key in smtp:
            options[key] = v.string(smtp, key, f"{path}.{key}", smtp[key], secret=key == "password")
    for key in ("starttls", "ssl"):
        if key in smtp:
            options[key] = v.boolean(smtp, key, f"{path}.{key}", smtp[key])
    if "timeout" in smtp:
        options["timeout_s"] = v.duration(smtp, "timeout", f"{path}.timeout", smtp["timeout"], minimum=0.1)
    return options


RULES = ChannelRules(
    type="email",
    keys=("to", "from", "smtp", "region", "subject_prefix"),
    read=read_options,
)
