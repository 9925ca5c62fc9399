"""What the local stack's console prints for an incident's timeline (``local.console.incident_lines``).

The timelines come from the real relay and escalation sweep (in-memory store, fake notifiers), so
the console keeps up with what they record: a silenced opening is one line saying the first page
is held, the end of the silence says the page goes out now, and the sweep's claim bookkeeping is
not printed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.incident import TimelineEntry
from uptime_relay.escalator import sweep
from uptime_relay.relay import Relay
from uptime_relay_tools.local.console import Timeline, incident_lines
from uptime_relay_tools.testing.fake_notifiers import fake_notifiers

NIGHT = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # maintenance 02:00-02:30 UTC
CONFIG = parse_config(
    """
channels:
  slack-critical: {type: slack, webhook_url: https://hooks.example.invalid/x}
routes:
  - match: {severity: critical}
    notify: [slack-critical]
    escalation: critical
escalation_policies:
  critical:
    steps:
      - {after: 0m, notify: [slack-critical]}
      - {after: 5m, notify: [slack-critical]}
maintenance:
  - {name: deploys, match: {team: web}, cron: "0 2 * * *", duration: 30m, timezone: UTC}
"""
)


class Console:
    """Plays the relay and sweeps minute by minute, printing new timeline entries like the runner."""

    def __init__(self) -> None:
        self.store = InMemoryIncidentStore()
        self.notifiers = fake_notifiers()
        self.dispatcher = Dispatcher(
            CONFIG, self.notifiers, StaticSecrets(), InMemoryDeadLetters(), sleep=lambda s: None
        )
        self.relay = Relay(CONFIG, self.store, self.dispatcher)
        self.lines: list[str] = []
        self._seen: dict[str, int] = {}

    def alarm(self, at: datetime) -> None:
        labels = {"severity": "critical", "team": "web"}
        alert = Alert(AlertSource.CLOUDWATCH, "alarm-web", "web down", AlertState.ALARM, "2 of 3", at, labels)
        self.relay.handle([alert], now=at)
        self.watch()

    def sweep_until(self, start: datetime, end: datetime) -> None:
        at = start
        while at <= end:
            sweep(CONFIG, self.store, self.dispatcher, at)
            self.watch()
            at += timedelta(minutes=1)

    def watch(self) -> None:
        for incident in self.store.list(statuses=("open", "acknowledged", "resolved")):
            entries = list(incident.timeline)
            self.lines += incident_lines(incident, entries[self._seen.get(incident.id, 0) :])
            self._seen[incident.id] = len(entries)


def test_a_silenced_opening_is_one_line_and_the_end_of_the_silence_pages_now():
    console = Console()
    console.alarm(NIGHT + timedelta(minutes=5))
    (opened,) = console.lines
    assert opened.startswith("incident web down [inc-")
    assert "] opened silenced (maintenance deploys (0 2 * * * UTC) until 2026-11-25T02:30:00+00:00)" in opened
    assert opened.endswith(": first page held")
    assert console.notifiers["slack"].sent == []

    console.sweep_until(NIGHT + timedelta(minutes=5), NIGHT + timedelta(minutes=33))
    silence_over = [line for line in console.lines if "silence over" in line]
    assert len(silence_over) == 1 and silence_over[0].endswith("] silence over: paging now")
    assert len(console.notifiers["slack"].sent) == 1
    assert not any("escalation_attempt" in line or "claimed until" in line for line in console.lines)


def test_other_entries_keep_one_line_each_and_escalations_name_who_was_paged():
    at = NIGHT
    incident = type(
        "I", (), {"name": "shop", "id": "inc-1", "pending": (), "policy": None, "route_channels": ()}
    )
    entries = [
        TimelineEntry(at, "opened", "Threshold Crossed: " + "x" * 200),
        TimelineEntry(at, "notified", "trigger sent", "slack-critical"),
        TimelineEntry(at, "escalation_attempt", "escalation step 2, round 1: attempt 1 claimed until …"),
        TimelineEntry(at, "notified", "escalation step 2, round 1 [pd]: escalated to pd (alice)", "pd"),
        TimelineEntry(at, "acknowledged", "by alice@example.com via email link"),
    ]
    lines = incident_lines(incident, entries)
    assert lines[0].startswith("incident shop [inc-1] opened: Threshold Crossed: x") and lines[0].endswith(
        "…"
    )
    assert lines[1:] == [
        "incident shop escalated: escalation step 2, round 1 [pd]: escalated to pd (alice)",
        "incident shop [inc-1] acknowledged: by alice@example.com via email link",
    ]


def test_the_timeline_prefixes_each_line_with_the_simulated_time():
    printed: list[str] = []
    timeline = Timeline(lambda: "00:07", printed.append)
    timeline.say("incident shop [inc-1] silence over: paging now")
    assert printed == ["00:07 incident shop [inc-1] silence over: paging now"]
    assert timeline.find("silence over") == printed
