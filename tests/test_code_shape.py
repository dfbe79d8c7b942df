"""The shape of the code, held: packages import one way, the solver knows no social work, no
function is too long to read, and no solver function takes more than six parameters."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 80  # outside tests and the synthetic-data generators
MAX_SOLVER_PARAMS = 6


def _package(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "solvers":
        return "solvers"
    if parts[0] != "rebalancer" or len(parts) == 1:
        return None
    return f"rebalancer.{parts[1]}"


def _modules() -> list[tuple[str, ast.Module]]:
    out = []
    for top in ("rebalancer", "solvers"):
        for path in sorted((ROOT / top).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out.append((name.removesuffix(".__init__"), ast.parse(path.read_text())))
    return out


def _imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):  # function-level imports included
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return names


def test_no_import_cycle_between_packages_and_solvers_stands_alone() -> None:
    graph: dict[str, set[str]] = {}
    for name, tree in _modules():
        src = _package(name)
        for dst in filter(None, map(_package, _imports(tree))):
            if src is not None and dst != src:
                graph.setdefault(src, set()).add(dst)
    assert not {d for d in graph.get("solvers", set()) if d.startswith("rebalancer")}

    def reaches(a: str, b: str, seen: set[str]) -> bool:
        return a == b or any(reaches(n, b, seen | {a}) for n in graph.get(a, ()) if n not in seen)

    cycles = sorted((a, b) for a in graph for b in graph[a] if reaches(b, a, set()))
    assert cycles == []


def test_no_function_too_long_and_solver_functions_take_few_parameters() -> None:
    long, many = [], []
    for name, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MAX_LINES and not name.startswith("rebalancer.synth"):
                long.append(f"{name}.{node.name}: {lines} lines")
            a = node.args
            params = [*a.posonlyargs, *a.args, *a.kwonlyargs]
            n = len([p for p in params if p.arg not in ("self", "cls")])
            n += (a.vararg is not None) + (a.kwarg is not None)
            if name.startswith("solvers") and n > MAX_SOLVER_PARAMS:
                many.append(f"{name}.{node.name}: {n} parameters")
    assert long == [] and many == []
