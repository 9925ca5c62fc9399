"""Noise control in the config: top-level ``inhibit_rules``, and the checks' ``depends_on`` and
``flapping`` keys (issue 14). Each reader records every problem on the Validator, as the other
sections do; ``check_dependencies`` judges ``depends_on`` once every check is read (names that are
not checks, a check depending on itself, cycles)."""

from __future__ import annotations

import difflib
from typing import Any

from .model import CHECK_NAME_RE, Flapping, InhibitRule
from .validator import Validator, join, kind, where_item
from .yamlpos import PosDict

INHIBIT_RULE_KEYS = ("source", "target", "equal")
FLAPPING_KEYS = ("window", "threshold")
FLAPPING_WINDOW_S = (60.0, 7 * 86400.0)  # a minute (the alarm's resolution) to a week
FLAPPING_THRESHOLD = (2, 100)


def read_inhibit_rule(v: Validator, rules: Any, index: int, value: Any) -> InhibitRule | None:
    """``{source: {labels}, target: {labels}, equal: [label names]}``: source and target must each
    name at least one label (an empty one would match every alert and mute everything)."""
    path = f"inhibit_rules[{index}]"
    data = v.mapping(rules, index, path, value)
    if data is None:
        return None
    v.keys(data, path, INHIBIT_RULE_KEYS, required=("source", "target"))
    sides: dict[str, dict[str, str]] = {}
    for side in ("source", "target"):
        if side not in data:
            continue
        labels = v.labels(data, side, join(path, side), data[side])
        if isinstance(data[side], dict) and not data[side]:
            v.error(
                data, side, join(path, side), "must name at least one label (empty would match every alert)"
            )
        elif labels:
            sides[side] = labels
    equal = _label_names(v, data, join(path, "equal")) if "equal" in data else ()
    if len(sides) != 2 or equal is None:
        return None
    return InhibitRule(sides["source"], sides["target"], equal, origin=path, line=data.line)


def _label_names(v: Validator, data: PosDict, path: str) -> tuple[str, ...] | None:
    items = v.sequence(data, "equal", path, data["equal"])
    if items is None:
        return None
    names: list[str] = []
    for index, item in enumerate(items):
        if isinstance(item, str) and item.strip():
            names.append(item)
        else:
            v.error(
                *where_item(items, index, data, "equal"),
                join(path, index),
                f"expected a label name, got {kind(item)}",
            )
    return tuple(names) if len(names) == len(items) else None


def read_noise(v: Validator, data: PosDict, path: str) -> dict[str, Any]:
    """A check's ``depends_on`` (check names; judged later by ``check_dependencies``) and
    ``flapping`` (``{window: 1h, threshold: 4}``)."""
    fields: dict[str, Any] = {}
    if "depends_on" in data:
        fields["depends_on"] = _depends_on(v, data, join(path, "depends_on"))
    if "flapping" in data:
        fields["flapping"] = _flapping(v, data, join(path, "flapping"))
    return fields


def _depends_on(v: Validator, data: PosDict, path: str) -> tuple[str, ...] | None:
    value = data["depends_on"]
    items = value if isinstance(value, list) else [value]
    names: list[str] = []
    for index, item in enumerate(items):
        where = where_item(value, index, data, "depends_on")
        p = join(path, index) if isinstance(value, list) else path
        if isinstance(item, str) and CHECK_NAME_RE.match(item):
            if item not in names:
                names.append(item)
        else:
            v.error(*where, p, f"expected a check name, got {kind(item)}")
    return tuple(names)


def _flapping(v: Validator, data: PosDict, path: str) -> Flapping | None:
    flapping = v.mapping(data, "flapping", path, data["flapping"])
    if flapping is None:
        return None
    v.keys(flapping, path, FLAPPING_KEYS, required=FLAPPING_KEYS)
    if not all(key in flapping for key in FLAPPING_KEYS):
        return None
    window = v.duration(flapping, "window", join(path, "window"), flapping["window"])
    low, high = FLAPPING_WINDOW_S
    if window is not None and not low <= window <= high:
        v.error(
            flapping, "window", join(path, "window"), f"must be between 1m and 7d, got {flapping['window']!r}"
        )
        window = None
    threshold = v.integer(
        flapping, "threshold", join(path, "threshold"), flapping["threshold"], *FLAPPING_THRESHOLD
    )
    if window is None or threshold is None:
        return None
    return Flapping(window, threshold)


def check_dependencies(v: Validator, root: PosDict) -> None:
    """Every ``depends_on`` name is a check, not the check itself, and no chain of them loops back
    (a cycle would leave every check of it inhibited by another while all are down). Judged on
    the names written in the file."""
    checks = root.get("checks")
    items = [c for c in checks if isinstance(c, dict)] if isinstance(checks, list) else []
    defined = {c["name"] for c in items if isinstance(c.get("name"), str)}
    graph: dict[str, list[str]] = {}
    where: dict[str, tuple[Any, int]] = {}
    for index, check in enumerate(checks if isinstance(checks, list) else []):
        if not isinstance(check, dict) or not isinstance(check.get("name"), str):
            continue
        deps = check.get("depends_on")
        names = deps if isinstance(deps, list) else [deps] if deps is not None else []
        path = f"checks[{index}].depends_on"
        good: list[str] = []
        for i, dep in enumerate(names):
            if not isinstance(dep, str):
                continue
            spot = where_item(deps, i, check, "depends_on")
            p = join(path, i) if isinstance(deps, list) else path
            if dep == check["name"]:
                v.error(*spot, p, f"check {dep!r} cannot depend on itself")
            elif dep not in defined:
                v.error(*spot, p, f"{dep!r} names a check that is not defined" + _hint(dep, defined))
            else:
                good.append(dep)
        graph[check["name"]] = good
        where[check["name"]] = (check, index)
    for cycle in _cycles(graph):
        check, index = where[cycle[0]]
        v.error(
            check,
            "depends_on",
            f"checks[{index}].depends_on",
            "depends_on cycle: " + " -> ".join([*cycle, cycle[0]]) + " (each would inhibit the other)",
        )


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each cycle once, starting at its first check in file order (iterative depth-first search)."""
    order = {name: i for i, name in enumerate(graph)}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    found: list[list[str]] = []
    for root in graph:
        if state.get(root):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            deps = graph.get(node, [])
            if i < len(deps):
                stack.append((node, i + 1))
                nxt = deps[i]
                if state.get(nxt) == 1:
                    cycle = path[path.index(nxt) :]
                    start = min(range(len(cycle)), key=lambda k: order[cycle[k]])
                    found.append(cycle[start:] + cycle[:start])
                elif not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    unique: dict[tuple[str, ...], list[str]] = {}
    for cycle in found:
        unique.setdefault(tuple(cycle), cycle)
    return list(unique.values())


def _hint(name: str, options: set[str]) -> str:
    match = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""
