"""The relay end to end with fakes: pages once, resolves where it paged, warns, silences, groups."""

from __future__ import annotations

import json
from dataclasses import replace
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
from uptime_relay.domain.targets import Resolved
from uptime_relay.notifiers.base import DeliveryError, NotificationKind
from uptime_relay.relay import Relay, RelayError
from uptime_relay_tools.testing.fake_notifiers import fake_notifiers
from uptime_relay_tools.testing.relay_kit import alarm_message, alertmanager_body, sns_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
CONFIG = parse_config(
    """
checks:
  - name: api
    url: https://api.example.com/health
    labels: {severity: critical, team: platform}
  - name: website
    url: https://www.example.com/
    labels: {severity: warning}
channels:
  slack-critical: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd-primary: {type: pagerduty, routing_key: env:PD_KEY}
  oncall-email: {type: email, to: [oncall@example.com], from: alerts@example.com}
routes:
  - match: {severity: critical}
    notify: [pd-primary, slack-critical]
    escalation: critical
  - match: {severity: warning}
    notify: [oncall-email]
    insufficient_data: ignore
  - match: {severity: page-me}
    notify: [pd-primary, slack-critical]
    insufficient_data: page
escalation_policies:
  critical:
    steps:
      - {after: 0m, notify: [slack-critical]}
      - {after: 10m, notify: [oncall-email]}
maintenance:
  - name: nightly
    match: {team: batch}
    cron: "0 2 * * *"
    duration: 1h
"""
)


class World:
    def __init__(self, config=CONFIG, **relay_kw):
        self.store = InMemoryIncidentStore()
        self.dlq = InMemoryDeadLetters()
        self.notifiers = fake_notifiers()
        self.sleeps: list[float] = []
        self.dispatcher = Dispatcher(
            config, self.notifiers, StaticSecrets({"env:PD_KEY": "k"}), self.dlq, sleep=self.sleeps.append
        )
        self.relay = Relay(config, self.store, self.dispatcher, **relay_kw)

    @property
    def pd(self):
        return self.notifiers["pagerduty"]

    @property
    def slack(self):
        return self.notifiers["slack"]

    @property
    def email(self):
        return self.notifiers["email"]

    def sns(self, *messages, message_id=None):
        return self.relay.process_sns_event(sns_event(*messages, message_id=message_id))

    def sent(self):
        return [(ch, n.kind) for notifier in self.notifiers.values() for ch, n in notifier.sent]


@pytest.fixture
def world():
    return World()


def api(state, at, **kw):
    return alarm_message("uptime-api-availability", state, at, check="api", **kw)


class FixedClock:
    """A clock standing still at one instant (sleeps pass no time)."""

    def __init__(self, at: datetime):
        self.at = at

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        return None


@pytest.fixture
def world_at_t0():
    """A world whose clock reads T0: the alarm arrives the instant it fired."""
    previous = clock.install(FixedClock(T0))
    try:
        yield World()
    finally:
        clock.install(previous)


def test_an_alarm_pages_the_route_and_step_zero_once(world_at_t0):
    world = world_at_t0
    world.sns(api("ALARM", T0))
    assert sorted(world.sent()) == [
        ("pd-primary", NotificationKind.TRIGGER),
        ("slack-critical", NotificationKind.TRIGGER),
    ]
    [incident] = world.store.list()
    assert incident.route_channels == ("pd-primary", "slack-critical")
    assert (
        incident.policy == "critical"
        and incident.step == 1
        and incident.due_at == T0 + timedelta(minutes=10)
        and incident.escalation_anchor == T0
    )
    assert incident.handles["slack-critical"]["ts"] and incident.handles["pd-primary"]["dedup_key"]
    assert [e.kind for e in incident.timeline] == ["opened", "notified", "notified"]
    assert world.slack.sent[0][1].check == CONFIG.check("api")


