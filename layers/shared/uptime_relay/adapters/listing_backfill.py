"""The ``listing`` index's keys for the incidents and silences written before it existed.

A ``ports.Backfill`` over the shared table, run once by the escalator
(``migration.OneTimeMigration``): a paged Scan (``Limit``, ``ExclusiveStartKey``) for
``INCIDENT#`` and ``SILENCE#`` items without ``list_pk``, each given its keys by the stores' own
conditional ``add_to_listing`` (the same write ``uptime-relay incidents reindex`` makes, so a
writer that got there first wins). Progress lives in the marker item ``pk = MIGRATION#listing-v1``:
``state`` (``running`` / ``done``) and ``resume`` (the scan's last evaluated key, JSON), written
after every page, so a run that runs out of time goes on from there at the next sweep. On a fresh
stack the first sweep scans the (empty) table once and marks it done.
"""

from __future__ import annotations

import json
from typing import Any

from .incidents import DynamoIncidentStore
from .silences import PREFIX as SILENCE_PREFIX
from .silences import DynamoSilences

MARKER_PK = "MIGRATION#listing-v1"
PAGE_SIZE = 200  # items read per Scan request (before the filter), so each page is quick


class ListingBackfill:
    def __init__(
        self, incidents: DynamoIncidentStore, silences: DynamoSilences, *, page_size: int = PAGE_SIZE
    ):
        self.incidents = incidents
        self.silences = silences
        self.page_size = page_size

    @property
    def client(self) -> Any:
        return self.incidents.client

    @property
    def table_name(self) -> str:
        return self.incidents.table_name

    def progress(self) -> tuple[bool, Any]:
        item = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": MARKER_PK}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return False, None
        resume = item.get("resume", {}).get("S")
        return item["state"]["S"] == "done", json.loads(resume) if resume else None

    def page(self, start: Any) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Limit": self.page_size,
            "FilterExpression": "attribute_not_exists(list_pk) AND (begins_with(pk, :i) OR begins_with(pk, :s))",
            "ExpressionAttributeValues": {":i": {"S": "INCIDENT#"}, ":s": {"S": SILENCE_PREFIX}},
        }
        if start is not None:
            kwargs["ExclusiveStartKey"] = start
        reply = self.client.scan(**kwargs)
        added = 0
        for item in reply.get("Items", []):
            store = self.silences if item["pk"]["S"].startswith(SILENCE_PREFIX) else self.incidents
            added += store.add_to_listing(item)
        return added, reply.get("LastEvaluatedKey")

    def save(self, *, done: bool, resume: Any) -> None:
        item: dict[str, Any] = {"pk": {"S": MARKER_PK}, "state": {"S": "done" if done else "running"}}
        if resume is not None:
            item["resume"] = {"S": json.dumps(resume, sort_keys=True)}
        try:  # never back from done: a slower overlapping run must not make the next one rescan
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(#st) OR #st <> :done",
                ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues={":done": {"S": "done"}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            pass
