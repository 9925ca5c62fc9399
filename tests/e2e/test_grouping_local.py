"""Route grouping, the storm guard and repeats through the whole local stack (probe -> alarms ->
SNS -> relay -> group records -> escalation sweep -> real Slack/PagerDuty/SMTP receivers)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import MINUTE_SECONDS
from local_e2e import PD_PATH, SLACK_PATH, pd_events, slack_messages
from uptime_relay_tools.local.demo import slack_button_request
from uptime_relay_tools.local.demo_target import DemoTarget, Outage
from uptime_relay_tools.local.runner import LocalStack

# Probe timeouts and deadlines run on the simulated clock: at 0.6 s a minute, 60 checks' 2 s
# timeouts are 20 ms of real time, room enough on a loaded CI machine (0.2 s would be 7 ms).
FLEET_MINUTE_SECONDS = 0.6

pytestmark = pytest.mark.e2e

CHECKS = 60


def grouping_config(
    path: Path, *, target: DemoTarget, receiver, smtp_port: int, checks: int, route: str
) -> Path:
    """``checks`` checks labelled team: web (1-of-1 alarms: they fail in the minute the target
    does), one route to Slack (webhook), PagerDuty and email with the given extra keys."""
    lines = [
        f"  - {{name: web-{i:02d}, url: '{target.url}/health?c={i}', timeout: 5s, "
        "labels: {team: web}, alarm: {datapoints: 1, evaluation_periods: 1}}"
        for i in range(checks)
    ]
    path.write_text(
        "checks:\n"
        + "\n".join(lines)
        + f"""
slack:
  signing_secret: e2e-signing-secret
channels:
  slack-web: {{type: slack, webhook_url: "{receiver.url}{SLACK_PATH}"}}
  pd-web: {{type: pagerduty, routing_key: e2e00000000000000000000000000000, events_url: "{receiver.url}{PD_PATH}"}}
  mail-web: {{type: email, to: [web@example.com], from: uptime@example.com, smtp: {{host: 127.0.0.1, port: {smtp_port}}}}}
