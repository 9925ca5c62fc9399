"""The ``people``, ``schedules`` and ``maintenance`` sections: who is on call, and when not to page."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from ..domain.silence import CronError, parse_cron
from .model import Maintenance, Override, Person, Schedule
from .validator import Validator, kind
from .yamlpos import PosDict, PosList

SCHEDULE_KEYS = ("timezone", "rotation", "handoff", "handoff_day", "start", "members", "overrides")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_HANDOFF = time(9, 0)
DEFAULT_START = date(2026, 1, 5)  # a Monday
E164_RE = re.compile(r"^\+[1-9][0-9]{1,14}$")  # ITU-T E.164, as SNS Publish takes PhoneNumber
# YAML reads an unquoted +15555550100 as the integer 15555550100
QUOTE_HINT = ' (quote it, with its +: "+15555550100"; YAML reads an unquoted number as an integer)'
CRON_FIELD_RE = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")


def read_person(v: Validator, people: PosDict, name: str, value: Any) -> Person | None:
    path = f"people.{name}"
    data = v.mapping(people, name, path, value)
    if data is None:
        return None
    v.keys(data, path, ("email", "slack", "name", "phone"))
    if not data:
        v.error(people, name, path, "a person needs at least one contact: email, slack or phone")
    email = data.get("email")
    if email is not None and (not isinstance(email, str) or "@" not in email):
        v.error(data, "email", f"{path}.email", f"not an email address: {email!r}")
        email = None
    slack = v.string(data, "slack", f"{path}.slack", data["slack"]) if "slack" in data else None
    full = v.string(data, "name", f"{path}.name", data["name"]) if "name" in data else None
    phone = _phone(v, data, f"{path}.phone") if "phone" in data else None
    return Person(name=name, email=email, slack=slack, full_name=full, phone=phone)


def _phone(v: Validator, data: PosDict, path: str) -> str | None:
    phone = data["phone"]
    if not isinstance(phone, str) or not E164_RE.match(phone):
        hint = QUOTE_HINT if isinstance(phone, int) and not isinstance(phone, bool) else ""
        v.error(data, "phone", path, f"not an E.164 phone number (+ and up to 15 digits): {phone!r}{hint}")
        return None
    return phone


# --------------------------------------------------------------------------------------- schedules
def read_schedule(v: Validator, schedules: PosDict, name: str, value: Any) -> Schedule | None:
    path = f"schedules.{name}"
    data = v.mapping(schedules, name, path, value)
    if data is None:
        return None
    v.keys(data, path, SCHEDULE_KEYS, required=("members",))
    zone = v.zone(data, "timezone", f"{path}.timezone", data["timezone"]) if "timezone" in data else "UTC"
    rotation = _rotation(v, data, path)
    handoff = _handoff(v, data, path)
    handoff_day = _handoff_day(v, data, path)
    start = _start(v, data, path)
    members = _members(v, data, path)
    overrides = _overrides(v, data, path, zone) if "overrides" in data else ()
    return Schedule(
        name=name,
        timezone=zone or "UTC",
        rotation=rotation,
        handoff=handoff,
        handoff_day=handoff_day,
        start=start,
        members=members,
        overrides=overrides,
    )


def _rotation(v: Validator, data: PosDict, path: str) -> str:
    rotation = data.get("rotation", "weekly")
    if rotation not in ("daily", "weekly"):
        v.error(data, "rotation", f"{path}.rotation", f"expected daily or weekly, got {kind(rotation)}")
        return "weekly"
    return rotation


def _handoff(v: Validator, data: PosDict, path: str) -> time:
    raw = data.get("handoff", "09:00")
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < 24 * 60:
        return time(raw // 60, raw % 60)  # YAML 1.1 reads 09:00 as sexagesimal 540
    if isinstance(raw, str) and re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", raw.strip()):
        hh, mm = raw.strip().split(":")
        return time(int(hh), int(mm))
    v.error(data, "handoff", f"{path}.handoff", f'expected a local time like "09:00", got {kind(raw)}')
    return DEFAULT_HANDOFF


def _handoff_day(v: Validator, data: PosDict, path: str) -> int:
    """0 = Monday."""
    day = str(data.get("handoff_day", "monday")).lower()
    if day not in WEEKDAYS:
        v.error(data, "handoff_day", f"{path}.handoff_day", f"expected a weekday name, got {day!r}")
        day = "monday"
    return WEEKDAYS.index(day)


def _start(v: Validator, data: PosDict, path: str) -> date:
    raw = data.get("start", DEFAULT_START)
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        v.error(data, "start", f"{path}.start", f"expected a date like 2026-01-05, got {kind(raw)}")
        return DEFAULT_START


def _members(v: Validator, data: PosDict, path: str) -> tuple[str, ...]:
    members = v.sequence(data, "members", f"{path}.members", data["members"]) if "members" in data else None
    names: list[str] = []
    for i, member in enumerate(members or []):
        if not isinstance(member, str):
            v.error(members, i, f"{path}.members[{i}]", f"expected a person's name, got {kind(member)}")
        else:
            names.append(member)
            v.refer(members, i, f"{path}.members[{i}]", "person", member)
    if members is not None and not members:
        v.error(data, "members", f"{path}.members", "needs at least one member")
    return tuple(names)


def _overrides(v: Validator, data: PosDict, path: str, zone: str | None) -> tuple[Override, ...]:
    items = v.sequence(data, "overrides", f"{path}.overrides", data["overrides"]) or []
    overrides = (_override(v, items, i, f"{path}.overrides[{i}]", raw, zone) for i, raw in enumerate(items))
    return tuple(o for o in overrides if o is not None)


def _override(
    v: Validator, items: PosList, index: int, path: str, raw: Any, zone: str | None
) -> Override | None:
    """Someone else on call from ``start`` to ``end`` (local times in the schedule's zone unless given)."""
    o = v.mapping(items, index, path, raw)
    if o is None:
        return None
    v.keys(o, path, ("person", "start", "end"), required=("person", "start", "end"))
    if not all(k in o for k in ("person", "start", "end")):
        return None
    person = v.string(o, "person", f"{path}.person", o["person"])
    if person:
        v.refer(o, "person", f"{path}.person", "person", person)
    start = _aware(v, o, "start", f"{path}.start", o["start"], zone)
    end = _aware(v, o, "end", f"{path}.end", o["end"], zone)
    if not (person and start and end):
        return None
    if end <= start:
        v.error(o, "end", f"{path}.end", "must be after start")
        return None
    return Override(person, start, end)


def _aware(v: Validator, parent: Any, key: str, path: str, value: Any, zone: str | None) -> datetime | None:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time(0, 0))
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            v.error(parent, key, path, f"expected a date-time like 2026-11-24T09:00, got {value!r}")
            return None
    else:
        v.error(parent, key, path, f"expected a date-time like 2026-11-24T09:00, got {kind(value)}")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone or "UTC"))
    return parsed


