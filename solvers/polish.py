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

from solvers.evaluate import Evaluation, evaluate
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
    with a free new-pair slot) made; and how many were made.

    Each change is priced by its exact delta; the full evaluation checks each round as a whole
    (a round that did not lower the objective is undone), so the pass costs one evaluation a
    round, not one a change: at 50,000 children it takes a fraction of a second."""
    if p.n_pairs == 0 or not (plan >= 0).any():
        return plan, 0
    order, starts = pairs_by_item(p)
    groups = p.groups()
    new_count = p.new_counts()
    plan = plan.copy()
    best = evaluate(p, plan)
    if not best.feasible:
        return plan, 0
    made = 0
    for _ in range(ROUNDS):
        state = _State(p, best)
        before = plan.copy()
        changed = 0
        for item in np.flatnonzero((plan >= 0) & (groups < 0)):
            i = int(item)
            k = int(plan[i])
            if new_count[k] == 0:
                continue  # the item is on its own agent already
            trial = _best_change(p, i, k, order[starts[i]:starts[i + 1]], state)
            if trial is not None:
                plan[i] = trial
                state.move(k, trial)
                changed += 1
        if not changed:
            break
        ev = evaluate(p, plan)
        if not (ev.feasible and (ev.excess, ev.objective) < (best.excess, best.objective)):
            plan = before  # the deltas and the evaluation disagree: keep what was checked
            break
        best, made = ev, made + changed
    return plan, made


class _State:
    """Loads, new pairs and utilisation (in 1/peak_scale steps, rounded up) during a round,
    with the two highest utilisations kept for the peak's delta; and what of the problem the
    deltas read (capacities, overload rate and bands, new pairs and their limits)."""

    def __init__(self, p: AssignmentProblem, ev: Evaluation) -> None:
        self.p = p
        self.cap = cap = np.maximum(p.agent_capacity, 1)
        self.rate = p.overload_cost or 0
        self.band_start, self.band_cost = p.bands()
        self.new_count, self.limits = p.new_counts(), p.new_limits()
        self.load = ev.agent_load.astype(np.int64).copy()
        self.new = ev.agent_new.astype(np.int64).copy()
        self.util = -((-self.load * p.peak_scale) // cap)
        self._tops()

    def _tops(self) -> None:
        u = self.util
        self.top = int(u.max()) if u.size else 0
        self.second = int(np.partition(u, -2)[-2]) if u.size > 1 else 0
        self.top_agent = int(np.argmax(u)) if u.size else -1

    def move(self, k: int, to: int) -> None:
        p, new_count = self.p, self.new_count
        for pair, sign in ((k, -1), (to, 1)):
            a = int(p.pair_agent[pair])
            self.load[a] += sign * int(p.pair_load[pair])
            self.new[a] += sign * int(new_count[pair])
            self.util[a] = -((-self.load[a] * p.peak_scale) // self.cap[a])
        self._tops()


def _best_change(p: AssignmentProblem, i: int, k: int, ks: IntArray, st: _State) -> int | None:
    """The pair among item i's others that lowers the objective most, by the exact delta of the
    pair cost, the two agents' banded overload and the peak; None when none does."""
    load, new, cap, rate = st.load, st.new, st.cap, st.rate
    band_start, band_cost, new_count, limits = st.band_start, st.band_cost, st.new_count, st.limits
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
        # the peak after the change: the highest of the agents not touched (the top, or the
        # second when the top is one of the two), a's new utilisation and the arrival's
        util_a_after = int(-((-load_a_after * p.peak_scale) // cap[a]))
        rest = np.where(agents == st.top_agent, st.second, st.top)
        if a == st.top_agent:
            rest = np.where(agents == st.top_agent, rest, st.second)
        new_util = -((-arrive_load * p.peak_scale) // cap[agents])
        peak_after = np.maximum(np.maximum(rest, util_a_after), new_util)
        delta = delta + p.peak_cost * (peak_after - st.top)
    j = int(np.argmin(delta))
    return int(others[j]) if delta[j] < 0 else None
