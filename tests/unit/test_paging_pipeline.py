"""The one send pipeline (``paging.Pipeline``): skip what was sent, deliver, dead-letter what is
given up, record every outcome once per incident, give the escalation cursor back when the whole
first page is settled. Fakes implement the ports; no mocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.incident import Action, Incident, Transition
from uptime_relay.notifiers.base import Delivery, Notification, NotificationKind
from uptime_relay.paging import Covered, Ledger, Page, Pipeline, PlannedSend, Wording
from uptime_relay.ports import DeliveryOutcome

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CONFIG = parse_config(
    """
channels:
  slack-critical: {type: slack, webhook_url: "https://hooks.example.test/x"}
  pd-primary: {type: pagerduty, routing_key: "k"}
  oncall-email: {type: email, to: [oncall@example.com], from: alerts@example.com}
""",
    "test.yaml",
)
ALERT = Alert(
    AlertSource.CLOUDWATCH, "alarm-1", "api down", AlertState.ALARM, "failing", T0, {"check": "api"}
)


class CountingStore(InMemoryIncidentStore):
    def __init__(self) -> None:
        super().__init__()
        self.outcome_writes: list[str] = []
        self.released: list[str] = []

    def record_outcomes(self, id, entries, handles, *, settled=()):
        self.outcome_writes.append(id)
        return super().record_outcomes(id, entries, handles, settled=settled)

    def release_hold(self, id, *, due_at):
        self.released.append(id)
        return super().release_hold(id, due_at=due_at)


class ScriptedDispatcher:
    """A ``ports.Dispatcher`` whose outcomes are scripted per channel; records every call."""

    def __init__(self, outcomes: dict[str, DeliveryOutcome] | None = None):
        self.outcomes = outcomes or {}
        self.dead_letters = InMemoryDeadLetters()
        self.time_left = None
        self.calls: list[tuple[str, bool, tuple[str, ...]]] = []

    def deliver(self, channel_name, notification, *, dead_letter=True, to=()):
        self.calls.append((channel_name, dead_letter, tuple(to)))
        delivered = DeliveryOutcome(channel_name, True, delivery=Delivery(channel_name), attempts=1)
        return self.outcomes.get(channel_name, delivered)

    def groups_alerts(self, channel_name):
        return False


def stored(store: InMemoryIncidentStore, **changes) -> Incident:
    incident = Incident(
        id=changes.pop("id", "inc-1"),
        alarm_id="alarm-1",
        name="api down",
        status="open",
        opened_at=T0,
        last_state_time=T0,
        alert=ALERT,
        **changes,
    )
    assert store.commit(Transition(Action.OPENED, ALERT, "test", incident=incident))
    return incident


def pages_for(incident: Incident, *, settles: bool = False, last_try: bool = True):
    def page(send: PlannedSend) -> Page:
        notification = Notification(NotificationKind.TRIGGER, (ALERT,), incident_id=incident.id)
        covered = Covered(
            incident, Wording.of(NotificationKind.TRIGGER), settles=send.key if settles else None
        )
        return Page(send.channel, send.key, notification, (covered,), to=send.email_to, last_try=last_try)

    return page


def kinds(store: InMemoryIncidentStore, incident_id: str = "inc-1") -> list[tuple[str, str | None]]:
    return [(e.kind, e.channel) for e in store.get(incident_id).timeline]


def test_what_was_already_sent_is_not_sent_again():
    # GIVEN a step whose PagerDuty send is recorded as sent
    store, dispatcher = CountingStore(), ScriptedDispatcher()
    incident = stored(store)
    planned = [PlannedSend("pd-primary", "pd-primary"), PlannedSend("slack-critical", "slack-critical")]
    # WHEN the pipeline sends the step again
    sent = Pipeline(dispatcher).send(planned, pages_for(incident), T0, Ledger(), already_sent={"pd-primary"})
    # THEN only Slack is delivered
    assert [s.page.channel for s in sent] == ["slack-critical"]
    assert [c[0] for c in dispatcher.calls] == ["slack-critical"]


def test_every_outcome_of_a_batch_is_one_write_per_incident():
    store, dispatcher = (
        CountingStore(),
        ScriptedDispatcher(
            {"pd-primary": DeliveryOutcome("pd-primary", False, error="503", attempts=4, dead_lettered=True)}
        ),
    )
    incident = stored(store)
    ledger = Ledger()
    planned = [PlannedSend("pd-primary", "pd-primary"), PlannedSend("slack-critical", "slack-critical")]
    Pipeline(dispatcher).send(planned, pages_for(incident), T0, ledger)
    ledger.commit(store)
    assert store.outcome_writes == ["inc-1"]
    assert kinds(store) == [
        ("delivery_failed", "pd-primary"),
        ("dead_lettered", "pd-primary"),
        ("notified", "slack-critical"),
    ]


def test_a_failure_given_up_that_the_dispatcher_could_not_dead_letter_is_dead_lettered_here():
    # GIVEN a last try that failed without reaching the dead-letter queue (an internal error)
    failed = DeliveryOutcome("pd-primary", False, error="internal error: KeyError")
    store, dispatcher = CountingStore(), ScriptedDispatcher({"pd-primary": failed})
    incident = stored(store)
    (sent,) = Pipeline(dispatcher).send(
        [PlannedSend("pd-primary", "pd-primary")], pages_for(incident), T0, Ledger()
    )
    # THEN it is on the dead-letter queue, with what replays it
    assert sent.outcome.dead_lettered
    (record,) = dispatcher.dead_letters.records
    assert record["channel"] == "pd-primary" and record["incident_id"] == "inc-1"


def test_a_failure_before_the_last_try_is_left_for_a_retry_and_not_dead_lettered():
    failed = DeliveryOutcome("pd-primary", False, error="503", attempts=4)
    store, dispatcher = CountingStore(), ScriptedDispatcher({"pd-primary": failed})
    incident = stored(store)
    page = pages_for(incident, last_try=False)
    (sent,) = Pipeline(dispatcher).send([PlannedSend("pd-primary", "pd-primary")], page, T0, Ledger())
    assert not sent.given_up and not sent.outcome.dead_lettered
    assert dispatcher.calls == [("pd-primary", False, ())]  # the dispatcher was told not to either
    assert dispatcher.dead_letters.records == []


def test_the_escalation_cursor_comes_back_only_once_the_whole_first_page_is_settled():
    # GIVEN a first page to two channels, with the escalation cursor held until it is settled
    store = CountingStore()
    pending = ("pd-primary", "slack-critical")
    held = dict(
        pending=pending, pending_until=T0, cursor_held=True, due_at=T0, held_due_at=T0 + timedelta(minutes=10)
    )
    incident = stored(store, **held)
    # WHEN PagerDuty fails without reaching the dead-letter queue and is not given up yet
    failed = DeliveryOutcome("pd-primary", False, error="503")
    ledger = Ledger()
    pipeline = Pipeline(ScriptedDispatcher({"pd-primary": failed}))
    planned = [PlannedSend(key, key) for key in pending]
    pipeline.send(planned, pages_for(incident, settles=True, last_try=False), T0, ledger)
    ledger.commit(store)
    # THEN the cursor stays held; once the rest is sent, it comes back
    assert store.released == [] and store.get("inc-1").pending == ("pd-primary",)
    incident = store.get("inc-1")
    pipeline = Pipeline(ScriptedDispatcher())
    pipeline.send(planned[:1], pages_for(incident, settles=True), T0, ledger)
    ledger.commit(store)
    assert store.released == ["inc-1"]
    assert store.get("inc-1").due_at == T0 + timedelta(minutes=10) and not store.get("inc-1").cursor_held


class RecipientsSeen:
    """An e-mail notifier that records whom each mail went to."""

    type = "email"
    groups_alerts = True

    def __init__(self) -> None:
        self.to: list[tuple[str, ...]] = []

    def build_payloads(self, channel, notification):
        return []

    def send(self, channel, notification, secrets):
        self.to.append(tuple(channel.options["to"]))
        return Delivery(channel.name)


def test_an_email_to_people_goes_to_their_addresses_and_leaves_the_channel_as_configured():
    email = RecipientsSeen()
    dispatcher = Dispatcher(
        CONFIG, {"email": email}, StaticSecrets(), InMemoryDeadLetters(), sleep=lambda s: None
    )
    incident = stored(CountingStore())
    people = PlannedSend("oncall-email", "oncall-email:people", email_to=("alice@example.com",))
    mailbox = PlannedSend("oncall-email", "oncall-email")
    Pipeline(dispatcher).send([people, mailbox], pages_for(incident), T0, Ledger())
    assert email.to == [("alice@example.com",), ("oncall@example.com",)]
    assert tuple(dispatcher.config.channels["oncall-email"].options["to"]) == ("oncall@example.com",)


def grouped(first: Incident, second: Incident):
    members = (first.id, second.id)

    def page(send: PlannedSend) -> Page:
        notification = Notification(NotificationKind.TRIGGER, (ALERT,), incident_id=first.id)
        wording = Wording.of(NotificationKind.TRIGGER)
        covers = tuple(Covered(i, wording, members=members) for i in (first, second))
        return Page(send.channel, send.key, notification, covers)

    return page


def test_a_grouped_message_names_its_incidents_on_each_of_them_once_it_is_delivered():
    store = CountingStore()
    first, second = stored(store, id="inc-1"), stored(store, id="inc-2")
    ledger = Ledger()
    Pipeline(ScriptedDispatcher()).send(
        [PlannedSend("slack-critical", "slack-critical")], grouped(first, second), T0, ledger
    )
    ledger.commit(store)
    for incident_id in ("inc-1", "inc-2"):
        assert store.get(incident_id).handles["slack-critical"] == {"incidents": ["inc-1", "inc-2"]}
    assert store.outcome_writes == ["inc-1", "inc-2"]


def test_a_grouped_message_that_failed_records_no_handles():
    store = CountingStore()
    first, second = stored(store, id="inc-1"), stored(store, id="inc-2")
    failed = DeliveryOutcome("slack-critical", False, error="500", dead_lettered=True)
    ledger = Ledger()
    dispatcher = ScriptedDispatcher({"slack-critical": failed})
    Pipeline(dispatcher).send(
        [PlannedSend("slack-critical", "slack-critical")], grouped(first, second), T0, ledger
    )
    ledger.commit(store)
    assert store.get("inc-1").handles == {} and store.get("inc-2").handles == {}
    assert kinds(store, "inc-2") == [
        ("delivery_failed", "slack-critical"),
        ("dead_lettered", "slack-critical"),
    ]
