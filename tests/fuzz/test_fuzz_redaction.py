"""Fuzzing the secret-keeping functions: ``redaction.redact``, ``urls.display_url``, Sentry's
``scrub_text`` and the config errors about secret options.

Properties: for any secret (arbitrary text of a non-trivial length) embedded in any text in any
encoding (as typed, JSON-escaped with or without ``\\/`` and ``\\uXXXX``, percent-encoded with
quote / quote_plus in upper or lower hex, HTML-escaped) and cut anywhere, the redacted excerpt
contains neither the secret in any of those encodings nor, at the cut, a prefix of it of
``MIN_PREFIX`` characters or more; the display form of any URL hypothesis can build, with
userinfo, query and fragment added, contains neither the userinfo nor a query value; nothing
raises, and everything stays within the time and memory bounds.
"""

from __future__ import annotations

import html
import json
import re
from urllib.parse import quote, quote_plus

import yaml
from bounds import FUZZ, assert_no_secret, within_bounds
from hypothesis import assume, example, given
from hypothesis import strategies as st
from hypothesis.provisional import urls
from uptime_relay.config import ConfigError, is_secret_ref
from uptime_relay.config.loader import parse_config
from uptime_relay.observability import scrub_text
from uptime_relay.redaction import ELLIPSIS, MIN_PREFIX, REDACTED, redact
from uptime_relay.urls import MAX_LENGTH, display_url


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


ENCODINGS = {
    "typed": lambda s: s,
    "json": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    "json ascii": lambda s: json.dumps(s)[1:-1],
    "json \\/": lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    "quote": lambda s: quote(s, safe=""),
    "quote /": lambda s: quote(s),
    "quote lower": lambda s: _lower_hex(quote(s, safe="")),
    "quote_plus": lambda s: quote_plus(s),
    "quote_plus lower": lambda s: _lower_hex(quote_plus(s)),
    "html": lambda s: html.escape(s),
}

# "[redacted]" and "…" are what redaction writes: a secret made of their characters could be
# rebuilt from the replacement itself, which says nothing about the secret
SECRETS = st.text(min_size=8, max_size=40).filter(
    lambda s: not set(s) & set(REDACTED + ELLIPSIS) and s.strip()
)
AROUND = st.text(max_size=400)


def assert_redacted(out: str, secret: str) -> None:
    tail = out[: -len(ELLIPSIS)] if out.endswith(ELLIPSIS) else out
    for name, encode in ENCODINGS.items():
        full = encode(secret)
        assert full not in out, f"the secret ({name}) survived"
        shortest = len(encode(secret[:MIN_PREFIX]))
        for cut in range(shortest, len(full)):
            assert not tail.endswith(full[:cut]), f"a prefix of the secret ({name}) survived at the cut"


@FUZZ
@given(
    secret=SECRETS, before=AROUND, after=AROUND, encoding=st.sampled_from(sorted(ENCODINGS)), data=st.data()
)
@example(  # the issue: a channel echoing its webhook path, JSON-escaped, cut at the 300-character excerpt
    secret="https://hooks.slack.com/services/T0/B0/XyzSecret",
    before="e" * 290,
    after=" trailing",
    encoding="json \\/",
    data=None,
)
# a secret holding what reads as an escape ("%25" is an encoded "%"), found as typed all the same
@example(secret="ab%25cdef", before="x", after="y", encoding="typed", data=None)
# backslashes a pattern could split many ways: no runaway backtracking
@example(secret="\\" * 8 + "ab", before="\\" * 200, after="aX", encoding="json", data=None)
def test_redact_removes_a_secret_in_any_encoding_cut_anywhere(secret, before, after, encoding, data):
    text = before + ENCODINGS[encoding](secret) + after
    limit = 300 if data is None else data.draw(st.integers(0, len(text) + 5), label="limit")
    out = within_bounds(lambda: redact(text, [secret], limit=limit), seconds=2)
    assert len(out) <= limit
    assert_redacted(out, secret)
    assert_redacted(within_bounds(lambda: redact(text, [secret]), seconds=2), secret)


@FUZZ
@given(secret=SECRETS, before=AROUND, encoding=st.sampled_from(sorted(ENCODINGS)), keep=st.integers(0, 60))
@example(secret="R0uTiNgKeY0123456789abcdef", before="e" * 20, encoding="typed", keep=12)
@example(secret="0000&000", before="", encoding="html", keep=6)  # "0000&a": "&" read as itself
@example(secret="000&0000", before="", encoding="html", keep=8)  # "000&amp;": the escape read first
def test_a_text_that_already_ends_inside_a_secret_loses_that_start(secret, before, encoding, keep):
    text = before + ENCODINGS[encoding](secret)[:keep]
    assert_redacted(within_bounds(lambda: redact(text, [secret]), seconds=2), secret)


