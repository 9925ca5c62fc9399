"""The dependency names each check's health JSON has held, one item per check on the shared table:
``pk = DEPENDENCIES#<check>``, one attribute ``dep:<name>`` per dependency (0 while present, else
the epoch second it went missing) and ``version``.

Written only when something changed (a name appears, goes missing, comes back or is forgotten),
with one keyed ``UpdateItem`` conditioned on the version read: two writers never lose each other's
change (the loser's next run tries again). Read with ``BatchGetItem``: no scan.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

PREFIX = "DEPENDENCIES#"
ATTRIBUTE = "dep:"
BATCH = 100
MAX_UNPROCESSED_ROUNDS = 5

Known = dict[str, datetime | None]


def _known(item: Mapping[str, Any]) -> tuple[Known, int]:
    seen: Known = {}
    for key, value in item.items():
        if key.startswith(ATTRIBUTE) and isinstance(value, dict) and "N" in value:
            epoch = float(value["N"])
            seen[key[len(ATTRIBUTE) :]] = datetime.fromtimestamp(epoch, UTC) if epoch else None
    version = item.get("version", {}).get("N", "0")
    return seen, int(version)


class InMemoryDependencySets:
    def __init__(self) -> None:
        self.items: dict[str, tuple[Known, int]] = {}
        self._lock = threading.Lock()

    def get_many(self, checks: Iterable[str]) -> dict[str, tuple[Known, int]]:
        with self._lock:
            return {c: (dict(self.items[c][0]), self.items[c][1]) for c in checks if c in self.items}

    def update(
        self,
        check: str,
        version: int,
        *,
        present: Iterable[str] = (),
        missing: Mapping[str, datetime] | None = None,
        forget: Iterable[str] = (),
    ) -> bool:
        with self._lock:
            seen, stored = self.items.get(check, ({}, 0))
            if stored != version:
                return False
            seen = dict(seen)
            seen.update(dict.fromkeys(present))
            seen.update(missing or {})
            for name in forget:
                seen.pop(name, None)
            self.items[check] = (seen, version + 1)
            return True


class DynamoDependencySets:
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

    def get_many(self, checks: Iterable[str]) -> dict[str, tuple[Known, int]]:
        names = list(dict.fromkeys(checks))
        out: dict[str, tuple[Known, int]] = {}
        for start in range(0, len(names), BATCH):
            keys: list[dict[str, Any]] = [{"pk": {"S": PREFIX + n}} for n in names[start : start + BATCH]]
            for _round in range(MAX_UNPROCESSED_ROUNDS):
                reply = self.client.batch_get_item(
                    RequestItems={self.table_name: {"Keys": keys, "ConsistentRead": True}}
                )
                for item in reply.get("Responses", {}).get(self.table_name, []):
                    out[item["pk"]["S"][len(PREFIX) :]] = _known(item)
                keys = reply.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
                if not keys:
                    break
            if keys:
                raise RuntimeError(f"DynamoDB left {len(keys)} dependency record(s) unread")
        return out

    def update(
        self,
        check: str,
        version: int,
        *,
        present: Iterable[str] = (),
        missing: Mapping[str, datetime] | None = None,
        forget: Iterable[str] = (),
    ) -> bool:
        names: dict[str, str] = {"#v": "version"}
        values: dict[str, Any] = {":next": {"N": str(version + 1)}}
        sets = ["#v = :next"]
        removes = []
        for i, name in enumerate(present):
            names[f"#p{i}"] = ATTRIBUTE + name
            values[":zero"] = {"N": "0"}
            sets.append(f"#p{i} = :zero")
        for i, (name, since) in enumerate((missing or {}).items()):
            names[f"#m{i}"] = ATTRIBUTE + name
            values[f":m{i}"] = {"N": str(int(since.timestamp()) or 1)}
            sets.append(f"#m{i} = :m{i}")
        for i, name in enumerate(forget):
            names[f"#f{i}"] = ATTRIBUTE + name
            removes.append(f"#f{i}")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        if version:
            condition = "#v = :v"
            values[":v"] = {"N": str(version)}
        else:
            condition = "attribute_not_exists(#v)"
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": PREFIX + check}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
