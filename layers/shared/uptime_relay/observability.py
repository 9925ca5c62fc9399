"""The functions' own error reporting (Sentry) and shared Powertools objects.

sentry-sdk costs ~200 ms to import, so it is imported only when SENTRY_DSN is set. Events are
scrubbed: request data, local variables and anything that looks like a secret or an alarm
payload never leave the function.
"""

from __future__ import annotations

import os
import re
from typing import Any

from .urls import display_url

_SECRETISH = re.compile(
    r"(token|secret|password|passwd|routing_key|authorization|signature|webhook|dsn|key|cookie)",
    re.IGNORECASE,
)
_SLASH = r"(?:\\*/|%2F)"  # a slash, also JSON-escaped or percent-encoded
_SENSITIVE_VALUE = re.compile(
    "|".join(
        (
            # Slack incoming webhooks and workflow / trigger URLs: the path is the credential
            rf"(?:https?:{_SLASH}{_SLASH})?hooks\.slack\.com{_SLASH}(?:services|workflows|triggers){_SLASH}[^\s\"'<>]+",
            r"\bx(?:ox[abeoprs]|app)-[A-Za-z0-9-]+",  # Slack tokens
            r"\bBearer\s+[A-Za-z0-9._~+/=-]+",
            # a PagerDuty routing / integration key: 32 letters and digits, at least one digit
            r"\b(?=[A-Za-z]*[0-9])[A-Za-z0-9]{32}\b",
        )
    ),
    re.IGNORECASE,
)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
_PAYLOAD_KEYS = {"Message", "message", "body", "Records", "raw", "payload", "blocks", "alerts"}
_initialised = False


def scrub_text(text: str) -> str:
    """A string with secret-looking values (Slack webhook, workflow and trigger URLs, Slack
    tokens, bearer tokens, PagerDuty routing keys) replaced, and every other URL in its display
    form (``urls.display_url``: no credentials, no query values)."""
    text = _SENSITIVE_VALUE.sub("[scrubbed]", text)
    return _URL.sub(lambda match: display_url(match.group(0)), text)


def scrub(value: Any, depth: int = 0) -> Any:
    """Replace secret-looking keys, alarm payload bodies and secret-looking strings."""
    if depth > 12:
        return "[truncated]"
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and (_SECRETISH.search(key) or key in _PAYLOAD_KEYS):
                out[key] = "[scrubbed]"
            else:
                out[key] = scrub(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [scrub(item, depth + 1) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def _before_send(event: dict, _hint: dict) -> dict:
    """Scrub a Sentry event: the request (its body, headers, query and cookies: a signed Slack
    or PagerDuty call) is dropped whole, frame locals too; the message, the log entry (message,
    params, formatted), tags, extra data, contexts, breadcrumbs and exception values are scrubbed
    (``scrub``/``scrub_text``)."""
    event.pop("request", None)
    for exc in (event.get("exception") or {}).get("values", []) or []:
        for frame in (exc.get("stacktrace") or {}).get("frames", []) or []:
            frame.pop("vars", None)
        if isinstance(exc.get("value"), str):
            exc["value"] = scrub_text(exc["value"])
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        # the log message itself is what the event is about: its text is scrubbed, not dropped
        event["logentry"] = {key: _scrub_message(value) for key, value in logentry.items()}
    if "message" in event:
        event["message"] = _scrub_message(event["message"])
    for key in ("tags", "extra", "contexts", "breadcrumbs"):
        if key in event:
            event[key] = scrub(event[key])
    return event


def _scrub_message(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {key: _scrub_message(item) for key, item in value.items()}
    return scrub(value)


def init_sentry(environ: dict[str, str] | None = None) -> bool:
    """Initialise sentry-sdk with the AWS Lambda integration when SENTRY_DSN is set. Idempotent."""
    global _initialised
    env = environ if environ is not None else os.environ
    dsn = env.get("SENTRY_DSN", "").strip()
    if not dsn or _initialised:
        return _initialised
    import sentry_sdk
    from sentry_sdk.integrations.aws_lambda import AwsLambdaIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[AwsLambdaIntegration(timeout_warning=True)],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=_before_send,
        environment=env.get("SENTRY_ENVIRONMENT", "production"),
        traces_sample_rate=0.0,
    )
    _initialised = True
    return True
