"""What a failing check's page shows about it: the probe's evidence of its latest failure.

The probe records, per check, what it saw the last time the check failed (reason, status code,
error, phase, latency, the credential-free URL, a short sanitised body excerpt when the body was
checked, and since when it has failed that way). It writes only when that changes: a check that
keeps failing the same way costs nothing after its first failed minute (``EvidenceRecorder``
remembers, per container, what it last wrote; a recovery forgets it, so the next failure is
written again). The relay reads the record when the check's alarm fires and puts it on the page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from ..domain.evidence import Evidence
from ..redaction import redact
from ..safetext import safe_text
from .result import ProbeResult

log = logging.getLogger(__name__)

EXCERPT_CHARS = 160
ERROR_CHARS = 300


def body_excerpt(text: str, secrets: Iterable[str] = ()) -> str | None:
    """The start of a response body as one short, safe line: secrets the check sends redacted,
    control/bidi characters neutralised, whitespace collapsed, at most ``EXCERPT_CHARS``."""
    head = " ".join(safe_text(text[: EXCERPT_CHARS * 4]).split())
    head = redact(head, list(secrets))
    if not head:
        return None
    return head if len(head) <= EXCERPT_CHARS else head[: EXCERPT_CHARS - 1].rstrip() + "…"


def evidence_of(result: ProbeResult, at: datetime) -> Evidence:
    error = result.error
    if error and len(error) > ERROR_CHARS:
        error = error[: ERROR_CHARS - 1] + "…"
    return Evidence(
        check=result.check,
        reason=result.reason,
        phase=result.phase,
        status_code=result.status_code,
        error=error,
        latency_ms=round(result.latency_ms, 1) if result.latency_ms is not None else None,
        url=result.final_url or result.target,
        body_excerpt=result.body_excerpt,
        since=at,
        at=at,
    )


class EvidenceWriter(Protocol):
    def put(self, evidence: Evidence) -> bool:
        """Store ``evidence`` unless a newer record is there (conditional write); False if not."""
        ...


class EvidenceRecorder:
    """Writes a check's evidence when its failure changes, never on an unchanged failed minute.

    One per container (module level in the probe handler): ``seen`` maps a check to the
    signature last written. A write that fails is logged and retried on the next failed minute;
    a probe run never fails because of it."""

    def __init__(self, store: EvidenceWriter):
        self.store = store
        self.seen: dict[str, tuple[Any, ...]] = {}

    def record(self, results: Iterable[ProbeResult], at: datetime) -> int:
        """Record this run's failures; returns how many records were written."""
        written = 0
        for result in results:
            if result.ok is not False:
                # ok, or not probed in this run (``ok`` None): a recovery forgets
                if result.ok:
                    self.seen.pop(result.check, None)
                continue
            evidence = evidence_of(result, at)
            if self.seen.get(result.check) == evidence.signature:
                continue
            try:
                self.store.put(evidence)
            except Exception:
                log.warning("evidence of check %s could not be recorded", result.check, exc_info=True)
                continue
            self.seen[result.check] = evidence.signature
            written += 1
        return written
