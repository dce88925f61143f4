#!/usr/bin/env python3
"""zhllama's layers, read from its imports: print the picture in docs/architecture.md, or check it.

    scripts/architecture.py           print the Mermaid picture of the packages and their imports
    scripts/architecture.py --check   exit 1 naming every import that breaks the layer order,
                                      every import cycle, and a picture in the docs that is stale

Every ``import`` of a zhllama module counts, at module level or inside a function (lazy imports
are still dependencies); imports under ``if TYPE_CHECKING:`` do not. A module may import modules
of a lower layer, and modules of its own package (``zhllama.X``); packages that share a layer
(docqa and evaluation) do not import each other. tests/test_architecture.py runs the check.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src"
DOC = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- architecture.py: begin -->", "<!-- architecture.py: end -->"

LAYERS: list[tuple[str, ...]] = [
    ("zhllama", "zhllama.errors", "zhllama.hookspecs", "zhllama.locations"),
    ("zhllama.plugins",),
    ("zhllama.core",),
    ("zhllama.patching",),
    ("zhllama.checkpoints",),
    ("zhllama.backends",),
    ("zhllama.docqa", "zhllama.evaluation"),
    ("zhllama.adapters", "zhllama.server"),
    ("zhllama.cli",),
]
"""Bottom first. ``zhllama`` is the package's ``__init__`` (``__version__``, ``ZhllamaError``)."""
FACADE = "zhllama"
"""The one module exempt as an importer: ``import zhllama; zhllama.load(...)`` re-exports ``load``
lazily from ``zhllama.checkpoints``, so that the package's front door stays light."""


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package is its ``__init__``)."""
    found = {}
    for path in sorted((SOURCE / "zhllama").rglob("*.py")):
        parts = path.relative_to(SOURCE).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports() -> dict[str, set[str]]:
    """module -> the zhllama modules it imports (a ``from package import submodule`` names the submodule)."""
    modules = module_names()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        targets: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name.startswith("zhllama"))
            elif (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and (node.module or "").startswith("zhllama")
            ):
                module = node.module or ""
                submodules = [
                    f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in modules
                ]
                targets.update(submodules if len(submodules) == len(node.names) else [*submodules, module])
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def layer_of(module: str) -> tuple[int, str]:
    """``(layer index, package)`` of a module: its longest matching layer prefix."""
    best = (-1, "")
    for index, packages in enumerate(LAYERS):
        for package in packages:
            if (module == package or module.startswith(package + ".")) and len(package) > len(best[1]):
                best = (index, package)
    if best[0] < 0:
        raise SystemExit(f"{module} is in no layer: add its package to LAYERS in scripts/architecture.py")
    return best


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for source, targets in sorted(graph.items()):
        if source == FACADE:
            continue
        source_layer, source_package = layer_of(source)
        for target in sorted(targets):
            target_layer, target_package = layer_of(target)
            if target_layer > source_layer or (
                target_layer == source_layer and target_package != source_package
            ):
                problems.append(
                    f"{source} imports {target}: {source_package} may not depend on {target_package}"
                )
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    sys.setrecursionlimit(10000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package_of(module: str) -> str:
    """``zhllama.X`` for a module inside a sub-package, else the module itself."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def picture(graph: dict[str, set[str]]) -> str:
    """A Mermaid flowchart: one box per package (grouped by layer, top layer first) and the imports
    between packages above layer 0 (every package may import layer 0, which imports nothing above)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for source, targets in graph.items():
        if source == FACADE:
            continue
        for target in targets:
            if package_of(source) != package_of(target) and layer_of(target)[0] > 0:
                edges[package_of(source)].add(package_of(target))
    lines = ["```mermaid", "flowchart TD"]
    for index in range(len(LAYERS) - 1, -1, -1):
        lines.append(f'    subgraph L{index}["layer {index}"]')
        lines += [f"        {p.replace('.', '_')}[{p}]" for p in LAYERS[index]]
        lines.append("    end")
    for source in sorted(edges):
        for target in sorted(edges[source]):
            lines.append(f"    {source.replace('.', '_')} --> {target.replace('.', '_')}")
    lines.append("```")
    return "\n".join(lines)


def documented_picture() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def check() -> list[str]:
    graph = imports()
    problems = layer_violations(graph)
    problems += [f"import cycle: {' -> '.join(component)}" for component in cycles(graph)]
    if documented_picture() != picture(graph):
        problems.append(
            f"the picture in {DOC.relative_to(ROOT)} is stale: run scripts/architecture.py and paste it"
        )
    return problems


def main() -> int:
    if sys.argv[1:] == ["--check"]:
        problems = check()
        print("\n".join(problems) or "layers, cycles and picture: all right")
        return 1 if problems else 0
    print(picture(imports()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
