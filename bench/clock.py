"""The same good plan whatever the clock: the tool as users run it, timed by process wall.

    python -m bench.clock refs  [--mip-limit 600]         # HiGHS MIP references, cached
    python -m bench.clock long  [--work 120]              # the tool's own long runs, cached
    python -m bench.clock run   [--limits 10 20 60] [--runs 2] [--only NAME ...]
    python -m bench.clock table                            # the section for bench/RESULTS.md

Instances: steady counties whose workforce is sized to demand (children's points = the staying
workers' capacity, `bench.sized`), 2,000 and 5,000 children, three seeds each; a 5,000 x 300
county in crisis; and 2,000-child crisis, steady and leavers counties (`rebalancer generate`).
Each run is `rebalancer rebalance ... --time-limit L` in its own process
under `/usr/bin/time` (wall from exec to exit, with every output and report.html written; peak
RSS). The reference is the best plan known: HiGHS's MIP on the whole model (cached in
bench/out/references.json by the inputs' sha256, proven optimal where it says so) or any run of
the tool (at the limits measured, or a long run with `--work`), whichever is lower. Two runs
of the same command give the spread: the difference of
their objectives, and whether plan.csv is byte-identical. Results: bench/out/clock.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
SIZED = [(n, seed) for n in (2_000, 5_000) for seed in (1, 2, 3)]
CRISIS = [(5_000, 300, 12)]
SCENARIOS = [("crisis", 2_000, 140, 21), ("steady", 2_000, 140, 22), ("leavers", 2_000, 140, 23)]


def instances() -> dict[str, Path]:
    """Every instance's folder, generated on first use."""
    from bench.sized import sized
    from rebalancer.synth.county import generate, write_scenario

    found: dict[str, Path] = {}
    for n, seed in SIZED:
        name = f"sized-{n // 1000}k-s{seed}"
        found[name] = folder = OUT / "instances" / name
        if not (folder / "children.csv").exists():
            write_scenario(sized(n, 1.0, seed=seed)[0], folder, "csv")
    for scenario, n, m, seed in [("crisis", *c) for c in CRISIS] + SCENARIOS:
        name = f"{scenario}-{n // 1000}k-{m}-s{seed}"
        found[name] = folder = OUT / "instances" / name
        if not (folder / "children.csv").exists():
            write_scenario(generate(n, m, seed=seed, scenario=scenario), folder, "csv")
    return found


def sha(folder: Path) -> str:
    h = hashlib.sha256()
    for name in ("workers.csv", "children.csv"):
        h.update((folder / name).read_bytes())
    return h.hexdigest()


