"""Heartbeat checks through the whole local stack: a job pings the HTTP port's /ping route; the
probe judges the pings each simulated minute; the alarm, the relay and the channels do the rest."""

from __future__ import annotations

import contextlib
import io
import json
import urllib.error
import urllib.request

import pytest
from local_e2e import SLACK_PATH, pd_events, slack_messages
from uptime_relay_tools.cli import main
from uptime_relay_tools.local.alarms import ALARM, OK

pytestmark = pytest.mark.e2e

TOKEN = "e2e-heartbeat-token-0123456789"


def write_config(path, receiver):
    path.write_text(
        f"""
checks:
  - name: backup
    heartbeat: {{period: 2m, grace: 1m}}
    token: {TOKEN}
    labels: {{severity: critical}}
channels:
  slack-critical: {{type: slack, webhook_url: "{receiver.url}{SLACK_PATH}"}}
  pd-primary: {{type: pagerduty, routing_key: e2e00000000000000000000000000000, events_url: "{receiver.url}/v2/enqueue"}}
routes:
  - match: {{severity: critical}}
    notify: [slack-critical, pd-primary]
""",
        encoding="utf-8",
    )
    return path


def call(url: str, method: str = "GET") -> int:
    request = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def backup_transitions(stack) -> list[tuple[int, str]]:
    return [(m, t.new_state) for m, t in stack.transitions if t.alarm.name.endswith("-check-backup")]


def test_a_heartbeat_stays_quiet_while_pinged_pages_when_pings_stop_resolves_on_a_ping_and_pages_on_fail(
    tmp_path, receiver, local_stack
):
    """GIVEN a heartbeat (period 2m, grace 1m) whose job pings every simulated minute until 4:30
    WHEN the pings stop, one ping comes at 9:30 and a /fail at 11:30
    THEN nothing pages while it pings; it pages once the period and grace are over (minute 8),
    the page says when the last ping came, the ping resolves it (minute 10) and the /fail pages
    at the next minute (12)."""
    config = write_config(tmp_path / "c.yaml", receiver)
    answers: list[tuple[int, int]] = []

    def job(stack, minute: int) -> None:
        base = f"{stack.actions_url}/ping/backup/{TOKEN}"
        if minute <= 4 or minute == 9:
            answers.append((minute, call(base, "POST" if minute % 2 else "GET")))
        if minute == 11:
            answers.append((minute, call(base + "/fail")))
        if minute == 2:
            answers.append((minute, call(f"{stack.actions_url}/ping/backup/wrong-token-000000000000")))

    stack = local_stack(config, minutes=13)
    stack.after_minute = job
    stack.run()

    assert answers == [(0, 200), (1, 200), (2, 200), (2, 404), (3, 200), (4, 200), (9, 200), (11, 200)]
    assert [s for s in backup_transitions(stack) if s[1] in (ALARM, OK)][-3:] == [
        (8, ALARM),
        (10, OK),
        (12, ALARM),
    ]
    assert (0, ALARM) not in backup_transitions(stack) and all(
        m >= 8 for m, s in backup_transitions(stack) if s == ALARM
    )
    assert [e["event_action"] for e in pd_events(receiver)] == ["trigger", "resolve", "trigger"]
    first_page = json.dumps(slack_messages(receiver)[0])
    assert "Last ping: " in first_page and "UTC" in first_page and "no ping since" in first_page.lower()
    last_page = json.dumps(slack_messages(receiver)[-1])
    assert "reported a failure" in last_page


def test_heartbeat_url_prints_the_local_stacks_ping_url(tmp_path, receiver, local_stack):
    """GIVEN the local stack WHEN heartbeat-url is asked for its heartbeat check THEN it prints the
    HTTP port's /ping URL with the token, and that URL answers 200."""
    config = write_config(tmp_path / "c.yaml", receiver)
    stack = local_stack(config, minutes=1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            [
                "heartbeat-url",
                "backup",
                "--config",
                str(config),
                "--stack",
                stack.stack_name,
                "--endpoint-url",
                stack.endpoint,
            ]
        )
    assert code == 0
    url = out.getvalue().strip()
    assert url == f"{stack.actions_url}/ping/backup/{TOKEN}"
    assert call(url) == 200
