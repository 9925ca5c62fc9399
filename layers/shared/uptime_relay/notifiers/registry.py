"""The channel registry: one notifier per channel ``type``.

No AWS client is created here or at import time: the e-mail notifier makes its SES and
CloudWatch clients on first use (one per region) unless clients are passed in.
"""

from __future__ import annotations

from typing import Any

from .base import Notifier
from .email import EmailNotifier
from .opsgenie import OpsgenieNotifier
from .pagerduty import PagerDutyNotifier
from .slack import SlackNotifier
from .sms import SmsNotifier
from .teams import TeamsNotifier
from .webhook import WebhookNotifier


def make_notifiers(
    *, ses: Any = None, cloudwatch: Any = None, sns: Any = None, timeout_s: float = 5.0
) -> dict[str, Notifier]:
    """``{"slack": …, "pagerduty": …, "email": …, "webhook": …, "teams": …, "opsgenie": …,
    "sms": …}``; ``ses`` is an SESv2 client, ``cloudwatch`` a CloudWatch client, ``sns`` an SNS
    client (all optional, created lazily from the environment when None)."""
    notifiers: list[Any] = [
        SlackNotifier(timeout_s=timeout_s),
        PagerDutyNotifier(timeout_s=timeout_s),
        EmailNotifier(ses=ses, cloudwatch=cloudwatch, timeout_s=timeout_s),
        WebhookNotifier(timeout_s=timeout_s),
        TeamsNotifier(timeout_s=timeout_s),
        OpsgenieNotifier(timeout_s=timeout_s),
        SmsNotifier(sns=sns, timeout_s=timeout_s),
    ]
    return {n.type: n for n in notifiers}


__all__ = [
    "EmailNotifier",
    "OpsgenieNotifier",
    "PagerDutyNotifier",
    "SlackNotifier",
    "SmsNotifier",
    "TeamsNotifier",
    "WebhookNotifier",
    "make_notifiers",
]
