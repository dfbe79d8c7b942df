"""The CP-SAT model of an AssignmentProblem: a Boolean per candidate pair, plus a few aggregates."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from solvers.context import SolveContext
from solvers.evaluate import evaluate
from solvers.greedy import pairs_by_item
from solvers.problem import AssignmentProblem, IntArray, hint_in, take
from solvers.sparse import csr


@dataclass
class Built:
    model: cp_model.CpModel
    x: list[cp_model.IntVar]
    constant: int
    overload: dict[int, cp_model.IntVar]
    band_over: dict[tuple[int, int], cp_model.IntVar]  # (band, agent) -> load above its start
    excess: dict[int, cp_model.IntVar]
    peak: cp_model.IntVar | None
    group_vars: dict[int, tuple[cp_model.IntVar, dict[int, cp_model.IntVar]]]


# CP-SAT's deterministic time per wall second on a 2-core machine like CI's, by thread count
# (measured 0.72 with one worker, 1.28 with two interleaved; set a little below, so that the
# deterministic limit, not the clock, normally ends a solve: same inputs, same plan).
DTIME_PER_SECOND = {1: 0.6, 2: 1.1}


def _wsum(xs: list[cp_model.IntVar], coefs: IntArray) -> cp_model.LinearExpr:
    return cast(cp_model.LinearExpr, cp_model.LinearExpr.weighted_sum(xs, coefs.tolist()))


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
                        built: Built) -> list[cp_model.LinearExpr]:
    # An agent's load above capacity is overload (or forbidden); new pairs above the limit too.
    order, starts = csr(p.pair_agent, p.n_agents)
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


def define_overload_bands(m: cp_model.CpModel, p: AssignmentProblem,
                          loads: list[cp_model.LinearExpr], built: Built) -> None:
    # Each band charges its extra cost on the load above the band's start (convex, so the
    # variable settles at max(load - start, 0) when minimised).
    starts, costs = p.bands()
    most = np.bincount(p.pair_agent, weights=p.pair_load, minlength=p.n_agents).astype(np.int64)
    for b in range(costs.size):
        if costs[b] == 0:
            continue
        for a in np.flatnonzero(most > starts[b]):
            v = m.new_int_var(0, int(most[a] - starts[b, a]), f"band_{b}_{a}")
            m.add(loads[a] - v <= int(starts[b, a]))
            built.band_over[(b, int(a))] = v


def define_peak(m: cp_model.CpModel, p: AssignmentProblem, loads: list[cp_model.LinearExpr],
                built: Built, floor: int = 0) -> None:
    # The peak is at least every agent's load/capacity ratio, in 1/peak_scale steps (and at least
    # `floor`, the peak of agents outside a neighbourhood).
    if not p.peak_cost:
        return
    most = np.bincount(p.pair_agent, weights=p.pair_load, minlength=p.n_agents)
    cap = np.maximum(p.agent_capacity, 1)
    top = int(np.ceil((most * p.peak_scale / cap).max())) if p.n_agents else 0
    peak = m.new_int_var(floor, max(top, floor), "peak")
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
                     built: Built, excess_cost: int = 0) -> None:
    # Skipping an optional item costs its skip cost: a constant, less that cost on each of its pairs
    optional = ~p.item_must
    coef = p.pair_cost - np.where(optional[p.pair_item], p.item_skip_cost[p.pair_item], 0)
    built.constant = int(p.item_skip_cost[optional].sum())
    terms: list[cp_model.LinearExpr] = [_wsum(x, coef)]
    if built.overload:
        terms.append(_wsum(list(built.overload.values()),
                           np.full(len(built.overload), p.overload_cost or 0)))
    if built.band_over:
        _, band_cost = p.bands()
        terms.append(_wsum(list(built.band_over.values()),
                           np.array([band_cost[b] for b, _ in built.band_over], np.int64)))
    if built.peak is not None:
        terms.append(p.peak_cost * built.peak)
    if excess_cost and built.excess:  # only in neighbourhoods: excess first, lexicographically
        terms.append(_wsum(list(built.excess.values()), np.full(len(built.excess), excess_cost)))
    if built.group_vars:
        splits = [s for s, _ in built.group_vars.values()]
        terms.append(_wsum(splits, np.full(len(splits), p.group_split_cost)))
    m.minimize(sum(terms) + built.constant)


def define_excess_cap(m: cp_model.CpModel, built: Built, excess_cap: int | None) -> None:
    # Soft new-pair limits: the total excess stays within what the first phase found necessary.
    if excess_cap is not None and built.excess:
        m.add(sum(built.excess.values()) <= excess_cap)


def build(p: AssignmentProblem, excess_cap: int | None = None, peak_floor: int = 0,
          excess_cost: int = 0) -> Built:
    m = cp_model.CpModel()
    x = m.new_bool_var_series("x", pd.RangeIndex(p.n_pairs)).tolist()
    built = Built(m, x, 0, {}, {}, {}, None, {})
    define_assignment(m, p, x)
    loads = define_agent_limits(m, p, x, built)
    define_overload_bands(m, p, loads, built)
    define_excess_cap(m, built, excess_cap)
    define_peak(m, p, loads, built, peak_floor)
    define_groups(m, p, x, built)
    define_budget(m, p, x)
    define_objective(m, p, x, built, excess_cost)
    return built


class Presolve(enum.Enum):
    """How much presolve a CP-SAT call does."""

    LIGHT = "light"  # one pass, no probing: reaches a hinted plan far sooner (measured below)
    FULL = "full"  # CP-SAT's own defaults (portfolio, full presolve): finding any plan at all
    OFF = "off"  # a neighbourhood of a few hundred variables from a known plan


def parameters(solver: cp_model.CpSolver, ctx: SolveContext,
               presolve: Presolve = Presolve.LIGHT) -> None:
    """The deterministic limit (the context's work) is what normally stops a solve, so that the
    same inputs, seed and threads give the same plan; the clock's deadline is a valve."""
    prm = solver.parameters
    prm.max_time_in_seconds = max(ctx.left(), 0.05)
    prm.max_deterministic_time = max(ctx.work * _dtime_rate(ctx.threads), 0.005)
    prm.interleave_search = ctx.threads > 1
    prm.num_workers = ctx.threads
    prm.random_seed = ctx.seed
    prm.catch_sigint_signal = False
    prm.log_search_progress = False
    if presolve is Presolve.FULL:
        prm.interleave_search = False
        return
    # Measured on 4,500-child counties: full presolve spends ~9 s before the hinted plan is even
    # reported; one presolve pass without probing reaches a better plan in the same time.
    prm.max_presolve_iterations = 1
    prm.cp_model_probing_level = 0
    prm.symmetry_level = 0
    if presolve is Presolve.OFF:
        prm.cp_model_presolve = False


def _dtime_rate(threads: int) -> float:
    return DTIME_PER_SECOND[1] if threads == 1 else DTIME_PER_SECOND[2]


@dataclass
class Ran:
    """A finished CP-SAT call: its status, the solver to read values from, and its
    deterministic time with the rate that turns it into work units."""

    status: cp_model.CpSolverStatus
    solver: cp_model.CpSolver
    dtime: float
    rate: float

    @property
    def work_used(self) -> float:
        return self.dtime / self.rate

    @property
    def found(self) -> bool:
        return self.status in (cp_model.OPTIMAL, cp_model.FEASIBLE)

    def values(self, xs: list[cp_model.IntVar]) -> np.ndarray:
        return self.solver.boolean_values(pd.Series(xs)).to_numpy(dtype=bool)


def run(model: cp_model.CpModel, ctx: SolveContext, presolve: Presolve = Presolve.LIGHT) -> Ran:
    """CP-SAT on `model` within the context's work, through its runner (counted, stoppable)."""
    solver = cp_model.CpSolver()
    parameters(solver, ctx, presolve)
    status = ctx.run(lambda: solver.solve(model), solver.stop_search)
    return Ran(status, solver, float(solver.deterministic_time), _dtime_rate(ctx.threads))


@dataclass
class Outcome:
    """CP-SAT on a whole problem: the plan (None when it found none), the bound it proved
    (inf when infeasible), whether the plan is optimal, and the work used."""

    plan: IntArray | None
    bound: float
    optimal: bool
    work_used: float


def solve_model(p: AssignmentProblem, ctx: SolveContext, start: IntArray | None = None,
                excess_cap: int | None = None, presolve: Presolve = Presolve.LIGHT) -> Outcome:
    """CP-SAT on the whole model of `p`, from `start` when given."""
    built = build(p, excess_cap)
    if start is not None:
        add_hint(built, p, start)
    ran = run(built.model, ctx, presolve)
    if ran.status == cp_model.INFEASIBLE:
        return Outcome(None, float("inf"), False, ran.work_used)
    if not ran.found:  # stopped before CP-SAT found a plan, or out of work
        return Outcome(None, float(ran.solver.best_objective_bound), False, ran.work_used)
    vals = ran.values(built.x)
    plan = np.full(p.n_items, -1, np.int64)
    plan[p.pair_item[vals]] = np.flatnonzero(vals)
    return Outcome(plan, float(ran.solver.best_objective_bound),
                   ran.status == cp_model.OPTIMAL, ran.work_used)


def least_excess(p: AssignmentProblem, start: IntArray, ctx: SolveContext
                 ) -> tuple[int, IntArray | None, float]:
    """Phase one of soft new-pair limits: the least total excess that places every must item.

    Only must items take part (optional ones can always stay out), so the model is small.
    Returns the best excess found within the context's work (a cap for phase two, proven least
    when optimal), the placement of the must items that achieves it (None when `start` is as
    good), and the work used.
    """
    start_excess = evaluate(p, start).excess
    if start_excess == 0:
        return 0, None, 0.0
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
    agent_order, agent_starts = csr(p.pair_agent[ks], p.n_agents)
    for a in range(p.n_agents):
        sel = agent_order[agent_starts[a]:agent_starts[a + 1]]
        if limits[a] < 0 or int(new[ks[sel]].sum()) <= limits[a]:
            continue
        e = m.new_int_var(0, int(new[ks[sel]].sum()), f"e{a}")
        m.add(_wsum([x[j] for j in sel], new[ks[sel]]) - e <= int(limits[a]))
        excess.append(e)
    # least excess first; among those, the fewest changes to the start (which keeps children
    # with their current workers): otherwise this phase would move children for nothing
    kept = [x[pos[k]] for k in ks if start[p.pair_item[k]] == k]
    weight = len(kept) + 1
    m.minimize(weight * sum(excess) - sum(kept))
    for k in ks:
        m.add_hint(x[pos[k]], bool(start[p.pair_item[k]] == k))
    ran = run(m, ctx)
    if ran.found:
        vals = ran.values(x)
        placed = np.full(p.n_items, -1, np.int64)
        placed[p.pair_item[ks[vals]]] = ks[vals]
        found = evaluate(p, placed).excess
        if found < start_excess:
            return found, placed, ran.work_used
    return start_excess, None, ran.work_used


def add_hint(built: Built, p: AssignmentProblem, item_pair: IntArray) -> None:
    """A complete hint (every variable) lets CP-SAT start from a full solution at once."""
    chosen = np.zeros(p.n_pairs, np.int64)
    chosen[item_pair[item_pair >= 0]] = 1
    m = built.model
    # the pairs' hints written to the model's proto at once (one call a variable costs more
    # than the neighbourhood's solve on small models)
    m.proto.solution_hint.vars.extend([v.index for v in built.x])
    m.proto.solution_hint.values.extend(chosen.tolist())
    ev = evaluate(p, item_pair)
    for a, o in built.overload.items():
        m.add_hint(o, int(ev.overload[a]))
    starts, _ = p.bands()
    for (b, a), v in built.band_over.items():
        m.add_hint(v, int(max(ev.agent_load[a] - starts[b, a], 0)))
    limits = p.new_limits()
    for a, e in built.excess.items():
        m.add_hint(e, int(max(ev.agent_new[a] - limits[a], 0)))
    if built.peak is not None:
        # the domain as a list: OR-Tools 9.15's repeated field reads [-1] as [0], which made
        # every peak hint 0, below the plan's peak, and the hint no solution at all
        domain = list(built.peak.proto.domain)
        lo, hi = domain[0], domain[-1]
        m.add_hint(built.peak, min(max(ev.peak, lo), hi))
    groups = p.groups()
    for g, (split, z) in built.group_vars.items():
        agents = {int(p.pair_agent[k]) for k in item_pair[(groups == g) & (item_pair >= 0)]}
        m.add_hint(split, len(agents) > 1)
        for a, v in z.items():
            m.add_hint(v, len(agents) == 1 and a in agents)


def restrict(p: AssignmentProblem, keep: np.ndarray) -> tuple[AssignmentProblem, IntArray]:
    """The same problem over a subset of its pairs; returns it and the kept pairs' old indices.
    An item left with no pair becomes optional (it can only stay out)."""
    ks = np.flatnonzero(keep)
    has = np.zeros(p.n_items, bool)
    has[p.pair_item[ks]] = True
    items, agents = np.arange(p.n_items), np.arange(p.n_agents)
    sub = take(p, items, agents, ks, item_must=p.item_must & has, hint=hint_in(p, items, ks))
    return sub, ks


