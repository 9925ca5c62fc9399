"""Paced channels: what one destination accepts, as a token bucket, pure, time passed in.

Every send to a Slack webhook or channel, or to a PagerDuty integration key, first reserves a
slot in its destination's bucket (``reserve``); the bucket is shared state
(``adapters.pacing``: one DynamoDB item per destination, written conditionally), so the pace
holds across concurrent relay and escalator invocations. A send whose slot is further away than
the caller may wait is not reserved: it is queued for automatic redelivery instead of being
sent into a 429.

The limits (docs/operations.md "Paced channels" names their sources):

- Slack: about 1 message per second per channel, short bursts tolerated (Slack's "Rate limits"
  page: chat.postMessage and incoming webhooks, "1 per second per channel" with bursts);
- PagerDuty Events API v2: 120 events per minute per integration (routing) key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from ..config import Channel


@dataclass(frozen=True)
class Pace:
    rate_per_s: float  # sustained
    burst: float  # sends allowed back to back after a quiet spell


SLACK = Pace(rate_per_s=1.0, burst=3.0)
PAGERDUTY = Pace(rate_per_s=2.0, burst=10.0)  # 120 per minute
PACES: dict[str, Pace] = {"slack": SLACK, "pagerduty": PAGERDUTY}


@dataclass(frozen=True)
class Bucket:
    tokens: float  # below 0: slots already reserved ahead of ``at``
    at: datetime


def reserve(
    bucket: Bucket | None, pace: Pace, now: datetime, max_wait_s: float
) -> tuple[Bucket | None, float]:
    """``(the bucket with one more send reserved, seconds to wait before sending it)``; the bucket
    is None when that wait is longer than ``max_wait_s`` (nothing reserved)."""
    if bucket is None:
        tokens, at = pace.burst, now
    else:  # a bucket written by an invocation whose clock is ahead counts from its time
        at = max(now, bucket.at)
        tokens = min(pace.burst, bucket.tokens + (at - bucket.at).total_seconds() * pace.rate_per_s)
    ahead = (at - now).total_seconds()
    wait = ahead + (0.0 if tokens >= 1 else (1 - tokens) / pace.rate_per_s)
    if wait > max_wait_s:
        return None, wait
    return Bucket(tokens - 1, at), wait


def destination(channel: Channel) -> tuple[str, Pace] | None:
    """The paced destination a channel sends to (a key that names no secret) and its pace; None
    for channels that are not paced (e-mail)."""
    pace = PACES.get(channel.type)
    if pace is None:
        return None
    if channel.type == "slack":
        where = (
            str(channel.get("channel") or "")
            if channel.get("bot_token")
            else str(channel.get("webhook_url") or "")
        )
    else:
        where = f"{channel.get('routing_key') or ''}|{channel.get('events_url') or ''}"
    digest = hashlib.sha256(where.encode() or channel.name.encode()).hexdigest()[:20]
    return f"{channel.type}:{digest}", pace
