"""The actions Lambda (Function URL) and the incidents CLI against DynamoDB in a moto server.

GIVEN the incident table as template.yaml declares it and an open incident in it, WHEN Slack,
an email link or the CLI acts on it through the real handler / command, THEN the DynamoDB item
changes exactly once, and forged or replayed requests leave it untouched.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import logging
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from uptime_relay.adapters.incidents import DynamoIncidentStore, create_table
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.incident import Action, OpeningPlan, Transition, open_incident
from uptime_relay.security import make_ack_token, slack_signature
from uptime_relay_tools.cli import build_parser
from uptime_relay_tools.cli import incidents as incidents_cli
from uptime_relay_tools.local.functions import LambdaContext, function_url_event
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SIGNING = "slack-signing-secret-for-tests"
ACK_SECRET = "ack-secret-for-tests"


def load_app():
    path = ROOT / "functions" / "actions" / "app.py"
    spec = importlib.util.spec_from_file_location("uptime_relay_fn_actions_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def table(aws):
    name = f"uptime-relay-{uuid.uuid4().hex[:8]}"
    create_table(aws("dynamodb"), name)
    return name


@pytest.fixture
def store(aws, table):
    return DynamoIncidentStore(table, client=aws("dynamodb"))


@pytest.fixture
def app(table, tmp_path, monkeypatch):
    config = tmp_path / "uptime.yaml"
    config.write_text("slack:\n  signing_secret: env:SLACK_SIGNING_SECRET\n")
    monkeypatch.setenv("UPTIME_CONFIG", str(config))
    monkeypatch.setenv("TABLE_NAME", table)
    monkeypatch.setenv("ACK_SECRET_REF", "env:ACK_SECRET")
    monkeypatch.setenv("ACK_SECRET", ACK_SECRET)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "uptime-relay-test")
    monkeypatch.setenv("ACTIONS_URL", "http://127.0.0.1:9")
    package_logger = logging.getLogger("uptime_relay")
    saved = (package_logger.handlers[:], package_logger.propagate, package_logger.level)
    module = load_app()  # points the package logger at Powertools' handler: undone below
    module._deps.cache_clear()
    yield module
    package_logger.handlers[:], package_logger.propagate, package_logger.level = saved


def seed(store, alarm="api"):
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    alert = Alert(
        source=AlertSource.CLOUDWATCH,
        id=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-{alarm}",
        name=f"uptime-{alarm}",
        state=AlertState.ALARM,
        reason="Threshold Crossed",
        time=at,
        labels={"check": alarm},
    )

    class Cursor:
        step, round, due_at = 1, 0, at + timedelta(minutes=10)

    incident = open_incident(
        alert, OpeningPlan(name=f"uptime-{alarm}", check=alarm, policy="critical", cursor=Cursor())
    )
    assert store.commit(Transition(Action.OPENED, alert, "seeded", incident=incident))
    return incident


def slack_event(action_id, incident_id, *, secret=SIGNING, ts=None, base64_body=True):
    payload = {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "alice"},
        "actions": [{"action_id": action_id, "value": incident_id}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(ts if ts is not None else datetime.now(UTC).timestamp()))
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": slack_signature(secret, ts, body),
    }
    event = function_url_event("POST", "/slack/actions", headers, body)
    if base64_body:  # what a Function URL sends for form posts
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    return event


def invoke(app, event):
    return app.lambda_handler(event, LambdaContext("uptime-relay-actions"))


def test_a_slack_button_through_the_function_url_acknowledges_in_dynamodb(app, store):
    incident = seed(store)
    result = invoke(app, slack_event("ack", incident.id))
    assert result["statusCode"] == 200
    after = store.get(incident.id)
    assert after.status == "acknowledged" and after.acknowledged_by == "alice" and after.due_at is None
    assert store.due(after.opened_at + timedelta(hours=1)) == []  # off the escalation index


def test_a_plain_text_body_is_handled_too(app, store):
    incident = seed(store)
    assert invoke(app, slack_event("resolve", incident.id, base64_body=False))["statusCode"] == 200
    assert store.get(incident.id).status == "resolved"


def test_a_forged_slack_request_changes_nothing_in_dynamodb(app, store):
    incident = seed(store)
    before = store.get(incident.id)
    assert invoke(app, slack_event("resolve", incident.id, secret="guess"))["statusCode"] == 401
    stale = slack_event("resolve", incident.id, ts=datetime.now(UTC).timestamp() - 301)
    assert invoke(app, stale)["statusCode"] == 401
    assert store.get(incident.id) == before


def test_an_email_link_works_once_across_containers(app, store):
    incident = seed(store)
    token = make_ack_token(ACK_SECRET, incident.id, datetime.now(UTC) + timedelta(hours=1))
    page = invoke(app, function_url_event("GET", f"/ack/{token}", {}, b""))
    assert page["statusCode"] == 200 and "text/html" in page["headers"]["Content-Type"]
    assert f'action="/ack/{token}"' in page["body"] and store.get(incident.id).status == "open"
    event = function_url_event(
        "POST", f"/ack/{token}", {"content-type": "application/x-www-form-urlencoded"}, b""
    )
    first = invoke(app, event)
    assert first["statusCode"] == 200 and "text/html" in first["headers"]["Content-Type"]
    assert store.get(incident.id).status == "acknowledged"
    app._deps.cache_clear()  # a fresh container: the used-token record lives in DynamoDB
    store.resolve(incident.id, by="alarm", via="alarm", at=datetime.now(UTC))
    before = store.get(incident.id)
    assert invoke(app, event)["statusCode"] == 403
    assert store.get(incident.id) == before


def test_the_function_learns_its_own_url_for_ack_links(app, monkeypatch):
    import os

    monkeypatch.setenv("ACTIONS_URL", "")
    event = function_url_event("GET", "/", {"host": "abc123.lambda-url.us-east-1.on.aws"}, b"")
    invoke(app, event)
    assert os.environ["ACTIONS_URL"] == "https://abc123.lambda-url.us-east-1.on.aws"


def test_unknown_routes_answer_404(app):
    assert invoke(app, function_url_event("GET", "/", {}, b""))["statusCode"] == 404


# --------------------------------------------------------------------------------------- CLI
def cli(*argv):
    args = build_parser().parse_args(["incidents", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = incidents_cli.run(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_the_cli_lists_acks_and_resolves_against_dynamodb(store, table, moto_endpoint):
    incident = seed(store)
    where = ["--table", table, "--endpoint-url", moto_endpoint]
    code, out, _ = cli("list", *where)
    assert code == 0 and incident.id in out and "open" in out
    code, out, _ = cli("ack", incident.id, "--by", "bob", *where)
    assert code == 0 and store.get(incident.id).acknowledged_by == "bob"
    assert cli("ack", incident.id, *where)[0] == 1
    code, out, _ = cli("list", "--json", *where)
    assert json.loads(out)["status"] == "acknowledged"
    assert cli("resolve", incident.id, "--by", "bob", *where)[0] == 0
    assert store.get(incident.id).status == "resolved"
    assert cli("resolve", incident.id, *where)[0] == 1
    assert cli("list", *where)[1].startswith("no open")


def test_the_cli_names_a_missing_table(moto_endpoint, aws):
    code, _, err = cli("list", "--table", "no-such-table", "--endpoint-url", moto_endpoint)
    assert code == 2 and "no-such-table" in err and "ResourceNotFound" in err


def test_an_alertmanager_webhook_through_the_function_opens_an_incident(app, store, monkeypatch):
    body = (ROOT / "events" / "alertmanager-webhook-firing.json").read_bytes()
    refused = invoke(
        app, function_url_event("POST", "/alertmanager", {"content-type": "application/json"}, body)
    )
    assert refused["statusCode"] == 401 and store.list() == []  # no token configured
    monkeypatch.setenv("ALERTMANAGER_TOKEN_REF", "env:AM_TOKEN")
    monkeypatch.setenv("AM_TOKEN", "am-token-for-tests")
    app._deps.cache_clear()
    headers = {"content-type": "application/json", "authorization": "Bearer am-token-for-tests"}
    result = invoke(app, function_url_event("POST", "/alertmanager", headers, body))
    assert result["statusCode"] == 200
    accepted = json.loads(result["body"])["accepted"]
    opened = store.list()
    assert accepted >= 1 and len(opened) == accepted
    assert all(i.status == "open" for i in opened)


def test_a_pagerduty_acknowledgement_through_the_function(app, store, monkeypatch):
    from uptime_relay.notifiers.pagerduty import dedup_key
    from uptime_relay.security import pagerduty_signature

    monkeypatch.setenv("PAGERDUTY_WEBHOOK_SECRET_REF", "env:PD_WEBHOOK_SECRET")
    monkeypatch.setenv("PD_WEBHOOK_SECRET", "pd-secret")
    app._deps.cache_clear()
    incident = seed(store)
    body = json.dumps(
        {
            "event": {
                "id": str(uuid.uuid4()),
                "occurred_at": datetime.now(UTC).isoformat(),
                "event_type": "incident.acknowledged",
                "agent": {"summary": "Tenex Engineer"},
                "data": {"id": "PGR0VU2", "type": "incident", "incident_key": dedup_key(incident.alert)},
            }
        }
    ).encode()
    forged = function_url_event(
        "POST", "/pagerduty", {"x-pagerduty-signature": pagerduty_signature("x", body)}, body
    )
    assert invoke(app, forged)["statusCode"] == 401
    assert store.get(incident.id).status == "open"
    signed = function_url_event(
        "POST", "/pagerduty", {"x-pagerduty-signature": pagerduty_signature("pd-secret", body)}, body
    )
    assert invoke(app, signed)["statusCode"] == 200
    after = store.get(incident.id)
    assert after.status == "acknowledged" and after.acknowledged_by == "Tenex Engineer"
    assert after.timeline[-1].detail == "by Tenex Engineer via pagerduty"


def test_a_replayed_pagerduty_event_is_applied_once_across_containers(app, store, table, aws, monkeypatch):
    """GIVEN a PagerDuty resolve applied through the function WHEN the same signed body arrives again
    at a fresh container THEN its id, recorded in DynamoDB, refuses it: 200 "duplicate event"."""
    from uptime_relay.notifiers.pagerduty import dedup_key
    from uptime_relay.security import pagerduty_signature

    monkeypatch.setenv("PAGERDUTY_WEBHOOK_SECRET_REF", "env:PD_WEBHOOK_SECRET")
    monkeypatch.setenv("PD_WEBHOOK_SECRET", "pd-secret")
    app._deps.cache_clear()
    first = seed(store)
    event_id = str(uuid.uuid4())
    body = json.dumps(
        {
            "event": {
                "id": event_id,
                "event_type": "incident.resolved",
                "resource_type": "incident",
                "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "agent": {"id": "PLH1HKV", "summary": "Tenex Engineer", "type": "user_reference"},
                "client": None,
                "data": {"id": "PGR0VU2", "type": "incident", "incident_key": dedup_key(first.alert)},
            }
        }
    ).encode()
    signed = function_url_event(
        "POST", "/pagerduty", {"x-pagerduty-signature": pagerduty_signature("pd-secret", body)}, body
    )
    assert invoke(app, signed)["statusCode"] == 200
    assert store.get(first.id).status == "resolved"
    record = aws("dynamodb").get_item(TableName=table, Key={"pk": {"S": f"PDEVENT#{event_id}"}})
    assert "Item" in record
    before = store.get(first.id)
    app._deps.cache_clear()  # a fresh container: nothing remembered in memory
    replay = invoke(app, signed)
    assert replay["statusCode"] == 200 and json.loads(replay["body"])["result"] == "duplicate event"
    assert store.get(first.id) == before


def test_the_cli_finds_the_table_from_the_stack_output(aws, moto_endpoint, monkeypatch):
    monkeypatch.delenv("TABLE_NAME", raising=False)
    stack = f"uptime-relay-{uuid.uuid4().hex[:6]}"
    template = {
        "Resources": {
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {  # the key and the listing index `incidents list` queries (template.yaml)
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [
                        {"AttributeName": "pk", "AttributeType": "S"},
                        {"AttributeName": "list_pk", "AttributeType": "S"},
                        {"AttributeName": "list_at", "AttributeType": "N"},
                    ],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": "listing",
                            "KeySchema": [
                                {"AttributeName": "list_pk", "KeyType": "HASH"},
                                {"AttributeName": "list_at", "KeyType": "RANGE"},
                            ],
                            "Projection": {"ProjectionType": "ALL"},
                        }
                    ],
                },
            }
        },
        "Outputs": {"TableName": {"Value": {"Ref": "Table"}}},
    }
    aws("cloudformation").create_stack(StackName=stack, TemplateBody=json.dumps(template))
    outputs = aws("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    table = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "TableName")
    incident = seed(DynamoIncidentStore(table, client=aws("dynamodb")))
    code, out, _ = cli("list", "--stack", stack, "--endpoint-url", moto_endpoint)
    assert code == 0 and incident.id in out
    code, _, err = cli("list", "--stack", "no-such-stack", "--endpoint-url", moto_endpoint)
    assert code == 2 and "no-such-stack" in err


class RecordingLambda:
    """The Lambda API's Invoke, recorded (moto would need Docker to run a function)."""

    def __init__(self):
        self.calls = []

    def invoke(self, **kwargs):
        self.calls.append(kwargs)
        return {"StatusCode": 202}


