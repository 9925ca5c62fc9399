"""Text safe to show a person: no character that hides, reorders or forges what they read.

Alarm names, reasons and subjects come from anyone who can publish to the topic. Bidirectional
controls (``db\u202egnp.exe`` displays as ``dbexe.png``) are made visible as ``[U+202E]``;
zero-width and other invisible format characters, and control characters, are removed (a tab or
newline becomes a space first, where the caller keeps lines it passes them separately). Joiners
that scripts and emoji need (U+200C ZWNJ, U+200D ZWJ) and variation selectors stay.
"""

from __future__ import annotations

import unicodedata

# Explicit directional embeddings, overrides and isolates, and the implicit marks.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_KEEP_FORMAT = frozenset("\u200c\u200d")  # ZWNJ, ZWJ


def _visible(ch: str) -> str:
    return f"[U+{ord(ch):04X}]"


def safe_text(text: str | None, *, keep_newlines: bool = False) -> str:
    """``text`` with bidi controls made visible and invisible/control characters removed."""
    if not text:
        return ""
    if text.isascii() and text.isprintable():
        return text
    out: list[str] = []
    for ch in text:
        if ch in BIDI_CONTROLS:
            out.append(_visible(ch))
            continue
        if ch in "\n\r\t":
            out.append(ch if keep_newlines and ch == "\n" else " ")
            continue
        category = unicodedata.category(ch)
        if category == "Cc":
            continue
        if category == "Cf" and ch not in _KEEP_FORMAT:
            continue  # zero-width space, word joiner, BOM, soft hyphen, tags…
        if category in ("Zl", "Zp"):
            out.append("\n" if keep_newlines else " ")
            continue
        out.append(ch)
    return "".join(out)
