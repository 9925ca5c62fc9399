"""The options a ``slack`` channel takes in the config (beside ``notifiers.slack``, which sends).

Kept apart from the notifier so that reading the config does not load ``requests``: the probe
function reads the config on a cold start but never sends a message.
"""

from __future__ import annotations

from typing import Any

from ..config.validator import ChannelRules, Validator
from ..config.yamlpos import PosDict


def read_options(v: Validator, data: PosDict, path: str) -> dict[str, Any]:
    """A webhook (``webhook_url``) or a bot (``bot_token`` and ``channel``), not both."""
    options: dict[str, Any] = {}
    if ("webhook_url" in data) == ("bot_token" in data):
        v.error(data, None, path, "a slack channel needs exactly one of webhook_url or bot_token")
    if "webhook_url" in data:
        options["webhook_url"] = v.url(
            data, "webhook_url", f"{path}.webhook_url", data["webhook_url"], secret=True
        )
    if "bot_token" in data:
        options["bot_token"] = v.string(
            data, "bot_token", f"{path}.bot_token", data["bot_token"], secret=True
        )
        if "channel" not in data:
            v.error(
                data, None, f"{path}.channel", 'a bot_token channel needs `channel` (e.g. "#alerts" or C0123)'
            )
    for key in ("channel", "mention"):
        if key in data:
            options[key] = v.string(data, key, f"{path}.{key}", data[key])
    if "api_url" in data:
        options["api_url"] = v.url(data, "api_url", f"{path}.api_url", data["api_url"])
    return options


RULES = ChannelRules(
    type="slack",
    keys=("webhook_url", "bot_token", "channel", "mention", "api_url"),
    read=read_options,
)
