"""The local stack end to end: a scripted target, real HTTP/SMTP receivers, simulated minutes.

Each test writes a config whose channels point at local receivers (Slack webhook and PagerDuty
Events API on an ``HttpReceiver``, email on an ``SmtpReceiver``), starts ``LocalStack`` with a
0.2 s minute and plays a few minutes. Ticks are frozen in simulated time, so what happens at which
simulated minute does not depend on the machine's speed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from uptime_relay_tools.local.demo_target import DemoTarget, Outage
from uptime_relay_tools.local.faults import Faults
from uptime_relay_tools.local.runner import LocalStack
from uptime_relay_tools.testing.receivers import HttpReceiver, SmtpReceiver

MINUTE_SECONDS = 0.2


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as r:
        yield r


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as s:
        yield s


@pytest.fixture
def target() -> Iterator[DemoTarget]:
    with DemoTarget() as t:
        yield t


@pytest.fixture
def local_stack(tmp_path: Path, target: DemoTarget) -> Iterator[Callable[..., LocalStack]]:
    """Factory: ``local_stack(config_path, outage=(start_min, end_min), faults=...)`` -> started stack."""
    started: list[LocalStack] = []

    def make(
        config_path: Path, *, outage: tuple[int, int] | None = None, faults: Faults | None = None, minutes=10
    ) -> LocalStack:
        stack = LocalStack(
            config_path,
            minute_seconds=MINUTE_SECONDS,
            minutes=minutes,
            http_port=0,
            faults=faults,
            quiet=True,
            # moto keeps its state per process: each test gets its own stack
            stack_name=f"e2e-{uuid.uuid4().hex[:8]}",
        )
        if outage is not None:
            target.outages = [Outage(timedelta(minutes=outage[0]), timedelta(minutes=outage[1]))]
        target.attach(stack.clock)
        started.append(stack)
        return stack.start()

    yield make
    for stack in started:
        stack.stop()
