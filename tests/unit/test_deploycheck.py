"""make deploy-check and make package: what a deploy would create, priced, and the SAR metadata."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from uptime_relay.config.loader import load_config
from uptime_relay_tools import cost, deploycheck
from uptime_relay_tools.local.cloudformation import load_template, translate_template

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "uptime.yaml"


@pytest.fixture(scope="module")
def translated():
    return translate_template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def report():
    return deploycheck.summary(ROOT / "template.yaml", str(CONFIG))


def test_every_resource_the_stack_would_hold_is_listed_with_its_type(translated, report):
    listed = deploycheck.resources(translated)
    assert {(r.type, r.logical_id) for r in listed} == {
        (res["Type"], lid) for lid, res in translated["Resources"].items()
    }
    assert [r.logical_id for r in listed if r.type == "AWS::Lambda::Function"] == [
        "ActionsFunction",
        "AlarmsReconcilerFunction",
        "EscalatorFunction",
        "ProbeFunction",
        "RelayFunction",
    ]
    for r in listed:
        assert f"{r.type}" in report and f"  {r.logical_id}" in report
    # the conditional email subscription is marked, and the per-check alarms are counted
    assert "EmergencyEmailSubscription  (only if HasAlertEmail)" in report
    checks = len(load_config(CONFIG).checks)
    assert f"+ {checks} CloudWatch alarm(s), one per check of {CONFIG}" in report


def test_each_role_shows_the_actions_it_is_granted(translated, report):
    grants = {g.function: g for g in deploycheck.role_grants(translated)}
    assert set(grants) == {
        "ActionsFunction",
        "AlarmsReconcilerFunction",
        "EscalatorFunction",
        "ProbeFunction",
        "RelayFunction",
    }
    probe = grants["ProbeFunction"]
    assert probe.role == "ProbeFunctionRole"
    # + starting its shards on itself, and PutMetricData (a probe-only stack reports to home)
    assert probe.actions == [
        "cloudwatch:PutMetricData",
        "dynamodb:BatchGetItem",  # heartbeat pings and dependency names, by key
        "dynamodb:GetItem",
        "dynamodb:PutItem",  # its latest failure per check (EVIDENCE# items only)
        "dynamodb:UpdateItem",  # the dependency names a check's health JSON held
        "lambda:InvokeFunction",
        "secretsmanager:GetSecretValue",
        "ssm:GetParameter",
        "ssm:GetParameters",
    ]
    assert probe.managed == ["AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"]
    # only the reconciler writes alarms; Resource "*" is called out
    writers = [f for f, g in grants.items() if "cloudwatch:PutMetricAlarm" in g.actions]
    assert writers == ["AlarmsReconcilerFunction"]
    assert grants["AlarmsReconcilerFunction"].any_resource == {"cloudwatch:DescribeAlarms"}
    assert "cloudwatch:DescribeAlarms (any resource)" in report
    assert "lambda:InvokeFunction" in grants["ActionsFunction"].actions
    assert (
        "ProbeFunction (ProbeFunctionRole): managed AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess"
        in report
    )


def test_the_monthly_cost_is_the_cost_commands_estimate_for_the_config(report):
    config = load_config(CONFIG)
    per_check, per_run = cost.measure_log_bytes(config.checks)
    usage = cost.usage_from_config(
        config, probe_memory_mb=512, log_bytes_per_check=per_check, log_bytes_per_run=per_run
    )
    est = cost.estimate(usage)
    assert cost.estimate_markdown(est) in report
    assert f"**${est.total:,.2f}**" in report


def test_the_packaged_app_needs_a_version_equal_to_the_packages(tmp_path):
    template = load_template(ROOT / "template.yaml")
    assert deploycheck.sar_problems(template, ROOT, deploycheck.project_version()) == []
    assert deploycheck.sar_problems(template, ROOT, "9.9.9") == [
        f"SemanticVersion {deploycheck.project_version()} differs from pyproject.toml's version 9.9.9"
    ]


def test_the_sar_metadata_check_names_what_sam_publish_would_refuse(tmp_path):
    template = copy.deepcopy(load_template(ROOT / "template.yaml"))
    app = template["Metadata"][deploycheck.SAR_KEY]
    del app["Author"]
    app["Name"] = "uptime relay"
    app["Labels"] = [*app["Labels"], "on call"]
    app["SourceCodeUrl"] = "github.com/x"
    problems = deploycheck.sar_problems(template, tmp_path, deploycheck.project_version())
    assert problems == [
        "Author missing",
        "Name 'uptime relay': letters, digits and '-' only, at most 140",
        "Label 'on call': letters, digits and +-_:/@ only",
        "SourceCodeUrl 'github.com/x' is not an https:// URL",
        "LicenseUrl 'LICENSE': no such file next to the template",
        "ReadmeUrl 'README.md': no such file next to the template",
    ]
    assert deploycheck.sar_problems({"Resources": {}}, tmp_path, "0.1.0") == [
        "no Metadata: AWS::ServerlessRepo::Application"
    ]


def test_sar_only_exits_non_zero_on_a_problem(tmp_path, capsys):
    template = (ROOT / "template.yaml").read_text()
    (tmp_path / "template.yaml").write_text(template)
    assert deploycheck.main(["--sar-only", str(tmp_path / "template.yaml")]) == 1
    assert "LicenseUrl 'LICENSE': no such file" in capsys.readouterr().err
    (tmp_path / "LICENSE").write_text("MIT License\n")
    (tmp_path / "README.md").write_text("# uptime-relay\n")
    assert deploycheck.main(["--sar-only", str(tmp_path / "template.yaml")]) == 0
    assert "metadata ok (version" in capsys.readouterr().out