def test_a_slack_click_hands_its_follow_ups_to_an_asynchronous_invocation(app, store, tmp_path, monkeypatch):
    with HttpReceiver() as pagerduty:
        config = tmp_path / "uptime.yaml"
        config.write_text(
            "slack:\n  signing_secret: env:SLACK_SIGNING_SECRET\n"
            "channels:\n"
            f"  pd-primary: {{type: pagerduty, routing_key: r0000000000000000000000000000000,"
            f" events_url: '{pagerduty.url}/v2/enqueue'}}\n"
            "routes:\n  - notify: [pd-primary]\n"
        )
        monkeypatch.setenv("UPTIME_CONFIG", str(config))
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "uptime-relay-actions")
        app._deps.cache_clear()
        app._patient_notifier.cache_clear()
        lam = RecordingLambda()
        app._deps().follow_up_runner = app._self_invoker("uptime-relay-actions", client=lam)
        incident = seed(store)
        store.set_handles(incident.id, "pd-primary", {"dedup_key": "uptime-relay:k1"})

        assert invoke(app, slack_event("ack", incident.id))["statusCode"] == 200
        assert store.get(incident.id).status == "acknowledged"
        assert pagerduty.requests == []  # not yet: the answer did not wait for PagerDuty
        (call,) = lam.calls
        assert call["FunctionName"] == "uptime-relay-actions" and call["InvocationType"] == "Event"

        result = invoke(app, json.loads(call["Payload"]))  # Lambda runs the asynchronous event
        assert result == {"followed_up": 1}
        (event,) = [r.json() for r in pagerduty.to("/v2/enqueue")]
    from uptime_relay.notifiers.pagerduty import dedup_key

    assert event["event_action"] == "acknowledge" and event["dedup_key"] == dedup_key(incident.alert)
    app._patient_notifier.cache_clear()


