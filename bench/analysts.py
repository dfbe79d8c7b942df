"""Sweep throughput (a local Dask cluster against the same scenarios one after another) and the
demo's frontier.

    python -m bench.analysts [--children 1500] [--scenarios 8] [--limit 10]

Writes bench/out/analysts.json; the numbers are quoted in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, default=1500)
    ap.add_argument("--scenarios", type=int, default=8)
    ap.add_argument("--limit", type=float, default=10.0)
    ap.add_argument("--frontier-limit", type=float, default=20.0)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "analysts")
    args = ap.parse_args()
    from rebalancer.analysis import frontier, scenarios, sweep
    from rebalancer.config import load_config
    from rebalancer.paths import data_dir
    from rebalancer.pipeline import InputPaths
    from rebalancer.synth.county import generate, write_scenario

    inp = args.out / "in"
    write_scenario(generate(args.children, round(args.children / 15), seed=3,
                            scenario="steady"), inp, "csv")
    (args.out / "c.toml").write_text("plan_date = 2026-12-01\n")
    paths = InputPaths(inp / "workers.csv", inp / "children.csv", config=args.out / "c.toml")
    cfg = load_config(args.out / "c.toml")
    values = ",".join(str(100 + 50 * i) for i in range(args.scenarios))
    grid = scenarios.parse_grid([f"weights.move={values}"])
    todo = scenarios.scenarios(grid, [])
    t0 = time.perf_counter()
    for s in todo:  # one after another, each with the machine's two threads
        sweep.run_scenario(paths, cfg, s, args.out / "sequential", "csv", args.limit, 2)
    sequential = time.perf_counter() - t0
    t0 = time.perf_counter()
    sweep.sweep(paths, cfg, todo, args.out / "cluster", "csv", args.limit, None, list(grid),
                   echo=lambda _: None)
    cluster = time.perf_counter() - t0
    d = data_dir() / "demo"
    demo = InputPaths(d / "workers.csv", d / "children.csv", config=d / "config.toml")
    dcfg = load_config(d / "config.toml", {"solver.time_limit": args.frontier_limit})
    t0 = time.perf_counter()
    front = frontier.frontier(demo, dcfg, args.out / "frontier", "csv", 6, echo=print)
    result = {"children": args.children, "scenarios": len(todo), "limit": args.limit,
              "sequential_seconds": sequential, "cluster_seconds": cluster,
              "sequential_per_minute": 60 * len(todo) / sequential,
              "cluster_per_minute": 60 * len(todo) / cluster,
              "frontier_seconds": time.perf_counter() - t0,
              "frontier": front.drop(columns=["folder"]).to_dict("records")}
    (args.out.parent / "analysts.json").write_text(json.dumps(result, indent=2, default=float))
    print(json.dumps({k: v for k, v in result.items() if k != "frontier"}, default=float))


if __name__ == "__main__":
    main()
