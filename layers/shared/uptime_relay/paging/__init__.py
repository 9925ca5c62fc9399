"""Paging: planning and sending pages, the one path every notification takes.

``planning`` decides what to send: a first page's or an escalation step's sends (channels, Slack
mentions, the on-call people's e-mail), and the messages a relay batch becomes (Alertmanager
bodies grouped into one message per channel, with the group's incident ids as handles).
``pipeline`` sends it: skip what was already sent, deliver with retries (the dispatcher),
dead-letter what is given up, record every outcome on the incidents' timelines (one writer of
``notified`` / ``delivery_failed`` / ``dead_lettered``), settle first-page keys and give the
escalation cursor back. The relay, the escalation sweep and the actions follow-ups all send
through it; none of them imports another.
"""

from .pipeline import (
    FIRST_PAGE_LEASE,
    Covered,
    HandlesRule,
    Ledger,
    Page,
    Pipeline,
    Sent,
    Wording,
    abandoned,
    first_page_lease,
    skip_sent,
)
from .planning import (
    STILL_FIRING_HANDLE,
    PlannedNotification,
    PlannedSend,
    Send,
    group_incident_ids,
    group_still_firing,
    incident_alert,
    opening_sends,
    plan_notifications,
    plan_sends,
    send_ack_link,
)

__all__ = [
    "FIRST_PAGE_LEASE",
    "STILL_FIRING_HANDLE",
    "Covered",
    "HandlesRule",
    "Ledger",
    "Page",
    "Pipeline",
    "PlannedNotification",
    "PlannedSend",
    "Send",
    "Sent",
    "Wording",
    "abandoned",
    "first_page_lease",
    "group_incident_ids",
    "group_still_firing",
    "incident_alert",
    "opening_sends",
    "plan_notifications",
    "plan_sends",
    "send_ack_link",
    "skip_sent",
]
