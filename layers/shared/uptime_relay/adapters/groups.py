"""Group records and storm counters (``domain.grouping``, ``domain.storm``): in memory (tests, a
bare local run) and in the incident table.

``GROUP#<key>`` holds one route group's current generation as JSON, with a ``version``; while a
flush is due it sits in the sparse ``due`` index under its own partition ``due_pk = "GROUP"``,
``due_at`` = when (the escalation sweep queries it each minute). ``STORM#<route>`` holds a route's
storm counter. Every change is a conditional write on the version read (absent: must not exist),
re-read and re-decided on a lost race, a bounded number of times (``change``).
"""

from __future__ import annotations

import builtins
import json
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ..config.model import RETENTION_DEFAULT_S
from ..domain.grouping import Group, Member, Timing
from ..domain.storm import StormCounter, count_opening

GROUP_DUE_PK = "GROUP"  # the due GSI's partition of groups with a flush due
MAX_ATTEMPTS = 8


class ConcurrentGroupUpdate(Exception):
    """A group change kept losing its conditional write (bounded retries spent)."""


# --------------------------------------------------------------------------------------- JSON
def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def group_to_dict(group: Group) -> dict[str, Any]:
    return {
        "key": group.key,
        "generation": group.generation,
        "route": group.route,
        "labels": dict(group.labels),
        "channels": list(group.channels),
        "timing": [group.timing.wait_s, group.timing.interval_s, group.timing.repeat_s],
        "opened_at": group.opened_at.isoformat(),
        "policy": group.policy,
        "storm": group.storm,
        "mentions": list(group.mentions),
        "emails": list(group.emails),
        "members": [[m.id, m.name, m.firing] for m in group.members],
        "revision": group.revision,
        "sent_revision": group.sent_revision,
        "sent_to": list(group.sent_to),
        "first_sent_at": _iso(group.first_sent_at),
        "last_sent_at": _iso(group.last_sent_at),
        "acknowledged_by": group.acknowledged_by,
        "acknowledged_at": _iso(group.acknowledged_at),
        "ack_sent": group.ack_sent,
        "finished": group.finished,
        "due_at": _iso(group.due_at),
        "claimed_until": _iso(group.claimed_until),
        "handles": {k: dict(v) for k, v in group.handles.items()},
        "step": group.step,
        "round": group.round,
        "escalation_due": _iso(group.escalation_due),
    }


def group_from_dict(data: Mapping[str, Any], version: int) -> Group:
    wait, interval, repeat = data["timing"]
    return Group(
        key=data["key"],
        generation=int(data["generation"]),
        route=int(data["route"]),
        labels=dict(data.get("labels") or {}),
        channels=tuple(data.get("channels") or ()),
        timing=Timing(float(wait), float(interval), float(repeat) if repeat is not None else None),
        opened_at=datetime.fromisoformat(data["opened_at"]),
        policy=data.get("policy"),
        storm=bool(data.get("storm")),
        mentions=tuple(data.get("mentions") or ()),
        emails=tuple(data.get("emails") or ()),
        members=tuple(Member(str(i), str(n), bool(f)) for i, n, f in data.get("members") or ()),
        revision=int(data.get("revision") or 0),
        sent_revision=int(data.get("sent_revision") or 0),
        sent_to=tuple(data.get("sent_to") or ()),
        first_sent_at=_dt(data.get("first_sent_at")),
        last_sent_at=_dt(data.get("last_sent_at")),
        acknowledged_by=data.get("acknowledged_by"),
        acknowledged_at=_dt(data.get("acknowledged_at")),
        ack_sent=bool(data.get("ack_sent")),
        finished=bool(data.get("finished")),
        due_at=_dt(data.get("due_at")),
        claimed_until=_dt(data.get("claimed_until")),
        handles={k: dict(v) for k, v in (data.get("handles") or {}).items()},
        step=int(data.get("step") or 0),
        round=int(data.get("round") or 0),
        escalation_due=_dt(data.get("escalation_due")),
        version=version,
    )


class _Changes:
    """Read, decide, conditional write; on a lost race re-read and re-decide (bounded)."""

    def get(self, key: str) -> Group | None:
        raise NotImplementedError

    def put(self, group: Group) -> bool:
        raise NotImplementedError

    def change(self, key: str, decide: Callable[[Group | None], Group | None]) -> Group | None:
        """The group after ``decide`` (written), or None when ``decide`` changes nothing."""
        for _ in range(MAX_ATTEMPTS):
            current = self.get(key)
            changed = decide(current)
            if changed is None:
                return None
            if self.put(changed):
                return replace(changed, version=changed.version + 1)
        raise ConcurrentGroupUpdate(f"group {key}: changed under us {MAX_ATTEMPTS} times")


