"""The pieces the intake parsers share: parse notes; and for both CloudWatch alarm formats (SNS
message, EventBridge event) an alarm's identity and the alarm draft they finish into one Alert."""

from __future__ import annotations

from datetime import UTC, datetime

from uptime_relay.domain.alert import AlertSource, AlertState
from uptime_relay.intake.alarm import MetricQuery, alarm_draft, child_alarms, identify_alarm
from uptime_relay.intake.common import Envelope, state_or_assumed, time_or_delivery

RECEIVED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ARN = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api-availability"
AVAILABILITY = MetricQuery(
    namespace="UptimeRelay", name="Availability", dimensions=(("Check", "api"),), stat="Minimum", period=60
)
INSIGHTS = MetricQuery(id="q1", expression="SELECT AVG(Latency) FROM SCHEMA(App, Service) GROUP BY Service")


def test_the_arn_fills_what_the_message_leaves_out_and_its_region_wins():
    # GIVEN an ARN, a Region display name and no stated name or account
    # WHEN the alarm is identified
    alarm = identify_alarm(ARN, name=None, region="US East (N. Virginia)", account=None)
    # THEN name, Region and account come from the ARN, and the id is the ARN
    assert (alarm.id, alarm.name, alarm.region, alarm.account) == (
        ARN,
        "api-availability",
        "eu-west-1",
        "123456789012",
    )


def test_without_an_arn_the_id_is_built_and_the_fallback_name_is_used_last():
    # GIVEN no ARN, a Region display name, an account, and only a fallback name (from a subject)
    alarm = identify_alarm(
        None, name=None, region="EU (Ireland)", account=123456789012, fallback_name="from-subject"
    )
    # THEN the Region is its code and the id an ARN built from Region, account and name
    assert alarm.name == "from-subject"
    assert alarm.region == "eu-west-1"
    assert alarm.id == "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:from-subject"
    # AND with nothing at all the alarm is still named and identified
    nothing = identify_alarm(None, name=None, region=None, account=None)
    assert nothing.name == "unnamed CloudWatch alarm"
    assert nothing.id == "cloudwatch:unknown-region:unknown-account:alarm:unnamed CloudWatch alarm"


def test_a_missing_state_or_time_is_assumed_and_noted():
    notes: list[str] = []
    envelope = Envelope(received_at=RECEIVED)
    # GIVEN a state that is not one and no time
    found_state = state_or_assumed("BROKEN", AlertState.OK, notes, field="NewStateValue")
    found_time = time_or_delivery(None, envelope, notes, field="StateChangeTime")
    # THEN the assumed state and the delivery time are used, each with a note saying so
    assert found_state is AlertState.OK
    assert found_time == RECEIVED
    assert notes == [
        "NewStateValue missing or unknown ('BROKEN'); assumed OK",
        "StateChangeTime missing or unreadable; used the delivery time",
    ]
    # AND what a message does state is used without a note
    assert state_or_assumed("alarm", AlertState.OK, notes, field="x") is AlertState.ALARM
    assert time_or_delivery(RECEIVED, envelope, notes, field="y") == RECEIVED
    assert len(notes) == 2


def test_one_contributor_of_a_multi_time_series_alarm_is_its_own_alert():
    alarm = identify_alarm(ARN, name=None, region=None, account=None)
    # GIVEN a contributor of a Metrics Insights alarm
    draft = alarm_draft(
        alarm,
        [INSIGHTS],
        Envelope(received_at=RECEIVED),
        alarm_rule=None,
        threshold_metric_id=None,
        contributor_id="c-1",
        contributor_attributes={"Service": "api", "Check": "api"},
    )
    # WHEN it is finished
    alert = draft.alert(
        AlertSource.CLOUDWATCH,
        state=AlertState.ALARM,
        reason=None,
        time=RECEIVED,
        raw="{}",
        description=None,
        previous_state=None,
        notes=[],
    )
    # THEN its id names the contributor, its attributes are labels, and it is a Metrics Insights alarm
    assert alert.id == f"{ARN}#c-1"
    assert alert.labels == {
        "alarm": "api-availability",
        "namespace": "App",
        "metric": "Latency",
        "Service": "api",
        "check": "api",
    }
    assert alert.extra["alarm_kind"] == "metrics_insights"
    assert alert.extra["group_key"] == alert.id
    assert alert.reason == "api-availability is ALARM"
    assert "alarm_level_of_multi_time_series" not in alert.extra


