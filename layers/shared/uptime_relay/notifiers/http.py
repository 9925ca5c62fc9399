"""One JSON POST with requests, and the classification of its failures.

No retries here: a failure raises ``DeliveryError`` saying whether it is permanent and, for
429/503 with ``Retry-After``, when to try again; the relay's Dispatcher does the retrying.
Error messages name the host only: webhook URLs and tokens are secrets and never appear.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from .. import clock
from ..redaction import redact
from .base import DeliveryError

USER_AGENT = "uptime-relay (+https://github.com/uptime-relay)"
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 410, 411, 413, 414, 415, 422})
TRANSIENT_STATUSES = frozenset({408, 425, 429})
MAX_RETRY_AFTER_S = 3600.0

_session: requests.Session | None = None


def session() -> requests.Session:
    """One pooled session per process (a warm Lambda reuses its TLS connections)."""
    global _session
    if _session is None:
        _session = requests.Session()
        _session.headers["User-Agent"] = USER_AGENT
    return _session


def target(url: str) -> str:
    """``https://hooks.slack.com`` — what error messages may say about a URL (no path, no query)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme or 'http'}://{host}{port}"
    except ValueError:
        return "<bad url>"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            from datetime import UTC

            when = when.replace(tzinfo=UTC)
        seconds = (when - clock.now()).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_S)


def error_for_status(
    response: requests.Response, *, what: str, secrets: Iterable[str | None] = ()
) -> DeliveryError:
    """The DeliveryError for a non-2xx answer, with a short excerpt of the body, redacted before it
    is cut (``redaction.redact``)."""
    status = response.status_code
    excerpt = redact(response.text or "", [response.url, *secrets], limit=300)
    message = f"{what}: HTTP {status}" + (f" ({excerpt})" if excerpt else "")
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status in TRANSIENT_STATUSES or status >= 500:
        return DeliveryError(message, permanent=False, retry_after=retry_after, status=status)
    return DeliveryError(message, permanent=True, status=status)


def post_json(
    url: str,
    body: Any,
    headers: Mapping[str, str] | None = None,
    timeout: float = 5.0,
    *,
    secrets: Iterable[str | None] = (),
    http: requests.Session | None = None,
) -> requests.Response:
    """POST ``body`` as JSON; return the 2xx response or raise a classified DeliveryError.

    ``secrets`` are extra values (tokens) to keep out of error messages; the URL itself is
    always treated as secret (Slack webhook URLs are credentials).
    """
    return post_data(url, encode_json(body), headers, timeout, secrets=secrets, http=http)


def encode_json(body: Any) -> bytes:
    """The exact bytes ``post_json`` sends for ``body`` (compact UTF-8 JSON)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def post_data(
    url: str,
    data: bytes,
    headers: Mapping[str, str] | None = None,
    timeout: float = 5.0,
    *,
    secrets: Iterable[str | None] = (),
    http: requests.Session | None = None,
) -> requests.Response:
    """POST already encoded JSON ``data`` (a signed body must be sent byte for byte as signed);
    classified as ``post_json`` does."""
    hidden = [url, *secrets]
    what = f"POST {target(url)}"
    all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    try:
        response = (http or session()).post(
            url, data=data, headers=all_headers, timeout=(timeout, timeout), allow_redirects=False
        )
    except requests.Timeout:
        raise DeliveryError(f"{what}: timed out after {timeout:g}s", permanent=False) from None
    except requests.ConnectionError as exc:
        raise DeliveryError(f"{what}: connection failed ({_cause(exc)})", permanent=False) from None
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, ValueError) as exc:
        raise DeliveryError(f"{what}: invalid URL ({type(exc).__name__})", permanent=True) from None
    except requests.RequestException as exc:
        raise DeliveryError(
            f"{what}: request failed ({type(exc).__name__}: {redact(str(exc), hidden)})", permanent=False
        ) from None
    if 200 <= response.status_code < 300:
        return response
    if 300 <= response.status_code < 400:
        raise DeliveryError(
            f"{what}: unexpected redirect (HTTP {response.status_code})",
            permanent=True,
            status=response.status_code,
        )
    raise error_for_status(response, what=what, secrets=hidden)


def _cause(exc: BaseException) -> str:
    """The innermost cause's type name (e.g. ConnectionRefusedError) — never its text (has the URL)."""
    seen = exc
    for _ in range(10):
        nxt = getattr(seen, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = seen.__cause__ or seen.__context__
        if nxt is None and seen.args and isinstance(seen.args[0], BaseException):
            nxt = seen.args[0]
        if nxt is None or nxt is seen:
            break
        seen = nxt
    return type(seen).__name__
