"""YAML loading that remembers where every key and item came from (for error messages), and that
refuses what could hang or exhaust the process reading it, or crash it with a traceback.

``load`` is the only way the configuration is read. Besides YAML syntax, it refuses (each as a
:class:`LoadError` with the line and key path of the culprit):

- a text over ``MAX_FILE_BYTES``, a document of more than ``MAX_NODES`` values, nesting deeper
  than ``MAX_DEPTH``, a value longer than ``MAX_SCALAR_CHARS``, a number written with more than
  ``MAX_NUMBER_CHARS`` characters (Python refuses to convert very long ones anyway);
- more than ``MAX_ALIASES`` alias uses (``*name``), an alias inside its own anchor, and any node
  that aliases expand to more than ``MAX_EXPANDED_VALUES`` values or ``MAX_EXPANDED_CHARS``
  characters ("billion laughs": nine aliases of nine aliases of … cost nothing to parse, but
  everything that walks the result — the validator, ``json.dumps`` of a body, an error message —
  pays for the expansion);
- any value its tag's constructor cannot build (``!!int abc``, ``!!float x``, ``2024-13-45``).
  The value itself is not quoted back: it may be a secret.

The limits are far above what a configuration needs; each is checked while composing (before
anything is built) or in one pass over the composed nodes, so a refusal costs at most the time to
read the text.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_FILE_BYTES = 1_048_576
MAX_NODES = 50_000
MAX_DEPTH = 64
MAX_ALIASES = 5_000
MAX_SCALAR_CHARS = 65_536
MAX_NUMBER_CHARS = 64
MAX_EXPANDED_VALUES = 200_000
MAX_EXPANDED_CHARS = 4 * MAX_FILE_BYTES
TOO_LARGE = f"file is larger than {MAX_FILE_BYTES} bytes"

_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
# what a constructor failure says it could not read, by tag (others are named by their tag)
_TAG_NAMES = {
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a float",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:timestamp": "a timestamp",
}


class LoadError(Exception):
    """The text was refused: ``line`` (1-based; 0 when unknown), ``path`` (key path; "" for the
    top level) and ``reason``."""

    def __init__(self, line: int, path: KeyPath | None, reason: str):
        super().__init__(reason)
        self.line = line
        self.path = "" if path is None else str(path)
        self.reason = reason


class PosDict(dict):
    """A mapping that knows the line of each of its keys and of itself (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class PosList(list):
    """A sequence that knows the line of each of its items and of itself (1-based)."""

    line: int = 0
    item_lines: list[int]
    item_columns: list[int]  # where each item's text starts (1-based, inside its quotes)


def as_posdict(value: dict) -> PosDict:
    """A mapping built in code (not read from YAML): it knows no lines."""
    out = PosDict(value)
    out.key_lines = {}
    return out


def as_poslist(value: list) -> PosList:
    """A sequence built in code (not read from YAML): it knows no lines."""
    out = PosList(value)
    out.item_lines = []
    out.item_columns = []
    return out


def join(path: str, key: str | int) -> str:
    """The key path of ``key`` under ``path``: ``checks[0]``, ``channels.ops.to``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


class KeyPath:
    """Where a node is first written, as a chain of keys (shared with its parent's, so a long key
    above many values is stored once); ``str()`` is the key path, long keys cut."""

    __slots__ = ("key", "parent")

    def __init__(self, parent: KeyPath | None, key: str | int):
        self.parent = parent
        self.key = key

    def __str__(self) -> str:
        keys: list[str | int] = []
        at: KeyPath | None = self
        while at is not None:
            keys.append(at.key if isinstance(at.key, int) or len(at.key) <= 60 else at.key[:59] + "…")
            at = at.parent
        path = ""
        for key in reversed(keys):
            path = join(path, key)
        return path


class _Loader(yaml.SafeLoader):
    """The safe loader, bounded while it composes, and naming the node a constructor failed on.

    Each composed node gets a ``path`` attribute: its key path where it is first written."""

    def __init__(self, text: str):
        super().__init__(text)
        self._paths: list[KeyPath | None] = []  # the key paths of the nodes being composed, outermost first
        self._nodes = 0
        self._aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        path = self._paths[-1] if self._paths else None
        if isinstance(index, yaml.ScalarNode):  # a mapping value: index is its key
            path = KeyPath(path, index.value)
        elif isinstance(index, int):  # a sequence item
            path = KeyPath(path, index)
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise LoadError(mark.line + 1, path, f"more than {MAX_ALIASES} aliases (*name) in the file")
            return super().compose_node(parent, index)
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise LoadError(mark.line + 1, path, f"the file holds more than {MAX_NODES} values")
        if len(self._paths) >= MAX_DEPTH:
            raise LoadError(mark.line + 1, path, f"nested more than {MAX_DEPTH} levels deep")
        self._paths.append(path)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._paths.pop()
        node.path = path
        if isinstance(node, yaml.ScalarNode):
            if len(node.value) > MAX_SCALAR_CHARS:
                raise LoadError(mark.line + 1, path, f"a value of more than {MAX_SCALAR_CHARS} characters")
            if node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARS:
                raise LoadError(mark.line + 1, path, f"a number of more than {MAX_NUMBER_CHARS} characters")
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
            # the constructor's own message quotes the value, which may be a secret
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            what = _TAG_NAMES.get(node.tag, tag)
            raise LoadError(
                node.start_mark.line + 1, node.path, f"cannot read this value as {what}"
            ) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or node.start_mark
            raise LoadError(mark.line + 1, node.path, f"not valid YAML: {exc.problem}") from None


def _measure(node: yaml.Node, sizes: dict[int, tuple[int, int]], open_: set[int]) -> tuple[int, int]:
    """(values, characters) of ``node`` with every alias written out; refuses a node over the
    bounds, and an alias inside its own anchor. Each node is measured once (``sizes``), in
    document order, so an alias meets its anchor already measured, or still open (``open_``)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    line = node.start_mark.line + 1
    if key in open_:
        raise LoadError(line, node.path, "an alias refers to the anchor it is part of (endless)")
    if isinstance(node, yaml.ScalarNode):
        sizes[key] = (1, len(node.value))
        return sizes[key]
    open_.add(key)
    children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
    values, chars = 1, 0
    for child in children:
        child_values, child_chars = _measure(child, sizes, open_)
        values += child_values
        chars += child_chars
    open_.discard(key)
    if values > MAX_EXPANDED_VALUES:
        raise LoadError(line, node.path, f"aliases expand this to more than {MAX_EXPANDED_VALUES} values")
    if chars > MAX_EXPANDED_CHARS:
        raise LoadError(line, node.path, f"aliases expand this to more than {MAX_EXPANDED_CHARS} characters")
    sizes[key] = (values, chars)
    return sizes[key]


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
    result.item_columns = [
        child.start_mark.column + 1 + (1 if getattr(child, "style", None) in ('"', "'") else 0)
        for child in node.value
    ]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load(text: str) -> Any:
    """Parse YAML text into plain dicts/lists that carry their line numbers. Raises LoadError
    (syntax errors included, without a key path) for anything it refuses."""
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise LoadError(0, None, TOO_LARGE)
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        _measure(node, {}, set())
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, text) from None


def _syntax_error(exc: yaml.YAMLError, text: str) -> LoadError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        line = mark.line + 1
    elif isinstance(exc, yaml.reader.ReaderError):  # an unprintable character: known by position
        line = text.count("\n", 0, exc.position) + 1
    else:
        line = 0
    problem = getattr(exc, "problem", None) or str(exc)
    return LoadError(line, None, f"not valid YAML: {problem}")


def column_of(container: Any, index: int) -> int:
    """Where item ``index`` of a YAML list starts on its line (1-based; 0 when unknown)."""
    columns = getattr(container, "item_columns", [])
    return columns[index] if isinstance(container, PosList) and 0 <= index < len(columns) else 0


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
