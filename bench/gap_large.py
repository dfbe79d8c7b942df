"""The solver core on large generalized assignment instances of types C, D and E (40 and 80
agents x 1,600 jobs), generated here by the published recipes, at short limits.

    python -m bench.gap_large [--times 10 60] [--mip-limit 300] [--types c d e]

Types (Chu and Beasley 1997; Laguna et al. 1995 for E), agents i, jobs j, hard capacities:
- C: r_ij ~ U[5, 25], c_ij ~ U[10, 50], b_i = 0.8 * sum_j r_ij / m;
- D: r_ij ~ U[1, 100], c_ij = 111 - r_ij + U[-10, 10], b_i as C (costs fall as use rises);
- E: r_ij = 1 - 10 ln U(0, 1], c_ij = 1000 / r_ij - 10 U[0, 1],
  b_i = max(0.8 * sum_j r_ij / m, max_j r_ij).
There is no published best known value for our seeds, so each instance's reference is the best
plan any run found (the tool at every limit, and HiGHS's MIP within --mip-limit, which often
proves it), and the LP bound shows how far that can be from the optimum. Each solve runs in its
own process, timed by its process wall. Results: bench/out/gap_large.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from solvers import AssignmentProblem

HERE = Path(__file__).resolve().parent
SIZES = ((40, 1600), (80, 1600))


def generate(kind: str, m: int, n: int, seed: int) -> AssignmentProblem:
    """One instance of type `kind` ("c", "d" or "e"), by the recipe in the module's docstring."""
    rng = np.random.default_rng(seed)
    if kind == "c":
        r = rng.integers(5, 26, (m, n))
        c = rng.integers(10, 51, (m, n))
        b = (0.8 * r.sum(axis=1) / m).astype(np.int64)
    elif kind == "d":
        r = rng.integers(1, 101, (m, n))
        c = 111 - r + rng.integers(-10, 11, (m, n))
        b = (0.8 * r.sum(axis=1) / m).astype(np.int64)
    elif kind == "e":
        r = (1 - 10 * np.log(1 - rng.random((m, n)))).round().astype(np.int64)
        c = (1000 / r - 10 * rng.random((m, n))).round().astype(np.int64)
        b = np.maximum(0.8 * r.sum(axis=1) / m, r.max(axis=1)).astype(np.int64)
    else:
        raise ValueError(f"type {kind!r}: c, d or e")
    agent, item = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    return AssignmentProblem(
        n_items=n, n_agents=m, pair_item=item.ravel(), pair_agent=agent.ravel(),
        pair_cost=c.ravel().astype(np.int64), pair_load=r.ravel().astype(np.int64),
        item_must=np.ones(n, bool), item_skip_cost=np.zeros(n, np.int64),
        agent_capacity=b, overload_cost=None)


def _name(kind: str, m: int, n: int) -> str:
    return f"{kind}{m}x{n}"


def one(method: str, name: str, limit: float) -> dict[str, Any]:
    """In this process: the tool at `limit` seconds, the LP bound, or HiGHS's MIP."""
    from solvers import SolveContext, evaluate, solve

    kind, rest = name[0], name[1:]
    m, n = (int(x) for x in rest.split("x"))
    p = generate(kind, m, n, seed=m * 100 + ord(kind))
    t0 = time.perf_counter()
    if method == "tool":
        s = solve(p, SolveContext.start(limit, threads=2))
        ev = evaluate(p, s.item_pair)
        return {"value": int(ev.objective) if ev.feasible else None, "status": s.status.value,
                "reproducible": s.reproducible, "lp_bound": s.lp_bound,
                "wall": time.perf_counter() - t0}
    if method == "lp":
        from solvers.lp import lp_bound

        lp = lp_bound(p)
        return {"bound": lp.bound, "wall": time.perf_counter() - t0}
    from bench.sized import highs_mip

    h, _ = highs_mip(p, None, limit)
    info = h.getInfo()
    has = info.primal_solution_status == 2
    return {"value": round(info.objective_function_value) if has else None,
            "proven": h.modelStatusToString(h.getModelStatus()) == "Optimal",
            "bound": info.mip_dual_bound, "wall": time.perf_counter() - t0}


def _run(method: str, name: str, limit: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench.gap_large", "--one", method, name,
                           str(limit)], capture_output=True, text=True, cwd=HERE.parent,
                          timeout=limit * 4 + 300)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    row = dict(json.loads(done.stdout.strip().splitlines()[-1]))
    row["process_wall"] = time.perf_counter() - t0
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--times", type=float, nargs="*", default=[10.0, 60.0])
    ap.add_argument("--types", nargs="+", default=["c", "d", "e"])
    ap.add_argument("--mip-limit", type=float, default=300.0)
    ap.add_argument("--runs", type=int, default=1, help="runs of the tool per limit")
    ap.add_argument("--one", nargs=3, metavar=("METHOD", "NAME", "LIMIT"))
    ap.add_argument("--out", type=Path, default=HERE / "out" / "gap_large.json")
    ap.add_argument("--table", action="store_true", help="print the RESULTS.md rows")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1], float(args.one[2])), default=float))
        return
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.table:
        print(table(results, args.times))
        return
    for kind in args.types:
        for m, n in SIZES:
            name = _name(kind, m, n)
            row = results.get(name, {})
            if "lp" not in row:
                row["lp"] = _run("lp", name, 600)
            if "mip" not in row and args.mip_limit > 0:
                row["mip"] = _run("mip", name, args.mip_limit)
            for t in args.times:
                row[f"tool_{t:g}"] = [_run("tool", name, t) for _ in range(args.runs)]
            values = [r.get("value") for k, v in row.items() if k.startswith("tool_")
                      for r in v] + [row.get("mip", {}).get("value")]
            row["best"] = min(v for v in values if v is not None) if any(
                v is not None for v in values) else None
            results[name] = row
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=1, default=float))
            best = row["best"]
            print(name, "best", best, "lp", row["lp"].get("bound"), *(
                f"{t:g}s: " + ", ".join(
                    "none" if r.get("value") is None or best is None
                    else f"{(r['value'] - best) / best:.3%} in {r['process_wall']:.1f}s"
                    for r in row[f"tool_{t:g}"]) for t in args.times), flush=True)


def table(results: dict[str, Any], times: list[float]) -> str:
    """Rows per instance: the reference, and each limit's gap to it and process wall."""
    head = "| instance | best known | LP bound | MIP | " + " | ".join(
        f"{t:g} s: above best (wall)" for t in times) + " |"
    lines = [head, "|" + "---|" * (4 + len(times))]
    for name, row in results.items():
        best, mip = row.get("best"), row.get("mip", {})
        cells = []
        for t in times:
            runs = row.get(f"tool_{t:g}", [])
            cells.append(", ".join(
                "no plan" if r.get("value") is None or best is None
                else f"{(r['value'] - best) / best:.2%} ({r['process_wall']:.1f} s)"
                for r in runs) or "-")
        mip_cell = "-" if mip.get("value") is None else \
            f"{mip['value']:,}{' (proven)' if mip.get('proven') else ''}"
        lines.append(f"| {name} | {best:,} | {row['lp'].get('bound', 0):,.1f} | {mip_cell} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
