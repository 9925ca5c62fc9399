"""What every fuzz target must keep, whatever the input: it returns (or raises the error it is
documented to raise) within a time bound, allocates at most 256 MiB on the way, and never echoes a
configured secret.

``FUZZ`` is the hypothesis settings every fuzz test uses. ``make test`` runs a short pass
(``FUZZ_EXAMPLES``, default 100 per target); ``make fuzz`` (``tests/fuzz/run.py``) runs rounds
of many more, with fresh seeds, for ``FUZZ_SECONDS``.
"""

from __future__ import annotations

import os
import signal
import time
import tracemalloc
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from typing import TypeVar

from hypothesis import HealthCheck, settings

T = TypeVar("T")

MAX_MIB = 256
DEFAULT_SECONDS = 5.0

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100")),
    deadline=None,  # the bound below is the deadline; hypothesis' own one flakes on a busy CI
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,  # a failure prints the @reproduce_failure line to keep as a regression case
)


class TooSlow(AssertionError):
    pass


@contextmanager
def _alarm(seconds: float):
    def expired(signum, frame):
        raise TooSlow(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def within_bounds(
    call: Callable[[], T], *, seconds: float = DEFAULT_SECONDS, mib: int = MAX_MIB, expected: tuple = ()
) -> T | BaseException:
    """Run ``call``; fail if it hangs past ``seconds``, allocates more than ``mib`` MiB at its peak,
    or raises anything but ``expected`` (an expected error is returned, for its text to be checked)."""
    started = time.monotonic()
    tracemalloc.start()
    try:
        with _alarm(seconds):
            try:
                outcome: T | BaseException = call()
            except expected as exc:
                outcome = exc
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= mib * 1024 * 1024, f"peak allocation {peak / 2**20:.0f} MiB over {mib} MiB"
    assert time.monotonic() - started <= seconds
    return outcome


def assert_no_secret(text: str, secrets: Iterable[str], where: str = "output") -> None:
    for secret in secrets:
        assert secret not in text, f"a configured secret reached the {where}"
