"""``expect.conditions``: every operator and every left side against in-process servers, and the
bad spellings ``validate`` refuses with line and column."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st
from probe_servers import Reply, Target, http
from uptime_relay.config import Check, ConfigError, Expect
from uptime_relay.config.conditions import Condition, ConditionSyntaxError, parse_condition
from uptime_relay.config.loader import parse_config
from uptime_relay.probe import run_checks

HEALTH = {
    "status": "degraded",
    "health_score": 91,
    "queue": {"depth": 12},
    "tags": ["eu", "blue"],
    "ok": True,
}


@pytest.fixture(scope="module")
def target():
    with Target(
        routes={
            "/health": http(200, json.dumps(HEALTH), {"Content-Type": "application/json", "X-Version": "3"}),
            "/slow": lambda _req: Reply(http(200, "slow ok"), delay=0.25),
            "/text": http(204, ""),
        }
    ) as t:
        yield t


def probe(url: str, *conditions: str, **kwargs):
    check = Check(
        name="api",
        url=url,
        timeout_s=5.0,
        retries=0,
        expect=Expect(status=Expect().status, conditions=tuple(parse_condition(c) for c in conditions)),
        **kwargs,
    )
    return run_checks([check])[0]


# ------------------------------------------------------------------------ operators and left sides
HOLDING = [
    "status == 200",
    "status != 500",
    "status in [200, 204]",
    "status < 300",
    "status >= 200",
    "json.health_score >= 80",
    "json.health_score > 90",
    "json.queue.depth < 1000",
    "json.queue.depth <= 12",
    "json.status == degraded",
    'json.status != "ok"',
    "json.status in [degraded, ok]",
    "json.tags contains blue",
    'json.status contains "grad"',
    "json.status matches ^deg",
    "json.ok == true",
    "body contains health_score",
    'body matches "queue":\\s*\\{',
    'body != ""',
    "header.x-version == 3",
    "header.Content-Type contains json",
    "header.x-version in [2, 3]",
    "header.content-type matches ^application/",
    "latency < 10s",
    "latency >= 0",
    "timings.ttfb < 10000ms",
    "timings.connect <= 5s",
    "timings.dns >= 0ms",
    "timings.transfer < 1m",
    "timings.total != 0",
]


@pytest.mark.parametrize("condition", HOLDING)
def test_a_condition_that_holds_keeps_the_check_ok(target, condition):
    """GIVEN a health endpoint WHEN a check's condition holds for what it answered THEN the check is ok."""
    result = probe(target.url("/health"), condition)
    assert (result.ok, result.reason, result.error) == (True, "ok", None)


FAILING = [
    ("status == 204", "status was 200"),
    ("status in [201, 202]", "status was 200"),
    ("json.health_score >= 95", "json.health_score was 91"),
    ("json.queue.depth > 100", "json.queue.depth was 12"),
    ("json.status == ok", 'json.status was "degraded"'),
    ("json.tags contains green", 'json.tags was ["eu", "blue"]'),
    ("json.status matches ^ok$", 'json.status was "degraded"'),
    ("json.status < 3", 'json.status was "degraded"'),
    ("json.missing.path == 1", "json.missing.path is missing"),
    ("body contains healthy-and-well", "body was"),
    ("header.x-version == 4", 'header.x-version was "3"'),
    ("header.x-missing contains a", "header x-missing is missing"),
    ("timings.tls < 1s", "timings.tls was not measured"),
    ("cert_days > 14", "no certificate was seen"),
]


@pytest.mark.parametrize(("condition", "says"), FAILING)
def test_a_failed_condition_names_itself_and_the_actual_value(target, condition, says):
    """GIVEN a health endpoint WHEN a condition does not hold THEN the check fails with
    condition_failed and an error naming the condition and what was actually seen."""
    result = probe(target.url("/health"), condition)
    assert (result.ok, result.reason, result.phase) == (False, "condition_failed", "expect")
    assert result.error.startswith(f"condition {json.dumps(condition)} failed: ")
    assert says in result.error
    assert result.to_json()["reason"] == "condition_failed"


def test_latency_and_ttfb_conditions_compare_with_units(target):
    """GIVEN an endpoint that answers after 250 ms WHEN conditions ask for < 100ms THEN both fail
    with the measured value in ms, while 5s holds."""
    assert probe(target.url("/slow"), "latency < 5s", "timings.ttfb < 5000ms").ok
    slow = probe(target.url("/slow"), "timings.ttfb < 100ms")
    assert (
        slow.reason == "condition_failed" and "timings.ttfb was " in slow.error and slow.error.endswith(" ms")
    )
    assert probe(target.url("/slow"), "latency < 0.1s").reason == "condition_failed"


def test_the_first_failing_condition_is_the_one_reported(target):
    """GIVEN several conditions WHEN the second and third fail THEN the error names the second."""
    result = probe(target.url("/health"), "status == 200", "json.health_score > 99", "status == 500")
    assert "json.health_score > 99" in result.error and "status == 500" not in result.error


def test_a_body_that_is_not_json_fails_a_json_condition(target):
    """GIVEN an empty 204 answer WHEN a condition reads json THEN it fails saying the body is not JSON."""
    result = probe(target.url("/text"), "json.status == ok")
    assert result.reason == "condition_failed" and result.error.endswith("the body is not JSON")


