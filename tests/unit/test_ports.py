"""Every adapter and every fake implements the port it stands for (``uptime_relay.ports``): the
same methods, taking the same arguments, so the services never probe what a port can do."""

from __future__ import annotations

import inspect
from typing import Protocol

import pytest
from uptime_relay import ports
from uptime_relay.acklinks import ack_url_factory
from uptime_relay.adapters.ack_tokens import DynamoUsedTokens, InMemoryUsedTokens
from uptime_relay.adapters.alarm_tags import AlarmTags
from uptime_relay.adapters.incidents import DynamoIncidentStore, InMemoryIncidentStore
from uptime_relay.adapters.queue import InMemoryDeadLetters, SqsDeadLetters
from uptime_relay.adapters.secrets import SecretResolver, StaticSecrets
from uptime_relay.adapters.silences import DynamoSilences, InMemorySilences
from uptime_relay.clock import SystemClock
from uptime_relay.delivery import Dispatcher
from uptime_relay.notifiers.base import Notifier
from uptime_relay_tools.local.simclock import SimulatedClock
from uptime_relay_tools.testing.fake_notifiers import FakeNotifier

IMPLEMENTATIONS = [
    (ports.IncidentStore, InMemoryIncidentStore),
    (ports.IncidentStore, DynamoIncidentStore),
    (ports.DeadLetters, InMemoryDeadLetters),
    (ports.DeadLetters, SqsDeadLetters),
    (ports.SilenceStore, InMemorySilences),
    (ports.SilenceStore, DynamoSilences),
    (ports.UsedTokens, InMemoryUsedTokens),
    (ports.UsedTokens, DynamoUsedTokens),
    (ports.Dispatcher, Dispatcher),
    (ports.SecretResolver, SecretResolver),
    (ports.SecretResolver, StaticSecrets),
    (ports.Clock, SystemClock),
    (ports.Clock, SimulatedClock),
    (ports.AlarmTagSource, AlarmTags),
    (Notifier, FakeNotifier),
]


def methods(protocol: type) -> dict[str, inspect.Signature]:
    found = {}
    for klass in protocol.__mro__:
        if klass in (object, Protocol, type(Protocol)) or not getattr(klass, "_is_protocol", False):
            continue
        for name, member in vars(klass).items():
            if inspect.isfunction(member) and (not name.startswith("_") or name == "__call__"):
                found.setdefault(name, inspect.signature(member))
    return found


def accepts(implementation: inspect.Signature, port: inspect.Signature) -> list[str]:
    """What the port passes that the implementation does not take (by name and kind)."""
    params = implementation.parameters
    missing = []
    for name, param in port.parameters.items():
        if name == "self":
            continue
        mine = params.get(name)
        if mine is None and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            missing.append(name)
        elif mine is not None and param.default is not param.empty and mine.default is mine.empty:
            missing.append(f"{name} (optional in the port, required here)")
    return missing


@pytest.mark.parametrize(
    ("port", "implementation"),
    IMPLEMENTATIONS,
    ids=[f"{i.__name__}-{p.__name__}" for p, i in IMPLEMENTATIONS],
)
def test_the_adapter_or_fake_implements_every_method_of_its_port(port, implementation):
    for name, signature in methods(port).items():
        member = getattr(implementation, name, None)
        assert callable(member), f"{implementation.__name__} lacks {port.__name__}.{name}"
        assert accepts(inspect.signature(member), signature) == [], f"{implementation.__name__}.{name}"


def test_the_dispatcher_has_the_attributes_the_port_reads():
    assert {"dead_letters", "time_left"} <= set(ports.Dispatcher.__annotations__)
    dispatcher = Dispatcher(None, {}, StaticSecrets(), InMemoryDeadLetters())  # type: ignore[arg-type]
    assert dispatcher.time_left is None and isinstance(dispatcher.dead_letters, InMemoryDeadLetters)


def test_the_ack_link_signer_takes_the_recipient_and_the_groups_incidents():
    signer = ack_url_factory("https://actions.example", lambda: "secret")
    assert accepts(inspect.signature(signer), methods(ports.AckUrlFor)["__call__"]) == []
