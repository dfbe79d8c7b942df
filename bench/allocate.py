"""Today's referrals as a team manager runs them: `rebalancer allocate` on a county whose monthly
plan has been carried out, with 20 new children, measured by process wall and peak memory.

    python -m bench.allocate prepare   # counties of 5,000 and 50,000 children (slow: rebalances)
    python -m bench.allocate run       # two runs each, the command line under /usr/bin/time
    python -m bench.allocate mip       # the placement's optimum against HiGHS's MIP (small)

A county is generated (seed 2026, scenario steady), rebalanced once (`--work`), and the plan
carried out: each child's worker becomes its worker in the plan (moved children from the plan
date), children the plan could not allocate are left out, and 20 new children (copies of
random children's case facts, no worker) are added. Workers leaving beyond the horizon stay in,
so the allocation also schedules their handovers, as it would on any morning.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent / "out" / "allocate"
SIZES = {"5k": (5000, 300, 20.0), "50k": (50000, 3000, 60.0)}  # children, workers, --work
NEW = 20
PLAN_DATE = "2026-12-01"


CLI = str(Path(sys.executable).parent / "rebalancer")  # the console script users run


def _cli(*args: str) -> None:
    subprocess.run([CLI, *args], check=True, stdout=subprocess.DEVNULL)


def prepare(name: str) -> Path:
    n_children, n_workers, work = SIZES[name]
    home = ROOT / name
    gen, planned, county = home / "generated", home / "plan", home / "county"
    if (county / "children.csv").is_file():
        return county
    _cli("generate", "--children", str(n_children), "--workers", str(n_workers), "--seed",
         "2026", "--scenario", "steady", "--out", str(gen))
    (gen / "config.toml").write_text(f"plan_date = {PLAN_DATE}\n")
    _cli("rebalance", "--workers", str(gen / "workers.csv"), "--children",
         str(gen / "children.csv"), "--config", str(gen / "config.toml"), "--out", str(planned),
         "--work", str(work), "--time-limit", "3600", "--quiet", "--replace")
    children = pd.read_csv(gen / "children.csv", dtype=str, keep_default_na=False)
    plan = pd.read_csv(planned / "plan.csv", dtype=str, keep_default_na=False,
                       encoding="utf-8-sig").set_index("child_id")
    to = plan["to_worker_id"].reindex(children["child_id"]).to_numpy()
    moved = to != children["current_worker_id"].to_numpy()
    children["current_worker_id"] = to
    children.loc[moved, "allocated_on"] = PLAN_DATE
    children = children[children["current_worker_id"] != ""].copy()
    rng = np.random.default_rng(2026)
    new = children.iloc[rng.choice(len(children), NEW, replace=False)].copy()
    new["child_id"] = [f"N{i:03d}" for i in range(NEW)]
    new["family_id"] = ""
    new["current_worker_id"] = ""
    new["allocated_on"] = ""
    new["worker_changes_12m"] = "0"
    new["pinned"] = "false"
    county.mkdir(parents=True, exist_ok=True)
    pd.concat([children, new]).to_csv(county / "children.csv", index=False)
    (county / "workers.csv").write_bytes((gen / "workers.csv").read_bytes())
    (county / "config.toml").write_text(f"plan_date = {PLAN_DATE}\n")
    return county


def measure(county: Path, out: Path) -> dict[str, float | str]:
    """One `rebalancer allocate` in its own process: wall from exec to exit, peak RSS."""
    cmd = ["/usr/bin/time", "-v", CLI, "allocate",
           "--workers", str(county / "workers.csv"), "--children", str(county / "children.csv"),
           "--config", str(county / "config.toml"), "--out", str(out), "--quiet", "--replace"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)[1])  # type: ignore[index]
    s = json.loads((out / "summary.json").read_text())
    return {"wall": round(wall, 2), "peak_gb": round(peak / 1024**2, 3), "status": s["status"],
            "objective": s["objective"], "units": s["solver"]["decision_units"],
            "options": s["solver"]["candidate_pairs"],
            "allocated": len(s["allocation"]["allocated"]),
            "handed_over": len(s["allocation"]["handed_over"]),
            "plan_sha256": s["outputs"]["plan"]["sha256"]}


def run() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name in SIZES:
        county = prepare(name)
        for i in range(2):
            m = measure(county, ROOT / name / f"allocated-{i}")
            rows.append({"county": name, "run": i + 1, **m})
            print(json.dumps(rows[-1]), flush=True)
    (ROOT / "results.json").write_text(json.dumps(rows, indent=1))
    return rows


def mip() -> None:
    """CP-SAT's optimum of the placement against HiGHS's MIP of the same problem."""
    from rebalancer.config import load_config
    from rebalancer.io.inputs import load_inputs
    from rebalancer.model import allocate, weekly
    from solvers.context import SolveContext
    from solvers.options import solve, solve_mip

    county = prepare("5k")
    cfg = load_config(county / "config.toml")
    inputs = load_inputs(county / "workers.csv", county / "children.csv", None, None, cfg)
    cy = weekly.county(inputs, cfg)
    pl = allocate.placement(cy, inputs, np.repeat(cy.current[:, None], cy.weeks, axis=1))
    t0 = time.perf_counter()
    got = solve(pl.problem, SolveContext.start(600.0, threads=2))
    t1 = time.perf_counter()
    ref, _ = solve_mip(pl.problem)
    t2 = time.perf_counter()
    print(json.dumps({"units": len(pl.units), "options": len(pl.options),
                      "cpsat": got.objective, "cpsat_s": round(t1 - t0, 2),
                      "status": got.termination.value, "mip": ref,
                      "mip_s": round(t2 - t1, 2)}))


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "run"
    if what == "prepare":
        for n in SIZES:
            print(prepare(n))
    elif what == "mip":
        mip()
    else:
        run()
