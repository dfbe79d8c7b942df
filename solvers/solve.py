"""The solve, in stages: greedy start, least excess, LP bound, a full CP-SAT probe, then LNS.

Each stage hands the next a feasible plan, so a time limit or Ctrl-C at any point returns the
best plan found so far. The bound is the better of the LP relaxation (HiGHS) and CP-SAT's own.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from solvers.cpsat import _parameters, add_hint, build, least_excess, restrict
from solvers.evaluate import evaluate
from solvers.greedy import greedy
from solvers.lns import improve
from solvers.problem import AssignmentProblem, IntArray, Solution, Status

DTIME_LOG: list[tuple[float, float]] = []  # (deterministic, wall) of each full-model solve
Progress = Callable[[float, float, float], None]  # elapsed seconds, best objective, best bound

PROBE_MAX_PAIRS = 20_000  # beyond this, the full model rarely closes its gap; LNS does better
# Shares of the time limit. Each stage's budget is fixed in advance (deterministic time for
# CP-SAT, an iteration count for LNS), never "whatever is left on the clock", so that the same
# inputs, seed and threads give the same plan; the clock only guards the overall time limit.
# CP-SAT overshoots a deterministic limit by up to 3x on these models (measured), hence the
# small shares: a typical run ends well inside its time limit, and the same plan comes back.
EXCESS_SHARE = 0.03
LP_SHARE = 0.25  # HiGHS's own time limit; the LP normally takes a small part of it
FIX_SHARE = 0.06
PROBE_SHARE = 0.1
LNS_SHARE = 0.45
LNS_ITERATIONS_PER_SECOND = 24  # measured ~30 on the 4,500-child demo, 2-core machine


def lp_fixing(p: AssignmentProblem, x: np.ndarray) -> np.ndarray:
    """Pairs left after fixing every item the LP relaxation decided integrally.

    An item whose LP value is integral keeps only the LP's pair (or none, if the LP left an
    optional item out); an item the LP split stays free. On 4,500-child counties about 90% of
    items come out integral, and CP-SAT places the rest far better than any greedy rule.
    """
    tol = 1e-6
    integral_one = x >= 1 - tol
    frac = (x > tol) & ~integral_one
    item_frac = np.zeros(p.n_items, bool)
    item_frac[p.pair_item[frac]] = True
    return integral_one | item_frac[p.pair_item]


def _full_model(p: AssignmentProblem, start: IntArray | None, excess_cap: int | None,
                time_limit: float, seed: int, threads: int, stop: threading.Event | None,
                wall_cap: float | None = None) -> tuple[IntArray | None, float, bool, bool]:
    """CP-SAT on the whole model, in a thread so Ctrl-C can stop it: (plan, bound, optimal,
    interrupted)."""
    built = build(p, excess_cap)
    if start is not None:
        add_hint(built, p, start)
    solver = cp_model.CpSolver()
    _parameters(solver, time_limit, seed, threads, wall_cap)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.setdefault("s", solver.solve(built.model)),
                              daemon=True)
    worker.start()
    interrupted = False
    try:
        while worker.is_alive():
            worker.join(0.1)
            if stop is not None and stop.is_set() and not interrupted:
                interrupted = True
                solver.stop_search()
    except KeyboardInterrupt:
        interrupted = True
        solver.stop_search()
        worker.join()
    status = result.get("s", cp_model.UNKNOWN)
    DTIME_LOG.append((solver.deterministic_time, solver.wall_time))
    if status == cp_model.INFEASIBLE:
        return None, float("inf"), False, interrupted
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, float(solver.best_objective_bound), False, interrupted
    vals = solver.boolean_values(pd.Series(built.x)).to_numpy(dtype=bool)
    plan = np.full(p.n_items, -1, np.int64)
    plan[p.pair_item[vals]] = np.flatnonzero(vals)
    return plan, float(solver.best_objective_bound), status == cp_model.OPTIMAL, interrupted


def solve(p: AssignmentProblem, *, time_limit: float = 60.0, seed: int = 0, threads: int = 2,
          progress: Progress | None = None, stop: threading.Event | None = None,
          use_lp: bool = True, use_lns: bool = True) -> Solution:
    """Best plan within the time limit, with status, bound and the time each stage took."""
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    left = lambda: deadline - time.perf_counter()  # noqa: E731
    stats: dict[str, float] = {"pairs": float(p.n_pairs)}
    if p.n_pairs == 0:  # nothing to decide: every optional item is out, and no item must be in
        nothing = np.full(p.n_items, -1, np.int64)
        if p.item_must.any():
            return Solution(Status.INFEASIBLE, nothing, float("inf"), float("inf"), 0.0)
        value = float(evaluate(p, nothing).objective)
        return Solution(Status.OPTIMAL, nothing, value, value, time.perf_counter() - t0)

    best: IntArray | None = None
    best_key = (np.inf, np.inf)
    bound = float("-inf")
    excess_cap: int | None = None
    interrupted = False

    def offer(plan: IntArray | None, source: str) -> None:
        nonlocal best, best_key
        if plan is None:
            return
        ev = evaluate(p, plan)
        if ev.feasible and (ev.excess, ev.objective) < best_key:
            best, best_key = plan, (ev.excess, ev.objective)
            stats["source_" + source] = float(ev.objective)
            if progress is not None:
                progress(time.perf_counter() - t0, float(ev.objective), bound)

    def stage(name: str) -> Callable[[], None]:
        began = time.perf_counter()
        return lambda: stats.__setitem__(f"{name}_seconds", time.perf_counter() - began)

    try:
        done = stage("greedy")
        offer(greedy(p), "greedy")
        done()
        if p.new_limit_soft and best is not None:
            done = stage("excess")
            excess_cap, placed = least_excess(p, best, EXCESS_SHARE * time_limit, seed, threads,
                                              wall_cap=left())
            if placed is not None:
                offer(greedy(dataclasses.replace(p, hint=None), initial=placed), "excess")
            stats["excess_cap"] = float(excess_cap)
            done()
        if use_lp:
            from solvers.lp import lp_bound

            done = stage("lp")
            lp = lp_bound(p, excess_cap, time_limit=max(min(LP_SHARE * time_limit, left()), 0.1))
            if lp.status == "Optimal":
                bound = max(bound, lp.bound)
                stats["lp_bound"] = lp.bound
            done()
            if lp.status == "Optimal" and p.n_pairs > PROBE_MAX_PAIRS and use_lns:
                done = stage("lp_fix")
                sub, ks = restrict(p, lp_fixing(p, lp.x))
                plan, _, _, interrupted = _full_model(sub, None, excess_cap,
                                                      FIX_SHARE * time_limit, seed, threads,
                                                      stop, wall_cap=left())
                if plan is not None:
                    offer(np.where(plan >= 0, ks[np.maximum(plan, 0)], -1), "lp_fix")
                done()
        if (p.n_pairs <= PROBE_MAX_PAIRS or not use_lns) and not interrupted:
            done = stage("cpsat")
            share = PROBE_SHARE if use_lns else 1.0
            plan, cp_bound, optimal, interrupted = _full_model(
                p, best, excess_cap, share * time_limit, seed, threads, stop, wall_cap=left())
            bound = max(bound, cp_bound)
            offer(plan, "cpsat")
            done()
            if optimal and best is not None:
                bound = max(bound, best_key[1])
        proven = best is not None and best_key[1] <= bound + 1e-6
        if use_lns and best is not None and not proven and not interrupted and left() > 0.1:
            done = stage("lns")
            iterations = max(1, round(LNS_SHARE * time_limit * LNS_ITERATIONS_PER_SECOND))
            offer(improve(p, best, left(), seed=seed, excess_cap=excess_cap, size=5,
                          sub_time=0.08, iterations=iterations,
                          on_better=lambda plan, _: offer(plan, "lns"),
                          stop=lambda: stop is not None and stop.is_set()), "lns")
            done()
    except KeyboardInterrupt:
        interrupted = True
    wall = time.perf_counter() - t0
    # a run the clock cut short may differ from the next one; one that ran its budgets does not
    stats["deadline_hit"] = float(time.perf_counter() >= deadline - 0.06 or interrupted)
    if best is None:
        status = Status.INFEASIBLE if bound == float("inf") else Status.NO_SOLUTION
        return Solution(status, np.full(p.n_items, -1, np.int64), float("nan"), bound, wall,
                        "none", interrupted, stats)
    objective = float(best_key[1])
    bound = min(bound, objective) if bound > objective else bound
    status = Status.OPTIMAL if objective <= bound + 1e-6 else Status.FEASIBLE
    source = max((k for k in stats if k.startswith("source_")),
                 key=lambda k: -stats[k]).removeprefix("source_")
    return Solution(status, best, objective, bound, wall, source, interrupted, stats)
