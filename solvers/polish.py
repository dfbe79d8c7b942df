"""A last pass: no single item's new pair that staying (or another agent with room) would beat.

A search that stops on a budget can leave an item on a new pair although moving that item alone
back to its own agent, or to another agent with a free new-pair slot, would lower the objective
(a manager's `explain` shows it as "staying put is cheaper"). This pass finds such items one at
a time, by an exact delta of the pair cost, the banded overload of the two agents and the peak,
and keeps a change only if the full evaluation agrees. Items in groups (siblings) are left alone:
moving one alone would split them. Deterministic: items in index order, a fixed number of rounds.
"""

from __future__ import annotations

import numpy as np

from solvers.evaluate import evaluate
from solvers.greedy import pairs_by_item
from solvers.problem import AssignmentProblem, IntArray

ROUNDS = 3


def _banded(load: np.ndarray, cap: np.ndarray, rate: int, starts: np.ndarray,
            costs: np.ndarray) -> np.ndarray:
    """Banded overload cost of agents at `load` (vectorised; starts is bands x agents)."""
    out = rate * np.maximum(load - cap, 0)
    for b in range(costs.size):
        out = out + costs[b] * np.maximum(load - starts[b], 0)
    return out


def polish(p: AssignmentProblem, plan: IntArray) -> tuple[IntArray, int]:
    """The plan with every improving single-item change back to its own agent (or to an agent
    with a free new-pair slot) made; and how many were made."""
    if p.n_pairs == 0 or not (plan >= 0).any():
        return plan, 0
    order, starts = pairs_by_item(p)
    groups = p.groups()
    new_count = p.new_counts()
    limits = p.new_limits()
    cap = np.maximum(p.agent_capacity, 1)
    rate = p.overload_cost or 0
    band_start, band_cost = p.bands()
    plan = plan.copy()
    best = evaluate(p, plan)
    if not best.feasible:
        return plan, 0
    load = best.agent_load.astype(np.int64).copy()
    new = best.agent_new.astype(np.int64).copy()
    made = 0
    for _ in range(ROUNDS):
        changed = False
        for item in np.flatnonzero((plan >= 0) & (groups < 0)):
            i = int(item)
            k = int(plan[i])
            if new_count[k] == 0:
                continue  # the item is on its own agent already
            trial = _best_change(p, i, k, order[starts[i]:starts[i + 1]], load, new, cap, rate,
                                 band_start, band_cost, new_count, limits)
            if trial is None:
                continue
            candidate = plan.copy()
            candidate[i] = trial
            ev = evaluate(p, candidate)
            if ev.feasible and (ev.excess, ev.objective) < (best.excess, best.objective):
                plan, best, made, changed = candidate, ev, made + 1, True
                load = ev.agent_load.astype(np.int64).copy()
                new = ev.agent_new.astype(np.int64).copy()
        if not changed:
            break
    return plan, made


def _best_change(p: AssignmentProblem, i: int, k: int, ks: IntArray, load: np.ndarray,
                 new: np.ndarray, cap: np.ndarray, rate: int, band_start: np.ndarray,
                 band_cost: np.ndarray, new_count: IntArray, limits: IntArray) -> int | None:
    """The pair among item i's others that lowers the objective most, by the exact delta of the
    pair cost, the two agents' banded overload and the peak; None when none does."""
    a = int(p.pair_agent[k])
    others = ks[ks != k]
    if others.size == 0:
        return None
    agents = p.pair_agent[others]
    room = (new_count[others] == 0) | (limits[agents] < 0) | (new[agents] < limits[agents])
    others, agents = others[room], agents[room]
    if others.size == 0:
        return None
    cap_a = cap[a:a + 1]
    starts_a = band_start[:, a:a + 1]
    load_a_after = load[a] - p.pair_load[k]
    leave = (_banded(np.array([load_a_after]), cap_a, rate, starts_a, band_cost)
             - _banded(np.array([load[a]]), cap_a, rate, starts_a, band_cost))[0]
    arrive_load = load[agents] + p.pair_load[others]
    arrive = (_banded(arrive_load, cap[agents], rate, band_start[:, agents], band_cost)
              - _banded(load[agents], cap[agents], rate, band_start[:, agents], band_cost))
    delta = (p.pair_cost[others] - p.pair_cost[k]) + leave + arrive
    if p.peak_cost:
        util = -((-load * p.peak_scale) // cap)
        util[a] = -((-load_a_after * p.peak_scale) // cap[a])
        top = int(util.max())
        second = int(np.partition(util, -2)[-2]) if util.size > 1 else 0
        peak_now = int((-((-load * p.peak_scale) // cap)).max())
        excl = np.where(util[agents] == top, second, top)
        new_util = -((-arrive_load * p.peak_scale) // cap[agents])
        delta = delta + p.peak_cost * (np.maximum(excl, new_util) - peak_now)
    j = int(np.argmin(delta))
    return int(others[j]) if delta[j] < 0 else None