def test_it_pages_once_for_a_duplicate_delivery(world):
    world.sns(api("ALARM", T0), message_id="m-1")
    world.sns(api("ALARM", T0), message_id="m-1")
    world.sns(api("ALARM", T0), message_id="m-2")  # e.g. EventBridge and SNS both deliver it
    world.sns(api("ALARM", T0 + timedelta(minutes=3)))  # still in alarm after INSUFFICIENT_DATA
    assert len(world.pd.sent) == 1 and len(world.slack.sent) == 1


def test_ok_resolves_on_every_channel_that_was_paged_with_its_handles(world):
    world.sns(api("ALARM", T0))
    handles = world.store.list()[0].handles
    result = world.sns(api("OK", T0 + timedelta(minutes=9)))
    assert result["results"][0]["action"] == "resolved"
    resolves = [(ch, n) for ch, n in world.pd.sent + world.slack.sent if n.kind is NotificationKind.RESOLVE]
    assert sorted(ch for ch, _ in resolves) == ["pd-primary", "slack-critical"]
    for ch, n in resolves:
        assert n.handles == handles[ch]
    assert world.store.list() == [] and world.store.list(statuses=("resolved",))[0].due_at is None


def test_an_ok_before_its_alarm_leaves_nothing_open_and_pages_nobody(world):
    world.sns(api("OK", T0 + timedelta(minutes=2)))
    world.sns(api("ALARM", T0))
    assert world.sent() == [] and world.store.list() == []


def test_an_ok_older_than_the_open_alarm_is_ignored(world):
    world.sns(api("ALARM", T0))
    world.sns(api("OK", T0 - timedelta(minutes=1)))
    [incident] = world.store.list()
    assert incident.timeline[-1].kind == "ignored"
    assert NotificationKind.RESOLVE not in [k for _, k in world.sent()]


def test_insufficient_data_warns_slack_and_email_but_never_pagerduty(world):
    world.sns(api("ALARM", T0))
    world.sns(api("INSUFFICIENT_DATA", T0 + timedelta(minutes=1)))
    world.sns(api("INSUFFICIENT_DATA", T0 + timedelta(minutes=1)))
    warnings = [(ch, k) for ch, k in world.sent() if k is NotificationKind.WARNING]
    assert warnings == [("slack-critical", NotificationKind.WARNING)]
    assert world.store.list()[0].timeline[-2].kind == "insufficient_data"


def test_insufficient_data_can_be_ignored_or_page(world):
    world.sns(alarm_message("uptime-website", "INSUFFICIENT_DATA", T0, check="website"))
    assert world.sent() == []
    msg = alarm_message("batch-thing", "INSUFFICIENT_DATA", T0, dimensions={"severity": "page-me"})
    result = world.sns(msg)
    assert result["results"][0]["action"] == "opened"
    assert sorted(world.sent()) == [
        ("pd-primary", NotificationKind.TRIGGER),
        ("slack-critical", NotificationKind.TRIGGER),
    ]


def test_a_silenced_alarm_is_recorded_and_pages_nobody():
    world = World(
        silenced=lambda labels, at: "silence by alice until 11:00" if labels.get("check") == "api" else None
    )
    result = world.sns(api("ALARM", T0))
    assert result["results"][0]["silenced"] == "silence by alice until 11:00"
    assert world.sent() == []
    [incident] = world.store.list()
    # the first page is held, not dropped: the escalation sweep re-checks the silence at due_at
    assert incident.silenced and incident.cursor_held and incident.pending
    assert incident.due_at == incident.pending_until and incident.due_at is not None
    assert [e.kind for e in incident.timeline] == ["opened", "silenced"]
    assert incident.timeline[1].detail.startswith("silence by alice until 11:00")
    world.sns(api("OK", T0 + timedelta(minutes=5)))
    assert world.sent() == [] and world.store.list() == []


def test_maintenance_windows_from_the_config_silence(world):
    at = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)
    world.sns(alarm_message("batch-late", "ALARM", at, dimensions={"team": "batch", "severity": "critical"}))
    assert world.sent() == [] and world.store.list()[0].silenced


