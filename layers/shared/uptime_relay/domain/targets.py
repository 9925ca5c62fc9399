"""Escalation targets to deliverable things: channel names, Slack mentions and email addresses. Pure.

A target is one of
- a channel name (``slack-critical``): passed through when the config defines it;
- ``person:NAME``: that person's Slack user id (a mention) and email address;
- ``oncall:SCHEDULE``: whoever the schedule puts on call at ``at``, expanded like ``person:``.
Anything that cannot be resolved is left out and explained in ``Resolved.problems`` (the config
validator refuses such names, so this only happens with a config that changed under an incident).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..config import Config
from .escalation import dedupe
from .schedule import oncall

PERSON_PREFIX = "person:"
ONCALL_PREFIX = "oncall:"


@dataclass(frozen=True)
class Resolved:
    channels: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()  # Slack user ids (U…)
    emails: tuple[str, ...] = ()
    people: tuple[str, ...] = ()  # person names reached (for the timeline)
    problems: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.channels or self.mentions or self.emails)


def resolve_targets(config: Config, targets: Iterable[str], at: datetime) -> Resolved:
    """Expand ``targets`` at the instant ``at`` (deduplicated, order kept)."""
    channels: list[str] = []
    mentions: list[str] = []
    emails: list[str] = []
    people: list[str] = []
    problems: list[str] = []

    def add_person(name: str, via: str) -> None:
        person = config.people.get(name)
        if person is None:
            problems.append(f"{via}: no person named {name!r} under people")
            return
        people.append(name)
        if person.slack:
            mentions.append(person.slack)
        if person.email:
            emails.append(person.email)
        if not (person.slack or person.email):
            problems.append(f"{via}: person {name!r} has no slack id or email")

    for target in targets:
        if target.startswith(PERSON_PREFIX):
            add_person(target[len(PERSON_PREFIX) :], target)
        elif target.startswith(ONCALL_PREFIX):
            name = target[len(ONCALL_PREFIX) :]
            schedule = config.schedules.get(name)
            if schedule is None:
                problems.append(f"{target}: no schedule named {name!r} under schedules")
                continue
            try:
                who = oncall(schedule, at)
            except ValueError as exc:
                problems.append(f"{target}: {exc}")
                continue
            add_person(who, target)
        elif target in config.channels:
            channels.append(target)
        else:
            problems.append(f"{target}: no channel named {target!r} under channels")
    return Resolved(
        channels=dedupe(channels),
        mentions=dedupe(mentions),
        emails=dedupe(emails),
        people=dedupe(people),
        problems=tuple(problems),
    )
