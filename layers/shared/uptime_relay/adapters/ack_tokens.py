"""Ids used once, recorded with a conditional put: the ``jti`` of a used signed acknowledge link
(``ACKTOKEN#<jti>``) and the ``id`` of an applied PagerDuty webhook event (``PDEVENT#<id>``).

DynamoDB item ``pk = <prefix><id>`` written with ``attribute_not_exists(pk)``; ``expires_at`` (the
ack token's own expiry, or the end of a webhook event's replay window) lets DynamoDB TTL remove it
once the token or event could not pass its time check anyway. A second use of the same link or
event finds the item and is refused. ``is_used`` only reads (a strongly consistent ``GetItem``):
the confirmation page shown on ``GET /ack/<token>`` says "already used" without using the link.
``release`` deletes the record when the action it guarded failed, so the sender's retry applies.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from ..ports import UsedTokens as UsedTokens  # the port, re-exported for its importers

PREFIX = "ACKTOKEN#"  # used acknowledge links
PAGERDUTY_EVENT_PREFIX = "PDEVENT#"  # applied PagerDuty webhook events


class InMemoryUsedTokens:
    def __init__(self) -> None:
        self.used: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def claim(self, jti: str, expires_at: datetime, *, incident_id: str = "") -> bool:
        with self._lock:
            if jti in self.used:
                return False
            self.used[jti] = {"expires_at": int(expires_at.timestamp()), "incident_id": incident_id}
            return True

    def is_used(self, jti: str) -> bool:
        with self._lock:
            return jti in self.used

    def release(self, jti: str) -> None:
        with self._lock:
            self.used.pop(jti, None)


class DynamoUsedTokens:
    """On the shared table (key ``pk``, TTL ``expires_at``); ``prefix`` names the kind of id."""

    def __init__(self, table_name: str, client: Any = None, *, prefix: str = PREFIX):
        self.table_name = table_name
        self._client = client
        self.prefix = prefix

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazy: the client (and boto3) only when the adapter is first used

            self._client = boto3.client("dynamodb")
        return self._client

    def claim(self, jti: str, expires_at: datetime, *, incident_id: str = "") -> bool:
        item = {
            "pk": {"S": self.prefix + jti},
            "expires_at": {"N": str(int(expires_at.timestamp()))},
        }
        if incident_id:
            item["incident_id"] = {"S": incident_id}
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def is_used(self, jti: str) -> bool:
        reply = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": self.prefix + jti}},
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
        return "Item" in reply

    def release(self, jti: str) -> None:
        self.client.delete_item(TableName=self.table_name, Key={"pk": {"S": self.prefix + jti}})
