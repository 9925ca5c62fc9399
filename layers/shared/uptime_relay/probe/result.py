"""What one probe found: the `check --json` object, plus the phase it failed in and the attempts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Failure reasons, exactly as the CLI contract lists them.
REASONS = (
    "ok",
    "dns_error",
    "connect_refused",
    "connect_timeout",
    "tls_error",
    "cert_expiring",
    "timeout",
    "status_mismatch",
    "body_mismatch",
    "json_mismatch",
    "too_slow",
    "too_many_redirects",
    "blocked_target",
    "error",
    "condition_failed",
    "heartbeat_late",  # a heartbeat check's job did not ping within its period (or cron) + grace
    "heartbeat_failed",  # … or reported a failure (/fail)
    "not_probed",
)
# The run could not probe the check in its minute (deadline, lost shard): no verdict, ``ok`` None,
# and no Availability datapoint (a gap, never "down").
NOT_PROBED = "not_probed"
# Phases, named like the timings (a failure names the phase it happened in), plus the steps
# around them: "setup" (secrets, CA bundle), "redirect" and "expect" (the response was read);
# "heartbeat" for a heartbeat check judged from its pings.
PHASES = ("setup", "dns", "connect", "tls", "ttfb", "transfer", "redirect", "expect", "heartbeat")
TIMING_KEYS = ("dns", "connect", "tls", "ttfb", "transfer", "total")


@dataclass
class Timings:
    """Phase durations in milliseconds; None for a phase the probe never reached.

    Across redirects each phase is the sum over every hop (like blackbox_exporter); ``total`` is
    the wall time of the whole attempt, redirects included.
    """

    dns: float | None = None
    connect: float | None = None
    tls: float | None = None
    ttfb: float | None = None
    transfer: float | None = None
    total: float | None = None

    def add(self, phase: str, ms: float) -> None:
        current = getattr(self, phase)
        setattr(self, phase, ms if current is None else current + ms)

    def to_json(self) -> dict[str, float | None]:
        return {key: _ms(getattr(self, key)) for key in TIMING_KEYS}


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass
class ProbeResult:
    check: str
    ok: bool | None  # None: not probed (reason ``not_probed``)
    reason: str
    status_code: int | None = None
    latency_ms: float | None = None
    timings: Timings = field(default_factory=Timings)
    cert_days_left: float | None = None
    error: str | None = None
    phase: str | None = None  # where it failed; None when ok
    attempts: int = 1
    # the URL (display form: urls.display_url) or host:port probed (the check's own, not a hop)
    target: str | None = None
    final_url: str | None = None  # after redirects (HTTP only), display form too
    body_truncated: bool = False  # the body was over the read bound; expectations saw its prefix
    # health-JSON dependencies (``probe/dependencies.py``; None: the check has none, or no answer
    # came to read them from) and why some could not be read
    dependencies: list[Any] | None = None
    dependencies_error: str | None = None
    # the start of the body, sanitised (probe.evidence.body_excerpt), when expect checked the body
    body_excerpt: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The `uptime-relay check --json` object (contract keys first, then the extras)."""
        return {
            "check": self.check,
            "ok": self.ok,
            "reason": self.reason,
            "status_code": self.status_code,
            "latency_ms": _ms(self.latency_ms),
            "timings_ms": self.timings.to_json(),
            "cert_days_left": self.cert_days_left,
            "error": self.error,
            "phase": self.phase,
            "attempts": self.attempts,
            **(
                {"dependencies": [d.to_json() for d in self.dependencies]}
                if self.dependencies is not None
                else {}
            ),
            **({"dependencies_error": self.dependencies_error} if self.dependencies_error else {}),
        }
