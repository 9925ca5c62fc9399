"""Response figures: time to acknowledge / resolve per incident and MTTA / MTTR per check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from uptime_relay.domain.incident import Incident, TimelineEntry
from uptime_relay_tools.report import format_duration, incident_figures, response_report

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def incident(id: str, check: str | None, opened_min: int, ack_min=None, resolve_min=None, **kw) -> Incident:
    opened = T0 + timedelta(minutes=opened_min)

    def at(m):
        return opened + timedelta(minutes=m) if m is not None else None

    return Incident(
        id=id,
        alarm_id=f"alarm-{id}",
        name=kw.pop("name", f"alarm {id}"),
        status="resolved" if resolve_min is not None else ("acknowledged" if ack_min is not None else "open"),
        opened_at=opened,
        last_state_time=opened,
        acknowledged_at=at(ack_min),
        resolved_at=at(resolve_min),
        check=check,
        **kw,
    )


def test_time_to_acknowledge_and_resolve_of_one_incident():
    figures = incident_figures(incident("a", "api", 0, ack_min=4, resolve_min=30))
    assert (figures.time_to_acknowledge_s, figures.time_to_resolve_s) == (240.0, 1800.0)


def test_times_come_from_the_timeline_when_the_fields_are_missing():
    opened = T0
    inc = incident(
        "b",
        "api",
        0,
        timeline=(
            TimelineEntry(opened, "opened"),
            TimelineEntry(opened + timedelta(minutes=7), "acknowledged", "by ana via slack"),
        ),
    )
    assert incident_figures(inc).time_to_acknowledge_s == 420.0
    assert incident_figures(inc).time_to_resolve_s is None


def test_mtta_and_mttr_per_check_over_a_period():
    incidents = [
        incident("1", "api", 0, ack_min=2, resolve_min=10),
        incident("2", "api", 60, ack_min=6, resolve_min=30),
        incident("3", "api", 120, resolve_min=5),  # resolved itself: counts for MTTR only
        incident("4", "web", 0),  # still open: counts for neither
        incident("5", None, 0, ack_min=1, resolve_min=1, name="billing-queue-depth"),
        incident("6", "api", 60 * 24 * 40, ack_min=1, resolve_min=1),  # outside the period
    ]
    rows = response_report(incidents, T0, T0 + timedelta(days=30))
    by_check = {r.check: r for r in rows}
    assert list(by_check) == ["api", "billing-queue-depth", "web"]
    api = by_check["api"]
    assert (api.incidents, api.acknowledged, api.resolved) == (3, 2, 3)
    assert api.mtta_s == 240.0  # (2m + 6m) / 2
    assert api.mttr_s == 900.0  # (10m + 30m + 5m) / 3
    assert api.median_ttr_s == 600.0
    web = by_check["web"]
    assert (web.incidents, web.mtta_s, web.mttr_s) == (1, None, None)


def test_durations_read_like_a_person_would_write_them():
    assert [format_duration(s) for s in (None, 45, 90, 3720)] == ["-", "45s", "1m30s", "1h02m"]
