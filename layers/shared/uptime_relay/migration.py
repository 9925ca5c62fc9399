"""One-time data migrations that run by themselves: nothing waits for an operator.

``OneTimeMigration`` drives a ``ports.Backfill`` (today ``adapters.listing_backfill``: the keys of
the ``listing`` index for incidents and silences written before it existed). The escalator calls
``run`` after each sweep, off the relay's path. The first call in a container reads the stored
progress (one GetItem); once it is done the answer is cached, so every later sweep in that
container costs nothing. Otherwise it migrates page after page while the invocation has time
left, saving where it got to after each page, so a run cut short (time up, or the function
killed) goes on from there at the next sweep. Pages are idempotent (conditional writes), so two
containers that overlap, or a page redone after a crash, change nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .ports import Backfill

log = logging.getLogger(__name__)


class OneTimeMigration:
    def __init__(self, name: str, backfill: Backfill):
        self.name = name
        self.backfill = backfill
        self.done = False  # cached for the container's life once the stored progress says so

    def run(self, time_left: Callable[[], float] | None = None, *, reserve_s: float = 0.0) -> bool:
        """Go on with the migration until it is done or ``time_left()`` drops below ``reserve_s``
        (no limit without ``time_left``). True when it is done."""
        if self.done:
            return True
        done, resume = self.backfill.progress()
        changed = pages = 0
        while not done:
            if time_left is not None and time_left() < reserve_s:
                log.info(
                    "migration %s: %d item(s) in %d page(s); goes on next sweep", self.name, changed, pages
                )
                return False
            added, resume = self.backfill.page(resume)
            changed, pages, done = changed + added, pages + 1, resume is None
            self.backfill.save(done=done, resume=resume)
        if pages:
            log.info("migration %s done: %d item(s) in %d page(s)", self.name, changed, pages)
        self.done = True
        return True
