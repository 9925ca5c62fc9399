"""The options an ``sms`` channel takes in the config (beside ``notifiers.sms``, which sends), and
the link from its ``oncall:`` / ``person:`` targets to the people's phone numbers.

``to`` lists E.164 numbers, ``person:NAME`` (that person's ``phone`` under ``people``) and
``oncall:SCHEDULE`` (whoever the schedule puts on call when the message goes out). Once every
section is read, ``link_phones`` checks that each person named, and each member of each schedule
named, has a ``phone``, and gives the channel what it needs to resolve its targets at send time
(``PHONES`` and ``SCHEDULES``, options no user writes).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from ..config.model import Channel, Person, Schedule
from ..config.schedules import E164_RE, QUOTE_HINT
from ..config.validator import ChannelRules, Validator, kind, where_item
from ..config.yamlpos import PosDict

PERSON_PREFIX = "person:"
ONCALL_PREFIX = "oncall:"
SMS_TYPES = ("Transactional", "Promotional")
SENDER_ID_RE = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")  # SNS: 1-11 alphanumeric, a letter
PHONES = "_phones"  # person name -> E.164, for the people the channel can reach
SCHEDULES = "_schedules"  # schedule name -> Schedule, for its oncall: targets


def read_options(v: Validator, data: PosDict, path: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if data.get("to") is None:
        v.error(data, None, f"{path}.to", "missing required key 'to'")
    else:
        options["to"] = _targets(v, data, f"{path}.to")
    if "on_resolve" in data:
        options["on_resolve"] = v.boolean(data, "on_resolve", f"{path}.on_resolve", data["on_resolve"])
    if "sms_type" in data:
        if data["sms_type"] not in SMS_TYPES:
            v.error(data, "sms_type", f"{path}.sms_type", f"one of {', '.join(SMS_TYPES)}")
        options["sms_type"] = data["sms_type"]
    if "sender_id" in data:
        sender = data["sender_id"]
        if not isinstance(sender, str) or not SENDER_ID_RE.match(sender):
            v.error(data, "sender_id", f"{path}.sender_id", "1 to 11 letters and digits, at least one letter")
        options["sender_id"] = sender
    if "origination_number" in data:
        number = data["origination_number"]
        if not isinstance(number, str) or not E164_RE.match(number):
            v.error(data, "origination_number", f"{path}.origination_number", "not an E.164 phone number")
        options["origination_number"] = number
    if "region" in data:
        options["region"] = v.string(data, "region", f"{path}.region", data["region"])
    return options


def _targets(v: Validator, data: PosDict, path: str) -> tuple[str, ...]:
    raw = data["to"]
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        v.error(data, "to", path, "expected a list of E.164 numbers, person:NAME or oncall:SCHEDULE")
        return ()
    out = []
    for i, item in enumerate(items):
        where = where_item(items, i, data, "to")
        if isinstance(item, str) and item.startswith(PERSON_PREFIX):
            v.refer(*where, f"{path}[{i}]", "person", item[len(PERSON_PREFIX) :])
        elif isinstance(item, str) and item.startswith(ONCALL_PREFIX):
            v.refer(*where, f"{path}[{i}]", "schedule", item[len(ONCALL_PREFIX) :])
        elif not isinstance(item, str) or not E164_RE.match(item):
            shown = repr(item) if isinstance(item, str) else kind(item)
            hint = QUOTE_HINT if isinstance(item, int) and not isinstance(item, bool) else ""
            v.error(
                *where,
                f"{path}[{i}]",
                f"expected an E.164 number (+15555550100), person:NAME or oncall:SCHEDULE, got {shown}{hint}",
            )
            continue
        out.append(item)
    return tuple(dict.fromkeys(out))


def link_phones(
    v: Validator,
    root: PosDict,
    channels: Mapping[str, Channel],
    people: Mapping[str, Person],
    schedules: Mapping[str, Schedule],
) -> dict[str, Channel]:
    """``channels`` with each sms channel given the phones of the people it can reach; an error
    for every person named (directly or as a schedule member) who has no ``phone``."""
    out = dict(channels)
    section = root.get("channels") if isinstance(root.get("channels"), dict) else {}
    for name, channel in channels.items():
        if channel.type != "sms":
            continue
        data = section.get(name) if isinstance(section, dict) else None
        items = data.get("to") if isinstance(data, dict) else None
        phones: dict[str, str] = {}
        linked: dict[str, Schedule] = {}
        for i, target in enumerate(channel.get("to") or ()):
            index = items.index(target) if isinstance(items, list) and target in items else i
            where = where_item(items, index, data, "to") if isinstance(data, dict) else (None, None)
            path = f"channels.{name}.to[{index}]"
            if target.startswith(PERSON_PREFIX):
                who = [target[len(PERSON_PREFIX) :]]
            elif target.startswith(ONCALL_PREFIX):
                schedule = schedules.get(target[len(ONCALL_PREFIX) :])
                if schedule is None:
                    continue  # reported as an undefined name
                linked[schedule.name] = schedule
                who = list(dict.fromkeys([*schedule.members, *(o.person for o in schedule.overrides)]))
            else:
                continue
            for person_name in who:
                person = people.get(person_name)
                if person is None:
                    continue  # reported as an undefined name
                if not person.phone:
                    v.error(*where, path, f"{target}: person {person_name!r} has no phone under people")
                    continue
                phones[person_name] = person.phone
        options = {**channel.options, PHONES: phones, SCHEDULES: linked}
        out[name] = dataclasses.replace(channel, options=options)
    return out


RULES = ChannelRules(
    type="sms",
    keys=("to", "on_resolve", "sms_type", "sender_id", "origination_number", "region"),
    read=read_options,
)
