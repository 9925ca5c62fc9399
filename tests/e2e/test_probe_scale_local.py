"""Probing at scale on the local stack: shards, honest gaps, intervals, fast mode, regions.

One stack plays the fleet scenario in simulated minutes: a third of the checks hang until their
10 s timeout, split into several shards by the real planner and run in parallel like the
asynchronous invocations in Lambda; a 10s check goes down mid-minute; two checks are probed from
three simulated regions with quorum 2, one failing in one region, the other in two.

``make test`` runs it with 120 checks (``probe.concurrency`` 20, so the same shard path has 2-3
shards); ``UPTIME_RELAY_FULL_SCALE=1`` (``make bench``) runs the issue's 2,100 checks with 700
hanging (probe.concurrency 100: 6+ shards).
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from uptime_relay_tools.local.alarms import ALARM, OK
from uptime_relay_tools.local.runner import LocalStack
from uptime_relay_tools.testing.fleet import FleetTarget
from uptime_relay_tools.testing.receivers import HttpReceiver, SmtpReceiver

pytestmark = pytest.mark.e2e

SLACK = "/services/T0/B0/fleet"
FULL = os.environ.get("UPTIME_RELAY_FULL_SCALE") == "1"
CHECKS, CONCURRENCY, MINUTE_SECONDS = (2100, 100, 6.0) if FULL else (120, 20, 2.5)
REGIONS = "[us-east-1, eu-west-1, ap-southeast-2]"


def fleet_config(
    path: Path, target: FleetTarget, receiver: HttpReceiver, smtp: SmtpReceiver
) -> tuple[list[str], list[str]]:
    """The fleet pages by email (not paced: hundreds of simultaneous incidents would otherwise
    wait on Slack's one message a second, in simulated time too); the quorum checks by Slack."""
    hanging = [f"hang-{i:04d}" for i in range(CHECKS // 3)]
    healthy = [f"ok-{i:04d}" for i in range(CHECKS - len(hanging))]
    lines = [f"probe: {{concurrency: {CONCURRENCY}}}", "checks:"]
    for name in healthy:
        lines += [f"  - name: {name}", f"    url: {target.url('/ok/' + name)}", "    timeout: 10s"]
    for name in hanging:
        lines += [f"  - name: {name}", f"    url: {target.url('/hang/' + name)}", "    timeout: 10s"]
    lines += [
        "  - name: fast",
        f"    url: {target.url('/switch/fast')}",
        "    interval: 10s",
        "    timeout: 5s",
        "    retries: 0",
    ]
    for name in ("quorum-one", "quorum-two"):
        lines += [
            f"  - name: {name}",
            f"    url: {target.url('/regions/' + name)}",
            f"    regions: {REGIONS}",
            "    quorum: 2",
            "    retries: 0",
            "    labels: {scope: world}",
        ]
    lines += [
        "channels:",
        f'  slack-fleet: {{type: slack, webhook_url: "{receiver.url}{SLACK}"}}',
        "  mail: {type: email, to: [oncall@example.com], from: uptime@example.com, "
        f"smtp: {{host: 127.0.0.1, port: {smtp.port}}}}}",
        "routes:",
        "  - match: {scope: world}",
        "    notify: [slack-fleet]",
        "  - notify: [mail]",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return healthy, hanging


def test_a_fleet_with_a_third_hanging_pages_exactly_the_hanging_checks_fast_and_by_quorum(tmp_path):
    """GIVEN checks of which a third hang until their 10 s timeout (several shards by the
    worst-case plan), a 10s check, and two checks probed from three regions with quorum 2
    WHEN the local stack plays simulated minutes, the 10s check goes down at minute 3 :30, one
    quorum check fails in eu-west-1 only and the other in eu-west-1 and ap-southeast-2
    THEN every hanging check opens an incident and no healthy one does, nothing goes unprobed,
    the 10s check pages within 30 simulated seconds, the check failing in one region of three
    does not page and the one failing in two does, naming both regions."""
    outage: dict[str, datetime] = {}
    with FleetTarget() as target, HttpReceiver() as receiver, SmtpReceiver() as smtp:
        healthy, hanging = fleet_config(tmp_path / "uptime.yaml", target, receiver, smtp)
        target.failing = {"quorum-one": {"eu-west-1"}, "quorum-two": {"eu-west-1", "ap-southeast-2"}}

        def script(stack: LocalStack, minute: int) -> None:
            if minute == 3:
                target.down.add("fast")
                outage["fast"] = stack.clock.now()

        stack = LocalStack(
            tmp_path / "uptime.yaml",
            minute_seconds=MINUTE_SECONDS,
            minutes=5,
            quiet=True,
            stack_name=f"fleet-{uuid.uuid4().hex[:8]}",
            after_minute=script,
        )
        with stack:
            stack.run()
            incidents = {i.check: i for i in stack.incidents(("open", "acknowledged"))}
            not_probed_alarm = stack.alarms.state(f"{stack.stack_name}-checks-not-probed")
            probes = dict(stack._last_probe)
            shards = stack.shard_invocations
        texts = [r.json().get("text", "") for r in receiver.to(SLACK)]

    assert shards >= 2, shards  # the minute's checks were split, and every shard ran
    assert set(hanging) <= set(incidents), sorted(set(hanging) - set(incidents))[:5]
    assert not set(healthy) & set(incidents), sorted(set(healthy) & set(incidents))[:5]
    # every hanging check was probed (its own timeout), none was left unprobed by a deadline
    assert {probes[name][1] for name in hanging} == {"timeout"}
    assert not_probed_alarm in (OK, "INSUFFICIENT_DATA") and not_probed_alarm != ALARM

    assert "fast" in incidents
    detection = (incidents["fast"].opened_at - outage["fast"]).total_seconds()
    assert 0 < detection <= 30, detection

    assert "quorum-one" not in incidents
    assert "quorum-two" in incidents
    (page,) = [t for t in texts if "quorum-two" in t and "Failing in" in t][:1]
    assert "eu-west-1, ap-southeast-2" in page and "(2 of 3 regions, quorum 2)" in page
    assert "passing in us-east-1" in page


def test_a_healthy_five_minute_check_is_probed_once_every_five_minutes_and_opens_nothing(tmp_path):
    """GIVEN a healthy check with interval 5m and the default 2-of-3 alarm
    WHEN the local stack plays 17 simulated minutes (past the alarm's 15-minute warm-up)
    THEN it was probed in one minute of every five, its alarm (5-minute periods) is OK, not
    missing data, and no incident was opened."""
    with FleetTarget() as target, HttpReceiver() as receiver:
        config = tmp_path / "uptime.yaml"
        config.write_text(
            "checks:\n"
            "  - name: slow\n"
            f"    url: {target.url('/ok/slow')}\n"
            "    interval: 5m\n"
            "channels:\n"
            f'  slack-fleet: {{type: slack, webhook_url: "{receiver.url}{SLACK}"}}\n'
            "routes:\n"
            "  - notify: [slack-fleet]\n",
            encoding="utf-8",
        )
        stack = LocalStack(
            config, minute_seconds=0.3, minutes=17, quiet=True, stack_name=f"slow-{uuid.uuid4().hex[:8]}"
        )
        with stack:
            stack.run()
            alarm = next(a for a in stack.alarms.alarms if a.name.endswith("-check-slow"))
            state = stack.alarms.state(alarm.name)
            incidents = stack.incidents()
        probes = target.requests

    assert alarm.period == 300
    assert probes in (3, 4), probes  # minutes 0-16: one in every five
    assert state == OK
    assert incidents == []
