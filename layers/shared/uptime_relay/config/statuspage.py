"""The ``status_page`` section: the public page's title, description and groups of checks."""

from __future__ import annotations

from typing import Any

from .model import StatusGroup, StatusPage
from .validator import Validator, join, where_item
from .yamlpos import PosDict

STATUS_PAGE_KEYS = ("title", "description", "groups")
# the page's cached snapshot is one DynamoDB item (at most 400 KB; ~0.8 KB per check) and one
# GetMetricData call reads 250 checks (500 metrics)
MAX_CHECKS = 250
GROUP_KEYS = ("name", "checks")


def read_status_page(v: Validator, root: PosDict) -> StatusPage | None:
    """None without the key (no page). Every check a group names must be a configured check."""
    if root.get("status_page") is None:
        return None
    data = v.mapping(root, "status_page", "status_page", root["status_page"])
    if data is None:
        return None
    v.keys(data, "status_page", STATUS_PAGE_KEYS, required=("title", "groups"))
    title = v.string(data, "title", "status_page.title", data["title"]) if "title" in data else None
    description = None
    if data.get("description") is not None:
        description = v.string(data, "description", "status_page.description", data["description"])
    groups: list[StatusGroup] = []
    items = v.sequence(data, "groups", "status_page.groups", data["groups"]) if "groups" in data else None
    if items is not None and not items:
        v.error(data, "groups", "status_page.groups", "must list at least one group")
    for index, item in enumerate(items or []):
        group = _group(v, items, index, item, root)
        if group is not None:
            groups.append(group)
    if title is None or items is None or len(groups) != len(items):
        return None
    page = StatusPage(title=title, groups=tuple(groups), description=description)
    if len(page.check_names()) > MAX_CHECKS:
        v.error(
            data,
            "groups",
            "status_page.groups",
            f"lists {len(page.check_names())} checks; a status page shows at most {MAX_CHECKS}",
        )
        return None
    return page


def _group(v: Validator, items: Any, index: int, item: Any, root: PosDict) -> StatusGroup | None:
    path = f"status_page.groups[{index}]"
    data = v.mapping(items, index, path, item)
    if data is None:
        return None
    v.keys(data, path, GROUP_KEYS, required=("name", "checks"))
    name = v.string(data, "name", join(path, "name"), data["name"]) if "name" in data else None
    listed = v.sequence(data, "checks", join(path, "checks"), data["checks"]) if "checks" in data else None
    if listed is not None and not listed:
        v.error(data, "checks", join(path, "checks"), "must list at least one check")
    known = _check_names(root)
    checks: list[str] = []
    for i, check in enumerate(listed or []):
        where = where_item(listed, i, data, "checks")
        if not isinstance(check, str):
            v.error(*where, join(join(path, "checks"), i), "expected a check name")
        elif check not in known:
            v.error(*where, join(join(path, "checks"), i), f"unknown check {check!r}: not under `checks`")
        else:
            checks.append(check)
    if name is None or listed is None or len(checks) != len(listed) or not checks:
        return None
    return StatusGroup(name=name, checks=tuple(checks))


def _check_names(root: PosDict) -> set[str]:
    checks = root.get("checks")
    if not isinstance(checks, list):
        return set()
    return {c["name"] for c in checks if isinstance(c, dict) and isinstance(c.get("name"), str)}
