"""The public status page and badges on the actions router: what they show, what they never show,
and that views are served from the cached snapshot (fakes for CloudWatch, the table and the cache)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from test_actions_support import SIM_START, FixedClock, open_incident
from uptime_relay.actions import Actions
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.status_cache import InMemoryStatusCache
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.alert import TEST_LABEL
from uptime_relay.statuspage import HISTORY_MAX_AGE, LIVE_MAX_AGE, StatusPageService
from uptime_relay_tools.testing.availability import FakeAvailability

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "status.schema.json").read_text())
SECRETISH = "s3cr3t-token-in-url"
CONFIG = f"""
checks:
  - name: api
    url: https://user:pw@api.internal.example.com/health?token={SECRETISH}
    labels: {{team: platform, severity: critical}}
    runbook: https://wiki.internal.example.com/runbooks/api
    description: Internal API behind the VPN
    sla: 99.9
  - name: website
    url: https://www.example.com/
  - name: db
    tcp: db.internal.example.com:5432
status_page:
  title: Example status
  description: How our public services are doing
  groups:
    - {{name: Public, checks: [api, website]}}
"""
INTERNAL = (
    "internal.example.com",
    SECRETISH,
    "platform",
    "critical",
    "runbooks",
    "VPN",
    "user:pw",
    "db",
    "Threshold Crossed",
    "uptime-api",
)


class World:
    def __init__(self):
        self.clock = FixedClock(SIM_START)
        self.config = parse_config(CONFIG)
        self.store = InMemoryIncidentStore()
        self.reader = FakeAvailability()
        self.cache = InMemoryStatusCache()
        self.service = StatusPageService(self.config, self.store, self.reader, self.cache, now=self.clock.now)
        self.actions = Actions(
            self.config, self.store, secrets=lambda ref: ref, clock=self.clock, status_page=self.service
        )

    def get(self, path):
        return self.actions.handle("GET", path, {}, b"")


@pytest.fixture
def world():
    w = World()
    start = SIM_START.replace(second=0) - timedelta(days=3)
    for check in ("api", "website", "db"):
        w.reader.record_minutes(check, start, 3 * 1440, ok=True)
    w.reader.record_minutes("api", SIM_START.replace(second=0) - timedelta(days=1, hours=2), 144, ok=False)
    return w


def test_the_page_shows_each_listed_check_with_its_state_90_daily_segments_and_its_incident(world):
    """GIVEN api with an open incident and website up
    WHEN /status is fetched THEN api shows Down with its ongoing incident, website Up, and each
    has a 90-segment bar coloured by that day's uptime (red where api lost 10% of a day)."""
    open_incident(world.store, "api", at=SIM_START - timedelta(minutes=5))
    response = world.get("/status")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    html = response.body
    assert 'id="check-api" data-status="down"' in html
    assert 'id="check-website" data-status="up"' in html
    assert html.count('class="day"') == 180
    yesterday = (SIM_START - timedelta(days=1)).date().isoformat()
    assert f'title="{yesterday}: 90.00%"' in html
    assert 'class="incident open" data-check="api"' in html and "(ongoing)" in html
    assert '<meta name="viewport"' in html and "<script" not in html


def test_status_json_has_the_contract_shape_and_validates_against_the_schema(world):
    incident = open_incident(world.store, "api", at=SIM_START - timedelta(hours=2))
    world.store.resolve(incident.id, by="alarm", via="cloudwatch", at=SIM_START - timedelta(hours=1))
    body = json.loads(world.get("/status.json").body)
    jsonschema.validate(body, SCHEMA)
    assert [c["name"] for c in body["checks"]] == ["api", "website"]
    api = body["checks"][0]
    assert api["status"] == "up" and api["group"] == "Public"
    assert api["uptime_pct"]["7d"] == pytest.approx(100 * (3 * 1440 - 144) / (3 * 1440), abs=1e-3)
    assert body["incidents"] == [
        {"check": "api", "started_at": "2026-11-25T10:00:00Z", "resolved_at": "2026-11-25T11:00:00Z"}
    ]


