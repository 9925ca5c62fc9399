"""What the two CloudWatch alarm formats (the SNS message, the EventBridge event) share: ARNs and
Region codes, the alarm's identity and console link, its metrics and labels, and the alarm draft
their parsers finish into one Alert.

Pure and tolerant, like :mod:`.common`: a field of the wrong type reads as missing, never raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import consoles
from ..alarms import SPEC_MARK
from ..domain.alert import Alert, AlertSource, AlertState, Link, MetricRef
from ..metricnames import CHECK_DIMENSION, DEPENDENCY_DIMENSION
from .common import Envelope, items, mapping, text, truncate

# CloudWatch puts the Region's display name in "Region"; the code is what links and labels need.
REGION_CODES = {
    "US East (N. Virginia)": "us-east-1",
    "US East (Ohio)": "us-east-2",
    "US West (N. California)": "us-west-1",
    "US West (Oregon)": "us-west-2",
    "Africa (Cape Town)": "af-south-1",
    "Asia Pacific (Hong Kong)": "ap-east-1",
    "Asia Pacific (Taipei)": "ap-east-2",
    "Asia Pacific (Hyderabad)": "ap-south-2",
    "Asia Pacific (Jakarta)": "ap-southeast-3",
    "Asia Pacific (Malaysia)": "ap-southeast-5",
    "Asia Pacific (New Zealand)": "ap-southeast-6",
    "Asia Pacific (Thailand)": "ap-southeast-7",
    "Asia Pacific (Melbourne)": "ap-southeast-4",
    "Asia Pacific (Mumbai)": "ap-south-1",
    "Asia Pacific (Osaka)": "ap-northeast-3",
    "Asia Pacific (Seoul)": "ap-northeast-2",
    "Asia Pacific (Singapore)": "ap-southeast-1",
    "Asia Pacific (Sydney)": "ap-southeast-2",
    "Asia Pacific (Tokyo)": "ap-northeast-1",
    "Canada (Central)": "ca-central-1",
    "Canada West (Calgary)": "ca-west-1",
    "China (Beijing)": "cn-north-1",
    "China (Ningxia)": "cn-northwest-1",
    "EU (Frankfurt)": "eu-central-1",
    "Europe (Frankfurt)": "eu-central-1",
    "EU (Ireland)": "eu-west-1",
    "Europe (Ireland)": "eu-west-1",
    "EU (London)": "eu-west-2",
    "Europe (London)": "eu-west-2",
    "EU (Milan)": "eu-south-1",
    "Europe (Milan)": "eu-south-1",
    "EU (Paris)": "eu-west-3",
    "Europe (Paris)": "eu-west-3",
    "EU (Spain)": "eu-south-2",
    "Europe (Spain)": "eu-south-2",
    "EU (Stockholm)": "eu-north-1",
    "Europe (Stockholm)": "eu-north-1",
    "EU (Zurich)": "eu-central-2",
    "Europe (Zurich)": "eu-central-2",
    "Israel (Tel Aviv)": "il-central-1",
    "Mexico (Central)": "mx-central-1",
    "Middle East (Bahrain)": "me-south-1",
    "Middle East (UAE)": "me-central-1",
    "South America (Sao Paulo)": "sa-east-1",
    "South America (São Paulo)": "sa-east-1",
    "AWS GovCloud (US-East)": "us-gov-east-1",
    "AWS GovCloud (US-West)": "us-gov-west-1",
    "AWS GovCloud (US)": "us-gov-west-1",
}
# Older spellings CloudWatch has used in "Region" and in SNS subjects ("US - N. Virginia",
# "EU - Ireland", "US (Virginia)", "Asia Pacific - Tokyo", "AWS GovCloud (US)"): each display name
# has one distinctive place word, so a spelling is recognised by its words, whatever the
# punctuation and the prefix. Checked in order: the first entry whose words all appear wins.
_REGION_WORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("govcloud", "east"), "us-gov-east-1"),
    (("govcloud",), "us-gov-west-1"),
    (("virginia",), "us-east-1"),
    (("ohio",), "us-east-2"),
    (("california",), "us-west-1"),
    (("oregon",), "us-west-2"),
    (("cape", "town"), "af-south-1"),
    (("hong", "kong"), "ap-east-1"),
    (("taipei",), "ap-east-2"),
    (("hyderabad",), "ap-south-2"),
    (("mumbai",), "ap-south-1"),
    (("jakarta",), "ap-southeast-3"),
    (("malaysia",), "ap-southeast-5"),
    (("new", "zealand"), "ap-southeast-6"),
    (("thailand",), "ap-southeast-7"),
    (("melbourne",), "ap-southeast-4"),
    (("osaka",), "ap-northeast-3"),
    (("seoul",), "ap-northeast-2"),
    (("tokyo",), "ap-northeast-1"),
    (("singapore",), "ap-southeast-1"),
    (("sydney",), "ap-southeast-2"),
    (("calgary",), "ca-west-1"),
    (("canada",), "ca-central-1"),
    (("beijing",), "cn-north-1"),
    (("ningxia",), "cn-northwest-1"),
    (("frankfurt",), "eu-central-1"),
    (("zurich",), "eu-central-2"),
    (("ireland",), "eu-west-1"),
    (("london",), "eu-west-2"),
    (("paris",), "eu-west-3"),
    (("milan",), "eu-south-1"),
    (("spain",), "eu-south-2"),
    (("stockholm",), "eu-north-1"),
    (("tel", "aviv"), "il-central-1"),
    (("mexico",), "mx-central-1"),
    (("bahrain",), "me-south-1"),
    (("uae",), "me-central-1"),
    (("paulo",), "sa-east-1"),
)
_WORD = re.compile(r"[a-z]+")
_REGION_CODE_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ARN_RE = re.compile(
    r"^arn:(?P<partition>[\w-]+):cloudwatch:(?P<region>[\w-]*):(?P<account>\d*):alarm:(?P<name>.+)$"
)


# ----------------------------------------------------------------------------------- description
def description(value: Any) -> str | None:
    """An alarm description without the reconciler's trailer line (``alarms.SPEC_MARK``:
    ``[uptime-relay spec <hash>; managed by ...]``), which is bookkeeping, not for humans."""
    raw = text(value)
    if raw is None:
        return None
    cut = raw.rfind("[" + SPEC_MARK)
    if cut >= 0 and raw.rstrip().endswith("]") and "\n" not in raw[cut:].rstrip():
        raw = raw[:cut]
    return text(raw.rstrip())


# ----------------------------------------------------------------------------------- ARNs and regions
@dataclass(frozen=True)
class AlarmArn:
    partition: str
    region: str | None
    account: str | None
    name: str


def parse_alarm_arn(value: Any) -> AlarmArn | None:
    match = _ARN_RE.match(value) if isinstance(value, str) else None
    if not match:
        return None
    return AlarmArn(match["partition"], match["region"] or None, match["account"] or None, match["name"])


def region_code(display_or_code: Any) -> str | None:
    name = text(display_or_code)
    if name is None:
        return None
    name = name.strip()
    if _REGION_CODE_RE.match(name):
        return name
    if found := REGION_CODES.get(name):
        return found
    if len(name) > 80:
        return None
    words = set(_WORD.findall(name.lower().replace("ã", "a")))
    for needed, code in _REGION_WORDS:
        if words.issuperset(needed):
            return code
    return None


def alarm_identity(arn: str | None, region: str | None, account: str | None, name: str) -> str:
    """The alarm ARN; built from region, account and name when the message had no ARN."""
    if arn:
        return arn
    partition = consoles.partition(region)
    if region and account:
        return f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}"
    return f"cloudwatch:{region or 'unknown-region'}:{account or 'unknown-account'}:alarm:{name}"


@dataclass(frozen=True)
class AlarmIdentity:
    """Which CloudWatch alarm a message is about: its id (the ARN), name, Region code and account."""

    id: str
    name: str
    region: str | None
    account: str | None


def identify_alarm(
    arn_text: str | None, *, name: str | None, region: Any, account: Any, fallback_name: str | None = None
) -> AlarmIdentity:
    """The alarm's identity from what the message states, the ARN filling what it leaves out.

    The name is ``name``, else the ARN's, else ``fallback_name``, else "unnamed CloudWatch alarm";
    the ARN's Region wins over ``region`` (a display name or a code); ``account`` wins over the ARN's.
    """
    arn = parse_alarm_arn(arn_text)
    name = name or (arn.name if arn else None) or fallback_name or "unnamed CloudWatch alarm"
    region_found = (arn.region if arn else None) or region_code(region)
    account_found = text(account) or (arn.account if arn else None)
    return AlarmIdentity(
        id=alarm_identity(arn_text, region_found, account_found, name),
        name=name,
        region=region_found,
        account=account_found,
    )


def console_link(region: str | None, name: str) -> Link | None:
    """Deep link to the alarm in the CloudWatch console (``consoles.alarm_url``: China and
    GovCloud have their own hosts)."""
    href = consoles.alarm_url(region, name)
    return Link(href=href, text="CloudWatch alarm") if href else None


def console_links(region: str | None, name: str) -> tuple[Link, ...]:
    """The alarm's links: its console page, when the Region is known."""
    link = console_link(region, name)
    return (link,) if link else ()


