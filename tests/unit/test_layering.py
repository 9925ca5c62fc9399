"""The shape of the runtime package, read from the source: what `layers/` ships is what the Lambda
functions import, its imports point one way, and nothing in it reaches for the tools package.

The graph is built statically (every `import` statement, wherever it stands, including those under
`if TYPE_CHECKING:`), so a dependency cannot hide inside a function or behind a type-checking guard.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "shared"
RUNTIME = "uptime_relay"
TOOLS = "uptime_relay_tools"
# `python -m uptime_relay` runs the command line from the tools package; no function imports it.
ENTRY_SHIM = f"{RUNTIME}.__main__"


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def runtime_modules() -> dict[str, Path]:
    return {_module_name(p, LAYER): p for p in sorted((LAYER / RUNTIME).rglob("*.py"))}


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterable[tuple[str, ast.stmt]]:
    """Every dotted name an import statement in the tree may load, with the statement."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, node.module] if node.module else package)
            else:
                base = node.module or ""
            yield base, node
            for alias in node.names:
                yield f"{base}.{alias.name}", node


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module a dotted name points into (`pkg.mod.Class` -> `pkg.mod`)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = {_resolve(n, modules) for n, _ in _imported_names(tree, name, path.name == "__init__.py")}
        graph[name] = {t for t in targets if t and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _handler_imports(function: str, modules: dict[str, Path]) -> set[str]:
    tree = ast.parse((ROOT / "functions" / function / "app.py").read_text(encoding="utf-8"))
    return {m for n, _ in _imported_names(tree, "app", False) if (m := _resolve(n, modules))}


def reachable(starts: Iterable[str], graph: dict[str, set[str]]) -> set[str]:
    """Modules loaded when `starts` are imported: their imports, transitively, and the parent
    package of every module (Python runs `pkg/__init__.py` before `pkg.mod`)."""
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(graph.get(module, ()))
        parent = module.rpartition(".")[0]
        if parent:
            todo.append(parent)
    return seen


FUNCTIONS = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").is_file())


@pytest.fixture(scope="module")
def modules() -> dict[str, Path]:
    return runtime_modules()


@pytest.fixture(scope="module")
def graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    return import_graph(modules)


def test_the_graph_reader_sees_a_cycle_and_a_hidden_import(tmp_path: Path) -> None:
    """GIVEN two modules that import each other, one of them inside a function
    THEN the graph has the cycle (the reader is not blind to function-level imports)."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def f():\n    from .a import thing\n")
    found = {_module_name(p, tmp_path): p for p in package.rglob("*.py")}
    assert cycles(import_graph(found)) == [["pkg.a", "pkg.b"]]


def test_the_runtime_package_has_no_import_cycles(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == [], "import cycles in layers/shared/uptime_relay"


def test_every_module_in_the_layer_is_imported_by_some_function(
    modules: dict[str, Path], graph: dict[str, set[str]]
) -> None:
    """The layer is the runtime: a module no function loads belongs in the tools package."""
    loaded = reachable((m for f in FUNCTIONS for m in _handler_imports(f, modules)), graph)
    unused = sorted(set(modules) - loaded - {ENTRY_SHIM})
    assert unused == [], f"in layers/ but imported by no function under functions/: {unused}"


def test_the_runtime_never_imports_the_tools_package(modules: dict[str, Path]) -> None:
    offenders = []
    for name, path in modules.items():
        if name == ENTRY_SHIM:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for imported, node in _imported_names(tree, name, path.name == "__init__.py"):
            if imported.split(".")[0] == TOOLS:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == [], "the runtime imports uptime_relay_tools"


def test_the_entry_shim_is_the_only_runtime_module_no_function_needs(modules: dict[str, Path]) -> None:
    shim = ast.parse(modules[ENTRY_SHIM].read_text(encoding="utf-8"))
    assert {n for n, _ in _imported_names(shim, ENTRY_SHIM, False)} >= {f"{TOOLS}.cli"}


def test_package_imports_stand_at_the_top_of_their_module(modules: dict[str, Path]) -> None:
    """No import of the package's own modules hides inside a function (a sign of a dodged cycle)."""
    hidden = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            inner = ast.Module(body=func.body, type_ignores=[])
            for imported, node in _imported_names(inner, name, path.name == "__init__.py"):
                if imported.split(".")[0] == RUNTIME:
                    hidden.append(f"{path.relative_to(ROOT)}:{node.lineno} {imported}")
    assert sorted(set(hidden)) == []


def test_the_relay_function_does_not_load_the_actions_router(
    modules: dict[str, Path], graph: dict[str, set[str]]
) -> None:
    loaded = reachable(_handler_imports("relay", modules), graph)
    assert f"{RUNTIME}.relay" in loaded
    assert {f"{RUNTIME}.actions", f"{RUNTIME}.actions_runtime"}.isdisjoint(loaded)


def test_the_services_share_paging_instead_of_importing_each_other(graph: dict[str, set[str]]) -> None:
    services = {f"{RUNTIME}.relay", f"{RUNTIME}.escalator", f"{RUNTIME}.actions"}
    crossing = {s: sorted(graph[s] & services) for s in services if graph[s] & services}
    assert crossing == {}
