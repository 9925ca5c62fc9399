"""Per-check alarm definitions (pure): what CloudWatch is asked to hold for each check."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from uptime_relay import alarms, metricnames
from uptime_relay.config import AlarmPolicy, Check, Config
from uptime_relay.config.loader import parse_config

TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
TAG_TEXT = re.compile(r"^[\w\s.:/=+\-@]*$")


def desired(check: Check, prefix: str = "uptime-relay") -> dict:
    return alarms.desired_alarm(check, namespace="UptimeRelay", topic_arn=TOPIC, prefix=prefix)


def test_a_check_gets_an_alarm_named_after_the_stack_and_the_check():
    alarm = desired(Check(name="api", url="https://api.example.com/"))
    assert alarm["AlarmName"] == "uptime-relay-check-api"
    assert alarm["Dimensions"] == [{"Name": metricnames.CHECK_DIMENSION, "Value": "api"}]
    assert alarm["MetricName"] == metricnames.AVAILABILITY


def test_any_failed_minute_counts_and_m_of_n_comes_from_the_check():
    alarm = desired(
        Check(name="api", url="https://x/", alarm=AlarmPolicy(datapoints=3, evaluation_periods=5))
    )
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Minimum", 60, 1.0)
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert (alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"]) == (3, 5)


def test_a_dead_probe_does_not_page_every_check():
    # missing data means the probe did not run: the stack's probe-not-running alarm pages once
    assert desired(Check(name="api", url="https://x/"))["TreatMissingData"] == "missing"


def test_every_state_change_reaches_the_alert_topic():
    alarm = desired(Check(name="api", url="https://x/"))
    assert alarm["AlarmActions"] == alarm["OKActions"] == alarm["InsufficientDataActions"] == [TOPIC]
    assert alarm["ActionsEnabled"] is True


def test_the_description_carries_the_runbook_and_says_who_manages_it():
    check = Check(name="api", url="https://x/", description="Public API", runbook="https://wiki/rb/api")
    text = desired(check)["AlarmDescription"]
    assert text.startswith("Public API\nRunbook: https://wiki/rb/api\n")
    assert "uptime-relay stack uptime-relay" in text and len(text) <= 1024


def test_labels_become_tags_and_the_check_is_always_tagged():
    check = Check(name="api", url="https://x/", labels={"severity": "critical", "team": "platform"})
    tags = {t["Key"]: t["Value"] for t in desired(check)["Tags"]}
    assert tags == {
        "uptime-relay:check": "api",
        "uptime-relay:stack": "uptime-relay",
        "severity": "critical",
        "team": "platform",
    }


def test_labels_cloudwatch_would_refuse_stay_out_of_the_tags():
    check = Check(name="api", url="https://x/", labels={"owner": "a&b", "aws:x": "y", "ok": "fine"})
    keys = {t["Key"] for t in desired(check)["Tags"]}
    assert "owner" not in keys and "aws:x" not in keys and "ok" in keys


@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,20}", fullmatch=True), st.text(max_size=300), max_size=80
    )
)
def test_tags_always_fit_cloudwatchs_rules(labels):
    tags = desired(Check(name="api", url="https://x/", labels=labels))["Tags"]
    assert len(tags) <= 50
    for tag in tags:
        assert 1 <= len(tag["Key"]) <= 128 and len(tag["Value"]) <= 256
        assert TAG_TEXT.match(tag["Key"]) and TAG_TEXT.match(tag["Value"])


def test_a_label_change_changes_the_definition_even_though_describe_alarms_shows_no_tags():
    before = desired(Check(name="api", url="https://x/", labels={"severity": "critical"}))
    after = desired(Check(name="api", url="https://x/", labels={"severity": "warning"}))
    assert before["AlarmDescription"] != after["AlarmDescription"]
    assert alarms.differs(before, after) == ["AlarmDescription"]


def test_an_identical_described_alarm_is_not_a_difference():
    wanted = desired(Check(name="api", url="https://x/"))
    described = {k: v for k, v in wanted.items() if k != "Tags"}
    described.update(Threshold=1.0, AlarmArn="arn:aws:cloudwatch:us-east-1:1:alarm:uptime-relay-check-api")
    assert alarms.differs(described, wanted) == []
    described["EvaluationPeriods"] = 9
    assert alarms.differs(described, wanted) == ["EvaluationPeriods"]


def test_desired_alarms_follow_the_config_order():
    config = parse_config(
        "checks:\n  - {name: b, url: 'https://b/'}\n  - {name: a, tcp: 'db:5432'}\n", "c.yaml"
    )
    names = [
        a["AlarmName"] for a in alarms.desired_alarms(config, namespace="N", topic_arn=TOPIC, prefix="s")
    ]
    assert names == ["s-check-b", "s-check-a"]
    assert alarms.desired_alarms(Config(), namespace="N", topic_arn=TOPIC, prefix="s") == []


class RecordingCloudWatch:
    """An in-memory CloudWatch holding alarms, recording the writes the reconciler makes."""

    def __init__(self, alarms_by_name=None):
        self.alarms = dict(alarms_by_name or {})
        self.writes: list[tuple[str, str]] = []

    def get_paginator(self, name):
        store = self

        class Paginator:
            def paginate(self, AlarmNamePrefix, AlarmTypes):
                yield {"MetricAlarms": [a for n, a in store.alarms.items() if n.startswith(AlarmNamePrefix)]}

        return Paginator()

    def put_metric_alarm(self, **alarm):
        self.writes.append(("put", alarm["AlarmName"]))
        stored = {k: v for k, v in alarm.items() if k != "Tags"}
        stored["AlarmArn"] = f"arn:alarm:{alarm['AlarmName']}"
        self.alarms[alarm["AlarmName"]] = stored

    def delete_alarms(self, AlarmNames):
        if len(AlarmNames) > 100:  # as CloudWatch: DeleteAlarms takes at most 100 names
            raise ValueError("too many alarm names")
        for name in AlarmNames:
            self.writes.append(("delete", name))
            self.alarms.pop(name)

    def list_tags_for_resource(self, ResourceARN):
        return {"Tags": []}

    def tag_resource(self, ResourceARN, Tags):
        self.writes.append(("tag", ResourceARN))

    def untag_resource(self, ResourceARN, TagKeys):
        self.writes.append(("untag", ResourceARN))


def test_a_second_reconcile_of_the_same_config_writes_nothing():
    config = parse_config(
        "checks:\n" + "".join(f"  - {{name: c{i}, url: 'https://x/'}}\n" for i in range(150)), "c"
    )
    wanted = alarms.desired_alarms(config, namespace="N", topic_arn=TOPIC, prefix="s")
    cloudwatch = RecordingCloudWatch()
    first = alarms.reconcile(cloudwatch, wanted, "s")
    cloudwatch.writes.clear()

    second = alarms.reconcile(cloudwatch, wanted, "s")

    assert len(first.created) == 150 and not second.changed and cloudwatch.writes == []


def test_more_than_a_hundred_stale_alarms_are_deleted_in_batches():
    config = parse_config(
        "checks:\n" + "".join(f"  - {{name: c{i}, url: 'https://x/'}}\n" for i in range(230)), "c"
    )
    cloudwatch = RecordingCloudWatch()
    alarms.reconcile(
        cloudwatch, alarms.desired_alarms(config, namespace="N", topic_arn=TOPIC, prefix="s"), "s"
    )

    changes = alarms.delete_all(cloudwatch, "s", "N")

    assert len(changes.deleted) == 230 and cloudwatch.alarms == {}
