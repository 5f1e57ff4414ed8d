"""The import structure of ``app/``: no module cycles, and packages depend on each other in one
direction only (the composition roots ``app.main`` and ``app.cli`` excepted, which wire everything).

Imports inside functions count: a lazy import that dodges a cycle at start-up is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

APP = Path(__file__).resolve().parents[1] / "app"
ROOTS = {"app.main", "app.cli"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in APP.rglob("*.py"):
        parts = list(path.relative_to(APP.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _import_graph() -> nx.DiGraph:
    modules = _modules()
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph.add_edge(name, target)
    return graph


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or module in ROOTS else module


def test_no_module_imports_itself_through_others() -> None:
    cycles = [sorted(c) for c in nx.strongly_connected_components(_import_graph()) if len(c) > 1]
    assert cycles == [], f"modules of app/ that import each other in a loop: {cycles}"


def test_packages_depend_on_each_other_in_one_direction() -> None:
    packages: nx.DiGraph = nx.DiGraph()
    for source, target in _import_graph().edges:
        if source in ROOTS:
            continue
        a, b = _package(source), _package(target)
        if a != b:
            packages.add_edge(a, b)
    cycles = [sorted(c) for c in nx.strongly_connected_components(packages) if len(c) > 1]
    assert cycles == [], f"packages of app/ that import each other: {cycles}"


# What each lower layer may use of app/ (besides itself): the pure Terraform core knows no domain,
# lib knows nothing above it, and the events writer knows no domain.
ALLOWED = {
    "app.config": set(),
    "app.db": {"app.config"},
    "app.lib": {"app.config", "app.db"},
    "app.events": {"app.config", "app.db", "app.lib"},
    "app.terraform": {"app.config", "app.lib", "app.sandbox"},
    "app.sandbox": {"app.config", "app.lib", "app.db", "app.accounts"},
}


def test_lower_layers_import_only_what_is_below_them() -> None:
    wrong = sorted(
        f"{source} -> {target}"
        for source, target in _import_graph().edges
        if (layer := _package(source)) in ALLOWED
        and _package(target) != layer
        and _package(target) not in ALLOWED[layer]
    )
    assert wrong == [], "imports against the layering:\n" + "\n".join(wrong)
