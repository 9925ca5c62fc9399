"""`uptime-relay uptime`: uptime from the minutes probed, downtime, incidents, MTTR/MTBF and the SLA,
read at the resolution CloudWatch still keeps (fakes for CloudWatch and the incident table)."""

from __future__ import annotations

import io
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_actions_support import open_incident
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.availability import (
    RETENTION,
    Outage,
    Tally,
    finest_period,
    parse_windows,
    report,
    spans,
)
from uptime_relay.domain.silence import Silence
from uptime_relay_tools.cli import build_parser
from uptime_relay_tools.cli import uptime as cli
from uptime_relay_tools.testing.availability import FakeAvailability

NOW = datetime(2026, 12, 3, 12, 0, 30, tzinfo=UTC)
CONFIG = """
checks:
  - {name: api, url: "https://api.example.com/health", sla: 99.9, labels: {team: platform}}
  - {name: web, url: "https://www.example.com/"}
maintenance:
  - {name: nightly, match: {team: platform}, cron: "0 2 * * *", duration: 30m}
"""


def run(tmp_path, reader, store, *argv, silences=()):
    path = tmp_path / "uptime.yaml"
    path.write_text(CONFIG)
    args = build_parser().parse_args(["uptime", "--config", str(path), "--table", "t", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(args, reader=reader, store=store, silences=list(silences), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def clock(monkeypatch):
    from uptime_relay import clock as clockmod

    class Fixed:
        def now(self):
            return NOW

        def sleep(self, seconds):
            pass

    previous = clockmod.install(Fixed())
    yield
    clockmod.install(previous)


def lines(text):
    return [json.loads(line) for line in text.splitlines()]


def test_uptime_counts_probed_minutes_so_a_45_minute_outage_in_a_day_is_its_share_to_the_minute(
    tmp_path, clock
):
    """GIVEN api probed every minute of the last 24 h, failing 45 of them, and one incident that
    took 45 minutes to resolve
    WHEN `uptime --window 24h --json` runs
    THEN uptime is (1440 - 45) / 1440, downtime 45 minutes, MTTR 45 min and the 99.9% SLA missed
    with the budget overspent by 45 - 1.44 minutes."""
    reader = FakeAvailability()
    day_start = NOW.replace(second=0) - timedelta(hours=24)
    reader.record_minutes("api", day_start, 1440, ok=True)
    outage = day_start + timedelta(hours=5)
    reader.record_minutes("api", outage, 45, ok=False)
    store = InMemoryIncidentStore()
    incident = open_incident(store, "api", at=outage)
    assert store.resolve(incident.id, by="alarm", via="cloudwatch", at=outage + timedelta(minutes=45))

    code, out, _ = run(tmp_path, reader, store, "--window", "24h", "--json", "--check", "api")

    assert code == 0
    (line,) = lines(out)
    assert line["minutes_probed"] == 1440
    assert line["downtime_minutes"] == 45
    assert line["uptime_pct"] == round(100 * 1395 / 1440, 4)
    assert line["incidents"] == 1
    assert line["mttr_s"] == 45 * 60
    assert line["mtbf_s"] == 1395 * 60
    assert line["sla"] == 99.9 and line["sla_met"] is False
    assert line["error_budget_minutes"] == round(1440 * 0.001 - 45, 1)
    assert list(line)[:11] == [
        "check",
        "window",
        "uptime_pct",
        "minutes_probed",
        "downtime_minutes",
        "incidents",
        "mttr_s",
        "mtbf_s",
        "sla",
        "sla_met",
        "error_budget_minutes",
    ]


def test_minutes_never_probed_are_a_gap_not_uptime_and_a_check_never_probed_has_no_uptime(tmp_path, clock):
    """GIVEN api probed (all ok) for only 10 of the last 24 hours' minutes, web never
    WHEN uptime runs THEN api is 100% of 10 probed minutes with a 1430-minute gap, web has no figure."""
    reader = FakeAvailability()
    reader.record_minutes("api", NOW.replace(second=0) - timedelta(minutes=10), 10, ok=True)
    code, out, _ = run(tmp_path, reader, InMemoryIncidentStore(), "--window", "24h", "--json")
    assert code == 0
    api, web = lines(out)
    assert (api["uptime_pct"], api["minutes_probed"], api["gap_minutes"]) == (100.0, 10, 1430)
    assert web["uptime_pct"] is None and web["minutes_probed"] == 0 and web["sla_met"] is None


def test_maintenance_minutes_are_reported_apart_and_left_out_with_exclude_maintenance(tmp_path, clock):
    """GIVEN api down for the 30 minutes of its nightly maintenance window (02:00 UTC) and for
    5 minutes under a silence, up otherwise
    WHEN uptime runs without and with --exclude-maintenance
    THEN both report the 35 quiet minutes; only the second leaves them out of uptime and the SLA."""
    reader = FakeAvailability()
    start = NOW.replace(second=0) - timedelta(hours=24)
    reader.record_minutes("api", start, 1440, ok=True)
    nightly = NOW.replace(hour=2, minute=0, second=0)
    reader.record_minutes("api", nightly, 30, ok=False)
    silenced = NOW.replace(hour=8, minute=0, second=0)
    reader.record_minutes("api", silenced, 5, ok=False)
    silence = Silence("s1", {"check": "api"}, silenced, silenced + timedelta(minutes=5))

    _, counted, _ = run(
        tmp_path,
        reader,
        InMemoryIncidentStore(),
        "--window",
        "24h",
        "--json",
        "--check",
        "api",
        silences=[silence],
    )
    _, excluded, _ = run(
        tmp_path,
        reader,
        InMemoryIncidentStore(),
        "--window",
        "24h",
        "--json",
        "--check",
        "api",
        "--exclude-maintenance",
        silences=[silence],
    )
    (counted,), (excluded,) = lines(counted), lines(excluded)
    assert counted["downtime_minutes"] == 35 and counted["maintenance_minutes"] == 35
    assert counted["sla_met"] is False
    assert excluded["downtime_minutes"] == 0 and excluded["maintenance_downtime_minutes"] == 35
    assert excluded["minutes_probed"] == 1440 - 35 and excluded["uptime_pct"] == 100.0
    assert excluded["sla_met"] is True and excluded["gap_minutes"] == 0


def test_a_90_day_window_reads_old_days_at_the_period_cloudwatch_still_keeps(tmp_path, clock):
    """GIVEN 90 days of minutes, 60 of them failing 50 days ago (only 5-minute data is left there)
    and 60 failing 80 days ago (only hourly data)
    WHEN uptime runs for 90d against a fake that refuses periods CloudWatch no longer has
    THEN every read succeeds and the 120 failed minutes are all counted."""
    reader = FakeAvailability(now=NOW)
    start = NOW.replace(minute=0, second=0) - timedelta(days=90)
    reader.record_minutes("api", start, 90 * 1440, ok=True)
    reader.record_minutes("api", NOW.replace(minute=0, second=0) - timedelta(days=50), 60, ok=False)
    reader.record_minutes("api", NOW.replace(minute=0, second=0) - timedelta(days=80), 60, ok=False)
    code, out, err = run(
        tmp_path, reader, InMemoryIncidentStore(), "--window", "90d", "--json", "--check", "api"
    )
    assert code == 0, err
    (line,) = lines(out)
    assert line["downtime_minutes"] == 120
    assert line["minutes_probed"] == 90 * 1440


def test_the_table_names_each_window_and_says_whether_the_sla_was_met(tmp_path, clock):
    reader = FakeAvailability()
    reader.record_minutes("api", NOW.replace(second=0) - timedelta(hours=1), 60, ok=True)
    code, out, _ = run(tmp_path, reader, InMemoryIncidentStore(), "--window", "24h,7d", "--check", "api")
    assert code == 0
    header, first, second = out.splitlines()
    assert header.split()[:3] == ["check", "window", "uptime"]
    assert "api" in first and "24h" in first and "100.000%" in first and "99.9% met" in first
    assert "7d" in second


def test_an_unknown_window_or_check_is_a_usage_error(tmp_path, clock):
    code, _, err = run(tmp_path, FakeAvailability(), InMemoryIncidentStore(), "--window", "1y")
    assert code == 2 and "unknown window 1y" in err and "24h, 7d, 30d, 90d" in err
    code, _, err = run(tmp_path, FakeAvailability(), InMemoryIncidentStore(), "--check", "nope")
    assert code == 2 and "unknown check nope" in err


def test_the_sla_key_is_a_percentage_above_0_and_at_most_100():
    from uptime_relay.config import ConfigError

    assert (
        parse_config('checks: [{name: a, url: "https://a.example/", sla: "99.95%"}]').checks[0].sla == 99.95
    )
    with pytest.raises(ConfigError, match=r"checks\[0\].sla: must be above 0 and at most 100"):
        parse_config('checks: [{name: a, url: "https://a.example/", sla: 100.5}]')
    with pytest.raises(ConfigError, match=r"checks\[0\].sla: expected a percentage"):
        parse_config('checks: [{name: a, url: "https://a.example/", sla: high}]')


# --------------------------------------------------------------------------------------- pure parts
def test_the_error_budget_is_what_the_sla_allows_of_the_probed_minutes_less_the_downtime():
    at = datetime(2026, 1, 1, tzinfo=UTC)
    one = report(
        "api",
        "30d",
        at,
        at,
        Tally(probed=43200, up=43190),
        [Outage(at, at + timedelta(minutes=10))],
        sla=99.9,
    )
    assert one.error_budget_minutes == pytest.approx(43.2 - 10)
    assert one.sla_met is True
    assert one.mttr_s == 600 and one.mtbf_s == 43190 * 60


def test_windows_parse_from_a_comma_separated_list():
    assert parse_windows("24h, 90d") == ["24h", "90d"]
    with pytest.raises(ValueError):
        parse_windows("")


@settings(max_examples=150, deadline=None)
@given(
    start_min=st.integers(min_value=0, max_value=455 * 1440),
    length_min=st.integers(min_value=1, max_value=120 * 1440),
    seconds=st.integers(min_value=0, max_value=59),
    cut_min=st.lists(st.integers(min_value=0, max_value=455 * 1440), max_size=3),
)
def test_spans_tile_the_range_at_periods_cloudwatch_still_keeps(start_min, length_min, seconds, cut_min):
    """Any range: the spans follow one another without gap or overlap, each starts on a multiple
    of its period, and no span asks for a period finer than CloudWatch keeps at its age."""
    now = datetime(2026, 12, 3, 12, 0, seconds, tzinfo=UTC)
    start = now - timedelta(minutes=start_min)
    end = min(now, start + timedelta(minutes=length_min))
    parts = spans(start, end, now, [now - timedelta(minutes=c) for c in cut_min])
    for a, b in itertools.pairwise(parts):
        assert a.end == b.start
    for part in parts:
        assert part.start < part.end
        assert int(part.start.timestamp()) % part.period == 0
        finest = finest_period(now - part.start)
        assert finest is not None and part.period >= finest and part.period % finest == 0
    if parts:
        assert parts[-1].end == end.replace(second=0)
        oldest_kept = now - RETENTION[-1][0]
        assert parts[0].start <= max(start, oldest_kept) or parts[0].start - max(
            start, oldest_kept
        ) < timedelta(hours=1)


def test_at_ends_the_windows_at_a_given_time_such_as_the_local_stacks_simulated_one(tmp_path, clock):
    """GIVEN 30 minutes probed an hour after the CLI's now (a simulated clock running ahead)
    WHEN uptime runs with --at two hours ahead THEN it counts them; without --at it does not."""
    reader = FakeAvailability()
    reader.record_minutes("api", NOW.replace(second=0) + timedelta(hours=1), 30, ok=True)
    later = (NOW + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
    _, ahead, _ = run(
        tmp_path,
        reader,
        InMemoryIncidentStore(),
        "--window",
        "24h",
        "--json",
        "--check",
        "api",
        "--at",
        later,
    )
    _, now, _ = run(tmp_path, reader, InMemoryIncidentStore(), "--window", "24h", "--json", "--check", "api")
    assert lines(ahead)[0]["minutes_probed"] == 30
    assert lines(now)[0]["minutes_probed"] == 0
