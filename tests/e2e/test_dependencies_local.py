"""Health-JSON dependencies through the whole local stack: one request per minute, one
availability metric per dependency, the check's Metrics Insights alarm (evaluated locally per
contributor), the relay and the channels."""

from __future__ import annotations

import json

import pytest
from local_e2e import SLACK_PATH, pd_events, slack_messages
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply

pytestmark = pytest.mark.e2e


class Health:
    """A health endpoint whose JSON a test changes between simulated minutes."""

    def __init__(self) -> None:
        self.services = {"database": {"status": "ok"}, "cache": {"status": "ok"}}
        self.server = HttpReceiver(
            default=lambda _request: Reply(200, {"status": "ok", "services": self.services})
        )

    def __enter__(self) -> Health:
        self.server.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.server.__exit__(*exc)


def write_config(path, health_url: str, receiver) -> None:
    path.write_text(
        f"""
checks:
  - name: api
    url: {health_url}/health
    timeout: 2s
    labels: {{severity: critical}}
    dependencies: {{path: services, status_key: status, healthy: [ok, up, healthy], forget_after: 1h}}
channels:
  slack-critical: {{type: slack, webhook_url: "{receiver.url}{SLACK_PATH}"}}
  pd-primary: {{type: pagerduty, routing_key: e2e00000000000000000000000000000, events_url: "{receiver.url}/v2/enqueue"}}
routes:
  - match: {{severity: critical}}
    notify: [slack-critical, pd-primary]
""",
        encoding="utf-8",
    )


def test_a_dependency_going_down_opens_one_incident_named_for_it(tmp_path, receiver, local_stack):
    """GIVEN a health endpoint listing database and cache, both ok
    WHEN cache turns "down" from minute 2 (the endpoint itself keeps answering 200)
    THEN exactly one incident opens, for "api / cache", labelled for inhibition of its parent,
    and the page names it; the parent check's own alarm never fires."""
    with Health() as health:
        write_config(tmp_path / "c.yaml", health.server.url, receiver)

        def step(stack, minute: int) -> None:
            if minute == 1:
                health.services["cache"] = {"status": "down"}

        stack = local_stack(tmp_path / "c.yaml", minutes=6)
        stack.after_minute = step
        stack.run()
        requests_made = len(health.server.requests)

    assert requests_made == 6  # one request a minute for the check and all its dependencies
    (incident,) = stack.incidents()
    assert incident.name == "api / cache"
    assert incident.labels["check"] == "api" and incident.labels["dependency"] == "cache"
    assert incident.labels["dependency_of"] == "api"
    triggers = [e for e in pd_events(receiver) if e["event_action"] == "trigger"]
    assert len(triggers) == 1 and "api / cache" in triggers[0]["payload"]["summary"]
    assert "api / cache" in json.dumps(slack_messages(receiver)[0])
    parent = [t for _m, t in stack.transitions if t.alarm.name.endswith("-check-api")]
    assert all(t.new_state != "ALARM" for t in parent)


def test_a_dependency_that_disappears_from_the_json_is_reported(tmp_path, receiver, local_stack):
    """GIVEN a health endpoint listing database and cache WHEN database disappears from the JSON
    from minute 2 THEN an incident opens for "api / database" (not silently dropped), and the
    stack remembers since when it is missing."""
    with Health() as health:
        write_config(tmp_path / "c.yaml", health.server.url, receiver)

        def step(stack, minute: int) -> None:
            if minute == 1:
                health.services.pop("database")

        stack = local_stack(tmp_path / "c.yaml", minutes=6)
        stack.after_minute = step
        stack.run()

    (incident,) = stack.incidents()
    assert incident.name == "api / database"
    item = stack.client("dynamodb").get_item(
        TableName=stack.table_name, Key={"pk": {"S": "DEPENDENCIES#api"}}, ConsistentRead=True
    )["Item"]
    assert item["dep:cache"] == {"N": "0"} and int(item["dep:database"]["N"]) > 0  # missing since
