"""The package's floor plan holds: no import circles, and the lines ARCHITECTURE.md draws.

Imports are read from the source (module level and inside functions alike), so a circle that only
closes at run time is found too; imports under ``if TYPE_CHECKING:`` (annotations only) are not
counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dfdc_lake"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(path: Path) -> list[ast.AST]:
    """Every node of a module except those under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in node.body
        for inner in ast.walk(child)
    }
    return [node for node in ast.walk(tree) if id(node) not in skipped]


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (at run time)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in _runtime_nodes(path):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _imports_of(prefix: str, graph: dict[str, set[str]]) -> set[str]:
    return {target for name, targets in graph.items() if name.startswith(prefix) for target in targets}


def _raw_imports(prefix: str) -> set[str]:
    found = set()
    for path in (PACKAGE / prefix).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_no_import_circle() -> None:
    assert _cycle(import_graph()) is None, " -> ".join(_cycle(import_graph()) or [])


def _crossings(prefix: str, forbidden: tuple[str, ...], graph: dict[str, set[str]]) -> list[str]:
    return sorted(m for m in _imports_of(prefix, graph) if m.startswith(forbidden))


def test_the_lines_that_are_never_crossed() -> None:
    graph = import_graph()
    assert "ray" not in _raw_imports("stages"), "stages never import ray"
    assert not _crossings("dfdc_lake.train", ("dfdc_lake.ingest", "dfdc_lake.plan"), graph)
    assert not _crossings("dfdc_lake.ingest", ("dfdc_lake.train",), graph)
    assert not _crossings("dfdc_lake.plan", ("dfdc_lake.ingest", "dfdc_lake.train"), graph), (
        "plan never imports ingest"
    )
    assert not _crossings(
        "dfdc_lake.stages", ("dfdc_lake.lake", "dfdc_lake.ingest", "dfdc_lake.plan", "dfdc_lake.train"), graph
    )
    outside_cli = {name for name, targets in graph.items() if not name.startswith("dfdc_lake.cli")}
    assert not {name for name in outside_cli if any(t.startswith("dfdc_lake.cli") for t in graph[name])}, (
        "only cli/ imports cli/"
    )
    below_lake = (
        "dfdc_lake.lake",
        "dfdc_lake.io",
        "dfdc_lake.config",
        "dfdc_lake.errors",
        "dfdc_lake.records",
    )
    assert all(m.startswith(below_lake) for m in _imports_of("dfdc_lake.lake", graph)), sorted(
        m for m in _imports_of("dfdc_lake.lake", graph) if not m.startswith(below_lake)
    )


def test_every_package_says_what_it_holds() -> None:
    """Each package's ``__init__`` has a docstring (what it holds and what it may import)."""
    silent = [
        str(init.relative_to(PACKAGE.parent))
        for init in PACKAGE.rglob("__init__.py")
        if not ast.get_docstring(ast.parse(init.read_text()))
    ]
    assert not silent, silent


def test_only_the_lake_picks_a_storage_backend() -> None:
    """Everything else holds a ``Lake`` (opened once per command), never a backend of its own."""
    graph = import_graph()
    backends = {"dfdc_lake.lake.local_storage", "dfdc_lake.lake.s3_storage"}
    users = {name for name, targets in graph.items() if targets & backends}
    assert users <= {"dfdc_lake.lake.lake", "dfdc_lake.lake.shard"}, users
