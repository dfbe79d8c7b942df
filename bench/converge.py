"""Convergence where overload cannot vanish: sized 5,000-child counties against MIP optima.

    python -m bench.converge refs  [--mip-limit 480] [--jobs 2]   # HiGHS MIP, cached
    python -m bench.converge bounds [--mip-limit 120] [--jobs 2]  # MIP by locality, cached
    python -m bench.converge run   [--limits 20 60] [--runs 2] [--only NAME ...]
    python -m bench.converge work  [--works 10 40] [--only NAME ...]  # by work: any load
    python -m bench.converge where NAME [--plan DIR]     # the gap per locality and term
    python -m bench.converge table

Instances: steady counties whose workforce is sized to demand (`bench.sized`, ratio 1.0 and
1.05), 5,000 children, six seeds, generated without a calendar (the look-ahead then has nothing
to place, so the plan is week 0's, the model HiGHS solves). The reference: HiGHS's MIP on the
whole model (one thread each, `--jobs` at once, cached in bench/out/converge-refs.json with its
plan), or the best run of the tool, whichever is lower. Runs are compared by week 0's objective
(`solver.week0_objective`, the model the MIP solves; the look-ahead is on, as by default).
`run` is the command line as users run it (`bench.clock.run_tool`: process wall and peak RSS
by /usr/bin/time); `work` runs with `--work W`, whose plans do not depend on the machine's
load, to compare search changes on a busy machine. `where` splits a plan's objective by
locality against the MIP's plan.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
SEEDS = [(1.0, s) for s in (1, 2, 3, 4, 5, 6)] + [(1.05, s) for s in (7, 8)]


def instances() -> dict[str, Path]:
    from bench.sized import sized
    from rebalancer.synth.county import write_scenario

    found = {}
    for ratio, seed in SEEDS:
        name = f"sized5k-r{ratio:.2f}-s{seed}"
        found[name] = folder = OUT / "converge" / name
        if not (folder / "children.csv").exists():
            write_scenario(sized(5_000, ratio, seed=seed, with_calendar=False)[0], folder,
                           "csv")
    return found


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def _each_in_a_process(todo: list[str], file: Path, jobs: int, call: Callable[[str], str],
                       show: tuple[str, ...]) -> None:
    """For each name, the JSON of `call(name)` (a call of a `bench.sized` function) run in a
    process of its own, `jobs` at once, added to `file` as each ends."""

    def one(name: str) -> tuple[str, dict[str, Any]]:
        code = ("import json; from pathlib import Path; from bench.sized import "
                f"component_bound, reference_mip; print(json.dumps({call(name)}))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=HERE.parent)
        if done.returncode != 0:
            return name, {"error": done.stderr.strip().splitlines()[-1:]}
        return name, json.loads(done.stdout.strip().splitlines()[-1])

    with ThreadPoolExecutor(jobs) as pool:
        for name, got in pool.map(one, todo):
            have = _load(file)
            have[name] = got
            file.write_text(json.dumps(have, indent=2))
            print(name, {k: got.get(k) for k in show}, flush=True)


def refs(names: list[str], found: dict[str, Path], limit: float, jobs: int) -> None:
    """HiGHS's MIP on each county's whole model, one thread each, cached in
    bench/out/converge-refs.json with its plan."""
    file = OUT / "converge-refs.json"
    todo = [n for n in names if n not in _load(file)]
    _each_in_a_process(
        todo, file, jobs, lambda name: f"reference_mip(Path({str(found[name])!r}), {limit!r}, 1, "
        f"Path({str(OUT / 'converge' / f'{name}-mip.csv')!r}))",
        ("objective", "bound", "proven", "seconds"))


def bounds(names: list[str], found: dict[str, Path], limit: float, jobs: int) -> None:
    """The optimum's lower bound locality by locality (`bench.sized.component_bound`), each
    county in its own process, `jobs` at once, cached in bench/out/converge-bounds.json."""
    file = OUT / "converge-bounds.json"
    todo = [n for n in names if n not in _load(file)]
    _each_in_a_process(todo, file, jobs,
                       lambda name: f"component_bound(Path({str(found[name])!r}), {limit!r})",
                       ("bound", "proven", "error"))


def runs(names: list[str], found: dict[str, Path], limits: list[float], n: int,
         work: bool) -> None:
    from bench.clock import run_tool

    file = OUT / "converge-runs.json"
    for name in names:
        for limit in limits:
            key = f"{name}@{'work' if work else 'limit'}{limit:g}"
            extra = ("--work", str(limit)) if work else ()
            got = [run_tool(found[name], 10 * limit if work else limit,
                            OUT / "converge" / "runs" / f"{key}-{r}", *extra)
                   for r in range(n)]
            results = _load(file)
            results[key] = {"name": name, "limit": limit, "work": work, "runs": got}
            file.write_text(json.dumps(results, indent=2))
            print(key, [(r.get("week0_objective"), r.get("wall"), r.get("reproducible"))
                        for r in got], flush=True)


def where(name: str, found: dict[str, Path], plan_dir: Path | None) -> None:
    """Per locality: overload points, peak utilisation and changes of worker, the tool's plan
    against the MIP's, so the gap can be placed."""
    import numpy as np
    import pandas as pd

    from rebalancer.config import load_config
    from rebalancer.io.inputs import load_inputs
    from rebalancer.model.build import build_case_model
    from rebalancer.model.plan import assigned_workers_from_plan, loads

    inp = found[name]
    cfg = load_config(None, {"plan_date": "2026-12-01"})
    cm = build_case_model(load_inputs(inp / "workers.csv", inp / "children.csv", None, None,
                                      cfg), cfg)
    tool = plan_dir or OUT / "converge" / "runs" / f"{name}@limit60-0"
    plans = {"mip": pd.read_csv(OUT / "converge" / f"{name}-mip.csv", dtype=str).fillna(""),
             "tool": pd.read_csv(tool / "plan.csv", dtype=str).fillna("")}
    wk = cm.frame.workers
    cap = np.asarray(cm.capacity, float)
    loc = wk["locality"].to_numpy(object)
    child_loc = cm.frame.children["locality"].to_numpy(object)
    current = cm.current
    table = {}
    for label, plan in plans.items():
        after = assigned_workers_from_plan(cm, plan)
        load, _ = loads(cm, after)
        moved = (after != current) & (current >= 0)
        for lc in sorted(set(loc)):
            a = loc == lc
            table[(lc, label)] = {
                "over_points": round(float(np.maximum(load[a] - cap[a], 0).sum()), 1),
                "peak": round(float((load[a] / cap[a]).max()), 3),
                "over_workers": int((load[a] > cap[a] + 1e-9).sum()),
                "moves": int((moved & (child_loc == lc)).sum())}
    print(pd.DataFrame(table).T.to_string())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["refs", "bounds", "run", "work", "where", "table"])
    ap.add_argument("name", nargs="?")
    ap.add_argument("--mip-limit", type=float, default=480.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limits", type=float, nargs="+", default=[20.0, 60.0])
    ap.add_argument("--works", type=float, nargs="+", default=[10.0, 40.0])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--plan", type=Path, default=None)
    args = ap.parse_args()
    found = instances()
    names = [n for n in found if args.only is None or n in args.only]
    if args.what == "refs":
        refs(names, found, args.mip_limit, args.jobs)
    elif args.what == "bounds":
        bounds(names, found, args.mip_limit, args.jobs)
    elif args.what == "run":
        runs(names, found, args.limits, args.runs, work=False)
    elif args.what == "work":
        runs(names, found, args.works, 1, work=True)
    elif args.what == "where":
        where(args.name, found, args.plan)
    else:
        print(table(found))


def table(found: dict[str, Path]) -> str:
    refs_, results = _load(OUT / "converge-refs.json"), _load(OUT / "converge-runs.json")
    best: dict[str, float] = {}
    for r in results.values():
        for x in r["runs"]:
            if x.get("week0_objective") is not None:
                best[r["name"]] = min(best.get(r["name"], float("inf")), x["week0_objective"])
    lines = ["| instance | reference | runs | gap to reference | process wall s | peak GB |",
             "|---|---|---|---|---|---|"]
    for _key, r in sorted(results.items()):
        name = r["name"]
        ref = refs_.get(name, {})
        mip = ref.get("objective")
        reference = min(v for v in (mip, best.get(name)) if v is not None)
        kind = ("MIP, proven" if ref.get("proven") else "MIP") if mip is not None and \
            mip <= reference + 1e-6 else "best run"
        gaps = ", ".join(f"{(x['week0_objective'] - reference) / reference:.2%}"
                         for x in r["runs"] if x.get("week0_objective") is not None)
        walls = ", ".join(f"{x.get('wall', 0):.1f}" for x in r["runs"])
        peak = max((x.get("rss_gb", 0) for x in r["runs"]), default=0)
        what = f"--work {r['limit']:g}" if r["work"] else f"--time-limit {r['limit']:g}"
        lines.append(f"| {name} | {reference:,.0f} ({kind}) | {what} | {gaps} | {walls} | "
                     f"{peak:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
