"""The services import downward only: relay, escalator and actions share the paging pipeline, the
ack links and the ports instead of importing each other, every package-internal import of the
core sits at the top of its file, and the relay function never loads the actions router."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "shared"
PACKAGE = "uptime_relay"
CORE = (
    "uptime_relay.relay",
    "uptime_relay.escalator",
    "uptime_relay.actions",
    "uptime_relay.actions_runtime",
    "uptime_relay.followups",
    "uptime_relay.wiring",
    "uptime_relay.paging",
    "uptime_relay.paging.planning",
    "uptime_relay.paging.pipeline",
    "uptime_relay.acklinks",
    "uptime_relay.ports",
    "uptime_relay.delivery",
    "uptime_relay.domain.sweep",
)


def modules() -> dict[str, Path]:
    found = {}
    for path in (LAYER / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(LAYER).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = modules()


def _target(module: str, path: Path, node: ast.ImportFrom | ast.Import) -> list[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif node.level:
        base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
        names = [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
    else:
        names = [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
    found = []
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.append(name)
    return found


def imports(module: str, path: Path, *, nested_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and not (nested_only and id(node) in top):
            found.update(_target(module, path, node))
    return found


GRAPH = {module: imports(module, path) for module, path in MODULES.items()}


def reachable(start: set[str]) -> set[str]:
    seen, todo = set(), list(start)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(GRAPH.get(module, ()))
    return seen


def test_no_core_module_is_part_of_an_import_cycle():
    for module in CORE:
        assert module in MODULES, module
        back = {m for m in reachable(GRAPH[module]) if module in GRAPH.get(m, ())}
        assert not back, f"{module} is imported back by {sorted(back)}"


def test_every_package_internal_import_of_the_core_is_at_the_top_of_its_file():
    for module in CORE:
        hidden = imports(module, MODULES[module], nested_only=True)
        assert not hidden, f"{module} imports {sorted(hidden)} inside a function"


def test_the_relay_function_never_loads_the_actions_router():
    handler = ROOT / "functions" / "relay" / "app.py"
    loaded = reachable(imports("relay_app", handler))
    assert "uptime_relay.relay" in loaded
    assert "uptime_relay.actions" not in loaded and "uptime_relay.actions_runtime" not in loaded


def test_the_services_do_not_import_each_other():
    services = {"uptime_relay.relay", "uptime_relay.escalator", "uptime_relay.actions"}
    for service in services:
        assert not (GRAPH[service] & services), f"{service} imports {sorted(GRAPH[service] & services)}"