def test_status_mismatch_still_comes_first(target):
    """GIVEN a status expectation that fails WHEN a condition would fail too THEN the reason stays status_mismatch."""
    check = Check(
        name="api",
        url=target.url("/text"),
        timeout_s=5.0,
        retries=0,
        expect=Expect(
            status=parse_config("checks: [{name: a, url: 'http://x/', expect: {status: 200}}]")
            .checks[0]
            .expect.status,
            conditions=(parse_condition("json.x == 1"),),
        ),
    )
    assert run_checks([check])[0].reason == "status_mismatch"


def test_cert_days_compares_days_and_hours():
    """GIVEN an https endpoint whose certificate expires in 10 days WHEN conditions ask for more
    than 14 days (or 48h) THEN the first fails with the days left and the second holds."""
    ca = trustme.CA()
    now = datetime.now(UTC)
    leaf = ca.issue_cert("127.0.0.1", not_before=now - timedelta(days=1), not_after=now + timedelta(days=10))
    with Target(default=http(200, "ok"), tls=leaf) as t, ca.cert_pem.tempfile() as ca_file:
        failing = probe(t.url("/"), "cert_days > 14", ca_file=ca_file)
        holding = probe(t.url("/"), "cert_days > 48h", "timings.tls < 5s", ca_file=ca_file)
    assert failing.reason == "condition_failed"
    assert re.search(r"cert_days was (9|10)\.\d days$", failing.error), failing.error
    assert holding.ok, holding.error


def test_a_tcp_check_can_use_latency_and_connect_time(target):
    """GIVEN a tcp check WHEN its conditions bound latency and connect time THEN they are evaluated."""
    check = Check(
        name="db",
        tcp_host="127.0.0.1",
        tcp_port=target.port,
        timeout_s=5.0,
        expect=Expect(conditions=(parse_condition("timings.connect < 5s"), parse_condition("latency < 1ms"))),
    )
    result = run_checks([check])[0]
    assert result.reason in ("condition_failed", "ok")
    assert result.reason == "ok" or "latency was" in result.error


# ------------------------------------------------------------------------ validate: line and column
BAD = """\
checks:
  - name: api
    url: http://127.0.0.1/
    expect:
      conditions:
        - "jsn.health_score >= 80"
        - timings.tffb < 300ms
        - latency < 300 parsecs
        - status in 200
        - body matches (unclosed
        - status == ok
        - json.score => 80
        - json.score >
        - 'status in [200, 204'
  - name: db
    tcp: 127.0.0.1:5432
    expect:
      conditions: ["body contains ok"]
"""


def test_bad_spellings_are_refused_with_line_and_column():
    """GIVEN conditions with typos WHEN the config is validated THEN every one is reported at its
    line and the column of the culprit, all at once."""
    with pytest.raises(ConfigError) as refused:
        parse_config(BAD, "uptime.yaml")
    lines = str(refused.value).splitlines()[1:]
    found = {issue.line: (issue.column, issue.reason) for issue in refused.value.issues}
    assert found[6][0] == 12 and "unknown left side 'jsn.health_score'" in found[6][1]
    assert "did you mean 'json'?" in found[6][1]
    assert (
        found[7] == (19, found[7][1]) and "unknown timing phase 'tffb' (did you mean 'ttfb'?)" in found[7][1]
    )
    assert found[8][0] == 25 and "unknown unit 'parsecs'" in found[8][1]
    assert found[9][0] == 21 and "'in' needs a list" in found[9][1]
    assert found[10][0] == 24 and "invalid regular expression" in found[10][1]
    assert found[11][0] == 21 and "expected a number for status, got 'ok'" in found[11][1]
    assert found[12][0] == 22 and "expected an operator" in found[12][1]
    assert found[13][0] == 23 and "expected a value after '>'" in found[13][1]
    assert found[14][0] == 31 and "expected ',' or ']'" in found[14][1]
    assert found[18][0] == 0 and "does not apply to a tcp check" in found[18][1]
    assert "  uptime.yaml:6:12: checks[0].expect.conditions[0]: unknown left side" in lines[0]


def test_a_good_condition_list_reads_into_the_model():
    """GIVEN the contract's conditions WHEN read THEN each is parsed with its unit applied."""
    config = parse_config(
        "checks:\n  - name: api\n    url: https://api.example.com/\n    expect:\n"
        '      conditions: ["json.health_score >= 80", "timings.ttfb < 0.3s", "status in [200, 204]",'
        ' "body contains ok", "cert_days > 14"]\n'
    )
    conditions = config.checks[0].expect.conditions
    assert [(c.left, c.operator, c.value) for c in conditions] == [
        ("json.health_score", ">=", 80),
        ("timings.ttfb", "<", 300.0),
        ("status", "in", (200, 204)),
        ("body", "contains", "ok"),
        ("cert_days", ">", 14.0),
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda left, op, right: f"{left} {op} {right}",
            st.sampled_from(
                ["status", "latency", "json.a.b", "timings.ttfb", "cert_days", "body", "header.x", "jsn"]
            ),
            st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "contains", "matches", "=>", "~"]),
            st.text(max_size=20),
        ),
    )
)
def test_any_text_is_either_a_condition_or_an_error_with_a_column_inside_it(text):
    """GIVEN any text WHEN parsed as a condition THEN it is a Condition or a ConditionSyntaxError
    whose column lies within the text (or just past its end): never another exception."""
    try:
        assert isinstance(parse_condition(text), Condition)
    except ConditionSyntaxError as exc:
        assert 1 <= exc.column <= len(text) + 1
