"""A check's dependency alarm (Metrics Insights, GROUP BY Dependency) against a moto CloudWatch."""

from __future__ import annotations

import uuid

import pytest
from uptime_relay import alarms
from uptime_relay.config.loader import parse_config

pytestmark = pytest.mark.integration
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
NS = "UptimeRelay/deps"
WITH = """
checks:
  - name: api
    url: https://api.example.com/health
    dependencies: {path: services}
"""


def test_the_dependency_alarm_is_created_once_left_alone_and_removed_with_the_key(aws):
    """GIVEN a check with dependencies WHEN reconciled twice THEN its own alarm and its dependency
    alarm are created, then unchanged; WHEN `dependencies` is removed THEN the dependency alarm goes."""
    client, prefix = aws("cloudwatch"), f"deps-{uuid.uuid4().hex[:6]}"

    def run(text: str) -> alarms.Changes:
        desired = alarms.desired_alarms(parse_config(text), namespace=NS, topic_arn=TOPIC, prefix=prefix)
        return alarms.reconcile(client, desired, prefix, namespace=NS)

    first = run(WITH)
    assert sorted(first.created) == [f"{prefix}-check-api", f"{prefix}-check-api.dependencies"]
    again = run(WITH)
    assert (again.created, again.updated, again.deleted) == ([], [], [])
    without = run(WITH.replace("    dependencies: {path: services}\n", ""))
    assert without.deleted == [f"{prefix}-check-api.dependencies"] and without.unchanged == [
        f"{prefix}-check-api"
    ]
