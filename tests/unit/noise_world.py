"""A relay and its escalation sweep over in-memory stores and fake channels, for the noise-control
tests (inhibition, flapping): alarms of checks arrive at given instants; sweeps run each minute;
every notification that reached a channel is logged with its instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from uptime_relay.adapters.flapping import InMemoryFlaps
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import Config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.escalator import sweep
from uptime_relay.intake import enrich
from uptime_relay.notifiers.base import Notification, NotificationKind
from uptime_relay.relay import Relay
from uptime_relay_tools.testing.fake_notifiers import fake_notifiers

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def minute(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


class World:
    def __init__(self, config: Config):
        self.config = config
        self.store = InMemoryIncidentStore()
        self.flaps = InMemoryFlaps()
        self.notifiers = fake_notifiers()
        self.dispatcher = Dispatcher(
            config,
            self.notifiers,
            StaticSecrets({"env:PD_KEY": "k"}),
            InMemoryDeadLetters(),
            sleep=lambda s: None,
        )
        self.relay = Relay(config, self.store, self.dispatcher, flaps=self.flaps)
        self.log: list[tuple[datetime, str, Notification]] = []

    def alert(self, check: str, state: AlertState | str, at: datetime) -> Alert:
        state = AlertState(state)
        alert = Alert(
            AlertSource.CLOUDWATCH,
            f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-{check}",
            f"uptime-{check}",
            state,
            f"{check}: threshold crossed",
            at,
            {"check": check},
        )
        return enrich(alert, self.config)

    def arrive(self, alerts: list[Alert], now: datetime) -> None:
        before = self._counts()
        self.relay.handle(alerts, now)
        self._log_since(before, now)

    def down(self, check: str, at: datetime, now: datetime | None = None) -> None:
        self.arrive([self.alert(check, AlertState.ALARM, at)], now or at)

    def up(self, check: str, at: datetime, now: datetime | None = None) -> None:
        self.arrive([self.alert(check, AlertState.OK, at)], now or at)

    def sweep(self, at: datetime) -> None:
        before = self._counts()
        sweep(self.config, self.store, self.dispatcher, at, flaps=self.flaps)
        self._log_since(before, at)

    def sweeps(self, start: float, end: float) -> None:
        """A sweep at each whole minute from ``start`` to ``end`` (half a minute past, as the local stack)."""
        m = start
        while m <= end:
            self.sweep(minute(m + 0.5))
            m += 1

    def _counts(self) -> dict[str, int]:
        return {t: len(n.sent) for t, n in self.notifiers.items()}

    def _log_since(self, before: dict[str, int], at: datetime) -> None:
        for t, notifier in self.notifiers.items():
            self.log.extend((at, ch, n) for ch, n in notifier.sent[before[t] :])

    def pages(
        self, check: str, kind: NotificationKind = NotificationKind.TRIGGER
    ) -> list[tuple[datetime, str]]:
        return sorted(
            (at, ch) for at, ch, n in self.log if n.kind is kind and n.alert.labels.get("check") == check
        )

    def incidents(self, check: str) -> list:
        every = self.store.list(statuses=("open", "acknowledged", "resolved"))
        return [i for i in every if i.check == check]
