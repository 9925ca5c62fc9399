"""Per-check CloudWatch alarms: the desired state from the config, and a reconciler that makes the
account match it (run by the ``Custom::CheckAlarms`` resource on every deploy that changes the
config, and by the local stack).

One standard alarm per check watches ``Availability`` (1 ok / 0 failed, one datapoint a minute)
with ``Minimum < 1`` per 60 s period, so any failed probe in a minute marks that minute failed;
``datapoints`` of the last ``evaluation_periods`` failed minutes raise ALARM (M of N).

Missing data is ``missing`` (not ``breaching``): the probe emits a datapoint for every check every
minute, failed or not, so data is missing only when the probe itself did not run. That is paged
once, on the emergency topic, by the stack's probe-not-running alarm. With ``breaching`` a dead
probe would page every check at once; with ``notBreaching`` it would resolve open incidents that
nobody fixed. With ``missing``, an alarm whose whole window is empty goes to INSUFFICIENT_DATA,
which the relay records and (by default) sends as a warning, never a page. A check the run could
not probe in its minute emits nothing either (``not_probed``): the same gap, so an alarm keeps its
state through a lost minute (its range still holds enough datapoints) and never fires on it.

The period is the check's ``interval``: a 5-minute check's alarm has 5-minute periods (one
datapoint each), a fast check's 10, 20 or 30 s periods on its high-resolution datapoints. A check with ``regions`` is alarmed on ``RegionsFailing`` (1 from
each region that saw it fail, 0 from each that saw it pass) with ``Sum >= quorum``: a region that
reported nothing adds nothing, so one dark region never fires it. Each region other than the
home one also gets a "probe did not run" alarm on its ``ProbeRunCompleted`` (emergency topic).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import metricnames
from .config import Check, Config

CHECK_TAG = "uptime-relay:check"
STACK_TAG = "uptime-relay:stack"
SPEC_MARK = "uptime-relay spec "
TREAT_MISSING_DATA = "missing"
MAX_TAGS = 50  # CloudWatch's limit per alarm
MAX_DESCRIPTION = 1024
# Characters CloudWatch accepts in tag keys and values; other labels stay config-only (the relay
# merges the check's config labels anyway, so routing never depends on a tag).
_TAG_TEXT = re.compile(r"^[\w\s.:/=+\-@]*$", re.UNICODE)

# The PutMetricAlarm fields the reconciler owns and compares with DescribeAlarms.
COMPARED = (
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "Dimensions",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "Metrics",
)
DEPENDENCIES_SUFFIX = ".dependencies"  # a check's dependency alarm: <prefix>-check-<check>.dependencies


def alarm_prefix(prefix: str) -> str:
    """Alarm names are ``<prefix>-check-<check>``; this is the part before the check name."""
    return f"{prefix}-check-"


def alarm_name(prefix: str, check: str) -> str:
    return alarm_prefix(prefix) + check


def region_alarm_name(prefix: str, region: str) -> str:
    """Under the check alarms' prefix (the reconciler owns them the same way), with a capital
    letter no check name can have."""
    return f"{alarm_prefix(prefix)}Region-{region}-probe-not-running"


def alarm_period(check: Check) -> int:
    """The check's interval: 10, 20 or 30 s for a fast check (CloudWatch's high-resolution alarm
    periods, on its high-resolution datapoints), else 60 s to 1 h: one datapoint per period."""
    return check.interval_s


def _tags(check: Check, prefix: str) -> list[dict[str, str]]:
    tags = [{"Key": CHECK_TAG, "Value": check.name}, {"Key": STACK_TAG, "Value": prefix[:256]}]
    for key, value in sorted(check.labels.items()):
        if len(tags) >= MAX_TAGS:
            break
        if key.startswith("aws:") or key in (CHECK_TAG, STACK_TAG):
            continue
        if len(key) <= 128 and len(value) <= 256 and _TAG_TEXT.match(key) and _TAG_TEXT.match(value):
            tags.append({"Key": key, "Value": value})
    return tags


def _description(check: Check, prefix: str) -> str:
    default = f"{check.name}: {check.target} is failing its uptime check."
    if check.heartbeat is not None:
        default = f"{check.name}: its job did not ping in time ({check.heartbeat.describe()}) or reported a failure."
    parts = [check.description or default]
    if check.runbook:
        parts.append(f"Runbook: {check.runbook}")
    text = "\n".join(parts)
    return text[: MAX_DESCRIPTION - 200]  # room for the managed-by line


def spec_hash(alarm: Mapping[str, Any]) -> str:
    """Stable digest of everything we set, tags included (DescribeAlarms does not return tags)."""
    body = {k: v for k, v in alarm.items() if k != "AlarmDescription"}
    body["AlarmDescription"] = str(alarm.get("AlarmDescription", "")).split(f"\n[{SPEC_MARK}")[0]
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:12]


def desired_alarm(check: Check, *, namespace: str, topic_arn: str, prefix: str) -> dict[str, Any]:
    """PutMetricAlarm keyword arguments for one check."""
    alarm: dict[str, Any] = {
        "AlarmName": alarm_name(prefix, check.name),
        "AlarmDescription": _description(check, prefix),
        "ActionsEnabled": True,
        "OKActions": [topic_arn],
        "AlarmActions": [topic_arn],
        "InsufficientDataActions": [topic_arn],
        "MetricName": metricnames.AVAILABILITY,
        "Namespace": namespace,
        "Statistic": "Minimum",
        "Dimensions": [{"Name": metricnames.CHECK_DIMENSION, "Value": check.name}],
        "Period": alarm_period(check),
        "EvaluationPeriods": check.alarm.evaluation_periods,
        "DatapointsToAlarm": check.alarm.datapoints,
        "Threshold": 1.0,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": TREAT_MISSING_DATA,
        "Tags": _tags(check, prefix),
    }
    if check.regions:
        alarm.update(
            MetricName=metricnames.REGIONS_FAILING,
            Statistic="Sum",
            Threshold=float(check.required_quorum),
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
    alarm["AlarmDescription"] += (
        f"\n[{SPEC_MARK}{spec_hash(alarm)}; managed by uptime-relay stack {prefix[:80]}: edit the config, not this alarm]"
    )
    return alarm


def dependency_query(check: Check, namespace: str) -> str:
    """The Metrics Insights query over a check's dependencies: one time series (contributor) each.
    A multi-time-series alarm's query takes GROUP BY and ORDER BY (AWS); the lowest availability
    first keeps failing dependencies inside the query's series limit."""
    ns = namespace.replace('"', "")
    return (
        f'SELECT MIN({metricnames.AVAILABILITY}) FROM SCHEMA("{ns}", {metricnames.CHECK_DIMENSION}, '
        f"{metricnames.DEPENDENCY_DIMENSION}) WHERE {metricnames.CHECK_DIMENSION} = '{check.name}' "
        f"GROUP BY {metricnames.CHECK_DIMENSION}, {metricnames.DEPENDENCY_DIMENSION} ORDER BY MIN() ASC"
    )


