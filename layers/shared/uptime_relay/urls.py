"""How a URL is shown to a person or written to a log: never with its credentials.

A check URL may carry credentials (``https://user:pass@host/``) and tokens in its query string
(``?token=abc``), and a redirect may add more (an SSO ``code``). ``display_url`` is the one
function that turns any URL into the form that may reach a channel, a log line, the timeline or
the command line; ``display_url(url, link=True)`` is the form of a link a person is meant to
click (a runbook, the CloudWatch console, an alert's source).

Pure and standard library only, so that the config model, the notifiers and the probe can all
import it.
"""

from __future__ import annotations

import re

HIDDEN = "…"  # what stands for a query value that was removed
UNPARSABLE = "<unparsable URL>"
MAX_LENGTH = 1000  # longer display forms are cut (the path goes first)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
# host: a registered name (letters, digits, -._~, sub-delims, %-escapes) or a bracketed IP literal
_HOST = re.compile(r"(?:\[[0-9A-Za-z:.%\-_~]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?")
# query keys whose values are credentials even in a link a person is meant to click
_SECRET_KEY = re.compile(
    r"token|secret|passw|pwd|key|sig|auth|code|session|sess|credential|jwt|ticket|otp|nonce|assertion",
    re.IGNORECASE,
)


def display_url(url: object, *, link: bool = False) -> str:
    """The form of ``url`` that may be shown to a person or logged. Never raises.

    - userinfo (``user:pass@``) is always removed;
    - every query value is replaced by ``…`` and its key kept (``?token=abc&x`` becomes
      ``?token=…&…``: a part without ``=`` is all value), so the reader still sees which
      parameters the URL had;
    - the fragment is removed;
    - control characters are dropped and the result is at most ``MAX_LENGTH`` characters (a
      longer path is cut and ends with ``…``).

    ``link=True`` is for links a person is meant to follow (a check's runbook, the console link,
    an alert's source links), which the user or the alert's sender put there on purpose: userinfo
    still goes, but the fragment and the query values stay (dashboards and wikis need them),
    except those of keys that name a credential (``token``, ``key``, ``sig``, ``password``,
    ``code``, ``session``, …), which become ``…``.

    Anything that cannot be read as a URL (a bad host or port, not a string) gives
    ``<unparsable URL>``: nothing of it is shown.
    """
    if not isinstance(url, str):
        return UNPARSABLE
    text = _CONTROL.sub("", url).strip()
    head, hash_mark, fragment = text.partition("#")
    head, question, query = head.partition("?")
    match = _SCHEME.match(head)
    end = match.end() + 1 if match and head[match.end() : match.end() + 1] == ":" else 0
    scheme, rest = head[:end], head[end:]
    if rest.startswith("//") or (scheme and rest[:1] in ("/", "\\")):
        # the authority; browsers also read one after "http:/" or "http:\\" (WHATWG URL)
        authority, slash, path = (rest[2:] if rest.startswith("//") else rest.lstrip("/\\")).partition("/")
        host = authority.rpartition("@")[2]
        if not _HOST.fullmatch(host):
            return UNPARSABLE
        shown = f"{scheme}//{host}{slash}{path}"
    else:
        # no authority: whatever stands before an '@' ahead of the first '/' may be userinfo
        first, slash, path = head.partition("/")
        shown = f"{first.rpartition('@')[2]}{slash}{path}"
    if question:
        shown = f"{shown}?{_query(query, link)}"
    if link and hash_mark:
        # a fragment is kept (console deep links live there) unless it reads as parameters
        shown = f"{shown}#{_query(fragment, link) if '=' in fragment else fragment}"
    if len(shown) > MAX_LENGTH:
        shown = shown[: MAX_LENGTH - len(HIDDEN)] + HIDDEN
    return shown


def _query(query: str, link: bool) -> str:
    parts = []
    for part in query.split("&"):
        key, equals, value = part.partition("=")
        if not equals:
            parts.append(part if link and not _SECRET_KEY.search(part) else HIDDEN)
        elif link and not _SECRET_KEY.search(key):
            parts.append(f"{key}={value}")
        else:
            parts.append(f"{key}={HIDDEN}")
    return "&".join(parts)
