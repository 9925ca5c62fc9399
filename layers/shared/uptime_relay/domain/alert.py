"""The one normalised alert that every input format is parsed into."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

# The label a test alert (``uptime-relay test``) carries, its value the test run's id: its
# incident is a test, titled as one and left out of reports.
TEST_LABEL = "uptime_relay_test"


class AlertState(StrEnum):
    ALARM = "ALARM"
    OK = "OK"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class AlertSource(StrEnum):
    CLOUDWATCH = "cloudwatch"  # CloudWatch alarm notification delivered through SNS
    EVENTBRIDGE = "eventbridge"  # EventBridge "CloudWatch Alarm State Change"
    ALERTMANAGER = "alertmanager"  # Alertmanager webhook v4, one Alert per alerts[] item
    AWS_EVENT = "aws_event"  # an AWS service's event (Health, GuardDuty, Security Hub, CodePipeline,
    # CodeBuild, Backup) or an SNS subscription confirmation
    FALLBACK = "fallback"  # anything unrecognised: carries the raw text, never dropped


@dataclass(frozen=True)
class Link:
    href: str
    text: str


@dataclass(frozen=True)
class MetricRef:
    """The metric an alarm watches, when it has exactly one (for graphs and labels)."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...] = ()
    stat: str | None = None
    period: int | None = None


@dataclass(frozen=True)
class Alert:
    """One alert state change.

    ``id`` is the stable identity of the alarm (CloudWatch: alarm ARN, plus the contributor for
    Metrics Insights multi-time-series alarms; Alertmanager: the alert fingerprint). Incidents and
    the PagerDuty dedup_key are keyed on it, so the ALARM and the OK of one incident share it.
    ``time`` is the alarm's own state-change time (timezone-aware, UTC): ordering decisions use it,
    never the delivery time.
    """

    source: AlertSource
    id: str
    name: str
    state: AlertState
    reason: str
    time: datetime
    labels: dict[str, str] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    raw: str = ""
    description: str | None = None
    previous_state: AlertState | None = None
    region: str | None = None  # AWS region code (us-east-1), when known
    account: str | None = None
    metric: MetricRef | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def firing(self) -> bool:
        return self.state is AlertState.ALARM

    @property
    def is_test(self) -> bool:
        return bool(self.labels.get(TEST_LABEL))

    @property
    def check(self) -> str | None:
        """The uptime-relay check this alert is about, if it is one of ours."""
        return self.labels.get("check")
