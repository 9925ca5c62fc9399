"""uptime-relay cost: what a user reads before deploying."""

from __future__ import annotations

import json

import pytest
from uptime_relay.config.loader import parse_config
from uptime_relay_tools import cost
from uptime_relay_tools.cli import main

CONFIG = """
checks:
  - name: api
    url: https://api.example.com/health
    latency_metric: true
    labels: {severity: critical, team: platform}
  - name: web
    url: https://www.example.com/
channels:
  pd: {type: pagerduty, routing_key: secretsmanager:uptime/pd}
routes:
  - notify: [pd]
"""


def line(est, prefix):
    return next(i for i in est.items if i.item.startswith(prefix))


def test_each_check_costs_one_metric_and_one_alarm():
    est = cost.estimate(cost.Usage(checks=100))
    assert line(est, "CloudWatch custom metrics").quantity == 100 + cost.FIXED_METRICS
    assert line(est, "CloudWatch custom metrics").usd == pytest.approx((100 + cost.FIXED_METRICS) * 0.30)
    assert line(est, "CloudWatch alarms").usd == pytest.approx((100 + cost.SELF_MONITORING_ALARMS) * 0.10)


def test_metrics_and_alarms_dominate_at_a_thousand_checks():
    est = cost.estimate(cost.Usage(checks=1000))
    per_check_items = line(est, "CloudWatch custom metrics").usd + line(est, "CloudWatch alarms").usd
    assert per_check_items / est.total > 0.9
    assert 0.40 < est.per_check() < 0.50


def test_a_latency_metric_is_one_more_metric_for_that_check():
    config = parse_config(CONFIG, "c.yaml")
    usage = cost.usage_from_config(config)
    assert (usage.checks, usage.latency_metrics, usage.secrets_manager_secrets) == (2, 1, 1)
    assert line(cost.estimate(usage), "CloudWatch custom metrics").quantity == 3 + cost.FIXED_METRICS


def test_a_measured_probe_duration_replaces_the_estimate():
    estimated = cost.Usage(checks=1000)
    measured = cost.Usage(checks=1000, probe_duration_s=10.0)
    assert cost.probe_duration_s(estimated) == pytest.approx(0.2 + 10 * 0.3)
    gb_s = line(cost.estimate(measured), "Lambda probe compute").quantity
    assert gb_s == round(cost.MINUTES_PER_MONTH * 10.0 * 512 / 1024)


def test_the_alternatives_are_priced_per_check():
    assert cost.synthetics_monthly(1) == pytest.approx(52.56)
    assert cost.route53_monthly(1, features=2) == pytest.approx(0.75 + 2 * 2.00)
    for row in cost.comparison((10, 100, 1000)):
        assert row["uptime_relay"] < row["route53_https"] < row["synthetics"]


def test_log_bytes_are_measured_from_the_probes_own_output():
    config = parse_config(CONFIG, "c.yaml")
    plain, _ = cost.measure_log_bytes()
    labelled, per_run = cost.measure_log_bytes(config.checks)
    assert 200 < plain < labelled < 5000  # labels are log fields: they cost bytes
    assert per_run > 0


def test_the_cli_prints_the_estimate_and_the_comparison(tmp_path, capsys):
    path = tmp_path / "uptime.yaml"
    path.write_text(CONFIG)
    assert main(["cost", str(path), "--checks", "100"]) == 0
    out = capsys.readouterr().out
    assert "| **total** |" in out and "Synthetics" in out and "| 1,000 |" in out

    assert main(["cost", str(path), "--json", "--compare", ""]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["usage"]["checks"] == 2 and data["comparison"] == []
    assert data["total_usd"] == pytest.approx(sum(i["usd"] for i in data["items"]), abs=0.01)


def test_the_cli_refuses_an_invalid_config(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("checks:\n  - name: BAD\n")
    assert main(["cost", str(path)]) == 2
    assert "checks[0].name" in capsys.readouterr().err


def test_measure_times_a_real_probe_run_of_the_configs_checks(tmp_path, capsys):
    from uptime_relay_tools.testing.receivers import HttpReceiver

    with HttpReceiver() as target:
        path = tmp_path / "uptime.yaml"
        path.write_text(f"checks:\n  - name: local\n    url: {target.url}/health\n")
        assert main(["cost", str(path), "--measure", "--json", "--compare", ""]) == 0
        assert len(target.to("/health")) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["usage"]["probe_duration_s"] > 0.2  # measured run + the start-up a Lambda run adds
    assert data["probe_duration_s"] == pytest.approx(data["usage"]["probe_duration_s"], abs=0.001)


def test_the_estimate_prices_the_storage_of_the_incidents_retention_keeps():
    """GIVEN configs keeping resolved incidents 400 days (the default) and 3,650 days
    WHEN the cost is estimated
    THEN a DynamoDB storage line prices the incidents each keeps (table, listing index and
    point-in-time recovery), growing with the retention."""

    def storage(text: str) -> cost.LineItem:
        usage = cost.usage_from_config(parse_config(text), checks=10)
        [line] = [i for i in cost.estimate(usage).items if i.item.startswith("DynamoDB storage")]
        return line

    default, decade = storage(""), storage("retention: 3650d\n")
    assert "1,315 incidents kept 400 d" in default.item  # 100 incidents a month for 400 days
    assert "12,000 incidents kept 3650 d" in decade.item
    assert decade.quantity > 9 * default.quantity and decade.usd > 9 * default.usd > 0


def test_the_estimate_prices_the_dashboard_and_a_status_page_only_when_one_is_configured():
    """GIVEN the same checks without and with a status page listing both
    THEN both pay $3 for the dashboard; only the second pays for the page's uptime reads
    (8 metrics per listed check every 15 minutes) and its cached snapshot and views."""
    without = cost.estimate(cost.usage_from_config(parse_config(CONFIG)))
    page = CONFIG + "status_page: {title: S, groups: [{name: G, checks: [api, web]}]}\n"
    with_page = cost.estimate(cost.usage_from_config(parse_config(page)))
    assert line(without, "CloudWatch dashboard").usd == 3.00
    assert not [i for i in without.items if i.item.startswith("Status page")]
    reads = line(with_page, "Status page uptime reads")
    assert reads.quantity == cost.MINUTES_PER_MONTH // 15 * 8 * 2
    assert reads.usd == pytest.approx(reads.quantity * 0.01 / 1000)
    assert 0 < line(with_page, "Status page cache and views").usd < 1
