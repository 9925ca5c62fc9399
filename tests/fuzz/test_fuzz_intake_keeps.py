"""What intake never loses, whatever the content: for every format it reads, an event whose alarm
name, state, time and Region are valid keeps them in the alert, however hostile the name (any
Unicode, control and bidi characters, markup) and whatever junk the other fields hold.

Formats: the CloudWatch alarm message (bare, in an SNS record, in SQS-wrapped SNS), the
EventBridge "CloudWatch Alarm State Change", the CloudWatch alarm -> Lambda action event, the
Alertmanager v4 webhook (name, state and time: it has no Region), the AWS service events
(CodePipeline, CodeBuild, Backup, GuardDuty, Security Hub, Health) and SNS subscription
confirmations. A mutation replaces or adds fields other than those four."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bounds import FUZZ, within_bounds
from hypothesis import example, given
from hypothesis import strategies as st
from uptime_relay.domain.alert import Alert, AlertState
from uptime_relay.intake import parse_event
from uptime_relay.intake.alarm import REGION_CODES

RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)  # never any event's own time
CODES = sorted(set(REGION_CODES.values()))
# Every spelling CloudWatch has used for a Region, display names and older ones
SPELLINGS = [
    *sorted(REGION_CODES),
    "US - N. Virginia",
    "US (Virginia)",
    "US East - N. Virginia",
    "EU - Ireland",
    "EU (Ireland)",
    "Asia Pacific - Tokyo",
    "South America - Sao Paulo",
    "US West - Oregon",
    "AWS GovCloud (US)",
]
names = st.text(min_size=1, max_size=80).filter(lambda s: s.strip() and s == s.strip())
times = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


def _cw_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def parse_one(event: Any) -> Alert:
    alerts = within_bounds(lambda: parse_event(event, received_at=RECEIVED))
    assert len(alerts) == 1, alerts
    return alerts[0]


def mutate(event: dict, keep: set[str], extra: dict[str, Any]) -> dict:
    """``event`` with every key of ``extra`` not in ``keep`` set to its junk value."""
    out = dict(event)
    for key, value in extra.items():
        if key not in keep:
            out[key] = value
    return out


# --------------------------------------------------------------------------------- CloudWatch (SNS)
def cloudwatch_message(name: str, state: str, at: datetime, region: str, code: str) -> dict:
    return {
        "AlarmName": name,
        "AlarmArn": f"arn:aws:cloudwatch:{code}:123456789012:alarm:{name}",
        "AWSAccountId": "123456789012",
        "NewStateValue": state,
        "NewStateReason": "Threshold Crossed",
        "StateChangeTime": _cw_time(at),
        "Region": region,
        "Trigger": {"MetricName": "CPUUtilization", "Namespace": "AWS/EC2", "Dimensions": []},
    }


CW_KEEP = {"AlarmName", "AlarmArn", "NewStateValue", "StateChangeTime", "Region"}


@FUZZ
@given(
    names,
    st.sampled_from(["ALARM", "OK", "INSUFFICIENT_DATA"]),
    times,
    st.sampled_from(SPELLINGS),
    st.dictionaries(
        st.sampled_from(["NewStateReason", "Trigger", "AlarmDescription", "OldStateValue", "x"]), junk
    ),
    st.sampled_from(["bare", "sns", "sqs+sns"]),
)
@example(
    "db\u202egnp.exe", "ALARM", datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC), "EU - Ireland", {}, "sns"
)
def test_a_cloudwatch_alarm_keeps_its_name_state_time_and_region(name, state, at, region, extra, wrapping):
    code = (
        REGION_CODES.get(region)
        or {
            "US - N. Virginia": "us-east-1",
            "US (Virginia)": "us-east-1",
            "US East - N. Virginia": "us-east-1",
            "EU - Ireland": "eu-west-1",
            "EU (Ireland)": "eu-west-1",
            "Asia Pacific - Tokyo": "ap-northeast-1",
            "South America - Sao Paulo": "sa-east-1",
            "US West - Oregon": "us-west-2",
            "AWS GovCloud (US)": "us-gov-west-1",
        }[region]
    )
    message = mutate(cloudwatch_message(name, state, at, region, code), CW_KEEP, extra)
    event: Any = message
    if wrapping == "sns":
        event = {
            "Records": [
                {"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": json.dumps(message)}}
            ]
        }
    elif wrapping == "sqs+sns":
        body = json.dumps({"Type": "Notification", "MessageId": "m", "Message": json.dumps(message)})
        event = {"Records": [{"messageId": "q", "body": body, "eventSource": "aws:sqs"}]}
    alert = parse_one(event)
    assert (alert.name, alert.state.value, alert.time, alert.region) == (name, state, at, code)


# --------------------------------------------------------------------------------- EventBridge + Lambda action
def alarm_detail(name: str, state: str, at: datetime) -> dict:
    return {
        "alarmName": name,
        "state": {"value": state, "reason": "r", "timestamp": _cw_time(at)},
        "configuration": {"metrics": []},
    }


@FUZZ
@given(
    names,
    st.sampled_from(["ALARM", "OK", "INSUFFICIENT_DATA"]),
    times,
    st.sampled_from(CODES),
    st.dictionaries(st.sampled_from(["previousState", "configuration", "x"]), junk),
    st.booleans(),
)
def test_an_eventbridge_alarm_or_lambda_alarm_action_keeps_name_state_time_and_region(
    name, state, at, code, extra, lambda_action
):
    detail = mutate(alarm_detail(name, state, at), {"alarmName", "state"}, extra)
    arn = f"arn:aws:cloudwatch:{code}:123456789012:alarm:{name}"
    if lambda_action:
        event = {
            "source": "aws.cloudwatch",
            "alarmArn": arn,
            "accountId": "1",
            "region": code,
            "alarmData": detail,
        }
    else:
        event = {
            "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch",
            "region": code,
            "resources": [arn],
            "detail": detail,
        }
    alert = parse_one(event)
    assert (alert.name, alert.state.value, alert.time, alert.region) == (name, state, at, code)


# --------------------------------------------------------------------------------- Alertmanager
@FUZZ
@given(
    names,
    st.sampled_from(["firing", "resolved"]),
    times,
    st.dictionaries(st.sampled_from(["annotations", "generatorURL", "x"]), junk),
)
def test_an_alertmanager_alert_keeps_its_name_state_and_time(name, status, at, extra):
    item = {
        "status": status,
        "labels": {"alertname": name},
        "startsAt": _iso(at),
        "endsAt": _iso(at + timedelta(minutes=5)) if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": "f1",
    }
    body = {"version": "4", "status": status, "alerts": [mutate(item, set(item), extra)]}
    alert = parse_one(body)
    state = AlertState.ALARM if status == "firing" else AlertState.OK
    expected = at if status == "firing" else at + timedelta(minutes=5)
    assert (alert.name, alert.state, alert.time) == (name, state, expected)


# --------------------------------------------------------------------------------- AWS service events
def aws_event(source: str, detail_type: str, at: datetime, code: str, detail: dict) -> dict:
    return {
        "version": "0",
        "id": "e",
        "detail-type": detail_type,
        "source": source,
        "account": "1",
        "time": _iso(at),
        "region": code,
        "resources": [],
        "detail": detail,
    }


@FUZZ
@given(
    names,
    st.sampled_from([("FAILED", AlertState.ALARM), ("SUCCEEDED", AlertState.OK), ("STARTED", AlertState.OK)]),
    times,
    st.sampled_from(CODES),
    st.sampled_from(["codepipeline", "codebuild", "backup"]),
    st.dictionaries(st.sampled_from(["version", "additional-information", "x"]), junk),
)
def test_a_pipeline_build_or_backup_event_keeps_its_name_state_time_and_region(
    name, status, at, code, kind, extra
):
    word, state = status
    if kind == "codepipeline":
        event = aws_event(
            "aws.codepipeline",
            "CodePipeline Pipeline Execution State Change",
            at,
            code,
            mutate({"pipeline": name, "state": word, "execution-id": "x"}, {"pipeline", "state"}, extra),
        )
    elif kind == "codebuild":
        event = aws_event(
            "aws.codebuild",
            "CodeBuild Build State Change",
            at,
            code,
            mutate({"project-name": name, "build-status": word}, {"project-name", "build-status"}, extra),
        )
    else:
        word = {"SUCCEEDED": "COMPLETED", "STARTED": "RUNNING"}.get(word, word)
        event = aws_event(
            "aws.backup",
            "Backup Job State Change",
            at,
            code,
            mutate({"resourceArn": name, "state": word, "backupJobId": "j"}, {"resourceArn", "state"}, extra),
        )
    alert = parse_one(event)
    assert name in alert.name
    assert (alert.state, alert.time, alert.region) == (state, at, code)


@FUZZ
@given(names, times, st.sampled_from(CODES), st.floats(min_value=0, max_value=10) | st.text(max_size=4))
def test_a_guardduty_finding_keeps_its_title_time_and_region_and_always_pages(title, at, code, score):
    detail = {
        "id": "f",
        "type": "T",
        "title": title,
        "severity": score,
        "region": code,
        "updatedAt": _iso(at),
    }
    alert = parse_one(aws_event("aws.guardduty", "GuardDuty Finding", at, code, detail))
    assert title in alert.name
    assert (alert.state, alert.time, alert.region) == (AlertState.ALARM, at, code)
    assert alert.labels["severity"] in ("critical", "high", "medium", "low")


@FUZZ
@given(names, times, st.sampled_from(CODES), st.sampled_from(["FAILED", "PASSED"]), junk)
def test_a_security_hub_finding_keeps_its_title_time_and_region(title, at, code, compliance, noise):
    finding = {
        "Id": "f",
        "Title": title,
        "UpdatedAt": _iso(at),
        "Region": code,
        "Severity": noise,
        "Compliance": {"Status": compliance},
    }
    alert = parse_one(
        aws_event("aws.securityhub", "Security Hub Findings - Imported", at, code, {"findings": [finding]})
    )
    assert title in alert.name
    state = AlertState.ALARM if compliance == "FAILED" else AlertState.OK
    assert (alert.state, alert.time, alert.region) == (state, at, code)


@FUZZ
@given(
    names,
    times,
    st.sampled_from(CODES),
    st.sampled_from([("issue", "open"), ("issue", "closed"), ("scheduledChange", "upcoming")]),
)
def test_an_aws_health_event_keeps_its_type_time_and_region(code_name, at, code, category_status):
    category, status = category_status
    detail = {
        "eventArn": "a",
        "eventTypeCode": code_name,
        "eventTypeCategory": category,
        "statusCode": status,
        "eventRegion": code,
    }
    alert = parse_one(aws_event("aws.health", "AWS Health Event", at, code, detail))
    assert code_name in alert.name
    state = {"open": AlertState.ALARM, "closed": AlertState.OK, "upcoming": AlertState.INSUFFICIENT_DATA}[
        status
    ]
    assert (alert.state, alert.time, alert.region) == (state, at, code)


@FUZZ
@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=30),
    times,
    st.sampled_from(CODES),
    junk,
)
def test_an_sns_subscription_confirmation_informs_and_keeps_its_topic_time_and_region(topic, at, code, noise):
    arn = f"arn:aws:sns:{code}:123456789012:{topic}"
    event = {
        "Type": "SubscriptionConfirmation",
        "TopicArn": arn,
        "Timestamp": _iso(at),
        "Message": noise,
        "SubscribeURL": "https://sns.example/?Action=ConfirmSubscription",
    }
    alert = parse_one(event)
    assert topic in alert.name and alert.extra["informational"] is True
    assert (alert.state, alert.time, alert.region) == (AlertState.INSUFFICIENT_DATA, at, code)
