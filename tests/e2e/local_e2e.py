"""Helpers for the local-stack e2e tests: a config whose channels point at local receivers."""

from __future__ import annotations

import time
from pathlib import Path

from uptime_relay_tools.testing.receivers import HttpReceiver

SLACK_PATH = "/services/T0/B0/e2e"
PD_PATH = "/v2/enqueue"


def write_config(
    path: Path,
    *,
    target_url: str,
    receiver: HttpReceiver,
    smtp_port: int | None = None,
    datapoints: int = 2,
    evaluation_periods: int = 3,
    escalation: str = "",
    pd_webhook_secret: str | None = None,
) -> Path:
    email = (
        f"  oncall-email: {{type: email, to: [oncall@example.com], from: uptime@example.com, "
        f"smtp: {{host: 127.0.0.1, port: {smtp_port}}}}}\n"
        if smtp_port
        else ""
    )
    notify = "[slack-critical, pd-primary" + (", oncall-email]" if smtp_port else "]")
    webhook = f", webhook_secret: {pd_webhook_secret}" if pd_webhook_secret else ""
    path.write_text(
        f"""
checks:
  - name: api
    url: {target_url}/health
    timeout: 2s
    labels: {{severity: critical, service: api}}
    alarm: {{datapoints: {datapoints}, evaluation_periods: {evaluation_periods}}}
slack:
  signing_secret: e2e-signing-secret
channels:
  slack-critical: {{type: slack, webhook_url: "{receiver.url}{SLACK_PATH}"}}
  pd-primary: {{type: pagerduty, routing_key: e2e00000000000000000000000000000, events_url: "{receiver.url}{PD_PATH}"{webhook}}}
{email}routes:
  - match: {{severity: critical}}
    notify: {notify}
{escalation}""",
        encoding="utf-8",
    )
    return path


def pd_events(receiver: HttpReceiver) -> list[dict]:
    return [r.json() for r in receiver.to(PD_PATH)]


def slack_messages(receiver: HttpReceiver) -> list[dict]:
    return [r.json() for r in receiver.to(SLACK_PATH)]


def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)