# --------------------------------------------------------------------------------------- in memory
class InMemoryGroupStore(_Changes):
    def __init__(self) -> None:
        self._groups: dict[str, Group] = {}
        self._storms: dict[int, StormCounter] = {}
        self._lock = threading.RLock()
        self.writes = 0

    def get(self, key: str) -> Group | None:
        with self._lock:
            return self._groups.get(key)

    def put(self, group: Group) -> bool:
        """Store ``group`` (its ``version`` is the one read) as version + 1, if still current."""
        with self._lock:
            old = self._groups.get(group.key)
            if (old.version if old else 0) != group.version:
                return False
            self._groups[group.key] = replace(group, version=group.version + 1)
            self.writes += 1
            return True

    def due(self, now: datetime) -> builtins.list[Group]:
        with self._lock:
            found = [
                g
                for g in self._groups.values()
                if not g.finished and g.due_at is not None and g.due_at <= now
            ]
        return sorted(found, key=lambda g: g.due_at or now)

    def all(self) -> builtins.list[Group]:
        with self._lock:
            return list(self._groups.values())

    def count_opening(self, route: int, now: datetime, window_s: float) -> StormCounter:
        with self._lock:
            counted = count_opening(self._storms.get(route), route, now, window_s)
            self._storms[route] = replace(counted, version=counted.version + 1)
            self.writes += 1
            return counted


# --------------------------------------------------------------------------------------- DynamoDB
class DynamoGroupStore(_Changes):
    """Groups and storm counters in the incident table (``GROUP#<key>``, ``STORM#<route>``).
    A finished group's record expires after ``retention`` (its key's next generation counts on)."""

    def __init__(self, table_name: str, client: Any = None, *, retention: timedelta | None = None):
        self.table_name = table_name
        self._client = client
        self.retention = retention or timedelta(seconds=RETENTION_DEFAULT_S)

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazy, as the other adapters

            self._client = boto3.client("dynamodb")
        return self._client

    def get(self, key: str) -> Group | None:
        item = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": f"GROUP#{key}"}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return group_from_dict(json.loads(item["group"]["S"]), int(item["version"]["N"]))

    def put(self, group: Group) -> bool:
        item: dict[str, Any] = {
            "pk": {"S": f"GROUP#{group.key}"},
            "kind": {"S": "group"},
            "group": {"S": json.dumps(group_to_dict(group), sort_keys=True)},
            "version": {"N": str(group.version + 1)},
        }
        if not group.finished and group.due_at is not None:
            item["due_pk"] = {"S": GROUP_DUE_PK}
            # floored to the ms: the index never finds a flush later than it is due
            item["due_at"] = {"N": f"{math.floor(group.due_at.timestamp() * 1000) / 1000:.3f}"}
        if group.finished:
            ended = group.last_sent_at or group.opened_at
            item["expires_at"] = {"N": str(int((ended + self.retention).timestamp()))}
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if group.version == 0
            else {
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":v": {"N": str(group.version)}},
            }
        )
        try:
            self.client.put_item(TableName=self.table_name, Item=item, **condition)
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def due(self, now: datetime) -> builtins.list[Group]:
        """Groups with a flush due at ``now`` (a keyed query of the due GSI)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": "due",
            "KeyConditionExpression": "#dpk = :g AND #dat <= :now",
            "ExpressionAttributeNames": {"#dpk": "due_pk", "#dat": "due_at"},
            "ExpressionAttributeValues": {":g": {"S": GROUP_DUE_PK}, ":now": {"N": f"{now.timestamp():.3f}"}},
        }
        found: builtins.list[Group] = []
        while True:
            reply = self.client.query(**kwargs)
            for item in reply.get("Items", []):
                found.append(group_from_dict(json.loads(item["group"]["S"]), int(item["version"]["N"])))
            if "LastEvaluatedKey" not in reply:
                break
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        return [g for g in found if not g.finished]

    def count_opening(self, route: int, now: datetime, window_s: float) -> StormCounter:
        """One more opening on ``route`` (conditional on the counter's version; retried)."""
        pk = {"pk": {"S": f"STORM#{route}"}}
        for _ in range(MAX_ATTEMPTS):
            item = self.client.get_item(TableName=self.table_name, Key=pk, ConsistentRead=True).get("Item")
            current = (
                StormCounter(
                    route,
                    datetime.fromisoformat(item["window_start"]["S"]),
                    int(item["count"]["N"]),
                    int(item["version"]["N"]),
                )
                if item
                else None
            )
            counted = count_opening(current, route, now, window_s)
            condition: dict[str, Any] = (
                {"ConditionExpression": "attribute_not_exists(pk)"}
                if item is None
                else {
                    "ConditionExpression": "#v = :v",
                    "ExpressionAttributeNames": {"#v": "version"},
                    "ExpressionAttributeValues": {":v": {"N": str(counted.version)}},
                }
            )
            try:
                self.client.put_item(
                    TableName=self.table_name,
                    Item={
                        **pk,
                        "kind": {"S": "storm"},
                        "window_start": {"S": counted.window_start.isoformat()},  # exact, to the µs
                        "count": {"N": str(counted.count)},
                        "version": {"N": str(counted.version + 1)},
                        "expires_at": {"N": str(int((now + timedelta(days=1)).timestamp()))},
                    },
                    **condition,
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                continue
            return counted
        raise ConcurrentGroupUpdate(f"storm counter of route {route}: changed under us {MAX_ATTEMPTS} times")
