"""Silences and maintenance windows: what they suppress, when they expire, and the cron matcher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from uptime_relay.config import Maintenance
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.silence import CronError, Silence, cron_fires, is_silenced, parse_cron

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
API = {"check": "api", "severity": "critical", "team": "platform"}


def silence(**kw) -> Silence:
    base = {
        "id": "s1",
        "match": {"check": "api"},
        "starts_at": T0,
        "ends_at": T0 + timedelta(hours=1),
        "created_by": "ana",
        "comment": "deploy",
    }
    return Silence(**{**base, **kw})


def test_a_silence_suppresses_matching_incidents_and_says_why():
    why = is_silenced(API, T0 + timedelta(minutes=5), [silence()])
    assert why is not None
    assert "s1" in why and "ana" in why and "deploy" in why


def test_a_silence_expires_at_its_end():
    s = silence()
    assert is_silenced(API, T0 + timedelta(minutes=59, seconds=59), [s]) is not None
    assert is_silenced(API, T0 + timedelta(hours=1), [s]) is None
    assert is_silenced(API, T0 - timedelta(seconds=1), [s]) is None


def test_every_match_label_must_equal():
    s = silence(match={"check": "api", "team": "payments"})
    assert is_silenced(API, T0, [s]) is None
    assert is_silenced({**API, "team": "payments"}, T0, [s]) is not None


def test_a_silence_round_trips_through_its_storage_form():
    s = silence()
    assert Silence.from_item(s.to_item()) == s


def test_a_silence_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError, match="ends_at"):
        silence(ends_at=T0)


def maintenance(cron: str, duration_s: float = 3600, zone: str = "UTC", match=None) -> Maintenance:
    return Maintenance(
        name="db-patching",
        match=match or {"team": "platform"},
        cron=cron,
        duration_s=duration_s,
        timezone=zone,
    )


def test_a_maintenance_window_silences_from_each_cron_time_for_its_duration():
    weekly = maintenance("0 2 * * 0", duration_s=2 * 3600, zone="Europe/Berlin")  # Sundays 02:00-04:00 Berlin
    sunday = datetime(2026, 11, 29, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    why = is_silenced(API, sunday, maintenance=[weekly])
    assert why is not None and "db-patching" in why
    assert is_silenced(API, sunday + timedelta(hours=1, minutes=29), maintenance=[weekly]) is not None
    assert is_silenced(API, sunday + timedelta(hours=1, minutes=30), maintenance=[weekly]) is None
    assert is_silenced(API, sunday - timedelta(minutes=31), maintenance=[weekly]) is None
    assert is_silenced(API, sunday + timedelta(days=1), maintenance=[weekly]) is None


def test_a_maintenance_window_only_covers_matching_labels():
    window = maintenance("* * * * *", match={"team": "payments"})
    assert is_silenced(API, T0, maintenance=[window]) is None


def test_a_window_that_started_the_day_before_still_covers():
    nightly = maintenance("30 23 * * *", duration_s=3 * 3600)
    assert is_silenced(API, datetime(2026, 11, 25, 1, 0, tzinfo=UTC), maintenance=[nightly]) is not None


def test_maintenance_from_the_config_file_is_honoured():
    config = parse_config(
        """
maintenance:
  - name: backups
    match: {check: api}
    cron: "0 3 * * 1-5"
    duration: 30m
    timezone: America/New_York
""",
        "m.yaml",
    )
    weekday_3am = datetime(2026, 11, 24, 3, 10, tzinfo=ZoneInfo("America/New_York"))
    saturday_3am = datetime(2026, 11, 28, 3, 10, tzinfo=ZoneInfo("America/New_York"))
    assert is_silenced(API, weekday_3am, maintenance=config.maintenance) is not None
    assert is_silenced(API, saturday_3am, maintenance=config.maintenance) is None


def test_an_unreadable_cron_never_silences():
    assert is_silenced(API, T0, maintenance=[maintenance("99 * * * *")]) is None


@pytest.mark.parametrize(
    ("expression", "local_minute", "fires"),
    [
        ("*/15 * * * *", (2026, 11, 24, 10, 45), True),
        ("*/15 * * * *", (2026, 11, 24, 10, 46), False),
        ("5-10/5 * * * *", (2026, 11, 24, 10, 10), True),
        ("0 9,17 * * *", (2026, 11, 24, 17, 0), True),
        ("0 9 1 * *", (2026, 12, 1, 9, 0), True),
        ("0 9 * 12 *", (2026, 11, 1, 9, 0), False),
        ("0 9 * * 7", (2026, 11, 29, 9, 0), True),  # 7 = Sunday
        ("0 9 * * 0", (2026, 11, 29, 9, 0), True),
        ("0 9 1 * 2", (2026, 11, 24, 9, 0), True),  # day-of-month OR day-of-week (Tuesday)
        ("0 9 1 * 2", (2026, 11, 25, 9, 0), False),
    ],
)
def test_the_cron_matcher(expression, local_minute, fires):
    assert parse_cron(expression).matches(datetime(*local_minute)) is fires


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("* * * *", "5 fields"),
        ("60 * * * *", "minute"),
        ("* 24 * * *", "hour"),
        ("* * 0 * *", "day-of-month"),
        ("* * * 13 *", "month"),
        ("* * * * 8", "day-of-week"),
        ("10-5 * * * *", "backwards"),
        ("*/0 * * * *", "step"),
    ],
)
def test_a_bad_cron_names_the_field(expression, words):
    with pytest.raises(CronError, match=words):
        parse_cron(expression)


def test_a_cron_time_skipped_by_spring_forward_fires_an_hour_later():
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 29, 0, 0, tzinfo=berlin)
    fires = cron_fires(parse_cron("30 2 * * *"), berlin, start, start + timedelta(hours=6))
    assert [f.astimezone(berlin).strftime("%H:%M") for f in fires] == ["03:30"]


def _field(low: int, high: int):
    number = st.integers(min_value=low, max_value=high)
    return st.one_of(
        st.just("*"),
        number.map(str),
        st.tuples(number, number).map(lambda ab: f"{min(ab)}-{max(ab)}"),
        st.integers(min_value=1, max_value=max(1, high - low)).map(lambda step: f"*/{step}"),
        st.lists(number, min_size=1, max_size=3).map(lambda xs: ",".join(map(str, xs))),
    )


def _cron():
    return st.tuples(_field(0, 59), _field(0, 23), _field(1, 31), _field(1, 12), _field(0, 7)).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(
    expression=_cron(),
    day=st.dates(min_value=datetime(2026, 1, 1).date(), max_value=datetime(2027, 12, 31).date()),
    zone=st.sampled_from(["UTC", "Asia/Kolkata"]),  # no daylight saving: every wall minute exists once
)
def test_cron_fire_times_agree_with_checking_every_minute(expression, day, zone):
    tz = ZoneInfo(zone)
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    end = start + timedelta(hours=36)
    cron = parse_cron(expression)
    brute = []
    minute = start
    while minute <= end:
        if cron.matches(minute.astimezone(tz).replace(tzinfo=None)):
            brute.append(minute.astimezone(UTC))
        minute += timedelta(minutes=1)
    assert cron_fires(cron, tz, start.astimezone(UTC), end.astimezone(UTC)) == brute
