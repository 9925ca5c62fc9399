"""The escalator Lambda handler gives the sweep the invocation's remaining time: delivery retries
never wait past the function's timeout, and what cannot be done in time stays due for the next
sweep (scheduled one minute later)."""

from __future__ import annotations

import importlib.util
import sys
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from uptime_relay import clock
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.escalation import initial_cursor
from uptime_relay.domain.incident import OpeningPlan, decide
from uptime_relay.escalator import Escalator
from uptime_relay.notifiers.base import Delivery, DeliveryError
from uptime_relay_tools.local.functions import LambdaContext

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CONFIG = parse_config(
    """
channels:
  pd-primary: {type: pagerduty, routing_key: "k"}
routes:
  - notify: [pd-primary]
    escalation: critical
escalation_policies:
  critical:
    steps:
      - {after: 10m, notify: [pd-primary]}
""",
    "handler-test.yaml",
)


class SimClock:
    """Time stands still except when someone sleeps (the dispatcher's retry waits)."""

    def __init__(self, at: datetime):
        self.at = at
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)


class PagerDuty:
    type = "pagerduty"
    groups_alerts = False

    def __init__(self, failures: deque):
        self.failures = failures
        self.sent: list[str] = []

    def build_payloads(self, channel, notification):
        return [{}]

    def send(self, channel, notification, secrets):
        if self.failures:
            raise self.failures.popleft()
        self.sent.append(notification.incident_id)
        return Delivery(channel.name, status=202)


@pytest.fixture
def app(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "uptime-relay-test")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "UptimeRelayTest")
    spec = importlib.util.spec_from_file_location(
        "uptime_relay_fn_escalator_handler_test", ROOT / "functions" / "escalator" / "app.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sim():
    sim = SimClock(T0 + timedelta(minutes=10))
    previous = clock.install(sim)
    yield sim
    clock.install(previous)


def world(app, monkeypatch, failures=()):
    store = InMemoryIncidentStore()
    alert = Alert(
        AlertSource.CLOUDWATCH, "alarm-api", "api down", AlertState.ALARM, "r", T0, {"check": "api"}
    )
    plan = OpeningPlan(
        name="api down", policy="critical", cursor=initial_cursor(CONFIG.escalation_policies["critical"], T0)
    )
    transition = decide(None, None, alert, plan=plan)
    assert store.commit(transition)
    pd = PagerDuty(deque(failures))
    dead = InMemoryDeadLetters()
    escalator = Escalator(CONFIG, store, Dispatcher(CONFIG, {"pagerduty": pd}, StaticSecrets(), dead))
    monkeypatch.setattr(app, "_deps", lambda: escalator)
    return store, transition.incident.id, pd, dead


def test_retries_do_not_wait_past_the_invocation_and_the_step_is_redelivered(app, sim, monkeypatch):
    throttled = [DeliveryError("429", permanent=False, status=429, retry_after=5) for _ in range(4)]
    store, iid, pd, dead = world(app, monkeypatch, throttled)
    app.lambda_handler({}, LambdaContext("escalator", timeout_s=12))
    assert sim.slept == []  # 12 s left: no time for a 5 s wait and what must follow it
    assert pd.sent == [] and dead.receive(max=10) == []
    (pending,) = store.pending_sends(iid)  # kept for automatic redelivery; the policy moved on
    assert pending.kind == "escalation" and pending.next_at == T0 + timedelta(minutes=11)
    assert store.get(iid).step != 0 or store.get(iid).due_at is None
    sim.at = pending.next_at  # the sweep that redelivers it
    app.lambda_handler({}, LambdaContext("escalator", timeout_s=55))
    assert pd.sent == [iid]


def test_with_plenty_of_time_left_retries_wait_within_the_invocation(app, sim, monkeypatch):
    throttled = [DeliveryError("429", permanent=False, status=429, retry_after=5)]
    store, iid, pd, _ = world(app, monkeypatch, throttled)
    app.lambda_handler({}, LambdaContext("escalator", timeout_s=55))
    assert sim.slept == [5] and pd.sent == [iid]
    assert store.get(iid).due_at is None  # policy done


def test_a_sweep_with_no_time_left_claims_nothing_and_leaves_the_step_due(app, sim, monkeypatch):
    store, iid, pd, _ = world(app, monkeypatch)
    result = app.lambda_handler({}, LambdaContext("escalator", timeout_s=4))
    assert pd.sent == [] and result["fired"] == []
    assert result["skipped"] == [{"incident": iid, "reason": "no time left in this invocation; next sweep"}]
    incident = store.get(iid)
    assert incident.due_at == T0 + timedelta(minutes=10) and incident.timeline[-1].kind == "opened"