def run_tool(folder: Path, limit: float, out: Path, *extra: str) -> dict[str, Any]:
    """One run of the command line, timed by /usr/bin/time."""
    timing = out.with_suffix(".time")
    cmd = ["/usr/bin/time", "-f", "%e %M", "-o", str(timing), str(Path(sys.executable).parent
           / "rebalancer"), "rebalance", "--workers", str(folder / "workers.csv"), "--children",
           str(folder / "children.csv"), "--out", str(out), "--time-limit", str(limit),
           "--format", "csv", "--quiet", *extra]
    subprocess.run(["rm", "-rf", str(out)], check=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent,
                          timeout=limit * 4 + 300)
    wall, rss = timing.read_text().split()[-2:]
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1], "wall": wall}
    s = json.loads((out / "summary.json").read_text())
    return {"objective": s["objective"], "lp_bound": s["solver"]["lp_bound"],
            "reproducible": s["solver"]["reproducible"], "wall": float(wall),
            "rss_gb": int(rss) / 2**20, "work": s["solver"]["work"],
            "work_used": s["solver"]["work_used"], "stage_seconds": s["solver"]["stage_seconds"],
            "plan_sha256": hashlib.sha256((out / "plan.csv").read_bytes()).hexdigest(),
            "moves": s["kpis"]["after"]["moves"],
            "week0_objective": s["solver"].get("week0_objective")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["refs", "long", "run", "table"])
    ap.add_argument("--work", type=float, default=120.0, help="the long runs' work")
    ap.add_argument("--mip-limit", type=float, default=600.0)
    ap.add_argument("--limits", type=float, nargs="+", default=[10.0, 20.0, 60.0])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    refs_file, res_file = OUT / "references.json", OUT / "clock.json"
    refs = json.loads(refs_file.read_text()) if refs_file.exists() else {}
    results = json.loads(res_file.read_text()) if res_file.exists() else {}
    found = instances()
    names = [n for n in found if args.only is None or n in args.only]
    if args.what == "refs":
        from bench.sized import reference_mip

        for name in names:
            key = sha(found[name])
            if key not in refs:
                print(f"{name}: HiGHS MIP, {args.mip_limit:g} s ...", flush=True)
                refs[key] = {"name": name, **reference_mip(found[name], args.mip_limit)}
                refs_file.write_text(json.dumps(refs, indent=2))
            print(name, {k: refs[key].get(k) for k in ("objective", "bound", "proven")})
        return
    long_file = OUT / "long.json"
    long_runs = json.loads(long_file.read_text()) if long_file.exists() else {}
    if args.what == "long":  # a reference from the tool itself: a long run, in work
        for name in names:
            if name not in long_runs:
                long_runs[name] = run_tool(found[name], 20 * args.work,
                                           OUT / "runs" / f"{name}-long", "--work",
                                           str(args.work))
                long_file.write_text(json.dumps(long_runs, indent=2))
            print(name, long_runs[name].get("objective"), flush=True)
        return
    if args.what == "table":
        print(table(results, refs, found, long_runs))
        return
    for name in names:
        for limit in args.limits:
            key = f"{name}@{limit:g}"
            runs = [run_tool(found[name], limit, OUT / "runs" / f"{key}-{r}")
                    for r in range(args.runs)]
            results[key] = {"name": name, "limit": limit, "runs": runs}
            res_file.write_text(json.dumps(results, indent=2))
            print(key, [(r.get("objective"), r.get("wall"), r.get("reproducible")) for r in runs],
                  flush=True)


def table(results: dict[str, Any], refs: dict[str, Any], found: dict[str, Path],
          long_runs: dict[str, Any]) -> str:
    """Rows of instance x limit: gap to the reference, process wall, spread of two runs."""
    best: dict[str, float] = {name: r["objective"] for name, r in long_runs.items()
                              if r.get("objective") is not None}
    for r in results.values():
        for run in r["runs"]:
            if run.get("objective") is not None:
                best[r["name"]] = min(best.get(r["name"], float("inf")), run["objective"])
    lines = ["| instance | limit s | reference | gap to reference (runs) | gap to LP bound | "
             "process wall s | peak GB | reproducible | two runs |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results.values():
        name = r["name"]
        ref = refs.get(sha(found[name]), {}) if name in found else {}
        mip = ref.get("objective")
        reference = min(v for v in (mip, best.get(name)) if v is not None)
        long_value = long_runs.get(name, {}).get("objective")
        kind = ("MIP, proven" if ref.get("proven") else "MIP") if mip is not None and \
            mip <= reference + 1e-6 else "long run" if long_value is not None and \
            long_value <= reference + 1e-6 else "best run"
        runs = [x for x in r["runs"] if x.get("objective") is not None]
        if not runs:
            lines.append(f"| {name} | {r['limit']:g} | - | failed | | | | | |")
            continue
        gaps = ", ".join(f"{(x['objective'] - reference) / reference:.2%}" for x in runs)
        lp = runs[0]["lp_bound"]
        lp_gap = "-" if lp is None else f"{(runs[0]['objective'] - lp) / runs[0]['objective']:.2%}"
        walls = ", ".join(f"{x['wall']:.1f}" for x in runs)
        same = len({x["plan_sha256"] for x in runs}) == 1
        spread = "identical" if same else \
            f"differ by {abs(runs[0]['objective'] - runs[-1]['objective']):,.0f}"
        lines.append(f"| {name} | {r['limit']:g} | {reference:,.0f} ({kind}) | {gaps} | {lp_gap} "
                     f"| {walls} | {max(x['rss_gb'] for x in runs):.2f} | "
                     f"{', '.join('yes' if x['reproducible'] else 'no' for x in runs)} | "
                     f"{spread} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
