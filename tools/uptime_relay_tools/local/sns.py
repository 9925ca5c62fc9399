"""Alarm notifications from the local alarm evaluator to the relay handler, the way SNS carries them.

Each state change is published to the (moto) SNS alert topic, so it is really on the topic, then
wrapped in the Lambda SNS event envelope and handed to the relay handler in this process. SNS is
at-least-once and unordered; with faults switched on the bus delivers every message twice (same
MessageId) and/or holds a message back and delivers it after the next one.

Like an asynchronous Lambda invocation, a handler that raises is retried twice.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .alarms import Transition

ORIGIN_ATTRIBUTE = "uptime_relay_origin"  # on the messages the local alarm evaluator publishes
ASYNC_RETRIES = 2  # Lambda retries an asynchronous invocation twice after the first failure


def sns_time(at: datetime) -> str:
    """``2026-11-20T10:15:30.456Z``: SNS's Timestamp format."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def sns_event(
    message: str,
    *,
    topic_arn: str,
    subject: str | None,
    timestamp: datetime,
    message_id: str | None = None,
) -> dict[str, Any]:
    """The event a Lambda function subscribed to ``topic_arn`` receives for one message."""
    region = topic_arn.split(":")[3] if topic_arn.count(":") >= 5 else "us-east-1"
    subscription = f"{topic_arn}:{uuid.uuid4()}"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id or str(uuid.uuid4()),
                    "TopicArn": topic_arn,
                    "Subject": subject[:100] if subject else None,
                    "Message": message,
                    "Timestamp": sns_time(timestamp),
                    "SignatureVersion": "1",
                    "Signature": "LOCAL",
                    "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-local.pem",
                    "UnsubscribeUrl": (
                        f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription}"
                    ),
                    "MessageAttributes": {},
                },
            }
        ]
    }


@dataclass
class Delivered:
    message_id: str
    event: dict[str, Any]
    attempt: int
    ok: bool
    error: str | None = None
    duplicate: bool = False
    delayed: bool = False


@dataclass
class _Held:
    event: dict[str, Any]
    since: datetime


@dataclass
class SnsBus:
    """Publishes alarm transitions to ``topic_arn`` and delivers them to ``handler(event, context)``.

    ``publish`` is the moto SNS ``publish`` call (or None to skip it, in unit tests); ``now`` gives
    simulated time; ``duplicate`` delivers every message twice; ``out_of_order`` holds a message
    back until the next one was delivered (or ``hold`` of simulated time passed: ``release_due``).
    """

    topic_arn: str
    handler: Callable[[dict[str, Any], Any], Any]
    now: Callable[[], datetime]
    publish: Callable[..., Any] | None = None
    context_factory: Callable[[], Any] = lambda: None
    duplicate: bool = False
    out_of_order: bool = False
    hold: timedelta = timedelta(minutes=2)
    on_delivery: Callable[[Delivered], None] | None = None
    # called with the event when the handler failed every attempt (Lambda's on-failure DLQ)
    on_exhausted: Callable[[dict[str, Any], str], None] | None = None
    deliveries: list[Delivered] = field(default_factory=list)
    _held: list[_Held] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def deliver_published(self, message: str, subject: str | None, message_id: str | None) -> None:
        """Deliver a message someone else put on the topic, as SNS would (its own MessageId)."""
        event = sns_event(
            message, topic_arn=self.topic_arn, subject=subject, timestamp=self.now(), message_id=message_id
        )
        self._deliver(event)

    def publish_transition(self, transition: Transition) -> str:
        return self.publish_message(transition.message_json(), transition.subject)

    def publish_message(self, message: str, subject: str | None) -> str:
        """Put ``message`` on the topic and deliver it; returns the MessageId."""
        message_id = None
        if self.publish is not None:
            kwargs: dict[str, Any] = {"TopicArn": self.topic_arn, "Message": message}
            if subject:
                kwargs["Subject"] = subject[:100]
            # marked as this bus's own: the topic's HTTP subscription (LocalStack) filters it out,
            # since the bus delivers it itself
            kwargs["MessageAttributes"] = {
                ORIGIN_ATTRIBUTE: {"DataType": "String", "StringValue": "local-alarms"}
            }
            message_id = self.publish(**kwargs).get("MessageId")
        event = sns_event(
            message, topic_arn=self.topic_arn, subject=subject, timestamp=self.now(), message_id=message_id
        )
        with self._lock:
            if self.out_of_order and not self._held:
                self._held.append(_Held(event, self.now()))
                return event["Records"][0]["Sns"]["MessageId"]
            held, self._held = self._held, []
        self._deliver(event)
        for item in held:
            self._deliver(item.event, delayed=True)
        return event["Records"][0]["Sns"]["MessageId"]

    def release_due(self) -> None:
        """Deliver messages held back for longer than ``hold`` (call once per tick)."""
        now = self.now()
        with self._lock:
            due = [h for h in self._held if now - h.since >= self.hold]
            self._held = [h for h in self._held if now - h.since < self.hold]
        for item in due:
            self._deliver(item.event, delayed=True)

    def flush(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for item in held:
            self._deliver(item.event, delayed=True)

    def _deliver(self, event: dict[str, Any], *, delayed: bool = False) -> None:
        self._invoke(event, duplicate=False, delayed=delayed)
        if self.duplicate:
            self._invoke(event, duplicate=True, delayed=delayed)

    def _invoke(self, event: dict[str, Any], *, duplicate: bool, delayed: bool) -> None:
        message_id = event["Records"][0]["Sns"]["MessageId"]
        error = ""
        for attempt in range(1, ASYNC_RETRIES + 2):
            try:
                self.handler(event, self.context_factory())
            except Exception as exc:  # a failed invocation is retried, as Lambda does for SNS
                error = f"{type(exc).__name__}: {exc}"
                self._record(Delivered(message_id, event, attempt, False, error, duplicate, delayed))
                continue
            self._record(Delivered(message_id, event, attempt, True, None, duplicate, delayed))
            return
        if self.on_exhausted is not None:
            self.on_exhausted(event, error)

    def _record(self, record: Delivered) -> None:
        self.deliveries.append(record)
        if self.on_delivery is not None:
            self.on_delivery(record)
