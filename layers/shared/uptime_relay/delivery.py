"""Delivering one notification to one channel: retries, Retry-After, dead-lettering. Never raises.

Transient failures (``DeliveryError(permanent=False)``: 429, 5xx, timeouts) are retried with
exponential backoff and jitter; a ``retry_after`` from the channel is honoured exactly (never
retried sooner). A wait longer than ``max_wait_s``, or one that would spend more than the
total budget, stops the retries. Permanent failures (400, 404, bad token, missing secret) are
not retried. Whatever could not be delivered goes to the dead-letter queue with everything
needed to replay it (``uptime-relay dlq replay``).
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from . import clock, metricnames
from .config import Config
from .domain.incident import alert_from_dict, alert_to_dict
from .domain.pacing import destination
from .notifiers.base import DeliveryError, Notification, NotificationKind, Notifier
from .ports import DeadLetters, DeliveryOutcome, Pacer, SecretResolver
from .redaction import redact

log = logging.getLogger(__name__)

RECORD_VERSION = 1
Metrics = Callable[..., None]  # metrics(name, value=1)


# --------------------------------------------------------------------------------------- JSON
def notification_to_dict(notification: Notification) -> dict[str, Any]:
    """JSON-safe; the check is kept by name and looked up again in the config on replay."""
    return {
        "kind": notification.kind.value,
        "alerts": [alert_to_dict(a) for a in notification.alerts],
        "incident_id": notification.incident_id,
        "opened_at": notification.opened_at.isoformat() if notification.opened_at else None,
        "check": notification.check.name if notification.check else None,
        "ack_url": notification.ack_url,
        "acknowledged_by": notification.acknowledged_by,
        "mentions": list(notification.mentions),
        "handles": dict(notification.handles),
        "escalation_step": notification.escalation_step,
    }


def notification_from_dict(data: Mapping[str, Any], config: Config | None = None) -> Notification:
    check_name = data.get("check")
    return Notification(
        kind=NotificationKind(data["kind"]),
        alerts=tuple(alert_from_dict(a) for a in data.get("alerts") or ()),
        incident_id=data.get("incident_id"),
        opened_at=datetime.fromisoformat(data["opened_at"]) if data.get("opened_at") else None,
        check=config.check(check_name) if config is not None and check_name else None,
        ack_url=data.get("ack_url"),
        acknowledged_by=data.get("acknowledged_by"),
        mentions=tuple(data.get("mentions") or ()),
        handles=dict(data.get("handles") or {}),
        escalation_step=data.get("escalation_step"),
    )


# --------------------------------------------------------------------------------------- outcome
def dead_letter_record(
    channel: str,
    notification: Notification,
    *,
    error: str,
    attempts: int,
    first_failure_at: datetime,
    last_failure_at: datetime,
    permanent: bool,
    status: int | None,
) -> dict[str, Any]:
    return {
        "version": RECORD_VERSION,
        "channel": channel,
        "incident_id": notification.incident_id,
        "kind": notification.kind.value,
        "notification": notification_to_dict(notification),
        "error": error,
        "permanent": permanent,
        "status": status,
        "attempts": attempts,
        "first_failure_at": first_failure_at.isoformat(),
        "last_failure_at": last_failure_at.isoformat(),
    }


# --------------------------------------------------------------------------------------- dispatcher
class _Remembering:
    """The Dispatcher's secret resolver as one send sees it: it remembers every value it hands
    out, so that the send's errors can be redacted of them (``redaction.redact``)."""

    def __init__(self, resolver: SecretResolver):
        self._resolver = resolver
        self.values: list[str] = []

    def resolve(self, reference: str) -> str:
        value = self._resolver.resolve(reference)
        self.values.append(value)
        return value