routes:
  - match: {{team: web}}
    notify: [slack-web, pd-web, mail-web]
{route}""",
        encoding="utf-8",
    )
    return path


def start(
    config: Path,
    target: DemoTarget,
    *,
    minutes: int,
    outage: tuple[int, int],
    after_minute=None,
    minute_seconds: float = MINUTE_SECONDS,
):
    stack = LocalStack(
        config,
        minute_seconds=minute_seconds,
        minutes=minutes,
        http_port=0,
        quiet=True,
        stack_name=f"e2e-{uuid.uuid4().hex[:8]}",
        after_minute=after_minute,
    )
    target.outages = [Outage(timedelta(minutes=outage[0]), timedelta(minutes=outage[1]))]
    target.attach(stack.clock)
    return stack.start()


def titles(receiver) -> list[str]:
    return [m["blocks"][0]["text"]["text"] for m in slack_messages(receiver)]


def test_sixty_checks_of_one_team_page_once_per_channel_and_resolve_once(tmp_path, target, receiver, smtp):
    """GIVEN 60 checks labelled team: web on a route with group_by: [team] (Slack, PagerDuty, email)
    WHEN all 60 fail in the same minute and recover two minutes later
    THEN each channel gets one notification naming all 60, then one resolve; every check is its
    own incident, grouped, and resolved."""
    config = grouping_config(
        tmp_path / "c.yaml",
        target=target,
        receiver=receiver,
        smtp_port=smtp.port,
        checks=CHECKS,
        route="    group_by: [team]\n    group_wait: 30s\n",
    )
    stack = start(config, target, minutes=6, outage=(1, 3), minute_seconds=FLEET_MINUTE_SECONDS)
    try:
        stack.run()
        messages = slack_messages(receiver)
        assert len(messages) == 2
        assert titles(receiver)[0].endswith(f"[FIRING:{CHECKS}] team=web")
        assert "and 50 more" in json.dumps(messages[0])  # the first ten listed, then how many more
        assert "[RESOLVED" in titles(receiver)[1]
        events = pd_events(receiver)
        assert [e["event_action"] for e in events] == ["trigger", "resolve"]
        assert events[0]["dedup_key"] == events[1]["dedup_key"]
        assert events[0]["payload"]["custom_details"]["firing"] == CHECKS
        assert len(events[0]["payload"]["custom_details"]["members"]) == min(CHECKS, 50)
        subjects = [m["Subject"] for m in smtp.messages]
        assert len(subjects) == 2 and f"FIRING:{CHECKS}" in subjects[0] and "RESOLVED" in subjects[1]
        incidents = stack.incidents()
        assert len(incidents) == CHECKS and {i.status for i in incidents} == {"resolved"}
        assert len({i.group_id for i in incidents}) == 1
        assert all(any(e.kind == "grouped" for e in i.timeline) for i in incidents)
    finally:
        stack.stop()


def test_sixty_checks_without_group_by_trip_the_storm_guard(tmp_path, target, receiver, smtp):
    """GIVEN the same 60 checks on a route without group_by and the storm guard at 3 per minute
    (the default is 10; 3 keeps Slack's 1/s pacing of the single pages out of the test's time)
    WHEN all 60 fail in the same minute and recover
    THEN each channel gets at most threshold + 1 = 4 triggers (3 pages, then one storm summary
    naming how many), and every incident is recorded and resolved."""
    config = grouping_config(
        tmp_path / "c.yaml", target=target, receiver=receiver, smtp_port=smtp.port, checks=CHECKS, route=""
    )
    config.write_text(config.read_text() + "storm: {threshold: 3, window: 1m}\n")
    stack = start(config, target, minutes=6, outage=(1, 3), minute_seconds=FLEET_MINUTE_SECONDS)
    try:
        stack.run()
        slack_titles = titles(receiver)
        firing = [t for t in slack_titles if "[FIRING" in t]
        assert len(firing) <= 4, slack_titles
        assert any(t.endswith(f"[FIRING:{CHECKS - 3}] storm on route 1") for t in firing)
        triggers = [e for e in pd_events(receiver) if e["event_action"] == "trigger"]
        assert len(triggers) <= 4
        mail_triggers = [m for m in smtp.messages if "FIRING" in m["Subject"]]
        assert len(mail_triggers) <= 4
        incidents = stack.incidents()
        assert len(incidents) == CHECKS and {i.status for i in incidents} == {"resolved"}
        storm = [i for i in incidents if i.group_id]
        assert len(storm) == CHECKS - 3
        # every page that went out was resolved: 3 single resolves and the summary's
        resolves = [e for e in pd_events(receiver) if e["event_action"] == "resolve"]
        assert len(resolves) == len(triggers)
    finally:
        stack.stop()


def test_a_firing_group_is_repeated_every_ten_minutes_until_acknowledged(tmp_path, target, receiver, smtp):
    """GIVEN a route with group_by: [team], group_wait: 0s and repeat_interval: 10m
    WHEN its check stays down for half an hour and someone acknowledges the group at minute 25
    THEN the group's message goes out at once, again at minutes 11 and 21, and never after the
    acknowledgement; PagerDuty keeps one dedup_key and hears the acknowledgement."""
    pressed: list[int] = []

    def press(stack: LocalStack, minute: int) -> None:
        if minute == 25:
            (incident,) = stack.incidents(("open",))
            status, _ = slack_button_request(
                stack.actions_url, "e2e-signing-secret", incident.group_id, "ack", "alice"
            )
            pressed.append(status)

    config = grouping_config(
        tmp_path / "c.yaml",
        target=target,
        receiver=receiver,
        smtp_port=smtp.port,
        checks=1,
        route="    group_by: [team]\n    group_wait: 0s\n    repeat_interval: 10m\n",
    )
    stack = start(config, target, minutes=36, outage=(1, 60), after_minute=press)
    try:
        stack.run()
        assert pressed == [200]
        events = pd_events(receiver)
        assert [e["event_action"] for e in events] == ["trigger", "trigger", "trigger", "acknowledge"]
        assert len({e["dedup_key"] for e in events}) == 1
        mails = [m["Subject"] for m in smtp.messages]
        assert len(mails) == 3 and all("FIRING" in s for s in mails)
        slack = titles(receiver)
        assert sum("[FIRING" in t for t in slack) == 3 and "ACKNOWLEDGED" in slack[-1]
        (incident,) = stack.incidents(("acknowledged",))
        assert "alice" in (incident.acknowledged_by or "")
    finally:
        stack.stop()