def test_a_cli_ack_dead_letters_a_refused_follow_up_on_the_stacks_queue(
    aws, moto_endpoint, tmp_path, monkeypatch
):
    monkeypatch.delenv("TABLE_NAME", raising=False)
    monkeypatch.delenv("DLQ_URL", raising=False)
    stack = f"uptime-relay-{uuid.uuid4().hex[:6]}"
    template = {
        "Resources": {
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {  # the key and the listing index `incidents list` queries (template.yaml)
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [
                        {"AttributeName": "pk", "AttributeType": "S"},
                        {"AttributeName": "list_pk", "AttributeType": "S"},
                        {"AttributeName": "list_at", "AttributeType": "N"},
                    ],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": "listing",
                            "KeySchema": [
                                {"AttributeName": "list_pk", "KeyType": "HASH"},
                                {"AttributeName": "list_at", "KeyType": "RANGE"},
                            ],
                            "Projection": {"ProjectionType": "ALL"},
                        }
                    ],
                },
            },
            "Dlq": {"Type": "AWS::SQS::Queue"},
        },
        "Outputs": {
            "TableName": {"Value": {"Ref": "Table"}},
            "NotificationDeadLetterQueueUrl": {"Value": {"Ref": "Dlq"}},
        },
    }
    aws("cloudformation").create_stack(StackName=stack, TemplateBody=json.dumps(template))
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in aws("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    }
    store = DynamoIncidentStore(outputs["TableName"], client=aws("dynamodb"))
    incident = seed(store)
    store.set_handles(incident.id, "pd-primary", {"dedup_key": "k"})
    with HttpReceiver(Reply(400, '{"status":"invalid event"}')) as pagerduty:
        config = tmp_path / "uptime.yaml"
        config.write_text(
            "channels:\n"
            f"  pd-primary: {{type: pagerduty, routing_key: r0000000000000000000000000000000,"
            f" events_url: '{pagerduty.url}/v2/enqueue'}}\n"
            "routes:\n  - notify: [pd-primary]\n"
        )
        code, out, err = cli(
            "ack",
            incident.id,
            "--by",
            "bob",
            "--stack",
            stack,
            "--endpoint-url",
            moto_endpoint,
            "--config",
            str(config),
        )
        assert len(pagerduty.to("/v2/enqueue")) == 1
    assert code == 0 and "acknowledged by bob" in out
    assert "could not tell pd-primary" in err and "dead-letter queue" in err
    assert store.get(incident.id).status == "acknowledged"
    messages = aws("sqs").receive_message(QueueUrl=outputs["NotificationDeadLetterQueueUrl"])["Messages"]
    assert "pd-primary" in messages[0]["Body"]


class SteppingClock:
    """A clock whose sleep moves time on at once: waits are recorded, never spent."""

    def __init__(self):
        self.at = datetime.now(UTC)
        self.slept: list[float] = []

    def now(self):
        return self.at

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)


