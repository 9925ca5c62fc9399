"""Heartbeat checks in the probe run: nothing is requested; each check's stored pings
(``Heartbeats.get_many``, keyed reads, no scan) are judged at the run's time
(``domain.heartbeat.heartbeat_status``) into the same ``ProbeResult`` a probed check gives, so
they reach CloudWatch as the same ``Availability`` metric, their alarm and the relay.

When the pings cannot be read, the heartbeat checks of this run are not probed: no result, no
metric (never reported down for our own failure); the error is logged and the alarm sees
missing data, as for a probe that did not run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from ..config import Check
from ..domain.heartbeat import heartbeat_status
from ..ports import Heartbeats
from .result import ProbeResult

logger = logging.getLogger(__name__)


def heartbeat_checks(checks: Iterable[Check]) -> tuple[list[Check], list[Check]]:
    """(the checks to probe, the heartbeat checks), each in config order."""
    probed, beats = [], []
    for check in checks:
        (beats if check.heartbeat is not None else probed).append(check)
    return probed, beats


def heartbeat_results(
    checks: Iterable[Check], heartbeats: Heartbeats | None, now: datetime
) -> list[ProbeResult]:
    checks = [c for c in checks if c.heartbeat is not None]
    if not checks:
        return []
    if heartbeats is None:
        logger.error("heartbeat checks not judged: no table to read their pings from (TABLE_NAME)")
        return []
    try:
        records = heartbeats.get_many(c.name for c in checks)
    except Exception as exc:
        logger.error(
            "heartbeat checks not judged: their pings could not be read (%s: %s)", type(exc).__name__, exc
        )
        return []
    out = []
    for check in checks:
        assert check.heartbeat is not None
        status = heartbeat_status(check.heartbeat, records.get(check.name), now)
        out.append(
            ProbeResult(
                check=check.name,
                ok=status.up,
                reason=status.reason,
                error=None if status.up else status.why,
                phase=None if status.up else "heartbeat",
                attempts=0,
                target=check.target,
            )
        )
    return out
