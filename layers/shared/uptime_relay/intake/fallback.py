"""The alert of last resort: anything unrecognised becomes one ALARM carrying the raw text.

Nothing is ever dropped: a message from another publisher on the topic, a malformed alarm, or plain
garbage still reaches a human, with the reason it could not be parsed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from ..domain.alert import Alert, AlertSource, AlertState
from .common import RAW_LIMIT_BYTES, Envelope, truncate

NAME_LIMIT = 120
DESCRIPTION_LIMIT_BYTES = 2000
# No OK ever follows a message nobody could parse: its incident stays open (escalating only as far
# as its policy goes) until a person closes it.
CLOSE_HINT = (
    " Nothing will resolve this on its own: once handled, press Resolve in Slack or run"
    " `uptime-relay incidents resolve <incident id>`."
)


def _name(subject: str | None, kind: str) -> str:
    if subject and subject.strip():
        name = " ".join(subject.split())
        return name if len(name) <= NAME_LIMIT else name[: NAME_LIMIT - 1] + "…"
    return f"Unrecognised notification ({kind})"


def parse(
    raw: str,
    *,
    why: str,
    envelope: Envelope,
    kind: str = "text",
    title: str | None = None,
    time: datetime | None = None,
) -> Alert:
    """One FALLBACK alert for ``raw``; ``why`` says what was wrong with it. It is named by the
    SNS Subject, else ``title`` (an event's detail-type), else "Unrecognised notification"; its
    time is ``time`` (the event's own), else the delivery's."""
    digest = hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:16]
    alert_id = f"message:{envelope.message_id}" if envelope.message_id else f"fallback:{digest}"
    name = _name(envelope.subject or title, kind)
    labels: dict[str, str] = {"alarm": name}
    for key, value in envelope.attributes:
        labels.setdefault(key, value)
    size = len(raw.encode("utf-8", "replace"))
    extra: dict[str, Any] = {
        "group_key": alert_id,
        "why": why,
        "raw_bytes": size,
        "raw_sha256": digest,
        **envelope.extra(),
    }
    return Alert(
        source=AlertSource.FALLBACK,
        id=alert_id,
        name=name,
        state=AlertState.ALARM,
        reason=(
            f"Could not read this notification as any format uptime-relay knows (CloudWatch alarms, "
            f"EventBridge events, Alertmanager webhooks): {why}. The raw text is attached"
            + (" (truncated)." if size > RAW_LIMIT_BYTES else ".")
            + CLOSE_HINT
        ),
        time=time or envelope.fallback_time,
        labels=labels,
        raw=truncate(raw),
        # The raw text is also the description, so every channel shows it (not only those that
        # render ``raw``): a human must be able to read what arrived.
        description=truncate(raw, DESCRIPTION_LIMIT_BYTES) if raw.strip() else None,
        annotations={},
        extra=extra,
    )
