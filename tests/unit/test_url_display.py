"""A check URL's credentials and query values never reach a channel, a log line or the alarm.

Every place a URL reaches a person or a log shows it through ``uptime_relay.urls.display_url``:
userinfo removed, query values replaced by ``…`` (keys kept), fragment removed; links a person
is meant to follow (runbook, console, sources) keep their query, but not credentials.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from probe_servers import Target, http, redirect
from uptime_relay import alarms
from uptime_relay.config import Channel, Check
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.alert import Alert, AlertSource, AlertState, Link
from uptime_relay.notifiers.base import Notification, NotificationKind
from uptime_relay.notifiers.email import EmailNotifier
from uptime_relay.notifiers.pagerduty import PagerDutyNotifier
from uptime_relay.notifiers.slack import SlackNotifier
from uptime_relay.probe import run_checks
from uptime_relay.probe.report import log_fields
from uptime_relay.urls import UNPARSABLE, display_url

T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
URL = "https://probe-user:hunter2pass@api.example.com/health?token=abc123tok&region=eu"
LEAKS = ("probe-user", "hunter2pass", "abc123tok", "region=eu")


def alarm() -> Alert:
    return Alert(
        source=AlertSource.CLOUDWATCH,
        id="arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-api-availability",
        name="uptime-api-availability",
        state=AlertState.ALARM,
        reason="2 of the last 3 probes failed",
        time=T0,
        labels={"alarm": "uptime-api-availability", "check": "api"},
        region="us-east-1",
        account="123456789012",
    )


def note(check: Check, alert: Alert | None = None) -> Notification:
    return Notification(
        kind=NotificationKind.TRIGGER,
        alerts=(alert or alarm(),),
        incident_id="inc-1",
        opened_at=T0,
        check=check,
    )


def assert_clean(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} reached the output"


# ------------------------------------------------------------------------------- the function
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (URL, "https://api.example.com/health?token=…&region=…"),
        ("https://u:p@h/p?a=1&flag#secret-fragment", "https://h/p?a=…&…"),
        ("http://[::1]:8080/x?code=SSO", "http://[::1]:8080/x?code=…"),
        ("user:pass@host/x", "host/x"),  # no scheme: still no userinfo
        ("https://a:b@c@host/", "https://host/"),  # an '@' inside the password
        ("https://u:p\\w@host/", "https://host/"),  # a backslash Python's parser keeps in the netloc
        ("http:/user:pass@host/x", "http://host/x"),  # browsers read userinfo here too
        ("http:\\\\user:pass@host/x", "http://host/x"),
        ("https://host:99x/", UNPARSABLE),
        ("https://[::1/", UNPARSABLE),  # urlsplit raises on this one
        ("https://host/a\nb?x=1", "https://host/ab?x=…"),  # no line breaks into a log line
        (None, UNPARSABLE),
    ],
)
def test_a_url_is_shown_without_credentials_query_values_or_fragment(url, shown):
    assert display_url(url) == shown


def test_a_link_keeps_its_query_and_fragment_but_not_credentials():
    url = "https://u:p@grafana.example.com/d/abc?orgId=1&var-host=a&auth_token=zz#panel=3&access_token=yy"
    assert display_url(url, link=True) == (
        "https://grafana.example.com/d/abc?orgId=1&var-host=a&auth_token=…#panel=3&access_token=…"
    )


# ------------------------------------------------------------------------------- channels
def test_pagerduty_source_and_target_show_the_check_url_without_credentials_or_query_values():
    channel = Channel("pd", "pagerduty", {"routing_key": "env:PD_KEY"})
    [event] = PagerDutyNotifier().build_payloads(channel, note(Check(name="api", url=URL)))

    assert event["payload"]["source"] == "https://api.example.com/health?token=…&region=…"
    assert event["payload"]["custom_details"]["target"] == "https://api.example.com/health?token=…&region=…"
    assert_clean(json.dumps(event, ensure_ascii=False))


def test_the_email_target_line_shows_the_check_url_without_credentials_or_query_values():
    channel = Channel("mail", "email", {"to": ("oncall@example.com",), "from": "alerts@example.com"})
    [payload] = EmailNotifier().build_payloads(channel, note(Check(name="api", url=URL)))

    assert re.search(r"Target: +https://api\.example\.com/health\?token=…&region=…\n", payload["text"])
    assert_clean(payload["text"])
    assert_clean(payload["html"])


def test_links_in_every_channel_lose_their_credentials_and_token_values():
    check = Check(name="api", url=URL, runbook="https://wiki-user:wikipass@wiki.example.com/rb?page=7")
    alert = Alert(
        **{
            **alarm().__dict__,
            "links": (
                Link(href="https://src:srcpass@grafana.example.com/d?orgId=1&token=tk999", text="Src"),
            ),
        }
    )
    notification = note(check, alert)
    channels = [
        (SlackNotifier(), Channel("s", "slack", {"webhook_url": "env:HOOK"})),
        (PagerDutyNotifier(), Channel("pd", "pagerduty", {"routing_key": "env:PD_KEY"})),
        (EmailNotifier(), Channel("mail", "email", {"to": ("a@example.com",), "from": "b@example.com"})),
    ]
    for notifier, channel in channels:
        text = json.dumps(notifier.build_payloads(channel, notification), ensure_ascii=False)
        for leak in ("wiki-user", "wikipass", "srcpass", "tk999", *LEAKS):
            assert leak not in text, f"{leak!r} reached {channel.type}"
        assert "https://grafana.example.com/d?orgId=1&" in text and "token=…" in text  # still a working link


def test_a_runbook_with_credentials_is_kept_without_them_and_the_alarm_description_is_clean():
    config = parse_config(
        f"""
checks:
  - name: api
    url: "{URL}"
    runbook: "https://wiki-user:wikipass@wiki.example.com/rb?page=7"
"""
    )
    [check] = config.checks
    assert check.runbook == "https://wiki.example.com/rb?page=7"
    alarm_spec = alarms.desired_alarm(
        check, namespace="UptimeRelay", topic_arn="arn:t", prefix="uptime-relay"
    )
    description = alarm_spec["AlarmDescription"]
    assert "https://api.example.com/health?token=…&region=…" in description
    assert "wikipass" not in description
    assert_clean(description)


# ------------------------------------------------------------------------------- probe logs
def test_the_probe_log_shows_target_and_final_url_without_credentials_or_redirect_codes():
    routes = {
        "/login?token=abc123tok": redirect("/landing?code=SSO-CODE-777&state=xyz"),
        "/landing?code=SSO-CODE-777&state=xyz": http(200, "ok"),
    }
    with Target(routes=routes) as t:
        url = t.url("/login?token=abc123tok").replace("http://", "http://probe-user:hunter2pass@")
        [result] = run_checks([Check(name="api", url=url, timeout_s=5.0)])

    fields = log_fields(result)
    assert result.ok
    assert fields["target"] == t.url("/login?token=…")
    assert fields["final_url"] == t.url("/landing?code=…&state=…")
    text = json.dumps(fields)
    assert_clean(text)
    assert "SSO-CODE-777" not in text and "xyz" not in text


def test_a_failing_redirect_names_the_hop_without_its_query():
    with Target(routes={"/a": redirect("ftp://user:pw@files.example.com/x?code=SSO-CODE-777")}) as t:
        [result] = run_checks([Check(name="api", url=t.url("/a"), timeout_s=5.0, retries=0)])

    assert not result.ok
    assert "SSO-CODE-777" not in result.error and "user:pw" not in result.error
