"""The destinations' token buckets (``domain.pacing``): in memory (tests, a bare local run) and
in DynamoDB (``PACE#<destination>``: tokens, as of when, a version; every reservation is a
conditional write on the version read, retried on a lost race), shared by every invocation."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from ..domain.pacing import Bucket, Pace, reserve

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
KEEP = timedelta(days=1)  # an idle destination's item expires (TTL): a fresh bucket is full anyway


class InMemoryPacer:
    def __init__(self) -> None:
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, pace: Pace, now: datetime, max_wait_s: float) -> tuple[bool, float]:
        """``(reserved, seconds until the slot)``: not reserved when the slot is further than
        ``max_wait_s``."""
        with self._lock:
            bucket, wait = reserve(self._buckets.get(key), pace, now, max_wait_s)
            if bucket is not None:
                self._buckets[key] = bucket
            return bucket is not None, wait


class DynamoPacer:
    def __init__(self, table_name: str, client: Any = None):
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazy, as the other adapters

            self._client = boto3.client("dynamodb")
        return self._client

    def reserve(self, key: str, pace: Pace, now: datetime, max_wait_s: float) -> tuple[bool, float]:
        """As ``InMemoryPacer.reserve``; after ``MAX_ATTEMPTS`` lost races, reserved at once
        (sent unpaced: a page is never held back by contention on its bucket)."""
        pk = {"pk": {"S": f"PACE#{key}"}}
        for _ in range(MAX_ATTEMPTS):
            item = self.client.get_item(TableName=self.table_name, Key=pk, ConsistentRead=True).get("Item")
            current = (
                Bucket(float(item["tokens"]["N"]), datetime.fromtimestamp(float(item["at"]["N"]), UTC))
                if item
                else None
            )
            bucket, wait = reserve(current, pace, now, max_wait_s)
            if bucket is None:
                return False, wait
            version = int(item["version"]["N"]) if item else 0
            condition: dict[str, Any] = (
                {"ConditionExpression": "attribute_not_exists(pk)"}
                if item is None
                else {
                    "ConditionExpression": "#v = :v",
                    "ExpressionAttributeNames": {"#v": "version"},
                    "ExpressionAttributeValues": {":v": {"N": str(version)}},
                }
            )
            try:
                self.client.put_item(
                    TableName=self.table_name,
                    Item={
                        **pk,
                        "kind": {"S": "pace"},
                        "tokens": {"N": repr(round(bucket.tokens, 6))},
                        "at": {"N": f"{bucket.at.timestamp():.6f}"},
                        "version": {"N": str(version + 1)},
                        "expires_at": {"N": str(int((bucket.at + KEEP).timestamp()))},
                    },
                    **condition,
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                continue
            return True, wait
        log.warning("pace of %s: lost %d races in a row; sending unpaced", key, MAX_ATTEMPTS)
        return True, 0.0
