"""Intake: every sample event parses to the alert a user expects (state, identity, name, labels, time)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from uptime_relay.domain.alert import AlertSource, AlertState
from uptime_relay.intake import parse_event

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
SHARED_EVENTS = Path("/work/shared/events")
RECEIVED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def load(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


# file -> [(source, state, id, name, labels that must be present, time)]
EXPECTED = {
    "sns-alarm-metric.json": [
        (
            AlertSource.CLOUDWATCH,
            AlertState.ALARM,
            ARN + "uptime-api-availability",
            "uptime-api-availability",
            {
                "alarm": "uptime-api-availability",
                "namespace": "UptimeRelay",
                "metric": "Availability",
                "check": "api",
            },
            "2026-11-20T10:15:30.123+00:00",
        )
    ],
    "sns-ok-metric.json": [
        (
            AlertSource.CLOUDWATCH,
            AlertState.OK,
            ARN + "uptime-api-availability",
            "uptime-api-availability",
            {"check": "api", "metric": "Availability"},
            "2026-11-20T10:24:31.001+00:00",
        )
    ],
    "sns-alarm-metric-math.json": [
        (
            AlertSource.CLOUDWATCH,
            AlertState.ALARM,
            ARN + "checkout-error-rate",
            "checkout-error-rate",
            {"namespace": "AWS/ApplicationELB", "LoadBalancer": "app/checkout/50dc6c495c0c9188"},
            "2026-11-20T10:15:30.123+00:00",
        )
    ],
    "sns-alarm-composite.json": [
        (
            AlertSource.CLOUDWATCH,
            AlertState.ALARM,
            ARN + "checkout-unhealthy",
            "checkout-unhealthy",
            {"alarm": "checkout-unhealthy"},
            "2026-11-20T10:15:31.204+00:00",
        )
    ],
    "sns-alarm-anomaly-detection.json": [
        (
            AlertSource.CLOUDWATCH,
            AlertState.ALARM,
            ARN + "api-latency-anomaly",
            "api-latency-anomaly",
            {"namespace": "UptimeRelay", "metric": "Latency", "check": "api"},
            "2026-11-20T10:15:40.5+00:00",
        )
    ],
    "sns-alarm-metrics-insights-contributor.json": [
        (
            AlertSource.CLOUDWATCH,
            AlertState.ALARM,
            ARN + "uptime-availability-all#6d442278dba546f6",
            "uptime-availability-all",
            {"check": "web", "namespace": "UptimeRelay", "metric": "Availability"},
            "2026-11-20T10:15:30.9+00:00",
        )
    ],
    "sns-ok-metrics-insights-contributor.json": [
        (
            AlertSource.CLOUDWATCH,
            AlertState.OK,
            ARN + "uptime-availability-all#6d442278dba546f6",
            "uptime-availability-all",
            {"check": "web"},
            "2026-11-20T10:21:30.4+00:00",
        )
    ],
    "sns-insufficient-data-metric.json": [
        (
            AlertSource.CLOUDWATCH,
            AlertState.INSUFFICIENT_DATA,
            ARN + "uptime-api-availability",
            "uptime-api-availability",
            {"check": "api"},
            "2026-11-20T11:02:30.777+00:00",
        )
    ],
    "cloudwatch-alarm-message-bare.json": [
        (
            AlertSource.CLOUDWATCH,
            AlertState.ALARM,
            "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-db-cpu",
            "orders-db-cpu",
            {"namespace": "AWS/RDS", "metric": "CPUUtilization", "DBInstanceIdentifier": "orders-db"},
            "2026-11-20T10:15:02.010+00:00",
        )
    ],
    "sqs-sns-alarm-metric.json": [
        (
            AlertSource.CLOUDWATCH,
            AlertState.ALARM,
            ARN + "uptime-api-availability",
            "uptime-api-availability",
            {"check": "api"},
            "2026-11-20T10:15:30.123+00:00",
        )
    ],
    "eventbridge-alarm-state-change.json": [
        (
            AlertSource.EVENTBRIDGE,
            AlertState.ALARM,
            ARN + "orders-queue-age",
            "orders-queue-age",
            {"namespace": "AWS/SQS", "metric": "ApproximateAgeOfOldestMessage", "QueueName": "orders"},
            "2026-11-20T10:15:30.123+00:00",
        )
    ],
    "eventbridge-composite-alarm.json": [
        (
            AlertSource.EVENTBRIDGE,
            AlertState.ALARM,
            ARN + "checkout-unhealthy",
            "checkout-unhealthy",
            {"alarm": "checkout-unhealthy"},
            "2026-11-20T10:15:31.204+00:00",
        )
    ],
    "eventbridge-contributor-state-change.json": [
        (
            AlertSource.EVENTBRIDGE,
            AlertState.ALARM,
            ARN + "uptime-availability-all#6d442278dba546f6",
            "uptime-availability-all",
            {"check": "web"},
            "2026-11-20T10:15:30.9+00:00",
        )
    ],
    "eventbridge-anomaly-detection.json": [
        (
            AlertSource.EVENTBRIDGE,
            AlertState.ALARM,
            ARN + "api-latency-anomaly",
            "api-latency-anomaly",
            {"namespace": "UptimeRelay", "metric": "Latency", "check": "api"},
            "2026-11-20T10:15:40.5+00:00",
        )
    ],
    "sns-alarm-metrics-insights-alarm-level.json": [
        (
            AlertSource.CLOUDWATCH,
            AlertState.ALARM,
            ARN + "uptime-availability-all",
            "uptime-availability-all",
            {"namespace": "UptimeRelay", "metric": "Availability"},
            "2026-11-20T10:15:30.9+00:00",
        )
    ],
    "alertmanager-webhook-firing.json": [
        (
            AlertSource.ALERTMANAGER,
            AlertState.ALARM,
            "c1a2b3c4d5e6f708",
            "HighErrorRate",
            {"alertname": "HighErrorRate", "severity": "critical", "instance": "api-1:3001"},
            "2026-11-20T10:10:00+00:00",
        )
    ],
    "alertmanager-webhook-resolved.json": [
        (
            AlertSource.ALERTMANAGER,
            AlertState.OK,
            "c1a2b3c4d5e6f708",
            "HighErrorRate",
            {"severity": "critical"},
            "2026-11-20T10:31:00+00:00",
        )
    ],
    "sns-text-message.json": [
        (
            AlertSource.FALLBACK,
            AlertState.ALARM,
            "message:5f0c7b1e-aaaa-5cb9-9903-4c221d41eb5e",
            "Backup job failed",
            {"team": "data"},
            "2026-11-20T02:00:05+00:00",
        )
    ],
    "sam-sns-notification.json": [
        (
            AlertSource.FALLBACK,
            AlertState.ALARM,
            "message:95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "example subject",
            {"Test": "TestString"},
            "1970-01-01T00:00:00+00:00",
        )
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_event_parses_to_the_expected_alert(name):
    alerts = parse_event(load(name), received_at=RECEIVED)
    got = [(a.source, a.state, a.id, a.name, a.time) for a in alerts]
    want = [(s, st, i, n, at(t)) for s, st, i, n, _, t in EXPECTED[name]]
    assert got == want
    for alert, (*_, labels, _t) in zip(alerts, EXPECTED[name], strict=True):
        assert labels.items() <= alert.labels.items(), alert.labels


def _all_event_files():
    files = sorted(p for p in EVENTS.iterdir() if p.is_file())
    if SHARED_EVENTS.is_dir():
        files += sorted(p for p in SHARED_EVENTS.iterdir() if p.is_file())
    return files


@pytest.mark.parametrize("path", _all_event_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_event_file_is_dropped_and_every_alert_has_an_identity_and_utc_time(path):
    alerts = parse_event(path.read_bytes(), received_at=RECEIVED)
    assert alerts
    for alert in alerts:
        assert alert.id and alert.name and alert.reason
        assert alert.time.utcoffset().total_seconds() == 0
        assert alert.extra["group_key"]


def test_shared_events_parse_the_same_as_the_repository_copies():
    if not SHARED_EVENTS.is_dir():
        pytest.skip("no shared events directory on this machine")
    for path in SHARED_EVENTS.iterdir():
        ours = EVENTS / path.name
        if ours.exists():
            assert parse_event(path.read_bytes(), received_at=RECEIVED) == parse_event(
                ours.read_bytes(), received_at=RECEIVED
            )


# --------------------------------------------------------------------------- one input, several forms
def test_the_bare_message_the_sns_event_and_the_json_text_give_the_same_alarm():
    event = json.loads(load("sns-alarm-metric.json"))
    message_text = event["Records"][0]["Sns"]["Message"]
    from_event = parse_event(event, received_at=RECEIVED)[0]
    from_text = parse_event(message_text, received_at=RECEIVED)[0]
    from_dict = parse_event(json.loads(message_text), received_at=RECEIVED)[0]
    assert (from_event.id, from_event.state, from_event.time, from_event.labels) == (
        from_text.id,
        from_text.state,
        from_text.time,
        from_text.labels,
    )
    assert from_text == from_dict


def test_it_keeps_the_sns_delivery_details_in_extra():
    alert = parse_event(load("sns-alarm-metric.json"), received_at=RECEIVED)[0]
    assert alert.extra["sns_message_id"] == "5f0c7b1e-1111-5cb9-9903-4c221d41eb5e"
    assert alert.extra["sns_topic_arn"] == "arn:aws:sns:us-east-1:123456789012:uptime-alerts"
    assert alert.extra["sns_timestamp"] == "2026-11-20T10:15:30.456000+00:00"


def test_an_sns_event_with_several_records_gives_one_alert_per_record():
    alarm = json.loads(load("sns-alarm-metric.json"))
    ok = json.loads(load("sns-ok-metric.json"))
    event = {"Records": alarm["Records"] + ok["Records"]}
    assert [a.state for a in parse_event(event, received_at=RECEIVED)] == [AlertState.ALARM, AlertState.OK]


def test_an_sqs_message_with_raw_delivery_is_the_alarm_itself():
    message = json.loads(load("sns-alarm-metric.json"))["Records"][0]["Sns"]["Message"]
    event = {"Records": [{"messageId": "m-1", "body": message, "eventSource": "aws:sqs"}]}
    alert = parse_event(event, received_at=RECEIVED)[0]
    assert (alert.source, alert.check, alert.extra["delivered_via"]) == (AlertSource.CLOUDWATCH, "api", "sqs")


# --------------------------------------------------------------------------- CloudWatch details
def test_our_check_alarm_gets_region_account_metric_and_console_link():
    alert = parse_event(load("sns-alarm-metric.json"), received_at=RECEIVED)[0]
    assert (alert.region, alert.account, alert.previous_state) == ("us-east-1", "123456789012", AlertState.OK)
    assert alert.metric.namespace == "UptimeRelay" and alert.metric.dimensions == (("Check", "api"),)
    assert alert.description == "api.example.com failed 2 of the last 3 minutes"
    assert alert.links[0].href == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#alarmsV2:alarm/uptime-api-availability"
    )
    assert alert.extra["group_key"] == alert.id
    assert alert.extra["alarm_kind"] == "metric"


def test_a_metric_math_alarm_has_no_single_metric_but_keeps_what_its_metrics_share():
    alert = parse_event(load("sns-alarm-metric-math.json"), received_at=RECEIVED)[0]
    assert alert.metric is None
    assert "metric" not in alert.labels
    assert alert.extra["alarm_kind"] == "metric_math"


def test_an_anomaly_detection_alarm_names_its_band_and_its_one_metric():
    eb = parse_event(load("eventbridge-anomaly-detection.json"), received_at=RECEIVED)[0]
    assert (eb.extra["alarm_kind"], eb.metric.name, eb.metric.stat) == ("anomaly_detection", "Latency", "p90")
    alert = parse_event(load("sns-alarm-anomaly-detection.json"), received_at=RECEIVED)[0]
    assert alert.id == eb.id
    assert alert.extra["alarm_kind"] == "anomaly_detection"
    assert alert.extra["threshold_metric_id"] == "ad1"
    assert alert.extra["comparison_operator"] == "LessThanLowerOrGreaterThanUpperThreshold"
    assert (alert.metric.name, alert.metric.stat) == ("Latency", "p90")


@pytest.mark.parametrize("name", ["sns-alarm-composite.json", "eventbridge-composite-alarm.json"])
def test_a_composite_alarm_carries_its_rule_and_the_children_that_triggered_it(name):
    alert = parse_event(load(name), received_at=RECEIVED)[0]
    assert alert.extra["alarm_kind"] == "composite"
    assert (
        alert.annotations["alarm_rule"] == 'ALARM("uptime-api-availability") OR ALARM("checkout-error-rate")'
    )
    assert alert.annotations["triggering_children"] == "uptime-api-availability (ALARM)"
    assert alert.metric is None


def test_each_metrics_insights_contributor_is_its_own_alarm_identity_for_alarm_and_ok():
    fired = parse_event(load("sns-alarm-metrics-insights-contributor.json"), received_at=RECEIVED)[0]
    cleared = parse_event(load("sns-ok-metrics-insights-contributor.json"), received_at=RECEIVED)[0]
    assert fired.id == cleared.id != ARN + "uptime-availability-all"
    assert fired.extra["contributor_attributes"] == {"Check": "web"}
    assert fired.extra["alarm_kind"] == "metrics_insights"


def test_the_alarm_level_notification_of_a_multi_time_series_alarm_is_flagged_and_separate():
    level = parse_event(load("sns-alarm-metrics-insights-alarm-level.json"), received_at=RECEIVED)[0]
    contributor = parse_event(load("sns-alarm-metrics-insights-contributor.json"), received_at=RECEIVED)[0]
    assert level.id == ARN + "uptime-availability-all" != contributor.id
    assert level.extra["alarm_level_of_multi_time_series"] is True
    assert "alarm_level_of_multi_time_series" not in contributor.extra
    assert "check" not in level.labels


def test_an_alertmanager_alert_keeps_its_generator_url():
    alert = parse_event(load("alertmanager-webhook-firing.json"), received_at=RECEIVED)[0]
    assert alert.extra["generator_url"] == "http://prometheus.example.com:9090/graph?g0.expr=..."


def test_sns_and_eventbridge_forms_of_one_contributor_share_its_identity():
    sns = parse_event(load("sns-alarm-metrics-insights-contributor.json"), received_at=RECEIVED)[0]
    eb = parse_event(load("eventbridge-contributor-state-change.json"), received_at=RECEIVED)[0]
    assert (sns.id, sns.check, sns.time) == (eb.id, eb.check, eb.time)


def test_a_message_without_an_arn_gets_an_identity_from_region_account_and_name():
    alert = parse_event(load("cloudwatch-alarm-message-bare.json"), received_at=RECEIVED)[0]
    assert alert.region == "eu-west-1"  # from the display name "EU (Ireland)"
    assert alert.links[0].href.startswith("https://eu-west-1.console.aws.amazon.com/")


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2024-01-01T00:00:00.000+0000", "2024-01-01T00:00:00+00:00"),
        ("2024-01-01T02:30:00.000+0230", "2024-01-01T00:00:00+00:00"),
        ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00+00:00"),
        ("2023-12-31T19:00:00-05:00", "2024-01-01T00:00:00+00:00"),
    ],
)
def test_state_change_times_in_every_aws_form_become_aware_utc(stamp, expected):
    message = {"AlarmName": "a", "NewStateValue": "ALARM", "StateChangeTime": stamp}
    assert parse_event(message, received_at=RECEIVED)[0].time == at(expected)


def test_a_cloudwatch_message_missing_fields_still_yields_the_best_alert():
    message = {"AlarmName": "half-message", "NewStateValue": "ok", "Trigger": "garbled", "Region": 7}
    alert = parse_event(message, received_at=RECEIVED)[0]
    assert (alert.source, alert.state, alert.name) == (AlertSource.CLOUDWATCH, AlertState.OK, "half-message")
    assert alert.time == RECEIVED
    assert "StateChangeTime" in " ".join(alert.extra["parse_notes"])
    assert alert.id == "cloudwatch:unknown-region:unknown-account:alarm:half-message"


def test_a_cloudwatch_message_without_a_state_takes_it_from_the_sns_subject():
    event = json.loads(load("sns-ok-metric.json"))
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    del message["NewStateValue"]
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    alert = parse_event(event, received_at=RECEIVED)[0]
    assert alert.state is AlertState.OK


# --------------------------------------------------------------------------- Alertmanager
def test_an_alertmanager_body_with_three_alerts_gives_three_alerts_of_one_group():
    body = json.loads(load("alertmanager-webhook-three-alerts.json"))
    alerts = parse_event(body, received_at=RECEIVED)
    assert len(alerts) == 3
    assert {a.extra["group_key"] for a in alerts} == {body["groupKey"]}
    assert [a.labels["instance"] for a in alerts] == ["db-1:9100", "db-2:9100", "db-3:9100"]
    assert all(a.extra["external_url"] == "http://alertmanager.example.com:9093" for a in alerts)
    assert alerts[0].annotations["runbook_url"] == "https://wiki.example.com/runbooks/disk-filling"
    assert alerts[0].links[0].href.startswith("http://prometheus.example.com:9090/graph")
    # nanosecond startsAt is read to the microsecond
    assert alerts[0].time == at("2026-11-20T09:50:00.123456+00:00")


def test_an_alert_without_a_fingerprint_gets_a_stable_id_from_its_labels():
    body = json.loads(load("alertmanager-webhook-three-alerts.json"))
    first = parse_event(body, received_at=RECEIVED)[2]
    body["alerts"][2]["labels"] = dict(reversed(list(body["alerts"][2]["labels"].items())))
    again = parse_event(body, received_at=RECEIVED)[2]
    assert first.id == again.id and len(first.id) == 16
    assert first.extra["fingerprint_derived"] is True


def test_alert_labels_win_over_common_labels():
    body = json.loads(load("alertmanager-webhook-firing.json"))
    body["commonLabels"]["team"] = "platform"
    body["alerts"][0]["labels"]["severity"] = "warning"
    alert = parse_event(body, received_at=RECEIVED)[0]
    assert (alert.labels["team"], alert.labels["severity"]) == ("platform", "warning")


def test_a_resolved_alert_is_timed_by_its_end_and_a_firing_one_by_its_start():
    resolved = parse_event(load("alertmanager-webhook-resolved.json"), received_at=RECEIVED)[0]
    firing = parse_event(load("alertmanager-webhook-firing.json"), received_at=RECEIVED)[0]
    assert resolved.time > firing.time
    assert resolved.id == firing.id


def test_powertools_event_classes_are_accepted_as_they_are():
    from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, SNSEvent, SQSEvent

    sns = parse_event(SNSEvent(json.loads(load("sns-alarm-metric.json"))), received_at=RECEIVED)[0]
    sqs = parse_event(SQSEvent(json.loads(load("sqs-sns-alarm-metric.json"))), received_at=RECEIVED)[0]
    eb = parse_event(
        EventBridgeEvent(json.loads(load("eventbridge-composite-alarm.json"))), received_at=RECEIVED
    )[0]
    assert sns.id == sqs.id == ARN + "uptime-api-availability"
    assert eb.id == ARN + "checkout-unhealthy"
    assert json.loads(eb.raw)["detail-type"] == "CloudWatch Alarm State Change"
