"""Shared formatting and HTTP classification used by every channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from uptime_relay import clock
from uptime_relay.config import Check
from uptime_relay.domain.alert import Alert, AlertSource, AlertState, Link
from uptime_relay.notifiers import format as fmt
from uptime_relay.notifiers.base import DeliveryError, Notification, NotificationKind
from uptime_relay.notifiers.http import parse_retry_after, post_json, redact, target
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply

T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)


def alarm(**kw) -> Alert:
    defaults = dict(
        source=AlertSource.CLOUDWATCH,
        id="arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api availability/5xx",
        name="api availability/5xx",
        state=AlertState.ALARM,
        reason="failing",
        time=T0,
        labels={},
        region="eu-west-1",
    )
    defaults.update(kw)
    return Alert(**defaults)


def note(kind=NotificationKind.TRIGGER, alerts=None, **kw) -> Notification:
    return Notification(kind=kind, alerts=tuple(alerts or [alarm()]), **kw)


# ------------------------------------------------------------------------------- truncation
@given(st.text(), st.integers(min_value=0, max_value=300))
def test_truncate_never_exceeds_the_limit_and_marks_the_cut(text, limit):
    out = fmt.truncate(text, limit)

    assert len(out) <= limit
    out.encode("utf-8")  # never half a surrogate pair
    if len(text) <= limit:
        assert out == text
    elif limit > 1:
        assert out.endswith("…")


@given(st.text(), st.integers(min_value=0, max_value=300))
def test_truncate_bytes_never_cuts_inside_a_multibyte_character(text, max_bytes):
    out = fmt.truncate_bytes(text, max_bytes)

    encoded = out.encode("utf-8")
    assert len(encoded) <= max(max_bytes, 0)
    if len(text.encode("utf-8")) <= max_bytes:
        assert out == text


def test_truncating_emoji_and_accents_keeps_whole_characters():
    assert fmt.truncate("🚨🚨🚨🚨", 3) == "🚨🚨…"
    assert fmt.truncate_bytes("ééééé", 8) == "éé…"  # 5 bytes left for text: 2 whole é, never half of one
    assert fmt.truncate("abc", 10) == "abc"


# ------------------------------------------------------------------------------- words and links
def test_severity_comes_from_the_label_aliases_or_defaults_by_state():
    assert fmt.severity(alarm(labels={"severity": "SEV2"})) == "error"
    assert fmt.severity(alarm(labels={"severity": "whatever"})) == "critical"
    assert fmt.severity(alarm(labels={"severity": "whatever"}), "warning") == "warning"
    assert fmt.severity(alarm(state=AlertState.INSUFFICIENT_DATA)) == "warning"
    assert fmt.severity(alarm(state=AlertState.OK)) == "info"
    group = note(alerts=[alarm(labels={"severity": "info"}), alarm(labels={"severity": "critical"})])
    assert fmt.severity(group) == "critical"  # the worst of a group


def test_the_console_link_quotes_the_alarm_name_and_uses_the_region_code():
    url = fmt.console_url(alarm())

    assert url == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        "#alarmsV2:alarm/api%20availability%2F5xx"
    )
    assert fmt.console_url(alarm(source=AlertSource.ALERTMANAGER)) is None
    assert fmt.console_url(alarm(region=None)) is None


def test_the_runbook_prefers_the_check_then_labels_and_annotations_and_ignores_non_web_links():
    check = Check(name="api", url="https://api.example.com", runbook="https://wiki.example.com/rb/api")

    assert fmt.runbook(note(check=check)) == "https://wiki.example.com/rb/api"
    assert fmt.runbook(note(alerts=[alarm(labels={"runbook": "https://wiki/x"})])) == "https://wiki/x"
    assert (
        fmt.runbook(note(alerts=[alarm(annotations={"runbook_url": "https://wiki/y"})])) == "https://wiki/y"
    )
    assert fmt.runbook(note(alerts=[alarm(labels={"runbook": "javascript:alert(1)"})])) is None


def test_links_are_deduplicated_and_http_only():
    alert = alarm(
        links=(
            Link("https://eu-west-1.console.aws.amazon.com/x", "CloudWatch alarm"),
            Link("https://eu-west-1.console.aws.amazon.com/x", "again"),
            Link("data:text/html,hi", "bad"),
        ),
        labels={"runbook": "https://wiki/rb"},
    )

    found = fmt.links(note(alerts=[alert]))

    hrefs = [link.href for link in found]
    assert hrefs[0] == "https://wiki/rb"
    assert len(hrefs) == len(set(hrefs))
    assert not any(h.startswith("data:") for h in hrefs)


def test_since_says_how_long_a_resolved_incident_lasted():
    resolved = note(
        NotificationKind.RESOLVE,
        [alarm(state=AlertState.OK, time=T0 + timedelta(hours=1, minutes=5))],
        opened_at=T0,
    )

    assert fmt.since(resolved) == "2026-11-20 10:15:30 UTC (lasted 1h 5m)"
    assert fmt.since(note()) == ""


def test_titles_count_grouped_alerts_and_stay_on_one_line():
    group = note(alerts=[alarm(name="Disk\nFilling", labels={"alertname": "Disk\nFilling"})] * 3)

    assert fmt.title(group) == "[FIRING:3] Disk Filling"
    assert fmt.title(note(NotificationKind.ACKNOWLEDGE)) == "[ACKNOWLEDGED] api availability/5xx"


# ------------------------------------------------------------------------------- HTTP helpers
def test_a_mixed_group_counts_and_rates_only_its_firing_alerts():
    firing = [alarm(id=f"a{n}", name="HighErrorRate", labels={"severity": "warning"}) for n in range(2)]
    resolved = alarm(id="r", name="HighErrorRate", state=AlertState.OK, labels={"severity": "critical"})
    mixed = note(alerts=[*firing, resolved])
    assert fmt.title(mixed) == "[FIRING:2] HighErrorRate"
    assert fmt.severity(mixed) == "warning"  # the resolved critical one no longer fires
    assert [h for h, _ in fmt.alert_sections(mixed)] == ["Firing", "Resolved"]
    assert fmt.title(note(alerts=[firing[0], resolved])) == "[FIRING:1] HighErrorRate"
    # a RESOLVE's alerts are what it is about: one section, counted as before
    done = note(NotificationKind.RESOLVE, alerts=[resolved, resolved])
    assert fmt.title(done) == "[RESOLVED:2] HighErrorRate" and not fmt.is_mixed(done)
    assert [h for h, _ in fmt.alert_sections(done)] == ["Alerts"]


def test_retry_after_accepts_seconds_and_http_dates_and_ignores_garbage():
    later = format_datetime(clock.now() + timedelta(seconds=90), usegmt=True)

    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("0.5") == 0.5
    assert 80 < parse_retry_after(later) <= 90
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("99999999") == 3600.0  # capped: never park a delivery for days


def test_error_text_names_only_the_host_and_redacts_secrets():
    url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"

    assert target(url) == "https://hooks.slack.com"
    assert (
        redact(f"bad url {url} token xoxb-123456", [url, "xoxb-123456"])
        == "bad url [redacted] token [redacted]"
    )


def test_a_redirect_or_an_unusable_url_is_permanent_and_never_followed():
    with HttpReceiver() as receiver:
        receiver.script("/hook", Reply(302, "", {"Location": "http://169.254.169.254/latest/meta-data"}))

        with pytest.raises(DeliveryError) as redirected:
            post_json(f"{receiver.url}/hook", {"text": "hi"})

        assert [r.path for r in receiver.requests] == ["/hook"]
    with pytest.raises(DeliveryError) as unusable:
        post_json("ssm:/uptime/never-resolved", {"text": "hi"})

    assert redirected.value.permanent is True and redirected.value.status == 302
    assert unusable.value.permanent is True
    assert "never-resolved" not in str(unusable.value)


def test_a_successful_post_sends_utf8_json_and_returns_the_response():
    with HttpReceiver(Reply(202, {"status": "success"})) as receiver:
        response = post_json(f"{receiver.url}/v2/enqueue", {"summary": "ünïcødé 🚨"}, {"X-Extra": "1"})

        [request] = receiver.requests
        assert response.status_code == 202
        assert request.headers["Content-Type"] == "application/json; charset=utf-8"
        assert request.headers["X-Extra"] == "1"
        assert request.json() == {"summary": "ünïcødé 🚨"}
