"""Keeping secret values out of texts that reach the timeline, the dead-letter queue, the logs and
error messages.

A channel's answer, an exception's text or an SMTP reply may echo a webhook URL, a routing key,
a token or a password, and not always as typed: JSON escapes it (``\\/`` for ``/``, ``\\u002f``),
a URL percent-encodes it (``%2F`` or ``%2f``, ``+`` for a space), HTML escapes it (``&amp;``),
and a text cut to a length may end in the middle of it. ``redact`` is the one function that
removes all of these; everything that may carry a secret goes through it before it is stored,
logged or raised.

Pure and standard library only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

REDACTED = "[redacted]"
ELLIPSIS = "…"
MIN_SECRET = 4  # shorter values are not treated as secrets: replacing them would hit innocent text
MIN_PREFIX = 4  # a secret cut at the end of a text: a prefix this long or longer is removed
_WINDOW = 4  # with a limit, only the first 4 x limit characters (plus the secrets' spans) are read

_JSON_SHORT = {'"': '"', "\\": "\\", "/": "/", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}
_HTML_NAMED = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}
# what may be left of an escape sequence cut at the end of a text
_PARTIAL_ESCAPE = re.compile(r"(?:[\\%&][\\%&#0-9A-Za-z;]{0,15})?\Z")


def redact(text: str, secrets: Iterable[str | None], *, limit: int | None = None) -> str:
    """``text`` with every secret value in ``secrets`` replaced by ``[redacted]``, whatever its
    encoding, and a secret cut at the end of the text removed.

    A secret is found as typed and in any mix, character by character, of: JSON escapes
    (``\\/``, ``\\"``, ``\\n``, ``\\u002F`` in either case, surrogate pairs, nested backslashes),
    ``\\xHH``, percent-encoding of its UTF-8 bytes (upper or lower hex, double-encoded ``%252F``,
    ``+`` for a space) and HTML character references (``&amp;``, ``&#47;``, ``&#x2F;``). When the
    text ends with the start of a secret (at least ``MIN_PREFIX`` characters of it, in any of
    those encodings), that start is removed and ``[redacted]`` stands for it. Values shorter than
    ``MIN_SECRET`` and empty or None entries are ignored.

    With ``limit`` the result is an excerpt for a message: whitespace runs become one space and
    at most ``limit`` characters are kept (a cut text ends with ``…``). Redaction happens before
    the cut, and a secret's start left at the cut is removed as well. Never raises for str input.
    """
    wanted = sorted(
        {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET}, key=len, reverse=True
    )
    if limit is not None:
        limit = max(0, limit)
        span = max((len(s) for s in wanted), default=0)
        text = text[: _WINDOW * limit + 24 * span + 64]
    for secret in wanted:
        text = _pattern(secret).sub(REDACTED, text)
    text = _drop_cut_secret(text, wanted)
    if limit is None:
        return text
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    return _drop_cut_secret(text[: limit - len(ELLIPSIS)], wanted) + ELLIPSIS


def _drop_cut_secret(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        start = _cut_start(text, _units(secret))
        if start is not None:
            text = text[:start] + REDACTED
    return text


def _cut_start(text: str, units: tuple[re.Pattern[str], ...]) -> int | None:
    """Where ``text`` ends with the start of a secret (its first MIN_PREFIX characters or more,
    in any encoding, an escape cut short allowed at the very end), or None."""
    end = len(text)
    for begin in range(max(0, end - 24 * len(units) - 32), end - MIN_PREFIX + 1):
        pos, count = begin, 0
        while count < len(units) and pos < end:
            match = units[count].match(text, pos)
            if match is None or match.end() == pos:
                break
            pos, count = match.end(), count + 1
        if count >= MIN_PREFIX and _PARTIAL_ESCAPE.match(text, pos):
            return begin
    return None


@functools.lru_cache(maxsize=128)
def _pattern(secret: str) -> re.Pattern[str]:
    return re.compile("".join(unit.pattern for unit in _units(secret)))


@functools.lru_cache(maxsize=128)
def _units(secret: str) -> tuple[re.Pattern[str], ...]:
    """One pattern per character of ``secret``: that character in any of its encodings."""
    return tuple(re.compile(_char(c)) for c in secret)


@functools.lru_cache(maxsize=4096)
def _char(c: str) -> str:
    code = ord(c)
    alts = [re.escape(c)]
    if c in _JSON_SHORT:
        alts.append(re.escape("\\" + _JSON_SHORT[c]))
    if code <= 0xFFFF:
        alts.append(r"\\u" + _hex(code, 4))
    else:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        alts.append(r"\\u" + _hex(high, 4) + r"\\*\\u" + _hex(low, 4))
        alts.append(r"\\U" + _hex(code, 8))
    if code <= 0xFF:
        alts.append(r"\\x" + _hex(code, 2))
    alts.append("".join("%(?:25)*" + _hex(byte, 2) for byte in c.encode("utf-8", "surrogatepass")))
    if c == " ":
        alts.append(r"\+")
    alts.append(f"&#0*{code};")
    alts.append("&#[xX]0*" + _hex(code, 1) + ";")
    if c in _HTML_NAMED:
        alts.append(f"&{_HTML_NAMED[c]};")
    return r"\\*(?:" + "|".join(alts) + ")"


def _hex(value: int, width: int) -> str:
    """``value`` in hex, at least ``width`` digits, each letter in either case."""
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{value:0{width}x}")
