"""A check's latest failure as the probe recorded it, and what a page says about it.

Written by the probe (``probe.evidence.EvidenceRecorder``) only when the failure changes, read by
the relay when the check's alarm fires (``Alert.extra["evidence"]``). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

EXTRA_KEY = "evidence"  # Alert.extra key the relay puts the record under (as a dict)
LOG_GROUP_KEY = "probe_log_group"  # Alert.extra key: the probe's log group (Logs Insights link)


@dataclass(frozen=True)
class Evidence:
    """A check's latest failure, as recorded by the probe (``since``: the first minute it failed
    this way; ``at``: when this record was written)."""

    check: str
    reason: str
    phase: str | None = None
    status_code: int | None = None
    error: str | None = None
    latency_ms: float | None = None
    url: str | None = None
    body_excerpt: str | None = None
    since: datetime | None = None
    at: datetime | None = None

    @property
    def signature(self) -> tuple[Any, ...]:
        """What makes two failures "the same": a new record is written only when it changes."""
        return (self.reason, self.phase, self.status_code, self.url, self.error)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["since"] = self.since.isoformat() if self.since else None
        out["at"] = self.at.isoformat() if self.at else None
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evidence | None:
        try:
            return cls(
                check=str(data["check"]),
                reason=str(data["reason"]),
                phase=data.get("phase"),
                status_code=int(data["status_code"]) if data.get("status_code") is not None else None,
                error=data.get("error"),
                latency_ms=float(data["latency_ms"]) if data.get("latency_ms") is not None else None,
                url=data.get("url"),
                body_excerpt=data.get("body_excerpt"),
                since=datetime.fromisoformat(data["since"]) if data.get("since") else None,
                at=datetime.fromisoformat(data["at"]) if data.get("at") else None,
            )
        except (KeyError, TypeError, ValueError):
            return None
