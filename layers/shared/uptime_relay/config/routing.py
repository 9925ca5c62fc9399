"""The ``routes`` and ``escalation_policies`` sections: who is notified of what, and when."""

from __future__ import annotations

from typing import Any

from .model import (
    GROUP_BY_ALL,
    GROUP_INTERVAL_DEFAULT_S,
    GROUP_WAIT_DEFAULT_S,
    INSUFFICIENT_DATA_MODES,
    LABEL_KEY_RE,
    REPEAT_INTERVAL_DEFAULT_S,
    EscalationPolicy,
    EscalationStep,
    Grouping,
    Route,
)
from .validator import Validator, kind, where_item
from .yamlpos import PosDict, PosList, line_of

GROUPING_KEYS = ("group_by", "group_wait", "group_interval", "repeat_interval")
ROUTE_KEYS = ("match", "notify", "escalation", "continue", "insufficient_data", *GROUPING_KEYS)
MIN_GROUP_INTERVAL_S = 60.0  # the escalation sweep runs once a minute: nothing finer can be kept


def notify_list(
    v: Validator, parent: Any, key: str, path: str, value: Any, *, people: bool = False
) -> tuple[str, ...]:
    """Channel names (and, in escalation steps, ``oncall:SCHEDULE`` / ``person:NAME``)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        v.error(parent, key, path, "expected a list of channel names")
        return ()
    out = []
    for i, item in enumerate(items):
        where = where_item(items, i, parent, key)
        if not isinstance(item, str) or not item:
            v.error(*where, f"{path}[{i}]", f"expected a channel name, got {kind(item)}")
            continue
        out.append(item)
        if people and item.startswith("oncall:"):
            v.refer(*where, f"{path}[{i}]", "schedule", item[len("oncall:") :])
        elif people and item.startswith("person:"):
            v.refer(*where, f"{path}[{i}]", "person", item[len("person:") :])
        else:
            v.refer(*where, f"{path}[{i}]", "channel", item)
    return tuple(out)


def read_route(v: Validator, routes: PosList, index: int, value: Any) -> Route | None:
    path = f"routes[{index}]"
    data = v.mapping(routes, index, path, value)
    if data is None:
        return None
    v.keys(data, path, ROUTE_KEYS)
    match = v.labels(data, "match", f"{path}.match", data["match"]) if "match" in data else {}
    notify = notify_list(v, data, "notify", f"{path}.notify", data["notify"]) if "notify" in data else ()
    if "notify" not in data and "escalation" not in data:
        v.error(data, None, path, "a route needs `notify`, `escalation` or both")
    escalation = None
    if "escalation" in data:
        escalation = v.string(data, "escalation", f"{path}.escalation", data["escalation"])
        if escalation:
            v.refer(data, "escalation", f"{path}.escalation", "escalation policy", escalation)
    cont = v.boolean(data, "continue", f"{path}.continue", data["continue"]) if "continue" in data else False
    mode = data.get("insufficient_data", "warn")
    if mode not in INSUFFICIENT_DATA_MODES:
        v.error(
            data,
            "insufficient_data",
            f"{path}.insufficient_data",
            f"expected one of {', '.join(INSUFFICIENT_DATA_MODES)}, got {kind(mode)}",
        )
        mode = "warn"
    return Route(
        match=match,
        notify=notify,
        escalation=escalation,
        continue_=bool(cont),
        insufficient_data=mode,
        line=line_of(routes, index),
        grouping=read_grouping(v, data, path),
    )


def read_grouping(v: Validator, data: PosDict, path: str) -> Grouping | None:
    """``group_by`` (label names, or ``['...']`` for every label) and its three timers, with
    Alertmanager's defaults. A timer without ``group_by`` is an error that says to add it."""
    if "group_by" not in data:
        for key in GROUPING_KEYS[1:]:
            if key in data:
                v.error(
                    data,
                    key,
                    f"{path}.{key}",
                    f"`{key}` needs `group_by` on the same route: add e.g. group_by: [team], "
                    "or group_by: ['...'] to group by every label",
                )
        return None
    raw = data["group_by"]
    items = v.sequence(data, "group_by", f"{path}.group_by", raw)
    if items is None:
        return None
    by: list[str] = []
    for i, item in enumerate(items):
        where = where_item(items, i, data, "group_by")
        if not isinstance(item, str) or not (item == GROUP_BY_ALL or LABEL_KEY_RE.match(item)):
            v.error(*where, f"{path}.group_by[{i}]", f"expected a label name or '...', got {kind(item)}")
            continue
        by.append(item)
    if not items:
        v.error(data, "group_by", f"{path}.group_by", "expected at least one label name (or '...')")
    if GROUP_BY_ALL in by and len(by) > 1:
        v.error(data, "group_by", f"{path}.group_by", "'...' (every label) cannot be combined with names")
    timers = {
        "group_wait": (GROUP_WAIT_DEFAULT_S, 0.0),
        "group_interval": (GROUP_INTERVAL_DEFAULT_S, MIN_GROUP_INTERVAL_S),
        "repeat_interval": (REPEAT_INTERVAL_DEFAULT_S, MIN_GROUP_INTERVAL_S),
    }
    values: dict[str, float] = {}
    for key, (default, minimum) in timers.items():
        values[key] = default
        if key in data:
            seconds = v.duration(data, key, f"{path}.{key}", data[key], minimum=minimum)
            values[key] = default if seconds is None else seconds
    return Grouping(
        by=tuple(dict.fromkeys(by)),
        wait_s=values["group_wait"],
        interval_s=values["group_interval"],
        repeat_s=values["repeat_interval"],
    )


def read_policy(v: Validator, policies: PosDict, name: str, value: Any) -> EscalationPolicy | None:
    path = f"escalation_policies.{name}"
    data = v.mapping(policies, name, path, value)
    if data is None:
        return None
    v.keys(data, path, ("steps", "repeat"), required=("steps",))
    steps_raw = v.sequence(data, "steps", f"{path}.steps", data.get("steps", [])) if "steps" in data else None
    steps: list[EscalationStep] = []
    last_after = -1.0
    for i, raw in enumerate(steps_raw or []):
        spath = f"{path}.steps[{i}]"
        step = v.mapping(steps_raw, i, spath, raw)
        if step is None:
            continue
        v.keys(step, spath, ("after", "notify"), required=("after", "notify"))
        after = v.duration(step, "after", f"{spath}.after", step["after"]) if "after" in step else None
        notify = (
            notify_list(v, step, "notify", f"{spath}.notify", step["notify"], people=True)
            if "notify" in step
            else ()
        )
        if after is not None:
            if after < last_after:
                v.error(step, "after", f"{spath}.after", "steps must be in order of their `after` delay")
            last_after = after
            steps.append(EscalationStep(after, notify))
    if steps_raw is not None and not steps_raw:
        v.error(data, "steps", f"{path}.steps", "needs at least one step")
    repeat = v.integer(data, "repeat", f"{path}.repeat", data["repeat"], 0, 100) if "repeat" in data else 0
    return EscalationPolicy(name=name, steps=tuple(steps), repeat=repeat or 0)
