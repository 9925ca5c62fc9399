"""Health-JSON dependencies: reading them from one response, remembering the ones that disappear,
their metrics, their alarm (and its local evaluation per contributor), their pages and their cost."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from probe_servers import Target, http
from uptime_relay.adapters.dependencies import InMemoryDependencySets
from uptime_relay.alarms import DEPENDENCIES_SUFFIX, desired_alarms
from uptime_relay.check_pages import CheckNotes
from uptime_relay.config import ConfigError, Dependencies
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.intake import enrich, parse_event
from uptime_relay.probe import run_checks
from uptime_relay.probe.dependencies import DependencyResult, read_dependencies, settle
from uptime_relay.probe.report import dependency_data, emit
from uptime_relay.probe.result import ProbeResult
from uptime_relay_tools.cost import Usage, estimate
from uptime_relay_tools.local.alarms import LocalAlarms
from uptime_relay_tools.local.insights import InsightsAlarm

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
SPEC = Dependencies()
HEALTH = {
    "status": "degraded",
    "services": {"database": {"status": "ok"}, "cache": {"status": "down"}, "queue": "UP", "search": {}},
}
CONFIG = """
checks:
  - name: api
    url: https://api.example.com/health
    dependencies: {path: services, status_key: status, healthy: [ok, up, healthy]}
    alarm: {datapoints: 1, evaluation_periods: 1}
