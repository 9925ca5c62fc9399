"""Request authentication for everything that reaches us from outside: pure functions, time passed in.

- Slack interactivity requests: signing secret v0 (``X-Slack-Signature`` = ``v0=`` hex HMAC-SHA256
  of ``v0:{X-Slack-Request-Timestamp}:{raw body}``), refused outside a 300 s window either way.
- Signed acknowledge links (put in emails): ``<payload>.<mac>``, both base64url without padding.
  The payload is ``1|<incident id>|<expiry epoch s>|<jti>``, or with the mail's one recipient
  ``2|<incident id>|<expiry epoch s>|<jti>|<base64url recipient>``; the MAC is HMAC-SHA256 (first
  16 bytes) over a domain-separated message. The random ``jti`` lets the caller enforce single use;
  the signed recipient is who an acknowledgement through the link is recorded as.
- PagerDuty webhooks v3: ``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]``, each an HMAC-SHA256 of
  the raw body with one of the subscription's secrets (several during a rotation); any match passes.

Every refusal raises ``Unauthorized(reason)``; the reason never contains a secret or a signature.
All comparisons are constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

SLACK_MAX_SKEW_S = 300
ACK_TOKEN_VERSION = "1"
ACK_TOKEN_VERSION_RECIPIENT = "2"
MAX_ACK_RECIPIENT_LEN = 254  # the longest valid email address
_ACK_DOMAIN = b"uptime-relay/ack-token/v1\n"
_ACK_MAC_BYTES = 16  # 128-bit tag keeps links short; forging still needs 2**128 tries
MAX_ACK_TOKEN_LEN = 1024


class Unauthorized(Exception):
    """A request or token was refused. ``reason`` is safe to log (no secrets, no signatures)."""

    status = 401

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Expired(Unauthorized):
    """Authentic but no longer valid (an expired acknowledge link): answer 403, not 401."""

    status = 403


@dataclass(frozen=True)
class AckClaim:
    incident_id: str
    jti: str
    expires_at: datetime  # aware UTC
    recipient: str | None = None  # the one address the link was mailed to, when there was one


# --------------------------------------------------------------------------------------- helpers
def _epoch(value: datetime | float | int) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC time")
        return int(value.timestamp())
    return int(value)


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    if not text or any(c not in _B64_ALPHABET for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if not key:
        raise Unauthorized("no signing secret configured")
    return key


# --------------------------------------------------------------------------------------- Slack
def slack_signature(signing_secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` value Slack would send for this body (also used by tests/local)."""
    base = b"v0:" + str(timestamp).encode("ascii") + b":" + body
    return "v0=" + hmac.new(_key(signing_secret), base, hashlib.sha256).hexdigest()


def verify_slack_signature(
    signing_secret: str | bytes | None,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    *,
    now_epoch: float,
    max_skew_s: int = SLACK_MAX_SKEW_S,
) -> None:
    """Refuse (``Unauthorized``) unless ``signature`` is Slack's v0 signature of ``body`` made within
    ``max_skew_s`` of ``now_epoch`` (REAL time, also when the local stack simulates minutes)."""
    if not signing_secret:
        raise Unauthorized("slack signing secret is not configured")
    if not timestamp:
        raise Unauthorized("missing X-Slack-Request-Timestamp")
    if not signature:
        raise Unauthorized("missing X-Slack-Signature")
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        raise Unauthorized("X-Slack-Request-Timestamp is not a number") from None
    skew = now_epoch - ts
    if skew > max_skew_s:
        raise Unauthorized(f"stale Slack request: timestamp {int(skew)} s old (limit {max_skew_s} s)")
    if skew < -max_skew_s:
        raise Unauthorized(f"Slack request timestamp {int(-skew)} s in the future (limit {max_skew_s} s)")
    if not signature.startswith("v0="):
        raise Unauthorized("unsupported Slack signature version")
    expected = slack_signature(signing_secret, str(ts), body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8", "replace")):
        raise Unauthorized("Slack signature does not match")


# --------------------------------------------------------------------------------------- ack links
def _ack_mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, _ACK_DOMAIN + payload, hashlib.sha256).digest()[:_ACK_MAC_BYTES]


def make_ack_token(
    secret: str | bytes,
    incident_id: str,
    expires_at: datetime | float | int,
    *,
    jti: str | None = None,
    recipient: str | None = None,
) -> str:
    """A compact, URL-safe, signed token acknowledging ``incident_id`` until ``expires_at``.

    ``recipient``: the single address the mail carrying the link goes to; an acknowledgement
    through the link is then recorded as that person (signed: it cannot be changed in transit)."""
    if not incident_id:
        raise ValueError("incident_id must not be empty")
    jti = jti or _b64e(_random.token_bytes(12))
    if "|" in jti:
        raise ValueError("jti must not contain '|'")
    text = f"{ACK_TOKEN_VERSION}|{incident_id}|{_epoch(expires_at)}|{jti}"
    if recipient:
        if len(recipient) > MAX_ACK_RECIPIENT_LEN:
            raise ValueError(f"recipient longer than {MAX_ACK_RECIPIENT_LEN} characters")
        text = (
            f"{ACK_TOKEN_VERSION_RECIPIENT}|{incident_id}|{_epoch(expires_at)}|{jti}"
            f"|{_b64e(recipient.encode('utf-8'))}"
        )
    payload = text.encode()
    return f"{_b64e(payload)}.{_b64e(_ack_mac(_key(secret), payload))}"


