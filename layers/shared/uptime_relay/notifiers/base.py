"""The one interface every notification channel implements.

Style after healthchecks' transports: ``build_payload`` is pure (used by ``render`` and by sending),
``send`` does the I/O and raises ``DeliveryError`` saying whether a failure is permanent and, for
rate limits, when to try again. Retrying and dead-lettering live outside the channels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from ..config import Channel, Check
from ..domain.alert import Alert


class NotificationKind(StrEnum):
    TRIGGER = "trigger"  # ALARM: page / post
    RESOLVE = "resolve"  # OK: resolve / update
    WARNING = "warning"  # INSUFFICIENT_DATA routed as a warning
    ESCALATION = "escalation"  # an escalation step or reminder re-notifies
    ACKNOWLEDGE = "acknowledge"  # someone acknowledged: update the original message
    # a check started flapping (its alert in ALARM) or settled again (in OK, its current state):
    # information for the route's chat and e-mail channels, never a page (``domain.flapping``)
    FLAPPING = "flapping"


@dataclass(frozen=True)
class Notification:
    """Everything a channel needs to render and send one message."""

    kind: NotificationKind
    alerts: tuple[Alert, ...]  # one for CloudWatch; several for one Alertmanager body
    incident_id: str | None = None
    opened_at: datetime | None = None  # since when it has been failing
    check: Check | None = None  # our check, when the alert is about one (runbook, labels)
    ack_url: str | None = None  # signed acknowledge link (email)
    acknowledged_by: str | None = None
    mentions: tuple[str, ...] = ()  # Slack user ids / emails resolved from on-call schedules
    handles: dict[str, Any] = field(default_factory=dict)  # from earlier sends on this channel
    escalation_step: int | None = None

    @property
    def alert(self) -> Alert:
        return self.alerts[0]


@dataclass(frozen=True)
class Delivery:
    """What a successful send returns: handles needed to follow up (e.g. Slack ts, PD dedup_key)."""

    channel: str
    handles: dict[str, Any] = field(default_factory=dict)
    status: int | None = None


class DeliveryError(Exception):
    """A send failed. ``permanent`` failures (400, 404, invalid token) are not retried."""

    def __init__(
        self, message: str, *, permanent: bool, retry_after: float | None = None, status: int | None = None
    ):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status


class SecretResolver(Protocol):
    def resolve(self, reference: str) -> str: ...


class Notifier(Protocol):
    type: str
    # the sends of one Alertmanager body become one message (Slack, e-mail), instead of one each
    groups_alerts: bool

    def build_payloads(self, channel: Channel, notification: Notification) -> list[dict[str, Any]]:
        """The exact bodies that would be sent (secrets unresolved, never rendered)."""
        ...

    def send(self, channel: Channel, notification: Notification, secrets: SecretResolver) -> Delivery:
        """Send, or raise DeliveryError."""
        ...