def test_nothing_internal_leaks_into_the_page_the_json_or_the_badges(world):
    """GIVEN a check whose URL carries credentials and a token, with labels, a runbook, a
    description, an open incident, and an unlisted check (db)
    THEN none of it appears in any public answer."""
    open_incident(world.store, "api", at=SIM_START - timedelta(minutes=5))
    open_incident(world.store, "db", at=SIM_START - timedelta(minutes=5))
    answers = [
        world.get(path).body
        for path in ("/status", "/status.json", "/badge/api.svg", "/badge/api/uptime-30d.svg")
    ]
    for body in answers:
        for secret in INTERNAL:
            assert secret not in body, (secret, body[:200])
    assert world.get("/badge/db.svg").status == 404


def test_badges_are_valid_svg_saying_the_state_and_the_30_day_uptime(world):
    open_incident(world.store, "api", at=SIM_START - timedelta(minutes=5))
    state = world.get("/badge/api.svg")
    uptime = world.get("/badge/website/uptime-30d.svg")
    for response in (state, uptime):
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/svg+xml"
        root = ET.fromstring(response.body)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert int(root.get("width")) > 0 and root.get("height") == "20"
    assert ET.fromstring(state.body).get("aria-label") == "api: down"
    assert ET.fromstring(uptime.body).get("aria-label") == "uptime 30d: 100%"


def test_views_are_served_from_the_snapshot_not_one_cloudwatch_read_per_check_per_visitor(world):
    """GIVEN the page fetched once
    WHEN 1,000 more views arrive within the next minute THEN CloudWatch is not read again; after
    a minute only the incidents are re-read, after 15 minutes the uptime once."""
    world.get("/status")
    first = world.reader.calls
    assert 0 < first <= 4  # daily segments + the last 24 h (head, hours, tail), all checks at once
    for _ in range(1000):
        world.get("/status.json")
    assert world.reader.calls == first
    world.clock.at += LIVE_MAX_AGE
    open_incident(world.store, "website", at=world.clock.at)
    assert json.loads(world.get("/status.json").body)["checks"][1]["status"] == "down"
    assert world.reader.calls == first
    world.clock.at += HISTORY_MAX_AGE
    world.get("/badge/api.svg")
    assert first < world.reader.calls <= first + 4


def test_a_view_while_another_refreshes_gets_the_previous_snapshot(world):
    world.get("/status")
    world.clock.at += HISTORY_MAX_AGE
    assert world.cache.claim(world.clock.at, world.clock.at + timedelta(seconds=30))
    calls = world.reader.calls
    assert world.get("/status").status == 200
    assert world.reader.calls == calls


def test_without_status_page_in_the_config_there_is_no_page_and_no_badge():
    config = parse_config('checks: [{name: api, url: "https://api.example.com/"}]')
    actions = Actions(config, InMemoryIncidentStore(), secrets=lambda ref: ref)
    for path in ("/status", "/status.json", "/badge/api.svg"):
        assert actions.handle("GET", path, {}, b"").status == 404
    assert actions.handle("POST", "/status", {}, b"").status == 405


def test_a_check_never_probed_is_unknown_not_up():
    world = World()
    body = json.loads(world.get("/status.json").body)
    assert {c["status"] for c in body["checks"]} == {"unknown"}
    assert body["checks"][0]["uptime_pct"] == {"24h": None, "7d": None, "30d": None, "90d": None}
    assert datetime.fromisoformat(body["updated_at"].replace("Z", "+00:00")) == SIM_START.astimezone(UTC)


def test_status_page_config_errors_name_the_group_and_the_unknown_check():
    from uptime_relay.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_config(
            'checks: [{name: api, url: "https://a.example/"}]\n'
            "status_page: {title: S, groups: [{name: G, checks: [api, nope]}, {name: H}]}\n"
        )
    text = str(caught.value)
    assert "status_page.groups[0].checks[1]: unknown check 'nope'" in text
    assert "status_page.groups[1].checks: missing required key 'checks'" in text


def test_a_test_alert_never_shows_on_the_status_page(world):
    """GIVEN `uptime-relay test --labels check=api` left an open test incident for a listed check
    WHEN /status.json is fetched THEN api is up and no incident is shown."""
    open_incident(world.store, "api", at=SIM_START - timedelta(minutes=5), labels={TEST_LABEL: "run-1"})
    body = json.loads(world.get("/status.json").body)
    assert body["incidents"] == []
    assert {c["name"]: c["status"] for c in body["checks"]}["api"] == "up"
