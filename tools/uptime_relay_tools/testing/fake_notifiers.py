"""A scripted notifier for tests: records every send, fails as told.

    pd = FakeNotifier("pagerduty", script=[DeliveryError("429", permanent=False, retry_after=2)])
    pd.sent        # [(channel name, Notification)] for every successful send
    pd.attempts    # every call, failed or not

``script`` is consumed one item per send: an exception is raised, ``None`` means success, a dict
is success returning those handles. When the script is empty every send succeeds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from uptime_relay.config import Channel
from uptime_relay.notifiers.base import Delivery, Notification, NotificationKind

GROUPING_TYPES = ("slack", "email")


class FakeNotifier:
    def __init__(
        self,
        type: str,
        script: Iterable[BaseException | dict | None] = (),
        *,
        groups_alerts: bool | None = None,
        handles: Callable[[Channel, Notification, int], dict] | None = None,
    ):
        self.type = type
        self.groups_alerts = type in GROUPING_TYPES if groups_alerts is None else groups_alerts
        self.script: deque[BaseException | dict | None] = deque(script)
        self.sent: list[tuple[str, Notification]] = []
        self.attempts: list[tuple[str, Notification]] = []
        self.secrets_seen: list[Any] = []
        self._handles = handles or _default_handles

    def fail_next(self, *errors: BaseException | dict | None) -> None:
        self.script.extend(errors)

    def build_payloads(self, channel: Channel, notification: Notification) -> list[dict[str, Any]]:
        return [
            {
                "channel": channel.name,
                "kind": notification.kind.value,
                "incident_id": notification.incident_id,
                "alerts": [a.id for a in notification.alerts],
            }
        ]

    def send(self, channel: Channel, notification: Notification, secrets: Any) -> Delivery:
        self.attempts.append((channel.name, notification))
        self.secrets_seen.append(secrets)
        step = self.script.popleft() if self.script else None
        if isinstance(step, BaseException):
            raise step
        self.sent.append((channel.name, notification))
        handles = (
            dict(step) if isinstance(step, dict) else self._handles(channel, notification, len(self.sent))
        )
        return Delivery(channel=channel.name, handles=handles, status=200)

    # -- questions tests ask
    def kinds(self, channel: str | None = None) -> list[NotificationKind]:
        return [n.kind for c, n in self.sent if channel is None or c == channel]

    def sent_for(self, incident_id: str, kind: NotificationKind | None = None) -> list[Notification]:
        return [n for _, n in self.sent if n.incident_id == incident_id and (kind is None or n.kind is kind)]


def _default_handles(channel: Channel, notification: Notification, count: int) -> dict:
    if channel.type == "slack":
        return dict(notification.handles) or {"channel": "C0FAKE", "ts": f"1700000000.{count:06d}"}
    if channel.type == "pagerduty":
        return {"dedup_key": notification.alert.id}
    return {}


def fake_notifiers(*types: str) -> dict[str, FakeNotifier]:
    """One FakeNotifier per channel type (default: slack, pagerduty, email)."""
    return {t: FakeNotifier(t) for t in (types or ("slack", "pagerduty", "email"))}
