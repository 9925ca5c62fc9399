"""Intervals, fast mode and regions: config keys, the alarms they get, the page, the cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay import alarms, metricnames
from uptime_relay.config import Check, Config, ConfigError
from uptime_relay.config.loader import load_config
from uptime_relay.domain.regions import region_sentence
from uptime_relay_tools import cost
from uptime_relay_tools.local.alarms import ALARM, OK, AlarmDefinition, LocalAlarms

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def load(tmp_path, body: str):
    path = tmp_path / "uptime.yaml"
    path.write_text(body, encoding="utf-8")
    return load_config(path)


def test_interval_regions_and_quorum_are_read_with_a_majority_by_default(tmp_path):
    config = load(
        tmp_path,
        "checks:\n"
        "  - {name: a, url: 'http://127.0.0.1/', interval: 10s, timeout: 5s}\n"
        "  - {name: b, url: 'http://127.0.0.1/', interval: 5m, regions: [us-east-1, eu-west-1, ap-southeast-2]}\n"
        "  - {name: c, url: 'http://127.0.0.1/', regions: [us-east-1, eu-west-1], quorum: 1}\n",
    )
    a, b, c = config.checks
    assert (a.interval_s, a.fast, b.interval_s, b.fast) == (10, True, 300, False)
    assert (b.regions, b.required_quorum, c.required_quorum) == (
        ("us-east-1", "eu-west-1", "ap-southeast-2"),
        2,
        1,
    )
    assert Check(name="d", url="http://x/").interval_s == 60


def test_bad_intervals_regions_and_quorums_are_all_refused_with_their_lines(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(
            tmp_path,
            "checks:\n"
            "  - {name: a, url: 'http://x/', interval: 7s}\n"
            "  - {name: b, url: 'http://x/', interval: 10s, timeout: 20s}\n"
            "  - {name: c, url: 'http://x/', quorum: 2}\n"
            "  - {name: d, url: 'http://x/', regions: [us-east-1, Mars, us-east-1], quorum: 4}\n"
            "  - {name: e, url: 'http://x/', interval: 30m, alarm: {datapoints: 2, evaluation_periods: 60}}\n",
        )
    text = str(caught.value)
    for where, why in (
        (":2: checks[0].interval", "one of 10s, 20s, 30s, 1m"),
        (":3: checks[1].timeout", "must not exceed the interval"),
        (":4: checks[2].quorum", "quorum needs regions"),
        (":5: checks[3].regions[1]", "bad region 'Mars'"),
        (":5: checks[3].regions[2]", "listed twice"),
        (":5: checks[3].quorum", "between 1 and 1"),
        (":6: checks[4].alarm.evaluation_periods", "at most 48"),
    ):
        assert where in text and why in text, (where, text)


def test_each_interval_gets_an_alarm_of_its_own_period_and_regions_a_quorum_alarm():
    config = Config(
        checks=(
            Check(name="fast", url="http://x/", interval_s=10, timeout_s=5),
            Check(name="slow", url="http://x/", interval_s=300),
            Check(name="world", url="http://x/", regions=("us-east-1", "eu-west-1", "ap-southeast-2")),
        )
    )
    desired = alarms.desired_alarms(
        config,
        namespace="NS",
        topic_arn="arn:aws:sns:us-east-1:1:alert",
        prefix="st",
        emergency_topic_arn="arn:aws:sns:us-east-1:1:emergency",
        home_region="us-east-1",
    )
    by_name = {a["AlarmName"]: a for a in desired}
    assert by_name["st-check-fast"]["Period"] == 10
    assert by_name["st-check-slow"]["Period"] == 300
    world = by_name["st-check-world"]
    assert (world["MetricName"], world["Statistic"], world["Threshold"], world["ComparisonOperator"]) == (
        metricnames.REGIONS_FAILING,
        "Sum",
        2.0,
        "GreaterThanOrEqualToThreshold",
    )
    assert world["TreatMissingData"] == "missing"  # a dark region adds nothing: never pages alone
    dark = {n: a for n, a in by_name.items() if "Region-" in n}
    assert sorted(dark) == [
        "st-check-Region-ap-southeast-2-probe-not-running",
        "st-check-Region-eu-west-1-probe-not-running",
    ]
    for alarm in dark.values():
        assert alarm["AlarmActions"] == ["arn:aws:sns:us-east-1:1:emergency"]
        assert alarm["TreatMissingData"] == "breaching"
        assert {
            "Name": "Region",
            "Value": alarm["AlarmName"].split("Region-")[1].split("-probe")[0],
        } in alarm["Dimensions"]


def quorum_alarm() -> AlarmDefinition:
    check = Check(
        name="world", url="http://x/", regions=("us-east-1", "eu-west-1", "ap-southeast-2"), quorum=2
    )
    spec = alarms.desired_alarm(check, namespace="NS", topic_arn="arn:aws:sns:us-east-1:1:a", prefix="st")
    return AlarmDefinition.from_api(spec)


@pytest.mark.parametrize(
    ("failing", "state"), [({"eu-west-1"}, OK), ({"eu-west-1", "ap-southeast-2"}, ALARM)]
)
def test_the_quorum_alarm_fires_only_when_enough_regions_see_the_check_failing(failing, state):
    """GIVEN three regions probing a check with quorum 2 (one region dark the whole time)
    WHEN the failing regions report it failing for three minutes
    THEN one failing region does not fire the alarm, two do."""
    local = LocalAlarms()
    alarm = quorum_alarm()
    local.define(alarm, created=T0)
    for minute in range(4):
        at = T0 + timedelta(minutes=minute)
        for region in ("eu-west-1", "ap-southeast-2"):  # us-east-1 went dark
            local.put(
                "NS", metricnames.REGIONS_FAILING, {"Check": "world"}, at, 1.0 if region in failing else 0.0
            )
    local.evaluate(T0 + timedelta(minutes=4), through=T0 + timedelta(minutes=3))
    assert local.state(alarm.name) == state


def test_local_high_resolution_alarms_look_at_their_last_ended_10_second_period():
    check = Check(name="fast", url="http://x/", interval_s=10, timeout_s=5)
    spec = alarms.desired_alarm(check, namespace="NS", topic_arn="arn:aws:sns:us-east-1:1:a", prefix="st")
    local = LocalAlarms()
    local.define(AlarmDefinition.from_api(spec), created=T0)
    for second, value in ((0, 1.0), (10, 1.0), (20, 0.0), (30, 0.0)):
        local.put("NS", metricnames.AVAILABILITY, {"Check": "fast"}, T0 + timedelta(seconds=second), value)
    (first,) = local.evaluate(T0 + timedelta(seconds=30), high_resolution_only=True)
    assert first.new_state == OK  # through [20, 30): 1 of 3 failed
    (change,) = local.evaluate(T0 + timedelta(seconds=40), high_resolution_only=True)
    assert (change.new_state, change.alarm.period) == (ALARM, 10)


def test_the_page_sentence_names_failing_passing_and_silent_regions():
    regions = ("us-east-1", "eu-west-1", "ap-southeast-2")
    text = region_sentence({"eu-west-1": False, "ap-southeast-2": False, "us-east-1": True}, regions, 2)
    assert text == "Failing in eu-west-1, ap-southeast-2 (2 of 3 regions, quorum 2); passing in us-east-1."
    assert "no report from us-east-1, ap-southeast-2." in region_sentence({"eu-west-1": False}, regions, 2)


def test_cost_prices_each_interval_with_high_resolution_alarms_and_fast_shards():
    usage = cost.Usage(checks=3, intervals=((10, 1), (60, 1), (300, 1)))
    rows = {r["interval_s"]: r for r in cost.interval_rows(usage)}
    assert rows[10]["alarms_usd"] == pytest.approx(0.30) and rows[60]["alarms_usd"] == pytest.approx(0.10)
    assert (
        rows[10]["probes_per_month"] == 6 * rows[60]["probes_per_month"] == 30 * rows[300]["probes_per_month"]
    )
    assert rows[10]["fast_shard_compute_usd"] > 0 == rows[60]["fast_shard_compute_usd"]
    items = {i.item: i for i in cost.estimate(usage).items}
    assert items["CloudWatch high-resolution alarms (fast checks)"].quantity == 1


def test_the_probe_only_stack_holds_the_probe_alone_and_references_nothing_it_lacks():
    """GIVEN template.yaml deployed with HomeRegion set (a probe-only stack in an extra region)
    WHEN its conditions are resolved
    THEN only the layers, the probe function and its log group (and their generated parts) remain,
    the probe function knows its home region, and nothing left refers to a resource that is not."""
    import json
    from pathlib import Path

    from uptime_relay_tools.local.cloudformation import load_template, translate_template

    root = Path(__file__).resolve().parents[2]
    raw = load_template(root / "template.yaml")
    assert raw["Conditions"]["IsHomeStack"] == {"Fn::Equals": [{"Ref": "HomeRegion"}, ""]}
    home = {"IsHomeStack", "HasAlertEmail"}  # HasAlertEmail is "an address, and the home stack"
    assert {"Condition": "IsHomeStack"} in raw["Conditions"]["HasAlertEmail"]["Fn::And"]
    kept = {name for name, res in raw["Resources"].items() if res.get("Condition") not in home}
    assert kept == {"SharedLayer", "ConfigLayer", "ProbeFunction", "ProbeLogGroup"}
    assert raw["Resources"]["ProbeFunction"]["Properties"]["Environment"]["Variables"]["HOME_REGION"] == {
        "Ref": "HomeRegion"
    }
    translated = translate_template(root / "template.yaml")["Resources"]
    home_only = {n for n, r in translated.items() if r.get("Condition") in home}

    def off_home(node):
        """``node`` as a probe-only stack resolves it: ``Fn::If`` on a home condition takes its
        else branch (a reference only the home stack makes is fine)."""
        if isinstance(node, dict):
            branch = node.get("Fn::If")
            if isinstance(branch, list) and len(branch) == 3 and branch[0] in home:
                return off_home(branch[2])
            return {k: off_home(v) for k, v in node.items()}
        if isinstance(node, list):
            return [off_home(v) for v in node]
        return node

    for name, res in translated.items():
        if name in home_only:
            continue
        text = json.dumps(off_home(res))
        for other in home_only:
            assert f'"Ref": "{other}"' not in text and f'"Fn::GetAtt": ["{other}"' not in text, (name, other)
            assert "${" + other + "}" not in text and "${" + other + "." not in text, (name, other)
    outputs = raw["Outputs"]
    assert {n for n, o in outputs.items() if o.get("Condition") != "IsHomeStack"} == {
        "MetricsNamespace",
        "ProbeFunctionName",
        "SharedLayerArn",
        "ConfigLayerArn",
    }


def test_a_check_alarm_keeps_its_state_through_an_unprobed_minute():
    """GIVEN a check alarm (1-minute periods, 2 of 3) in ALARM after three failed minutes
    WHEN the next minute brings no datapoint (the check was not probed)
    THEN the alarm stays in ALARM (the gap is missing data, never a verdict), and a passing
    minute after it still counts."""
    check = Check(name="api", url="http://x/")
    spec = alarms.desired_alarm(check, namespace="NS", topic_arn="arn:aws:sns:us-east-1:1:a", prefix="st")
    local = LocalAlarms()
    local.define(AlarmDefinition.from_api(spec), created=T0)
    for minute in range(3):
        local.put("NS", metricnames.AVAILABILITY, {"Check": "api"}, T0 + timedelta(minutes=minute), 0.0)
    local.evaluate(T0 + timedelta(minutes=2), through=T0 + timedelta(minutes=2))
    assert local.state(spec["AlarmName"]) == ALARM
    assert local.evaluate(T0 + timedelta(minutes=3), through=T0 + timedelta(minutes=3)) == []
    assert local.state(spec["AlarmName"]) == ALARM
