"""The layers of docs/architecture.md hold: every import of src/openlookout, read with ``ast`` (those
inside functions and under TYPE_CHECKING too), points the documented way, and no modules import
each other in a circle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import openlookout

SOURCE = Path(openlookout.__file__).parent

# What each top-level part of the package may import, besides itself (docs/architecture.md).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "settings": set(),
    "spec": {"errors"},
    "imaging": set(),
    "ml": set(),
    "blobs": set(),
    "sources": {"blobs", "settings"},
    "store": set(),
    "jobs": {"store"},
    "hosting": {"ml"},
    "engine": {"hosting", "ml", "blobs", "sources"},
    "packaging": set(),
    "web": set(),
    "auth": set(),
    "service": {
        "errors", "settings", "spec", "store", "blobs", "sources", "imaging", "jobs", "ml", "hosting",
        "packaging", "engine",
    },
    "console": {"service", "spec", "errors", "web", "auth", "settings"},
    "api": {"service", "spec", "errors", "settings", "web", "auth"},
    "runtime": {"service", "store", "blobs", "sources", "jobs", "engine", "settings"},
    "client": {"spec"},
    "cli": {"api", "client", "runtime", "settings", "web", "auth"},
}  # fmt: skip
# Single modules allowed one arrow more than their part: the HTTP app mounts the console's routes.
EXTRA: dict[str, set[str]] = {"openlookout.api.app": {"console"}}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SOURCE.rglob("*.py") if "migrations" not in p.parts}


def _imports(module: str, path: Path) -> Iterator[str]:
    """Every ``openlookout`` module name ``module`` imports (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _part(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_every_import_follows_the_documented_layers() -> None:
    assert set(ALLOWED) >= {_part(m) for m in _modules() if _part(m)}, "a new part needs its place in ALLOWED"
    wrong: list[str] = []
    for module, path in _modules().items():
        here = _part(module)
        if not here:
            continue
        allowed = ALLOWED[here] | EXTRA.get(module, set()) | {here}
        for target in _imports(module, path):
            there = _part(target) if target.startswith("openlookout.") else None
            if there is not None and there not in allowed:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(set(wrong)))


def test_no_modules_import_each_other_in_a_circle() -> None:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for target in _imports(module, path):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            # A module's own packages are imported before it anyway: not an arrow of its own.
            if target and target != module and not module.startswith(target + "."):
                targets.add(target)
        graph[module] = targets
    circles = [sorted(group) for group in _strongly_connected(graph) if len(group) > 1]
    assert not circles, f"modules importing each other in a circle: {circles}"


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(group)
    return groups
