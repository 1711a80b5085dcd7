"""No import cycles among the core's modules.

Every ``import`` statement counts wherever it stands: at module level, under ``if TYPE_CHECKING:`` and inside a
function. A function-local or type-checking-only import hides a cycle from the interpreter but not from the reader:
the two modules still depend on each other and cannot be understood, tested or moved apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

import llama_stack_core


def module_names(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package (packages by their ``__init__``)."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path) -> set[str]:
    """Dotted names every import statement of a module refers to (``from x import y`` gives ``x.y``, a module or not)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (an attribute import resolves to the module that defines it)."""
    modules = module_names(package_dir)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(module, path):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The graph's strongly connected components of more than one module, each sorted (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                lowlink[node] = min(lowlink[node], lowlink[target])
            elif target in stack:
                lowlink[node] = min(lowlink[node], index[target])
        if lowlink[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a] & members)]
    return "cycle among " + ", ".join(component) + ":\n    " + "\n    ".join(edges)


def test_the_core_has_no_import_cycles():
    graph = import_graph(Path(llama_stack_core.__file__).parent)
    found = cycles(graph)
    assert not found, "\n".join(describe(component, graph) for component in found)


def test_every_kind_of_import_counts_toward_a_cycle(tmp_path: Path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from .b import B\n")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub import B\n"
        "def f():\n    from . import c\n    return c\n"
    )
    (package / "sub" / "b.py").write_text("from .. import a\nclass B: ...\n")
    (package / "c.py").write_text("import pkg.sub.b\n")
    (package / "d.py").write_text("from pkg import a\n")

    graph = import_graph(package)

    assert graph["pkg.a"] == {"pkg.sub", "pkg.c"}
    assert graph["pkg.sub"] == {"pkg.sub.b"}
    assert graph["pkg.c"] == {"pkg.sub.b"}
    assert cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub", "pkg.sub.b"]]
    assert "pkg.d" not in cycles(graph)[0]
