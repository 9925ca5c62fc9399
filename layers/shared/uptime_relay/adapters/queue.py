"""The notification dead-letter queue: undeliverable notifications wait here to be replayed.

A record is a JSON object holding everything needed to replay the delivery (see
``delivery.dead_letter_record``): channel name, the notification (alerts included), incident id,
the last error, attempts, first and last failure time.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Received:
    handle: str  # pass to delete() once the record is dealt with
    record: dict[str, Any]
    message_id: str | None = None
    receive_count: int = 1


class DeadLetters(Protocol):
    def put(self, record: dict[str, Any]) -> None: ...
    def receive(self, max: int = 10, *, peek: bool = False) -> list[Received]: ...
    def delete(self, handle: str) -> None: ...


class InMemoryDeadLetters:
    """Fake queue: ``put`` records are kept (JSON round-tripped, as SQS would) until deleted."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def put(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._items[f"h{next(self._ids)}"] = json.loads(json.dumps(record))

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

    def __init__(self, queue_url: str, client: Any = None, *, visibility_timeout: int = 60):
        self.queue_url = queue_url
        self._client = client
        self.visibility_timeout = visibility_timeout

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        return self._client

    def put(self, record: dict[str, Any]) -> None:
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps(record, sort_keys=True),
            MessageAttributes={
                "channel": {"DataType": "String", "StringValue": str(record.get("channel") or "-")},
            },
        )

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
