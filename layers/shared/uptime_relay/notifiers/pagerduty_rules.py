"""The options a ``pagerduty`` channel takes in the config (beside ``notifiers.pagerduty``, which
sends; kept apart so that reading the config does not load ``requests``)."""

from __future__ import annotations

from typing import Any

from ..config.validator import ChannelRules, Validator
from ..config.yamlpos import PosDict
from ..domain.severity import SEVERITIES, normalise


def read_options(v: Validator, data: PosDict, path: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if "routing_key" not in data:
        v.error(data, None, f"{path}.routing_key", "missing required key 'routing_key'")
    else:
        options["routing_key"] = v.string(
            data, "routing_key", f"{path}.routing_key", data["routing_key"], secret=True
        )
    if "events_url" in data:
        options["events_url"] = v.url(data, "events_url", f"{path}.events_url", data["events_url"])
    if "webhook_secret" in data:  # verifies PagerDuty webhook v3 calls to the actions URL
        options["webhook_secret"] = v.string(
            data, "webhook_secret", f"{path}.webhook_secret", data["webhook_secret"], secret=True
        )
    if "severity" in data:
        # any spelling of a tier (``domain.severity``: p2, sev3, high…), stored as the tier
        tier = normalise(data["severity"]) if isinstance(data["severity"], str) else None
        if tier is None:
            v.error(data, "severity", f"{path}.severity", f"one of {', '.join(SEVERITIES)}")
        options["severity"] = tier or data["severity"]
    return options


RULES = ChannelRules(
    type="pagerduty",
    keys=("routing_key", "events_url", "severity", "webhook_secret"),
    read=read_options,
)
