"""What a page about a heartbeat check or a health-JSON dependency adds to the alarm's words.

The relay enriches each alert with this module's :class:`CheckNotes` (around the usual
``intake.enrich``).

A dependency's alert (a contributor of its check's dependency alarm, labelled ``check`` and
``dependency``) is named ``<check> / <dependency>`` and labelled ``dependency_of: <check>``, the
label a derived inhibit rule matches (a dependency's incident inhibits its parent's).

The alarm of a heartbeat check says only that ``Availability`` fell below 1. For a heartbeat
check ``CheckNotes`` reads the check's pings (one keyed ``GetItem``) and adds to the alert's
description what the job last did and when, judged at the alarm's own time
(``Last ping: 2026-12-03 03:12:09 UTC (1d 1h ago); no ping since …``), and ``annotations
["last_ping"]`` (ISO 8601, or ``never``). A read that fails leaves the alert as it was: the page
goes out without the note rather than not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from .config import Config
from .domain.alert import Alert
from .domain.heartbeat import heartbeat_status, when
from .ports import Heartbeats

log = logging.getLogger(__name__)


DEPENDENCY_OF = "dependency_of"  # label on a dependency's alert: the check whose JSON names it


class CheckNotes:
    """An ``enrich(alert, config, tags=…)`` function: ``base`` first, then the dependency's name
    or the heartbeat note. ``heartbeats`` None: no heartbeat note (no table to read pings from)."""

    def __init__(self, heartbeats: Heartbeats | None, base: Callable[..., Alert]):
        self.heartbeats = heartbeats
        self.base = base

    def __call__(
        self, alert: Alert, config: Config | None, *, tags: Mapping[str, str] | list | None = None
    ) -> Alert:
        alert = self.base(alert, config, tags=tags) if tags else self.base(alert, config)
        check = config.check(alert.check) if config is not None and alert.check else None
        if check is None:
            return alert
        if check.dependencies is not None and alert.labels.get("dependency"):
            return dependency_alert(alert, check.name, alert.labels["dependency"], check.dependencies.path)
        if check.heartbeat is None or self.heartbeats is None:
            return alert
        try:
            record = self.heartbeats.get(check.name)
        except Exception:
            log.warning(
                "pings of heartbeat check %s could not be read for the page", check.name, exc_info=True
            )
            return alert
        status = heartbeat_status(check.heartbeat, record, alert.time)
        last = status.last_ping
        note = f"Last ping: {when(last, alert.time)}." if last is not None else "No ping received yet."
        if not status.up:
            note += f" {status.why[:1].upper()}{status.why[1:]}."
        description = f"{alert.description} {note}" if alert.description else note
        annotations: dict[str, Any] = dict(alert.annotations)
        annotations["last_ping"] = last.isoformat() if last is not None else "never"
        return replace(alert, description=description, annotations=annotations)


def dependency_alert(alert: Alert, check: str, dependency: str, path: str) -> Alert:
    """``api / cache``, labelled ``dependency_of: api``, its description saying where it comes from."""
    labels = {**alert.labels, DEPENDENCY_OF: check}
    note = f"Dependency {dependency!r} of check {check!r}, from its health JSON at {path!r}."
    return replace(alert, name=f"{check} / {dependency}", labels=labels, description=note)
