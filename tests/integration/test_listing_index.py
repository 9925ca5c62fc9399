"""Incidents and silences read by keyed queries of the ``listing`` index (issue 13, items 4 and 5):
found by status and time, found after an upgrade, and kept for the configured ``retention``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay.adapters.incidents import DynamoIncidentStore, _incident_item, create_table
from uptime_relay.adapters.silences import DynamoSilences, _item
from uptime_relay.domain.silence import Silence
from uptime_relay_tools.cli import main
from uptime_relay_tools.testing.table_load import resolved_incident

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
INDEX_KEYS = ("list_pk", "list_at")


@pytest.fixture
def table(aws):
    name = f"listing-{uuid.uuid4().hex[:8]}"
    create_table(aws("dynamodb"), name)
    return name


def opened(n: int, status: str = "open"):
    """A history incident turned back into one in ``status`` (opened n+1 hours before NOW)."""
    from dataclasses import replace

    incident = resolved_incident(n, NOW)
    if status == "open":
        return replace(
            incident, status="open", resolved_at=None, resolved_by=None, timeline=incident.timeline[:1]
        )
    return incident


def written_before_the_index(client, table: str, item: dict) -> None:
    """An item as the previous release wrote it: without the listing index's keys."""
    client.put_item(TableName=table, Item={k: v for k, v in item.items() if k not in INDEX_KEYS})


def test_incidents_are_listed_by_status_and_by_time_without_a_scan(aws, table):
    """GIVEN open and resolved incidents opened at different times
    WHEN `incidents list` asks for open ones, and for resolved ones opened in the last 4.5 hours
    THEN each answer is exactly those incidents, read with queries (no Scan request)."""
    client = aws("dynamodb")
    store = DynamoIncidentStore(table, client=client)
    for n in range(10):
        client.put_item(TableName=table, Item=_incident_item(opened(n, "resolved"), store.retention))
    for n in (20, 21):
        client.put_item(TableName=table, Item=_incident_item(opened(n), store.retention))
    calls = []
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    assert [i.id for i in store.list()] == ["hist-000021", "hist-000020"]
    recent = store.list(statuses=("resolved",), since=NOW - timedelta(hours=4, minutes=30))
    assert [i.id for i in recent] == ["hist-000003", "hist-000002", "hist-000001", "hist-000000"]
    assert set(calls) == {"Query"}, calls


def test_an_incident_resolved_after_it_was_opened_is_listed_by_when_it_opened(aws, table):
    """GIVEN an incident opened 3 hours ago and resolved now
    WHEN incidents opened in the last 2 hours are listed
    THEN it is not among them; opened in the last 4 hours, it is."""
    store = DynamoIncidentStore(table, client=aws("dynamodb"))
    aws("dynamodb").put_item(TableName=table, Item=_incident_item(opened(2), store.retention))
    assert store.resolve("hist-000002", by="bob", via="cli", at=NOW)
    assert store.list(statuses=("resolved",), since=NOW - timedelta(hours=2)) == []
    assert [i.id for i in store.list(statuses=("resolved",), since=NOW - timedelta(hours=4))] == [
        "hist-000002"
    ]


def test_incidents_and_silences_written_before_the_upgrade_are_found_after_reindex(aws, moto_endpoint, table):
    """GIVEN an open incident, an acknowledged one and an active silence written by the previous
    release (no listing keys), and an open one acknowledged by the new release
    WHEN `uptime-relay incidents reindex` runs once (as the upgrade notes say)
    THEN the acknowledged-by-the-new-release one was already listed before it, and afterwards
    every incident is listed and the silence is active again; a second run adds nothing."""
    client = aws("dynamodb")
    store = DynamoIncidentStore(table, client=client)
    silences = DynamoSilences(table, client=client)
    written_before_the_index(client, table, _incident_item(opened(1), store.retention))
    written_before_the_index(client, table, _incident_item(opened(2), store.retention))
    written_before_the_index(client, table, _incident_item(opened(3), store.retention))
    silence = Silence("sil-0001", {"check": "api"}, NOW - timedelta(hours=1), NOW + timedelta(days=30))
    written_before_the_index(client, table, _item(silence, 1))
    assert store.acknowledge("hist-000002", by="bob", via="cli", at=NOW)  # the new release's write
    assert [i.id for i in store.list()] == ["hist-000002"]
    assert silences.active(NOW) == []
    where = ["--table", table, "--endpoint-url", moto_endpoint]
    assert main(["incidents", "reindex", *where]) == 0
    assert [(i.id, i.status) for i in store.list()] == [
        ("hist-000003", "open"),
        ("hist-000002", "acknowledged"),
        ("hist-000001", "open"),
    ]
    assert [s.id for s in silences.active(NOW)] == ["sil-0001"]
    assert store.reindex() == 0 and silences.reindex() == 0