def verify_ack_token(secret: str | bytes, token: str | None, now: datetime | float | int) -> AckClaim:
    """The claim in ``token``, or ``Unauthorized`` (malformed, tampered) / ``Expired`` (past expiry).

    Single use is the caller's job: record ``claim.jti`` with a conditional write before acting."""
    key = _key(secret)
    if not token or len(token) > MAX_ACK_TOKEN_LEN or token.count(".") != 1:
        raise Unauthorized("malformed ack token")
    payload_b64, mac_b64 = token.split(".")
    try:
        payload = _b64d(payload_b64)
        mac = _b64d(mac_b64)
    except (ValueError, binascii.Error):
        raise Unauthorized("malformed ack token") from None
    if not hmac.compare_digest(_ack_mac(key, payload), mac):
        raise Unauthorized("ack token signature does not match")
    recipient = None
    try:
        version, rest = payload.decode("utf-8").split("|", 1)
        if version == ACK_TOKEN_VERSION_RECIPIENT:
            rest, recipient_b64 = rest.rsplit("|", 1)
            recipient = _b64d(recipient_b64).decode("utf-8")
        incident_id, expires_raw, jti = rest.rsplit("|", 2)
        expires = int(expires_raw)
    except (ValueError, binascii.Error):  # UnicodeDecodeError is a ValueError
        raise Unauthorized("malformed ack token payload") from None
    if version not in (ACK_TOKEN_VERSION, ACK_TOKEN_VERSION_RECIPIENT) or not incident_id or not jti:
        raise Unauthorized("unsupported ack token")
    if version == ACK_TOKEN_VERSION_RECIPIENT and not recipient:
        raise Unauthorized("malformed ack token payload")
    if _epoch(now) >= expires:
        raise Expired("ack link has expired")
    return AckClaim(
        incident_id=incident_id,
        jti=jti,
        expires_at=datetime.fromtimestamp(expires, UTC),
        recipient=recipient,
    )


# --------------------------------------------------------------------------------------- PagerDuty
def pagerduty_signature(secret: str | bytes, body: bytes) -> str:
    """One ``v1=<hex>`` entry of ``X-PagerDuty-Signature`` for ``body`` (tests and local stack)."""
    return "v1=" + hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def verify_pagerduty_signature(secrets: Iterable[str | bytes], body: bytes, header_value: str | None) -> None:
    """Refuse unless one ``v1=`` signature in ``header_value`` matches ``body`` under any secret."""
    keys = [s for s in secrets if s]
    if not keys:
        raise Unauthorized("PagerDuty webhook secret is not configured")
    if not header_value:
        raise Unauthorized("missing X-PagerDuty-Signature")
    offered = [
        part.strip().encode("utf-8", "replace")
        for part in header_value.split(",")
        if part.strip().startswith("v1=")
    ]
    if not offered:
        raise Unauthorized("X-PagerDuty-Signature has no v1 signature")
    matched = False
    for secret in keys:
        expected = pagerduty_signature(secret, body).encode("ascii")
        for candidate in offered:
            # no early exit: the time taken does not tell which secret or entry matched
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise Unauthorized("PagerDuty signature does not match")


# --------------------------------------------------------------------------------------- bearer tokens
def verify_bearer_token(expected: str | bytes | None, header_value: str | None) -> None:
    """Refuse unless ``header_value`` is ``Bearer <expected>`` (scheme case-insensitive, RFC 7235;
    the token compared in constant time). Alertmanager sends this for ``http_config.authorization``
    with ``credentials`` / ``credentials_file`` (type defaults to Bearer)."""
    key = expected.encode("utf-8") if isinstance(expected, str) else bytes(expected or b"")
    if not key:
        raise Unauthorized("bearer token is not configured")
    if not header_value:
        raise Unauthorized("missing Authorization header")
    scheme, _, offered = header_value.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("Authorization is not a Bearer token")
    if not hmac.compare_digest(key, offered.strip().encode("utf-8", "replace")):
        raise Unauthorized("bearer token does not match")


def verify_shared_token(expected: Iterable[str | bytes], offered: str | None) -> None:
    """Refuse unless ``offered`` equals one of the ``expected`` tokens (each compared in constant
    time). For senders that cannot sign but can add a header of their own: Opsgenie's outgoing
    webhooks (``X-Uptime-Relay-Token``, set under the integration's custom headers)."""
    keys = [k.encode("utf-8") if isinstance(k, str) else bytes(k) for k in expected if k]
    if not keys:
        raise Unauthorized("no webhook token is configured")
    if not offered:
        raise Unauthorized("missing token header")
    given = offered.strip().encode("utf-8", "replace")
    matched = False
    for key in keys:  # every key compared: the time taken does not tell which one matched
        matched = hmac.compare_digest(key, given) or matched
    if not matched:
        raise Unauthorized("webhook token does not match")
