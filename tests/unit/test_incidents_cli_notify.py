"""`uptime-relay incidents ack|resolve` tells the incident's channels, like a Slack button does.

GIVEN an incident paged on PagerDuty, Slack and email (real notifiers, local HTTP/SMTP receivers),
WHEN someone acknowledges or resolves it from the terminal, THEN PagerDuty stops paging, Slack is
updated, and (on resolve) the mail goes out; a send that fails is dead-lettered, not lost.
"""

from __future__ import annotations

import argparse
import io
import json
from datetime import timedelta

import pytest
from test_actions_support import SIM_START, make_store, open_incident
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.domain.incident import TimelineEntry
from uptime_relay_tools.cli import build_parser
from uptime_relay_tools.cli import incidents as cli
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply, SmtpReceiver

NOW = SIM_START + timedelta(minutes=9)
ROUTING_KEY = "r0000000000000000000000000000000"


@pytest.fixture
def receiver():
    with HttpReceiver() as r:
        yield r


@pytest.fixture
def smtp():
    with SmtpReceiver() as s:
        yield s


@pytest.fixture
def config(tmp_path, receiver, smtp):
    path = tmp_path / "uptime.yaml"
    path.write_text(
        f"""
channels:
  pd-primary: {{type: pagerduty, routing_key: {ROUTING_KEY}, events_url: "{receiver.url}/pd"}}
  slack-critical: {{type: slack, webhook_url: "{receiver.url}/slack"}}
  oncall-email: {{type: email, to: [oncall@example.com], from: uptime@example.com,
                 smtp: {{host: 127.0.0.1, port: {smtp.port}}}}}
routes:
  - notify: [pd-primary, slack-critical, oncall-email]
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def store():
    return make_store()


@pytest.fixture
def dead_letters():
    return InMemoryDeadLetters()


def paged(store):
    incident = open_incident(store)
    for channel in ("pd-primary", "slack-critical", "oncall-email"):
        store.append_timeline(incident.id, TimelineEntry(SIM_START, "notified", "trigger sent", channel))
    return store.get(incident.id)


def run(store, dead_letters, *argv):
    args = build_parser().parse_args(["incidents", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(
        args,
        store_factory=lambda _args: store,
        out=out,
        err=err,
        now=NOW,
        dead_letters=dead_letters,
        secrets=StaticSecrets(),
    )
    return code, out.getvalue(), err.getvalue()


def test_a_cli_ack_acknowledges_in_pagerduty_and_updates_slack(store, config, receiver, smtp, dead_letters):
    incident = paged(store)
    code, out, err = run(store, dead_letters, "ack", incident.id, "--by", "bob", "--config", str(config))
    assert code == 0, err
    (pd,) = [r.json() for r in receiver.to("/pd")]
    assert pd["event_action"] == "acknowledge" and pd["routing_key"] == ROUTING_KEY
    (slack,) = [r.json() for r in receiver.to("/slack")]
    assert "bob" in json.dumps(slack)
    assert smtp.messages == []  # an acknowledgement needs no mail
    assert "told pd-primary" in out and "told slack-critical" in out
    told = [e.channel for e in store.get(incident.id).timeline if e.detail == "acknowledge sent"]
    assert told == ["pd-primary", "slack-critical"]
    assert dead_letters.records == []


def test_a_cli_resolve_tells_every_channel_that_was_paged(store, config, receiver, smtp, dead_letters):
    incident = paged(store)
    code, out, _ = run(store, dead_letters, "resolve", incident.id, "--by", "bob", "--config", str(config))
    assert code == 0 and "told oncall-email" in out
    assert [r.json()["event_action"] for r in receiver.to("/pd")] == ["resolve"]
    assert len(receiver.to("/slack")) == 1
    (mail,) = smtp.messages
    assert "RESOLVED" in mail["Subject"]


def test_no_notify_changes_the_state_only(store, config, receiver, smtp, dead_letters):
    incident = paged(store)
    code, _, _ = run(store, dead_letters, "resolve", incident.id, "--no-notify", "--config", str(config))
    assert code == 0 and store.get(incident.id).status == "resolved"
    assert receiver.requests == [] and smtp.messages == []


def test_a_channel_that_refuses_is_dead_lettered_and_the_ack_stands(
    store, config, receiver, smtp, dead_letters
):
    receiver.script("/pd", Reply(400, '{"status":"invalid event","message":"Event object is invalid"}'))
    incident = paged(store)
    code, _, err = run(store, dead_letters, "ack", incident.id, "--by", "bob", "--config", str(config))
    assert code == 0 and store.get(incident.id).status == "acknowledged"
    assert "could not tell pd-primary" in err
    (record,) = dead_letters.records
    assert record["channel"] == "pd-primary"
    assert any(
        e.kind == "delivery_failed" and e.channel == "pd-primary" for e in store.get(incident.id).timeline
    )


def test_json_lists_who_was_told(store, config, receiver, smtp, dead_letters):
    incident = paged(store)
    code, out, _ = run(
        store, dead_letters, "ack", incident.id, "--json", "--by", "bob", "--config", str(config)
    )
    assert code == 0
    result = json.loads(out)
    assert result["changed"] is True and result["status"] == "acknowledged"
    assert [(n["channel"], n["ok"]) for n in result["notified"]] == [
        ("pd-primary", True),
        ("slack-critical", True),
    ]


def test_without_a_readable_config_the_change_stands_and_it_says_so(store, tmp_path, dead_letters):
    incident = paged(store)
    missing = tmp_path / "nope.yaml"
    code, _, err = run(store, dead_letters, "ack", incident.id, "--config", str(missing))
    assert code == 0 and store.get(incident.id).status == "acknowledged"
    assert "channels not told" in err and "--no-notify" in err


def test_the_dead_letter_queue_is_named_by_flag_then_environment(monkeypatch):
    monkeypatch.setenv("DLQ_URL", "http://127.0.0.1:1/queue/from-env")
    monkeypatch.delenv("UPTIME_STACK", raising=False)
    flag = argparse.Namespace(dlq_url="http://127.0.0.1:1/queue/flag", stack=None)
    assert cli.resolve_dlq_url(flag) == "http://127.0.0.1:1/queue/flag"
    assert (
        cli.resolve_dlq_url(argparse.Namespace(dlq_url=None, stack=None))
        == "http://127.0.0.1:1/queue/from-env"
    )
    monkeypatch.delenv("DLQ_URL")
    assert cli.resolve_dlq_url(argparse.Namespace(dlq_url=None, stack=None)) is None
