"""The relay reads Lambda SNS events through Powertools' ``SNSEvent``: a plain event dict and the
data class give the same results, and a record that cannot be recorded is named by its MessageId."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aws_lambda_powertools.utilities.data_classes import SNSEvent
from uptime_relay.adapters.incidents import InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.delivery import Dispatcher
from uptime_relay.relay import Relay, RelayError
from uptime_relay_tools.testing.relay_kit import alarm_message, sns_event

T0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
CONFIG = parse_config(
    "channels:\n  pd: {type: pagerduty, routing_key: k}\nroutes:\n  - notify: [pd]\n", "t.yaml"
)


def relay(store=None) -> Relay:
    return Relay(
        CONFIG,
        store or InMemoryIncidentStore(),
        Dispatcher(CONFIG, {}, StaticSecrets(), InMemoryDeadLetters()),
    )


def test_the_data_class_and_the_plain_event_give_the_same_results():
    event = sns_event(
        alarm_message("api", "ALARM", T0), alarm_message("db", "OK", T0), message_ids=["m-1", "m-2"]
    )
    plain = relay().process_sns_event(event)
    wrapped = relay().process_sns_event(SNSEvent(event))
    assert plain == wrapped
    assert plain["records"] == 2 and [r["action"] for r in plain["results"]] == ["opened", "recorded"]


def test_a_record_that_cannot_be_recorded_is_named_by_its_message_id_and_the_others_go_through():
    class Broken(InMemoryIncidentStore):
        def apply(self, alert, decide, **kw):
            if "db" in alert.id:
                raise RuntimeError("table unavailable")
            return super().apply(alert, decide, **kw)

    store = Broken()
    event = sns_event(
        alarm_message("db", "ALARM", T0), alarm_message("api", "ALARM", T0), message_ids=["m-db", "m-api"]
    )
    with pytest.raises(RelayError, match=r"1 of 2 records could not be recorded: m-db: RelayError"):
        relay(store).process_sns_event(event)
    assert [i.name for i in store.list()] == ["api"]
