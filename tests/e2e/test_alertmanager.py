"""A real Alertmanager posting its webhook to the local stack's /alertmanager route."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.request

import pytest
from local_e2e import SLACK_PATH, pd_events, slack_messages, wait_for, write_config
from uptime_relay_tools.testing.receivers import Reply

pytestmark = pytest.mark.e2e

BINARY = shutil.which("alertmanager") or shutil.which("prometheus-alertmanager")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def alertmanager(tmp_path):
    """Start Alertmanager with a webhook receiver; yields (api base URL, set_webhook(url))."""
    if BINARY is None:
        pytest.skip("Alertmanager is not installed (apt-get install prometheus-alertmanager); CI installs it")
    processes: list[subprocess.Popen] = []

    def start(webhook_url: str) -> str:
        port = free_port()
        config = tmp_path / "alertmanager.yml"
        config.write_text(
            json.dumps(
                {
                    "route": {
                        "receiver": "uptime-relay",
                        "group_by": ["alertname"],
                        "group_wait": "0s",
                        "group_interval": "1s",
                        "repeat_interval": "1h",
                    },
                    "receivers": [
                        {
                            "name": "uptime-relay",
                            "webhook_configs": [{"url": webhook_url, "send_resolved": True}],
                        }
                    ],
                }
            )
        )
        process = subprocess.Popen(
            [
                BINARY,
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_ok(f"{base}/-/ready"), 20, "Alertmanager to be ready")
        return base

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_an_alertmanager_alert_reaches_slack_and_pagerduty_through_the_local_stack(
    tmp_path, target, receiver, local_stack, alertmanager
):
    # GIVEN the local stack (critical alerts -> Slack and PagerDuty) and Alertmanager sending to it
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver)
    stack = local_stack(config, minutes=1)
    api = alertmanager(f"{stack.actions_url}/alertmanager")
    # WHEN an alert is posted to Alertmanager's v2 API
    alert = [
        {
            "labels": {"alertname": "HighErrorRate", "severity": "critical", "service": "checkout"},
            "annotations": {"summary": "More than 5% of checkout requests fail"},
            "generatorURL": "http://prometheus.invalid/graph",
        }
    ]
    request = urllib.request.Request(
        f"{api}/api/v2/alerts",
        data=json.dumps(alert).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    # THEN Alertmanager's webhook reaches /alertmanager and the relay pages Slack and PagerDuty
    wait_for(lambda: slack_messages(receiver) and pd_events(receiver), 30, "the Slack message and PD event")
    assert "HighErrorRate" in json.dumps(slack_messages(receiver)[0])
    (event,) = pd_events(receiver)
    assert event["event_action"] == "trigger"
    assert "checkout" in json.dumps(event)


def notification_dead_letters(stack) -> list[dict]:
    queue = stack.stack.outputs["NotificationDeadLetterQueueUrl"]
    reply = stack.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in reply.get("Messages", [])]


def test_an_alertmanager_alert_is_delivered_through_one_slack_429_not_dead_lettered(
    tmp_path, target, receiver, local_stack, alertmanager
):
    """GIVEN the local stack (simulated time running 300x fast) with Alertmanager sending to its
    /alertmanager, and a Slack webhook that answers one ``429 Retry-After: 1`` and then accepts
    WHEN an alert fires in Alertmanager
    THEN the Function URL invocation has its 15 real seconds: Slack is tried again after the
    second and gets the alert once, and nothing is left on the dead-letter queue."""
    receiver.script(SLACK_PATH, Reply(429, "rate_limited", {"Retry-After": "1"}))
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver)
    stack = local_stack(config, minutes=1)
    api = alertmanager(f"{stack.actions_url}/alertmanager")
    alert = [{"labels": {"alertname": "CheckoutLatency", "severity": "critical", "service": "checkout"}}]
    request = urllib.request.Request(
        f"{api}/api/v2/alerts",
        data=json.dumps(alert).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    wait_for(
        lambda: (
            (len(receiver.to(SLACK_PATH)) >= 2 and pd_events(receiver)) or notification_dead_letters(stack)
        ),
        30,
        "Slack to be tried twice, or a dead letter",
    )
    assert notification_dead_letters(stack) == []
    first, second = receiver.to(SLACK_PATH)
    assert first.body == second.body and "CheckoutLatency" in second.text  # the same message, retried
    assert [e["event_action"] for e in pd_events(receiver)] == ["trigger"]
