"""Health-JSON dependencies: one request, one availability per member of the object at
``dependencies.path`` (``{"services": {"database": {"status": "ok"}, "cache": {"status": "down"}}}``).

``read_dependencies`` (pure) turns the body of the check's response into one
:class:`DependencyResult` per member, healthy when its ``status_key`` (or the member itself, when
it is text) is one of the ``healthy`` words. ``settle`` (run once per probe run) compares them with
the names seen before (``DependencySets``, one item per check): a dependency that disappeared from
the JSON is reported down ("no longer in the health JSON") until it comes back, or for
``forget_after`` and then forgotten with a log line; nothing drops out silently. The stored set
changes only when a name appears, goes missing, comes back or is forgotten: one conditional
keyed write then, none on a quiet run.

A check whose request failed before a response has no dependency results (they were not probed,
so none is reported down: the parent's own incident says the endpoint failed).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..config import Check, Dependencies
from ..domain.heartbeat import when
from ..ports import DependencySets
from .expect import _MISSING, lookup
from .result import ProbeResult

logger = logging.getLogger(__name__)

MAX_DEPENDENCIES = 50  # per check: each is a custom metric ($0.30/month) and an alarm contributor
MAX_NAME_CHARS = 100


@dataclass
class DependencyResult:
    name: str
    ok: bool
    status: str | None = None  # the status word found; None when the member had none or is gone
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "status": self.status, "error": self.error}


def read_dependencies(
    spec: Dependencies, body: str | None
) -> tuple[list[DependencyResult] | None, str | None]:
    """(one result per member, None), or (None, why the dependencies could not be read)."""
    if body is None:
        return None, "no body was received"
    try:
        document = json.loads(body)
    except ValueError:
        return None, "the body is not JSON"
    members = lookup(document, spec.path)
    if members is _MISSING or not isinstance(members, Mapping):
        return None, f"the health JSON has no object at {spec.path!r}"
    out: list[DependencyResult] = []
    skipped: list[str] = []
    for name, member in members.items():
        name = str(name)
        if not name.strip() or len(name) > MAX_NAME_CHARS or len(out) >= MAX_DEPENDENCIES:
            skipped.append(name[:40])
            continue
        status = _status(member, spec.status_key)
        if status is None:
            out.append(
                DependencyResult(name, False, None, f"{name} has no {spec.status_key!r} in the health JSON")
            )
        elif status.lower() in spec.healthy:
            out.append(DependencyResult(name, True, status))
        else:
            out.append(DependencyResult(name, False, status, f"{name} is {status!r} in the health JSON"))
    why = None
    if skipped:
        why = (
            f"{len(skipped)} dependenc{'y' if len(skipped) == 1 else 'ies'} not tracked "
            f"(more than {MAX_DEPENDENCIES}, or an empty or over-long name): {', '.join(skipped[:5])}"
        )
    return out, why


def _status(member: Any, key: str) -> str | None:
    value = (
        member
        if isinstance(member, str)
        else (lookup(member, key) if isinstance(member, Mapping) else _MISSING)
    )
    if value is _MISSING or value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------------------- memory
def settle(
    results: Iterable[ProbeResult], checks: Iterable[Check], store: DependencySets | None, now: datetime
) -> None:
    """Add the dependencies that disappeared to their check's results, and remember what was seen.
    Without a store (or when it fails) only what the JSON holds is reported, and that is logged."""
    by_name = {c.name: c for c in checks if c.dependencies is not None}
    judged = [r for r in results if r.check in by_name and r.dependencies is not None]
    if not judged:
        return
    if store is None:
        return
    try:
        known = store.get_many(r.check for r in judged)
    except Exception as exc:
        logger.error(
            "dependencies seen before could not be read (%s: %s): a dependency that "
            "disappeared is not reported this run",
            type(exc).__name__,
            exc,
        )
        return
    for result in judged:
        spec = by_name[result.check].dependencies
        assert spec is not None and result.dependencies is not None
        seen, version = known.get(result.check, ({}, 0))
        changes = _track(result, spec, seen, now)
        if changes is None:
            continue
        present, missing, forget = changes
        try:
            store.update(result.check, version, present=present, missing=missing, forget=forget)
        except Exception as exc:
            logger.error(
                "dependencies of %s could not be remembered (%s: %s)", result.check, type(exc).__name__, exc
            )


def _track(
    result: ProbeResult, spec: Dependencies, seen: Mapping[str, datetime | None], now: datetime
) -> tuple[list[str], dict[str, datetime], list[str]] | None:
    """Append the missing dependencies to ``result``; the changes to store, or None when none."""
    assert result.dependencies is not None
    current = {d.name for d in result.dependencies}
    present = sorted(n for n in current if n not in seen or seen[n] is not None)
    missing: dict[str, datetime] = {}
    forget: list[str] = []
    for name in sorted(set(seen) - current):
        since = seen[name] or now
        if now - since > timedelta(seconds=spec.forget_after_s):
            forget.append(name)
            logger.warning(
                "dependency %s / %s forgotten: missing from the health JSON since %s",
                result.check,
                name,
                when(since, now),
                extra={"check": result.check, "dependency": name},
            )
            continue
        if seen[name] is None:
            missing[name] = now
        result.dependencies.append(
            DependencyResult(
                name,
                False,
                None,
                f"{name} is no longer in the health JSON at {spec.path!r} (since {when(since, now)})",
            )
        )
    return (present, missing, forget) if present or missing or forget else None
