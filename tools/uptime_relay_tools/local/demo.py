"""``uptime-relay local --demo`` (``make demo``): a scripted outage through the whole local stack.

The bundled demo target answers 200 for three simulated minutes, 503 for six, then 200 again.
With the demo config (``data/demo.yaml``: 2 failed minutes of 3, escalation steps at 0m / 2m / 4m):

- 00:03, 00:04  the probe fails; the alarm goes to ALARM at 00:04 (detected) and the relay opens an
  incident: Slack and an email carrying a signed acknowledge link (paged);
- 00:06         nobody acknowledged: the escalator pages PagerDuty and the on-call person of the
  ``primary`` schedule (alice: a Slack mention and an email with her own ack link) (escalated);
- 00:07         alice opens the ack link (``GET /ack/{token}`` on the local actions URL shows a
  confirmation page) and presses its button (``POST``): the incident is acknowledged and escalation
  stops (step 3, bob at 00:08, never fires);
- 00:09, 00:10  the target is healthy again; the alarm returns to OK at 00:10 (resolved).

Every message is rendered on the console. The run ends with a summary and exits 0 when the
incident was detected, paged, escalated, acknowledged and resolved.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from .demo_target import DemoTarget, Outage
from .runner import LocalStack

OUTAGE_START_MIN = 3
OUTAGE_MINUTES = 6
ACK_AT_MIN = 7
DEMO_MINUTES = 12
DEMO_MINUTE_SECONDS = 0.5
TARGET_PLACEHOLDER = "$TARGET_URL"


def demo_config_text() -> str:
    return resources.files("uptime_relay_tools").joinpath("data/demo.yaml").read_text(encoding="utf-8")


def write_demo_config(target_url: str, directory: Path) -> Path:
    """The demo config with the target's address filled in, as a file (UPTIME_CONFIG needs one)."""
    path = directory / "uptime-demo.yaml"
    path.write_text(demo_config_text().replace(TARGET_PLACEHOLDER, target_url), encoding="utf-8")
    return path


