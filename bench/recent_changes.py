"""What the recent-change move factor buys on the demo: children with two or more changes of
social worker in 12 months after the plan, against the moves and overload it costs.

    python -m bench.recent_changes [--factors 0,0.5,1] [--limit 60]

One plan per factor (`weights.move_factor_recent_change`), everything else the demo's. Writes
bench/out/recent_changes.json; the table is quoted in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--factors", default="0,0.5,1")
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "recent_changes.json")
    args = ap.parse_args()
    from rebalancer.config import load_config
    from rebalancer.io.inputs import load_inputs
    from rebalancer.model.plan import moved_mask
    from rebalancer.model.summary import to_plain
    from rebalancer.paths import data_dir
    from rebalancer.pipeline import plan

    d = data_dir() / "demo"
    rows = []
    for factor in (float(x) for x in args.factors.split(",")):
        cfg = load_config(d / "config.toml", {"solver.time_limit": args.limit,
                                              "weights.move_factor_recent_change": factor})
        inputs = load_inputs(d / "workers.csv", d / "children.csv", None, None, cfg,
                             d / "config.toml")
        t0 = time.perf_counter()
        r = plan(inputs, cfg)
        wall = time.perf_counter() - t0
        b, a = to_plain(r.summary.kpis.before), to_plain(r.summary.kpis.after)
        assert r.model is not None
        changes = r.model.recent_changes
        moved = moved_mask(r.plan)
        forced = r.model.forced
        rows.append({
            "factor": factor, "wall_seconds": round(wall, 1), "gap": r.summary.gap,
            "reproducible": r.summary.solver.reproducible,
            "children_2plus_before": b["children_2plus_changes"],
            "children_2plus_after": a["children_2plus_changes"],
            "moves": a["moves"], "moves_forced": a["moves_forced"],
            "moves_discretionary": a["moves_discretionary"],
            "discretionary_moves_of_children_with_1plus": int(
                (moved & ~forced & (changes >= 1)).sum()),
            "total_overload_points": a["total_overload_points"],
            "workers_over_capacity": a["workers_over_capacity"],
            "peak_utilisation": a["peak_utilisation"], "unallocated": a["unallocated"],
            "objective": r.summary.objective,
            "children_with_1plus": int((changes >= 1).sum()),
            "mean_changes_of_moved": round(float(changes[moved].mean()), 3)
            if moved.any() else None,
            "median_changes": float(np.median(changes)),
        })
        print(json.dumps(rows[-1]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
