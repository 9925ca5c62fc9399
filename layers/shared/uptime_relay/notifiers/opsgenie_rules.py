"""The options an ``opsgenie`` channel takes in the config (beside ``notifiers.opsgenie``, which sends)."""

from __future__ import annotations

from typing import Any

from ..config.validator import ChannelRules, Validator, kind, where_item
from ..config.yamlpos import PosDict

RESPONDER_TYPES = ("team", "user", "escalation", "schedule")
# how each responder type is named in the Alert API (besides ``id``)
RESPONDER_NAME_KEY = {"team": "name", "user": "username", "escalation": "name", "schedule": "name"}


def read_options(v: Validator, data: PosDict, path: str) -> dict[str, Any]:
    """``api_key`` (required), ``api_url`` (US by default; EU ``https://api.eu.opsgenie.com``),
    ``responders``, and ``webhook_token``, which authenticates Opsgenie's outgoing webhook calls to
    the actions URL (``POST /opsgenie``)."""
    options: dict[str, Any] = {}
    if "api_key" not in data:
        v.error(data, None, f"{path}.api_key", "missing required key 'api_key'")
    else:
        options["api_key"] = v.string(data, "api_key", f"{path}.api_key", data["api_key"], secret=True)
    if "api_url" in data:
        options["api_url"] = v.url(data, "api_url", f"{path}.api_url", data["api_url"])
    if "webhook_token" in data:
        options["webhook_token"] = v.string(
            data, "webhook_token", f"{path}.webhook_token", data["webhook_token"], secret=True
        )
    if "responders" in data:
        options["responders"] = _responders(v, data, f"{path}.responders")
    return options


def _responders(v: Validator, data: PosDict, path: str) -> tuple[dict[str, str], ...]:
    """``team:Platform``, ``user:alice@example.com``, ``escalation:…``, ``schedule:…``, or a mapping
    ``{type, name|username|id}`` as the Alert API takes it."""
    items = v.sequence(data, "responders", path, data["responders"])
    out: list[dict[str, str]] = []
    for i, item in enumerate(items or []):
        where = where_item(items, i, data, "responders")
        responder = _responder(item)
        if responder is None:
            v.error(
                *where,
                f"{path}[{i}]",
                f"expected TYPE:NAME or {{type, name|username|id}} with TYPE one of "
                f"{', '.join(RESPONDER_TYPES)}, got {kind(item)}",
            )
            continue
        out.append(responder)
    return tuple(out)


def _responder(item: Any) -> dict[str, str] | None:
    if isinstance(item, str):
        rtype, _, name = item.partition(":")
        if rtype not in RESPONDER_TYPES or not name.strip():
            return None
        return {"type": rtype, RESPONDER_NAME_KEY[rtype]: name.strip()}
    if isinstance(item, dict):
        rtype = item.get("type")
        if rtype not in RESPONDER_TYPES:
            return None
        keys = ("id", RESPONDER_NAME_KEY[rtype])
        named = {k: str(item[k]) for k in keys if isinstance(item.get(k), str) and item[k].strip()}
        if len(named) != 1 or set(item) - {"type", *keys}:
            return None
        return {"type": rtype, **named}
    return None


RULES = ChannelRules(
    type="opsgenie", keys=("api_key", "api_url", "responders", "webhook_token"), read=read_options
)
