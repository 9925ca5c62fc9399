"""One-off silences (``uptime-relay silence add --match k=v --for 2h``), stored beside incidents.

DynamoDB item ``pk = SILENCE#<id>`` on the shared table: ``match`` (map), ``starts_at`` /
``ends_at`` (ISO strings), ``ends_epoch`` (N), ``created_by``, ``comment``, ``version``, and
``expires_at`` (TTL) a week after the silence ends, so recent silences still show in
``silence list --all``; ``list_pk = "SILENCE"`` / ``list_at = ends_epoch`` put every silence in the
table's ``listing`` index, so ``active(at)`` is one keyed query for the silences that end after
``at`` (the relay reads it on every alarm: it never scans the table). Writes are conditional: a new id must not exist; ending one early needs the
version that was read. ``active(at)`` is what the relay and the escalator pass to
``domain.silence.is_silenced``.
"""

from __future__ import annotations

import builtins
import logging
import secrets as _random
import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ..domain.silence import Silence
from ..ports import SilenceStore as SilenceStore  # the port, re-exported for its importers

log = logging.getLogger(__name__)

PREFIX = "SILENCE#"
LIST_PK = "SILENCE"  # the silences' partition of the ``listing`` index (see adapters.incidents)
LIST_INDEX = "listing"
KEEP_AFTER_END = timedelta(days=7)


def new_silence_id() -> str:
    return "sil-" + _random.token_hex(4)


def ended(silence: Silence, at: datetime) -> Silence:
    """``silence`` ended at ``at`` (an upcoming one is cancelled: it never takes effect)."""
    return replace(silence, starts_at=min(silence.starts_at, at - timedelta(seconds=1)), ends_at=at)


class InMemorySilences:
    def __init__(self) -> None:
        self._items: dict[str, Silence] = {}
        self._lock = threading.Lock()

    def add(self, silence: Silence) -> bool:
        with self._lock:
            if silence.id in self._items:
                return False
            self._items[silence.id] = silence
            return True

    def get(self, id: str) -> Silence | None:
        with self._lock:
            return self._items.get(id)

    def list(self) -> builtins.list[Silence]:
        with self._lock:
            return sorted(self._items.values(), key=lambda s: s.starts_at)

    def active(self, at: datetime) -> builtins.list[Silence]:
        return [s for s in self.list() if s.active(at)]

    def end(self, id: str, at: datetime) -> bool:
        with self._lock:
            current = self._items.get(id)
            if current is None or current.ends_at <= at:
                return False
            self._items[id] = ended(current, at)
            return True


def _item(silence: Silence, version: int) -> dict[str, Any]:
    return {
        "pk": {"S": PREFIX + silence.id},
        "kind": {"S": "silence"},
        "id": {"S": silence.id},
        "match": {"M": {k: {"S": str(v)} for k, v in silence.match.items()}},
        "starts_at": {"S": silence.to_item()["starts_at"]},
        "ends_at": {"S": silence.to_item()["ends_at"]},
        "ends_epoch": {"N": str(int(silence.ends_at.timestamp()))},
        "list_pk": {"S": LIST_PK},
        "list_at": {"N": str(int(silence.ends_at.timestamp()))},
        "created_by": {"S": silence.created_by},
        "comment": {"S": silence.comment},
        "version": {"N": str(version)},
        "expires_at": {"N": str(int((silence.ends_at + KEEP_AFTER_END).timestamp()))},
    }


def _from_item(item: Mapping[str, Any]) -> tuple[Silence, int]:
    plain = {
        "id": item["id"]["S"],
        "match": {k: v["S"] for k, v in item.get("match", {}).get("M", {}).items()},
        "starts_at": item["starts_at"]["S"],
        "ends_at": item["ends_at"]["S"],
        "created_by": item.get("created_by", {}).get("S", ""),
        "comment": item.get("comment", {}).get("S", ""),
    }
    return Silence.from_item(plain), int(item.get("version", {}).get("N", "1"))


class DynamoSilences:
    """On the shared table through a boto3 DynamoDB client (created lazily; honours AWS_ENDPOINT_URL)."""

    def __init__(self, table_name: str, client: Any = None):
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazy: the client (and boto3) only when the adapter is first used

            self._client = boto3.client("dynamodb")
        return self._client

    def add(self, silence: Silence) -> bool:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=_item(silence, 1),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _get(self, id: str) -> tuple[Silence, int] | None:
        reply = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": PREFIX + id}}, ConsistentRead=True
        )
        return _from_item(reply["Item"]) if "Item" in reply else None

    def get(self, id: str) -> Silence | None:
        found = self._get(id)
        return found[0] if found else None

    def _query(self, after: datetime | None) -> builtins.list[Silence]:
        """The silences in the ``listing`` index (ending after ``after``), page by page."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": LIST_INDEX,
            "KeyConditionExpression": "#lpk = :lpk",
            "ExpressionAttributeNames": {"#lpk": "list_pk"},
            "ExpressionAttributeValues": {":lpk": {"S": LIST_PK}},
        }
        if after is not None:
            kwargs["KeyConditionExpression"] += " AND #lat > :now"
            kwargs["ExpressionAttributeNames"]["#lat"] = "list_at"
            kwargs["ExpressionAttributeValues"][":now"] = {"N": str(int(after.timestamp()))}
        found: builtins.list[Silence] = []
        while True:
            reply = self.client.query(**kwargs)
            found.extend(_from_item(item)[0] for item in reply.get("Items", []))
            if "LastEvaluatedKey" not in reply:
                break
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        return sorted(found, key=lambda s: s.starts_at)

    def list(self) -> builtins.list[Silence]:
        return self._query(None)

    def active(self, at: datetime) -> builtins.list[Silence]:
        return [s for s in self._query(at) if s.active(at)]

    def reindex(self) -> int:
        """Put the silences written before the ``listing`` index existed into it; how many were
        added. One scan of the table (``uptime-relay incidents reindex``; the escalator does the
        same once by itself, ``adapters.listing_backfill``)."""
        added = 0
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "begins_with(pk, :p) AND attribute_not_exists(list_pk)",
            "ExpressionAttributeValues": {":p": {"S": PREFIX}},
        }
        while True:
            reply = self.client.scan(**kwargs)
            added += sum(self.add_to_listing(item) for item in reply.get("Items", []))
            if "LastEvaluatedKey" not in reply:
                return added
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def add_to_listing(self, item: Mapping[str, Any]) -> bool:
        """Give one silence item read without ``list_pk`` its ``listing`` keys; False when a
        writer got there first (conditional: no ``list_pk`` yet)."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": item["pk"]},
                UpdateExpression="SET list_pk = :lpk, list_at = ends_epoch",
                ConditionExpression="attribute_not_exists(list_pk) AND attribute_exists(ends_epoch)",
                ExpressionAttributeValues={":lpk": {"S": LIST_PK}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def end(self, id: str, at: datetime) -> bool:
        found = self._get(id)
        if found is None or found[0].ends_at <= at:
            return False
        silence, version = found
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=_item(ended(silence, at), version + 1),
                ConditionExpression="attribute_exists(pk) AND #v = :v",
                ExpressionAttributeNames={"#v": "version"},
                ExpressionAttributeValues={":v": {"N": str(version)}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
