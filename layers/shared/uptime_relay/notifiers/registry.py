"""The channel registry: one notifier per channel ``type``.

No AWS client is created here or at import time: the e-mail notifier makes its SES and
CloudWatch clients on first use (one per region) unless clients are passed in.
"""

from __future__ import annotations

from typing import Any

from .base import Notifier
from .email import EmailNotifier
from .pagerduty import PagerDutyNotifier
from .slack import SlackNotifier


def make_notifiers(*, ses: Any = None, cloudwatch: Any = None, timeout_s: float = 5.0) -> dict[str, Notifier]:
    """``{"slack": …, "pagerduty": …, "email": …}``; ``ses`` is an SESv2 client, ``cloudwatch`` a
    CloudWatch client (both optional, created lazily from the environment when None)."""
    notifiers: list[Any] = [
        SlackNotifier(timeout_s=timeout_s),
        PagerDutyNotifier(timeout_s=timeout_s),
        EmailNotifier(ses=ses, cloudwatch=cloudwatch, timeout_s=timeout_s),
    ]
    return {n.type: n for n in notifiers}


__all__ = ["EmailNotifier", "PagerDutyNotifier", "SlackNotifier", "make_notifiers"]
