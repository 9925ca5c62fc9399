"""The probe engine (network I/O, phase timings) and what it reports.

``probe(check)`` probes one check; ``run_checks(checks)`` probes many concurrently within a
deadline; ``ProbeResult.to_json()`` is the ``uptime-relay check --json`` object.
"""

from .engine import not_probed_result, probe, run_checks, run_checks_async, system_resolver
from .result import NOT_PROBED, PHASES, REASONS, ProbeResult, Timings

__all__ = [
    "NOT_PROBED",
    "PHASES",
    "REASONS",
    "ProbeResult",
    "Timings",
    "not_probed_result",
    "probe",
    "run_checks",
    "run_checks_async",
    "system_resolver",
]