def test_an_unrouted_alarm_is_recorded_and_nobody_is_notified(world, caplog):
    result = world.sns(alarm_message("some-other-alarm", "ALARM", T0))
    assert result["results"][0]["action"] == "opened" and world.sent() == []
    assert world.store.list()[0].timeline[-1].kind == "unrouted"
    assert "no route matched" in caplog.text


def test_a_failed_delivery_is_dead_lettered_and_noted_while_others_go_out(world):
    world.pd.fail_next(DeliveryError("HTTP 400", permanent=True, status=400))
    result = world.sns(api("ALARM", T0))
    deliveries = {d["channel"]: d for d in result["results"][0]["deliveries"]}
    assert deliveries["pd-primary"]["dead_lettered"] and deliveries["slack-critical"]["ok"]
    kinds = [(e.kind, e.channel) for e in world.store.list()[0].timeline]
    assert ("delivery_failed", "pd-primary") in kinds and ("dead_lettered", "pd-primary") in kinds
    assert world.dlq.records[0]["channel"] == "pd-primary"


def test_a_429_then_success_delivers_once(world):
    world.slack.fail_next(DeliveryError("HTTP 429", permanent=False, retry_after=1.5, status=429))
    world.sns(api("ALARM", T0))
    assert len(world.slack.sent) == 1 and world.sleeps == [1.5] and len(world.dlq) == 0


def test_alertmanager_alerts_of_one_body_share_one_slack_message_but_page_per_alert(world):
    body = alertmanager_body(
        [
            {
                "labels": {"alertname": "HighErrorRate", "severity": "critical", "instance": f"api-{i}"},
                "fingerprint": f"fp{i}",
                "startsAt": "2026-11-20T10:10:00Z",
            }
            for i in range(3)
        ]
    )
    world.relay.process_sns_event(body)
    assert len(world.pd.sent) == 3
    [(_, message)] = world.slack.sent
    assert len(message.alerts) == 3 and message.kind is NotificationKind.TRIGGER
    incidents = world.store.list()
    assert len(incidents) == 3 and all("slack-critical" in i.handles for i in incidents)


def test_the_sample_events_relay(world):
    for name in (
        "sns-alarm-metric.json",
        "eventbridge-alarm-state-change.json",
        "sns-alarm-metric-math.json",
    ):
        world.relay.process_sns_event(json.loads((EVENTS / name).read_text()))
    world.relay.process_sns_event(json.loads((EVENTS / "sns-ok-metric.json").read_text()))
    api_incidents = [i for i in world.store.list(statuses=("open", "resolved")) if i.check == "api"]
    assert [i.status for i in api_incidents] == ["resolved"]
    assert world.pd.kinds("pd-primary") == [NotificationKind.TRIGGER, NotificationKind.RESOLVE]


def test_an_ack_link_goes_into_the_trigger():
    world = World(ack_url_for=lambda incident, **_: f"https://actions.example/ack/{incident.id}")
    world.sns(api("ALARM", T0))
    assert world.slack.sent[0][1].ack_url.endswith(world.store.list()[0].id)


def test_one_record_failing_does_not_lose_the_others():
    world = World()
    real_apply = world.store.apply

    def flaky(alert, decide, **kw):
        if "broken" in alert.name:
            raise ConnectionError("dynamodb unavailable")
        return real_apply(alert, decide, **kw)

    world.store.apply = flaky
    event = sns_event(alarm_message("broken-alarm", "ALARM", T0), api("ALARM", T0))
    with pytest.raises(RelayError, match="1 of 2 records could not be recorded"):
        world.relay.process_sns_event(event)
    assert len(world.pd.sent) == 1


def test_escalation_targets_are_resolved_to_channels_and_mentions():
    def resolve(config, targets, at):
        targets = list(targets)
        return Resolved(
            tuple(t for t in targets if ":" not in t), ("U123",) if "oncall:primary" in targets else ()
        )

    world = World(
        targets_at_open=lambda route, policy: (*route.notify, "oncall:primary"), resolve_targets=resolve
    )
    world.sns(api("ALARM", T0))
    assert world.slack.sent[0][1].mentions == ("U123",)


