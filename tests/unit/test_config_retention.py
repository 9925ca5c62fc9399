"""`retention`: how long resolved incidents and their timelines are kept (issue 13, item 5)."""

from __future__ import annotations

import textwrap

import pytest
from uptime_relay.config import ConfigError
from uptime_relay.config.loader import parse_config

DAY = 86400


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text), "uptime.yaml")
    return [str(issue) for issue in info.value.issues]


def test_without_retention_resolved_incidents_are_kept_400_days():
    """GIVEN a config without `retention` WHEN it is loaded THEN incidents are kept 400 days."""
    assert parse_config("checks: []\n").retention == 400 * DAY
    assert parse_config("").retention == 400 * DAY


@pytest.mark.parametrize(
    ("text", "days"), [("400d", 400), ("365d", 365), ("2d", 2), ("48h", 2), ("3660d", 3660)]
)
def test_retention_takes_a_duration(text, days):
    """GIVEN `retention: <duration>` WHEN loaded THEN that many seconds are kept."""
    assert parse_config(f"retention: {text}\n").retention == days * DAY


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1 year", "bad duration '1 year'"),
        ("12h", "must be between 1d and 3660d, got '12h'"),
        ("0d", "must be between 1d and 3660d, got '0d'"),
        ("3661d", "must be between 1d and 3660d, got '3661d'"),
        ("400", "bad duration 400"),
        ("[400d]", "bad duration ['400d']"),
    ],
)
def test_a_bad_retention_is_a_config_error_with_its_line_and_key(value, reason):
    """GIVEN `retention` that is not a duration between 1 day and 10 years
    WHEN the config is loaded THEN it is refused, naming the file, line and key."""
    [error] = errors_of(
        f"""\
        checks: []
        retention: {value}
        """
    )
    assert error.startswith("uptime.yaml:2: retention: "), error
    assert reason in error, error
