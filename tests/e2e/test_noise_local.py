"""Noise control through the whole local stack: probe -> alarm -> SNS -> relay -> sweep -> receivers.

- ``api`` with ``depends_on: [db]``: both go down, only ``db`` pages; ``db`` recovers while ``api``
  stays down, then ``api`` pages, once.
- A check flipping every 2 minutes for 30 minutes produces exactly one flapping notification,
  and one "stable" notice after a quiet window.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from local_e2e import PD_PATH, SLACK_PATH, pd_events, slack_messages
from uptime_relay_tools.local.demo_target import DemoTarget, Outage

pytestmark = pytest.mark.e2e


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def channels(receiver) -> str:
    return f"""
channels:
  slack: {{type: slack, webhook_url: "{receiver.url}{SLACK_PATH}"}}
  pd: {{type: pagerduty, routing_key: e2e00000000000000000000000000000, events_url: "{receiver.url}{PD_PATH}"}}
routes:
  - match: {{severity: critical}}
    notify: [pd, slack]
"""


def test_a_dependency_outage_pages_only_the_dependency_then_the_dependent_once(
    tmp_path, target, receiver, local_stack
):
    # GIVEN db and api (depends_on: [db]) fail in the same minute; db recovers at minute 12, api at 20
    with DemoTarget() as db:
        config = write(
            tmp_path / "c.yaml",
            f"""
checks:
  - {{name: db, url: "{db.url}/health", timeout: 2s, labels: {{severity: p0}}}}
  - {{name: api, url: "{target.url}/health", timeout: 2s, labels: {{severity: p1}}, depends_on: [db]}}
"""
            + channels(receiver),
        )
        stack = local_stack(config, outage=(3, 20), minutes=24)
        db.outages = [Outage(timedelta(minutes=3), timedelta(minutes=12))]
        db.attach(stack.clock)
        # WHEN 24 simulated minutes play
        stack.run()
    events = pd_events(receiver)
    check_of = {e["dedup_key"]: e["payload"]["custom_details"]["check"] for e in events if "payload" in e}
    # THEN PagerDuty: db's trigger and resolve, and only then api's trigger (once) and resolve
    assert [(check_of[e["dedup_key"]], e["event_action"]) for e in events] == [
        ("db", "trigger"),
        ("db", "resolve"),
        ("api", "trigger"),
        ("api", "resolve"),
    ]
    assert all(e["payload"]["severity"] == "critical" for e in events if "payload" in e)  # p0 and p1
    assert len(slack_messages(receiver)) == 4
    (api,) = [i for i in stack.incidents() if i.check == "api"]
    assert any(e.kind == "inhibited" and e.detail.startswith("inhibited by db") for e in api.timeline)


def test_a_check_flipping_every_two_minutes_for_half_an_hour_sends_one_flapping_notification(
    tmp_path, target, receiver, local_stack
):
    # GIVEN a 1-of-1 check that is down 2 minutes, up 2 minutes, … for 30 minutes
    config = write(
        tmp_path / "c.yaml",
        f"""
checks:
  - name: api
    url: "{target.url}/health"
    timeout: 2s
    labels: {{severity: critical}}
    alarm: {{datapoints: 1, evaluation_periods: 1}}
    flapping: {{window: 10m, threshold: 4}}
"""
        + channels(receiver),
    )
    stack = local_stack(config, minutes=44)
    target.outages = [Outage(timedelta(minutes=m), timedelta(minutes=m + 2)) for m in range(2, 32, 4)]
    # WHEN 44 simulated minutes play (its last change at minute 32, then quiet)
    stack.run()
    texts = [json.dumps(m) for m in slack_messages(receiver)]
    # THEN exactly one flapping notification, and one "stable again" once it was quiet 10 minutes
    assert sum("[FLAPPING]" in t for t in texts) == 1
    assert sum("[STABLE]" in t for t in texts) == 1
    # before it flapped: two outages paged and resolved; after: nothing paged
    assert [e["event_action"] for e in pd_events(receiver)] == ["trigger", "resolve", "trigger", "resolve"]
    assert len(stack.incidents()) == 8  # every outage is still recorded
