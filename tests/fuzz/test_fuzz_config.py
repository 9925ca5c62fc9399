"""Fuzzing the config loader: whatever the text, ``parse_config`` returns a Config or raises
ConfigError, within the time and memory bounds, and its errors never quote a configured secret.

Texts: arbitrary text; configurations built from the real sections and keys with random values,
tags, anchors and aliases (bombs among them), deep nesting and huge numbers."""

from __future__ import annotations

import string

from bounds import FUZZ, assert_no_secret, within_bounds
from hypothesis import example, given
from hypothesis import strategies as st
from uptime_relay.config import Config, ConfigError
from uptime_relay.config.loader import TOP_KEYS, parse_config

SECRET_KEYS = ("routing_key", "webhook_url", "bot_token", "password", "signing_secret", "webhook_secret")
CHECK_KEYS = ("name", "url", "tcp", "method", "headers", "body", "timeout", "expect", "labels", "alarm")
TAGS = ("!!int", "!!float", "!!bool", "!!timestamp", "!!str", "!!binary", "!!null", "!!set", "!!omap", "!foo")


def refused_or_built(text: str) -> Config | ConfigError:
    outcome = within_bounds(lambda: parse_config(text, "uptime.yaml"), seconds=5, expected=(ConfigError,))
    assert isinstance(outcome, Config | ConfigError)
    return outcome


def bomb(levels: int, width: int, where: str) -> str:
    lines = ["    " + where + ":", "      l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"      l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "checks:\n  - name: web\n    url: https://example.com/\n" + "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------- arbitrary text
@FUZZ
@given(st.text(max_size=400))
@example("probe:\n  concurrency: " + "9" * 5000)  # int-string limit before
@example("probe: {concurrency: !!float x}")  # ValueError before
@example("probe: {concurrency: !!int abc}")  # ValueError before
@example("probe: {concurrency: !!timestamp x}")  # AttributeError before
@example("probe: {concurrency: !!bool maybe}")  # KeyError before
@example("maintenance: [{start: 2024-13-45}]")  # ValueError (a plain date) before
@example("a: &a [1, *a]")
@example("x: \x00")
@example(bomb(9, 9, "body"))  # hung before
@example(bomb(7, 9, "labels") + "    name: *l7\n")  # 10 s and 637 MB before
def test_any_text_is_a_config_or_a_config_error(text):
    refused_or_built(text)


# --------------------------------------------------------------------------------- structured configs
def secret_value() -> st.SearchStrategy[str]:
    return st.text(alphabet=string.ascii_letters + string.digits, min_size=12, max_size=24).map(
        lambda s: "SeCrEt" + s
    )


def scalar() -> st.SearchStrategy[str]:
    """A YAML scalar token, tagged or not."""
    plain = st.one_of(
        st.integers().map(str),
        st.sampled_from([19, 64, 65, 65, 65, 4301]).map(lambda n: "9" * n),  # Python reads <= 4300 digits
        st.floats(allow_nan=True).map(repr),
        st.sampled_from(["yes", "no", "~", "null", ".inf", "-.NaN", "0x1F", "0o17", "1:30:00", "2024-13-45"]),
        st.sampled_from(["2026-11-20", "2026-11-20T10:00:00Z", "10s", "5m", "GET", "https://example.com/"]),
        st.text(alphabet=string.ascii_letters + string.digits + " -_./:", min_size=1, max_size=20).map(repr),
    )
    tagged = st.tuples(st.sampled_from(TAGS), plain).map(lambda t: f"{t[0]} {t[1]}")
    return st.one_of(plain, tagged)


@st.composite
def flow(draw, anchors: list[str], depth: int = 0) -> str:
    """A flow-style value: a scalar, an alias to an earlier anchor, or a (maybe anchored) collection."""
    choice = draw(st.integers(0, 9 if depth < 3 else 3))
    if choice <= 2:
        return draw(scalar())
    if choice == 3 and anchors:
        return "*" + draw(st.sampled_from(anchors))
    items = draw(st.lists(flow(anchors, depth + 1), max_size=4))
    if choice <= 6:
        text = "[" + ", ".join(items) + "]"
    else:
        keys = draw(st.lists(st.sampled_from((*CHECK_KEYS, "k", "type", "to")), min_size=len(items)))
        text = "{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, items, strict=False)) + "}"
    if draw(st.booleans()):
        anchor = f"a{len(anchors)}"
        anchors.append(anchor)
        return f"&{anchor} {text}"
    return text


