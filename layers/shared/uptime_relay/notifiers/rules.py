"""The channel rules registry: for each channel ``type``, the config options it takes.

The rules of each type sit beside its notifier (``slack_rules`` beside ``slack``, …); this is the
one place that lists them, in the order error messages name the types. A new channel type is a
notifier module, its rules module, and one line here and in ``notifiers.registry``.
"""

from __future__ import annotations

from ..config.validator import ChannelRules
from . import email_rules, opsgenie_rules, pagerduty_rules, slack_rules, sms_rules, teams_rules, webhook_rules

CHANNEL_RULES: dict[str, ChannelRules] = {
    rules.type: rules
    for rules in (
        slack_rules.RULES,
        pagerduty_rules.RULES,
        email_rules.RULES,
        webhook_rules.RULES,
        teams_rules.RULES,
        opsgenie_rules.RULES,
        sms_rules.RULES,
    )
}
CHANNEL_TYPES = tuple(CHANNEL_RULES)