def desired_dependency_alarm(check: Check, *, namespace: str, topic_arn: str, prefix: str) -> dict[str, Any]:
    """PutMetricAlarm keyword arguments for the Metrics Insights alarm over a check's dependencies:
    each dependency is a contributor with its own state and notification (its own incident), with
    the check's M of N. Dependencies found at run time need no deploy."""
    assert check.dependencies is not None
    text = (
        f"{check.name}: a dependency in its health JSON (at {check.dependencies.path}) is not healthy, "
        "or is no longer listed."
    )
    if check.runbook:
        text += f"\nRunbook: {check.runbook}"
    alarm: dict[str, Any] = {
        "AlarmName": alarm_name(prefix, check.name) + DEPENDENCIES_SUFFIX,
        "AlarmDescription": text[: MAX_DESCRIPTION - 200],
        "ActionsEnabled": True,
        "OKActions": [topic_arn],
        "AlarmActions": [topic_arn],
        "InsufficientDataActions": [topic_arn],
        "Metrics": [
            {
                "Id": "dependencies",
                "Expression": dependency_query(check, namespace),
                "Period": alarm_period(check),
                "ReturnData": True,
                "Label": f"{check.name} dependencies",
            }
        ],
        "EvaluationPeriods": check.alarm.evaluation_periods,
        "DatapointsToAlarm": check.alarm.datapoints,
        "Threshold": 1.0,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": TREAT_MISSING_DATA,
        "Tags": _tags(check, prefix),
    }
    alarm["AlarmDescription"] += (
        f"\n[{SPEC_MARK}{spec_hash(alarm)}; managed by uptime-relay stack {prefix[:80]}: edit the config, not this alarm]"
    )
    return alarm


