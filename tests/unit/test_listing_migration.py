"""The ``listing`` index's keys are added by themselves after an upgrade (issue 13): the
escalator's sweep goes on with the one-time backfill in the time it has left, resumes where it
stopped, and once the marker says done a container reads it once and never again."""

from __future__ import annotations

from datetime import UTC, datetime

from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.escalator import SWEEP_RESERVE_S, Escalator
from uptime_relay.migration import OneTimeMigration

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
CONFIG = parse_config(
    "channels:\n  pd: {type: pagerduty, routing_key: k}\nroutes:\n  - notify: [pd]\n", "m.yaml"
)


class Table:
    """An in-memory table: items (some without index keys) and the marker, counting requests."""

    def __init__(self, unindexed: int, indexed: int = 0):
        self.items = [{"pk": f"INCIDENT#{n:03d}", "indexed": n < indexed} for n in range(unindexed + indexed)]
        self.marker: dict | None = None
        self.requests: list[str] = []


class FakeBackfill:
    """``ports.Backfill`` over ``Table``: pages of ``page_size`` items by position."""

    def __init__(self, table: Table, page_size: int):
        self.table = table
        self.page_size = page_size

    def progress(self):
        self.table.requests.append("GetItem")
        marker = self.table.marker
        return (False, None) if marker is None else (marker["done"], marker["resume"])

    def page(self, start):
        self.table.requests.append("Scan")
        at = start or 0
        added = 0
        for item in self.table.items[at : at + self.page_size]:
            added += not item["indexed"]
            item["indexed"] = True
        after = at + self.page_size
        return added, after if after < len(self.table.items) else None

    def save(self, *, done, resume):
        self.table.requests.append("PutItem")
        if not (self.table.marker or {}).get("done"):
            self.table.marker = {"done": done, "resume": resume}


def escalator(table: Table, page_size: int = 100, time_left=None) -> Escalator:
    dispatcher = Dispatcher(CONFIG, {}, StaticSecrets(), InMemoryDeadLetters())
    dispatcher.time_left = time_left
    migration = OneTimeMigration("listing-v1", FakeBackfill(table, page_size))
    return Escalator(CONFIG, InMemoryIncidentStore(), dispatcher, migration=migration)


def test_the_first_sweep_after_an_upgrade_indexes_old_items_and_marks_the_migration_done():
    """GIVEN a table upgraded from a release without the listing index (no marker)
    WHEN the escalator sweeps once
    THEN every old item gets its index keys, and the marker says done."""
    table = Table(unindexed=5, indexed=2)
    escalator(table, page_size=3).run(NOW)
    assert all(item["indexed"] for item in table.items)
    assert table.marker == {"done": True, "resume": None}
    assert table.requests == ["GetItem", "Scan", "PutItem", "Scan", "PutItem", "Scan", "PutItem"]


def test_a_backfill_that_runs_out_of_time_goes_on_where_it_stopped_at_the_next_sweep():
    """GIVEN a backfill of 10 items, 2 per page, and an invocation with time for 2 pages after its sweep
    WHEN the escalator sweeps, and a new container sweeps a minute later
    THEN the first sweep stops with its place saved, and the next one finishes from there
    (no page read twice)."""
    table = Table(unindexed=10)
    left = iter([60.0, 30.0, SWEEP_RESERVE_S - 1])
    escalator(table, page_size=2, time_left=lambda: next(left)).run(NOW)
    assert [item["indexed"] for item in table.items] == [True] * 4 + [False] * 6
    assert table.marker == {"done": False, "resume": 4}
    table.requests.clear()
    escalator(table, page_size=2, time_left=lambda: 60.0).run(NOW)
    assert all(item["indexed"] for item in table.items) and table.marker["done"]
    assert table.requests == ["GetItem"] + ["Scan", "PutItem"] * 3


def test_once_done_a_container_reads_the_marker_once_and_a_sweep_costs_nothing_more():
    """GIVEN a table whose backfill is done
    WHEN a new container sweeps three times
    THEN it reads the marker once (one GetItem) and scans nothing."""
    table = Table(unindexed=3)
    escalator(table).run(NOW)
    table.requests.clear()
    second = escalator(table)
    for _ in range(3):
        second.run(NOW)
    assert table.requests == ["GetItem"]


def test_a_fresh_stack_is_marked_done_after_one_scan_of_its_empty_table():
    """GIVEN a newly deployed stack (an empty table, no marker)
    WHEN the escalator sweeps
    THEN one scan finds nothing to index and the marker says done."""
    table = Table(unindexed=0)
    escalator(table).run(NOW)
    assert table.requests == ["GetItem", "Scan", "PutItem"] and table.marker["done"]


def test_a_failing_backfill_does_not_fail_the_sweep_and_is_tried_again_next_minute():
    """GIVEN a backfill whose table read fails once
    WHEN the escalator sweeps twice
    THEN the first sweep still returns its report, and the second finishes the backfill."""
    table = Table(unindexed=2)
    esc = escalator(table)
    failing = esc.migration.backfill
    calls = {"n": 0}

    def flaky(start):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("endpoint down")
        return FakeBackfill.page(failing, start)

    failing.page = flaky
    assert esc.run(NOW).fired == []
    assert table.marker is None
    esc.run(NOW)
    assert table.marker["done"] and all(item["indexed"] for item in table.items)
