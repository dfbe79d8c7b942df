"""The CP-SAT model of an AssignmentProblem: one Boolean per candidate pair, plus a few aggregates."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from solvers.evaluate import evaluate
from solvers.greedy import greedy, pairs_by_item
from solvers.problem import AssignmentProblem, IntArray, Solution, Status

Progress = Callable[[float, float, float], None]  # elapsed seconds, best objective, best bound

_STATUS = {
    cp_model.OPTIMAL: Status.OPTIMAL,
    cp_model.FEASIBLE: Status.FEASIBLE,
    cp_model.INFEASIBLE: Status.INFEASIBLE,
    cp_model.MODEL_INVALID: Status.NO_SOLUTION,
    cp_model.UNKNOWN: Status.NO_SOLUTION,
}


@dataclass
class Built:
    model: cp_model.CpModel
    x: list[cp_model.IntVar]
    constant: int
    overload: dict[int, cp_model.IntVar]
    excess: dict[int, cp_model.IntVar]
    peak: cp_model.IntVar | None
    group_vars: dict[int, tuple[cp_model.IntVar, dict[int, cp_model.IntVar]]]


def _csr(keys: IntArray, n: int) -> tuple[IntArray, IntArray]:
    order = np.argsort(keys, kind="stable")
    starts = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=starts[1:])
    return order, starts


def _wsum(xs: list[cp_model.IntVar], coefs: IntArray) -> cp_model.LinearExprT:
    return cp_model.LinearExpr.weighted_sum(xs, coefs.tolist())


def define_assignment(m: cp_model.CpModel, p: AssignmentProblem, x: list[cp_model.IntVar]) -> None:
    # Each must item takes exactly one of its pairs; each optional item at most one.
    order, starts = pairs_by_item(p)
    for i in range(p.n_items):
        xs = [x[k] for k in order[starts[i]:starts[i + 1]]]
        if p.item_must[i]:
            m.add_exactly_one(xs)
        elif len(xs) > 1:
            m.add_at_most_one(xs)


def define_agent_limits(m: cp_model.CpModel, p: AssignmentProblem, x: list[cp_model.IntVar],
                        built: Built) -> list[cp_model.LinearExprT]:
    # An agent's load above capacity is overload (or forbidden); new pairs above the limit too.
    order, starts = _csr(p.pair_agent, p.n_agents)
    limits, new_count = p.new_limits(), p.new_counts()
    loads = []
    for a in range(p.n_agents):
        ks = order[starts[a]:starts[a + 1]]
        xs = [x[k] for k in ks]
        load = _wsum(xs, p.pair_load[ks])
        loads.append(load)
        most = int(p.pair_load[ks].sum())
        cap = int(p.agent_capacity[a])
        if most > cap:
            if p.overload_cost is None:
                m.add(load <= cap)
            else:
                o = m.new_int_var(0, most - cap, f"overload_{a}")
                m.add(load - o <= cap)
                built.overload[a] = o
        if limits[a] >= 0 and int(new_count[ks].sum()) > limits[a]:
            new = _wsum(xs, new_count[ks])
            if not p.new_limit_soft:
                m.add(new <= int(limits[a]))
            else:
                e = m.new_int_var(0, int(new_count[ks].sum()), f"excess_{a}")
                m.add(new - e <= int(limits[a]))
                built.excess[a] = e
    return loads


def define_peak(m: cp_model.CpModel, p: AssignmentProblem, loads: list[cp_model.LinearExprT],
                built: Built) -> None:
    # The peak is at least every agent's load/capacity ratio, in 1/peak_scale steps.
    if not p.peak_cost:
        return
    most = np.bincount(p.pair_agent, weights=p.pair_load, minlength=p.n_agents)
    cap = np.maximum(p.agent_capacity, 1)
    top = int(np.ceil((most * p.peak_scale / cap).max())) if p.n_agents else 0
    peak = m.new_int_var(0, max(top, 0), "peak")
    for a in np.flatnonzero(most > 0):
        m.add(p.peak_scale * loads[a] <= int(cap[a]) * peak)
    built.peak = peak


def define_groups(m: cp_model.CpModel, p: AssignmentProblem, x: list[cp_model.IntVar],
                  built: Built) -> None:
    # A group is split unless all its assigned items share one agent.
    groups = p.groups()
    if not p.group_split_cost or not (groups >= 0).any():
        return
    pair_group = groups[p.pair_item]
    for g in np.unique(pair_group[pair_group >= 0]):
        ks = np.flatnonzero(pair_group == g)
        split = m.new_bool_var(f"split_{g}")
        z = {int(a): m.new_bool_var(f"z_{g}_{a}") for a in np.unique(p.pair_agent[ks])}
        m.add_at_most_one(z.values())
        for k in ks:
            m.add_implication(x[k], z[int(p.pair_agent[k])]).only_enforce_if(~split)
        built.group_vars[int(g)] = (split, z)


def define_budget(m: cp_model.CpModel, p: AssignmentProblem, x: list[cp_model.IntVar]) -> None:
    # The pairs that use the budget together stay within it.
    if p.budget is None:
        return
    use = p.budget_use()
    ks = np.flatnonzero(use)
    if int(use[ks].sum()) > p.budget:
        m.add(_wsum([x[k] for k in ks], use[ks]) <= p.budget)


def define_objective(m: cp_model.CpModel, p: AssignmentProblem, x: list[cp_model.IntVar],
                     built: Built) -> None:
    # Skipping an optional item costs its skip cost: a constant, less that cost on each of its pairs.
    optional = ~p.item_must
    coef = p.pair_cost - np.where(optional[p.pair_item], p.item_skip_cost[p.pair_item], 0)
    built.constant = int(p.item_skip_cost[optional].sum())
    terms: list[cp_model.LinearExprT] = [_wsum(x, coef)]
    if built.overload:
        terms.append(_wsum(list(built.overload.values()),
                           np.full(len(built.overload), p.overload_cost or 0)))
    if built.peak is not None:
        terms.append(p.peak_cost * built.peak)
    if built.group_vars:
        splits = [s for s, _ in built.group_vars.values()]
        terms.append(_wsum(splits, np.full(len(splits), p.group_split_cost)))
    m.minimize(sum(terms) + built.constant)


def define_excess_cap(m: cp_model.CpModel, built: Built, excess_cap: int | None) -> None:
    # Soft new-pair limits: the total excess stays within what the first phase found necessary.
    if excess_cap is not None and built.excess:
        m.add(sum(built.excess.values()) <= excess_cap)


def build(p: AssignmentProblem, excess_cap: int | None = None) -> Built:
    m = cp_model.CpModel()
    x = m.new_bool_var_series("x", pd.RangeIndex(p.n_pairs)).tolist()
    built = Built(m, x, 0, {}, {}, None, {})
    define_assignment(m, p, x)
    loads = define_agent_limits(m, p, x, built)
    define_excess_cap(m, built, excess_cap)
    define_peak(m, p, loads, built)
    define_groups(m, p, x, built)
    define_budget(m, p, x)
    define_objective(m, p, x, built)
    return built


def _parameters(solver: cp_model.CpSolver, time_limit: float, seed: int, threads: int) -> None:
    prm = solver.parameters
    prm.max_time_in_seconds = max(time_limit, 0.05)
    prm.num_workers = threads
    prm.random_seed = seed
    prm.catch_sigint_signal = False
    prm.log_search_progress = False
    # Measured on 4,500-child counties: full presolve spends ~9 s before the hinted plan is even
    # reported; one presolve pass without probing reaches a better plan in the same time.
    prm.max_presolve_iterations = 1
    prm.cp_model_probing_level = 0
    prm.symmetry_level = 0


def least_excess(p: AssignmentProblem, start: IntArray, time_limit: float, seed: int,
                 threads: int) -> int:
    """Phase one of soft new-pair limits: the least total excess that places every must item.

    Only must items take part (optional ones can always stay out), so the model is small.
    Returns the best excess found in time: a cap for phase two, proven least when optimal.
    """
    start_excess = evaluate(p, start).excess
    if start_excess == 0:
        return 0
    m = cp_model.CpModel()
    must = p.item_must[p.pair_item]
    ks = np.flatnonzero(must)
    x = m.new_bool_var_series("x", pd.RangeIndex(ks.size)).tolist()
    pos = np.full(p.n_pairs, -1, np.int64)
    pos[ks] = np.arange(ks.size)
    order, starts = pairs_by_item(p)
    for i in np.flatnonzero(p.item_must):
        m.add_exactly_one([x[pos[k]] for k in order[starts[i]:starts[i + 1]]])
    limits, new = p.new_limits(), p.new_counts()
    excess = []
    agent_order, agent_starts = _csr(p.pair_agent[ks], p.n_agents)
    for a in range(p.n_agents):
        sel = agent_order[agent_starts[a]:agent_starts[a + 1]]
        if limits[a] < 0 or int(new[ks[sel]].sum()) <= limits[a]:
            continue
        e = m.new_int_var(0, int(new[ks[sel]].sum()), f"e{a}")
        m.add(_wsum([x[j] for j in sel], new[ks[sel]]) - e <= int(limits[a]))
        excess.append(e)
    m.minimize(sum(excess))
    for k in ks:
        m.add_hint(x[pos[k]], bool(start[p.pair_item[k]] == k))
    solver = cp_model.CpSolver()
    _parameters(solver, time_limit, seed, threads)
    status = solver.solve(m)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return min(int(solver.objective_value), start_excess)
    return start_excess


def add_hint(built: Built, p: AssignmentProblem, item_pair: IntArray) -> None:
    """A complete hint (every variable) lets CP-SAT start from a full solution at once."""
    chosen = np.zeros(p.n_pairs, bool)
    chosen[item_pair[item_pair >= 0]] = True
    m = built.model
    for k, v in enumerate(built.x):
        m.add_hint(v, bool(chosen[k]))
    ev = evaluate(p, item_pair)
    for a, o in built.overload.items():
        m.add_hint(o, int(ev.overload[a]))
    limits = p.new_limits()
    for a, e in built.excess.items():
        m.add_hint(e, int(max(ev.agent_new[a] - limits[a], 0)))
    if built.peak is not None:
        m.add_hint(built.peak, ev.peak)
    groups = p.groups()
    for g, (split, z) in built.group_vars.items():
        agents = {int(p.pair_agent[k]) for k in item_pair[(groups == g) & (item_pair >= 0)]}
        m.add_hint(split, len(agents) > 1)
        for a, v in z.items():
            m.add_hint(v, len(agents) == 1 and a in agents)


def restrict(p: AssignmentProblem, keep: np.ndarray) -> tuple[AssignmentProblem, IntArray]:
    """The same problem over a subset of its pairs; returns it and the kept pairs' old indices."""
    ks = np.flatnonzero(keep)
    pos = np.full(p.n_pairs, -1, np.int64)
    pos[ks] = np.arange(ks.size)
    has = np.zeros(p.n_items, bool)
    has[p.pair_item[ks]] = True
    sub = dataclasses.replace(
        p, pair_item=p.pair_item[ks], pair_agent=p.pair_agent[ks], pair_cost=p.pair_cost[ks],
        pair_load=p.pair_load[ks], item_must=p.item_must & has,
        pair_new=None if p.pair_new is None else p.pair_new[ks],
        pair_budget=None if p.pair_budget is None else p.pair_budget[ks],
        hint=None if p.hint is None else np.where(p.hint >= 0, pos[np.maximum(p.hint, 0)], -1),
    )
    return sub, ks


