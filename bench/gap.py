"""The solver core on a public yardstick: Chu-Beasley generalized assignment instances (types
A-D), gap to the best known value at each time limit.

    python -m bench.gap [--dir ../shared/bench/gap] [--times 10 60] [--types c d]

Writes bench/out/gap.json; bench.report turns it into the GAP section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from solvers import AssignmentProblem, SolveContext, evaluate, solve


def read_instance(path: Path) -> AssignmentProblem:
    """OR-Library format: m n, then m rows of n costs, m rows of n resource uses, m capacities."""
    nums = np.array(path.read_text().split(), dtype=np.int64)
    m, n = int(nums[0]), int(nums[1])
    cost = nums[2:2 + m * n].reshape(m, n)
    use = nums[2 + m * n:2 + 2 * m * n].reshape(m, n)
    cap = nums[2 + 2 * m * n:2 + 2 * m * n + m]
    agent, item = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    return AssignmentProblem(
        n_items=n, n_agents=m, pair_item=item.ravel(), pair_agent=agent.ravel(),
        pair_cost=cost.ravel(), pair_load=use.ravel(), item_must=np.ones(n, bool),
        item_skip_cost=np.zeros(n, np.int64), agent_capacity=cap, overload_cost=None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared"
                    / "bench" / "gap")
    ap.add_argument("--times", type=float, nargs="+", default=[10.0, 60.0])
    ap.add_argument("--types", nargs="+", default=["a", "b", "c", "d"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "gap.json")
    args = ap.parse_args()
    best = {r["instance"]: int(r["best_known"]) for r in csv.DictReader(
        (args.dir / "best_known.csv").open())}
    rows = []
    for name in sorted(best):
        if name[0] not in args.types:
            continue
        p = read_instance(args.dir / name)
        for t in args.times:
            t0 = time.perf_counter()
            s = solve(p, SolveContext.start(t, threads=args.threads))
            wall = time.perf_counter() - t0
            ev = evaluate(p, s.item_pair)
            value = ev.objective if ev.feasible else None
            gap = None if value is None else (value - best[name]) / best[name]
            rows.append({"instance": name, "type": name[0], "agents": p.n_agents,
                         "jobs": p.n_items, "time_limit": t, "wall": round(wall, 2),
                         "value": value, "best_known": best[name],
                         "gap": None if gap is None else round(gap, 6),
                         "status": s.status.value})
            print(json.dumps(rows[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
