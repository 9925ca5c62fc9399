"""A hostile or broken configuration file is refused with the usual errors (file, line, key path,
exit 2), never a hang, a memory blow-up or a traceback: the YAML loader bounds aliases, nesting,
sizes, and turns every value YAML cannot build into a config error."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import tracemalloc

import pytest
from uptime_relay.config import ConfigError
from uptime_relay.config.loader import load_config, parse_config
from uptime_relay_tools.cli import main

# The loader's documented bounds (config.yamlpos)
MAX_FILE_BYTES = 1_048_576
MAX_NODES = 50_000
MAX_DEPTH = 64
MAX_ALIASES = 5_000
MAX_SCALAR_CHARS = 65_536
MAX_EXPANDED_VALUES = 200_000

WEB = "checks:\n  - name: web\n    url: https://example.com/\n"


def alias_bomb(levels: int, key: str = "body") -> str:
    """The classic "billion laughs": each level is nine aliases of the one before."""
    lines = [f"    {key}:", '      l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        lines.append(f"      l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "checks:\n  - url: https://example.com/\n" + "\n".join(lines) + "\n"


def errors_of(text: str) -> list[str]:
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        parse_config(text, "uptime.yaml")
    assert time.monotonic() - started < 5
    return [str(issue) for issue in info.value.issues]


def run_cli(tmp_path, text: str, *command: str) -> subprocess.CompletedProcess:
    """The CLI in its own process: a hang is a timeout, a traceback is exit 1."""
    path = tmp_path / "uptime.yaml"
    path.write_text(text, encoding="utf-8")
    code = "import sys; from uptime_relay_tools.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *command, str(path)], capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize("command", [("validate",), ("check",)])
def test_an_alias_bomb_in_a_check_body_exits_2_quickly_with_its_line_and_key(tmp_path, command):
    """GIVEN a 12-line alias bomb (9 levels, 9**9 strings once expanded) in a check's body
    WHEN `uptime-relay validate` / `check` read the file
    THEN they exit 2 within seconds, naming the line and key path of the node that expands too far."""
    started = time.monotonic()
    done = run_cli(tmp_path, alias_bomb(9), *command)
    assert time.monotonic() - started < 20
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "checks[0].body.l" in done.stderr and "aliases expand" in done.stderr


def test_an_alias_bomb_in_a_check_name_is_refused_before_anything_expands_it():
    """GIVEN a check whose name is an alias to a 7-level bomb (10 s and 637 MB before)
    WHEN the config is parsed THEN it is refused at once with the line of the expanding node."""
    errors = errors_of(alias_bomb(7, key="labels") + "    name: *l7\n")
    assert any("aliases expand" in e and "checks[0].labels.l" in e for e in errors), errors


def test_an_alias_used_too_often_is_refused():
    """GIVEN more alias uses than the loader allows, each cheap WHEN parsed THEN one clear error."""
    text = WEB + "    labels: &x {a: b}\n" + "".join(f"    k{i}: *x\n" for i in range(MAX_ALIASES + 1))
    errors = errors_of(text)
    assert len(errors) == 1 and f"more than {MAX_ALIASES} aliases" in errors[0], errors
    assert errors[0].startswith(f"uptime.yaml:{MAX_ALIASES + 5}: checks[0].k{MAX_ALIASES}:"), errors


def test_an_alias_inside_its_own_anchor_is_refused():
    errors = errors_of(WEB + "    body: &loop [1, *loop]\n")
    assert errors == ["uptime.yaml:4: checks[0].body: an alias refers to the anchor it is part of (endless)"]


@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_deep_flow_nesting_is_refused_not_a_recursion_error(opening):
    """GIVEN 10,000 nested flow collections (RecursionError before) WHEN parsed THEN a config error."""
    closing = "]" if opening == "[" else "}"
    errors = errors_of("checks: " + opening * 10_000 + closing * 10_000 + "\n")
    assert len(errors) == 1, errors
    assert (
        errors[0].startswith("uptime.yaml:1: checks") and f"nested more than {MAX_DEPTH} levels" in errors[0]
    )


def test_a_5000_digit_integer_is_a_config_error():
    """GIVEN an integer longer than Python converts from text WHEN parsed THEN a config error."""
    errors = errors_of("probe:\n  concurrency: " + "9" * 5000 + "\n")
    assert errors == ["uptime.yaml:2: probe.concurrency: a number of more than 64 characters"]


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("!!float x", "a float"),
        ("!!int abc", "an integer"),
        ("!!timestamp x", "a timestamp"),
        ("!!bool maybe", "a boolean"),
        ("2024-13-45", "a timestamp"),  # a plain date YAML resolves, which datetime then refuses
    ],
)
def test_a_value_yaml_cannot_build_is_a_config_error_with_line_and_key(value, what):
    """GIVEN a tagged or implicitly typed value its constructor refuses (ValueError, KeyError,
    IndexError, AttributeError before) WHEN parsed THEN one error with its line and key path."""
    errors = errors_of(f"probe:\n  concurrency: 5\nmaintenance:\n  - start: {value}\n")
    assert errors == [f"uptime.yaml:4: maintenance[0].start: cannot read this value as {what}"]


def test_the_unreadable_value_is_not_quoted_back():
    """GIVEN a secret written with a wrong tag WHEN refused THEN the error does not repeat it."""
    text = "channels:\n  pd: {type: pagerduty, routing_key: !!int R0UT1NGKEY0123456789abcdef}\n"
    errors = errors_of(text)
    assert errors == ["uptime.yaml:2: channels.pd.routing_key: cannot read this value as an integer"]


def test_a_huge_string_value_is_refused():
    errors = errors_of(WEB + "    body: " + "x" * (MAX_SCALAR_CHARS + 1) + "\n")
    assert errors == [f"uptime.yaml:4: checks[0].body: a value of more than {MAX_SCALAR_CHARS} characters"]


def test_a_file_with_too_many_values_is_refused():
    errors = errors_of(WEB + "    body: [" + ",".join(["1"] * MAX_NODES) + "]\n")
    assert len(errors) == 1 and f"more than {MAX_NODES} values" in errors[0], errors
    assert errors[0].startswith("uptime.yaml:4: checks[0].body["), errors


def test_a_file_too_big_is_refused_without_reading_it_whole(tmp_path):
    """GIVEN a file over the size limit (or an endless one) WHEN loaded THEN refused, unread."""
    path = tmp_path / "uptime.yaml"
    path.write_text("# " + "x" * MAX_FILE_BYTES + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert [str(i) for i in info.value.issues] == [
        f"{path}: (top level): file is larger than {MAX_FILE_BYTES} bytes"
    ]
    with pytest.raises(ConfigError) as info:
        parse_config("# " + "x" * MAX_FILE_BYTES, "uptime.yaml")
    assert [str(i) for i in info.value.issues] == [
        f"uptime.yaml: (top level): file is larger than {MAX_FILE_BYTES} bytes"
    ]


def test_expansion_is_measured_in_values_as_well_as_characters():
    """A legitimate file may share a block through aliases; one that multiplies values past the
    bound is refused even when every value is tiny."""
    ok = WEB + "    labels: &common {team: web}\n" + "  - {name: api, url: 'https://a/', labels: *common}\n"
    assert parse_config(ok).checks[1].labels == {"team": "web"}
    levels = 1
    while 10**levels <= MAX_EXPANDED_VALUES:
        levels += 1
    lines = ["    body:", "      l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"      l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, levels)]
    errors = errors_of(WEB + "\n".join(lines) + "\n")
    assert any("aliases expand" in e and f"more than {MAX_EXPANDED_VALUES} values" in e for e in errors)


def test_unprintable_characters_name_their_line():
    errors = errors_of("checks: []\nprobe: {concurrency: 5}\n# \x00\n")
    assert len(errors) == 1 and errors[0].startswith("uptime.yaml:3: (top level): not valid YAML"), errors


def test_validate_lists_a_constructor_error_and_exits_2(tmp_path, capsys):
    path = tmp_path / "uptime.yaml"
    path.write_text(textwrap.dedent(WEB) + "    timeout: !!float x\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    assert f"{path}:4: checks[0].timeout: cannot read this value as a float" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["2026-11-20", "!!binary aGk=", "!!set {a}", ".nan"])
def test_a_body_mapping_with_a_value_json_cannot_hold_is_a_config_error(value):
    """GIVEN a check body written as YAML holding a date, bytes, a set or NaN (TypeError before,
    found by fuzzing) WHEN parsed THEN a config error names the body."""
    errors = errors_of(WEB + f"    body: {{when: {value}}}\n")
    assert errors == [
        "uptime.yaml:4: checks[0].body: a body written as YAML must hold only JSON values"
        " (text, finite numbers, true/false, null, lists and mappings)"
    ]


def test_a_long_key_above_many_values_costs_its_length_once():
    """GIVEN a 60,000-character key holding 5,000 values WHEN parsed THEN memory stays small: each
    value's key path shares its parent's instead of copying the key (300 MB if copied)."""
    text = '? "' + "k" * 60_000 + '"\n: [' + ",".join(["1"] * 5_000) + "]\n"
    tracemalloc.start()
    try:
        errors = errors_of(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20
    assert len(errors) == 1 and "unknown key" in errors[0]
