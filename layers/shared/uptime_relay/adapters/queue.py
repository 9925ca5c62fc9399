"""The notification dead-letter queue: undeliverable notifications wait here to be replayed.

A record is a JSON object holding everything needed to replay the delivery (see
``delivery.dead_letter_record``): channel name, the notification (alerts included), incident id,
the last error, attempts, first and last failure time.

SQS takes at most 256 KiB per message. ``fit_record`` keeps every record under that: first the
raw text of the alerts beyond the first ``KEEP_RAW_ALERTS`` is trimmed (the parsed fields stay),
then, if still too big, the record is split into one record per alert (``part: {"index", "of"}``;
each replays as its own single-alert notification), shrinking that alert's long strings if it
alone is too big. Nothing is dropped whole. If SendMessage still fails, every part is logged at
ERROR with the marker ``DEAD_LETTER_LOST`` (so it is at least in CloudWatch Logs), the
``DeadLetterFailures`` metric is counted and the error is raised to the caller.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from .. import metricnames
from ..ports import DeadLetters as DeadLetters  # the port, re-exported for its importers
from ..ports import Received

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 262_144  # SQS: body + message attributes
BODY_BUDGET = 250_000  # bytes of JSON body we allow ourselves (room for the attributes)
KEEP_RAW_ALERTS = 3  # alerts whose raw text is always kept
LOST_MARKER = "DEAD_LETTER_LOST"
TRIMMED = "[trimmed to fit the dead-letter queue]"


def encode(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)


def _size(record: dict[str, Any]) -> int:
    return len(encode(record).encode("utf-8"))


def _alerts(record: dict[str, Any]) -> list[dict[str, Any]]:
    note = record.get("notification")
    alerts = note.get("alerts") if isinstance(note, dict) else None
    return alerts if isinstance(alerts, list) else []


def _trim_raw(alert: Any) -> None:
    if isinstance(alert, dict) and len(str(alert.get("raw") or "")) > len(TRIMMED):
        alert["raw"] = TRIMMED


def _shrink(value: Any, limit: int) -> Any:
    """Every string in ``value`` cut to ``limit`` characters (ids and times are short: kept)."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "…"
    if isinstance(value, dict):
        return {k: _shrink(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_shrink(v, limit) for v in value]
    return value


def fit_record(record: dict[str, Any], budget: int = BODY_BUDGET) -> list[dict[str, Any]]:
    """``record`` as one or more records whose JSON bodies are at most ``budget`` bytes."""
    if _size(record) <= budget:
        return [record]
    trimmed = copy.deepcopy(record)
    for alert in _alerts(trimmed)[KEEP_RAW_ALERTS:]:
        _trim_raw(alert)
    trimmed["trimmed"] = f"raw text of alerts after the first {KEEP_RAW_ALERTS}"
    if _size(trimmed) <= budget:
        return [trimmed]
    alerts = _alerts(trimmed)
    if len(alerts) <= 1:
        return [_shrunk(trimmed, budget)]
    parts = []
    for index, alert in enumerate(alerts):
        part = dict(trimmed)
        part["notification"] = {**trimmed["notification"], "alerts": [alert]}
        part["part"] = {"index": index + 1, "of": len(alerts)}
        parts.append(part if _size(part) <= budget else _shrunk(part, budget))
    return parts


def _shrunk(record: dict[str, Any], budget: int) -> dict[str, Any]:
    out = copy.deepcopy(record)
    for alert in _alerts(out):
        _trim_raw(alert)
    for limit in (2000, 500, 100):
        if _size(out) <= budget:
            break
        note = out["notification"]
        note["alerts"] = [_shrink(a, limit) for a in note.get("alerts") or []]
        out["error"] = _shrink(out.get("error"), limit)
        out["trimmed"] = f"long text cut to {limit} characters"
    return out


class InMemoryDeadLetters:
    """Fake queue: ``put`` records are kept (JSON round-tripped, as SQS would) until deleted."""

    def __init__(self, budget: int = BODY_BUDGET) -> None:
        self.budget = budget
        self._items: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def put(self, record: dict[str, Any]) -> None:
        with self._lock:
            for part in fit_record(record, self.budget):  # sized as the SQS queue would take it
                self._items[f"h{next(self._ids)}"] = json.loads(encode(part))

    def receive(self, max: int = 10, *, peek: bool = False) -> list[Received]:
        with self._lock:
            return [Received(h, json.loads(json.dumps(r)), h) for h, r in list(self._items.items())[:max]]

    def delete(self, handle: str) -> None:
        with self._lock:
            self._items.pop(handle, None)

    @property
    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)


class SqsDeadLetters:
    """The SQS queue named by ``DLQ_URL`` (boto3 client created lazily; honours AWS_ENDPOINT_URL)."""

    def __init__(
        self,
        queue_url: str,
        client: Any = None,
        *,
        visibility_timeout: int = 60,
        metrics: Callable[..., None] | None = None,
        budget: int = BODY_BUDGET,
    ):
        self.queue_url = queue_url
        self._client = client
        self.visibility_timeout = visibility_timeout
        self.metrics = metrics
        self.budget = budget

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazy: the client (and boto3) only when the adapter is first used

            self._client = boto3.client("sqs")
        return self._client

    def put(self, record: dict[str, Any]) -> None:
        """Send ``record`` (split to fit, see ``fit_record``). Raises when SQS refused any part,
        after logging the parts it refused in full at ERROR with ``LOST_MARKER``."""
        parts = fit_record(record, self.budget)
        failed: list[tuple[dict[str, Any], Exception]] = []
        for part in parts:
            try:
                self.client.send_message(
                    QueueUrl=self.queue_url,
                    MessageBody=encode(part),
                    MessageAttributes={
                        "channel": {
                            "DataType": "String",
                            "StringValue": str(part.get("channel") or "-")[:256],
                        },
                    },
                )
            except Exception as exc:
                failed.append((part, exc))
        if not failed:
            return
        for part, exc in failed:
            log.error(
                "%s: SQS refused the dead-letter record (%s: %s); the full record follows: %s",
                LOST_MARKER,
                type(exc).__name__,
                exc,
                encode(part),
                extra={"dead_letter_lost": True, "channel": part.get("channel")},
            )
        if self.metrics is not None:
            try:
                self.metrics(metricnames.DEAD_LETTER_FAILURES, len(failed))
            except Exception:
                log.warning("metric %s could not be recorded", metricnames.DEAD_LETTER_FAILURES)
        raise failed[0][1]

    def receive(self, max: int = 10, *, peek: bool = False) -> list[Received]:
        """Up to ``max`` records (several SQS calls of at most 10); each is hidden while being
        handled, unless ``peek`` (listing: records stay visible; best effort beyond 10)."""
        out: list[Received] = []
        seen: set[str] = set()
        while len(out) < max:
            reply = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, max - len(out)),
                VisibilityTimeout=0 if peek else self.visibility_timeout,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
            messages = [m for m in reply.get("Messages") or [] if m.get("MessageId") not in seen]
            if not messages:
                break
            for message in messages:
                seen.add(message.get("MessageId"))
                try:
                    record = json.loads(message["Body"])
                except ValueError:
                    record = {"error": "dead-letter body is not JSON", "raw": message["Body"][:2000]}
                count = int((message.get("Attributes") or {}).get("ApproximateReceiveCount", 1))
                out.append(Received(message["ReceiptHandle"], record, message.get("MessageId"), count))
        return out

    def delete(self, handle: str) -> None:
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=handle)
