"""A relay and an escalation sweep over in-memory fakes, on a simulated clock, with channels that
fail on a schedule (tests of automatic redelivery)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import Config
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.escalator import sweep
from uptime_relay.notifiers.base import DeliveryError, NotificationKind
from uptime_relay.ports import IncidentStore
from uptime_relay.relay import Relay
from uptime_relay_tools.testing.fake_notifiers import FakeNotifier

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CONFIG = parse_config(
    """
channels:
  slack-critical: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd-primary: {type: pagerduty, routing_key: env:PD_KEY}
  oncall-email: {type: email, to: [oncall@example.com], from: alerts@example.com}
routes:
  - match: {severity: critical}
    notify: [pd-primary, slack-critical, oncall-email]
"""
)
# the same channels, but Slack hears of an incident only from its escalation policy's first step
STEPS_CONFIG = parse_config(
    """
channels:
  slack-critical: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd-primary: {type: pagerduty, routing_key: env:PD_KEY}
  oncall-email: {type: email, to: [oncall@example.com], from: alerts@example.com}
routes:
  - match: {severity: critical}
    notify: [pd-primary, oncall-email]
    escalation: slack-after-2m
escalation_policies:
  slack-after-2m:
    steps:
      - {after: 2m, notify: [slack-critical]}
"""
)
CHANNEL_TYPES = {"slack-critical": "slack", "pd-primary": "pagerduty", "oncall-email": "email"}

Fault = Callable[[datetime], BaseException | None]  # what the channel answers at that instant


def outage(start: datetime, end: datetime, status: int = 503, retry_after: float | None = None) -> Fault:
    """The channel answers ``status`` from ``start`` until (not including) ``end``."""

    def fault(at: datetime) -> BaseException | None:
        if start <= at < end:
            return DeliveryError(
                f"HTTP {status}", permanent=status in (400, 403, 404), status=status, retry_after=retry_after
            )
        return None

    return fault


class ScheduledNotifier(FakeNotifier):
    """A fake notifier that fails while its channel's fault says so (at the world's instant)."""

    def __init__(self, type: str, world: World):
        super().__init__(type)
        self.world = world
        self.during_send: Callable[[], None] | None = None  # something that happens mid-send

    def send(self, channel, notification, secrets):
        fault = self.world.faults.get(channel.name)
        error = fault(self.world.now) if fault is not None else None
        if self.during_send is not None:
            hook, self.during_send = self.during_send, None
            hook()
        if error is not None:
            self.attempts.append((channel.name, notification))
            raise error
        self.world.deliveries.append(
            (channel.name, notification.kind, notification.incident_id, self.world.now)
        )
        return super().send(channel, notification, secrets)


class World:
    def __init__(
        self,
        faults: dict[str, Fault] | None = None,
        store: IncidentStore | None = None,
        config: Config = CONFIG,
    ):
        self.now = T0
        self.config = config
        self.faults: dict[str, Fault] = dict(faults or {})
        self.deliveries: list[tuple[str, NotificationKind, str | None, datetime]] = []
        self.store = store if store is not None else InMemoryIncidentStore()
        self.notifiers = {t: ScheduledNotifier(t, self) for t in ("slack", "pagerduty", "email")}
        self.dead = InMemoryDeadLetters()
        self.dispatcher = Dispatcher(
            config, self.notifiers, StaticSecrets({"env:PD_KEY": "k"}), self.dead, sleep=lambda s: None
        )
        self.relay = Relay(config, self.store, self.dispatcher)

    def alert(self, state: AlertState, at: datetime | None = None) -> Alert:
        return Alert(
            AlertSource.CLOUDWATCH, "alarm-api", "api down", state, "r", at or self.now,
            labels={"severity": "critical"},
        )  # fmt: skip

    def open(self) -> str:
        (result,) = self.relay.handle([self.alert(AlertState.ALARM)], self.now)
        assert result.incident_id is not None
        return result.incident_id

    def resolve(self) -> None:
        self.relay.handle([self.alert(AlertState.OK)], self.now)

    def sweep(self):
        return sweep(self.config, self.store, self.dispatcher, self.now)

    def run_until(self, end: datetime, *, at_minute: Callable[[], None] | None = None) -> None:
        """Sweep once a simulated minute up to ``end``."""
        while self.now < end:
            self.now += timedelta(minutes=1)
            if at_minute is not None:
                at_minute()
            self.sweep()

    def received(self, channel: str, incident_id: str) -> list[NotificationKind]:
        notifier = self.notifiers[CHANNEL_TYPES[channel]]
        return [n.kind for c, n in notifier.sent if c == channel and n.incident_id == incident_id]

    def first_received_at(self, channel: str, kind: NotificationKind) -> datetime | None:
        found = [at for c, k, _, at in self.deliveries if c == channel and k is kind]
        return found[0] if found else None