def test_a_relayed_alert_uses_alert_time_not_delivery_time(world):
    alert = Alert(
        AlertSource.CLOUDWATCH, "a1", "x", AlertState.ALARM, "r", T0, labels={"severity": "critical"}
    )
    world.relay.handle([alert], now=T0 + timedelta(hours=5))
    assert world.store.list()[0].opened_at == T0
    world.relay.handle([replace(alert, state=AlertState.OK, time=T0 + timedelta(minutes=1))], now=T0)
    assert world.store.list() == []


def test_an_active_silence_from_the_store_silences_and_is_read_once_per_batch():
    from uptime_relay.domain.silence import Silence
    from uptime_relay.relay import silencer

    reads = []
    silence = Silence(
        id="s1",
        match={"check": "api"},
        starts_at=T0 - timedelta(hours=1),
        ends_at=T0 + timedelta(hours=1),
        created_by="alice",
        comment="deploy",
    )

    def active(at):
        reads.append(at)
        return [silence] if silence.active(at) else []

    world = World(silenced=silencer(CONFIG, active))
    world.sns(api("ALARM", T0), alarm_message("uptime-website", "ALARM", T0, check="website"))
    assert [ch for ch, _ in world.sent()] == ["oncall-email"]
    assert reads == [T0, T0]  # one read per record (each record is its own batch)
    silenced = {i.check: i.silenced for i in world.store.list()}
    assert silenced == {"api": True, "website": False}


def test_a_first_page_lost_to_a_crash_is_sent_by_the_redelivery_once():
    world = World()
    real_deliver = world.relay._deliver

    def crash(*args):
        raise SystemExit("function timed out after committing the incident")

    world.relay._deliver = crash
    alarm = Alert(
        AlertSource.CLOUDWATCH, "a1", "x", AlertState.ALARM, "r", T0, labels={"severity": "critical"}
    )
    with pytest.raises(SystemExit):
        world.relay.handle([alarm], now=T0)
    assert world.sent() == [] and world.store.list()[0].pending == ("pd-primary", "slack-critical")
    world.relay._deliver = real_deliver
    world.relay.handle([alarm], now=T0 + timedelta(seconds=30))  # the opener may still be sending
    assert world.sent() == []
    world.relay.handle([alarm], now=T0 + timedelta(seconds=61))  # Lambda's retry, after the lease
    world.relay.handle([alarm], now=T0 + timedelta(seconds=200))
    assert sorted(world.sent()) == [
        ("pd-primary", NotificationKind.TRIGGER),
        ("slack-critical", NotificationKind.TRIGGER),
    ]
    incident = world.store.list()[0]
    assert incident.pending == () and incident.handles.keys() == {"pd-primary", "slack-critical"}


def test_a_normal_page_leaves_nothing_pending(world):
    world.sns(api("ALARM", T0))
    assert world.store.list()[0].pending == ()


def test_the_first_page_lease_outlasts_the_invocation(world):
    world.dispatcher.time_left = lambda: 290.0  # a 300 s function, 10 s in
    alarm = Alert(
        AlertSource.CLOUDWATCH, "a1", "x", AlertState.ALARM, "r", T0, labels={"severity": "critical"}
    )
    world.relay.handle([alarm], now=T0)
    assert world.store.list()[0].pending_until == T0 + timedelta(seconds=295)


def test_without_a_table_or_queue_the_relay_runs_in_memory(tmp_path):
    from uptime_relay.adapters.incidents import InMemoryIncidentStore as Memory
    from uptime_relay.relay import build_relay_from_env

    config = tmp_path / "uptime.yaml"
    config.write_text("channels:\n  pd: {type: pagerduty, routing_key: literal}\nroutes:\n  - notify: [pd]\n")
    notifiers = fake_notifiers()
    service = build_relay_from_env(
        {"UPTIME_CONFIG": str(config)}, notifiers=notifiers, secrets=StaticSecrets()
    )
    assert isinstance(service.relay.store, Memory) and service.idempotency_config is None
    service.process_sns_event(sns_event(api("ALARM", T0)))
    assert notifiers["pagerduty"].kinds() == [NotificationKind.TRIGGER]