def desired_alarms(
    config: Config,
    *,
    namespace: str,
    topic_arn: str,
    prefix: str,
    emergency_topic_arn: str | None = None,
    home_region: str | None = None,
) -> list[dict[str, Any]]:
    """One alarm per check (PutMetricAlarm kwargs), in config order, each followed by its
    dependencies' alarm when it has ``dependencies``; with ``emergency_topic_arn``,
    then one "probe did not run" alarm per region the checks name other than ``home_region``."""
    desired = []
    for check in config.checks:
        desired.append(desired_alarm(check, namespace=namespace, topic_arn=topic_arn, prefix=prefix))
        if check.dependencies is not None:
            desired.append(
                desired_dependency_alarm(check, namespace=namespace, topic_arn=topic_arn, prefix=prefix)
            )
    if emergency_topic_arn:
        desired.extend(
            region_alarm(region, namespace=namespace, topic_arn=emergency_topic_arn, prefix=prefix)
            for region in extra_regions(config, home_region)
        )
    return desired


def extra_regions(config: Config, home_region: str | None) -> list[str]:
    """The regions the checks are probed from, other than the home one (each a probe-only stack)."""
    regions = dict.fromkeys(r for c in config.checks for r in c.regions)
    return [r for r in regions if r != home_region]


def region_alarm(region: str, *, namespace: str, topic_arn: str, prefix: str) -> dict[str, Any]:
    """The probe-only stack in ``region`` completed no run in 3 minutes (missing data breaches):
    its checks are watched by the other regions only. The emergency topic, never a check page."""
    alarm: dict[str, Any] = {
        "AlarmName": region_alarm_name(prefix, region),
        "AlarmDescription": (
            f"The probe in {region} did not run in 3 consecutive minutes: checks probed from "
            f"{region} are decided by the other regions only. Look at the probe-only stack in {region}."
        ),
        "ActionsEnabled": True,
        "OKActions": [topic_arn],
        "AlarmActions": [topic_arn],
        "InsufficientDataActions": [],
        "MetricName": metricnames.RUN_COMPLETED,
        "Namespace": namespace,
        "Statistic": "Sum",
        "Dimensions": [
            {"Name": metricnames.SERVICE_DIMENSION, "Value": metricnames.service()},
            {"Name": metricnames.REGION_DIMENSION, "Value": region},
        ],
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 3,
        "Threshold": 1.0,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "breaching",
        "Tags": [{"Key": STACK_TAG, "Value": prefix[:256]}],
    }
    alarm["AlarmDescription"] += (
        f"\n[{SPEC_MARK}{spec_hash(alarm)}; managed by uptime-relay stack {prefix[:80]}: edit the config, not this alarm]"
    )
    return alarm


def _owned(alarm: Mapping[str, Any], namespace: str) -> bool:
    """An alarm the reconciler owns in ``namespace``: on one of ``OWNED_METRICS``, or a check's
    dependency query."""
    if alarm.get("Namespace") == namespace and alarm.get("MetricName") in OWNED_METRICS:
        return True
    schema = f'SCHEMA("{namespace.replace(chr(34), "")}",'
    return any(
        schema in str(m.get("Expression") or "") and metricnames.AVAILABILITY in str(m.get("Expression"))
        for m in alarm.get("Metrics") or ()
    )