# ----------------------------------------------------------------------------------- metrics
@dataclass(frozen=True)
class MetricQuery:
    """One entry of an alarm's metrics, in one shape for SNS (``Trigger``) and EventBridge events."""

    id: str | None = None
    namespace: str | None = None
    name: str | None = None
    dimensions: tuple[tuple[str, str], ...] = ()
    stat: str | None = None
    period: int | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool | None = None

    @property
    def is_metric(self) -> bool:
        return self.name is not None


def sns_dimensions(value: Any) -> tuple[tuple[str, str], ...]:
    """``[{"name":..,"value":..}]`` (SNS writes lowercase keys; the API writes Name/Value)."""
    out = []
    for item in items(value):
        item = mapping(item)
        name = text(item.get("name", item.get("Name")))
        val = text(item.get("value", item.get("Value")))
        if name is not None and val is not None:
            out.append((name, val))
    return tuple(out)


_INSIGHTS_FROM = re.compile(r"\bFROM\s+(?:SCHEMA\(\s*)?(\"[^\"]+\"|[\w/.:-]+)", re.IGNORECASE)
_INSIGHTS_SELECT = re.compile(r"^\s*SELECT\s+\w+\s*\(\s*(\"[^\"]+\"|[\w.:-]+)\s*\)", re.IGNORECASE)


