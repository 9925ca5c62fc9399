"""What a single alert's message says (issue 15): the probe's evidence on a check's page, a foreign
alarm's definition, console links that work in every partition, links shortened instead of cut,
and text that cannot hide or reorder what a person reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from uptime_relay import consoles
from uptime_relay.adapters.evidence import InMemoryEvidenceStore
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import Channel
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState, Link
from uptime_relay.domain.evidence import Evidence
from uptime_relay.intake import parse_event
from uptime_relay.intake.alarm import region_code
from uptime_relay.notifiers import content
from uptime_relay.notifiers import format as fmt
from uptime_relay.notifiers.base import Notification, NotificationKind
from uptime_relay.notifiers.email import EmailNotifier
from uptime_relay.notifiers.pagerduty import PagerDutyNotifier
from uptime_relay.notifiers.slack import MAX_SECTION_TEXT, SlackNotifier
from uptime_relay.relay import Relay
from uptime_relay.safetext import safe_text
from uptime_relay_tools.testing.fake_notifiers import fake_notifiers
from uptime_relay_tools.testing.relay_kit import alarm_message, sns_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
T0 = datetime(2026, 12, 3, 13, 36, 30, tzinfo=UTC)
SLACK = Channel("s", "slack", {"webhook_url": "ssm:/s"})
EMAIL = Channel("e", "email", {"to": ("oncall@example.com",), "from": "a@example.com"})
PD = Channel("p", "pagerduty", {"routing_key": "env:PD"})
REASON = (
    "Threshold Crossed: 3 out of the last 3 datapoints [0.0 (03/12/26 13:36:00), 0.0 (03/12/26 13:35:00), "
    "0.0 (03/12/26 13:34:00)] were less than the threshold (1.0)"
)
SHOP_503 = Evidence(
    check="shop",
    reason="status_mismatch",
    phase="expect",
    status_code=503,
    error="status 503, expected 2xx",
    latency_ms=2.0,
    url="https://shop.example.com/health",
    body_excerpt='{"status": "down"}',
    since=T0 - timedelta(minutes=2),
    at=T0 - timedelta(minutes=2),
)


def check_alarm(state=AlertState.ALARM, *, at=T0, evidence: Evidence | None = SHOP_503, **extra) -> Alert:
    return Alert(
        source=AlertSource.CLOUDWATCH,
        id="arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-relay-check-shop",
        name="uptime-relay-check-shop",
        state=state,
        reason=REASON,
        time=at,
        labels={"alarm": "uptime-relay-check-shop", "check": "shop", "metric": "Availability"},
        region="us-east-1",
        extra={**({"evidence": evidence.to_dict()} if evidence else {}), **extra},
    )


def note(alert: Alert, kind=NotificationKind.TRIGGER, opened_at=T0) -> Notification:
    return Notification(kind=kind, alerts=(alert,), incident_id="inc-1", opened_at=opened_at)


def slack_text(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False)


# --------------------------------------------------------------------------------- evidence on pages
def test_a_check_page_says_what_the_probe_saw_in_one_line_on_every_channel():
    """GIVEN the shop's alarm with the probe's evidence (503), WHEN it pages, THEN Slack, e-mail and
    PagerDuty lead with "shop is DOWN — HTTP 503 (expected 2xx), 3 of the last 3 minutes, since
    13:34 UTC" and are titled by the check, not the CloudFormation alarm."""
    line = "shop is DOWN — HTTP 503 (expected 2xx), 3 of the last 3 minutes, since 13:34 UTC"
    alert = check_alarm()
    [slack] = SlackNotifier().build_payloads(SLACK, note(alert))
    [email] = EmailNotifier().build_payloads(EMAIL, note(alert))
    [pd] = PagerDutyNotifier().build_payloads(PD, note(alert))

    assert slack["blocks"][0]["text"]["text"] == "🔴 [FIRING] shop"
    assert f"*{line}*" in slack["blocks"][1]["text"]["text"]
    assert email["subject"] == "[FIRING] shop" and line in email["text"] and line in email["html"]
    assert pd["payload"]["summary"] == line
    assert pd["payload"]["custom_details"]["evidence"]["status_code"] == 503


def test_the_evidence_facts_show_reason_status_phase_latency_url_and_the_body_excerpt():
    facts = dict(content.facts(note(check_alarm())))
    assert facts["Failure"] == "unexpected HTTP status (status_mismatch)"
    assert (facts["Status"], facts["Phase"], facts["Latency"]) == ("503", "expect", "2 ms")
    assert facts["URL"] == "https://shop.example.com/health"
    assert facts["Body"] == '{"status": "down"}'
    assert facts["Alarm"] == "uptime-relay-check-shop"


def test_the_resolve_says_how_long_the_check_was_down():
    ok = check_alarm(AlertState.OK, at=T0 + timedelta(minutes=4), evidence=None)
    message = note(ok, NotificationKind.RESOLVE)
    assert content.headline(message) == "shop is UP again — down for 4m (since 13:36 UTC)"
    [slack] = SlackNotifier().build_payloads(SLACK, message)
    assert "shop is UP again — down for 4m" in slack_text(slack)


