"""The escalator against DynamoDB in a moto server: a step fires once however sweeps overlap, and the
real Lambda handler escalates a due incident to a Slack webhook (a local receiver).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from uptime_relay import clock
from uptime_relay.adapters.incidents import DynamoIncidentStore, create_table
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.escalation import initial_cursor
from uptime_relay.domain.incident import OpeningPlan, decide
from uptime_relay.escalator import sweep
from uptime_relay.notifiers.base import Delivery
from uptime_relay_tools.local.functions import LambdaContext
from uptime_relay_tools.testing.receivers import HttpReceiver

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
POLICY_YAML = """
escalation_policies:
  critical:
    steps:
      - {after: 0m, notify: [slack-critical]}
      - {after: 10m, notify: [slack-critical]}
"""


def config_text(webhook: str) -> str:
    return f"""
channels:
  slack-critical: {{type: slack, webhook_url: "{webhook}"}}
routes:
  - notify: [slack-critical]
    escalation: critical
{POLICY_YAML}"""


@pytest.fixture
def table(aws):
    name = f"escalator-{uuid.uuid4().hex[:8]}"
    create_table(aws("dynamodb"), name)
    return name


def seed(store, config, alarm: str = "alarm-api") -> str:
    alert = Alert(
        AlertSource.CLOUDWATCH, alarm, "api down", AlertState.ALARM, "3 of 3 failed", T0, {"check": "api"}
    )
    plan = OpeningPlan(
        name="api down",
        labels={"check": "api"},
        route_channels=("slack-critical",),
        policy="critical",
        cursor=initial_cursor(config.escalation_policies["critical"], T0),
    )
    transition = decide(None, None, alert, plan=plan)
    assert store.commit(transition)
    return transition.incident.id


class Recorder:
    type = "slack"
    groups_alerts = True

    def __init__(self):
        self.sent = []
        self.lock = threading.Lock()

    def build_payloads(self, channel, notification):
        return [{}]

    def send(self, channel, notification, secrets):
        with self.lock:
            self.sent.append(notification.incident_id)
        return Delivery(channel.name)


def test_overlapping_sweeps_against_dynamodb_fire_each_step_once(aws, table):
    config = parse_config(config_text("https://hooks.example.test/x"), "t.yaml")
    store = DynamoIncidentStore(table, client=aws("dynamodb"))
    ids = [seed(store, config, alarm=f"alarm-{n}") for n in range(3)]
    recorder = Recorder()
    dispatcher = Dispatcher(
        config, {"slack": recorder}, StaticSecrets(), InMemoryDeadLetters(), sleep=lambda s: None
    )
    now = T0 + timedelta(minutes=10)

    # interleaved: both sweeps read the due index before either claims
    snapshot = store.due(now)
    assert sorted(i.id for i in snapshot) == sorted(ids)

    class Snapshot:
        def __getattr__(self, name):
            return getattr(store, name)

        def due(self, _now):
            return snapshot

    sweep(config, Snapshot(), dispatcher, now)
    second = sweep(config, Snapshot(), dispatcher, now)
    assert second.fired == [] and len(second.skipped) == 3

    # concurrent: four more sweeps racing at the same minute find nothing left to fire
    threads = [threading.Thread(target=sweep, args=(config, store, dispatcher, now)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(recorder.sent) == sorted(ids)
    for iid in ids:
        incident = store.get(iid)
        assert incident.due_at is None and incident.step == 2  # policy done
        assert any(e.kind == "notified" and e.channel == "slack-critical" for e in incident.timeline)


class FixedClock:
    def __init__(self, at: datetime):
        self.at = at

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def load_app():
    path = ROOT / "functions" / "escalator" / "app.py"
    spec = importlib.util.spec_from_file_location("uptime_relay_fn_escalator_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_lambda_handler_escalates_a_due_incident_once(aws, table, tmp_path, monkeypatch, capsys):
    queue_url = aws("sqs").create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    with HttpReceiver() as slack:
        config_file = tmp_path / "uptime.yaml"
        config_file.write_text(config_text(slack.url + "/hook"))
        monkeypatch.setenv("UPTIME_CONFIG", str(config_file))
        monkeypatch.setenv("TABLE_NAME", table)
        monkeypatch.setenv("DLQ_URL", queue_url)
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "uptime-relay-test")
        monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "UptimeRelayTest")
        store = DynamoIncidentStore(table, client=aws("dynamodb"))
        iid = seed(store, parse_config(config_file.read_text(), str(config_file)))
        app = load_app()
        app._deps.cache_clear()
        previous = clock.install(FixedClock(T0 + timedelta(minutes=10)))
        try:
            first = app.lambda_handler({}, LambdaContext("escalator"))
            again = app.lambda_handler({}, LambdaContext("escalator"))
        finally:
            clock.install(previous)
        assert [f["incident_id"] for f in first["fired"]] == [iid]
        assert again["fired"] == []
        hooks = slack.to("/hook")
        assert len(hooks) == 1
        assert "Escalated" in hooks[0].text
        assert store.get(iid).due_at is None
        assert '"EscalationsFired"' in capsys.readouterr().out  # EMF metric


def test_a_first_page_whose_relay_died_is_found_in_the_due_index_and_sent_once(aws, table):
    """The relay saves the incident (first page pending, due_at = lease end) and dies; the alarm is
    never delivered again. Racing sweeps against DynamoDB send the first page once, then the
    escalation cursor is back in the due index at the policy's own time."""
    from uptime_relay.relay import Relay

    config = parse_config(config_text("https://hooks.example.test/x"), "t.yaml")
    store = DynamoIncidentStore(table, client=aws("dynamodb"))
    recorder = Recorder()
    dispatcher = Dispatcher(
        config, {"slack": recorder}, StaticSecrets(), InMemoryDeadLetters(), sleep=lambda s: None
    )
    relay = Relay(config, store, dispatcher)

    def crash(*args):
        raise SystemExit("function died after saving the incident")

    relay._deliver = crash
    alert = Alert(AlertSource.CLOUDWATCH, "alarm-x", "api down", AlertState.ALARM, "r", T0, {"check": "api"})
    with pytest.raises(SystemExit):
        relay.handle([alert], now=T0)
    (saved,) = store.list()
    assert saved.pending == ("slack-critical",) and saved.cursor_held
    assert [i.id for i in store.due(T0 + timedelta(seconds=61))] == [saved.id]
    assert store.due(T0 + timedelta(seconds=30)) == []  # the opener's lease still runs

    now = T0 + timedelta(seconds=61)
    threads = [threading.Thread(target=sweep, args=(config, store, dispatcher, now)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert recorder.sent == [saved.id]
    after = store.get(saved.id)
    assert after.pending == () and not after.cursor_held
    cursor_due = initial_cursor(config.escalation_policies["critical"], T0).due_at
    assert after.due_at == cursor_due
    assert [i.id for i in store.due(cursor_due)] == [saved.id]
    assert store.due(cursor_due - timedelta(seconds=1)) == []


def test_without_a_policy_the_first_page_taken_over_leaves_nothing_due(aws, table):
    from uptime_relay.relay import Relay

    config = parse_config(
        'channels:\n  slack-critical: {type: slack, webhook_url: "https://hooks.example.test/x"}\n'
        "routes:\n  - notify: [slack-critical]\n",
        "t.yaml",
    )
    store = DynamoIncidentStore(table, client=aws("dynamodb"))
    recorder = Recorder()
    dispatcher = Dispatcher(
        config, {"slack": recorder}, StaticSecrets(), InMemoryDeadLetters(), sleep=lambda s: None
    )
    relay = Relay(config, store, dispatcher)
    relay._deliver = lambda *a: (_ for _ in ()).throw(SystemExit("died"))
    alert = Alert(AlertSource.CLOUDWATCH, "alarm-y", "api down", AlertState.ALARM, "r", T0, {"check": "api"})
    with pytest.raises(SystemExit):
        relay.handle([alert], now=T0)
    (saved,) = store.list()
    assert saved.cursor_held and saved.held_due_at is None
    sweep(config, store, dispatcher, T0 + timedelta(minutes=2))
    sweep(config, store, dispatcher, T0 + timedelta(minutes=3))
    assert recorder.sent == [saved.id]
    after = store.get(saved.id)
    assert after.due_at is None and not after.cursor_held and store.due(T0 + timedelta(days=1)) == []


class Killed(BaseException):
    """The Lambda being killed mid-sweep."""


class DyingRecorder(Recorder):
    def __init__(self, deaths: int):
        super().__init__()
        self.deaths = deaths

    def send(self, channel, notification, secrets):
        if self.deaths > 0:
            self.deaths -= 1
            raise Killed("killed while sending")
        return super().send(channel, notification, secrets)


def test_a_step_whose_sweep_was_killed_is_sent_once_after_the_lease_against_dynamodb(aws, table):
    config = parse_config(config_text("https://hooks.example.test/x"), "t.yaml")
    store = DynamoIncidentStore(table, client=aws("dynamodb"))
    iid = seed(store, config)
    recorder = DyingRecorder(deaths=1)
    dispatcher = Dispatcher(
        config, {"slack": recorder}, StaticSecrets(), InMemoryDeadLetters(), sleep=lambda s: None
    )
    with pytest.raises(Killed):
        sweep(config, store, dispatcher, T0 + timedelta(minutes=10))
    assert recorder.sent == []
    assert store.get(iid).step == 1  # still the pending step: claimed, not skipped
    assert store.due(T0 + timedelta(minutes=11)) == []  # under its lease
    lease_end = T0 + timedelta(minutes=12)
    assert [i.id for i in store.due(lease_end)] == [iid]

    # two sweeps that both read the due index after the lease ran out, then more racing
    snapshot = store.due(lease_end)

    class Snapshot:
        def __getattr__(self, name):
            return getattr(store, name)

        def due(self, _now):
            return snapshot

    sweep(config, Snapshot(), dispatcher, lease_end)
    late = sweep(config, Snapshot(), dispatcher, lease_end)
    threads = [threading.Thread(target=sweep, args=(config, store, dispatcher, lease_end)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert recorder.sent == [iid]
    assert late.fired == []
    incident = store.get(iid)
    assert incident.due_at is None and incident.step == 2
    assert [e.kind for e in incident.timeline].count("escalation_attempt") == 2


def test_an_outage_opened_in_a_maintenance_window_pages_once_after_it_against_dynamodb(aws, table):
    """The relay opens the incident at 02:05 inside the 02:00-04:00 window (nobody paged); sweeps
    re-check it every minute; racing sweeps at 04:00 send the held first page once, and the
    policy's next step comes 10 minutes after that page."""
    from uptime_relay.relay import Relay

    text = config_text("https://hooks.example.test/x") + (
        "maintenance:\n  - {name: nightly, match: {check: api}, cron: '0 2 * * *', duration: 2h}\n"
    )
    config = parse_config(text, "t.yaml")
    store = DynamoIncidentStore(table, client=aws("dynamodb"))
    recorder = Recorder()
    dispatcher = Dispatcher(
        config, {"slack": recorder}, StaticSecrets(), InMemoryDeadLetters(), sleep=lambda s: None
    )
    night = datetime(2026, 11, 25, 2, 5, tzinfo=UTC)
    alert = Alert(
        AlertSource.CLOUDWATCH, "alarm-n", "api down", AlertState.ALARM, "r", night, {"check": "api"}
    )
    Relay(config, store, dispatcher).handle([alert], now=night)
    (saved,) = store.list()
    assert saved.silenced and recorder.sent == []
    for minute in range(1, 115, 7):  # sweeps inside the window only move the re-check
        sweep(config, store, dispatcher, night + timedelta(minutes=minute))
    assert recorder.sent == []

    end = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    threads = [threading.Thread(target=sweep, args=(config, store, dispatcher, end)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert recorder.sent == [saved.id]
    after = store.get(saved.id)
    assert not after.silenced and not after.cursor_held and after.pending == ()
    assert after.due_at == end + timedelta(minutes=10)
    sweep(config, store, dispatcher, end + timedelta(minutes=10))
    assert recorder.sent == [saved.id, saved.id]
