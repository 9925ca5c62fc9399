"""Shared helpers for the actions / incidents CLI tests (no tests here): clocks and seeded incidents."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta

from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.incident import Action, OpeningPlan, Transition
from uptime_relay.domain.incident import open_incident as _open

SIM_START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class FixedClock:
    def __init__(self, at: datetime):
        self.at = at

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def make_store() -> InMemoryIncidentStore:
    return InMemoryIncidentStore()


def make_alert(alarm: str = "api", *, at: datetime = SIM_START, name: str | None = None) -> Alert:
    return Alert(
        source=AlertSource.CLOUDWATCH,
        id=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-{alarm}",
        name=name or f"uptime-{alarm}",
        state=AlertState.ALARM,
        reason="Threshold Crossed: 2 out of the last 3 datapoints were less than the threshold (1.0)",
        time=at,
        labels={"check": alarm, "severity": "critical"},
    )


def open_incident(
    store,
    alarm: str = "api",
    *,
    name: str | None = None,
    at: datetime = SIM_START,
    pd_key=None,
    labels: dict[str, str] | None = None,
):
    """Seed one open incident with a pending escalation step (due in 10 minutes); ``labels`` are
    added to the alert's."""

    class Cursor:
        step, round, due_at = 1, 0, at + timedelta(minutes=10)

    alert = make_alert(alarm, at=at, name=name)
    if labels:
        alert = replace(alert, labels={**alert.labels, **labels})
    incident = _open(
        alert,
        OpeningPlan(
            name=name or f"uptime-{alarm}",
            labels=alert.labels,
            check=alarm,
            route_channels=("pd-primary", "slack-critical"),
            policy="critical",
            cursor=Cursor(),
        ),
    )
    assert store.commit(Transition(Action.OPENED, alert, "seeded by test", incident=incident))
    if pd_key:
        assert store.set_handles(incident.id, "pd-primary", {"dedup_key": pd_key})
    return store.get(incident.id)


def snapshot(store, incident_id: str) -> dict:
    """Everything about the incident, to assert that a refused request changed nothing."""
    incident = store.get(incident_id)
    return asdict(incident) if incident is not None else {}
