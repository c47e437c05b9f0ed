"""The layer's floors, read from its imports with ``ast`` (nothing is imported or run).

From the top: the edge (``http`` and the other entry points), the use cases, the repositories
(``db``), the engine (``engine``, and ``reporting``, a pure renderer) and the base (settings,
errors, observability, small shared vocabularies). A module imports only from its own floor or
one below, and the packages form no circle: within a floor, one package may use another, never
both each other. Only imports that run count: those under ``if TYPE_CHECKING:`` do not."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "shared" / "sheetbrain"

FLOORS: dict[str, tuple[str, ...]] = {
    "edge": ("http", "deploy", "snapstart"),
    "use cases": (
        "auditing",
        "maintenance",
        "webhooks",
        "billing",
        "notifications",
        "policies",
        "metering",
        "tenancy",
    ),
    "repositories": ("db",),
    "engine": ("engine", "reporting"),
    "base": ("config", "errors", "observability", "severity", "aws", "untrusted_json"),
}
LEVEL = {unit: level for level, units in enumerate(reversed(FLOORS.values())) for unit in units}


def _unit(module: str) -> str:
    """The top-level package or module of the layer a dotted name belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "sheetbrain"


def _runtime_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of each import of ``sheetbrain.*`` that runs (not under TYPE_CHECKING)."""
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("sheetbrain.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "sheetbrain":
                found += [(node.lineno, f"sheetbrain.{a.name}") for a in node.names]
            elif node.module.startswith("sheetbrain."):
                found.append((node.lineno, node.module))
    return found


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = _modules()
IMPORTS = {name: _runtime_imports(ast.parse(path.read_text())) for name, path in MODULES.items()}


def test_every_part_of_the_layer_has_a_floor() -> None:
    # Given the layer's top-level packages and modules
    units = {_unit(name) for name in MODULES} - {"sheetbrain"}
    # Then each is on exactly one floor (a new package must be placed)
    assert sorted(units) == sorted(LEVEL)
    assert len(LEVEL) == sum(len(units) for units in FLOORS.values())


def test_imports_only_go_down() -> None:
    # Given every import that runs, from one part of the layer to another
    upward = [
        f"{MODULES[name].relative_to(PACKAGE.parent)}:{line} imports {target}"
        for name, imports in IMPORTS.items()
        for line, target in imports
        if _unit(name) != "sheetbrain" and LEVEL[_unit(target)] > LEVEL[_unit(name)]
    ]
    # Then none reaches a higher floor
    assert upward == []


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _resolve(target: str) -> str:
    """The module an import names: itself, or the package holding the name it imports."""
    while target not in MODULES and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


def test_no_import_circle_between_modules_or_between_packages() -> None:
    # Given the graph of runtime imports, module to module and top-level part to part
    modules: dict[str, set[str]] = defaultdict(set)
    units: dict[str, set[str]] = defaultdict(set)
    for name, imports in IMPORTS.items():
        for _, target in imports:
            module = _resolve(target)
            if module != name:
                modules[name].add(module)
            if _unit(module) != _unit(name):
                units[_unit(name)].add(_unit(module))
    # Then neither has a circle (a package's __init__ importing its own modules is not one:
    # its modules import each other by their own names)
    module_circles = [c for c in _circles(modules) if not all(m.startswith(c[0] + ".") for m in c[1:])]
    assert module_circles == []
    assert _circles(units) == []


def test_the_circle_finder_finds_a_circle() -> None:
    # Given a graph with one circle of three and a tail, Then it is found, and only it
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}) == [["a", "b", "c"]]
