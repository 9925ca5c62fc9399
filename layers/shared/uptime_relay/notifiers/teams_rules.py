"""The options a ``teams`` channel takes in the config (beside ``notifiers.teams``, which sends)."""

from __future__ import annotations

from typing import Any

from ..config.validator import ChannelRules, Validator
from ..config.yamlpos import PosDict


def read_options(v: Validator, data: PosDict, path: str) -> dict[str, Any]:
    """``webhook_url``: the Workflows webhook's URL, a credential as a whole (a secret reference)."""
    options: dict[str, Any] = {}
    if "webhook_url" not in data:
        v.error(data, None, f"{path}.webhook_url", "missing required key 'webhook_url'")
    else:
        options["webhook_url"] = v.url(
            data, "webhook_url", f"{path}.webhook_url", data["webhook_url"], secret=True
        )
    return options


RULES = ChannelRules(type="teams", keys=("webhook_url",), read=read_options)