def test_a_contributor_makes_a_plain_metric_alarm_a_metrics_insights_one():
    alarm = identify_alarm(ARN, name=None, region=None, account=None)
    # GIVEN a contributor of an alarm whose metrics read as one plain metric
    draft = alarm_draft(
        alarm,
        [AVAILABILITY],
        Envelope(received_at=RECEIVED),
        alarm_rule=None,
        threshold_metric_id=None,
        contributor_id="c-2",
        contributor_attributes={"Check": "web"},
    )
    # THEN only contributor alarms of Metrics Insights exist, so that is its kind
    assert draft.extra["alarm_kind"] == "metrics_insights"
    assert draft.labels["check"] == "web"


def test_the_alarm_level_notification_of_a_multi_time_series_alarm_is_flagged():
    alarm = identify_alarm(ARN, name=None, region=None, account=None)
    # GIVEN the same alarm's notification with no contributor
    draft = alarm_draft(
        alarm,
        [INSIGHTS],
        Envelope(received_at=RECEIVED),
        alarm_rule=None,
        threshold_metric_id=None,
        contributor_id=None,
        contributor_attributes={},
    )
    # THEN it keeps the alarm's id and is flagged as the alarm-level notification
    assert draft.id == ARN
    assert draft.extra["alarm_level_of_multi_time_series"] is True


def test_a_single_metric_alarm_has_its_metric_and_a_console_link():
    alarm = identify_alarm(ARN, name=None, region=None, account=None)
    draft = alarm_draft(
        alarm,
        [AVAILABILITY],
        Envelope(received_at=RECEIVED, message_id="m-1", via="sns"),
        alarm_rule=None,
        threshold_metric_id=None,
        contributor_id=None,
        contributor_attributes={},
    )
    alert = draft.alert(
        AlertSource.CLOUDWATCH,
        state=AlertState.OK,
        reason="recovered",
        time=RECEIVED,
        raw="{}",
        description=None,
        previous_state=AlertState.ALARM,
        notes=["a note"],
    )
    assert alert.metric is not None and alert.metric.name == "Availability"
    assert alert.labels["check"] == "api"
    assert [link.text for link in alert.links] == ["CloudWatch alarm"]
    assert list(alert.extra) == [
        "alarm_kind",
        "sns_message_id",
        "delivered_via",
        "group_key",
        "parse_notes",
    ]


def test_composite_children_are_listed_by_name_and_state_and_those_without_an_arn_skipped():
    # GIVEN two children, one without an ARN, in EventBridge's key names
    children = child_alarms(
        [{"arn": ARN, "state": {"value": "ALARM"}}, {"state": {"value": "OK"}}, "junk"],
        arn="arn",
        state_key="state",
        value="value",
    )
    alarm = identify_alarm(ARN, name=None, region=None, account=None)
    draft = alarm_draft(
        alarm,
        [],
        Envelope(received_at=RECEIVED),
        alarm_rule="ALARM(api-availability)",
        threshold_metric_id=None,
        contributor_id=None,
        contributor_attributes={},
    )
    # WHEN the rule and the children are added
    draft.add_alarm_rule("ALARM(api-availability)")
    draft.add_children(children)
    # THEN both are annotations, and in extra
    assert children == [{"arn": ARN, "state": "ALARM"}]
    assert draft.annotations == {
        "alarm_rule": "ALARM(api-availability)",
        "triggering_children": "api-availability (ALARM)",
    }
    assert draft.extra["triggering_children"] == children
