"""``uptime-relay incidents ack`` as a user runs it (a separate process, no logging configured):
when a channel cannot be told, stderr holds the CLI's own explanation only, not the dispatcher's
bare "delivery failed" log lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay.adapters.incidents import DynamoIncidentStore, create_table
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.incident import Action, OpeningPlan, Transition, open_incident
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply

pytestmark = pytest.mark.integration


def seed(store: DynamoIncidentStore):
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    alert = Alert(
        source=AlertSource.CLOUDWATCH,
        id="arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-api",
        name="uptime-api",
        state=AlertState.ALARM,
        reason="Threshold Crossed",
        time=at,
        labels={"check": "api"},
    )
    incident = open_incident(alert, OpeningPlan(name="uptime-api", check="api", policy=None, cursor=None))
    assert store.commit(Transition(Action.OPENED, alert, "seeded", incident=incident))
    store.set_handles(incident.id, "pd-primary", {"dedup_key": "uptime-relay:k1"})
    return incident


def test_a_failed_follow_up_is_explained_once_without_bare_log_lines(aws, moto_endpoint, tmp_path):
    table = f"uptime-relay-{uuid.uuid4().hex[:8]}"
    create_table(aws("dynamodb"), table)
    incident = seed(DynamoIncidentStore(table, client=aws("dynamodb")))
    with HttpReceiver(Reply(400, '{"status":"invalid event"}')) as pagerduty:
        config = tmp_path / "uptime.yaml"
        config.write_text(
            "channels:\n"
            f"  pd-primary: {{type: pagerduty, routing_key: r0000000000000000000000000000000,"
            f" events_url: '{pagerduty.url}/v2/enqueue'}}\n"
            "routes:\n  - notify: [pd-primary]\n"
        )
        env = {k: v for k, v in os.environ.items() if k not in ("DLQ_URL", "UPTIME_STACK", "TABLE_NAME")}
        command = [
            sys.executable,
            "-c",
            "import sys; from uptime_relay_tools.cli import main; sys.exit(main())",
        ]
        where = ["--table", table, "--endpoint-url", moto_endpoint, "--config", str(config)]
        done = subprocess.run(
            [*command, "incidents", "ack", incident.id, "--by", "bob", *where],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert len(pagerduty.to("/v2/enqueue")) == 1
    assert done.returncode == 0, done.stderr
    assert f"{incident.id} acknowledged by bob" in done.stdout
    lines = done.stderr.rstrip("\n").splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("  could not tell pd-primary:") and "400" in lines[0]
    assert "delivery failed" not in done.stderr and "dead-lettered" not in done.stderr