def insights_metric(expression: str) -> tuple[str | None, str | None]:
    """(namespace, metric name) read from a Metrics Insights ``SELECT`` query, where written plainly."""
    namespace = metric = None
    if m := _INSIGHTS_FROM.search(expression):
        namespace = m.group(1).strip('"')
    if m := _INSIGHTS_SELECT.search(expression):
        metric = m.group(1).strip('"')
        if metric == "*":
            metric = None
    return namespace, metric


def is_insights_query(expression: str | None) -> bool:
    return bool(expression) and expression.lstrip().upper().startswith("SELECT")


def metric_labels(metrics: Iterable[MetricQuery]) -> tuple[dict[str, str], MetricRef | None]:
    """Labels (namespace, metric, each dimension; ``check`` for our Check dimension) and the MetricRef
    when the alarm watches exactly one metric. With several metrics, only what they share is a label."""
    metrics = list(metrics)
    stats = [m for m in metrics if m.is_metric]
    labels: dict[str, str] = {}
    ref: MetricRef | None = None
    if stats:
        namespaces = {m.namespace for m in stats}
        if len(namespaces) == 1 and (ns := next(iter(namespaces))):
            labels["namespace"] = ns
        names = {m.name for m in stats}
        if len(names) == 1:
            labels["metric"] = stats[0].name or ""
        shared = set(stats[0].dimensions)
        for m in stats[1:]:
            shared &= set(m.dimensions)
        for key, val in stats[0].dimensions:
            if (key, val) in shared:
                labels["check" if key == CHECK_DIMENSION else key] = val
        if len(stats) == 1:
            m = stats[0]
            ref = MetricRef(
                namespace=m.namespace or "",
                name=m.name or "",
                dimensions=m.dimensions,
                stat=m.stat,
                period=m.period,
            )
    else:
        for m in metrics:
            if is_insights_query(m.expression):
                namespace, name = insights_metric(m.expression or "")
                if namespace:
                    labels["namespace"] = namespace
                if name:
                    labels["metric"] = name
                break
    return labels, ref


def alarm_kind(metrics: list[MetricQuery], *, composite: bool, threshold_metric_id: str | None) -> str:
    if composite:
        return "composite"
    expressions = [m.expression or "" for m in metrics if m.expression]
    if threshold_metric_id or any("ANOMALY_DETECTION_BAND" in e.upper() for e in expressions):
        return "anomaly_detection"
    if any(is_insights_query(e) for e in expressions):
        return "metrics_insights"
    if expressions or len(metrics) > 1:
        return "metric_math"
    return "metric"


def contributor_labels(attributes: Mapping[str, str]) -> dict[str, str]:
    """One label per contributor attribute; the Check attribute as ``check``, a health-JSON
    dependency's Dependency attribute as ``dependency``."""
    labels: dict[str, str] = {}
    names = {CHECK_DIMENSION: "check", DEPENDENCY_DIMENSION: "dependency"}
    for key, val in attributes.items():
        labels[names.get(key, key)] = val
    return labels


_GROUP_BY = re.compile(r"\bGROUP\s+BY\b", re.IGNORECASE)


def multi_time_series(metrics: Iterable[MetricQuery]) -> bool:
    """True for a Metrics Insights query over several time series (``GROUP BY``): such an alarm
    notifies once per contributor and once more at alarm level."""
    return any(is_insights_query(m.expression) and _GROUP_BY.search(m.expression or "") for m in metrics)