class Dispatcher:
    """Sends through the channel's notifier; retries, then dead-letters. ``deliver`` never raises."""

    def __init__(
        self,
        config: Config,
        notifiers: Mapping[str, Notifier],
        secrets: SecretResolver,
        dead_letters: DeadLetters,
        *,
        sleep: Callable[[float], None] | None = None,
        max_attempts: int = 4,
        max_wait_s: float = 30.0,
        total_budget_s: float = 20.0,
        base_delay_s: float = 1.0,
        metrics: Metrics | None = None,
        rng: random.Random | None = None,
        pacer: Pacer | None = None,
    ):
        self.config = config
        self.notifiers = notifiers
        self.secrets = secrets
        self.dead_letters = dead_letters
        self._sleep = sleep
        self.max_attempts = max(1, max_attempts)
        self.max_wait_s = max_wait_s
        self.total_budget_s = total_budget_s
        self.base_delay_s = base_delay_s
        self.metrics = metrics
        self.rng = rng or random.Random()
        self.pacer = pacer  # Slack and PagerDuty destinations' shared pace (``domain.pacing``)
        # seconds left before the invocation is killed (set by the relay from the Lambda context);
        # a wait that would end within ``reserve_s`` of it dead-letters instead
        self.time_left: Callable[[], float] | None = None
        self.reserve_s = 8.0

    def sleep(self, seconds: float) -> None:
        (self._sleep or clock.current().sleep)(seconds)

    def notifier_for(self, channel_name: str) -> Notifier | None:
        channel = self.config.channels.get(channel_name)
        return self.notifiers.get(channel.type) if channel is not None else None

    def groups_alerts(self, channel_name: str) -> bool:
        notifier = self.notifier_for(channel_name)
        return notifier is not None and notifier.groups_alerts

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return max(0.0, float(retry_after))
        exponential = self.base_delay_s * (2 ** (attempt - 1))
        return min(self.max_wait_s, exponential * (0.5 + self.rng.random() / 2))

    def _metric(self, name: str, value: float = 1) -> None:
        if self.metrics is not None:
            try:
                self.metrics(name, value)
            except Exception:  # metrics never break delivery
                log.warning("metric %s could not be recorded", name, exc_info=True)

    def deliver(
        self,
        channel_name: str,
        notification: Notification,
        *,
        dead_letter: bool = True,
        to: tuple[str, ...] = (),
    ) -> DeliveryOutcome:
        """``to``: the e-mail addresses of this one send (an escalation's people), replacing the
        e-mail channel's own ``to``."""
        try:
            return self._deliver(channel_name, notification, dead_letter, tuple(to))
        except Exception as exc:  # the contract: never raises
            log.exception("delivery to %s failed unexpectedly", channel_name)
            return DeliveryOutcome(channel_name, False, error=f"internal error: {type(exc).__name__}")

    def _deliver(
        self, channel_name: str, notification: Notification, dead_letter: bool, to: tuple[str, ...]
    ) -> DeliveryOutcome:
        channel = self.config.channels.get(channel_name)
        notifier = self.notifiers.get(channel.type) if channel is not None else None
        if channel is None or notifier is None:
            why = (
                f"unknown channel {channel_name!r}: not defined under `channels` in {self.config.source}"
                if channel is None
                else f"channel {channel_name!r} has type {channel.type!r}, for which no notifier is installed"
            )
            now = clock.now()
            return self._give_up(channel_name, notification, why, 0, now, True, None, dead_letter)
        if to:
            channel = dataclasses.replace(channel, options={**channel.options, "to": to})
        attempts = 0
        waited = 0.0
        first_failure: datetime | None = None
        secrets = _Remembering(self.secrets)
        while True:
            queued, slept = self._pace(channel, dead_letter, waited)
            waited += slept
            if queued is not None:  # no slot within the time left: kept for redelivery, not sent
                why = f"queued: {channel_name} is paced; its next slot is {queued:.1f}s away"
                outcome = self._give_up(
                    channel_name, notification, why, attempts, clock.now(), False, None, False
                )
                return dataclasses.replace(outcome, retry_after=queued, queued=True)
            attempts += 1
            try:
                delivery = notifier.send(channel, notification, secrets)
            except DeliveryError as exc:
                error, permanent, status, retry_after = str(exc), exc.permanent, exc.status, exc.retry_after
            except Exception as exc:  # secrets, bugs: not worth hammering; kept for replay
                error, permanent, status, retry_after = f"{type(exc).__name__}: {exc}", True, None, None
            else:
                self._metric(metricnames.NOTIFICATIONS_SENT)
                # per channel without a metric per channel: the dashboard counts these lines
                log.info("delivered", extra={"channel": channel_name, "attempt": attempts})
                return DeliveryOutcome(
                    channel_name, True, delivery=delivery, attempts=attempts, status=delivery.status
                )
            # whatever the notifier said, the secrets it used never reach a log, the timeline or the DLQ
            error = redact(error, secrets.values)
            first_failure = first_failure or clock.now()
            self._metric(metricnames.DELIVERY_FAILURES)
            log.warning(
                "delivery failed",
                extra={
                    "channel": channel_name,
                    "attempt": attempts,
                    "permanent": permanent,
                    "status": status,
                    "retry_after": retry_after,
                    "error": error,
                },
            )
            stop, delay = self._stop_retrying(error, permanent, attempts, retry_after, waited)
            if stop is not None:
                outcome = self._give_up(
                    channel_name, notification, stop, attempts, first_failure, permanent, status, dead_letter
                )
                return dataclasses.replace(outcome, retry_after=retry_after)
            self.sleep(delay)
            waited += delay

    def _pace(self, channel: Any, dead_letter: bool, waited: float) -> tuple[float | None, float]:
        """Wait for the destination's next slot (``domain.pacing``): ``(the wait it could not
        afford: the send is queued, else None; seconds slept)``. A send that would be
        dead-lettered rather than redelivered (``dead_letter``) is never queued: it waits what
        it can, then goes."""
        found = destination(channel) if self.pacer is not None else None
        if found is None:
            return None, 0.0
        key, pace = found
        budget = min(self.max_wait_s, self.total_budget_s - waited)
        if self.time_left is not None:
            budget = min(budget, self.time_left() - self.reserve_s)
        budget = max(0.0, budget)
        try:
            reserved, wait = self.pacer.reserve(key, pace, clock.now(), budget)  # type: ignore[union-attr]
        except Exception:  # pacing never stops a page
            log.warning("pace of %s could not be read; sending unpaced", channel.name, exc_info=True)
            return None, 0.0
        if not reserved:
            if not dead_letter:
                return wait, 0.0
            wait = budget
        if wait > 0:
            self.sleep(wait)
        return None, max(0.0, wait)

    def _stop_retrying(
        self, error: str, permanent: bool, attempts: int, retry_after: float | None, waited: float
    ) -> tuple[str | None, float]:
        """``(why this failed attempt is the last: the error to record, None to retry; the wait)``."""
        if permanent:
            return error, 0.0
        if attempts >= self.max_attempts:
            return f"{error} (gave up after {attempts} attempts)", 0.0
        delay = self.backoff(attempts, retry_after)
        if retry_after is not None and delay > self.max_wait_s:
            why = f"{error} (asked to retry after {delay:g}s, more than max_wait_s={self.max_wait_s:g}s)"
            return why, delay
        if self.time_left is not None and self.time_left() - delay < self.reserve_s:
            return f"{error} (no time left in this invocation to wait {delay:g}s)", delay
        if waited + delay > self.total_budget_s:
            return f"{error} (retry budget of {self.total_budget_s:g}s spent)", delay
        return None, delay

    def _give_up(
        self,
        channel_name: str,
        notification: Notification,
        error: str,
        attempts: int,
        first_failure: datetime,
        permanent: bool,
        status: int | None,
        dead_letter: bool,
    ) -> DeliveryOutcome:
        if not dead_letter:
            return DeliveryOutcome(
                channel_name, False, error=error, attempts=attempts, permanent=permanent, status=status
            )
        record = dead_letter_record(
            channel_name,
            notification,
            error=error,
            attempts=attempts,
            first_failure_at=first_failure,
            last_failure_at=clock.now(),
            permanent=permanent,
            status=status,
        )
        try:
            self.dead_letters.put(record)
        except Exception as exc:
            log.exception("dead-letter queue unavailable: notification for %s is lost", channel_name)
            return DeliveryOutcome(
                channel_name,
                False,
                error=f"{error}; dead-letter queue unavailable ({type(exc).__name__})",
                attempts=attempts,
                permanent=permanent,
                status=status,
            )
        self._metric(metricnames.DELIVERIES_DEAD_LETTERED)
        log.error(
            "notification dead-lettered",
            extra={"channel": channel_name, "incident_id": notification.incident_id, "error": error},
        )
        return DeliveryOutcome(
            channel_name,
            False,
            error=error,
            attempts=attempts,
            dead_lettered=True,
            permanent=permanent,
            status=status,
        )
