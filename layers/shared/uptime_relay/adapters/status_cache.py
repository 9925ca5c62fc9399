"""The status page's snapshot: one DynamoDB item (``pk = STATUSPAGE#snapshot``), and its fake.

The item holds the page's public data as JSON (``body``), when its two parts were read
(``history_at``, ``live_at``), a ``version`` every write checks, and ``refreshing_until``: the lease
of the one request that is refreshing it, so that visitors arriving together cause one refresh,
not one each. Every write is conditional.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SNAPSHOT_PK = "STATUSPAGE#snapshot"


@dataclass(frozen=True)
class Snapshot:
    body: dict[str, Any]
    history_at: datetime
    live_at: datetime
    version: int


class InMemoryStatusCache:
    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        self._lease: datetime | None = None
        self._lock = threading.Lock()

    def get(self) -> Snapshot | None:
        return self._snapshot

    def claim(self, now: datetime, until: datetime) -> bool:
        with self._lock:
            if self._lease is not None and self._lease > now:
                return False
            self._lease = until
            return True

    def put(self, snapshot: Snapshot) -> bool:
        """Stores ``snapshot`` if the stored one is ``snapshot.version - 1`` (or none for 1)."""
        with self._lock:
            stored = self._snapshot.version if self._snapshot is not None else 0
            if stored != snapshot.version - 1:
                return False
            self._snapshot = snapshot
            self._lease = None
            return True


class DynamoStatusCache:
    def __init__(self, table_name: str, client: Any = None):
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    def get(self) -> Snapshot | None:
        item = self.client.get_item(TableName=self.table_name, Key={"pk": {"S": SNAPSHOT_PK}}).get("Item")
        if not item or "body" not in item:
            return None
        return Snapshot(
            body=json.loads(item["body"]["S"]),
            history_at=_time(item["history_at"]["N"]),
            live_at=_time(item["live_at"]["N"]),
            version=int(item["version"]["N"]),
        )

    def claim(self, now: datetime, until: datetime) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": SNAPSHOT_PK}},
                UpdateExpression="SET refreshing_until = :until",
                ConditionExpression="attribute_not_exists(refreshing_until) OR refreshing_until <= :now",
                ExpressionAttributeValues={":until": {"N": _epoch(until)}, ":now": {"N": _epoch(now)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def put(self, snapshot: Snapshot) -> bool:
        from botocore.exceptions import ClientError

        condition = "attribute_not_exists(version)" if snapshot.version == 1 else "version = :previous"
        values: dict[str, Any] = {
            ":body": {"S": json.dumps(snapshot.body, separators=(",", ":"))},
            ":history": {"N": _epoch(snapshot.history_at)},
            ":live": {"N": _epoch(snapshot.live_at)},
            ":version": {"N": str(snapshot.version)},
        }
        if snapshot.version != 1:
            values[":previous"] = {"N": str(snapshot.version - 1)}
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": SNAPSHOT_PK}},
                UpdateExpression=(
                    "SET body = :body, history_at = :history, live_at = :live, version = :version "
                    "REMOVE refreshing_until"
                ),
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _epoch(at: datetime) -> str:
    return f"{at.timestamp():.3f}"


def _time(value: str) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)
