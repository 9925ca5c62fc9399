"""Shared fixtures of the wave-2 channel tests (webhook, Teams, Opsgenie, SMS): alerts,
notifications, and every sample event rendered for a channel type."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.notifiers.base import Notification, NotificationKind
from uptime_relay_tools.cli import main

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted(p for p in (ROOT / "events").iterdir() if p.is_file())
T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)


def alarm(name: str = "uptime-api-availability", **kw) -> Alert:
    defaults = dict(
        source=AlertSource.CLOUDWATCH,
        id=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}",
        name=name,
        state=AlertState.ALARM,
        reason="2 of the last 3 probes failed",
        time=T0,
        labels={"alarm": name, "check": "api", "severity": "critical", "team": "platform"},
        region="us-east-1",
        account="123456789012",
    )
    defaults.update(kw)
    return Alert(**defaults)


def note(kind: NotificationKind = NotificationKind.TRIGGER, alerts=None, **kw) -> Notification:
    kw.setdefault("incident_id", "inc-0123456789abcdef0123")
    kw.setdefault("opened_at", T0)
    return Notification(kind=kind, alerts=tuple(alerts or [alarm()]), **kw)


def rendered(capsys, channel_type: str, event: Path, *extra: str) -> tuple[int, list[dict], str]:
    """``uptime-relay render EVENT --channel TYPE``: exit code, bodies, stderr."""
    code = main(["render", str(event), "--channel", channel_type, *extra])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err
