"""What a probe run emits: EMF metrics with exactly the alarmed dimension sets, and log lines."""

from __future__ import annotations

import io
import json
import textwrap
from dataclasses import dataclass

import pytest
from aws_lambda_powertools import Logger, Metrics
from probe_servers import Target, http
from uptime_relay import metricnames
from uptime_relay.config import Check
from uptime_relay.probe import ProbeResult, Timings
from uptime_relay.probe.report import record_run


def emf_documents(text: str) -> list[dict]:
    docs = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [d for d in docs if "_aws" in d]


def result(name: str, ok: bool, latency: float = 12.5, **kwargs) -> ProbeResult:
    return ProbeResult(
        check=name,
        ok=ok,
        reason="ok" if ok else kwargs.pop("reason", "status_mismatch"),
        status_code=200 if ok else 500,
        latency_ms=latency,
        timings=Timings(dns=0.1, connect=1.0, tls=None, ttfb=10.0, transfer=1.4, total=latency),
        error=None if ok else "status 500, expected 2xx, 3xx",
        phase=None if ok else "expect",
        attempts=1 if ok else 2,
        target=f"http://127.0.0.1/{name}",
        **kwargs,
    )


@pytest.fixture
def logs():
    return io.StringIO()


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "UptimeRelayTest")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "uptime-relay-test")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)


def test_each_check_gets_one_availability_metric_with_only_the_check_dimension(capsys, logs, env):
    checks = [Check(name="api", url="http://x/"), Check(name="web", url="http://y/", latency_metric=True)]
    metrics = Metrics(namespace=metricnames.namespace(), service=metricnames.service())
    logger = Logger(service="probe-report-metrics", stream=logs)

    summary = record_run(
        [result("api", False), result("web", True, latency=42.0)],
        checks,
        metrics=metrics,
        logger=logger,
        duration_ms=123.4,
    )
    metrics.flush_metrics()

    docs = emf_documents(capsys.readouterr().out)
    per_check = {d["Check"]: d for d in docs if "Check" in d}
    assert set(per_check) == {"api", "web"}
    for doc in per_check.values():
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "UptimeRelayTest"
        assert directive["Dimensions"] == [[metricnames.CHECK_DIMENSION]]
        assert "service" not in doc
    assert per_check["api"][metricnames.AVAILABILITY] == [0.0]
    assert per_check["web"][metricnames.AVAILABILITY] == [1.0]
    assert metricnames.LATENCY not in per_check["api"]  # latency is opt-in per check
    assert per_check["web"][metricnames.LATENCY] == [42.0]
    names = {m["Name"]: m["Unit"] for m in per_check["web"]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {metricnames.AVAILABILITY: "Count", metricnames.LATENCY: "Milliseconds"}

    (run,) = [d for d in docs if "Check" not in d]
    (directive,) = run["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "UptimeRelayTest"
    assert directive["Dimensions"] == [[metricnames.SERVICE_DIMENSION]]
    assert run[metricnames.SERVICE_DIMENSION] == "uptime-relay-test"
    assert (run[metricnames.RUN_COMPLETED], run[metricnames.RUN_DURATION]) == ([1.0], [123.4])
    assert summary == {"checks": 2, "failed": 1, "duration_ms": 123.4}


def test_each_result_is_one_structured_log_line_with_timings_as_fields(capsys, logs, env):
    checks = [Check(name="api", url="http://x/", labels={"team": "platform"})]
    metrics = Metrics(namespace="UptimeRelayTest")
    logger = Logger(service="probe-report-logs", stream=logs)  # a fresh name: a fresh handler

    record_run([result("api", False)], checks, metrics=metrics, logger=logger, duration_ms=5.0)
    metrics.clear_metrics()
    capsys.readouterr()

    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    (line,) = [entry for entry in lines if entry.get("check") == "api"]
    assert line["level"] == "WARNING"
    assert line["message"] == "probe failed: status_mismatch"
    assert (line["reason"], line["phase"], line["attempts"], line["status_code"]) == (
        "status_mismatch",
        "expect",
        2,
        500,
    )
    assert (line["dns_ms"], line["connect_ms"], line["ttfb_ms"], line["total_ms"]) == (0.1, 1.0, 10.0, 12.5)
    assert "tls_ms" not in line  # Powertools drops null fields: a phase never reached is absent
    assert line["labels"] == {"team": "platform"}
    (finished,) = [entry for entry in lines if entry["message"] == "probe run finished"]
    assert (finished["checks"], finished["failed"]) == (1, 1)


@dataclass
class FakeContext:
    function_name: str = "uptime-relay-probe"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:uptime-relay-probe"
    aws_request_id: str = "req-1"


def test_the_probe_function_probes_every_check_and_returns_a_summary(tmp_path, monkeypatch, capsys, env):
    import importlib.util
    from pathlib import Path

    with Target(routes={"/ok": http(200, "ok"), "/bad": http(503, "down")}) as t:
        config = tmp_path / "uptime.yaml"
        config.write_text(
            textwrap.dedent(
                f"""
                checks:
                  - name: good
                    url: {t.url("/ok")}
                  - name: broken
                    url: {t.url("/bad")}
                    retries: 0
                """
            )
        )
        monkeypatch.setenv("UPTIME_CONFIG", str(config))
        monkeypatch.delenv("SENTRY_DSN", raising=False)
        app_path = Path(__file__).resolve().parents[2] / "functions" / "probe" / "app.py"
        spec = importlib.util.spec_from_file_location("probe_app_under_test", app_path)
        app = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(app)
        app._deps.cache_clear()

        summary = app.lambda_handler({"source": "aws.events"}, FakeContext())

    assert summary["checks"] == 2 and summary["failed"] == 1
    docs = emf_documents(capsys.readouterr().out)
    availability = {d["Check"]: d[metricnames.AVAILABILITY] for d in docs if "Check" in d}
    assert availability == {"good": [1.0], "broken": [0.0]}
    assert any(metricnames.RUN_COMPLETED in d for d in docs)
