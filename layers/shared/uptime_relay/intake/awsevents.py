"""EventBridge events of AWS services, read natively: what broke pages, what recovered resolves,
and notices inform without paging.

| source | detail-type | ALARM | OK (resolves the same id) | other |
|---|---|---|---|---|
| aws.health | AWS Health Event | an open ``issue`` | ``closed`` | open notices inform |
| aws.guardduty | GuardDuty Finding | every finding; severity from its score | | |
| aws.securityhub | Security Hub Findings - Imported | an active finding | passed, resolved, suppressed or archived | |
| aws.codepipeline | CodePipeline Pipeline Execution State Change | FAILED | SUCCEEDED | recorded only |
| aws.codebuild | CodeBuild Build State Change | FAILED, FAULT, TIMED_OUT | SUCCEEDED | recorded only |
| aws.backup | Backup / Copy / Restore Job State Change | FAILED, ABORTED, EXPIRED | COMPLETED | recorded only |

"Recorded only" is an OK under the execution's / job's own id: it resolves nothing and pages
nobody (the relay logs it). An informing event is an INSUFFICIENT_DATA marked ``informational``:
the route's Slack and e-mail channels get it as information, PagerDuty never. Shapes: AWS Health
User Guide "AWS Health events Amazon EventBridge schema"; GuardDuty User Guide "Severity levels";
Security Hub User Guide "EventBridge event formats" and the ASFF ``Severity.Label``; aws-lambda-go
``events/testdata/codepipeline-execution-state-change-event.json`` and
``codebuild-state-change.json``; AWS Backup Developer Guide "Monitoring AWS Backup events using
Amazon EventBridge". Pure and tolerant: a field of the wrong type reads as missing, never raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..domain.alert import Alert, AlertSource, AlertState, Link
from .alarm import region_code
from .common import Envelope, items, mapping, parse_time, text, time_or_delivery, truncate

INFORMATIONAL = "informational"
FACTS = "facts"


@dataclass
class Reading:
    """What one service's event says, before it becomes an Alert."""

    id: str
    name: str
    state: AlertState
    reason: str
    time: datetime | None = None
    severity: str | None = None
    description: str | None = None
    informational: bool = False
    facts: list[tuple[str, Any]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    region: str | None = None


def _s(value: Any) -> str | None:
    found = text(value)
    return found.strip() if found else None


# ----------------------------------------------------------------------------------- AWS Health
def _health(event: Mapping[str, Any], detail: Mapping[str, Any]) -> Reading:
    arn = _s(detail.get("eventArn")) or _s(event.get("id")) or "unknown"
    code = _s(detail.get("eventTypeCode")) or "AWS Health event"
    category = (_s(detail.get("eventTypeCategory")) or "").strip()
    status = (_s(detail.get("statusCode")) or "open").lower()
    service = _s(detail.get("service"))
    descriptions = [mapping(d) for d in items(detail.get("eventDescription"))]
    english = next((d for d in descriptions if str(d.get("language", "")).startswith("en")), None)
    latest = _s((english or (descriptions[0] if descriptions else {})).get("latestDescription"))
    entities = [
        v for e in items(detail.get("affectedEntities")) if (v := _s(mapping(e).get("entityValue")))
    ] or [r for r in items(event.get("resources")) if isinstance(r, str)]
    account = _s(event.get("account")) or ""
    if status == "closed":
        state, why = AlertState.OK, f"{code} is closed"
    elif category == "issue":
        state, why = AlertState.ALARM, f"{code}: open issue"
    else:
        state, why = AlertState.INSUFFICIENT_DATA, f"{code} ({category or 'notice'}, {status})"
    return Reading(
        id=f"aws-health:{account}:{arn}",
        name=f"AWS Health: {code}",
        state=state,
        reason=why,
        time=parse_time(detail.get("lastUpdatedTime")) or parse_time(event.get("time")),
        severity="high" if category == "issue" else "info",
        description=latest,
        informational=state is AlertState.INSUFFICIENT_DATA,
        facts=[
            ("Service", service),
            ("Category", category),
            ("Event status", status),
            (
                "Affected",
                ", ".join(entities[:5]) + (f" and {len(entities) - 5} more" if len(entities) > 5 else ""),
            ),
            ("Starts", _s(detail.get("startTime"))),
        ],
        labels={k: v for k, v in (("service", service), ("event_type", code)) if v},
        region=region_code(detail.get("eventRegion")) or region_code(event.get("region")),
    )


# ----------------------------------------------------------------------------------- GuardDuty
def guardduty_severity(score: Any) -> str:
    """GuardDuty's levels: Critical 9.0-10.0, High 7.0-8.9, Medium 4.0-6.9, Low 1.0-3.9."""
    if isinstance(score, str):
        try:
            score = float(score)
        except ValueError:
            return "medium"
    if not isinstance(score, int | float) or isinstance(score, bool) or score != score:
        return "medium"
    if score >= 9:
        return "critical"
    if score >= 7:
        return "high"
    if score >= 4:
        return "medium"
    return "low"


def _guardduty(event: Mapping[str, Any], detail: Mapping[str, Any]) -> Reading:
    finding = _s(detail.get("id")) or _s(event.get("id")) or "unknown"
    kind = _s(detail.get("type")) or "GuardDuty finding"
    title = _s(detail.get("title")) or kind
    resource = mapping(detail.get("resource"))
    score = detail.get("severity")
    severity = guardduty_severity(score)
    return Reading(
        id=f"guardduty:{_s(detail.get('accountId')) or _s(event.get('account')) or ''}:{finding}",
        name=f"GuardDuty: {title}",
        state=AlertState.ALARM,
        reason=f"{kind} (severity {severity}, score {score})",
        time=parse_time(detail.get("updatedAt")) or parse_time(event.get("time")),
        severity=severity,
        description=_s(detail.get("description")),
        facts=[
            ("Finding type", kind),
            ("Finding severity", f"{severity} ({score})"),
            ("Resource", _s(resource.get("resourceType"))),
        ],
        labels={"finding_type": kind},
        region=region_code(detail.get("region")) or region_code(event.get("region")),
    )


# ----------------------------------------------------------------------------------- Security Hub
_SECURITYHUB_LABELS = {
    "CRITICAL": "critical",
    "HIGH": "high",
    "MEDIUM": "medium",
    "LOW": "low",
    "INFORMATIONAL": "info",
}


def _securityhub(event: Mapping[str, Any], detail: Mapping[str, Any]) -> Reading:
    findings = [mapping(f) for f in items(detail.get("findings")) if isinstance(f, Mapping)]
    finding = findings[0] if findings else {}
    finding_id = _s(finding.get("Id")) or _s(event.get("id")) or "unknown"
    title = _s(finding.get("Title")) or "Security Hub finding"
    label = (_s(mapping(finding.get("Severity")).get("Label")) or "").upper()
    workflow = (_s(mapping(finding.get("Workflow")).get("Status")) or "").upper()
    record = (_s(finding.get("RecordState")) or "").upper()
    compliance = (_s(mapping(finding.get("Compliance")).get("Status")) or "").upper()
    closed = compliance == "PASSED" or workflow in ("RESOLVED", "SUPPRESSED") or record == "ARCHIVED"
    resources = [r for f in items(finding.get("Resources")) if (r := _s(mapping(f).get("Id")))]
    state = AlertState.OK if closed else AlertState.ALARM
    why = ", ".join(
        p
        for p in (
            compliance and f"compliance {compliance}",
            workflow and f"workflow {workflow}",
            record and f"record {record}",
        )
        if p
    )
    return Reading(
        id=f"securityhub:{finding_id}",
        name=f"Security Hub: {title}",
        state=state,
        reason=f"{title} ({why})" if why else title,
        time=parse_time(finding.get("UpdatedAt")) or parse_time(event.get("time")),
        severity=_SECURITYHUB_LABELS.get(label),
        description=_s(finding.get("Description")),
        facts=[
            ("Finding severity", label),
            (
                "Product",
                _s(mapping(finding.get("ProductFields")).get("aws/securityhub/ProductName"))
                or _s(finding.get("ProductArn")),
            ),
            ("Resource", ", ".join(resources[:3])),
            ("Findings in event", str(len(findings)) if len(findings) > 1 else None),
        ],
        labels={"finding_type": t} if (t := _s(next(iter(items(finding.get("Types"))), None))) else {},
        region=region_code(finding.get("Region")) or region_code(event.get("region")),
    )


# ----------------------------------------------------------------------------------- pipelines
def _run_state(value: str | None, failed: tuple[str, ...], succeeded: tuple[str, ...]) -> str:
    value = (value or "").upper()
    if value in failed:
        return "failed"
    if value in succeeded:
        return "succeeded"
    return "other"


def _job(
    *,
    key: str,
    run: str,
    name: str,
    outcome: str,
    status: str,
    time: datetime | None,
    facts: list[tuple[str, Any]],
    labels: dict[str, str],
    region: str | None,
    description: str | None = None,
    links: tuple[Link, ...] = (),
) -> Reading:
    """A run that fails pages under ``key`` (the pipeline, project, resource), a success resolves
    it, any other state is recorded under the run's own id (resolves nothing, pages nobody)."""
    if outcome == "failed":
        state, ident = AlertState.ALARM, key
    elif outcome == "succeeded":
        state, ident = AlertState.OK, key
    else:
        state, ident = AlertState.OK, f"{key}#{run}"
    return Reading(
        id=ident,
        name=name,
        state=state,
        reason=f"{name}: {status}",
        time=time,
        description=description,
        facts=facts,
        labels=labels,
        links=links,
        region=region,
    )


def _codepipeline(event: Mapping[str, Any], detail: Mapping[str, Any]) -> Reading:
    pipeline = _s(detail.get("pipeline")) or "unknown pipeline"
    status = _s(detail.get("state")) or "UNKNOWN"
    execution = _s(detail.get("execution-id")) or _s(event.get("id")) or "unknown"
    stage_or_action = event.get("detail-type") != "CodePipeline Pipeline Execution State Change"
    outcome = "other" if stage_or_action else _run_state(status, ("FAILED",), ("SUCCEEDED",))
    where = ": ".join(p for p in (_s(detail.get("stage")), _s(detail.get("action"))) if p)
    return _job(
        key=f"codepipeline:{_s(event.get('account')) or ''}:{_s(event.get('region')) or ''}:{pipeline}",
        run=f"{execution}{'#' + where if where else ''}",
        name=f"CodePipeline {pipeline}",
        outcome=outcome,
        status=f"{where + ' ' if where else ''}{status} (execution {execution})",
        time=parse_time(event.get("time")),
        facts=[
            ("Pipeline", pipeline),
            ("Run state", status),
            ("Execution", execution),
            ("Stage", where or None),
        ],
        labels={"pipeline": pipeline},
        region=region_code(event.get("region")),
    )


def _codebuild(event: Mapping[str, Any], detail: Mapping[str, Any]) -> Reading:
    project = _s(detail.get("project-name")) or "unknown project"
    status = _s(detail.get("build-status")) or _s(detail.get("completed-phase-status")) or "UNKNOWN"
    build = _s(detail.get("build-id")) or _s(event.get("id")) or "unknown"
    info = mapping(detail.get("additional-information"))
    logs = mapping(info.get("logs"))
    deep = _s(logs.get("deep-link"))
    phase_change = event.get("detail-type") != "CodeBuild Build State Change"
    outcome = (
        "other" if phase_change else _run_state(status, ("FAILED", "FAULT", "TIMED_OUT"), ("SUCCEEDED",))
    )
    return _job(
        key=f"codebuild:{_s(event.get('account')) or ''}:{_s(event.get('region')) or ''}:{project}",
        run=build,
        name=f"CodeBuild {project}",
        outcome=outcome,
        status=f"build {status}"
        + (f" in phase {p}" if (p := _s(detail.get("current-phase"))) and p != "COMPLETED" else ""),
        time=parse_time(event.get("time")),
        facts=[
            ("Project", project),
            ("Build", build.rsplit(":", 1)[-1]),
            ("Build status", status),
            ("Initiator", _s(info.get("initiator"))),
        ],
        labels={"project": project},
        region=region_code(event.get("region")),
        links=(Link(deep, "Build logs"),) if deep else (),
    )


def _backup(event: Mapping[str, Any], detail: Mapping[str, Any]) -> Reading:
    kind = str(event.get("detail-type") or "Backup Job State Change").replace(" State Change", "")
    resource = _s(detail.get("resourceArn")) or _s(detail.get("sourceRecoveryPointArn")) or "unknown resource"
    status = _s(detail.get("state")) or _s(detail.get("status")) or "UNKNOWN"
    job = (
        _s(detail.get("backupJobId"))
        or _s(detail.get("copyJobId"))
        or _s(detail.get("restoreJobId"))
        or _s(event.get("id"))
        or "unknown"
    )
    return _job(
        key=f"backup:{kind}:{_s(event.get('account')) or ''}:{resource}",
        run=job,
        name=f"AWS {kind} {resource}",
        outcome=_run_state(status, ("FAILED", "ABORTED", "EXPIRED"), ("COMPLETED",)),
        status=f"{status}" + (f" — {m}" if (m := _s(detail.get("statusMessage"))) else ""),
        time=parse_time(event.get("time")),
        facts=[
            ("Resource", resource),
            ("Resource type", _s(detail.get("resourceType"))),
            ("Vault", _s(detail.get("backupVaultName"))),
            ("Job", job),
            ("Job state", status),
        ],
        labels={k: v for k, v in (("resource_type", _s(detail.get("resourceType"))),) if v},
        region=region_code(event.get("region")),
        description=_s(detail.get("statusMessage")),
    )


READERS: dict[tuple[str, str], Callable[[Mapping[str, Any], Mapping[str, Any]], Reading]] = {
    ("aws.health", "AWS Health Event"): _health,
    ("aws.health", "AWS Health Abuse Event"): _health,
    ("aws.guardduty", "GuardDuty Finding"): _guardduty,
    ("aws.securityhub", "Security Hub Findings - Imported"): _securityhub,
    ("aws.codepipeline", "CodePipeline Pipeline Execution State Change"): _codepipeline,
    ("aws.codepipeline", "CodePipeline Stage Execution State Change"): _codepipeline,
    ("aws.codepipeline", "CodePipeline Action Execution State Change"): _codepipeline,
    ("aws.codebuild", "CodeBuild Build State Change"): _codebuild,
    ("aws.codebuild", "CodeBuild Build Phase Change"): _codebuild,
    ("aws.backup", "Backup Job State Change"): _backup,
    ("aws.backup", "Copy Job State Change"): _backup,
    ("aws.backup", "Restore Job State Change"): _backup,
}


def looks_like(event: Mapping[str, Any]) -> bool:
    source, detail_type = event.get("source"), event.get("detail-type")
    if not isinstance(source, str) or not isinstance(detail_type, str):
        return False
    return (source, detail_type) in READERS and isinstance(event.get("detail"), Mapping)


def parse(event: Mapping[str, Any], *, raw: str, envelope: Envelope) -> Alert:
    reader = READERS[(event["source"], event["detail-type"])]
    reading = reader(event, mapping(event.get("detail")))
    notes: list[str] = []
    time = time_or_delivery(reading.time, envelope, notes, field="time")
    labels = {"alarm": reading.name, "aws_source": str(event["source"]), **reading.labels}
    if reading.severity:
        labels["severity"] = reading.severity
    extra: dict[str, Any] = {
        "group_key": reading.id,
        "detail_type": str(event["detail-type"]),
        **envelope.extra(),
        FACTS: [[label, str(value)] for label, value in reading.facts if value not in (None, "")],
    }
    if text(event.get("id")):
        extra["event_id"] = text(event.get("id"))
    if reading.informational:
        extra[INFORMATIONAL] = True
    if notes:
        extra["parse_notes"] = notes
    return Alert(
        source=AlertSource.AWS_EVENT,
        id=reading.id,
        name=reading.name,
        state=reading.state,
        reason=reading.reason,
        time=time,
        labels=labels,
        links=reading.links,
        raw=truncate(raw),
        description=reading.description,
        region=reading.region,
        account=_s(event.get("account")),
        extra=extra,
    )


# ----------------------------------------------------------------------------------- SNS subscriptions
SUBSCRIPTION_TYPES = ("SubscriptionConfirmation", "UnsubscribeConfirmation")


def is_subscription(obj: Mapping[str, Any]) -> bool:
    return obj.get("Type") in SUBSCRIPTION_TYPES


def subscription(obj: Mapping[str, Any], *, raw: str, envelope: Envelope) -> Alert:
    """An SNS (un)subscription confirmation: information for the route's people, with the URL
    that confirms it; never a page."""
    kind = str(obj["Type"])
    topic = _s(obj.get("TopicArn")) or "an unknown topic"
    url = _s(obj.get("SubscribeURL"))
    notes: list[str] = []
    time = time_or_delivery(parse_time(obj.get("Timestamp")), envelope, notes, field="Timestamp")
    words = "subscription" if kind == "SubscriptionConfirmation" else "unsubscription"
    name = f"SNS {words} confirmation for {topic.rsplit(':', 1)[-1]}"
    region = topic.split(":")[3] if topic.count(":") >= 5 else None
    ident = f"sns-{words}:{topic}:{_s(obj.get('MessageId')) or ''}"
    extra: dict[str, Any] = {
        "group_key": ident,
        INFORMATIONAL: True,
        FACTS: [[label, value] for label, value in (("Topic", topic), ("Confirm at", url)) if value],
        **envelope.extra(),
    }
    if notes:
        extra["parse_notes"] = notes
    return Alert(
        source=AlertSource.AWS_EVENT,
        id=ident,
        name=name,
        state=AlertState.INSUFFICIENT_DATA,
        reason=(
            f"SNS asks to confirm a {words} of {topic}. Nothing is paged for it; "
            + (
                "open the 'Confirm at' URL to confirm it."
                if url and kind == "SubscriptionConfirmation"
                else "for information."
            )
        ),
        time=time,
        labels={"alarm": name, "aws_source": "aws.sns", "severity": "info"},
        # the URL is a fact, not a link: links lose their token-like query values when shown
        raw=truncate(raw),
        description=_s(obj.get("Message")),
        region=region_code(region),
        account=topic.split(":")[4] if topic.count(":") >= 5 else None,
        extra=extra,
    )
