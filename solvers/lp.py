"""The LP relaxation of an AssignmentProblem, solved with HiGHS: an independent lower bound.

Same variables and constraints as the CP-SAT model with integrality dropped. Used by the
benchmarks to judge how close a plan is to optimal without trusting CP-SAT's own bound.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from solvers.problem import AssignmentProblem, IntArray


@dataclass
class LPBound:
    bound: float  # in the problem's objective units, constant included
    seconds: float
    status: str
    x: np.ndarray  # fractional pair values


def _quiet_highs(highspy: Any) -> Any:
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


class _Rows:
    """Sparse rows collected as triplets, turned into the column-wise matrix HiGHS takes."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[float] = []
        self.hi: list[float] = []

    def add(self, cols: np.ndarray, vals: np.ndarray, lo: float, hi: float) -> None:
        row = len(self.lo)
        self.r.append(np.full(len(cols), row, np.int64))
        self.c.append(np.asarray(cols, np.int64))
        self.v.append(np.asarray(vals, np.float64))
        self.lo.append(lo)
        self.hi.append(hi)

    def add_many(self, rows: IntArray, cols: IntArray, vals: np.ndarray, lo: np.ndarray,
                 hi: np.ndarray) -> None:
        base = len(self.lo)
        self.r.append(rows + base)
        self.c.append(np.asarray(cols, np.int64))
        self.v.append(np.asarray(vals, np.float64))
        self.lo.extend(lo.tolist())
        self.hi.extend(hi.tolist())