def lp_fixing(p: AssignmentProblem, x: np.ndarray) -> np.ndarray:
    """Pairs left after fixing every item the LP relaxation decided integrally.

    An item whose LP value is integral keeps only the LP's pair (or none, if the LP left an
    optional item out); an item the LP split stays free. The fractional part is small.
    """
    tol = 1e-6
    integral_one = x >= 1 - tol
    frac = (x > tol) & ~integral_one
    item_frac = np.zeros(p.n_items, bool)
    item_frac[p.pair_item[frac]] = True
    return integral_one | item_frac[p.pair_item]


class _Reporter(cp_model.CpSolverSolutionCallback):
    def __init__(self, progress: Progress, start: float) -> None:
        super().__init__()
        self.progress = progress
        self.start = start

    def on_solution_callback(self) -> None:
        self.progress(time.perf_counter() - self.start, self.objective_value,
                      self.best_objective_bound)


def _lp_start(p: AssignmentProblem, start: IntArray, excess_cap: int | None, t0: float,
              time_limit: float, seed: int, threads: int) -> tuple[IntArray, float]:
    """LP relaxation (HiGHS), then CP-SAT on the items the LP left fractional, everything else
    fixed as the LP chose: a near-optimal start, and the LP value as a bound."""
    from solvers.lp import lp_bound

    left = time_limit - (time.perf_counter() - t0)
    lp = lp_bound(p, excess_cap, time_limit=max(0.3 * left, 0.5))
    if lp.status != "Optimal":
        return start, float("-inf")
    sub, ks = restrict(p, lp_fixing(p, lp.x))
    left = time_limit - (time.perf_counter() - t0)
    built = build(sub, excess_cap)
    solver = cp_model.CpSolver()
    _parameters(solver, min(0.3 * left, max(5.0, 0.1 * time_limit)), seed, threads)
    status = solver.solve(built.model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return start, lp.bound
    values = solver.boolean_values(pd.Series(built.x)).to_numpy(dtype=bool)
    item_pair = np.full(p.n_items, -1, np.int64)
    item_pair[sub.pair_item[values]] = ks[values]
    fixed, greedy_ev = evaluate(p, item_pair), evaluate(p, start)
    better = fixed.feasible and (fixed.excess, fixed.objective) < (greedy_ev.excess,
                                                                   greedy_ev.objective)
    return (item_pair if better else start), lp.bound


def solve(p: AssignmentProblem, *, time_limit: float = 60.0, seed: int = 0, threads: int = 2,
          use_hint: bool = True, progress: Progress | None = None, gap_limit: float = 0.0,
          stop: threading.Event | None = None) -> Solution:
    """Solve with CP-SAT, starting from the greedy plan; a stop or a time limit returns the best
    plan found so far, and if CP-SAT has found none, the greedy plan (when it is feasible)."""
    t0 = time.perf_counter()
    start = greedy(p)
    start_ok = evaluate(p, start).feasible
    excess_cap = None
    if p.new_limit_soft and start_ok:
        excess_cap = least_excess(p, start, max(0.2 * time_limit, 0.5), seed, threads)
    lp_value = float("-inf")
    phases = {"excess_seconds": time.perf_counter() - t0}
    if use_hint and start_ok:
        start, lp_value = _lp_start(p, start, excess_cap, t0, time_limit, seed, threads)
        phases["lp_start_seconds"] = time.perf_counter() - t0 - phases["excess_seconds"]
        phases["start_objective"] = float(evaluate(p, start).objective)
        phases["lp_bound"] = lp_value
    built = build(p, excess_cap)
    if use_hint and start_ok and evaluate(p, start).excess <= (excess_cap or 0):
        add_hint(built, p, start)
    build_time = time.perf_counter() - t0
    solver = cp_model.CpSolver()
    _parameters(solver, time_limit - build_time, seed, threads)
    solver.parameters.relative_gap_limit = gap_limit
    if progress is not None:
        solver.best_bound_callback = lambda b: progress(
            time.perf_counter() - t0, float("nan"), b)
    callback = _Reporter(progress, t0) if progress is not None else None
    result: dict[str, int] = {}
    worker = threading.Thread(target=lambda: result.setdefault(
        "status", solver.solve(built.model, callback)), daemon=True)
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
    status = _STATUS[result.get("status", cp_model.UNKNOWN)]
    wall = time.perf_counter() - t0
    stats = {"build_seconds": build_time, "solve_seconds": solver.wall_time,
             "pairs": float(p.n_pairs), "excess_cap": float(excess_cap or 0), **phases}
    if status in (Status.OPTIMAL, Status.FEASIBLE):
        values = solver.boolean_values(pd.Series(built.x)).to_numpy(dtype=bool)
        item_pair = np.full(p.n_items, -1, np.int64)
        ks = np.flatnonzero(values)
        item_pair[p.pair_item[ks]] = ks
        bound = max(solver.best_objective_bound, lp_value)
        status = Status.OPTIMAL if bound >= solver.objective_value - 1e-6 else status
        return Solution(status, item_pair, solver.objective_value, bound,
                        wall, "cp-sat", interrupted, stats)
    if status is Status.INFEASIBLE:
        return Solution(status, np.full(p.n_items, -1, np.int64), float("inf"),
                        float("inf"), wall, "cp-sat", interrupted, stats)
    if start_ok:
        ev = evaluate(p, start)
        return Solution(Status.FEASIBLE, start, float(ev.objective), lp_value, wall,
                        "greedy", interrupted, stats)
    return Solution(Status.NO_SOLUTION, np.full(p.n_items, -1, np.int64), float("nan"),
                    float("nan"), wall, "cp-sat", interrupted, stats)
