"""``GET|POST /ping/<check>/<token>`` (and ``…/fail``, ``…/start``): a heartbeat check's job
reports in. Used by the actions router (``actions.py``) on the Function URL and the local stack's
HTTP port.

The token is compared in constant time (``hmac.compare_digest`` over SHA-256 digests, so the
length of the stored token does not show either). An unknown check, a check that is not a
heartbeat and a wrong token all answer the same 404 and record nothing. A right token records one
keyed, conditional write (``Heartbeats.record``): a repeated ping changes nothing. The token never
reaches a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from .config import Config
from .domain.heartbeat import FAIL, START, SUCCESS
from .ports import Heartbeats, SecretResolver

logger = logging.getLogger(__name__)

PING_PATH = re.compile(r"^/ping/([^/]+)/([^/]+)(?:/(fail|start))?/?$")
METHODS = ("GET", "POST")


@dataclass(frozen=True)
class PingAnswer:
    status: int
    text: str


NOT_FOUND = PingAnswer(404, "not found")


def shown_path(path: str) -> str:
    """The path as a log line may show it: the token replaced."""
    match = PING_PATH.match(path)
    if match is None:
        return "/ping/…"
    return f"/ping/{match.group(1)}/<token>" + (f"/{match.group(3)}" if match.group(3) else "")


def ping(
    config: Config, heartbeats: Heartbeats, secrets: SecretResolver, path: str, now: datetime
) -> PingAnswer:
    """Record the ping ``path`` names, or answer 404 (recording nothing)."""
    match = PING_PATH.match(path)
    if match is None:
        return NOT_FOUND
    name, given, suffix = unquote(match.group(1)), unquote(match.group(2)), match.group(3)
    check = config.check(name)
    if check is None or check.heartbeat is None or not check.token:
        logger.warning("ping refused: no heartbeat check %r", name[:64], extra={"route": shown_path(path)})
        return NOT_FOUND
    try:
        expected = secrets.resolve(check.token)
    except Exception as exc:  # our configuration, not the caller's fault: say so, record nothing
        logger.error(
            "ping for %s: its token could not be resolved (%s)",
            name,
            type(exc).__name__,
            extra={"check": name},
        )
        return PingAnswer(503, "the check's token could not be read; try again later")
    if not same_token(given, expected):
        logger.warning("ping refused: wrong token for %s", name, extra={"check": name, "refused": "token"})
        return NOT_FOUND
    kind = {None: SUCCESS, "fail": FAIL, "start": START}[suffix]
    fresh = heartbeats.record(name, kind, now)
    logger.info(
        "ping %s %s%s",
        name,
        kind,
        "" if fresh else " (already recorded)",
        extra={"check": name, "ping": kind},
    )
    return PingAnswer(200, "OK")


def same_token(given: str, expected: str) -> bool:
    """Constant time, whatever the lengths."""
    left = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
    right = hashlib.sha256(str(expected).encode("utf-8", "surrogatepass")).digest()
    return hmac.compare_digest(left, right)
