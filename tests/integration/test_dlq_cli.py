"""``uptime-relay dlq`` against SQS in a moto server: the queue found from the stack's
NotificationDeadLetterQueueUrl output, and AWS errors as one clear line (exit 2), never a traceback.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from uptime_relay.adapters.queue import SqsDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.notifiers.base import DeliveryError, Notification, NotificationKind
from uptime_relay_tools.cli import main
from uptime_relay_tools.testing.fake_notifiers import FakeNotifier
from uptime_relay_tools.testing.receivers import HttpReceiver

pytestmark = pytest.mark.integration

ALERT = Alert(
    source=AlertSource.CLOUDWATCH,
    id="arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-api",
    name="uptime-api",
    state=AlertState.ALARM,
    reason="Threshold Crossed",
    time=datetime(2026, 11, 20, 10, 15, tzinfo=UTC),
    labels={"check": "api"},
)


@pytest.fixture
def stack(aws):
    """A stack with the queue output template.yaml declares; returns (name, queue url)."""
    name = f"uptime-relay-{uuid.uuid4().hex[:6]}"
    template = {
        "Resources": {"Dlq": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"NotificationDeadLetterQueueUrl": {"Value": {"Ref": "Dlq"}}},
    }
    aws("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    (described,) = aws("cloudformation").describe_stacks(StackName=name)["Stacks"]
    return name, described["Outputs"][0]["OutputValue"]


def dead_letter_one(aws, queue_url: str, hook: str) -> None:
    config = parse_config(f"channels:\n  ops: {{type: slack, webhook_url: '{hook}'}}\n")
    slack = FakeNotifier("slack")
    slack.fail_next(DeliveryError("HTTP 404 no_service", permanent=True, status=404))
    dispatcher = Dispatcher(
        config, {"slack": slack}, StaticSecrets(), SqsDeadLetters(queue_url, client=aws("sqs"))
    )
    note = Notification(NotificationKind.TRIGGER, (ALERT,), incident_id="inc-1", opened_at=ALERT.time)
    assert dispatcher.deliver("ops", note).dead_lettered


def test_dlq_list_finds_the_queue_from_the_stack(aws, moto_endpoint, stack, monkeypatch, capsys):
    monkeypatch.delenv("DLQ_URL", raising=False)
    name, queue_url = stack
    dead_letter_one(aws, queue_url, "http://127.0.0.1:9/hook")
    code = main(["dlq", "list", "--stack", name, "--endpoint-url", moto_endpoint, "--region", "us-east-1"])
    out = capsys.readouterr().out
    assert code == 0
    assert "channel=ops" in out and "HTTP 404 no_service" in out and "1 record(s)" in out


def test_dlq_replay_through_the_stack_delivers_and_empties_the_queue(
    aws, moto_endpoint, stack, tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("DLQ_URL", raising=False)
    monkeypatch.delenv("TABLE_NAME", raising=False)
    name, queue_url = stack
    with HttpReceiver() as slack:
        hook = f"{slack.url}/hook"
        dead_letter_one(aws, queue_url, hook)
        config = tmp_path / "uptime.yaml"
        config.write_text(f"channels:\n  ops: {{type: slack, webhook_url: '{hook}'}}\n")
        code = main(
            ["dlq", "replay", "--stack", name, "--endpoint-url", moto_endpoint, "--config", str(config)]
        )
        assert code == 0 and len(slack.to("/hook")) == 1
    assert "1 replayed, 0 kept" in capsys.readouterr().out
    assert main(["dlq", "list", "--queue-url", queue_url, "--endpoint-url", moto_endpoint]) == 0
    assert "0 record(s)" in capsys.readouterr().out


def test_a_missing_queue_is_one_line_and_exit_2(aws, moto_endpoint, capsys):
    missing = f"{moto_endpoint}/123456789012/no-such-queue"
    code = main(["dlq", "list", "--queue-url", missing, "--endpoint-url", moto_endpoint])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "no-such-queue" in err and "NonExistentQueue" in err


def test_a_missing_stack_is_one_line_and_exit_2(aws, moto_endpoint, monkeypatch, capsys):
    monkeypatch.delenv("DLQ_URL", raising=False)
    code = main(["dlq", "list", "--stack", "no-such-stack", "--endpoint-url", moto_endpoint])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no-such-stack" in err


def test_an_unreachable_endpoint_is_one_line_and_exit_2(moto_endpoint, monkeypatch, capsys):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's own retries only slow the test down
    code = main(
        [
            "dlq",
            "list",
            "--queue-url",
            "http://127.0.0.1:9/123456789012/q",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "127.0.0.1:9" in err
