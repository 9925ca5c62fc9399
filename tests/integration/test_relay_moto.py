"""The relay Lambda handler against DynamoDB and SQS (moto server) and real HTTP receivers standing in
for Slack (bot token: messages updated and threaded) and the PagerDuty Events API."""

from __future__ import annotations

import importlib.util
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from uptime_relay.adapters.incidents import DynamoIncidentStore, create_table
from uptime_relay_tools.cli import main as cli_main
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply, SmtpReceiver
from uptime_relay_tools.testing.relay_kit import alarm_message, sns_event

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
TS = "1700000000.000100"
SES_SENDER = "relay@example.com"


def _reply(record):
    if record.path.startswith("/api/"):
        return Reply(200, {"ok": True, "channel": "C0ALERTS", "ts": TS})
    return Reply(202, {"status": "success", "message": "Event processed"})


class Context:
    function_name = "relay"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:relay"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def stack(aws, tmp_path, monkeypatch):
    receiver = HttpReceiver(default=_reply).start()
    smtp = SmtpReceiver().start()
    config = tmp_path / "uptime.yaml"
    config.write_text(
        f"""
checks:
  - name: api
    url: https://api.example.com/health
    labels: {{severity: critical}}
channels:
  slack-critical: {{type: slack, bot_token: env:SLACK_TOKEN, channel: "#alerts", api_url: "{receiver.url}/api"}}
  pd-primary: {{type: pagerduty, routing_key: env:PD_KEY, events_url: "{receiver.url}/pd"}}
  oncall-email: {{type: email, to: [oncall@example.com], from: alerts@example.com, smtp: {{host: 127.0.0.1, port: {smtp.port}}}}}
  ses-email: {{type: email, to: [lead@example.com], from: {SES_SENDER}, region: us-east-1}}
routes:
  - match: {{severity: critical}}
    notify: [pd-primary, slack-critical, oncall-email, ses-email]
"""
    )
    dynamodb, sqs, sesv2 = aws("dynamodb"), aws("sqs"), aws("sesv2")
    try:  # SES sends only from a verified identity
        sesv2.create_email_identity(EmailIdentity=SES_SENDER)
    except sesv2.exceptions.AlreadyExistsException:
        pass
    table = f"uptime-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb, table)
    queue_url = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for key, value in {
        "TABLE_NAME": table,
        "DLQ_URL": queue_url,
        "UPTIME_CONFIG": str(config),
        "SLACK_TOKEN": "xoxb-test-token",
        "PD_KEY": "0123456789abcdef0123456789abcdef",
        "POWERTOOLS_SERVICE_NAME": "uptime-relay",
        "POWERTOOLS_METRICS_NAMESPACE": "UptimeRelayTest",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    spec = importlib.util.spec_from_file_location("relay_app", ROOT / "functions/relay/app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)

    class Stack:
        pass

    s = Stack()
    s.app, s.receiver, s.sqs, s.queue_url, s.table, s.config = app, receiver, sqs, queue_url, table, config
    s.store = DynamoIncidentStore(table, client=dynamodb)
    s.invoke = lambda event: app.lambda_handler(event, Context())
    s.pd = lambda: receiver.to("/pd")
    s.posts = lambda: receiver.to("/api/chat.postMessage")
    s.smtp = smtp
    s.ses_sent = lambda: aws("ses").get_send_quota()["SentLast24Hours"]  # SES's own count, over HTTP
    yield s
    receiver.stop()
    smtp.stop()


def api(state, at):
    return alarm_message("uptime-api-availability", state, at, check="api")


def test_it_pages_once_for_a_duplicate_delivery(stack):
    event = sns_event(api("ALARM", T0), message_id="msg-1")
    stack.invoke(event)
    stack.invoke(event)  # SNS redelivers the same message
    stack.invoke(sns_event(api("ALARM", T0), message_id="msg-2"))  # the same change via another path
    assert len(stack.pd()) == 1 and len(stack.posts()) == 1
    assert stack.pd()[0].json()["event_action"] == "trigger"
    [incident] = stack.store.list()
    assert incident.handles["slack-critical"] == {"channel": "C0ALERTS", "ts": TS}
    # the SNS MessageId guard (Powertools Idempotency) shares the table
    keys = [i["pk"]["S"] for i in stack.store.client.scan(TableName=stack.table)["Items"]]
    assert sum("relay_record" in k for k in keys) == 2, keys


def test_an_ok_that_arrives_before_its_alarm_leaves_nothing_open(stack):
    stack.invoke(sns_event(api("OK", T0 + timedelta(minutes=9))))
    stack.invoke(sns_event(api("ALARM", T0)))
    assert stack.store.list() == [] and stack.pd() == [] and stack.posts() == []
    # the next real outage still pages, and its OK resolves on both channels, threading in Slack
    stack.invoke(sns_event(api("ALARM", T0 + timedelta(minutes=30))))
    stack.invoke(sns_event(api("OK", T0 + timedelta(minutes=40))))
    assert [r.json()["event_action"] for r in stack.pd()] == ["trigger", "resolve"]
    assert stack.pd()[0].json()["dedup_key"] == stack.pd()[1].json()["dedup_key"]
    assert len(stack.receiver.to("/api/chat.update")) == 1
    assert stack.store.list() == []


def test_a_429_then_success_delivers_once(stack):
    stack.receiver.script("/pd", Reply(429, {"status": "throttled"}, headers={"Retry-After": "1"}))
    stack.invoke(sns_event(api("ALARM", T0)))
    assert [r.json()["event_action"] for r in stack.pd()] == ["trigger", "trigger"]
    assert stack.sqs.receive_message(QueueUrl=stack.queue_url).get("Messages") is None
    kinds = [(e.kind, e.channel) for e in stack.store.list()[0].timeline]
    assert ("notified", "pd-primary") in kinds and ("delivery_failed", "pd-primary") not in kinds


def test_a_permanent_failure_lands_in_the_dlq_and_replay_delivers_it(stack, capsys):
    stack.receiver.script("/pd", Reply(400, {"status": "invalid event", "errors": ["bad"]}))
    stack.invoke(sns_event(api("ALARM", T0)))
    assert len(stack.pd()) == 1 and len(stack.posts()) == 1
    timeline = [(e.kind, e.channel) for e in stack.store.list()[0].timeline]
    assert ("dead_lettered", "pd-primary") in timeline

    assert cli_main(["dlq", "list", "--queue-url", stack.queue_url]) == 0
    listed = capsys.readouterr().out
    assert "channel=pd-primary" in listed and "uptime-api-availability [ALARM]" in listed

    code = cli_main(
        [
            "dlq",
            "replay",
            "--queue-url",
            stack.queue_url,
            "--config",
            str(stack.config),
            "--table",
            stack.table,
        ]
    )
    assert code == 0, capsys.readouterr().out
    assert [r.json()["event_action"] for r in stack.pd()] == ["trigger", "trigger"]
    assert stack.sqs.receive_message(QueueUrl=stack.queue_url).get("Messages") is None
    notes = [e.detail for e in stack.store.list()[0].timeline if e.channel == "pd-primary"]
    assert any("replayed" in n for n in notes)


def test_one_bad_record_does_not_lose_the_others(stack):
    good = sns_event(api("ALARM", T0))["Records"][0]
    junk = sns_event("this is not an alarm")["Records"][0]  # parsed as a fallback alert, still relayed
    result = stack.invoke({"Records": [junk, good]})
    assert result["records"] == 2
    assert len(stack.pd()) == 1
    assert json.dumps(result)


def test_insufficient_data_warns_slack_and_email_but_not_pagerduty(stack):
    stack.invoke(sns_event(api("ALARM", T0)))
    stack.invoke(sns_event(api("INSUFFICIENT_DATA", T0 + timedelta(minutes=2))))
    assert [r.json()["event_action"] for r in stack.pd()] == ["trigger"]
    assert len(stack.posts()) == 2  # the page, then the warning
    assert len(stack.smtp.messages) == 2
    assert "oncall@example.com" in stack.smtp.messages[1]["To"]
    kinds = [e.kind for e in stack.store.list()[0].timeline]
    assert "insufficient_data" in kinds


def test_an_alarm_is_e_mailed_through_ses_and_its_message_id_kept(stack):
    before = stack.ses_sent()

    stack.invoke(sns_event(api("ALARM", T0)))

    assert stack.ses_sent() > before
    [incident] = stack.store.list()
    assert incident.handles["ses-email"]["message_id"]
    assert ("notified", "ses-email") in [(e.kind, e.channel) for e in incident.timeline]


def test_a_grouped_slack_message_stays_firing_in_dynamodb_until_its_last_alert_resolves(stack):
    from uptime_relay_tools.testing.relay_kit import alertmanager_body

    def alert(n: int, status: str = "firing") -> dict:
        return {
            "labels": {"alertname": "HighErrorRate", "instance": f"api-{n}", "severity": "critical"},
            "startsAt": f"2026-11-20T10:0{n}:00Z",
            "endsAt": "2026-11-20T10:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "fingerprint": f"fp{n:014d}",
            "status": status,
        }

    stack.invoke(alertmanager_body([alert(1), alert(2)]))
    [post] = [p.json() for p in stack.posts()]
    ids = sorted(i.id for i in stack.store.list())
    [actions] = [b for b in post["blocks"] if b["type"] == "actions"]
    assert sorted(actions["elements"][0]["value"].split(",")) == ids
    assert all(sorted(i.handles["slack-critical"]["incidents"]) == ids for i in stack.store.list())

    stack.invoke(alertmanager_body([alert(1, "resolved"), alert(2)]))
    assert stack.receiver.to("/api/chat.update") == []
    assert "resolved, 1 still firing" in stack.posts()[-1].json()["text"]

    stack.invoke(alertmanager_body([alert(2, "resolved")], status="resolved"))
    [update] = [u.json() for u in stack.receiver.to("/api/chat.update")]
    assert update["ts"] == TS and update["text"].startswith("[RESOLVED")
    assert stack.store.list() == []