"""


# ------------------------------------------------------------------------------ reading
def test_each_member_of_the_object_at_path_is_a_dependency_judged_by_its_status():
    """GIVEN the issue's health JSON WHEN read THEN each member is a dependency: ok when its status
    (or the member itself, as text) is a healthy word, in any case; one without a status is down."""
    found, why = read_dependencies(SPEC, json.dumps(HEALTH))
    assert why is None
    assert [(d.name, d.ok, d.status) for d in found] == [
        ("database", True, "ok"),
        ("cache", False, "down"),
        ("queue", True, "UP"),
        ("search", False, None),
    ]
    assert found[1].error == "cache is 'down' in the health JSON"
    assert found[3].error == "search has no 'status' in the health JSON"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("not json", "the body is not JSON"),
        ('{"status": "ok"}', "the health JSON has no object at 'services'"),
    ],
)
def test_a_body_without_the_object_leaves_the_dependencies_unjudged(body, why):
    """GIVEN a body that is not JSON or lacks the object WHEN read THEN no dependency is judged
    (none reported down) and the reason is given."""
    assert read_dependencies(SPEC, body) == (None, why)


def test_the_probe_reads_dependencies_from_its_one_request_and_the_parent_keeps_its_own_verdict():
    """GIVEN an endpoint answering 200 with a degraded health JSON WHEN the check is probed THEN one
    request is made, the parent is ok on its own expect, and its result carries every dependency."""
    with Target(default=http(200, json.dumps(HEALTH), {"Content-Type": "application/json"})) as target:
        check = parse_config(CONFIG.replace("https://api.example.com/health", target.url("/health"))).checks[
            0
        ]
        result = run_checks([check])[0]
        assert target.hits["/health"] == 1
    assert result.ok and result.reason == "ok"
    assert [(d.name, d.ok) for d in result.dependencies] == [
        ("database", True),
        ("cache", False),
        ("queue", True),
        ("search", False),
    ]
    assert result.to_json()["dependencies"][1] == {
        "name": "cache",
        "ok": False,
        "status": "down",
        "error": "cache is 'down' in the health JSON",
    }


# ------------------------------------------------------------------------------ disappearing
def result_with(*names: str) -> ProbeResult:
    return ProbeResult(
        check="api", ok=True, reason="ok", dependencies=[DependencyResult(n, True, "ok") for n in names]
    )


def test_a_dependency_that_disappears_is_reported_until_it_returns_or_is_forgotten():
    """GIVEN database and cache seen before WHEN database is missing from the JSON THEN it is
    reported down saying since when; when it comes back it is ok again; missing for longer than
    forget_after it is forgotten (and no longer reported)."""
    checks = parse_config(CONFIG).checks
    store = InMemoryDependencySets()
    settle([result_with("database", "cache")], checks, store, T0)
    assert store.items["api"] == ({"database": None, "cache": None}, 1)

    gone = result_with("cache")
    settle([gone], checks, store, T0 + timedelta(minutes=1))
    assert [(d.name, d.ok) for d in gone.dependencies] == [("cache", True), ("database", False)]
    assert gone.dependencies[1].error.startswith(
        "database is no longer in the health JSON at 'services' (since "
    )
    assert store.items["api"][0]["database"] == T0 + timedelta(minutes=1)

    quiet_version = store.items["api"][1]
    still = result_with("cache")
    settle([still], checks, store, T0 + timedelta(minutes=2))
    assert [(d.name, d.ok) for d in still.dependencies] == [("cache", True), ("database", False)]
    assert store.items["api"][1] == quiet_version  # nothing changed: nothing written

    back = result_with("cache", "database")
    settle([back], checks, store, T0 + timedelta(minutes=3))
    assert all(d.ok for d in back.dependencies) and store.items["api"][0]["database"] is None

    settle([result_with("cache")], checks, store, T0 + timedelta(minutes=4))
    late = result_with("cache")
    settle([late], checks, store, T0 + timedelta(days=1, minutes=5))
    assert [d.name for d in late.dependencies] == ["cache"] and "database" not in store.items["api"][0]


def test_a_check_whose_request_failed_reports_no_dependency_down():
    """GIVEN dependencies seen before WHEN the request itself failed (no JSON to read) THEN no
    dependency result is added: they were not probed."""
    checks = parse_config(CONFIG).checks
    store = InMemoryDependencySets()
    settle([result_with("database")], checks, store, T0)
    failed = ProbeResult(check="api", ok=False, reason="connect_refused")
    settle([failed], checks, store, T0 + timedelta(minutes=1))
    assert failed.dependencies is None and store.items["api"][0] == {"database": None}


# ------------------------------------------------------------------------------ metric and alarm
def test_each_dependency_is_one_availability_metric_with_check_and_dependency(capsys):
    """GIVEN a result with two dependencies WHEN its metrics are emitted THEN one EMF document each,
    Availability with dimensions exactly Check and Dependency."""
    emit(
        dependency_data(
            ProbeResult(
                "api",
                True,
                "ok",
                dependencies=[DependencyResult("db", True), DependencyResult("cache", False)],
            )
        ),
        namespace="UptimeRelay",
    )
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["Check"], d["Dependency"], d["Availability"]) for d in docs] == [
        ("api", "db", [1.0]),
        ("api", "cache", [0.0]),
    ]
    assert all(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Check", "Dependency"]] for d in docs)


def test_a_check_with_dependencies_gets_one_metrics_insights_alarm_grouped_by_dependency():
    """GIVEN a check with dependencies WHEN its alarms are derived THEN besides its own alarm one
    Metrics Insights alarm watches every dependency (each a contributor), with the check's M of N."""
    own, deps = desired_alarms(parse_config(CONFIG), namespace="UptimeRelay", topic_arn="arn:t", prefix="s")
    assert own["AlarmName"] == "s-check-api" and deps["AlarmName"] == "s-check-api" + DEPENDENCIES_SUFFIX
    (query,) = deps["Metrics"]
    assert query["Expression"] == (
        "SELECT MIN(Availability) FROM SCHEMA(\"UptimeRelay\", Check, Dependency) WHERE Check = 'api' "
        "GROUP BY Check, Dependency ORDER BY MIN() ASC"
    )
    assert (deps["EvaluationPeriods"], deps["DatapointsToAlarm"], deps["Threshold"]) == (1, 1, 1.0)
    assert "MetricName" not in deps and {"Key": "uptime-relay:check", "Value": "api"} in deps["Tags"]


