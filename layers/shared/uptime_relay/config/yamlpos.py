"""YAML loading that remembers where every key and item came from (for error messages)."""

from __future__ import annotations

from typing import Any

import yaml


class PosDict(dict):
    """A mapping that knows the line of each of its keys and of itself (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class PosList(list):
    """A sequence that knows the line of each of its items and of itself (1-based)."""

    line: int = 0
    item_lines: list[int]


def as_posdict(value: dict) -> PosDict:
    """A mapping built in code (not read from YAML): it knows no lines."""
    out = PosDict(value)
    out.key_lines = {}
    return out


def as_poslist(value: list) -> PosList:
    """A sequence built in code (not read from YAML): it knows no lines."""
    out = PosList(value)
    out.item_lines = []
    return out


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> PosDict:
    loader.flatten_mapping(node)
    result = PosDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    duplicates: list[tuple[str, int]] = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "mapping keys must be plain scalars", key_node.start_mark
            )
        key = str(key) if not isinstance(key, str) else key
        if key in result:
            duplicates.append((key, key_node.start_mark.line + 1))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    if duplicates:
        result.duplicate_keys = duplicates  # type: ignore[attr-defined]
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> PosList:
    result = PosList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load(text: str) -> Any:
    """Parse YAML text into plain dicts/lists that carry their line numbers."""
    return yaml.load(text, Loader=_Loader)


def line_of(container: Any, key: str | int | None = None) -> int:
    """Best-known line for ``container[key]`` (or the container itself)."""
    if isinstance(container, PosDict):
        if key is not None and str(key) in container.key_lines:
            return container.key_lines[str(key)]
        return container.line
    if isinstance(container, PosList):
        if isinstance(key, int) and 0 <= key < len(container.item_lines):
            return container.item_lines[key]
        return container.line
    return 0
