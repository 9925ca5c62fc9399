"""Conditional moves of an incident's escalation cursor, guarded by the step's lease.

The escalation sweep claims a step by re-arming the SAME step a short lease ahead
(``due_at = now + lease``) on condition that it is still due (``due_at <= now``); the lease end it
wrote is the claim token: the sweep then re-arms the step for a retry or moves the cursor on only
while ``due_at`` still equals it. A sweep killed between claim and delivery leaves the step in
the due index, due again when the lease runs out; two overlapping sweeps cannot both claim it.
Each write can append timeline entries in the same conditional update (the claim records the
attempt with it).

``move_step`` works on any store with a ``move_step`` method of the same signature, and on the
``DynamoIncidentStore`` / ``InMemoryIncidentStore`` of ``adapters.incidents`` (which do not have it
yet: the write is made here through the store's table client or its in-memory update).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from ..domain.incident import TimelineEntry
from .incidents import DUE_PK, _entry_av, _epoch, _n, _s


def move_step(
    store: Any,
    id: str,
    *,
    step: int,
    round: int,
    to_step: int,
    to_round: int,
    due_at: datetime | None,
    expected_due: datetime | None = None,
    due_by: datetime | None = None,
    entries: Iterable[TimelineEntry] = (),
) -> bool:
    """Move the cursor of open incident ``id`` from (``step``, ``round``) to (``to_step``,
    ``to_round``) due at ``due_at`` (None: nothing left, out of the due index), appending
    ``entries``, only if it is still there and, when given, its ``due_at`` equals ``expected_due``
    (the caller's claim) and/or is at or before ``due_by`` (it is due). An incident whose first
    page is still pending (``cursor_held``) is never moved. False when a condition failed."""
    entries = tuple(entries)
    native = getattr(store, "move_step", None)
    if callable(native):
        return bool(
            native(
                id,
                step=step,
                round=round,
                to_step=to_step,
                to_round=to_round,
                due_at=due_at,
                expected_due=expected_due,
                due_by=due_by,
                entries=entries,
            )
        )
    if hasattr(store, "table_name") and hasattr(store, "client"):
        return _dynamo(store, id, step, round, to_step, to_round, due_at, expected_due, due_by, entries)
    if hasattr(store, "_incidents") and hasattr(store, "_update"):
        return _memory(store, id, step, round, to_step, to_round, due_at, expected_due, due_by, entries)
    raise TypeError(f"{type(store).__name__} cannot move an escalation cursor conditionally (no move_step)")


def _memory(store, id, step, round_, to_step, to_round, due_at, expected_due, due_by, entries) -> bool:
    def holds(i: Any) -> bool:
        return (
            i.status == "open"
            and not i.cursor_held
            and i.step == step
            and i.round == round_
            and (expected_due is None or i.due_at == expected_due)
            and (due_by is None or (i.due_at is not None and i.due_at <= due_by))
        )

    return store._update(
        id,
        holds,
        lambda i: replace(i, step=to_step, round=to_round, due_at=due_at, timeline=(*i.timeline, *entries)),
    )


def _dynamo(store, id, step, round_, to_step, to_round, due_at, expected_due, due_by, entries) -> bool:
    names = {
        "#v": "version",
        "#st": "status",
        "#step": "step",
        "#round": "round",
        "#dat": "due_at",
        "#dpk": "due_pk",
    }
    values: dict[str, Any] = {
        ":one": _n(1),
        ":open": _s("open"),
        ":es": _n(step),
        ":er": _n(round_),
        ":ns": _n(to_step),
        ":nr": _n(to_round),
    }
    sets = ["#v = #v + :one", "#step = :ns", "#round = :nr"]
    removes: list[str] = []
    if due_at is not None:
        values[":due"] = _s(DUE_PK)
        values[":nd"] = {"N": _epoch(due_at)}
        sets += ["#dpk = :due", "#dat = :nd"]
    else:
        removes += ["#dpk", "#dat"]
    if entries:
        names["#tl"] = "timeline"
        values[":tl"] = {"L": [_entry_av(e) for e in entries]}
        sets.append("#tl = list_append(#tl, :tl)")
    condition = (
        "attribute_exists(pk) AND #st = :open AND #step = :es AND #round = :er"
        " AND attribute_not_exists(held_due_at)"
    )
    if expected_due is not None:
        values[":xd"] = {"N": _epoch(expected_due)}
        condition += " AND #dat = :xd"
    if due_by is not None:
        values[":by"] = {"N": _epoch(due_by)}
        condition += " AND #dat <= :by"
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    client = store.client
    try:
        client.update_item(
            TableName=store.table_name,
            Key={"pk": _s(f"INCIDENT#{id}")},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True
