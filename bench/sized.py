"""Workforces sized to demand: where capacity exists but is badly spread.

    python -m bench.sized [--sizes 2000 5000] [--ratios 0.85 1.0 1.15] [--mip-limit 600]

For each size and demand/capacity ratio, a steady county whose workforce is sized so that the
children's points are `ratio` times the staying workers' capacity (≈ 85 eligible workers a
child at 5,000). Each instance gets a reference value: HiGHS's MIP on the whole model (the
same model the LP bound relaxes) to proven optimality where it finishes within --mip-limit,
cached in bench/out/references.json by the instance's sha256; else the best plan any method
found. The tool is then measured at its time limit in its own process (bench.measure): gap to
the reference and to the LP bound, moves against the reference plan's, peak memory, and the
time it first came within 1% and 0.5% of the reference. Results: bench/out/sized.json, and a
section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
LIMITS = {2_000: 10, 5_000: 20, 20_000: 60, 50_000: 180}


def demand_ratio(tables: dict[str, Any]) -> float:
    """Children's points over the capacity of workers who stay, at the model's defaults."""
    from rebalancer.config import load_config
    from rebalancer.model.build import case_points, worker_capacity

    cfg = load_config(None, {"plan_date": "2026-12-01"})
    w, c = tables["workers"].copy(), tables["children"].copy()
    w["fte"] = w["fte"].astype(float)
    w["capacity_points"] = np.nan
    w["reduction_pct"] = w["reduction_pct"].replace("", "0").astype(float)
    c["in_proceedings"] = c["in_proceedings"] == "true"
    c["points"] = np.nan
    stays = (w["available"] == "true") & (w["leaving_on"].fillna("") == "")
    cap = worker_capacity(w, cfg.capacity)[stays.to_numpy()].sum()
    return float(case_points(c, cfg.points).sum() / cap)


def sized(n: int, ratio: float, seed: int, with_calendar: bool = True
          ) -> tuple[dict[str, Any], int]:
    """A steady county of n children whose workforce puts demand at `ratio` of capacity."""
    from rebalancer.synth.county import generate

    m = max(5, round(n / 12))
    for _ in range(6):  # the ratio is nearly linear in 1/m
        tables = generate(n, m, seed=seed, scenario="steady", with_calendar=with_calendar)
        r = demand_ratio(tables)
        new_m = max(5, round(m * r / ratio))
        if new_m == m:
            break
        m = new_m
    return generate(n, m, seed=seed, scenario="steady", with_calendar=with_calendar), m


def _sha(folder: Path) -> str:
    h = hashlib.sha256()
    for name in ("workers.csv", "children.csv"):
        h.update((folder / name).read_bytes())
    return h.hexdigest()


def highs_mip(p: Any, excess_cap: int | None, limit: float, threads: int = 2
              ) -> tuple[Any, Any]:
    """HiGHS's MIP on exactly the tool's model (solvers.lp's relaxation with the pair columns
    integral), run for at most `limit` seconds: the Highs object and the pair columns."""
    import highspy

    from solvers.lp import _highs_lp, build, quiet_highs

    lp, x = build(p, excess_cap)
    model = _highs_lp(highspy, lp)
    kinds = np.zeros(lp.n_cols, np.int64)
    kinds[x] = 1
    # the split-family variables (split, z) are the LP's only other 0-1 columns with cost or
    # group rows; marking x integral makes them integral at an optimum, so x is enough
    model.integrality_ = [highspy.HighsVarType(int(k)) for k in kinds]
    h = quiet_highs(highspy)
    h.setOptionValue("time_limit", float(limit))
    h.setOptionValue("mip_rel_gap", 1e-6)
    h.setOptionValue("threads", threads)
    h.passModel(model)
    h.run()
    return h, x


def reference_mip(inp: Path, limit: float, threads: int = 2, plan_out: Path | None = None
                  ) -> dict[str, Any]:
    """HiGHS's MIP on the whole model (the least MAX_NEW excess fixed first, as the tool does);
    its plan (child_id, to_worker_id) written to `plan_out` when given."""

    from rebalancer.config import load_config
    from rebalancer.io.inputs import load_inputs
    from rebalancer.model.build import COST_SCALE, build_case_model
    from solvers import SolveContext, greedy
    from solvers.cpsat import least_excess
    from solvers.solve import components, subproblem

    cfg = load_config(None, {"plan_date": "2026-12-01"})
    cm = build_case_model(load_inputs(inp / "workers.csv", inp / "children.csv", None, None,
                                      cfg), cfg)
    p = cm.problem
    n, item_comp, agent_comp = components(p)
    cap = 0
    for c in range(n):
        sub, _ = subproblem(p, np.flatnonzero(item_comp == c), np.flatnonzero(agent_comp == c))
        cap += least_excess(sub, greedy(sub), SolveContext.start(30.0))[0]
    t0 = time.perf_counter()
    h, x = highs_mip(p, cap, limit, threads)
    info = h.getInfo()
    status = h.modelStatusToString(h.getModelStatus())
    has = info.primal_solution_status == 2
    plan_moves = None
    if has:
        xs = np.asarray(h.getSolution().col_value)[x] > 0.5
        item_pair = np.full(p.n_items, -1, np.int64)
        item_pair[p.pair_item[xs]] = np.flatnonzero(xs)
        from rebalancer.model.plan import build_plan, kpis
        from solvers import Solution, Status

        plan = build_plan(cm, Solution(Status.FEASIBLE, item_pair, 0.0, 0.0, 0.0, "mip"))
        from rebalancer.model.plan import build_workers

        plan_moves = kpis(plan, build_workers(cm, plan), cm.forced, "after",
                          cm.recent_changes).moves
        if plan_out is not None:
            plan_out.parent.mkdir(parents=True, exist_ok=True)
            plan[["child_id", "to_worker_id"]].to_csv(plan_out, index=False)
    return {"status": status, "seconds": time.perf_counter() - t0,
            "objective": float(info.objective_function_value) / COST_SCALE if has else None,
            "bound": float(info.mip_dual_bound) / COST_SCALE, "moves": plan_moves,
            "proven": status == "Optimal",
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def component_bound(inp: Path, limit: float, threads: int = 1) -> dict[str, Any]:
    """A lower bound on the optimum, locality by locality. The model falls into connected
    components (the localities), joined only by the peak term: HiGHS's MIP on each component
    without the peak (the least MAX_NEW excess fixed first, as the tool does), plus the peak's
    cost at the peak no plan can avoid (`solvers.solve.peak_floor`), bounds every plan. Where
    every component closes, the optimum lies within the bound and the bound plus the peak's
    cost above that floor. Returns the bound and each component's objective, bound and time."""
    import dataclasses

    from rebalancer.config import load_config
    from rebalancer.io.inputs import load_inputs
    from rebalancer.model.build import COST_SCALE, build_case_model
    from solvers import SolveContext, greedy
    from solvers.cpsat import least_excess
    from solvers.solve import components, peak_floor, subproblem

    cfg = load_config(None, {"plan_date": "2026-12-01"})
    cm = build_case_model(load_inputs(inp / "workers.csv", inp / "children.csv", None, None,
                                      cfg), cfg)
    p = cm.problem
    if p.budget is not None:
        raise ValueError("a budget joins the components: no bound by component")
    n, item_comp, agent_comp = components(p)
    floor = p.peak_cost * peak_floor(p)
    parts = []
    for c in range(n):
        sub, _ = subproblem(p, np.flatnonzero(item_comp == c), np.flatnonzero(agent_comp == c))
        sub = dataclasses.replace(sub, peak_cost=0)
        cap = least_excess(sub, greedy(sub), SolveContext.start(30.0))[0]
        t0 = time.perf_counter()
        h, _ = highs_mip(sub, cap, limit, threads)
        info = h.getInfo()
        has = info.primal_solution_status == 2
        parts.append({"pairs": int(sub.n_pairs), "seconds": round(time.perf_counter() - t0, 1),
                      "objective": float(info.objective_function_value) if has else None,
                      "bound": float(info.mip_dual_bound),
                      "proven": h.modelStatusToString(h.getModelStatus()) == "Optimal"})
    return {"bound": (floor + sum(q["bound"] for q in parts)) / COST_SCALE,
            "peak_floor_cost": floor / COST_SCALE, "proven": all(q["proven"] for q in parts),
            "components": parts}


