"""Property: whatever order SNS delivers one alarm's state changes in, and however often, the
incident ends in the state of the newest StateChangeTime and no channel is paged twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.notifiers.base import NotificationKind
from uptime_relay.relay import Relay
from uptime_relay_tools.testing.fake_notifiers import fake_notifiers

CONFIG = parse_config(
    """
channels:
  slack: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd: {type: pagerduty, routing_key: literal-key}
routes:
  - notify: [pd, slack]
"""
)
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@st.composite
def deliveries(draw):
    offsets = draw(st.lists(st.integers(0, 3600), min_size=1, max_size=8, unique=True))
    states = draw(
        st.lists(
            st.sampled_from([AlertState.ALARM, AlertState.OK]), min_size=len(offsets), max_size=len(offsets)
        )
    )
    events = [(T0 + timedelta(seconds=o), s) for o, s in zip(sorted(offsets), states, strict=True)]
    extra = draw(st.lists(st.sampled_from(events), max_size=8))  # duplicate deliveries
    order = draw(st.permutations(events + extra))
    return events, order


@settings(max_examples=300, deadline=None)
@given(deliveries())
def test_final_state_follows_the_newest_state_change_and_nobody_is_paged_twice(case):
    events, order = case
    store = InMemoryIncidentStore()
    notifiers = fake_notifiers()
    relay = Relay(
        CONFIG,
        store,
        Dispatcher(CONFIG, notifiers, StaticSecrets(), InMemoryDeadLetters(), sleep=lambda s: None),
    )
    for at, state in order:
        alert = Alert(AlertSource.CLOUDWATCH, "alarm-1", "api", state, "r", at)
        relay.handle([alert], now=at + timedelta(minutes=1))

    newest_time, newest_state = max(events)
    open_incidents = store.list()
    assert len(open_incidents) == (1 if newest_state is AlertState.ALARM else 0)
    assert store.get_alarm("alarm-1").last_state_time == newest_time

    sent = [(ch, n.kind, n.incident_id) for notifier in notifiers.values() for ch, n in notifier.sent]
    counts = Counter(sent)
    assert all(c == 1 for c in counts.values()), counts
    triggered = {(ch, inc) for ch, kind, inc in sent if kind is NotificationKind.TRIGGER}
    resolved = {(ch, inc) for ch, kind, inc in sent if kind is NotificationKind.RESOLVE}
    assert resolved <= triggered
    # at most one incident per ALARM that was not superseded before it arrived
    assert len({inc for _, inc in triggered}) <= sum(1 for _, s in events if s is AlertState.ALARM)