@st.composite
def structured_config(draw) -> tuple[str, list[str]]:
    anchors: list[str] = []
    secrets: list[str] = []
    lines = ["checks:"]
    for i in range(draw(st.integers(0, 2))):
        lines.append(f"  - name: {draw(st.sampled_from(['web', 'api', f'c{i}', 'Bad Name']))}")
        for key in draw(st.lists(st.sampled_from(CHECK_KEYS), max_size=4, unique=True)):
            if key != "name":
                lines.append(f"    {key}: {draw(flow(anchors))}")
    lines.append("channels:")
    for i in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["slack", "pagerduty", "email", "teams", "!!int x"]))
        lines.append(f"  ch{i}:")
        lines.append(f"    type: {kind}")
        for key in draw(st.lists(st.sampled_from(SECRET_KEYS), max_size=3, unique=True)):
            secret = draw(secret_value())
            secrets.append(secret)
            form = draw(st.sampled_from(["{}", "'{}'", "https://hooks.example.com/{}", "!!int {}", "[{}]"]))
            lines.append(f"    {key}: {form.format(secret)}")
        for key in draw(st.lists(st.sampled_from(["to", "from", "channel", "severity", "smtp"]), max_size=2)):
            lines.append(f"    {key}: {draw(flow(anchors))}")
    for key in draw(st.lists(st.sampled_from((*TOP_KEYS[3:], "extra")), max_size=3, unique=True)):
        lines.append(f"{key}: {draw(flow(anchors))}")
    return "\n".join(lines) + "\n", secrets


@FUZZ
@given(structured_config())
@example(
    (
        "channels:\n  pd: {type: pagerduty, routing_key: !!int SeCrEtR0UT1NGKEY0123}\n",
        ["SeCrEtR0UT1NGKEY0123"],
    )
)
def test_a_structured_config_is_a_config_or_a_config_error(case):
    text, secrets = case
    outcome = refused_or_built(text)
    if isinstance(outcome, ConfigError):
        # the loader's own refusals (a secret written with a tag that cannot build it) never quote it
        tagged = [secret for secret in secrets if f"!!int {secret}" in text]
        assert_no_secret(str(outcome), tagged, where="config error")


@FUZZ
@given(structured_config())
@example(
    ("channels:\n  ch0:\n    type: slack\n    webhook_url: SeCrEt000000000000\n", ["SeCrEt000000000000"])
)
def test_config_errors_never_quote_a_configured_secret(case):
    text, secrets = case
    outcome = refused_or_built(text)
    if isinstance(outcome, ConfigError):
        assert_no_secret(str(outcome), secrets, where="config error")


@FUZZ
@given(
    levels=st.integers(1, 12),
    width=st.integers(2, 12),
    where=st.sampled_from(["body", "labels", "headers", "expect"]),
    alias_as=st.sampled_from([None, "name", "url", "body"]),
)
def test_aliases_never_expand_past_the_bounds(levels, width, where, alias_as):
    text = bomb(levels, width, where)
    if alias_as:
        text += f"    {alias_as}: *l{levels}\n"
    refused_or_built(text)


@FUZZ
@given(st.lists(st.sampled_from(["[", "{a: ", "{? "]), min_size=1, max_size=120), st.sampled_from(TOP_KEYS))
@example(["["] * 10_000, "checks")  # RecursionError before
@example(["{a: "] * 10_000, "probe")
def test_deep_nesting_is_refused_not_a_crash(openings, key):
    closings = "".join("]" if o == "[" else "}" for o in reversed(openings))
    refused_or_built(f"{key}: " + "".join(openings) + "1" + closings + "\n")
