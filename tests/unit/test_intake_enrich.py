"""enrich: what the configuration and the alarm's tags add to an alert, without rewriting its facts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from uptime_relay.config.loader import parse_config
from uptime_relay.intake import enrich, parse_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
RECEIVED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

CONFIG = parse_config(
    """
checks:
  - name: api
    url: https://api.example.com/health
    labels: {severity: critical, team: platform, alarm: not-the-alarm-name, namespace: nope}
    runbook: https://wiki.example.com/runbooks/api
    description: The public API
  - name: web
    url: https://www.example.com/
    labels: {severity: warning, team: web}
channels:
  slack-critical: {type: slack, webhook_url: "https://hooks.slack.com/services/EXAMPLE"}
routes:
  - notify: [slack-critical]
""",
    "test.yaml",
)


def alert_of(name: str):
    return parse_event((EVENTS / name).read_bytes(), received_at=RECEIVED)[0]


def test_our_check_alarm_gains_the_check_labels_and_runbook():
    alert = enrich(alert_of("sns-alarm-metric.json"), CONFIG)
    assert alert.labels["severity"] == "critical"
    assert alert.labels["team"] == "platform"
    assert alert.annotations["runbook"] == "https://wiki.example.com/runbooks/api"


def test_config_labels_never_overwrite_what_the_event_says():
    alert = enrich(alert_of("sns-alarm-metric.json"), CONFIG)
    assert alert.labels["alarm"] == "uptime-api-availability"
    assert alert.labels["namespace"] == "UptimeRelay"
    assert alert.labels["check"] == "api"


def test_an_alarm_description_is_kept_and_the_check_description_fills_a_missing_one():
    with_description = enrich(alert_of("sns-alarm-metric.json"), CONFIG)
    assert with_description.description == "api.example.com failed 2 of the last 3 minutes"
    bare = parse_event(
        {"AlarmName": "x", "NewStateValue": "ALARM", "Trigger": {"MetricName": "Availability", "Namespace": "UptimeRelay",
         "Dimensions": [{"name": "Check", "value": "api"}]}},
        received_at=RECEIVED,
    )[0]  # fmt: skip
    assert enrich(bare, CONFIG).description == "The public API"


def test_a_metrics_insights_contributor_is_enriched_by_its_check_attribute():
    alert = enrich(alert_of("sns-alarm-metrics-insights-contributor.json"), CONFIG)
    assert (alert.labels["check"], alert.labels["severity"], alert.labels["team"]) == (
        "web",
        "warning",
        "web",
    )


def test_alarm_tags_are_merged_without_overriding_and_aws_tags_are_skipped():
    alert = enrich(
        alert_of("sns-alarm-metric.json"),
        CONFIG,
        tags={"severity": "info", "owner": "sre", "aws:cloudformation:stack-name": "uptime"},
    )
    assert alert.labels["severity"] == "critical"  # the check's label came first
    assert alert.labels["owner"] == "sre"
    assert "aws:cloudformation:stack-name" not in alert.labels


def test_tags_in_list_tags_for_resource_form_are_accepted():
    alert = enrich(
        alert_of("eventbridge-alarm-state-change.json"), None, tags=[{"Key": "severity", "Value": "error"}]
    )
    assert alert.labels["severity"] == "error"


def test_an_alert_that_is_not_one_of_our_checks_is_unchanged():
    original = alert_of("eventbridge-alarm-state-change.json")
    assert enrich(original, CONFIG) is original


def test_enrich_is_pure_and_leaves_the_input_alert_alone():
    original = alert_of("sns-alarm-metric.json")
    before = (dict(original.labels), dict(original.annotations))
    enriched = enrich(original, CONFIG)
    assert enriched is not original
    assert (dict(original.labels), dict(original.annotations)) == before


def test_an_alertmanager_runbook_is_not_replaced_by_config():
    alert = alert_of("alertmanager-webhook-firing.json")
    assert enrich(alert, CONFIG).annotations["runbook"] == "https://wiki.example.com/runbooks/high-error-rate"