def test_the_local_stack_evaluates_each_dependency_as_a_contributor_with_cloudwatchs_message():
    """GIVEN the dependency alarm in the local evaluator WHEN cache's series fails THEN its
    contributor alone goes to ALARM, and the SNS message carries the contributor's id and attributes
    and the query trigger, which the intake turns into an alert labelled check and dependency."""
    (_own, raw) = desired_alarms(parse_config(CONFIG), namespace="UptimeRelay", topic_arn="arn:t", prefix="s")
    query = InsightsAlarm.from_api(raw)
    alarms = LocalAlarms()
    for minute, cache in enumerate([1, 0]):
        at = T0 + timedelta(minutes=minute)
        alarms.put("UptimeRelay", "Availability", {"Check": "api", "Dependency": "db"}, at, 1)
        alarms.put("UptimeRelay", "Availability", {"Check": "api", "Dependency": "cache"}, at, cache)
        alarms.put("UptimeRelay", "Availability", {"Check": "web", "Dependency": "db"}, at, 0)
        for contributor in query.contributors(alarms.series()):
            if not alarms.has(contributor.key):
                alarms.define(contributor, created=T0)
        transitions = alarms.evaluate(at, through=at)
    (fired,) = [t for t in transitions if t.new_state == "ALARM"]
    message = fired.message()
    assert message["AlarmContributorAttributes"] == {"Check": "api", "Dependency": "cache"}
    assert message["Trigger"]["Metrics"] == raw["Metrics"] and "MetricName" not in message["Trigger"]
    (alert,) = parse_event(message)
    assert alert.labels["check"] == "api" and alert.labels["dependency"] == "cache"
    assert alert.id.endswith("#" + message["AlarmContributorId"])


# ------------------------------------------------------------------------------ page, config, cost
def test_a_dependency_alert_is_named_for_its_check_and_labelled_for_inhibition():
    """GIVEN a contributor alert labelled check api and dependency cache WHEN the relay enriches it
    THEN it is named "api / cache" and labelled dependency_of: api."""
    alert = Alert(
        source=AlertSource.CLOUDWATCH,
        id="arn:aws:cloudwatch:us-east-1:1:alarm:s-check-api.dependencies#abc",
        name="s-check-api.dependencies",
        state=AlertState.ALARM,
        reason="Threshold Crossed",
        time=T0,
        labels={"check": "api", "dependency": "cache"},
    )
    named = CheckNotes(None, enrich)(alert, parse_config(CONFIG))
    assert named.name == "api / cache"
    assert named.labels == {"check": "api", "dependency": "cache", "dependency_of": "api"}
    assert named.description == "Dependency 'cache' of check 'api', from its health JSON at 'services'."


def test_dependency_mistakes_are_listed_with_their_lines():
    """GIVEN dependencies written wrong WHEN validated THEN each mistake is named with its line."""
    with pytest.raises(ConfigError) as refused:
        parse_config(
            """\
checks:
  - name: a
    url: https://example.com/
    dependencies: {path: services, healthy: ok, statuskey: status}
  - name: b
    tcp: db:5432
    dependencies: {path: services}
  - name: c
    url: https://example.com/
    dependencies: {path: services, healthy: [true], forget_after: 5s}
""",
            "uptime.yaml",
        )
    text = str(refused.value)
    assert (
        "uptime.yaml:4: checks[0].dependencies.statuskey: unknown key 'statuskey' (did you mean 'status_key'?)"
        in text
    )
    assert (
        "uptime.yaml:7: checks[1].dependencies: dependencies come from a health JSON: a tcp check has none"
        in text
    )
    assert "uptime.yaml:10: checks[2].dependencies.healthy: expected a list of status words" in text
    assert "uptime.yaml:10: checks[2].dependencies.forget_after: must be at least 60s" in text


def test_cost_prices_each_dependency_as_a_metric_and_an_analyzed_alarm_metric():
    """GIVEN 10 dependencies WHEN priced THEN they add 10 custom metrics ($3) and 10 metrics
    analyzed by Metrics Insights alarms ($1)."""
    without = {i.item: i.usd for i in estimate(Usage(checks=2)).items}
    priced = {i.item: i.usd for i in estimate(Usage(checks=2, dependencies=10)).items}
    assert round(priced["CloudWatch custom metrics"] - without["CloudWatch custom metrics"], 2) == 3.0
    assert priced["CloudWatch Metrics Insights alarms (dependencies)"] == pytest.approx(1.0)
    assert "CloudWatch Metrics Insights alarms (dependencies)" not in without
