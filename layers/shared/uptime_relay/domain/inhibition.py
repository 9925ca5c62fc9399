"""Inhibition: while a source incident is open, a matching target incident pages nobody (pure).

Every rule is an ``InhibitRule`` (source labels, target labels, ``equal`` label names), and
``derived_inhibit_rules(config)`` is the one place rules come from: the top-level
``inhibit_rules`` as written, then one rule per ``depends_on`` name (source ``check=<dep>``,
target ``check=<this>``), and one per check with health-JSON ``dependencies`` (source
``dependency_of=<check>``, target ``check=<check>`` without a ``dependency`` label).

Matching follows Alertmanager's inhibitor: a rule inhibits a target when an *open* incident
(open or acknowledged) matches its ``source``, the target matches its ``target``, and every
label in ``equal`` holds the same value on both (a label missing on both counts as equal). An
incident never inhibits itself, nor does another incident of the same alarm; and when the target
also matches the rule's ``source``, sources that also match its ``target`` are not used (two
alerts matching both sides of one rule do not inhibit each other).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..config import Config, InhibitRule
from .incident import Incident
from .severity import with_tier


def derived_inhibit_rules(config: Config) -> tuple[InhibitRule, ...]:
    """The config's ``inhibit_rules``, then the rules its checks' ``depends_on`` and
    ``dependencies`` stand for: an open incident of one of a check's health-JSON dependencies
    (labelled ``dependency_of: <check>``) inhibits the check's own (no ``dependency`` label)."""
    derived = [
        InhibitRule(
            source={"check": dependency},
            target={"check": check.name},
            origin=f"check {check.name} depends_on {dependency}",
            line=check.line,
        )
        for check in config.checks
        for dependency in check.depends_on
    ]
    derived += [
        InhibitRule(
            source={"dependency_of": check.name},
            target={"check": check.name, "dependency": ""},
            origin=f"check {check.name} reports its dependencies",
            line=check.line,
        )
        for check in config.checks
        if check.dependencies is not None
    ]
    return (*config.inhibit_rules, *derived)


def _matches(match: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Every label equal, a ``severity`` also by its tier (as routes match, ``domain.routing``); as
    in Alertmanager, an empty value matches a label that is missing."""
    if all(labels.get(k, "") == v for k, v in match.items()):
        return True
    tiered = with_tier(labels)
    return tiered is not labels and all(tiered.get(k, "") == v for k, v in match.items())


def is_target(labels: Mapping[str, str], rules: Iterable[InhibitRule]) -> bool:
    """Could an incident with ``labels`` be inhibited by some rule (it matches a ``target``)?"""
    return any(_matches(rule.target, labels) for rule in rules)


@dataclass(frozen=True)
class Inhibitor:
    """The open incident that inhibits a target, and the rule by which it does."""

    incident_id: str
    name: str
    check: str | None
    rule: InhibitRule

    def describe(self) -> str:
        """ "inhibited by db (incident inc-…; check api depends_on db)"."""
        who = self.check or self.name
        return f"inhibited by {who} (incident {self.incident_id}; {self.rule.origin})"


def inhibitor(
    incident_id: str,
    alarm_id: str,
    labels: Mapping[str, str],
    open_incidents: Iterable[Incident],
    rules: Iterable[InhibitRule],
) -> Inhibitor | None:
    """The first open incident that inhibits the incident (``incident_id``/``alarm_id``/``labels``;
    it need not exist yet), by the first rule that applies; None when nothing inhibits it."""
    applicable = [rule for rule in rules if _matches(rule.target, labels)]
    if not applicable:
        return None
    sources = [i for i in open_incidents if i.is_open and i.id != incident_id and i.alarm_id != alarm_id]
    for rule in applicable:
        two_sided = _matches(rule.source, labels)
        for source in sources:
            if not _matches(rule.source, source.labels):
                continue
            if two_sided and _matches(rule.target, source.labels):
                continue
            if all(source.labels.get(k, "") == labels.get(k, "") for k in rule.equal):
                return Inhibitor(source.id, source.name, source.check, rule)
    return None