def lp_bound(p: AssignmentProblem, excess_cap: int | None = None,
             time_limit: float = 600.0, integer: bool = False, gap: float = 1e-4,
             hint: IntArray | None = None) -> LPBound:
    """The LP relaxation's value (or, with integer=True, HiGHS's MIP on the same model)."""
    import highspy

    t0 = time.perf_counter()
    inf = highspy.kHighsInf
    n = p.n_pairs
    cost: list[np.ndarray] = []
    lower: list[np.ndarray] = []
    upper: list[np.ndarray] = []
    optional = ~p.item_must
    cost.append((p.pair_cost - np.where(optional[p.pair_item], p.item_skip_cost[p.pair_item], 0))
                .astype(float))
    lower.append(np.zeros(n))
    upper.append(np.ones(n))
    col = n
    rows = _Rows()
    # each item: exactly one (must) or at most one (optional)
    rows.add_many(p.pair_item, np.arange(n), np.ones(n),
                  np.where(p.item_must, 1.0, -inf).astype(float), np.ones(p.n_items))
    # loads: load - overload <= capacity; new - excess <= limit; peak rows
    load_by_agent = np.bincount(p.pair_agent, weights=p.pair_load, minlength=p.n_agents)
    agents = np.arange(p.n_agents)
    if p.overload_cost is not None:
        o = col + agents
        col += p.n_agents
        cost.append(np.full(p.n_agents, float(p.overload_cost)))
        lower.append(np.zeros(p.n_agents))
        upper.append(np.maximum(load_by_agent - p.agent_capacity, 0).astype(float))
        rows.add_many(np.concatenate([p.pair_agent, agents]), np.concatenate([np.arange(n), o]),
                      np.concatenate([p.pair_load, -np.ones(p.n_agents)]),
                      np.full(p.n_agents, -inf), p.agent_capacity.astype(float))
    else:
        rows.add_many(p.pair_agent, np.arange(n), p.pair_load.astype(float),
                      np.full(p.n_agents, -inf), p.agent_capacity.astype(float))
    limits = p.new_limits()
    limited = np.flatnonzero(limits >= 0)
    if limited.size:
        new = p.new_counts()
        sel = np.isin(p.pair_agent, limited)
        row_of = np.full(p.n_agents, -1, np.int64)
        row_of[limited] = np.arange(limited.size)
        rcols = [np.flatnonzero(sel)]
        rrows = [row_of[p.pair_agent[sel]]]
        rvals = [new[sel].astype(float)]
        if p.new_limit_soft:
            e = col + np.arange(limited.size)
            col += limited.size
            cost.append(np.zeros(limited.size))
            lower.append(np.zeros(limited.size))
            upper.append(np.full(limited.size, inf))
            rcols.append(e)
            rrows.append(np.arange(limited.size))
            rvals.append(-np.ones(limited.size))
        rows.add_many(np.concatenate(rrows), np.concatenate(rcols), np.concatenate(rvals),
                      np.full(limited.size, -inf), limits[limited].astype(float))
        if p.new_limit_soft and excess_cap is not None:
            rows.add(e, np.ones(limited.size), -inf, float(excess_cap))
    if p.peak_cost:
        peak = col
        col += 1
        cost.append(np.array([float(p.peak_cost)]))
        lower.append(np.zeros(1))
        upper.append(np.array([inf]))
        used = np.flatnonzero(load_by_agent > 0)
        row_of = np.full(p.n_agents, -1, np.int64)
        row_of[used] = np.arange(used.size)
        cap = np.maximum(p.agent_capacity, 1).astype(float)
        rows.add_many(np.concatenate([row_of[p.pair_agent], np.arange(used.size)]),
                      np.concatenate([np.arange(n), np.full(used.size, peak)]),
                      np.concatenate([p.peak_scale * p.pair_load.astype(float), -cap[used]]),
                      np.full(used.size, -inf), np.zeros(used.size))
    groups = p.groups()
    if p.group_split_cost and (groups >= 0).any():
        pair_group = groups[p.pair_item]
        gk = np.flatnonzero(pair_group >= 0)
        keys = np.unique(np.stack([pair_group[gk], p.pair_agent[gk]]), axis=1)
        gs = np.unique(keys[0])
        split = col + np.searchsorted(gs, gs)
        col += gs.size
        cost.append(np.full(gs.size, float(p.group_split_cost)))
        lower.append(np.zeros(gs.size))
        upper.append(np.ones(gs.size))
        z = col + np.arange(keys.shape[1])
        col += keys.shape[1]
        cost.append(np.zeros(keys.shape[1]))
        lower.append(np.zeros(keys.shape[1]))
        upper.append(np.ones(keys.shape[1]))
        # sum of z over a group's agents <= 1
        rows.add_many(np.searchsorted(gs, keys[0]), z, np.ones(z.size), np.full(gs.size, -inf),
                      np.ones(gs.size))
        # x - z - split <= 0 for each pair in a group
        key_pos = np.searchsorted(keys[0] * p.n_agents + keys[1],
                                  pair_group[gk] * p.n_agents + p.pair_agent[gk])
        r = np.arange(gk.size)
        rows.add_many(np.concatenate([r, r, r]),
                      np.concatenate([gk, z[key_pos], split[np.searchsorted(gs, pair_group[gk])]]),
                      np.concatenate([np.ones(gk.size), -np.ones(gk.size), -np.ones(gk.size)]),
                      np.full(gk.size, -inf), np.zeros(gk.size))
    if p.budget is not None:
        use = p.budget_use()
        ks = np.flatnonzero(use)
        rows.add(ks, use[ks].astype(float), -inf, float(p.budget))

    r = np.concatenate(rows.r)
    c = np.concatenate(rows.c)
    v = np.concatenate(rows.v)
    order = np.lexsort((r, c))
    r, c, v = r[order], c[order], v[order]
    starts = np.zeros(col + 1, np.int64)
    np.cumsum(np.bincount(c, minlength=col), out=starts[1:])
    lp = highspy.HighsLp()
    lp.num_col_ = col
    lp.num_row_ = len(rows.lo)
    lp.col_cost_ = np.concatenate(cost)
    lp.col_lower_ = np.concatenate(lower)
    lp.col_upper_ = np.concatenate(upper)
    lp.row_lower_ = np.array(rows.lo, float)
    lp.row_upper_ = np.array(rows.hi, float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = starts
    lp.a_matrix_.index_ = r
    lp.a_matrix_.value_ = v
    lp.offset_ = float(p.item_skip_cost[optional].sum())
    if integer:
        kinds = np.zeros(col, np.int64)
        kinds[:n] = 1  # x
        if p.group_split_cost and (groups >= 0).any():
            kinds[split] = 1
            kinds[z] = 1
        lp.integrality_ = [highspy.HighsVarType(int(k)) for k in kinds]
    h = _quiet_highs(highspy)
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("threads", 1)
    h.passModel(lp)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    if integer:
        has = info.primal_solution_status == 2
        value = float(info.objective_function_value) if has else float("nan")
        x = np.asarray(h.getSolution().col_value[:n]) if has else np.zeros(n)
        out = LPBound(value, time.perf_counter() - t0, status, x)
        out.mip_bound = float(info.mip_dual_bound)  # type: ignore[attr-defined]
        return out
    value = float(info.objective_function_value) if status == "Optimal" else float("nan")
    x = np.asarray(h.getSolution().col_value[:n]) if status == "Optimal" else np.zeros(n)
    return LPBound(value, time.perf_counter() - t0, status, x)
