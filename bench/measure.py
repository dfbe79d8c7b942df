"""One measurement in its own process, so that peak memory is this method's alone.

    python -m bench.measure METHOD INSTANCE_DIR TIME_LIMIT OUT_DIR

METHOD: rebalancer (the tool), manual (least-utilised, highest priority first), naive (CP-SAT
on all eligible pairs, no hint, default parameters), lp (HiGHS LP relaxation bound).
Prints one JSON line. Times run from reading the inputs to the written plan.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def _peak_mb() -> float:
    """This process's own peak (VmHWM). Not ru_maxrss: Linux carries that across exec, so a
    measurement started by a parent holding gigabytes (the MIP reference) would report the
    parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timeline_gap(timeline: list[tuple[float, float]], bound: float, target: float
                  ) -> float | None:
    """First time (s) the best objective was within `target` of the bound."""
    for t, obj in timeline:
        if obj > 0 and (obj - bound) / obj <= target:
            return t
    return None


def rebalancer(inp: Path, limit: float, out: Path) -> dict[str, Any]:
    from rebalancer.config import load_config
    from rebalancer.model.build import COST_SCALE
    from rebalancer.model.summary import to_plain
    from rebalancer.pipeline import InputPaths, rebalance
    from rebalancer.signoff.audit import Trail

    t0 = time.perf_counter()
    timeline: list[tuple[float, float]] = []
    cfg = load_config(None, {"plan_date": "2026-12-01", "solver.time_limit": limit})
    def progress(elapsed: float, objective: float, bound: float) -> None:
        timeline.append((time.perf_counter() - t0, objective / COST_SCALE))

    r = rebalance(InputPaths(inp / "workers.csv", inp / "children.csv"), cfg, out, "parquet",
                  Trail.at().hook(), progress)
    s = r.summary
    timings = s.solver.timings or {}
    return {"wall": time.perf_counter() - t0, "objective": s.objective,
            "build": timings["load_seconds"] + timings["build_seconds"],
            "solver_bound": s.best_bound, "timeline": timeline,
            "pairs": s.solver.candidate_pairs, "units": s.solver.decision_units,
            "excess": s.max_new_yielded.excess_total,
            "kpis_after": to_plain(s.kpis.after), "kpis_before": to_plain(s.kpis.before)}


def _prepared(inp: Path) -> tuple[Any, Any, float, float]:
    from rebalancer.config import load_config
    from rebalancer.io.inputs import load_inputs
    from rebalancer.model.build import build_case_model

    t0 = time.perf_counter()
    cfg = load_config(None, {"plan_date": "2026-12-01"})
    cm = build_case_model(load_inputs(inp / "workers.csv", inp / "children.csv", None, None,
                                      cfg), cfg)
    return cfg, cm, t0, time.perf_counter() - t0


def _write(cm: Any, sol: Any, out: Path) -> float:
    """Extract and write like the tool does; returns the plan's objective (contract terms)."""
    from rebalancer.io.outputs import write_outputs
    from rebalancer.model.plan import build_plan, build_workers, objective_terms

    plan = build_plan(cm, sol)
    workers = build_workers(cm, plan)
    value = sum(objective_terms(cm, plan, workers).values())
    write_outputs(out, "parquet", {"plan": plan, "workers": workers},
                  lambda outputs: {"objective": value, "outputs": outputs})
    return value


def manual(inp: Path, limit: float, out: Path) -> dict[str, Any]:
    from solvers import Solution, Status, evaluate, greedy

    _, cm, t0, build = _prepared(inp)
    plan = greedy(cm.problem, rule="least_utilised")
    sol = Solution(Status.FEASIBLE, plan, float("nan"), float("nan"), 0.0, "manual")
    value = _write(cm, sol, out)
    return {"wall": time.perf_counter() - t0, "build": build, "objective": value,
            "excess": evaluate(cm.problem, plan).excess}


def naive(inp: Path, limit: float, out: Path) -> dict[str, Any]:
    """CP-SAT's defaults on the whole model: no hint, no LP, no decomposition, no LNS. It is
    given the least MAX_NEW excess (computed outside its clock) so that it solves the same
    problem."""
    from ortools.sat.python import cp_model

    from rebalancer.model.build import COST_SCALE
    from solvers import Solution, SolveContext, Status, greedy
    from solvers.cpsat import build as build_model
    from solvers.cpsat import least_excess

    _, cm, t0, build = _prepared(inp)
    p = cm.problem
    cap = None
    pause = time.perf_counter()
    if p.new_limit_soft:
        cap, _, _ = least_excess(p, greedy(p), SolveContext.start(0.1 * limit))
    t0 += time.perf_counter() - pause  # not on the naive model's clock
    built = build_model(p, cap)
    timeline: list[tuple[float, float]] = []

    class Cb(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            timeline.append((time.perf_counter() - t0, self.objective_value / COST_SCALE))

    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 2
    solver.parameters.max_time_in_seconds = max(limit - (time.perf_counter() - t0), 1.0)
    status = solver.solve(built.model, Cb())
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {"wall": time.perf_counter() - t0, "build": build, "objective": None,
                "timeline": timeline, "status": solver.status_name(status)}
    import pandas as pd

    vals = solver.boolean_values(pd.Series(built.x)).to_numpy(dtype=bool)
    plan = np.full(p.n_items, -1, np.int64)
    plan[p.pair_item[vals]] = np.flatnonzero(vals)
    value = _write(cm, Solution(Status.FEASIBLE, plan, 0.0, 0.0, 0.0, "naive"), out)
    return {"wall": time.perf_counter() - t0, "build": build, "objective": value,
            "timeline": timeline, "status": solver.status_name(status)}


def lp(inp: Path, limit: float, out: Path) -> dict[str, Any]:
    from rebalancer.model.build import COST_SCALE
    from solvers import SolveContext, greedy
    from solvers.cpsat import least_excess
    from solvers.lp import lp_bound
    from solvers.solve import components, subproblem

    _, cm, t0, build = _prepared(inp)
    p = cm.problem
    cap = None
    if p.new_limit_soft:  # the least excess is a sum over independent components
        n, item_comp, agent_comp = components(p)
        cap = 0
        for c in range(n):
            sub, _ = subproblem(p, np.flatnonzero(item_comp == c),
                                np.flatnonzero(agent_comp == c))
            cap += least_excess(sub, greedy(sub), SolveContext.start(30.0))[0]
    res = lp_bound(p, cap, SolveContext.start(0.0, wall=3600))
    return {"wall": time.perf_counter() - t0, "build": build, "bound": res.bound / COST_SCALE,
            "lp_seconds": res.seconds, "status": res.status.value, "excess_cap": cap}


if __name__ == "__main__":
    method, inp, limit, out = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), Path(
        sys.argv[4])
    result = globals()[method](inp, limit, out)
    result["peak_mb"] = _peak_mb()
    print(json.dumps(result, default=float))
