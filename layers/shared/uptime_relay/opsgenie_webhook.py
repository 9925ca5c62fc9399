"""Opsgenie's outgoing webhook on the actions URL (``POST /opsgenie``): an Opsgenie acknowledge or
close of an alert uptime-relay created acknowledges or resolves the incident, which stops its
escalation, as PagerDuty's webhook does.

Opsgenie's webhook integration does not sign its requests; it can add custom headers. So it is
authenticated by a shared token: the integration sends ``X-Uptime-Relay-Token: <token>``, which
must equal the ``webhook_token`` of one of the config's ``opsgenie`` channels (compared in
constant time, ``security.verify_shared_token``). The body (fixed by Opsgenie) is
``{"action": "Acknowledge" | "Close" | …, "alert": {"alertId", "alias", "username", …},
"source": {"name", "type"}}``; other actions answer 200 and change nothing. The incident is found
by the alert's ``alias`` (``notifiers.opsgenie.alias``). Applying is idempotent (an incident
already acknowledged or resolved does not change), so Opsgenie's own echo of an acknowledgement
or close uptime-relay mirrored to it does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from .config import Config
from .domain.incident import Incident
from .followups import ACK, RESOLVE
from .notifiers.opsgenie import alias as alert_alias
from .ports import SecretResolver
from .shapes import Nullable, Obj, Text, check, read_json

log = logging.getLogger(__name__)

TOKEN_HEADER = "x-uptime-relay-token"
MAX_ALIAS_LEN = 512
ACTIONS = {"Acknowledge": ACK, "Close": RESOLVE}
OPSGENIE_WEBHOOK = Obj(
    {
        "action": str,
        "alert": Obj(
            {
                "alias": Text(MAX_ALIAS_LEN),
                "alertId": Nullable(str),
                "username": Nullable(str),
                "userId": Nullable(str),
            },
            required=frozenset({"alias"}),
        ),
        "source": Nullable(Obj({"name": Nullable(str), "type": Nullable(str)})),
    },
    required=frozenset({"action", "alert"}),
)


def tokens(config: Config, secrets: SecretResolver) -> list[str]:
    """The tokens behind the ``webhook_token`` of the config's opsgenie channels; one that cannot
    be read is logged (by reference) and left out, so the others still work."""
    found: list[str] = []
    for channel in config.channels.values():
        ref = channel.get("webhook_token") if channel.type == "opsgenie" else None
        if not ref:
            continue
        try:
            found.append(secrets.resolve(str(ref)))
        except Exception as exc:
            log.warning("Opsgenie webhook_token %s could not be read (%s)", ref, type(exc).__name__)
    return found


def parse(body: bytes) -> tuple[str | None, str, str]:
    """``(ack | resolve | None for other actions, the alert's alias, who did it)``, or ``BadShape``."""
    webhook = read_json(body, "body")
    check(webhook, OPSGENIE_WEBHOOK, "body")
    alert = webhook["alert"]
    who = str(alert.get("username") or alert.get("userId") or "Opsgenie")
    return ACTIONS.get(webhook["action"]), alert["alias"], who


def find_incident(open_incidents: Iterable[Incident], alias: str) -> Incident | None:
    """The open incident whose Opsgenie handle (or opening alert) has this alias."""
    for incident in open_incidents:
        for handle in (incident.handles or {}).values():
            if isinstance(handle, Mapping) and (
                handle.get("alias") == alias or alias in (handle.get("aliases") or ())
            ):
                return incident
        if incident.alert is not None and alert_alias(incident.alert) == alias:
            return incident
    return None


def answer(kind: str | None, incident: Incident | None, changed: bool, reason: Any) -> dict[str, Any]:
    if kind is None:
        return {"result": "ignored"}
    if incident is None:
        return {"result": "no matching incident"}
    return {"result": "changed" if changed else reason, "incident": incident.id}
