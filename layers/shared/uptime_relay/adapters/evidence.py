"""Where the probe keeps each check's latest failure (``domain.evidence.Evidence``), for the relay.

DynamoDB item ``pk = EVIDENCE#<check>`` on the shared table: ``evidence`` (the record as JSON),
``signature`` (what makes two failures the same), ``written_at`` (epoch ms) and ``expires_at``
(TTL, 30 days). The put is conditional: it writes a first record, or a different failure that
is not older than the stored one; the same failure again leaves the stored one (and its
``since``) alone, and an older run never overwrites a newer record.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

from ..domain.evidence import Evidence

PREFIX = "EVIDENCE#"
KEEP = timedelta(days=30)


def _signature(evidence: Evidence) -> str:
    return json.dumps(list(evidence.signature), default=str)


class InMemoryEvidenceStore:
    def __init__(self) -> None:
        self.records: dict[str, Evidence] = {}
        self.writes = 0
        self._lock = threading.Lock()

    def put(self, evidence: Evidence) -> bool:
        with self._lock:
            stored = self.records.get(evidence.check)
            if stored is not None and (
                stored.signature == evidence.signature
                or (stored.at and evidence.at and stored.at > evidence.at)
            ):
                return False
            self.records[evidence.check] = evidence
            self.writes += 1
            return True

    def get(self, check: str) -> Evidence | None:
        with self._lock:
            return self.records.get(check)


class DynamoEvidenceStore:
    def __init__(self, table_name: str, client: Any = None):
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazy: only when first used

            self._client = boto3.client("dynamodb")
        return self._client

    def put(self, evidence: Evidence) -> bool:
        at = evidence.at
        written = int(at.timestamp() * 1000) if at else 0
        item = {
            "pk": {"S": PREFIX + evidence.check},
            "evidence": {"S": json.dumps(evidence.to_dict(), sort_keys=True)},
            "signature": {"S": _signature(evidence)},
            "written_at": {"N": str(written)},
        }
        if at is not None:
            item["expires_at"] = {"N": str(int((at + KEEP).timestamp()))}
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR (signature <> :sig AND written_at <= :at)",
                ExpressionAttributeValues={":sig": item["signature"], ":at": item["written_at"]},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get(self, check: str) -> Evidence | None:
        reply = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": PREFIX + check}}, ProjectionExpression="evidence"
        )
        raw = reply.get("Item", {}).get("evidence", {}).get("S")
        if not raw:
            return None
        try:
            return Evidence.from_dict(json.loads(raw))
        except ValueError:
            return None
