"""Greedy construction: the solver's hint, the fallback plan, and the 'manual practice' baseline."""

from __future__ import annotations

from typing import Literal

import numpy as np

from solvers.problem import AssignmentProblem, IntArray
from solvers.sparse import csr

Rule = Literal["cheapest", "least_utilised"]


def pairs_by_item(problem: AssignmentProblem) -> tuple[IntArray, IntArray]:
    """Pair indices sorted by item, and each item's start offset into them (CSR layout)."""
    return csr(problem.pair_item, problem.n_items)


def greedy(problem: AssignmentProblem, rule: Rule = "cheapest",
           initial: IntArray | None = None) -> IntArray:
    """Keep every hinted pair, then place the rest one item at a time, most costly-to-skip first.

    'cheapest' picks the pair with the lowest marginal objective and leaves an optional item out
    when skipping is cheaper; 'least_utilised' mimics a manager: the least-loaded candidate, always.
    Hard limits (hard capacity, hard new-pair limit, budget) are respected where a candidate allows.
    """
    g = _Greedy(problem)
    p = problem
    hint = p.hint if p.hint is not None else np.full(p.n_items, -1, np.int64)
    if initial is not None:  # a partial plan to complete, e.g. the least-excess placement
        hint = np.where(initial >= 0, initial, hint)
    for i in np.flatnonzero(hint >= 0):
        g.take(int(i), int(hint[i]))
    todo = np.flatnonzero(hint < 0)
    # must-assign items first, then by what leaving them out would cost, then by fewest options
    options = np.diff(g.starts)[todo]
    key = np.lexsort((options, -p.item_skip_cost[todo], ~p.item_must[todo]))
    for i in todo[key]:
        ks = g.order[g.starts[i]:g.starts[i + 1]]
        if ks.size == 0:
            continue
        agents = p.pair_agent[ks]
        after = g.load[agents] + p.pair_load[ks]
        ok, over_new = g.allowed(ks, agents, after)
        if not ok.any():
            continue
        if rule == "least_utilised":
            g.take(int(i), int(ks[np.argmin(g.least_utilised(int(i), ks, agents, ok))]))
            continue
        marginal = np.where(ok, g.marginal(int(i), ks, agents, after, over_new), np.inf)
        best = int(np.argmin(marginal))
        if p.item_must[i] or marginal[best] < p.item_skip_cost[i]:
            k = int(ks[best])
            g.take(int(i), k)
            a = int(p.pair_agent[k])
            g.peak = max(g.peak, int(-((-g.load[a] * p.peak_scale) // g.cap[a])))
    return g.item_pair


class _Greedy:
    """The state of a greedy construction: loads, new pairs and budget used, families' agents."""

    def __init__(self, p: AssignmentProblem) -> None:
        self.p = p
        self.order, self.starts = pairs_by_item(p)
        self.item_pair = np.full(p.n_items, -1, np.int64)
        self.load = np.zeros(p.n_agents, np.int64)
        self.new = np.zeros(p.n_agents, np.int64)
        self.new_count = p.new_counts()
        self.limits = p.new_limits()
        self.budget_use = p.budget_use()
        self.budget_left = p.budget if p.budget is not None else np.iinfo(np.int64).max
        self.cap = np.maximum(p.agent_capacity, 1)
        self.groups = p.groups()
        self.band_start, self.band_cost = p.bands()
        self.group_agent: dict[int, set[int]] = {}
        self.peak = 0
        # a new pair above its agent's limit costs more than any plan's whole objective
        self.excess_price = 1.0 + float(
            p.pair_cost.clip(min=0).sum() + p.item_skip_cost.sum()
            + p.overload_rate_max() * p.pair_load.sum() + p.peak_cost * 10**6
            + p.group_split_cost * p.n_items)

    def take(self, i: int, k: int) -> None:
        p = self.p
        a = int(p.pair_agent[k])
        self.item_pair[i] = k
        self.load[a] += p.pair_load[k]
        self.new[a] += self.new_count[k]
        self.budget_left -= int(self.budget_use[k])
        if self.groups[i] >= 0:
            self.group_agent.setdefault(int(self.groups[i]), set()).add(a)

    def allowed(self, ks: IntArray, agents: IntArray, after: IntArray
                ) -> tuple[np.ndarray, np.ndarray]:
        """Which candidates the hard limits allow, and which would exceed a new-pair limit."""
        p = self.p
        ok = np.ones(ks.size, bool)
        if p.overload_cost is None:
            ok &= after <= p.agent_capacity[agents]
        lim = self.limits[agents]
        over_new = (lim >= 0) & (self.new[agents] + self.new_count[ks] > lim)
        if not p.new_limit_soft:
            ok &= ~over_new
        ok &= self.budget_use[ks] <= self.budget_left
        return ok, over_new

    def least_utilised(self, i: int, ks: IntArray, agents: IntArray, ok: np.ndarray
                       ) -> np.ndarray:
        """A manager's rule: join a sibling's agent, else the least utilised (cost breaks ties)."""
        p = self.p
        g = int(self.groups[i])
        same = np.array([a in self.group_agent.get(g, ()) for a in agents]) if g >= 0 \
            else ok & False
        util = self.load[agents] / self.cap[agents]
        score = np.where(same, -1.0, util) + 1e-9 * p.pair_cost[ks]
        return np.where(ok, score, np.inf)

    def marginal(self, i: int, ks: IntArray, agents: IntArray, after: IntArray,
                 over_new: np.ndarray) -> np.ndarray:
        """What each candidate adds to the objective: its cost, banded overload, excess, the
        peak's rise, and a family split."""
        p, load = self.p, self.load
        marginal = p.pair_cost[ks].astype(np.float64)
        if p.overload_cost:
            cap_a = p.agent_capacity[agents]
            grow = np.maximum(after - cap_a, 0) - np.maximum(load[agents] - cap_a, 0)
            marginal += (p.overload_cost * grow).astype(np.float64)
            for b in range(self.band_cost.size):
                start = self.band_start[b, agents]
                grow = np.maximum(after - start, 0) - np.maximum(load[agents] - start, 0)
                marginal += (self.band_cost[b] * grow).astype(np.float64)
        if p.new_limit_soft:  # excess comes first: dearer than anything else on offer
            marginal += self.excess_price * np.where(over_new, self.new_count[ks], 0)
        if p.peak_cost:
            peak_after = -((-after * p.peak_scale) // self.cap[agents])
            marginal += p.peak_cost * np.maximum(peak_after - self.peak, 0).astype(np.float64)
        g = int(self.groups[i])
        if g >= 0 and p.group_split_cost and len(self.group_agent.get(g, ())) == 1:
            marginal += p.group_split_cost * ~np.isin(agents, list(self.group_agent[g]))
        return marginal
