"""The probe engine (network I/O, phase timings) and what it reports.

``probe(check)`` probes one check; ``run_checks(checks)`` probes many concurrently within a
deadline; ``ProbeResult.to_json()`` is the ``uptime-relay check --json`` object.
"""

from .engine import probe, run_checks, run_checks_async, system_resolver
from .result import PHASES, REASONS, ProbeResult, Timings

__all__ = [
    "PHASES",
    "REASONS",
    "ProbeResult",
    "Timings",
    "probe",
    "run_checks",
    "run_checks_async",
    "system_resolver",
]
