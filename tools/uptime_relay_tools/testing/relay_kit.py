"""Build the events the relay receives, in AWS's own formats (tests, bench, the local stack).

msg = alarm_message("uptime-api-availability", "ALARM", at, check="api")
event = sns_event(msg)                       # a Lambda SNS event, Message as a JSON string
event = sns_event(msg, message_id="m-1")     # fixed MessageId (duplicate deliveries)
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
REGION_NAME = "US East (N. Virginia)"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:uptime-alerts"
NAMESPACE = "UptimeRelay"


def state_change_time(at: datetime) -> str:
    """CloudWatch's StateChangeTime format: ``2026-11-20T10:15:30.123+0000``."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def alarm_arn(name: str, *, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"


def alarm_message(
    name: str,
    state: str,
    at: datetime,
    *,
    check: str | None = None,
    old_state: str | None = None,
    reason: str | None = None,
    description: str | None = None,
    namespace: str = NAMESPACE,
    metric: str = "Availability",
    dimensions: dict[str, str] | None = None,
    account: str = ACCOUNT,
    region: str = REGION,
) -> dict[str, Any]:
    """A CloudWatch metric alarm notification as SNS carries it (before JSON-encoding)."""
    dims = dict(dimensions or {})
    if check is not None:
        dims.setdefault("Check", check)
    old = old_state or ("OK" if state == "ALARM" else "ALARM")
    return {
        "AlarmName": name,
        "AlarmDescription": description,
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": "2026-11-19T08:00:00.000+0000",
        "NewStateValue": state,
        "NewStateReason": reason or f"Threshold Crossed: state {state} (test)",
        "StateChangeTime": state_change_time(at),
        "Region": REGION_NAME,
        "AlarmArn": alarm_arn(name, account=account, region=region),
        "OldStateValue": old,
        "OKActions": [TOPIC_ARN],
        "AlarmActions": [TOPIC_ARN],
        "InsufficientDataActions": [TOPIC_ARN],
        "Trigger": {
            "MetricName": metric,
            "Namespace": namespace,
            "StatisticType": "Statistic",
            "Statistic": "MINIMUM",
            "Unit": None,
            "Dimensions": [{"value": v, "name": k} for k, v in dims.items()],
            "Period": 60,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 2,
            "ComparisonOperator": "LessThanThreshold",
            "Threshold": 1.0,
            "TreatMissingData": "breaching",
            "EvaluateLowSampleCountPercentile": "",
        },
    }


def sns_record(
    message: dict[str, Any] | str,
    *,
    message_id: str | None = None,
    topic_arn: str = TOPIC_ARN,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    body = message if isinstance(message, str) else json.dumps(message)
    subject = None
    if isinstance(message, dict) and "NewStateValue" in message:
        subject = f'{message["NewStateValue"]}: "{message.get("AlarmName", "")}" in {REGION_NAME}'[:100]
    sent = (timestamp or datetime.now(UTC)).astimezone(UTC)
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{topic_arn}:2b5f1f1e-0000-4000-8000-000000000001",
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id or str(uuid.uuid4()),
            "TopicArn": topic_arn,
            "Subject": subject,
            "Message": body,
            "Timestamp": sent.strftime("%Y-%m-%dT%H:%M:%S.") + f"{sent.microsecond // 1000:03d}Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertUrl": "EXAMPLE",
            "UnsubscribeUrl": "EXAMPLE",
            "MessageAttributes": {},
        },
    }


def sns_event(
    *messages: dict[str, Any] | str, message_id: str | None = None, message_ids: list[str] | None = None
) -> dict[str, Any]:
    """A Lambda SNS event with one record per message (``message_id`` for a single message)."""
    ids = message_ids or ([message_id] if message_id else [None] * len(messages))
    return {"Records": [sns_record(m, message_id=i) for m, i in zip(messages, ids, strict=True)]}


def alertmanager_body(
    alerts: list[dict[str, Any]],
    *,
    group_key: str = '{}:{alertname="HighErrorRate"}',
    status: str = "firing",
    receiver: str = "uptime-relay",
) -> dict[str, Any]:
    """An Alertmanager v4 webhook body; each alert needs labels, fingerprint, startsAt."""
    return {
        "receiver": receiver,
        "status": status,
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.com:9093",
        "alerts": [
            {
                "status": a.get("status", status),
                "labels": a["labels"],
                "annotations": a.get("annotations", {}),
                "startsAt": a["startsAt"],
                "endsAt": a.get("endsAt", "0001-01-01T00:00:00Z"),
                "generatorURL": a.get("generatorURL", "http://prometheus.example.com:9090/graph"),
                "fingerprint": a["fingerprint"],
            }
            for a in alerts
        ],
    }