def test_a_check_page_links_to_the_probe_logs_of_that_check_over_the_incident():
    alert = check_alarm(probe_log_group="/aws/lambda/uptime-relay-probe")
    [link] = [item for item in content.links(note(alert)) if item.text == "Probe logs"]
    assert link.href.startswith(
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2"
    )
    assert "*22shop*22" in link.href  # filter check = "shop"
    assert "start~'2026-12-03T13*3A29*3A00.000Z" in link.href  # 5 minutes before the first failed minute
    assert "*2Faws*2Flambda*2Fuptime-relay-probe" in link.href


def test_a_latency_alarm_naming_a_check_keeps_its_own_title_and_no_down_line():
    alert = check_alarm(evidence=None)
    latency = Alert(
        **{**alert.__dict__, "labels": {**alert.labels, "metric": "Latency"}, "name": "shop-latency"}
    )
    assert fmt.title(note(latency)) == "[FIRING] shop-latency"
    assert content.headline(note(latency)) is None


def test_the_relay_puts_the_probe_evidence_on_the_alert_of_a_configured_check():
    """GIVEN the probe recorded the api check's 503, WHEN its alarm arrives, THEN the page the
    relay sends carries that evidence."""
    config = parse_config(
        "checks: [{name: api, url: 'https://api.example.com/health', labels: {severity: critical}}]\n"
        "channels: {s: {type: slack, webhook_url: https://hooks.example.invalid/x}}\n"
        "routes: [{notify: [s]}]"
    )
    store = InMemoryEvidenceStore()
    store.put(Evidence(check="api", reason="connect_refused", error="connection refused", at=T0, since=T0))
    notifiers = fake_notifiers()
    dispatcher = Dispatcher(config, notifiers, StaticSecrets({}), InMemoryDeadLetters(), sleep=lambda s: None)
    relay = Relay(
        config, InMemoryIncidentStore(), dispatcher, evidence=store.get, probe_log_group="/aws/lambda/p"
    )

    relay.process_sns_event(sns_event(alarm_message("uptime-relay-check-api", "ALARM", T0, check="api")))

    [(_, sent)] = notifiers["slack"].sent
    assert content.evidence(sent.alert).reason == "connect_refused"
    assert content.headline(sent).startswith("api is DOWN — connection refused")


# --------------------------------------------------------------------------------- foreign alarms
def _payloads(name: str, kind=NotificationKind.TRIGGER):
    [alert] = parse_event((EVENTS / name).read_bytes())
    message = note(alert, kind)
    return (
        alert,
        SlackNotifier().build_payloads(SLACK, message)[0],
        EmailNotifier().build_payloads(EMAIL, message)[0],
    )


def test_a_foreign_metric_alarm_shows_namespace_metric_dimensions_statistic_comparison_and_threshold():
    message = {
        "AlarmName": "web-cpu",
        "NewStateValue": "ALARM",
        "StateChangeTime": "2026-11-20T10:15:30.123+0000",
        "Region": "EU - Ireland",
        "AWSAccountId": "123456789012",
        "Trigger": {
            "MetricName": "CPUUtilization",
            "Namespace": "AWS/EC2",
            "Statistic": "AVERAGE",
            "Dimensions": [{"name": "InstanceId", "value": "i-0f6d1"}],
            "Period": 300,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 2,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 80.0,
        },
    }
    [alert] = parse_event(message)
    facts = dict(content.alarm_facts(alert))
    assert facts == {
        "Metric": "AWS/EC2 CPUUtilization",
        "Dimensions": "InstanceId=i-0f6d1",
        "Condition": "AVERAGE > 80 for 2 of 3 periods of 5m",
    }
    [slack] = SlackNotifier().build_payloads(SLACK, note(alert))
    assert "*Dimensions:* InstanceId=i-0f6d1" in slack_text(slack)
    assert alert.region == "eu-west-1"  # an older Region spelling


def test_a_metric_math_alarm_shows_its_expression_and_a_composite_its_rule_and_children():
    _, _, email = _payloads("sns-alarm-metric-math.json")
    assert "Expression: e1 = 100 * errors / requests" in " ".join(email["text"].split())
    _, slack, email = _payloads("sns-alarm-composite.json")
    text = slack_text(slack)
    assert '*Rule:* ALARM(\\"uptime-api-availability\\") OR ALARM(\\"checkout-error-rate\\")' in text
    assert "*Triggered by:* uptime-api-availability (ALARM)" in text
    assert "Rule:" in email["text"] and "Triggered by:" in email["text"]


