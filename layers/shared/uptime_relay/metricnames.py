"""The CloudWatch metric identities the probe emits and the alarms watch (one place for both)."""

from __future__ import annotations

import os

DEFAULT_NAMESPACE = "UptimeRelay"
AVAILABILITY = "Availability"  # 1 = ok, 0 = failed; dimensions exactly {CHECK_DIMENSION: check name}
LATENCY = "Latency"  # milliseconds; only for checks with latency_metric: true; {CHECK_DIMENSION: name}
RUN_COMPLETED = (
    "ProbeRunCompleted"  # 1 per finished run; {SERVICE_DIMENSION: service}; alarmed on missing data
)
RUN_DURATION = "ProbeRunDuration"  # milliseconds per run; {SERVICE_DIMENSION: service}
# Checks a run could not probe in their minute (deadline, lost or throttled shard); {SERVICE_DIMENSION}.
# They emit no Availability datapoint; ChecksNotProbedAlarm tells the emergency topic.
CHECKS_NOT_PROBED = "ChecksNotProbed"
# Checks with ``regions``: Availability carries {CHECK_DIMENSION, REGION_DIMENSION} (one series per
# region, what the page names), and REGIONS_FAILING {CHECK_DIMENSION} is 1 from each region that
# saw it fail, 0 from each that saw it pass: its Sum per period is the number of failing regions,
# which the check's alarm compares with the quorum.
REGIONS_FAILING = "RegionsFailing"
PROBE_SHARDS_STARTED = "ProbeShardsStarted"  # shards a scheduled run started; {SERVICE_DIMENSION}
REGION_DIMENSION = "Region"
CHECK_DIMENSION = "Check"
DEPENDENCY_DIMENSION = "Dependency"  # Availability per health-JSON dependency: {Check, Dependency}
SERVICE_DIMENSION = "service"
DEFAULT_SERVICE = "uptime-relay"


def namespace() -> str:
    """Per-stack namespace (POWERTOOLS_METRICS_NAMESPACE), so staging and prod do not mix."""
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE)


def service() -> str:
    return os.environ.get("POWERTOOLS_SERVICE_NAME", DEFAULT_SERVICE)


# Relay and escalator (namespace: the same per-stack namespace; dimension SERVICE_DIMENSION).
ALERTS_RELAYED = "AlertsRelayed"  # count of alerts the relay parsed and routed
NOTIFICATIONS_SENT = "NotificationsSent"  # successful channel deliveries
DELIVERY_FAILURES = "DeliveryFailures"  # attempts that failed (before retry)
DELIVERIES_DEAD_LETTERED = "DeliveriesDeadLettered"  # gave up: message is on the dead-letter queue
ESCALATIONS_FIRED = "EscalationsFired"  # escalation steps fired by the escalator
INCIDENTS_OPENED = "IncidentsOpened"  # incidents the relay opened (the dashboard's incidents per hour)
DEAD_LETTER_FAILURES = "DeadLetterFailures"  # a dead-letter record SQS refused: only in the logs (marker)

# One metric per failing channel (dimension CHANNEL_DIMENSION only, emitted only on a failed send,
# so a healthy channel costs nothing): how long the send that just failed has been failing, in
# seconds (0 on its first failure). ChannelFailingAlarm fires at 300 s: failed 5 minutes in a row.
CHANNEL_FAILING = "ChannelFailingSeconds"
CHANNEL_DIMENSION = "channel"
CHANNEL_FAILING_ALARM_S = 300