def test_an_alertmanager_delivery_that_cannot_finish_before_the_timeout_is_kept_for_redelivery(
    app, store, aws, tmp_path, monkeypatch
):
    """(Until issue 13 this send was dead-lettered; now a transient failure is kept for the
    escalation sweep's automatic redelivery instead.)"""
    from uptime_relay import clock

    queue_url = aws("sqs").create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    monkeypatch.setenv("DLQ_URL", queue_url)
    monkeypatch.setenv("ALERTMANAGER_TOKEN_REF", "env:AM_TOKEN")
    monkeypatch.setenv("AM_TOKEN", "am-token-for-tests")
    body = (ROOT / "events" / "alertmanager-webhook-firing.json").read_bytes()
    headers = {"content-type": "application/json", "authorization": "Bearer am-token-for-tests"}
    # Slack asks to come back in 10 s; the function (Timeout 15 s) cannot wait that long and
    # still finish: the message is kept for redelivery instead of the function being killed
    with HttpReceiver(Reply(429, "rate_limited", {"Retry-After": "10"})) as slack:
        config = tmp_path / "uptime.yaml"
        config.write_text(
            f"channels:\n  ops: {{type: slack, webhook_url: '{slack.url}/hook'}}\nroutes:\n  - notify: [ops]\n"
        )
        monkeypatch.setenv("UPTIME_CONFIG", str(config))
        app._deps.cache_clear()
        fake = SteppingClock()
        previous = clock.install(fake)
        try:
            context = LambdaContext("uptime-relay-actions", timeout_s=15.0)
            result = app.lambda_handler(function_url_event("POST", "/alertmanager", headers, body), context)
        finally:
            clock.install(previous)
        assert result["statusCode"] == 200
        assert len(slack.to("/hook")) == 1  # tried once, not again after a 10 s wait
    assert fake.slept == []
    assert aws("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []) == []
    assert all(i.status == "open" for i in store.list())
    pending = [p for i in store.list() for p in store.pending_sends(i.id)]
    assert pending and {p.channel for p in pending} == {"ops"}
    assert all("no time left" in p.error and p.kind == "trigger" for p in pending)


def test_a_follow_up_invocation_does_not_wait_past_its_own_timeout(app, store, aws, tmp_path, monkeypatch):
    """GIVEN a Slack click's follow-up running in its asynchronous invocation with 9 s left
    WHEN PagerDuty asks to come back in 2 s (the wait and what follows would run past the timeout)
    THEN it does not wait to be killed (and retried by Lambda, paging twice): the acknowledge is
    kept for automatic redelivery (not dead-lettered), saying there was no time left."""
    from uptime_relay import clock

    queue_url = aws("sqs").create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    monkeypatch.setenv("DLQ_URL", queue_url)
    with HttpReceiver(Reply(429, '{"status":"throttled"}', {"Retry-After": "2"})) as pagerduty:
        config = tmp_path / "uptime.yaml"
        config.write_text(
            "slack:\n  signing_secret: env:SLACK_SIGNING_SECRET\n"
            "channels:\n"
            f"  pd-primary: {{type: pagerduty, routing_key: r0000000000000000000000000000000,"
            f" events_url: '{pagerduty.url}/v2/enqueue'}}\n"
            "routes:\n  - notify: [pd-primary]\n"
        )
        monkeypatch.setenv("UPTIME_CONFIG", str(config))
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "uptime-relay-actions")
        app._deps.cache_clear()
        app._patient_notifier.cache_clear()
        lam = RecordingLambda()
        app._deps().follow_up_runner = app._self_invoker("uptime-relay-actions", client=lam)
        incident = seed(store)
        store.set_handles(incident.id, "pd-primary", {"dedup_key": "uptime-relay:k1"})
        assert invoke(app, slack_event("ack", incident.id))["statusCode"] == 200
        (call,) = lam.calls
        fake = SteppingClock()
        previous = clock.install(fake)
        try:
            context = LambdaContext("uptime-relay-actions", timeout_s=9.0)
            result = app.lambda_handler(json.loads(call["Payload"]), context)
        finally:
            clock.install(previous)
            app._patient_notifier.cache_clear()
        assert result == {"followed_up": 1}
        assert len(pagerduty.to("/v2/enqueue")) == 1  # tried once, no 2 s wait
    assert fake.slept == []
    (pending,) = store.pending_sends(incident.id)
    assert (pending.kind, pending.channel) == (
        "acknowledge",
        "pd-primary",
    ) and "no time left" in pending.error
    assert aws("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []) == []
