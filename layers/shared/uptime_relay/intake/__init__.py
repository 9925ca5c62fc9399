"""Intake: every alarm format in, one normalised :class:`~uptime_relay.domain.alert.Alert` out.

``parse_event`` accepts what the relay and ``render`` are handed: a Lambda SNS event, an SQS event
wrapping SNS (or raw) messages, a bare CloudWatch alarm message (dict or JSON text), an EventBridge
"CloudWatch Alarm State Change" / "... Contributor State Change" event, a CloudWatch alarm -> Lambda
action event, EventBridge events of AWS Health, GuardDuty, Security Hub, CodePipeline, CodeBuild
and AWS Backup (``awsevents``), an SNS subscription confirmation, or an Alertmanager v4 webhook
body. An EventBridge event of another kind falls back titled by its detail-type, at its own time. Anything else becomes one FALLBACK alert (state ALARM, raw text truncated safely): nothing is
ever dropped, and content never makes it raise.

``enrich`` adds what the configuration and the alarm's tags know about the alert (labels, runbook).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from .. import clock
from ..config import Config
from ..domain.alert import Alert
from . import alarm_action, alertmanager, awsevents, cloudwatch, eventbridge, fallback
from .common import Envelope, clean, decode, parse_time, string_map, text

__all__ = ["enrich", "parse_event"]

# Labels an alert states about itself; config labels and tags never replace them.
STRUCTURAL_LABELS = ("alarm", "namespace", "metric", "check", "alertname")


def parse_event(obj: Any, *, received_at: datetime | None = None) -> list[Alert]:
    """Parse one delivered event into alerts (never an empty list).

    ``received_at`` stands in for the time of alerts whose input carries none (fallback alerts of
    plain text); it defaults to the process clock (``uptime_relay.clock.now()``).
    """
    envelope = Envelope(received_at=received_at or clock.now())
    try:
        alerts = _dispatch(obj, envelope)
    except RecursionError:
        alerts = [fallback.parse(_raw_text(obj), why="nested too deeply to read", envelope=envelope)]
    return alerts or [fallback.parse(_raw_text(obj), why="nothing recognisable in it", envelope=envelope)]


# ----------------------------------------------------------------------------------- dispatch
def _raw_text(obj: Any) -> str:
    if isinstance(obj, bytes | bytearray | memoryview):
        return decode(bytes(obj))
    if isinstance(obj, str):
        return obj
    obj = getattr(obj, "raw_event", obj)  # Powertools event classes wrap the plain dict
    try:
        return json.dumps(obj, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        try:
            return repr(obj)
        except RecursionError:
            return f"<{type(obj).__name__} nested too deeply to show>"


def _dispatch(obj: Any, envelope: Envelope) -> list[Alert]:
    if isinstance(obj, bytes | bytearray | memoryview):
        return _from_text(decode(bytes(obj)), envelope)
    if isinstance(obj, str):
        return _from_text(obj, envelope)
    if isinstance(obj, Mapping):
        obj = clean(getattr(obj, "raw_event", obj))
        return _from_object(obj, _raw_text(obj), envelope)
    if isinstance(obj, list | tuple):
        obj = clean(obj)
        return _from_list(obj, _raw_text(obj), envelope)
    return [
        fallback.parse(
            _raw_text(clean(obj)), why=f"unexpected input of type {type(obj).__name__}", envelope=envelope
        )
    ]


def _from_text(raw: str, envelope: Envelope) -> list[Alert]:
    if not raw.strip():
        return [fallback.parse(raw, why="the message is empty", envelope=envelope, kind="empty")]
    raw = clean(raw)
    try:
        parsed = clean(json.loads(raw))
    except ValueError as exc:
        why = "it is plain text, not JSON"
        if raw.lstrip()[:1] in ("{", "["):
            why = f"it looks like JSON but does not parse ({exc})"
        return [fallback.parse(raw, why=why, envelope=envelope)]
    if isinstance(parsed, Mapping):
        return _from_object(parsed, raw, envelope)
    if isinstance(parsed, list):
        return _from_list(parsed, raw, envelope)
    return [
        fallback.parse(raw, why=f"it is a bare JSON {type(parsed).__name__}", envelope=envelope, kind="JSON")
    ]


def _from_list(values: list[Any], raw: str, envelope: Envelope) -> list[Alert]:
    if not values or not all(isinstance(v, Mapping) for v in values):
        return [
            fallback.parse(raw, why="it is a JSON list, not an alarm object", envelope=envelope, kind="JSON")
        ]
    alerts: list[Alert] = []
    for value in values:
        alerts.extend(_from_object(value, _raw_text(value), envelope))
    return alerts


def _from_object(obj: Mapping[str, Any], raw: str, envelope: Envelope) -> list[Alert]:
    records = obj.get("Records")
    if isinstance(records, list) and records:
        alerts: list[Alert] = []
        for record in records:
            if isinstance(record, Mapping):
                alerts.extend(_from_record(record, envelope))
        if junk := [record for record in records if not isinstance(record, Mapping)]:
            # one alert for all of them, never one each
            why = f"Records[] entries that are not objects ({len(junk)})"
            alerts.append(fallback.parse(_raw_text(junk), why=why, envelope=envelope, kind="JSON"))
        return alerts
    if eventbridge.looks_like(obj):
        return [eventbridge.parse(obj, raw=raw, envelope=envelope)]
    if alarm_action.looks_like(obj):
        return [alarm_action.parse(obj, raw=raw, envelope=envelope)]
    if awsevents.looks_like(obj):
        return [awsevents.parse(obj, raw=raw, envelope=envelope)]
    if awsevents.is_subscription(obj):
        return [awsevents.subscription(obj, raw=raw, envelope=envelope)]
    if alertmanager.looks_like(obj):
        why = "an Alertmanager body with no alerts"
        if obj["alerts"]:
            why = "an Alertmanager body with no alert objects (its alerts[] entries are not objects)"
        return alertmanager.parse(obj, raw=raw, envelope=envelope) or [
            fallback.parse(raw, why=why, envelope=envelope, kind="JSON")
        ]
    if cloudwatch.looks_like(obj):
        return [cloudwatch.parse(obj, raw=raw, envelope=envelope)]
    if isinstance(obj.get("Sns"), Mapping):
        return _from_sns(obj["Sns"], envelope, via="sns")
    if obj.get("Type") == "Notification" and "Message" in obj:
        return _from_sns(obj, envelope, via=envelope.via or "sns")
    if isinstance(obj.get("detail-type"), str):
        # an EventBridge event nobody reads natively: titled by what it is, at its own time
        detail_type = obj["detail-type"]
        why = f"an EventBridge event of detail-type {detail_type!r}, not one read natively"
        source = text(obj.get("source"))
        title = f"{detail_type} ({source})" if source else detail_type
        at = parse_time(obj.get("time"))
        return [fallback.parse(raw, why=why, envelope=envelope, kind="JSON", title=title, time=at)]
    keys = ", ".join(sorted(str(k) for k in obj)[:8]) or "none"
    why = f"JSON of an unknown shape (top-level keys: {keys})"
    return [fallback.parse(raw, why=why, envelope=envelope, kind="JSON")]


def _from_record(record: Mapping[str, Any], envelope: Envelope) -> list[Alert]:
    if isinstance(record.get("Sns"), Mapping):
        return _from_sns(record["Sns"], envelope, via="sns")
    if "body" in record:  # SQS
        body = record.get("body")
        sqs_envelope = replace(
            envelope, via="sqs", message_id=text(record.get("messageId")) or envelope.message_id
        )
        if not isinstance(body, str):
            return _dispatch(body, sqs_envelope)
        try:
            parsed = clean(json.loads(body))
        except ValueError:
            parsed = None
        if isinstance(parsed, Mapping) and parsed.get("Type") == "Notification" and "Message" in parsed:
            return _from_sns(parsed, envelope, via="sqs+sns")
        if isinstance(parsed, Mapping) and awsevents.is_subscription(parsed):
            return [awsevents.subscription(parsed, raw=body, envelope=sqs_envelope)]
        return _from_text(body, sqs_envelope)
    source = text(record.get("eventSource")) or text(record.get("EventSource")) or "unknown"
    return [
        fallback.parse(
            _raw_text(record),
            why=f"a Records[] entry from {source}, which is not SNS or SQS",
            envelope=envelope,
            kind="JSON",
        )
    ]


def _from_sns(sns: Mapping[str, Any], envelope: Envelope, *, via: str) -> list[Alert]:
    if awsevents.is_subscription(sns):
        return [awsevents.subscription(sns, raw=_raw_text(sns), envelope=replace(envelope, via=via))]
    # String message attributes become labels of a fallback alert (another publisher's metadata).
    declared = sns.get("MessageAttributes")
    attributes = []
    for key, value in declared.items() if isinstance(declared, Mapping) else ():
        if (
            isinstance(value, Mapping)
            and value.get("Type") == "String"
            and (shown := text(value.get("Value")))
        ):
            attributes.append((str(key), shown))
    inner = replace(
        envelope,
        message_id=text(sns.get("MessageId")),
        timestamp=parse_time(sns.get("Timestamp")),
        topic_arn=text(sns.get("TopicArn")),
        subject=text(sns.get("Subject")),
        attributes=tuple(attributes),
        via=via,
    )
    message = sns.get("Message")
    if isinstance(message, str):
        alerts = _from_text(message, inner)
    elif isinstance(message, Mapping):
        alerts = _from_object(message, _raw_text(message), inner)
    else:
        alerts = [
            fallback.parse(
                _raw_text(sns), why="an SNS notification without a Message", envelope=inner, kind="JSON"
            )
        ]
    return alerts


# ----------------------------------------------------------------------------------- enrich
def _tag_map(tags: Any) -> dict[str, str]:
    """Alarm tags as a dict: accepts ``{key: value}`` or ListTagsForResource's ``[{Key, Value}]``."""
    if isinstance(tags, Mapping):
        return string_map(tags)
    out: dict[str, str] = {}
    if isinstance(tags, list | tuple):
        for tag in tags:
            if isinstance(tag, Mapping) and (k := text(tag.get("Key"))) and (v := text(tag.get("Value"))):
                out[k] = v
    return out


def enrich(alert: Alert, config: Config | None, *, tags: Mapping[str, str] | list | None = None) -> Alert:
    """The alert with what the configuration and the alarm's tags add. Pure: returns a new Alert.

    Precedence, highest first: the alert's own labels (facts from the event: alarm, namespace,
    metric, dimensions, check, Alertmanager labels) > the check's ``labels`` from the config >
    the alarm's tags (``aws:`` tags are skipped). Nothing the event said is ever overwritten.
    The check's ``runbook`` becomes ``annotations["runbook"]`` (unless the event brought one) and its
    ``description`` fills an empty alert description.
    """
    labels = dict(alert.labels)
    annotations = dict(alert.annotations)
    description = alert.description
    check = config.check(alert.labels["check"]) if config is not None and alert.labels.get("check") else None
    if check is not None:
        for key, value in check.labels.items():
            labels.setdefault(key, value)
        if check.runbook:
            annotations.setdefault("runbook", check.runbook)
        if not description and check.description:
            description = check.description
    for key, value in _tag_map(tags).items():
        if not key.startswith("aws:"):
            labels.setdefault(key, value)
    if labels == alert.labels and annotations == alert.annotations and description == alert.description:
        return alert
    return replace(alert, labels=labels, annotations=annotations, description=description)