@FUZZ
@given(
    text=st.text(max_size=2000),
    secrets=st.lists(st.one_of(st.none(), st.text(max_size=60)), max_size=4),
    limit=st.one_of(st.none(), st.integers(-5, 3000)),
)
def test_redact_never_raises_and_stays_bounded(text, secrets, limit):
    out = within_bounds(lambda: redact(text, secrets, limit=limit), seconds=2)
    assert isinstance(out, str)
    if limit is not None:
        assert len(out) <= max(0, limit)


@FUZZ
@given(text=st.text(max_size=3000))
def test_sentry_scrubbing_never_raises(text):
    assert isinstance(within_bounds(lambda: scrub_text(text), seconds=2), str)


# ------------------------------------------------------------------------------- URLs
USERINFO_CHARS = st.sampled_from(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=" + "%"
)
USERINFO = st.builds(
    lambda user, password: f"{user}:{password}" if password else user,
    st.text(USERINFO_CHARS, min_size=6, max_size=20),
    st.one_of(st.just(""), st.text(USERINFO_CHARS, min_size=6, max_size=20)),
)
QUERY_KEY = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz_-"), min_size=1, max_size=8)
QUERY_VALUE = st.text(st.characters(exclude_characters="&#", exclude_categories=("Cs", "Cc")), min_size=6)


def with_userinfo(url: str, userinfo: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{userinfo}@{rest}"


@FUZZ
@given(
    url=urls(),
    userinfo=st.one_of(st.none(), USERINFO),
    query=st.lists(st.tuples(QUERY_KEY, QUERY_VALUE), max_size=4),
    fragment=st.one_of(st.none(), st.text(max_size=20)),
    link=st.booleans(),
)
@example(
    url="https://api.example.com/health",
    userinfo="user:pa@ss",
    query=[("token", "abcdef")],
    fragment=None,
    link=False,
)
def test_a_display_url_never_shows_userinfo_or_query_values(url, userinfo, query, fragment, link):
    base = url.split("#", 1)[0]
    full = with_userinfo(base, userinfo) if userinfo else base
    if query:
        full += ("&" if "?" in full else "?") + "&".join(f"{k}={v}" for k, v in query)
    if fragment is not None:
        full += "#" + fragment
    shown = within_bounds(lambda: display_url(full, link=link), seconds=2)
    assert len(shown) <= MAX_LENGTH
    if userinfo:
        # the same text may stand in the URL elsewhere (a link keeps its query values and fragment)
        assume(userinfo not in base + repr(query) + str(fragment))
        assert userinfo not in shown and f"{userinfo}@" not in shown
    if not link:
        for _, value in query:
            if value not in base and not any(value in k for k, _ in query):
                assert value not in shown


@FUZZ
@given(text=st.one_of(st.text(max_size=3000), st.binary(max_size=50).map(lambda b: b.decode("latin-1"))))
@example(text="https://[::1/")
@example(text="user:pass@host/x")
def test_display_url_never_raises_for_any_text(text):
    shown = within_bounds(lambda: display_url(text), seconds=2)
    assert isinstance(shown, str) and len(shown) <= MAX_LENGTH


# ------------------------------------------------------------------------------- config errors
SECRET_OPTIONS = [
    ("slack", "webhook_url", {}),
    ("slack", "bot_token", {"channel": "C1"}),
    ("pagerduty", "routing_key", {}),
    ("pagerduty", "webhook_secret", {"routing_key": "env:PD"}),
]


@FUZZ
@given(
    option=st.sampled_from(SECRET_OPTIONS),
    secret=st.one_of(
        st.text(min_size=8, max_size=60), st.integers(10**7, 10**30), st.floats(allow_nan=False)
    ),
)
@example(option=("slack", "webhook_url", {}), secret="hxxps://hooks.slack.com/services/T0/B0/Zq9Secret")
def test_a_config_error_never_quotes_a_secret_option(option, secret):
    kind, key, others = option
    assume(not (isinstance(secret, str) and is_secret_ref(secret)))
    text = yaml.safe_dump({"channels": {"target": {"type": kind, key: secret, **others}}})
    outcome = within_bounds(lambda: parse_config(text), seconds=2, expected=(ConfigError,))
    if isinstance(outcome, ConfigError):
        shown = str(secret)
        assume(len(shown) >= 8 and shown not in text.replace(shown, "", 1))  # the value, not a key
        assert_no_secret(str(outcome), [shown], "config error")