def measure_tool(inp: Path, limit: float, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.measure", "rebalancer", str(inp), str(limit), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent,
                          timeout=limit * 4 + 600)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure_lp(inp: Path, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.measure", "lp", str(inp), "0", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent, timeout=3600)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[2_000, 5_000])
    ap.add_argument("--ratios", type=float, nargs="+", default=[0.85, 1.0, 1.15])
    ap.add_argument("--mip-limit", type=float, default=600.0)
    ap.add_argument("--no-mip", action="store_true", help="reference: best plan found")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    args = ap.parse_args()
    from rebalancer.synth.county import write_scenario

    refs_file = args.out / "references.json"
    refs = json.loads(refs_file.read_text()) if refs_file.exists() else {}
    res_file = args.out / "sized.json"
    results = json.loads(res_file.read_text()) if res_file.exists() else {}
    for n in args.sizes:
        for ratio in args.ratios:
            name = f"sized-{n // 1000}k-{ratio:.2f}"
            inst = args.out / "instances" / name
            if not (inst / "children.csv").exists():
                tables, _ = sized(n, ratio, seed=n + round(100 * ratio))
                write_scenario(tables, inst, "csv")
            sha = _sha(inst)
            if sha not in refs and not args.no_mip:
                print(f"{name}: HiGHS MIP reference ...", flush=True)
                refs[sha] = {"name": name, **reference_mip(inst, args.mip_limit)}
                refs_file.write_text(json.dumps(refs, indent=2))
            limit = LIMITS.get(n, 60)
            tool = measure_tool(inst, limit, args.out / "plans" / name)
            lp = measure_lp(inst, args.out / "plans" / f"{name}-lp")
            ref = refs.get(sha, {})
            best = [v for v in (ref.get("objective"), tool.get("objective")) if v is not None]
            reference = min(best) if best else None
            row = {"name": name, "children": n, "ratio": ratio, "limit": limit,
                   "workers": len((inst / "workers.csv").read_text().splitlines()) - 1,
                   "reference": reference, "reference_proven": bool(ref.get("proven")),
                   "reference_moves": ref.get("moves"), "mip_seconds": ref.get("seconds"),
                   "lp_bound": lp.get("bound"), "tool": tool}
            if reference and tool.get("objective") is not None:
                obj = tool["objective"]
                row["gap_to_reference"] = (obj - reference) / obj
                if lp.get("bound") is not None:
                    row["gap_to_lp"] = (obj - lp["bound"]) / obj
                for target in (0.01, 0.005):
                    hit = next((t for t, o in tool.get("timeline", [])
                                if (o - reference) / max(o, 1e-9) <= target), None)
                    row[f"time_to_{target}"] = hit
            results[name] = row
            res_file.write_text(json.dumps(results, indent=2, default=float))
            print(json.dumps({k: v for k, v in row.items() if k != "tool"}, default=float),
                  f"tool wall {tool.get('wall', float('nan')):.1f}s, peak "
                  f"{tool.get('peak_mb', float('nan')):.0f} MB", flush=True)


if __name__ == "__main__":
    main()


def section(out: Path = HERE / "out") -> str:
    """The sized-workforce and analysts sections of bench/RESULTS.md, from the JSON results."""
    rows = json.loads((out / "sized.json").read_text()) if (out / "sized.json").exists() else {}
    lines = ["## Workforces sized to demand (capacity exists but is badly spread)", "",
             "Steady counties whose workforce puts demand at 0.85, 1.0 or 1.15 × the capacity of "
             "the workers who stay (`python -m bench.sized`). Reference: HiGHS's MIP on the whole "
             "model (same objective, same least MAX_NEW excess) within the MIP limit — proven "
             "optimal where marked, else its best plan or the tool's if better. Gap to reference: "
             "(tool − reference) / tool; gap to LP: (tool − LP bound) / tool. Moves: changes of "
             "worker in the tool's plan and in the reference plan.", "",
             "| instance | children × workers | limit s | tool wall s | peak MB | tool objective | "
             "reference | proven | gap to reference | gap to LP | moves (tool / ref) | "
             "time to 1% / 0.5% |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows.values():
        t = r["tool"]
        if "objective" not in t:
            lines.append(f"| {r['name']} | {r['children']:,} × {r['workers']:,} | {r['limit']} | "
                         f"failed: {t.get('error', '')[:60]} | | | | | | | | |")
            continue
        moves = t.get("kpis_after", {}).get("moves")

        def pct(x: Any) -> str:
            return "-" if x is None else f"{100 * x:.2f}%"

        def sec(x: Any) -> str:
            return "-" if x is None else f"{x:.1f}"

        lines.append(
            f"| {r['name']} | {r['children']:,} × {r['workers']:,} | {r['limit']} | "
            f"{t['wall']:.1f} | {t.get('peak_mb', 0):,.0f} | {t['objective']:,.0f} | "
            f"{(r['reference'] or 0):,.0f} | {'yes' if r['reference_proven'] else 'no'} | "
            f"{pct(r.get('gap_to_reference'))} | {pct(r.get('gap_to_lp'))} | "
            f"{moves if moves is not None else '-'} / {r.get('reference_moves') or '-'} | "
            f"{sec(r.get('time_to_0.01'))} / {sec(r.get('time_to_0.005'))} |")
    an = out / "analysts.json"
    if an.exists():
        a = json.loads(an.read_text())
        lines += ["", "## Analysts: sweep throughput and the demo's frontier", "",
                  f"{a['scenarios']} scenarios ({a['children']:,} children, {a['limit']:.0f} s "
                  f"each, `python -m bench.analysts`): one after another with 2 threads each "
                  f"{a['sequential_seconds']:.0f} s ({a['sequential_per_minute']:.1f} a minute); "
                  f"on a LocalCluster of 2 single-threaded workers {a['cluster_seconds']:.0f} s "
                  f"({a['cluster_per_minute']:.1f} a minute), ratio "
                  f"{a['sequential_seconds'] / a['cluster_seconds']:.2f}.", "",
                  f"Demo frontier ({a['frontier_seconds']:.0f} s):", "",
                  "| max_moves | discretionary moves | points over capacity | workers over "
                  "capacity | peak | objective |", "|---|---|---|---|---|---|"]
        for p in a["frontier"]:
            lines.append(f"| {p['max_moves']} | {p['moves_discretionary']} | "
                         f"{p['total_overload_points']:,.1f} | {p['workers_over_capacity']} | "
                         f"{100 * p['peak_utilisation']:.0f}% | {p['objective']:,.0f} |")
    return "\n".join(lines) + "\n"
