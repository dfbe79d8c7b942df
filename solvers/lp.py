"""The LP relaxation of an AssignmentProblem, solved with HiGHS: an independent lower bound.

Same variables and constraints as the CP-SAT model (`solvers.cpsat.build`) with integrality
dropped, built by the same flat list of `define_*` steps. Its bound does not depend on CP-SAT's
search, and its nearly integral solution guides the solve.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers.context import SolveContext
from solvers.problem import AssignmentProblem, IntArray, Status

INF = float("inf")
MIN_SECONDS = 0.2  # with less left on the clock, no LP is built: its building alone overruns


@dataclass
class LPBound:
    bound: float  # in the problem's objective units, constant included
    seconds: float
    status: Status  # OPTIMAL when the relaxation was solved; never HiGHS's own words
    x: np.ndarray  # fractional pair values


def _status(model_status: str) -> Status:
    """HiGHS's model status in our own words: only a solved relaxation is a bound."""
    if model_status == "Optimal":
        return Status.OPTIMAL
    if model_status == "Infeasible":
        return Status.INFEASIBLE
    return Status.NO_SOLUTION


def quiet_highs(highspy: Any) -> Any:
    """HiGHS prints a banner on construction, at the file-descriptor level; our stdout is for the
    user (and for scripts that read it), so the banner goes to /dev/null."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


@dataclass
class _LP:
    """Columns (cost and bounds) and sparse rows as triplets, turned into HiGHS's column-wise
    matrix at the end."""

    cost: list[np.ndarray] = field(default_factory=list)
    lower: list[np.ndarray] = field(default_factory=list)
    upper: list[np.ndarray] = field(default_factory=list)
    r: list[np.ndarray] = field(default_factory=list)
    c: list[np.ndarray] = field(default_factory=list)
    v: list[np.ndarray] = field(default_factory=list)
    lo: list[np.ndarray] = field(default_factory=list)
    hi: list[np.ndarray] = field(default_factory=list)
    n_cols: int = 0
    n_rows: int = 0
    offset: float = 0.0

    def columns(self, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> IntArray:
        first = self.n_cols
        self.cost.append(np.asarray(cost, float))
        self.lower.append(np.asarray(lower, float))
        self.upper.append(np.asarray(upper, float))
        self.n_cols += len(cost)
        return np.arange(first, self.n_cols, dtype=np.int64)

    def rows(self, rows: IntArray, cols: IntArray, vals: np.ndarray, lo: np.ndarray,
             hi: np.ndarray) -> None:
        """Rows numbered from 0 here (renumbered after the existing ones)."""
        self.r.append(np.asarray(rows, np.int64) + self.n_rows)
        self.c.append(np.asarray(cols, np.int64))
        self.v.append(np.asarray(vals, float))
        self.lo.append(np.asarray(lo, float))
        self.hi.append(np.asarray(hi, float))
        self.n_rows += len(lo)


def define_assignment(lp: _LP, p: AssignmentProblem) -> IntArray:
    # Each must item takes exactly one of its pairs, each optional item at most one; skipping an
    # optional item costs its skip cost (a constant, less that cost on each of its pairs).
    optional = ~p.item_must
    x = lp.columns(p.pair_cost - np.where(optional[p.pair_item], p.item_skip_cost[p.pair_item], 0),
                   np.zeros(p.n_pairs), np.ones(p.n_pairs))
    lp.offset = float(p.item_skip_cost[optional].sum())
    lp.rows(p.pair_item, x, np.ones(p.n_pairs), np.where(p.item_must, 1.0, -INF),
            np.ones(p.n_items))
    return x


def define_agent_limits(lp: _LP, p: AssignmentProblem, x: IntArray) -> None:
    # An agent's load above capacity is overload (or forbidden when capacity is hard).
    agents = np.arange(p.n_agents)
    rows, cols, vals = [p.pair_agent], [x], [p.pair_load.astype(float)]
    if p.overload_cost is not None:
        most = np.bincount(p.pair_agent, weights=p.pair_load, minlength=p.n_agents)
        o = lp.columns(np.full(p.n_agents, float(p.overload_cost)), np.zeros(p.n_agents),
                       np.maximum(most - p.agent_capacity, 0))
        rows.append(agents)
        cols.append(o)
        vals.append(-np.ones(p.n_agents))
    lp.rows(np.concatenate(rows), np.concatenate(cols), np.concatenate(vals),
            np.full(p.n_agents, -INF), p.agent_capacity)


def define_overload_bands(lp: _LP, p: AssignmentProblem, x: IntArray) -> None:
    # Each band charges its extra cost on the load above the band's start.
    starts, costs = p.bands()
    most = np.bincount(p.pair_agent, weights=p.pair_load, minlength=p.n_agents)
    for b in np.flatnonzero(costs):
        agents = np.flatnonzero(most > starts[b])
        if agents.size == 0:
            continue
        v = lp.columns(np.full(agents.size, float(costs[b])), np.zeros(agents.size),
                       most[agents] - starts[b, agents])
        row_of = np.full(p.n_agents, -1, np.int64)
        row_of[agents] = np.arange(agents.size)
        sel = np.flatnonzero(row_of[p.pair_agent] >= 0)
        lp.rows(np.concatenate([row_of[p.pair_agent[sel]], np.arange(agents.size)]),
                np.concatenate([x[sel], v]),
                np.concatenate([p.pair_load[sel].astype(float), -np.ones(agents.size)]),
                np.full(agents.size, -INF), starts[b, agents])


def define_new_limits(lp: _LP, p: AssignmentProblem, x: IntArray, excess_cap: int | None) -> None:
    # New pairs above an agent's limit are excess (or forbidden when the limits are hard); the
    # total excess stays within the cap the least-excess phase found.
    limits = p.new_limits()
    limited = np.flatnonzero(limits >= 0)
    if limited.size == 0:
        return
    new = p.new_counts()
    sel = np.flatnonzero(np.isin(p.pair_agent, limited))
    row_of = np.full(p.n_agents, -1, np.int64)
    row_of[limited] = np.arange(limited.size)
    rows, cols, vals = [row_of[p.pair_agent[sel]]], [x[sel]], [new[sel].astype(float)]
    if p.new_limit_soft:
        e = lp.columns(np.zeros(limited.size), np.zeros(limited.size), np.full(limited.size, INF))
        rows.append(np.arange(limited.size))
        cols.append(e)
        vals.append(-np.ones(limited.size))
    lp.rows(np.concatenate(rows), np.concatenate(cols), np.concatenate(vals),
            np.full(limited.size, -INF), limits[limited])
    if p.new_limit_soft and excess_cap is not None:
        lp.rows(np.zeros(limited.size, np.int64), e, np.ones(limited.size), np.array([-INF]),
                np.array([float(excess_cap)]))


def define_peak(lp: _LP, p: AssignmentProblem, x: IntArray) -> None:
    # The peak is at least every agent's load/capacity ratio, in 1/peak_scale steps.
    if not p.peak_cost:
        return
    peak = lp.columns(np.array([float(p.peak_cost)]), np.zeros(1), np.array([INF]))
    most = np.bincount(p.pair_agent, weights=p.pair_load, minlength=p.n_agents)
    used = np.flatnonzero(most > 0)
    row_of = np.full(p.n_agents, -1, np.int64)
    row_of[used] = np.arange(used.size)
    cap = np.maximum(p.agent_capacity, 1).astype(float)
    lp.rows(np.concatenate([row_of[p.pair_agent], np.arange(used.size)]),
            np.concatenate([x, np.full(used.size, peak[0])]),
            np.concatenate([p.peak_scale * p.pair_load.astype(float), -cap[used]]),
            np.full(used.size, -INF), np.zeros(used.size))


def define_groups(lp: _LP, p: AssignmentProblem, x: IntArray) -> None:
    # A group is split unless all its assigned items share one agent: z picks the group's one
    # agent, and a pair on another agent needs the split variable.
    groups = p.groups()
    if not p.group_split_cost or not (groups >= 0).any():
        return
    pair_group = groups[p.pair_item]
    gk = np.flatnonzero(pair_group >= 0)
    keys = np.unique(np.stack([pair_group[gk], p.pair_agent[gk]]), axis=1)
    gs = np.unique(keys[0])
    split = lp.columns(np.full(gs.size, float(p.group_split_cost)), np.zeros(gs.size),
                       np.ones(gs.size))
    z = lp.columns(np.zeros(keys.shape[1]), np.zeros(keys.shape[1]), np.ones(keys.shape[1]))
    lp.rows(np.searchsorted(gs, keys[0]), z, np.ones(z.size), np.full(gs.size, -INF),
            np.ones(gs.size))
    key_pos = np.searchsorted(keys[0] * p.n_agents + keys[1],
                              pair_group[gk] * p.n_agents + p.pair_agent[gk])
    r = np.arange(gk.size)
    lp.rows(np.concatenate([r, r, r]),
            np.concatenate([x[gk], z[key_pos], split[np.searchsorted(gs, pair_group[gk])]]),
            np.concatenate([np.ones(gk.size), -np.ones(gk.size), -np.ones(gk.size)]),
            np.full(gk.size, -INF), np.zeros(gk.size))


def define_budget(lp: _LP, p: AssignmentProblem, x: IntArray) -> None:
    # The pairs that use the budget together stay within it.
    if p.budget is None:
        return
    use = p.budget_use()
    ks = np.flatnonzero(use)
    lp.rows(np.zeros(ks.size, np.int64), x[ks], use[ks].astype(float), np.array([-INF]),
            np.array([float(p.budget)]))


def build(p: AssignmentProblem, excess_cap: int | None = None) -> tuple[_LP, IntArray]:
    lp = _LP()
    x = define_assignment(lp, p)
    define_agent_limits(lp, p, x)
    define_overload_bands(lp, p, x)
    define_new_limits(lp, p, x, excess_cap)
    define_peak(lp, p, x)
    define_groups(lp, p, x)
    define_budget(lp, p, x)
    return lp, x


def _highs_lp(highspy: Any, lp: _LP) -> Any:
    inf = highspy.kHighsInf
    r, c, v = (np.concatenate(a) if a else np.zeros(0) for a in (lp.r, lp.c, lp.v))
    order = np.lexsort((r, c))
    r, c, v = r[order].astype(np.int64), c[order].astype(np.int64), v[order]
    starts = np.zeros(lp.n_cols + 1, np.int64)
    np.cumsum(np.bincount(c, minlength=lp.n_cols), out=starts[1:])
    out = highspy.HighsLp()
    out.num_col_ = lp.n_cols
    out.num_row_ = lp.n_rows
    out.col_cost_ = np.concatenate(lp.cost)
    out.col_lower_ = np.concatenate(lp.lower)
    out.col_upper_ = np.clip(np.concatenate(lp.upper), -inf, inf)
    out.row_lower_ = np.clip(np.concatenate(lp.lo), -inf, inf) if lp.lo else np.zeros(0)
    out.row_upper_ = np.clip(np.concatenate(lp.hi), -inf, inf) if lp.hi else np.zeros(0)
    out.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    out.a_matrix_.start_ = starts
    out.a_matrix_.index_ = r
    out.a_matrix_.value_ = v
    out.offset_ = lp.offset
    return out


def lp_bound(p: AssignmentProblem, excess_cap: int | None = None,
             ctx: SolveContext | None = None) -> LPBound:
    """The LP relaxation's value: a lower bound on every plan within the excess cap.

    Solved to optimality (HiGHS's simplex on one thread is deterministic), so it takes no share
    of the work; only the context's deadline (the user's time limit) or its stop cuts it, and
    then it is no bound (status NO_SOLUTION). Without a context: ten minutes at most."""
    import highspy

    ctx = ctx if ctx is not None else SolveContext.start(0.0, wall=600.0)
    t0 = time.perf_counter()
    if ctx.left() < MIN_SECONDS:  # the clock (nearly) closed: building it alone would overrun
        return LPBound(float("nan"), 0.0, Status.NO_SOLUTION, np.zeros(p.n_pairs))
    lp, x = build(p, excess_cap)
    h = quiet_highs(highspy)
    h.setOptionValue("time_limit", max(ctx.left(), 0.1))
    h.setOptionValue("threads", 1)
    h.passModel(_highs_lp(highspy, lp))
    cancel = getattr(h, "cancelSolve", None)
    if cancel is None:  # highspy before 1.8: the run cannot be cancelled, only counted
        ctx.run(h.run, lambda: None)
    else:
        h.HandleUserInterrupt = True  # cancelSolve ends the run within an iteration
        ctx.run(h.run, cancel)
    status = _status(h.modelStatusToString(h.getModelStatus()))
    solved = status is Status.OPTIMAL
    value = float(h.getInfo().objective_function_value) if solved else float("nan")
    values = np.asarray(h.getSolution().col_value)[x] if solved else np.zeros(p.n_pairs)
    return LPBound(value, time.perf_counter() - t0, status, values)