# --------------------------------------------------------------------------------------- maintenance
def read_maintenance(v: Validator, items: PosList, index: int, value: Any) -> Maintenance | None:
    path = f"maintenance[{index}]"
    data = v.mapping(items, index, path, value)
    if data is None:
        return None
    v.keys(
        data, path, ("name", "match", "cron", "duration", "timezone"), required=("name", "cron", "duration")
    )
    name = v.string(data, "name", f"{path}.name", data["name"]) if "name" in data else None
    match = v.labels(data, "match", f"{path}.match", data["match"]) if "match" in data else {}
    cron = read_cron(v, data, f"{path}.cron") if "cron" in data else None
    duration = (
        v.duration(data, "duration", f"{path}.duration", data["duration"], minimum=60)
        if "duration" in data
        else None
    )
    zone = v.zone(data, "timezone", f"{path}.timezone", data["timezone"]) if "timezone" in data else "UTC"
    if name and cron and duration and zone:
        return Maintenance(name=name, match=match, cron=cron, duration_s=duration, timezone=zone)
    return None


def read_cron(v: Validator, data: PosDict, path: str) -> str | None:
    """Five fields, each of which the matcher that runs them (``domain.silence``) can read."""
    cron = v.string(data, "cron", path, data["cron"])
    if cron is None:
        return None
    fields = cron.split()
    if len(fields) != 5 or not all(CRON_FIELD_RE.match(f) for f in fields):
        v.error(
            data,
            "cron",
            path,
            f"expected 5 cron fields (minute hour day-of-month month day-of-week), got {cron!r}",
        )
        return None
    try:
        parse_cron(cron)
    except CronError as exc:
        v.error(data, "cron", path, str(exc))
        return None
    return cron
