"""Flap state per check (``domain.flapping.FlapState``): the in-memory store and the DynamoDB one.

DynamoDB item ``pk = FLAP#<check>`` on the shared table: ``changes`` (list of ISO times, newest
last, at most the threshold's number), ``flapping`` (BOOL), ``since``, ``version``. While the check
flaps the item sits in the sparse ``due`` GSI under its own partition ``due_pk = "FLAP"`` with
``due_at`` = when a whole window without a change ends, so the escalation sweep finds the checks
that have gone quiet with one keyed query (never a scan). Every write is conditional on the
version read (a new item on its absence).
"""

from __future__ import annotations

import builtins
import threading
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ..domain.flapping import FlapState

PREFIX = "FLAP#"
DUE_PK = "FLAP"  # the due GSI's partition of flapping checks
DUE_INDEX = "due"


class InMemoryFlaps:
    """Same semantics as the DynamoDB store (versions, due), for tests and bare local runs."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[FlapState, datetime | None]] = {}
        self._lock = threading.Lock()

    def get(self, check: str) -> FlapState | None:
        with self._lock:
            found = self._items.get(check)
            return found[0] if found else None

    def put(self, state: FlapState, *, quiet_at: datetime | None) -> bool:
        with self._lock:
            old = self._items.get(state.check)
            if (old[0].version if old else 0) != state.version - 1:
                return False
            self._items[state.check] = (state, quiet_at if state.flapping else None)
            return True

    def due(self, now: datetime) -> builtins.list[FlapState]:
        with self._lock:
            found = [(at, s) for s, at in self._items.values() if at is not None and at <= now]
        return [s for _, s in sorted(found, key=lambda pair: pair[0])]


class DynamoFlaps:
    def __init__(self, table_name: str, client: Any = None):
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazy: the client (and boto3) only when the adapter is first used

            self._client = boto3.client("dynamodb")
        return self._client

    def get(self, check: str) -> FlapState | None:
        reply = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": PREFIX + check}}, ConsistentRead=True
        )
        return _from_item(reply["Item"]) if "Item" in reply else None

    def put(self, state: FlapState, *, quiet_at: datetime | None) -> bool:
        item: dict[str, Any] = {
            "pk": {"S": PREFIX + state.check},
            "kind": {"S": "flapping"},
            "check": {"S": state.check},
            "changes": {"L": [{"S": at.isoformat()} for at in state.changes]},
            "flapping": {"BOOL": state.flapping},
            "version": {"N": str(state.version)},
        }
        if state.since is not None:
            item["since"] = {"S": state.since.isoformat()}
        if state.flapping and quiet_at is not None:
            item["due_pk"] = {"S": DUE_PK}
            item["due_at"] = {"N": str(int(quiet_at.timestamp()))}
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if state.version == 1
            else {
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":v": {"N": str(state.version - 1)}},
            }
        )
        try:
            self.client.put_item(TableName=self.table_name, Item=item, **condition)
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def due(self, now: datetime) -> builtins.list[FlapState]:
        """Flapping checks whose quiet window has ended by ``now`` (a keyed query of the due GSI)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "#dpk = :flap AND #dat <= :now",
            "ExpressionAttributeNames": {"#dpk": "due_pk", "#dat": "due_at"},
            "ExpressionAttributeValues": {":flap": {"S": DUE_PK}, ":now": {"N": str(int(now.timestamp()))}},
        }
        found: builtins.list[FlapState] = []
        while True:
            reply = self.client.query(**kwargs)
            found.extend(_from_item(item) for item in reply.get("Items", []))
            if "LastEvaluatedKey" not in reply:
                return found
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def _from_item(item: dict[str, Any]) -> FlapState:
    since = item.get("since", {}).get("S")
    return FlapState(
        check=item["check"]["S"],
        changes=tuple(_time(c["S"]) for c in item.get("changes", {}).get("L", [])),
        flapping=bool(item.get("flapping", {}).get("BOOL")),
        since=_time(since) if since else None,
        version=int(item["version"]["N"]),
    )


def _time(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else replace(at, tzinfo=UTC)