def http_request(url: str, method: str = "GET", timeout: float = 5.0) -> tuple[int, str]:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"the demo only follows local links, not {url!r}")
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def slack_button_request(
    actions_url: str, signing_secret: str, incident_id: str, action: str = "ack", user: str = "alice"
) -> tuple[int, str]:
    """Press a Slack button: POST /slack/actions, signed like Slack signs it (real clock)."""
    payload = {
        "type": "block_actions",
        "user": {"id": "U0000ALICE", "username": user, "name": user},
        "actions": [{"action_id": action, "value": incident_id, "type": "button"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(time.time()))
    signature = (
        "v0="
        + hmac.new(
            signing_secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256
        ).hexdigest()
    )
    request = urllib.request.Request(
        actions_url.rstrip("/") + "/slack/actions",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


@dataclass
class DemoScript:
    """Acknowledges the open incident at ``ack_at`` through its ack link (or the Slack button)."""

    ack_at: int = ACK_AT_MIN
    signing_secret: str = "demo-signing-secret"
    acked: list[str] = field(default_factory=list)

    def __call__(self, stack: LocalStack, minute: int) -> None:
        if minute != self.ack_at:
            return
        open_incidents = [i for i in stack.incidents(("open",))]
        if not open_incidents:
            stack.say("demo: no open incident to acknowledge")
            return
        for incident in open_incidents:
            link = stack.ack_link(incident.id)
            if link:
                stack.say(f"demo: alice (on call) opens the ack link in her email: GET {_hide_token(link)}")
                status, page = http_request(link)
                if status == 200 and "<form" in page:  # a confirmation page: mail scanners only GET
                    stack.say("demo: the page asks to confirm; alice presses [Acknowledge]: POST")
                    status, _ = http_request(link, "POST")
            else:
                stack.say("demo: alice presses [Acknowledge] in Slack: POST /slack/actions")
                status, _ = slack_button_request(stack.actions_url, self.signing_secret, incident.id)
            stack.say(f"demo: actions answered {status}")
            if status < 400:
                self.acked.append(incident.id)


def _hide_token(link: str) -> str:
    head, _, token = link.rpartition("/")
    return f"{head}/{token[:12]}…" if token else link


@dataclass
class DemoResult:
    detected: str | None = None
    paged: list[str] = field(default_factory=list)
    escalated: str | None = None
    acknowledged: str | None = None
    resolved: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def summarise(stack: LocalStack) -> DemoResult:
    result = DemoResult()
    incidents = stack.incidents()
    if not incidents:
        result.problems.append("no incident was opened")
        return result
    incident = incidents[0]
    start = stack.clock.start
    for entry in incident.timeline:
        at = stack.clock.label(entry.at) if entry.at >= start else "--:--"
        kind = entry.kind
        if kind == "opened" and result.detected is None:
            result.detected = at
        elif kind == "notified" and "escalated to" in entry.detail:
            result.paged.append(f"{entry.channel} at {at} (escalation)")
            if result.escalated is None:
                result.escalated = f"{at} ({entry.detail})"
        elif kind == "notified" and entry.channel and entry.detail.startswith("trigger"):
            result.paged.append(f"{entry.channel} at {at}")
        elif kind in ("acknowledged", "ack") and result.acknowledged is None:
            result.acknowledged = at
        elif kind == "resolved" and result.resolved is None:
            result.resolved = at
    if incident.acknowledged_at and result.acknowledged is None:
        result.acknowledged = stack.clock.label(incident.acknowledged_at)
    if incident.resolved_at and result.resolved is None:
        result.resolved = stack.clock.label(incident.resolved_at)
    for what in ("detected", "escalated", "acknowledged", "resolved"):
        if getattr(result, what) is None:
            result.problems.append(f"the incident was never {what}")
    if not result.paged:
        result.problems.append("nobody was paged")
    return result


def run_demo(
    *,
    minute_seconds: float = DEMO_MINUTE_SECONDS,
    minutes: int = DEMO_MINUTES,
    http_port: int = 0,
    out: Any = None,
    faults: Any = None,
    console: bool = False,
    verbose: bool = False,
    show_payloads: bool = True,
) -> int:
    """Play the demo; returns the exit code (0 when the whole story played out)."""
    with tempfile.TemporaryDirectory(prefix="uptime-demo-") as tmp:
        stack: LocalStack | None = None
        target: DemoTarget | None = None
        try:
            # the target follows the stack's simulated clock; the config needs the target's URL
            outage = Outage(
                timedelta(minutes=OUTAGE_START_MIN), timedelta(minutes=OUTAGE_START_MIN + OUTAGE_MINUTES)
            )
            target = DemoTarget(outages=[outage]).start()
            config_path = write_demo_config(target.url, Path(tmp))
            script = DemoScript()
            stack = LocalStack(
                config_path,
                minute_seconds=minute_seconds,
                minutes=minutes,
                http_port=http_port,
                out=out,
                faults=faults,
                console=console,
                verbose=verbose,
                show_payloads=show_payloads,
                after_minute=script,
            )
            target.attach(stack.clock)
            stack.say(
                f"demo: {target.url}/health is healthy, fails with 503 from 00:{OUTAGE_START_MIN:02d} for "
                f"{OUTAGE_MINUTES} minutes, then recovers"
            )
            with stack:
                stack.run()
                result = summarise(stack)
            _print_summary(stack, result)
            return 0 if result.ok else 1
        finally:
            if target is not None:
                target.stop()


def _print_summary(stack: LocalStack, result: DemoResult) -> None:
    say = stack.timeline.say
    say("", raw=True)
    say("demo summary", raw=True)
    say(f"  detected      {result.detected or '-'}  (alarm: 2 failed minutes of 3)", raw=True)
    say(f"  paged         {', '.join(result.paged) or '-'}", raw=True)
    say(f"  escalated     {result.escalated or '-'}", raw=True)
    say(f"  acknowledged  {result.acknowledged or '-'}", raw=True)
    say(f"  resolved      {result.resolved or '-'}", raw=True)
    for problem in result.problems:
        say(f"  PROBLEM: {problem}", raw=True)
