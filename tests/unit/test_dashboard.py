"""The stack's CloudWatch dashboard, read from the translated template: every widget's metric is
one the functions emit (``metricnames``) or one AWS publishes, and nothing names a check."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from uptime_relay import metricnames
from uptime_relay_tools.local.cloudformation import translate_template

ROOT = Path(__file__).resolve().parents[2]
# what AWS itself publishes for the resources the dashboard watches
AWS_METRICS = {
    "AWS/Lambda": {"Errors", "Throttles", "Duration", "Invocations"},
    "AWS/SQS": {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"},
}
OURS = {value for name, value in vars(metricnames).items() if name.isupper() and isinstance(value, str)}
PLACEHOLDERS = {
    "MetricsNamespace": "UptimeRelay",
    "AWS::Region": "us-east-1",
    "AWS::StackName": "uptime-relay",
}


@pytest.fixture(scope="module")
def template() -> dict:
    return translate_template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def body(template) -> dict:
    """The dashboard body with the Fn::Sub placeholders filled in (function and queue names
    become the logical ids they name)."""
    sub = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    text = sub if isinstance(sub, str) else sub[0]

    def fill(match: re.Match) -> str:
        name = match.group(1)
        return PLACEHOLDERS.get(name, name.split(".")[0])

    return json.loads(re.sub(r"\$\{([^}]+)\}", fill, text))


def widget_metrics(widget: dict) -> list[tuple[str, str]]:
    """(namespace, metric name) of every metric a widget draws (plain metrics and Metrics Insights)."""
    found = []
    for row in widget["properties"].get("metrics", []):
        for item in row:
            if isinstance(item, dict) and "expression" in item:
                match = re.fullmatch(
                    r'SELECT (?:AVG|SUM|MAX|MIN|COUNT)\((\w+)\) FROM (?:SCHEMA\()?"([^"]+)".*',
                    item["expression"],
                )
                assert match, f"not a Metrics Insights query this test reads: {item['expression']}"
                found.append((match.group(2), match.group(1)))
        if row and isinstance(row[0], str):
            found.append((row[0], row[1]))
    return found


def test_every_widget_metric_is_one_the_functions_emit_or_aws_publishes(body):
    seen = []
    for widget in body["widgets"]:
        if widget["type"] != "metric":
            continue
        for namespace, name in widget_metrics(widget):
            if namespace == PLACEHOLDERS["MetricsNamespace"]:
                assert name in OURS, f"{widget['properties']['title']}: {name} is not in metricnames.py"
            else:
                assert name in AWS_METRICS.get(namespace, ()), f"{namespace} {name}"
            seen.append(name)
    for wanted in (
        metricnames.AVAILABILITY,
        metricnames.LATENCY,
        metricnames.RUN_DURATION,
        metricnames.CHECKS_NOT_PROBED,
        metricnames.NOTIFICATIONS_SENT,
        metricnames.DELIVERY_FAILURES,
        metricnames.DELIVERIES_DEAD_LETTERED,
        metricnames.CHANNEL_FAILING,
        metricnames.INCIDENTS_OPENED,
        "Errors",
        "Throttles",
        "Duration",
        "ApproximateNumberOfMessagesVisible",
    ):
        assert wanted in seen, wanted


def test_per_check_widgets_group_by_the_check_dimension_so_a_new_check_needs_no_template_edit(body):
    per_check = [
        item["expression"]
        for widget in body["widgets"]
        for row in widget["properties"].get("metrics", [])
        for item in row
        if isinstance(item, dict) and f"({metricnames.AVAILABILITY})" in item.get("expression", "")
    ]
    assert per_check and all(f'GROUP BY "{metricnames.CHECK_DIMENSION}"' in q for q in per_check)
    text = json.dumps(body)
    for check in ("api", "website"):  # config/uptime.yaml's checks never appear in the template
        assert f'"{check}"' not in text


def test_the_functions_widgets_name_the_stacks_own_functions_and_queues(body, template):
    names = {
        row[3]
        for widget in body["widgets"]
        for row in widget["properties"].get("metrics", [])
        if row and isinstance(row[0], str)
    }
    assert {"RelayFunction", "EscalatorFunction", "ActionsFunction"} <= names
    assert {"NotificationDeadLetterQueue", "AlertDeadLetterQueue"} <= names
    assert names <= set(template["Resources"])


def test_the_per_channel_log_widget_counts_the_lines_the_dispatcher_writes(body):
    """The deliveries-per-channel widget reads the relay, escalator and actions log groups for
    the dispatcher's "delivered" / "delivery failed" lines (a metric per channel would cost
    $0.30 each)."""
    (widget,) = [w for w in body["widgets"] if w["type"] == "log"]
    query = widget["properties"]["query"]
    for function in ("relay", "escalator", "actions"):
        assert f"SOURCE '/aws/lambda/uptime-relay-{function}'" in query
    source = (ROOT / "layers/shared/uptime_relay/delivery.py").read_text()
    for message in ("delivered", "delivery failed"):
        assert f"message = '{message}'" in query
        assert f'"{message}"' in source
    assert "by channel" in query


def test_the_stack_outputs_the_dashboard_url(template):
    value = template["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]
    assert "#dashboards:name=${Dashboard}" in value