@pytest.mark.parametrize("retention", [timedelta(days=400), timedelta(days=30)])
def test_a_resolved_incident_is_kept_for_the_configured_retention(aws, table, retention):
    """GIVEN a store with `retention` (the default is 400 days)
    WHEN an open incident is resolved, and another is written resolved
    THEN each carries the TTL resolved_at + retention."""
    client = aws("dynamodb")
    store = DynamoIncidentStore(table, client=client, retention=retention)
    client.put_item(TableName=table, Item=_incident_item(opened(1), store.retention))
    assert store.resolve("hist-000001", by="alarm", via="cloudwatch", at=NOW)
    client.put_item(TableName=table, Item=_incident_item(opened(5, "resolved"), store.retention))
    for id, resolved_at in (("hist-000001", NOW), ("hist-000005", opened(5, "resolved").resolved_at)):
        item = client.get_item(TableName=table, Key={"pk": {"S": f"INCIDENT#{id}"}})["Item"]
        assert int(item["expires_at"]["N"]) == int((resolved_at + retention).timestamp())


def test_the_default_retention_keeps_a_resolved_incident_400_days(aws, table):
    """GIVEN the store the relay builds from a config without `retention`
    WHEN an incident resolves
    THEN it expires 400 days after it resolved (no longer 90)."""
    from uptime_relay.config.loader import parse_config
    from uptime_relay.wiring import delivery_from_env

    client = aws("dynamodb")
    wired = delivery_from_env({"TABLE_NAME": table}, what="tests", config=parse_config(""), dynamodb=client)
    client.put_item(TableName=table, Item=_incident_item(opened(1), timedelta(days=1)))
    assert wired.store.resolve("hist-000001", by="alarm", via="cloudwatch", at=NOW)
    item = client.get_item(TableName=table, Key={"pk": {"S": "INCIDENT#hist-000001"}})["Item"]
    assert int(item["expires_at"]["N"]) == int((NOW + timedelta(days=400)).timestamp())


def test_after_an_upgrade_the_escalator_indexes_old_items_by_itself_and_the_relay_honours_old_silences(
    aws, table
):
    """GIVEN open incidents and an active silence written by the previous release (no listing
    keys), and no one running `incidents reindex`
    WHEN the escalator sweeps once
    THEN the incidents are listed, the relay's silence check sees the old silence, the marker says
    done, and a new container's sweep reads only the marker (one GetItem, no Scan)."""
    from uptime_relay.config.loader import parse_config
    from uptime_relay.escalator import build_escalator_from_env
    from uptime_relay.relay import silencer

    client = aws("dynamodb")
    store = DynamoIncidentStore(table, client=client)
    silences = DynamoSilences(table, client=client)
    for n in (1, 2):
        written_before_the_index(client, table, _incident_item(opened(n), store.retention))
    silence = Silence("sil-0001", {"check": "api"}, NOW - timedelta(hours=1), NOW + timedelta(days=30))
    written_before_the_index(client, table, _item(silence, 1))
    relay_silenced = silencer(parse_config(""), silences.active)
    assert store.list() == [] and relay_silenced({"check": "api"}, NOW) is None

    def escalator():
        return build_escalator_from_env({"TABLE_NAME": table}, config=parse_config(""), dynamodb=client)

    escalator().run(NOW)
    assert [i.id for i in store.list()] == ["hist-000002", "hist-000001"]
    relay_silenced.reset()
    assert relay_silenced({"check": "api"}, NOW) is not None
    marker = client.get_item(TableName=table, Key={"pk": {"S": "MIGRATION#listing-v1"}})["Item"]
    assert marker["state"] == {"S": "done"}
    calls = []
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    later = escalator()
    later.run(NOW)
    later.run(NOW)
    assert calls.count("GetItem") == 1 and "Scan" not in calls and "PutItem" not in calls, calls


def test_a_backfill_cut_short_resumes_from_its_saved_place(aws, table):
    """GIVEN five incidents from the previous release and a backfill reading one item per page
    WHEN a run has time for two pages, and a second run (another container) follows
    THEN the first leaves the marker running with its place, and the second indexes the rest."""
    from uptime_relay.adapters.listing_backfill import ListingBackfill
    from uptime_relay.migration import OneTimeMigration

    client = aws("dynamodb")
    store = DynamoIncidentStore(table, client=client)
    for n in range(5):
        written_before_the_index(client, table, _incident_item(opened(n), store.retention))
    backfill = ListingBackfill(store, DynamoSilences(table, client=client), page_size=1)
    left = iter([30.0, 20.0, 1.0])
    assert not OneTimeMigration("listing-v1", backfill).run(lambda: next(left), reserve_s=10)
    assert len(store.list()) == 2
    done, resume = backfill.progress()
    assert not done and resume is not None
    assert OneTimeMigration("listing-v1", backfill).run(lambda: 30.0, reserve_s=10)
    assert len(store.list()) == 5 and backfill.progress() == (True, None)
