"""Receivers' checks of the channels' wire formats against the services' documented schemas.

``responder(checks)`` makes an ``HttpReceiver`` answer like the service: a request whose path
starts with one of ``checks``' prefixes is checked by that function; a wrong one gets 400 with the
problems (and is kept in ``problems``), a right one the service's success answer. The checks:

- ``teams_problems``: the Workflows envelope and its card against the Adaptive Card 1.5 schema
  (``schemas/adaptive-card-1.5.json``, vendored from microsoft/AdaptiveCards);
- ``opsgenie_problems``: Alert API v2 create / acknowledge / close (path, ``identifierType``,
  ``GenieKey`` authorization, body against ``schemas/opsgenie-alert-api-v2.json``);
- ``webhook_problems(secret)``: an Alertmanager v4 document (``schemas/alertmanager-webhook-v4.json``)
  with an ``incident`` object, signed as ``verify_signature`` checks it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .receivers import Recorded, Reply

SCHEMAS = Path(__file__).with_name("schemas")
Check = Callable[[Recorded], list[str]]
REPLAY_WINDOW_S = 300


@cache
def _validator(name: str, definition: str | None = None) -> Any:
    import jsonschema

    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    if definition is not None:
        schema = {**schema, "$ref": f"#/definitions/{definition}"}
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_problems(value: Any, name: str, definition: str | None = None) -> list[str]:
    """What is wrong with ``value`` under the schema file ``name`` (its best match per error)."""
    from jsonschema.exceptions import best_match

    problems = []
    for error in _validator(name, definition).iter_errors(value):
        best = best_match([error]) or error
        where = "/".join(str(p) for p in best.absolute_path) or "(root)"
        problems.append(f"{where}: {best.message[:300]}")
    return problems


def _json(record: Recorded) -> tuple[Any, list[str]]:
    try:
        return json.loads(record.body), []
    except ValueError:
        return None, ["body is not JSON"]


# ------------------------------------------------------------------------------------ Teams
def teams_problems(record: Recorded) -> list[str]:
    body, problems = _json(record)
    if problems:
        return problems
    if not isinstance(body, dict) or body.get("type") != "message":
        return ['envelope: expected {"type": "message", "attachments": [...]}']
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return ["envelope: expected exactly one attachment"]
    attachment = attachments[0]
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        return ["envelope: contentType is not application/vnd.microsoft.card.adaptive"]
    card = attachment.get("content")
    if not isinstance(card, dict) or card.get("version") != "1.5":
        return ["card: expected an AdaptiveCard of version 1.5"]
    return schema_problems(card, "adaptive-card-1.5.json")


# ------------------------------------------------------------------------------------ Opsgenie
def opsgenie_problems(record: Recorded) -> list[str]:
    if not str(record.headers.get("Authorization", "")).startswith("GenieKey "):
        return ["Authorization is not 'GenieKey <api key>'"]
    body, problems = _json(record)
    if problems:
        return problems
    parts = urlsplit(record.path)
    segments = parts.path.rstrip("/").split("/")
    if parts.path.rstrip("/").endswith("/v2/alerts"):
        return schema_problems(body, "opsgenie-alert-api-v2.json", "create")
    if len(segments) >= 2 and segments[-1] in ("acknowledge", "close") and segments[-3] == "alerts":
        if parse_qs(parts.query).get("identifierType") != ["alias"]:
            return ["acknowledge/close by alias needs ?identifierType=alias"]
        return schema_problems(body, "opsgenie-alert-api-v2.json", "action")
    return [f"not an Alert API v2 path: {parts.path}"]


OPSGENIE_ACCEPTED = {"result": "Request will be processed", "took": 0.01, "requestId": "local-request"}


# ------------------------------------------------------------------------------------ webhook
def verify_signature(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> bool:
    """What a receiver of uptime-relay's webhook does (README, "Verify a webhook"): recompute
    HMAC-SHA256 over ``"<timestamp>.<raw body>"``, compare in constant time, refuse an old
    timestamp."""
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get("x-uptime-relay-timestamp", "")
    offered = lowered.get("x-uptime-relay-signature", "")
    if not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > REPLAY_WINDOW_S:
        return False
    expected = (
        "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )
    return hmac.compare_digest(expected, offered)


def webhook_problems(secret: str | None) -> Check:
    def check(record: Recorded) -> list[str]:
        body, problems = _json(record)
        if problems:
            return problems
        problems = schema_problems(body, "alertmanager-webhook-v4.json")
        if not isinstance(body, dict) or not isinstance(body.get("incident"), dict):
            problems.append("incident: missing")
        if secret is not None and not verify_signature(secret, record.headers, record.body):
            problems.append("signature: X-Uptime-Relay-Signature does not verify")
        return problems

    return check


# ------------------------------------------------------------------------------------ receiver
def responder(
    checks: Mapping[str, Check], problems: list[str], *, accepted: Reply | None = None
) -> Callable[[Recorded], Reply]:
    """An ``HttpReceiver`` default: 400 with the problems of a wrong request, else ``accepted``
    (202 and Opsgenie's answer by default)."""
    ok = accepted or Reply(202, OPSGENIE_ACCEPTED)

    def reply(record: Recorded) -> Reply:
        path = urlsplit(record.path).path
        for prefix, check in checks.items():
            if path.startswith(prefix):
                found = check(record)
                if found:
                    problems.extend(f"{record.method} {path}: {p}" for p in found)
                    return Reply(400, {"errors": found})
                return ok
        problems.append(f"{record.method} {path}: no such endpoint")
        return Reply(404, "not found")

    return reply
