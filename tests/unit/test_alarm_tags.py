"""Alarm tags as labels: looked up once per alarm per TTL, best effort, only for CloudWatch alarm ARNs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay import clock
from uptime_relay.adapters.alarm_tags import AlarmTags, alarm_arn
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.alert import Alert, AlertSource, AlertState

ARN = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:payments-5xx"


class FakeCloudWatch:
    def __init__(self, tags=None, error: Exception | None = None):
        self.tags = tags or {}
        self.error = error
        self.calls: list[str] = []

    def list_tags_for_resource(self, *, ResourceARN):
        self.calls.append(ResourceARN)
        if self.error is not None:
            raise self.error
        return {"Tags": [{"Key": k, "Value": v} for k, v in self.tags.get(ResourceARN, {}).items()]}


class StillClock:
    def __init__(self, at):
        self.at = at

    def now(self):
        return self.at

    def sleep(self, seconds):
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def sim():
    sim = StillClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    previous = clock.install(sim)
    yield sim
    clock.install(previous)


def test_an_alarms_tags_are_read_once_per_ttl(sim):
    cloudwatch = FakeCloudWatch({ARN: {"severity": "critical"}})
    tags = AlarmTags(client=cloudwatch)
    assert tags.tags_for(ARN) == {"severity": "critical"}
    sim.at += timedelta(minutes=4)
    assert tags.tags_for(ARN) == {"severity": "critical"}
    assert cloudwatch.calls == [ARN]
    cloudwatch.tags[ARN] = {"severity": "warning"}
    sim.at += timedelta(minutes=2)  # past the 5 minutes
    assert tags.tags_for(ARN) == {"severity": "warning"}
    assert len(cloudwatch.calls) == 2


def test_a_contributor_is_looked_up_as_its_alarm(sim):
    cloudwatch = FakeCloudWatch({ARN: {"team": "payments"}})
    assert AlarmTags(client=cloudwatch).tags_for(ARN + "#contributor-7") == {"team": "payments"}
    assert cloudwatch.calls == [ARN]


@pytest.mark.parametrize(
    "alarm_id",
    ["cloudwatch:unknown-region:unknown-account:alarm:x", "am-fingerprint-1", "", "fallback-3f2a"],
)
def test_ids_that_are_not_alarm_arns_are_never_looked_up(sim, alarm_id):
    cloudwatch = FakeCloudWatch()
    assert AlarmTags(client=cloudwatch).tags_for(alarm_id) == {}
    assert cloudwatch.calls == [] and alarm_arn(alarm_id) is None


def test_an_unreadable_alarm_gives_no_tags_and_is_not_asked_again_for_a_minute(sim, caplog):
    cloudwatch = FakeCloudWatch(error=PermissionError("AccessDenied: cloudwatch:ListTagsForResource"))
    tags = AlarmTags(client=cloudwatch)
    assert tags.tags_for(ARN) == {}
    assert tags.tags_for(ARN) == {}
    assert len(cloudwatch.calls) == 1
    assert "AccessDenied" in caplog.text
    sim.at += timedelta(minutes=1, seconds=1)
    cloudwatch.error = None
    cloudwatch.tags[ARN] = {"severity": "critical"}
    assert tags.tags_for(ARN) == {"severity": "critical"}


def test_each_region_is_asked_through_its_own_client(sim):
    regions = []

    def factory(region):
        regions.append(region)
        return FakeCloudWatch()

    tags = AlarmTags(client_factory=factory)
    tags.tags_for(ARN)
    tags.tags_for("arn:aws:cloudwatch:us-east-1:123456789012:alarm:other")
    tags.tags_for("arn:aws:cloudwatch:us-east-1:123456789012:alarm:third")
    assert regions == ["eu-west-1", "us-east-1"]


def test_the_relay_routes_cloudwatch_alerts_by_their_tags_but_never_asks_for_alertmanager_ones(sim):
    from uptime_relay.adapters.incidents import InMemoryIncidentStore
    from uptime_relay.adapters.queue import InMemoryDeadLetters
    from uptime_relay.adapters.secrets import StaticSecrets
    from uptime_relay.delivery import Dispatcher
    from uptime_relay.relay import Relay

    config = parse_config(
        "channels:\n  pd: {type: pagerduty, routing_key: k}\nroutes:\n"
        "  - match: {severity: critical}\n    notify: [pd]\n",
        "t.yaml",
    )
    cloudwatch = FakeCloudWatch({ARN: {"severity": "critical", "aws:cloudformation:stack-name": "x"}})
    relay = Relay(
        config,
        InMemoryIncidentStore(),
        Dispatcher(config, {}, StaticSecrets(), InMemoryDeadLetters()),
        alarm_tags=AlarmTags(client=cloudwatch),
    )
    cw = Alert(
        AlertSource.CLOUDWATCH, ARN, "payments-5xx", AlertState.ALARM, "r", sim.at, {"alarm": "payments-5xx"}
    )
    enriched = relay.enrich(cw)
    assert enriched.labels == {"alarm": "payments-5xx", "severity": "critical"}  # aws: tags skipped
    am = Alert(AlertSource.ALERTMANAGER, ARN, "x", AlertState.ALARM, "r", sim.at, {"alertname": "x"})
    assert relay.enrich(am).labels == {"alertname": "x"}
    assert cloudwatch.calls == [ARN]
