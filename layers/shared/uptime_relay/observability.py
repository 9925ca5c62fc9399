"""The functions' own error reporting (Sentry) and shared Powertools objects.

sentry-sdk costs ~200 ms to import, so it is imported only when SENTRY_DSN is set. Events are
scrubbed: request bodies, local variables and anything that looks like a secret or an alarm
payload never leave the function.
"""

from __future__ import annotations

import os
import re
from typing import Any

_SECRETISH = re.compile(
    r"(token|secret|password|passwd|routing_key|authorization|signature|webhook|dsn|key)", re.IGNORECASE
)
_SENSITIVE_VALUE = re.compile(
    r"((?:https?://)?hooks\.slack\.com/services/\S+|xox[abprs]-[A-Za-z0-9-]+|https?://[^\s\"']*(token|key|sig)=[^\s\"'&]+)",
    re.IGNORECASE,
)
_PAYLOAD_KEYS = {"Message", "message", "body", "Records", "raw", "payload", "blocks", "alerts"}
_initialised = False


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
        return _SENSITIVE_VALUE.sub("[scrubbed]", value)
    return value


def _before_send(event: dict, _hint: dict) -> dict:
    event.pop("request", None)
    for exc in (event.get("exception") or {}).get("values", []) or []:
        for frame in (exc.get("stacktrace") or {}).get("frames", []) or []:
            frame.pop("vars", None)
        if isinstance(exc.get("value"), str):
            exc["value"] = _SENSITIVE_VALUE.sub("[scrubbed]", exc["value"])
    for key in ("extra", "contexts", "breadcrumbs"):
        if key in event:
            event[key] = scrub(event[key])
    return event


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
