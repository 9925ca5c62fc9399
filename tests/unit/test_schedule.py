"""On-call schedules: rotation handoffs in local time across DST, overrides, and shift listings."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from uptime_relay.config import Override, Schedule
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.schedule import Shift, oncall, shifts

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)


def daily(zone: str = "Europe/Berlin", **kw) -> Schedule:
    return Schedule(
        name="primary",
        timezone=zone,
        rotation="daily",
        handoff=time(9, 0),
        handoff_day=0,
        start=date(2026, 3, 1),
        members=("ana", "bo", "cy"),
        **kw,
    )


def test_a_daily_rotation_hands_off_at_the_handoff_time():
    s = daily()
    assert oncall(s, local(BERLIN, 2026, 3, 1, 8, 59)) == "cy"  # still the shift before start
    assert oncall(s, local(BERLIN, 2026, 3, 1, 9, 0)) == "ana"
    assert oncall(s, local(BERLIN, 2026, 3, 2, 8, 59)) == "ana"
    assert oncall(s, local(BERLIN, 2026, 3, 2, 9, 0)) == "bo"
    assert oncall(s, local(BERLIN, 2026, 3, 4, 9, 0)) == "ana"  # wraps around


@pytest.mark.parametrize(
    ("zone", "change_day"),
    [
        ("Europe/Berlin", date(2026, 3, 29)),  # spring forward: 02:00 -> 03:00
        ("Europe/Berlin", date(2026, 10, 25)),  # fall back: 03:00 -> 02:00
        ("America/New_York", date(2026, 3, 8)),
        ("America/New_York", date(2026, 11, 1)),
    ],
)
def test_the_handoff_stays_at_nine_local_across_a_daylight_saving_change(zone, change_day):
    tz = ZoneInfo(zone)
    s = daily(zone)
    for day in (change_day - timedelta(days=1), change_day, change_day + timedelta(days=1)):
        handoff = datetime.combine(day, time(9, 0), tzinfo=tz)
        before, after = handoff - timedelta(minutes=1), handoff
        assert oncall(s, before) != oncall(s, after), f"no handoff at 09:00 local on {day}"
        # the UTC instant of the handoff moves with the offset; the local time does not
        assert after.astimezone(tz).time() == time(9, 0)
    offsets = {
        datetime.combine(d, time(9, 0), tzinfo=tz).utcoffset()
        for d in (change_day - timedelta(days=1), change_day + timedelta(days=1))
    }
    assert len(offsets) == 2  # the change really happened between those handoffs


def test_a_weekly_rotation_hands_off_on_its_day_in_local_time_across_dst():
    s = Schedule(
        name="weekly",
        timezone="America/New_York",
        rotation="weekly",
        handoff=time(10, 0),
        handoff_day=0,  # Monday
        start=date(2026, 10, 28),  # a Wednesday: the shift that contains it started Monday 26th
        members=("ana", "bo"),
    )
    assert oncall(s, local(NEW_YORK, 2026, 10, 26, 10, 0)) == "ana"
    assert oncall(s, local(NEW_YORK, 2026, 11, 2, 9, 59)) == "ana"  # DST ended on Sunday 1st
    assert oncall(s, local(NEW_YORK, 2026, 11, 2, 10, 0)) == "bo"
    assert oncall(s, local(NEW_YORK, 2026, 11, 9, 10, 0)) == "ana"


def test_an_override_wins_and_the_latest_starting_one_wins_among_overrides():
    s = daily(
        overrides=(
            Override("dee", local(BERLIN, 2026, 3, 10, 0, 0), local(BERLIN, 2026, 3, 12, 0, 0)),
            Override("eve", local(BERLIN, 2026, 3, 11, 12, 0), local(BERLIN, 2026, 3, 11, 18, 0)),
        )
    )
    assert oncall(s, local(BERLIN, 2026, 3, 10, 12, 0)) == "dee"
    assert oncall(s, local(BERLIN, 2026, 3, 11, 13, 0)) == "eve"
    assert oncall(s, local(BERLIN, 2026, 3, 11, 18, 0)) == "dee"  # end is exclusive
    assert oncall(s, local(BERLIN, 2026, 3, 12, 0, 0)) == oncall(daily(), local(BERLIN, 2026, 3, 12, 0, 0))


def test_overrides_from_the_config_file_use_the_schedule_time_zone():
    config = parse_config(
        """
people:
  ana: {email: ana@example.com}
  bo: {email: bo@example.com}
schedules:
  primary:
    timezone: Europe/Berlin
    rotation: daily
    handoff: "09:00"
    start: 2026-03-01
    members: [ana]
    overrides:
      - {person: bo, start: "2026-03-05T18:00", end: "2026-03-06T09:00"}
""",
        "s.yaml",
    )
    s = config.schedules["primary"]
    assert oncall(s, datetime(2026, 3, 5, 16, 59, tzinfo=UTC)) == "ana"  # 17:59 Berlin
    assert oncall(s, datetime(2026, 3, 5, 17, 0, tzinfo=UTC)) == "bo"  # 18:00 Berlin


def test_shifts_list_who_is_on_call_when_including_overrides():
    s = daily(
        overrides=(Override("dee", local(BERLIN, 2026, 3, 2, 12, 0), local(BERLIN, 2026, 3, 2, 15, 0)),)
    )
    listed = shifts(s, local(BERLIN, 2026, 3, 1, 9, 0), local(BERLIN, 2026, 3, 3, 9, 0))
    as_local = [(x.person, x.start.astimezone(BERLIN).strftime("%d %H:%M"), x.override) for x in listed]
    assert as_local == [
        ("ana", "01 09:00", False),
        ("bo", "02 09:00", False),
        ("dee", "02 12:00", True),
        ("bo", "02 15:00", False),
    ]
    assert listed[-1].end == local(BERLIN, 2026, 3, 3, 9, 0)


def test_shifts_across_spring_forward_are_an_hour_shorter():
    s = daily()
    listed = shifts(s, local(BERLIN, 2026, 3, 28, 9, 0), local(BERLIN, 2026, 3, 30, 9, 0))
    assert [x.end - x.start for x in listed] == [timedelta(hours=23), timedelta(hours=24)]


def test_a_naive_time_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="timezone-aware"):
        oncall(daily(), datetime(2026, 3, 1, 9, 0))


instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)


@given(
    at=instants,
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC"]),
    rotation=st.sampled_from(["daily", "weekly"]),
    members=st.lists(st.sampled_from(["ana", "bo", "cy", "dee"]), min_size=1, max_size=4),
    handoff=st.times(),
    handoff_day=st.integers(min_value=0, max_value=6),
)
def test_oncall_is_always_a_member_and_agrees_with_the_shift_list(
    at, zone, rotation, members, handoff, handoff_day
):
    s = Schedule(
        "p",
        zone,
        rotation,
        handoff.replace(second=0, microsecond=0),
        handoff_day,
        date(2026, 1, 5),
        tuple(members),
    )
    who = oncall(s, at)
    assert who in members
    around = shifts(s, at - timedelta(days=8), at + timedelta(days=8))
    covering = [x for x in around if x.start <= at < x.end]
    assert covering == [Shift(who, covering[0].start, covering[0].end)]


def test_a_handoff_inside_the_spring_forward_gap_happens_an_hour_later():
    s = Schedule("night", "Europe/Berlin", "daily", time(2, 30), 0, date(2026, 3, 1), ("ana", "bo"))
    before = oncall(s, local(BERLIN, 2026, 3, 29, 3, 29))  # 02:30 does not exist that night
    after = oncall(s, local(BERLIN, 2026, 3, 29, 3, 30))
    assert before != after