@pytest.mark.parametrize(
    "spelling, code",
    [
        ("US East (N. Virginia)", "us-east-1"),
        ("US (Virginia)", "us-east-1"),
        ("US - N. Virginia", "us-east-1"),
        ("EU - Ireland", "eu-west-1"),
        ("Asia Pacific - Tokyo", "ap-northeast-1"),
        ("South America - São Paulo", "sa-east-1"),
        ("AWS GovCloud (US-East)", "us-gov-east-1"),
        ("China (Ningxia)", "cn-northwest-1"),
        ("Nowhere (Atlantis)", None),
    ],
)
def test_every_region_spelling_cloudwatch_has_used_is_recognised(spelling, code):
    assert region_code(spelling) == code


@pytest.mark.parametrize(
    "region, host",
    [
        ("us-east-1", "https://us-east-1.console.aws.amazon.com/"),
        ("cn-north-1", "https://cn-north-1.console.amazonaws.cn/"),
        ("us-gov-west-1", "https://console.amazonaws-us-gov.com/"),
    ],
)
def test_console_links_are_partition_aware_and_appear_once(region, host):
    message = {"AlarmName": "db-cpu", "NewStateValue": "ALARM", "Region": region, "AWSAccountId": "1"}
    [alert] = parse_event(message)
    found = [item.href for item in content.links(note(alert))]
    assert len(found) == 1 and found[0].startswith(host)
    [pd] = PagerDutyNotifier().build_payloads(PD, note(alert))
    assert pd["client_url"] == found[0]


def test_a_link_too_long_for_slack_is_shortened_to_one_that_works_never_cut():
    """GIVEN an alarm whose console link is longer than a link can be shown (a long non-Latin
    name), THEN Slack and e-mail get the alarm list searched by the name, and the other links
    are still there."""
    name = "数据库" * 85  # 255 characters, each 9 when percent-encoded
    alert = Alert(
        source=AlertSource.CLOUDWATCH,
        id="x",
        name=name,
        state=AlertState.ALARM,
        reason="r",
        time=T0,
        labels={"alarm": name, "runbook": "https://wiki.example.com/rb"},
        region="us-east-1",
    )
    [slack] = SlackNotifier().build_payloads(SLACK, note(alert))
    [links] = [
        b
        for b in slack["blocks"]
        if b["type"] == "section" and "Runbook" in b.get("text", {}).get("text", "")
    ]
    text = links["text"]["text"]
    assert "…" not in text and len(text) <= MAX_SECTION_TEXT
    assert "#alarmsV2:?~(search~'" in text and "CloudWatch alarm (list)" in text
    [email] = EmailNotifier().build_payloads(EMAIL, note(alert))
    assert f"CloudWatch alarm (list): {consoles.alarm_list_url('us-east-1', name)}" in email["text"]


def test_short_link_keeps_a_link_that_fits_and_drops_the_query_of_one_that_does_not():
    fits = Link("https://example.com/a", "A")
    assert content.short_link(fits, 100) is fits
    long = Link("https://grafana.example.com/d/abc?" + "var=x&" * 500, "Source")
    assert content.short_link(long, 100) == Link("https://grafana.example.com/d/abc", "Source")


# --------------------------------------------------------------------------------- text safety
@pytest.mark.parametrize(
    "raw, shown",
    [
        ("db\u202egnp.exe", "db[U+202E]gnp.exe"),
        ("sh\u200bop", "shop"),
        ("a\u2066b\u2069c", "a[U+2066]b[U+2069]c"),
        ("bell\x07\x1b[31m", "bell[31m"),
        ("\ufeffname\u00ad", "name"),
        ("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"),  # joiners that emoji need stay
    ],
)
def test_bidi_controls_become_visible_and_invisible_characters_go(raw, shown):
    assert safe_text(raw) == shown


def test_no_title_subject_or_summary_carries_a_bidi_override_or_zero_width_character():
    alert = Alert(
        source=AlertSource.CLOUDWATCH,
        id="x",
        name="db\u202egnp.exe\u200b",
        state=AlertState.ALARM,
        reason="r\u2067eason\x00",
        time=T0,
        labels={"alarm": "db"},
    )
    [slack] = SlackNotifier().build_payloads(SLACK, note(alert))
    [email] = EmailNotifier().build_payloads(EMAIL, note(alert))
    [pd] = PagerDutyNotifier().build_payloads(PD, note(alert))
    for text in (
        slack["blocks"][0]["text"]["text"],
        slack["text"],
        email["subject"],
        pd["payload"]["summary"],
    ):
        assert not any(ch in text for ch in "\u202e\u200b\u2067\x00"), text
        assert "[U+202E]" in text


def test_pagerduty_keeps_every_metric_of_a_metric_math_alarm_in_its_facts():
    [alert] = parse_event((EVENTS / "sns-alarm-metric-math.json").read_bytes())
    [pd] = PagerDutyNotifier().build_payloads(PD, note(alert))
    facts = pd["payload"]["custom_details"]["facts"]
    assert facts["Expression"] == "e1 = 100 * errors / requests"
    assert facts["Metric"].startswith("errors: ") and facts["Metric 2"].startswith("requests: ")
