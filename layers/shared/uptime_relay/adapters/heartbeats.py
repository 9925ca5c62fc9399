"""Heartbeat pings, one item per heartbeat check on the shared table: ``pk = HEARTBEAT#<check>``
with ``success_at`` / ``fail_at`` / ``start_at`` (epoch seconds, the latest ping of each kind).

A ping is one keyed ``UpdateItem`` with a condition: ``SET <kind>_at = :t`` only when the stored
time is older (or absent). So a repeated or late-arriving ping never moves a time backwards, and
the same ping twice changes nothing (idempotent). No scan anywhere: the probe reads the items of
its heartbeat checks with ``BatchGetItem`` (100 keys a call), the relay one with ``GetItem``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..domain.heartbeat import KINDS, HeartbeatRecord

PREFIX = "HEARTBEAT#"
BATCH = 100  # BatchGetItem's limit
MAX_UNPROCESSED_ROUNDS = 5


def _epoch(at: datetime) -> str:
    return str(Decimal(str(round(at.timestamp(), 3))))


def _time(value: Any) -> datetime | None:
    if not isinstance(value, dict) or "N" not in value:
        return None
    return datetime.fromtimestamp(float(value["N"]), UTC)


def record_from_item(item: dict[str, Any]) -> HeartbeatRecord:
    return HeartbeatRecord(
        success_at=_time(item.get("success_at")),
        fail_at=_time(item.get("fail_at")),
        start_at=_time(item.get("start_at")),
    )


class InMemoryHeartbeats:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, datetime]] = {}
        self._lock = threading.Lock()

    def record(self, check: str, kind: str, at: datetime) -> bool:
        if kind not in KINDS:
            raise ValueError(f"unknown ping kind {kind!r}")
        with self._lock:
            times = self.records.setdefault(check, {})
            current = times.get(kind)
            if current is not None and current >= at:
                return False
            times[kind] = at
            return True

    def get(self, check: str) -> HeartbeatRecord | None:
        with self._lock:
            times = self.records.get(check)
            return None if times is None else HeartbeatRecord(**{f"{k}_at": v for k, v in times.items()})

    def get_many(self, checks: Iterable[str]) -> dict[str, HeartbeatRecord]:
        return {name: record for name in checks if (record := self.get(name)) is not None}


class DynamoHeartbeats:
    """On the shared table (key ``pk``)."""

    def __init__(self, table_name: str, client: Any = None):
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazy: the client (and boto3) only when the adapter is first used

            self._client = boto3.client("dynamodb")
        return self._client

    def record(self, check: str, kind: str, at: datetime) -> bool:
        """Store a ping; False when a ping of this kind at ``at`` or later is already stored."""
        if kind not in KINDS:
            raise ValueError(f"unknown ping kind {kind!r}")
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": PREFIX + check}},
                UpdateExpression="SET #t = :t",
                ConditionExpression="attribute_not_exists(#t) OR #t < :t",
                ExpressionAttributeNames={"#t": f"{kind}_at"},
                ExpressionAttributeValues={":t": {"N": _epoch(at)}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get(self, check: str) -> HeartbeatRecord | None:
        reply = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": PREFIX + check}}, ConsistentRead=True
        )
        item = reply.get("Item")
        return None if item is None else record_from_item(item)

    def get_many(self, checks: Iterable[str]) -> dict[str, HeartbeatRecord]:
        """The records of ``checks`` that have one (never pinged: absent). Raises on an AWS error,
        or when DynamoDB leaves keys unprocessed round after round."""
        names = list(dict.fromkeys(checks))
        out: dict[str, HeartbeatRecord] = {}
        for start in range(0, len(names), BATCH):
            keys: list[dict[str, Any]] = [{"pk": {"S": PREFIX + n}} for n in names[start : start + BATCH]]
            for _round in range(MAX_UNPROCESSED_ROUNDS):
                reply = self.client.batch_get_item(
                    RequestItems={self.table_name: {"Keys": keys, "ConsistentRead": True}}
                )
                for item in reply.get("Responses", {}).get(self.table_name, []):
                    out[item["pk"]["S"][len(PREFIX) :]] = record_from_item(item)
                keys = reply.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
                if not keys:
                    break
            if keys:
                raise RuntimeError(f"DynamoDB left {len(keys)} heartbeat record(s) unread")
        return out
