"""Items placed by choosing one option each, over weeks, on top of fixed loads: solved exactly.

An option is a whole course for one item: which agent carries its load in which week (none in
some weeks, or a change of agent part way), at a constant cost of its own. The objective
(minimised) is the options' costs, plus, in every week, each agent's overload above capacity
(`overload_cost` per unit, `band_cost[b]` more per unit above `band_start[b]`), plus `peak_cost`
per 1/`peak_scale` step of the week's highest load/capacity ratio. Loads add to fixed loads per
agent and week; an option may count as new to an agent in a week, within `new_room`.

Small by design (tens of items, a few hundred options): CP-SAT proves the optimum, and
`solve_mip` states the same problem for HiGHS, so tests hold one to the other.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from ortools.sat.python import cp_model

from solvers.context import SolveContext, Termination
from solvers.cpsat import Presolve, run
from solvers.lp import quiet_highs
from solvers.problem import IntArray


@dataclass
class OptionsProblem:
    n_items: int
    n_agents: int
    n_weeks: int
    opt_item: IntArray  # (options,)
    # an option that hands its item on part way names the item that continues it (-1: none);
    # such a continuation item takes one of its options exactly when such an option is chosen
    opt_continues: IntArray
    opt_cost: IntArray  # (options,): everything an option costs but loads
    ent_opt: IntArray  # (entries,): option, agent, week and load of each (agent, week) it loads
    ent_agent: IntArray
    ent_week: IntArray
    ent_load: IntArray
    new_opt: IntArray  # (news,): an option brings new items to an agent in a week
    new_agent: IntArray
    new_week: IntArray
    new_count: IntArray
    fixed_load: IntArray  # (agents, weeks)
    capacity: IntArray  # (agents,)
    new_room: IntArray  # (agents, weeks): new children an agent may still take; -1 no limit
    # MAX_NEW yields only where it must: the total excess over `new_room` is minimised first
    # (a child who had a worker keeps one), then held at that least while the objective is
    new_soft: bool = True
    overload_cost: int = 0
    band_start: IntArray = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    band_cost: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    peak_cost: int = 0
    peak_scale: int = 1000
    # how many weeks each loads column stands for (None: one each); `new_room` keeps one column
    # per real week, so MAX_NEW stays per week when alike weeks are merged (see `merged`)
    week_weight: IntArray | None = None

    def weights(self) -> IntArray:
        return np.ones(self.n_weeks, np.int64) if self.week_weight is None else self.week_weight

    def loads(self, choice: IntArray) -> IntArray:
        """Load per (agent, week) when each item takes option choice[item]."""
        load = self.fixed_load.astype(np.int64).copy()
        on = np.isin(self.ent_opt, choice[choice >= 0])
        np.add.at(load, (self.ent_agent[on], self.ent_week[on]), self.ent_load[on])
        return load

    def objective(self, choice: IntArray) -> int:
        """The objective of a choice, in the problem's integer units (the check of a solve)."""
        load = self.loads(choice)
        total = int(self.opt_cost[choice[choice >= 0]].sum())
        cap = self.capacity[:, None]
        weight = self.weights()
        total += self.overload_cost * int((np.maximum(load - cap, 0) * weight).sum())
        for b in range(self.band_cost.size):
            total += int(self.band_cost[b]) * int(
                (np.maximum(load - self.band_start[b][:, None], 0) * weight).sum())
        if self.peak_cost and self.n_agents:
            ratio = -(-load * self.peak_scale // np.maximum(cap, 1))  # ceil
            total += self.peak_cost * int((ratio.max(axis=0) * weight).sum())
        return total


def merged(p: OptionsProblem) -> OptionsProblem:
    """The same problem with alike weeks merged: weeks with the same fixed loads in which every
    option loads the same agents alike have the same overload and peak whatever is chosen, so
    one loads column stands for all of them, weighted by their number. Most weeks of a
    look-ahead are alike (events are few), so the model shrinks by about that factor."""
    keys: dict[tuple[bytes, ...], int] = {}
    column = np.zeros(p.n_weeks, np.int64)
    for k in range(p.n_weeks):
        on = p.ent_week == k
        order = np.lexsort((p.ent_agent[on], p.ent_opt[on]))
        key = (p.fixed_load[:, k].tobytes(), p.ent_opt[on][order].tobytes(),
               p.ent_agent[on][order].tobytes(), p.ent_load[on][order].tobytes())
        column[k] = keys.setdefault(key, len(keys))
    first = np.array([int(np.flatnonzero(column == g)[0]) for g in range(len(keys))], np.int64)
    keep = np.isin(p.ent_week, first)
    return dataclasses.replace(
        p, n_weeks=len(keys), ent_opt=p.ent_opt[keep], ent_agent=p.ent_agent[keep],
        ent_week=column[p.ent_week[keep]], ent_load=p.ent_load[keep],
        fixed_load=p.fixed_load[:, first],
        week_weight=np.bincount(column, weights=p.weights(), minlength=len(keys)).astype(
            np.int64))


@dataclass
class Placed:
    """The option each item takes (None when none was found), why the solve stopped, its
    objective and bound in the problem's units, and the work used."""

    choice: IntArray | None
    termination: Termination
    objective: float
    bound: float
    work_used: float


def _relevant(p: OptionsProblem) -> NDArray[np.bool_]:
    """(agents, weeks) cells some option loads: only these have load variables."""
    cells = np.zeros((p.n_agents, p.n_weeks), bool)
    cells[p.ent_agent, p.ent_week] = True
    return cells


@dataclass
class _Cell:
    """An agent's load in a set of alike weeks (same fixed load, same options loading it)."""

    agent: int
    weeks: list[int]
    expr: Any
    most: int  # the most the options can add
    fixed: int
    weight: int  # the weeks it stands for


def _cells(p: OptionsProblem, x: list[cp_model.IntVar]) -> list[_Cell]:
    """Per agent, one load expression for each set of alike weeks: most agents have no event in
    the look-ahead, so their weeks are one cell and their overload is counted once, weighted."""
    if not len(p.ent_opt):  # no option loads anyone: no cell
        return []
    order = np.lexsort((p.ent_opt, p.ent_week, p.ent_agent))
    a, w = p.ent_agent[order], p.ent_week[order]
    cut = np.flatnonzero(np.r_[True, (a[1:] != a[:-1]) | (w[1:] != w[:-1]), True])
    weight = p.weights()
    cells: dict[tuple[Any, ...], _Cell] = {}
    for s, e in itertools.pairwise(cut):
        ks = order[s:e]
        agent, week = int(a[s]), int(w[s])
        fixed = int(p.fixed_load[agent, week])
        key = (agent, fixed, p.ent_opt[ks].tobytes(), p.ent_load[ks].tobytes())
        if key not in cells:
            cells[key] = _Cell(agent, [], cp_model.LinearExpr.weighted_sum(
                [x[int(p.ent_opt[k])] for k in ks], p.ent_load[ks].tolist()),
                int(p.ent_load[ks].sum()), fixed, 0)
        cells[key].weeks.append(week)
        cells[key].weight += int(weight[week])
    return list(cells.values())


def _continued(p: OptionsProblem) -> dict[int, IntArray]:
    """Per continuation item, the options that hand on to it."""
    return {int(j): np.flatnonzero(p.opt_continues == j)
            for j in np.unique(p.opt_continues[p.opt_continues >= 0])}


def define_choice(m: cp_model.CpModel, p: OptionsProblem) -> list[cp_model.IntVar]:
    # Each item takes exactly one option; a continuation item one exactly when handed on to.
    x = [m.new_bool_var(f"o{k}") for k in range(len(p.opt_item))]
    handed = _continued(p)
    for i in range(p.n_items):
        own = [x[k] for k in np.flatnonzero(p.opt_item == i)]
        if i in handed:
            m.add(sum(own) == sum(x[k] for k in handed[i]))
        else:
            m.add_exactly_one(own)
    return x


def chosen(p: OptionsProblem, on: NDArray[np.bool_]) -> IntArray:
    """Per item, its chosen option (-1: a continuation nobody handed on to)."""
    out = np.full(p.n_items, -1, np.int64)
    for k in np.flatnonzero(on):
        out[p.opt_item[k]] = k
    return out


def _new_rows(p: OptionsProblem) -> list[tuple[int, IntArray]]:
    """(room, news) of each agent-week whose new items could exceed its room."""
    rows: list[tuple[int, IntArray]] = []
    for (a, wk) in sorted({(int(a), int(w)) for a, w in zip(p.new_agent, p.new_week,
                                                            strict=True)}):
        room = int(p.new_room[a, wk])
        ks = np.flatnonzero((p.new_agent == a) & (p.new_week == wk))
        if room >= 0 and int(p.new_count[ks].sum()) > room:
            rows.append((room, ks))
    return rows


def define_new_limits(m: cp_model.CpModel, p: OptionsProblem, x: list[cp_model.IntVar],
                      excess_cap: int | None) -> list[cp_model.IntVar]:
    """MAX_NEW per agent and week: hard, or soft within `excess_cap` in all (None: free)."""
    excess: list[cp_model.IntVar] = []
    for room, ks in _new_rows(p):
        expr = cp_model.LinearExpr.weighted_sum([x[int(p.new_opt[k])] for k in ks],
                                                p.new_count[ks].tolist())
        if not p.new_soft:
            m.add(expr <= room)
            continue
        e = m.new_int_var(0, int(p.new_count[ks].sum()) - room, f"excess{len(excess)}")
        m.add(expr - e <= room)
        excess.append(e)
    if excess and excess_cap is not None:
        m.add(sum(excess) <= excess_cap)
    return excess


def least_excess(p: OptionsProblem, ctx: SolveContext) -> tuple[int | None, float]:
    """The least total excess over the new-item rooms that gives every item an option (None
    when none was found within the context's work), and the work used."""
    if not p.new_soft or not _new_rows(p):
        return 0, 0.0
    m = cp_model.CpModel()
    x = define_choice(m, p)
    m.minimize(sum(define_new_limits(m, p, x, None)))
    ran = run(m, ctx, Presolve.FULL)
    return (round(ran.solver.objective_value) if ran.found else None), ran.work_used


def build(p: OptionsProblem, excess_cap: int = 0) -> tuple[cp_model.CpModel,
                                                            list[cp_model.IntVar]]:
    m = cp_model.CpModel()
    x = define_choice(m, p)
    define_new_limits(m, p, x, excess_cap)
    terms: list[Any] = [cp_model.LinearExpr.weighted_sum(x, p.opt_cost.tolist())]
    cells = _cells(p, x)
    cap = np.maximum(p.capacity, 1)
    peaks: dict[int, cp_model.IntVar] = {}
    weight = p.weights()
    if p.peak_cost and p.n_agents:
        floor = -(-p.fixed_load * p.peak_scale // cap[:, None])
        top = floor.max(axis=0).astype(np.int64)
        for c in cells:
            reach = -(-(c.fixed + c.most) * p.peak_scale // int(cap[c.agent]))
            for wk in c.weeks:
                top[wk] = max(int(top[wk]), reach)
        for wk in range(p.n_weeks):
            peaks[wk] = m.new_int_var(int(floor[:, wk].max()), int(top[wk]), f"peak{wk}")
        terms.append(p.peak_cost * sum(int(weight[wk]) * v for wk, v in peaks.items()))
    for c in cells:
        a = c.agent
        total = c.expr + c.fixed
        highest = c.fixed + c.most
        steps = [(int(p.capacity[a]), p.overload_cost)] + [
            (int(p.band_start[b, a]), int(p.band_cost[b])) for b in range(p.band_cost.size)]
        for start, rate in steps:
            if rate and highest > start:
                v = m.new_int_var(0, highest - start, f"over{a}_{c.weeks[0]}_{start}")
                m.add(total - v <= start)
                terms.append(rate * c.weight * v)
        for wk in c.weeks:
            if wk in peaks:
                m.add(p.peak_scale * total <= int(cap[a]) * peaks[wk])
    m.minimize(sum(terms))
    return m, x


def solve(p: OptionsProblem, ctx: SolveContext, hint: IntArray | None = None) -> Placed:
    """The optimum by CP-SAT (full presolve: the model is small), within the context's work;
    `hint`, the options of a known placement, is where the search starts."""
    if p.n_items == 0:
        return Placed(np.zeros(0, np.int64), Termination.FINISHED, 0.0, 0.0, 0.0)
    # both models are the placement's work: the second gets what the first left
    cap, first = least_excess(p, ctx)
    if cap is None:
        stopped = Termination.INTERRUPTED if ctx.stop.is_set() else Termination.WORK_SPENT
        return Placed(None, stopped, float("inf"), float("-inf"), first)
    m, x = build(merged(p), cap)
    if hint is not None:
        hinted = set(hint.tolist())
        for k, v in enumerate(x):
            m.add_hint(v, k in hinted)
    ran = run(m, ctx.part(max(ctx.work - first, 0.0)), Presolve.FULL)
    used = first + ran.work_used
    if not ran.found:
        stopped = Termination.INTERRUPTED if ctx.stop.is_set() else Termination.WORK_SPENT
        return Placed(None, stopped, float("inf"), float("-inf"), used)
    choice = chosen(p, ran.values(x))
    if ran.status == cp_model.OPTIMAL:
        stopped = Termination.FINISHED
    elif ctx.stop.is_set():
        stopped = Termination.INTERRUPTED
    else:
        stopped = Termination.DEADLINE if ctx.left() <= 0 else Termination.WORK_SPENT
    # the model leaves out what no choice changes (loads of agents no option reaches): the
    # bound is the model's, shifted by that constant
    value = p.objective(choice)
    constant = value - ran.solver.objective_value
    return Placed(choice, stopped, float(value),
                  float(ran.solver.best_objective_bound + constant), used)


def solve_mip(p: OptionsProblem, time_limit: float = 600.0) -> tuple[float, IntArray]:
    """The same problem as a HiGHS MIP, solved to optimality in the same two steps (the least
    excess over the new-item rooms, then the objective within it): its objective and choice,
    the independent reference the tests and benchmarks hold CP-SAT's optimum to."""
    import highspy

    h = quiet_highs(highspy)
    # one thread, as every HiGHS call here: the thread scheduler is the process's, set once
    h.setOptionValue("threads", 1)
    h.setOptionValue("time_limit", time_limit)
    h.setOptionValue("mip_rel_gap", 0.0)
    costs: list[float] = []

    def var(low: float, cost: float, integer: bool = False) -> int:
        h.addVar(low, highspy.kHighsInf)
        k = len(costs)
        costs.append(cost)
        if integer:
            h.changeColIntegrality(k, highspy.HighsVarType.kInteger)
        return k

    n_opt = len(p.opt_item)
    for k in range(n_opt):
        var(0, float(p.opt_cost[k]), True)
        h.changeColBounds(k, 0, 1)
    handed = _continued(p)
    for i in range(p.n_items):
        ks = np.flatnonzero(p.opt_item == i)
        if i in handed:  # its options, less the options that hand on to it, sum to 0
            both = np.r_[ks, handed[i]].astype(np.int32)
            h.addRow(0, 0, len(both), both, np.r_[np.ones(len(ks)), -np.ones(len(handed[i]))])
        else:
            h.addRow(1, 1, len(ks), ks.astype(np.int32), np.ones(len(ks)))
    _mip_loads(h, p, var)
    excess = []
    for room, rows in _new_rows(p):
        cols: NDArray[np.int64] = p.new_opt[rows].astype(np.int64)
        counts = p.new_count[rows].astype(float)
        if p.new_soft:
            e = var(0, 0.0, True)
            excess.append(e)
            cols, counts = np.r_[cols, e].astype(np.int64), np.r_[counts, -1.0]
        h.addRow(-highspy.kHighsInf, room, len(cols), cols.astype(np.int32), counts)
    if excess:  # first the least excess, then the objective within it
        h.changeColsCost(len(costs), np.arange(len(costs), dtype=np.int32),
                         np.isin(np.arange(len(costs)), excess).astype(float))
        h.run()
        least = round(float(cast(float, h.getInfo().objective_function_value)))
        h.addRow(0, least, len(excess), np.array(excess, np.int32), np.ones(len(excess)))
    h.changeColsCost(len(costs), np.arange(len(costs), dtype=np.int32), np.array(costs))
    h.run()
    choice = chosen(p, np.asarray(h.getSolution().col_value[:n_opt]) > 0.5)
    # its value with what no choice changes (as `objective` counts it), to compare with CP-SAT
    constant = p.objective(choice) - float(cast(float, h.getInfo().objective_function_value))
    return float(cast(float, h.getInfo().objective_function_value)) + round(constant), choice


def _mip_loads(h: Any, p: OptionsProblem, var: Any) -> None:
    """Overload steps and the weekly peak of every loaded (agent, week), as HiGHS rows."""
    inf = float("inf")
    cap = np.maximum(p.capacity, 1)
    peak_col: dict[int, int] = {}
    if p.peak_cost:
        floor = -(-p.fixed_load * p.peak_scale // cap[:, None])
        for wk in range(p.n_weeks):
            peak_col[wk] = var(float(floor[:, wk].max()), float(p.peak_cost), True)
    for a, wk in np.argwhere(_relevant(p)):
        on = (p.ent_agent == a) & (p.ent_week == wk)
        ks, loads = p.ent_opt[on], p.ent_load[on].astype(float)
        fixed = float(p.fixed_load[a, wk])
        steps = [(float(p.capacity[a]), p.overload_cost)] + [
            (float(p.band_start[b, a]), int(p.band_cost[b])) for b in range(p.band_cost.size)]
        for start, rate in steps:
            if rate:
                v = var(0, float(rate))
                h.addRow(-inf, start - fixed, len(ks) + 1, np.r_[ks, v].astype(np.int32),
                         np.r_[loads, -1.0])
        if wk in peak_col:
            h.addRow(-inf, -p.peak_scale * fixed, len(ks) + 1,
                     np.r_[ks, peak_col[wk]].astype(np.int32),
                     np.r_[p.peak_scale * loads, -float(cap[a])])
