"""CloudWatch alarm -> Lambda action events: the alarm invokes the relay function directly.

Shape (CloudWatch User Guide, "Lambda alarm action payload"; aws-lambda-java-libs
``cloudwatch-metric-alarm.json``; aws_lambda_events ``example-cloudwatch-alarm-metric.json``):
``{source: "aws.cloudwatch", alarmArn, accountId, time, region, alarmData: {alarmName, state{value,
reason, reasonData, timestamp}, previousState{...}, configuration{description, metrics[...] |
alarmRule}}}``. ``alarmData`` is the EventBridge event's ``detail`` under another name, so the
EventBridge parser reads it; the alert says it came as a Lambda action.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..domain.alert import Alert, AlertSource
from .common import Envelope
from .eventbridge import STATE_CHANGE
from .eventbridge import parse as parse_eventbridge


def looks_like(event: Mapping[str, Any]) -> bool:
    return event.get("source") == "aws.cloudwatch" and isinstance(event.get("alarmData"), Mapping)


def parse(event: Mapping[str, Any], *, raw: str, envelope: Envelope) -> Alert:
    arn = event.get("alarmArn")
    as_event = {
        "detail-type": STATE_CHANGE,
        "source": "aws.cloudwatch",
        "account": event.get("accountId"),
        "region": event.get("region"),
        "time": event.get("time"),
        "resources": [arn] if isinstance(arn, str) else [],
        "detail": event["alarmData"],
    }
    alert = parse_eventbridge(as_event, raw=raw, envelope=envelope)
    extra = {**alert.extra, "delivered_via": "lambda alarm action"}
    return replace(alert, source=AlertSource.CLOUDWATCH, extra=extra)
