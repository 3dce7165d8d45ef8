"""The service's packages stay layered: no import cycle inside ``export_worker`` or ``export_common``,
and the worker's flows build on its attempt core without importing each other.

Every import counts, also one inside a function (a lazy import hides a cycle, it does not remove it);
only imports under ``if TYPE_CHECKING:`` are left out (they never run).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "export_worker": ROOT / "functions" / "worker" / "export_worker",
    "export_common": ROOT / "functions" / "shared" / "export_common",
}


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(path: Path, package: str) -> set[str]:
    """The modules of ``package`` that ``path`` imports at run time."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith(package + "."))
            elif isinstance(child, ast.ImportFrom) and child.module is not None:
                if child.module == package:  # from export_worker import fanout, single_pass
                    found.update(f"{package}.{a.name}" for a in child.names)
                elif child.module.startswith(package + "."):
                    found.add(child.module)
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def import_graph(package: str) -> dict[str, set[str]]:
    folder = PACKAGES[package]
    modules = {f"{package}.{p.stem}": p for p in folder.glob("*.py") if p.stem != "__init__"}
    return {name: _imports(path, package) & modules.keys() for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (its modules in order, the first repeated at the end), or None."""
    done: set[str] = set()

    def walk(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for target in sorted(graph[module]):
            cycle = walk(target, [*path, module])
            if cycle is not None:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = walk(module, [])
        if cycle is not None:
            return cycle
    return None


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_cycle(package: str) -> None:
    cycle = find_cycle(import_graph(package))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_worker_is_layered_handler_over_flows_over_the_attempt_core() -> None:
    graph = import_graph("export_worker")

    def reaches(module: str) -> set[str]:
        seen: set[str] = set()
        todo = [module]
        while todo:
            for target in graph[todo.pop()] - seen:
                seen.add(target)
                todo.append(target)
        return seen

    flows = {"export_worker.single_pass", "export_worker.fanout"}
    above_the_core = {*flows, "export_worker.process", "export_worker.handler", "export_worker.dlq"}
    assert not reaches("export_worker.attempt") & above_the_core
    assert "export_worker.fanout" not in reaches("export_worker.single_pass")
    assert "export_worker.single_pass" not in reaches("export_worker.fanout")
    assert not reaches("export_worker.engine")  # the engine interface depends on nothing of the worker
    # the one render-engine interface: no flow imports the render library's entry points itself
    for flow in flows:
        source = (PACKAGES["export_worker"] / f"{flow.split('.')[1]}.py").read_text()
        assert "render.pipeline" not in source and "render_video_chunk" not in source


def test_aws_clients_are_built_in_one_module() -> None:
    """Retries, timeouts, S3 addressing and the secret provider: ``export_common.aws``, for all handlers."""
    builders = re.compile(r"\.client\(|\.resource\(|\bConfig\(|\bSecretProvider\(")
    offenders = [
        f"{path.relative_to(ROOT)}: {found}"
        for path in sorted((ROOT / "functions").rglob("*.py"))
        if path.name != "aws.py"
        for found in builders.findall(path.read_text())
    ]
    assert offenders == []
    for handler in ("api/export_api", "worker/export_worker", "callbacks/export_callbacks"):
        assert "aws.AwsClients(" in (ROOT / "functions" / handler / "handler.py").read_text()