# --------------------------------------------------------------------------------------- reconcile
@dataclass
class Changes:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    complete: bool = True  # False: stopped early (time budget); run again to finish

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.deleted)} deleted, {len(self.unchanged)} unchanged"
        )


# The metrics of the alarms the reconciler owns (per check, and per probe-only region).
OWNED_METRICS = (metricnames.AVAILABILITY, metricnames.REGIONS_FAILING, metricnames.RUN_COMPLETED)


def existing_alarms(client: Any, prefix: str, namespace: str | None = None) -> dict[str, dict[str, Any]]:
    """This stack's per-check alarms by name. With ``namespace``, only alarms on that namespace's
    Availability metric: another stack whose name happens to start with ours is never touched."""
    found: dict[str, dict[str, Any]] = {}
    paginator = client.get_paginator("describe_alarms")
    for page in paginator.paginate(AlarmNamePrefix=alarm_prefix(prefix), AlarmTypes=["MetricAlarm"]):
        for alarm in page.get("MetricAlarms", []):
            if namespace is not None and not _owned(alarm, namespace):
                continue
            found[alarm["AlarmName"]] = alarm
    return found


def _normalise(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        items = [_normalise(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    return value


def differs(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """The compared fields that differ between a described alarm and a desired one."""
    return [k for k in COMPARED if _normalise(current.get(k) or None) != _normalise(wanted.get(k) or None)]


def _retag(client: Any, arn: str, wanted: list[dict[str, str]]) -> None:
    # PutMetricAlarm ignores Tags when it updates an existing alarm: set them explicitly.
    current = client.list_tags_for_resource(ResourceARN=arn).get("Tags", [])
    keep = {t["Key"] for t in wanted}
    stale = [t["Key"] for t in current if t["Key"] not in keep]
    if stale:
        client.untag_resource(ResourceARN=arn, TagKeys=stale)
    if wanted:
        client.tag_resource(ResourceARN=arn, Tags=wanted)


def reconcile(
    client: Any,
    desired: Iterable[Mapping[str, Any]],
    prefix: str,
    *,
    namespace: str | None = None,
    stop: Callable[[], bool] | None = None,
) -> Changes:
    """Make CloudWatch hold exactly ``desired`` among this prefix's check alarms.

    Creates missing alarms, updates those whose definition differs (or was edited by hand),
    deletes prefixed alarms no longer desired, leaves identical ones untouched (no API write).
    ``namespace`` defaults to the desired alarms' namespace (see ``existing_alarms``).
    When ``stop()`` turns true (a time budget), it returns early with ``complete=False``; running
    it again continues where it stopped (done alarms are then unchanged).
    """
    wanted = {a["AlarmName"]: dict(a) for a in desired}
    if namespace is None and wanted:
        namespace = next(iter(wanted.values())).get("Namespace")
    current = existing_alarms(client, prefix, namespace)
    changes = Changes()
    for name, alarm in wanted.items():
        if stop is not None and stop():
            changes.complete = False
            return changes
        if not name.startswith(alarm_prefix(prefix)):
            raise ValueError(f"alarm {name!r} does not start with {alarm_prefix(prefix)!r}")
        have = current.get(name)
        if have is None:
            client.put_metric_alarm(**alarm)
            changes.created.append(name)
        elif differs(have, alarm):
            client.put_metric_alarm(**alarm)
            _retag(client, have["AlarmArn"], list(alarm.get("Tags") or []))
            changes.updated.append(name)
        else:
            changes.unchanged.append(name)
    stale = sorted(set(current) - set(wanted))
    for start in range(0, len(stale), 100):  # DeleteAlarms takes up to 100 names
        client.delete_alarms(AlarmNames=stale[start : start + 100])
    changes.deleted.extend(stale)
    return changes


def delete_all(client: Any, prefix: str, namespace: str | None = None) -> Changes:
    """Remove every per-check alarm of this prefix (stack deletion)."""
    return reconcile(client, [], prefix, namespace=namespace)
