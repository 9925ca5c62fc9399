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
import html
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

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

    The standard whole-text encodings (as typed, ``json.dumps`` with and without ``ensure_ascii``
    and ``\\/``, ``quote``/``quote_plus`` in upper or lower hex, ``html.escape``) are found
    exactly; the mixes are found by one pattern per character, each read once (atomic groups:
    no runaway backtracking), escapes before the literal character. So a mixed encoding of a
    secret that itself holds escape-like text (``%25``, ``&amp;``) may be missed; its standard
    encodings are not.

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
    text = _replace(text, wanted)
    if limit is None:
        return text
    text = _replace(" ".join(text.split()), wanted)  # collapsing spaces may join a secret's pieces
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    return _drop_cut(text[: limit - len(ELLIPSIS)], wanted, marker="") + ELLIPSIS


def _replace(text: str, secrets: list[str]) -> str:
    for form in sorted((form for secret in secrets for form, _ in _forms(secret)), key=len, reverse=True):
        text = text.replace(form, REDACTED)
    for secret in secrets:
        text = _pattern(secret).sub(REDACTED, text)
    return _drop_cut(text, secrets, marker=REDACTED)


def _drop_cut(text: str, secrets: list[str], *, marker: str) -> str:
    """``text`` without the start of a secret it ends with (``marker`` in its place)."""
    for secret in secrets:
        start = _cut_start(text, secret)
        if start is not None:
            text = text[:start] + marker
    return text


def _cut_start(text: str, secret: str) -> int | None:
    """Where ``text`` ends with the start of ``secret`` (its first MIN_PREFIX characters or more,
    in any encoding, an escape cut short allowed at the very end), or None."""
    for form, shortest in _forms(secret):  # the standard encodings: exact, longest start first
        for length in range(len(form) - 1, shortest - 1, -1):
            if text.endswith(form[:length]):
                return len(text) - length
    units = _units(secret)
    end = len(text)
    for begin in range(max(0, end - 24 * len(units) - 32), end - MIN_PREFIX + 1):
        pos, count = begin, 0
        while count < len(units):
            # the rest is nothing, or an escape cut short ("&a" of "&amp;")
            if count >= MIN_PREFIX and _PARTIAL_ESCAPE.match(text, pos):
                return begin
            match = units[count].match(text, pos)
            if match is None or match.end() == pos:
                break
            pos, count = match.end(), count + 1
    return None


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


_ENCODERS = (
    lambda s: s,
    lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    lambda s: json.dumps(s, ensure_ascii=False)[1:-1].replace("/", "\\/"),
    lambda s: json.dumps(s)[1:-1],
    lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    lambda s: quote(s, safe=""),
    lambda s: quote(s),
    lambda s: quote_plus(s),
    lambda s: quote_plus(s, safe="/"),
    lambda s: _lower_hex(quote(s, safe="")),
    lambda s: _lower_hex(quote(s)),
    lambda s: _lower_hex(quote_plus(s)),
    lambda s: _lower_hex(quote_plus(s, safe="/")),
    lambda s: html.escape(s),
    lambda s: html.escape(s, quote=False),
)


@functools.lru_cache(maxsize=128)
def _forms(secret: str) -> tuple[tuple[str, int], ...]:
    """``(form, shortest start to remove at a cut)`` for each standard encoding of ``secret``:
    as typed, JSON (``\\uXXXX`` or not, ``\\/`` or not), quote / quote_plus (upper or lower
    hex) and HTML escaping. Found exactly, before the catch-all patterns."""
    forms: dict[str, int] = {}
    for encode in _ENCODERS:
        try:
            form, shortest = encode(secret), len(encode(secret[:MIN_PREFIX]))
        except (UnicodeError, ValueError):  # a lone surrogate has no UTF-8 bytes to percent-encode
            continue
        forms[form] = min(forms.get(form, shortest), shortest)
    return tuple(sorted(forms.items(), key=lambda item: len(item[0]), reverse=True))


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
    alts = []
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
    alts.append(re.escape(c))  # last: an escape is read as one (``&amp;`` is "&", not "&" "a" …)
    # atomic: once a character is read, it is not read again another way (no runaway backtracking)
    return r"(?>\\*(?:" + "|".join(alts) + "))"


def _hex(value: int, width: int) -> str:
    """``value`` in hex, at least ``width`` digits, each letter in either case."""
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{value:0{width}x}")