# ----------------------------------------------------------------------------------- alarm alerts
@dataclass
class AlarmDraft:
    """An alert about a CloudWatch alarm being put together: what the two formats (SNS message,
    EventBridge event) fill the same way. Their parsers add their own ``extra`` and
    ``annotations`` entries in between, in their own order (the dicts keep it)."""

    alarm: AlarmIdentity
    id: str
    labels: dict[str, str]
    metric: MetricRef | None
    extra: dict[str, Any]
    annotations: dict[str, str] = field(default_factory=dict)

    def add_alarm_rule(self, alarm_rule: str | None) -> None:
        """A composite alarm's rule, in the annotations and in ``extra``."""
        if alarm_rule:
            self.annotations["alarm_rule"] = alarm_rule
            self.extra["alarm_rule"] = alarm_rule

    def add_children(self, children: list[dict[str, str | None]]) -> None:
        """A composite alarm's triggering children in ``extra``, and as ``name (STATE), …`` in the
        annotations."""
        if not children:
            return
        self.extra["triggering_children"] = children
        self.annotations["triggering_children"] = ", ".join(
            (parsed.name if (parsed := parse_alarm_arn(child["arn"])) else str(child["arn"]))
            + (f" ({child['state']})" if child["state"] else "")
            for child in children
        )

    def alert(
        self,
        source: AlertSource,
        *,
        state: AlertState,
        reason: str | None,
        time: datetime,
        raw: str,
        description: str | None,
        previous_state: AlertState | None,
        notes: list[str],
    ) -> Alert:
        """The finished alert (``reason`` defaults to "<name> is <state>")."""
        self.extra["group_key"] = self.id
        if notes:
            self.extra["parse_notes"] = notes
        return Alert(
            source=source,
            id=self.id,
            name=self.alarm.name,
            state=state,
            reason=reason or f"{self.alarm.name} is {state}",
            time=time,
            labels=self.labels,
            links=console_links(self.alarm.region, self.alarm.name),
            raw=truncate(raw),
            description=description,
            previous_state=previous_state,
            region=self.alarm.region,
            account=self.alarm.account,
            metric=self.metric,
            annotations=self.annotations,
            extra=self.extra,
        )


def _query_dict(query: MetricQuery) -> dict[str, Any]:
    """One of an alarm's metric queries as shown on its page (metric math, anomaly bands)."""
    out: dict[str, Any] = {}
    for key in ("id", "namespace", "name", "stat", "expression", "label"):
        if (value := getattr(query, key)) is not None:
            out[key] = value
    if query.dimensions:
        out["dimensions"] = [list(d) for d in query.dimensions]
    if query.return_data is not None:
        out["return_data"] = query.return_data
    return out


def alarm_draft(
    alarm: AlarmIdentity,
    metrics: list[MetricQuery],
    envelope: Envelope,
    *,
    alarm_rule: str | None,
    threshold_metric_id: str | None,
    contributor_id: str | None,
    contributor_attributes: dict[str, str],
    event_id: str | None = None,
) -> AlarmDraft:
    """The alarm's labels (its name, what it watches), its metric, and ``extra`` with its kind
    (composite when it has a rule), the delivery and ``event_id``; then its contributor, if the
    message is about one.

    One contributor of a multi-time-series alarm is its own alert (id ``ARN#contributor``), its
    attributes labels, its kind ``metrics_insights``. The alarm-level notification of such an
    alarm is flagged, so the relay can tell the two apart (each contributor also notifies)."""
    kind = alarm_kind(metrics, composite=alarm_rule is not None, threshold_metric_id=threshold_metric_id)
    labels, metric = metric_labels(metrics)
    extra: dict[str, Any] = {"alarm_kind": kind, **envelope.extra()}
    if kind != "metric" and metrics:
        extra["metrics"] = [_query_dict(m) for m in metrics[:10]]
    if event_id:
        extra["event_id"] = event_id
    draft = AlarmDraft(
        alarm=alarm, id=alarm.id, labels={"alarm": alarm.name, **labels}, metric=metric, extra=extra
    )
    if not contributor_id:
        if multi_time_series(metrics):
            extra["alarm_level_of_multi_time_series"] = True
        return draft
    draft.id = f"{alarm.id}#{contributor_id}"
    extra["contributor_id"] = contributor_id
    extra["contributor_attributes"] = contributor_attributes
    draft.labels.update(contributor_labels(contributor_attributes))
    if kind in ("metric", "metric_math"):
        extra["alarm_kind"] = "metrics_insights"
    return draft


def child_alarms(values: Any, *, arn: str, state_key: str, value: str) -> list[dict[str, str | None]]:
    """A composite alarm's triggering children, ``{"arn", "state"}`` each (children without an
    ARN are skipped); the key names differ between the formats."""
    children: list[dict[str, str | None]] = []
    for child in items(values):
        child = mapping(child)
        if child_arn := text(child.get(arn)):
            children.append({"arn": child_arn, "state": text(mapping(child.get(state_key)).get(value))})
    return children
