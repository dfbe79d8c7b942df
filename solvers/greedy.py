"""Greedy construction: the solver's hint, the fallback plan, and the 'manual practice' baseline."""

from __future__ import annotations

from typing import Literal

import numpy as np

from solvers.problem import AssignmentProblem, IntArray

Rule = Literal["cheapest", "least_utilised"]


def pairs_by_item(problem: AssignmentProblem) -> tuple[IntArray, IntArray]:
    """Pair indices sorted by item, and each item's start offset into them (CSR layout)."""
    order = np.argsort(problem.pair_item, kind="stable")
    counts = np.bincount(problem.pair_item, minlength=problem.n_items)
    starts = np.zeros(problem.n_items + 1, np.int64)
    np.cumsum(counts, out=starts[1:])
    return order.astype(np.int64), starts


def greedy(problem: AssignmentProblem, rule: Rule = "cheapest",
           initial: IntArray | None = None) -> IntArray:
    """Keep every hinted pair, then place the rest one item at a time, most costly-to-skip first.

    'cheapest' picks the pair with the lowest marginal objective and leaves an optional item out
    when skipping is cheaper; 'least_utilised' mimics a manager: the least-loaded candidate, always.
    Hard limits (hard capacity, hard new-pair limit, budget) are respected where a candidate allows.
    """
    p = problem
    order, starts = pairs_by_item(p)
    item_pair = np.full(p.n_items, -1, np.int64)
    load = np.zeros(p.n_agents, np.int64)
    new = np.zeros(p.n_agents, np.int64)
    new_count = p.new_counts()
    limits = p.new_limits()
    budget_use = p.budget_use()
    budget_left = p.budget if p.budget is not None else np.iinfo(np.int64).max
    cap = np.maximum(p.agent_capacity, 1)
    groups = p.groups()
    band_start, band_cost = p.bands()
    group_agent: dict[int, set[int]] = {}
    excess_price = 1.0 + float(p.pair_cost.clip(min=0).sum() + p.item_skip_cost.sum()
                               + p.overload_rate_max() * p.pair_load.sum() + p.peak_cost * 10**6
                               + p.group_split_cost * p.n_items)

    def take(i: int, k: int) -> None:
        nonlocal budget_left
        a = int(p.pair_agent[k])
        item_pair[i] = k
        load[a] += p.pair_load[k]
        new[a] += new_count[k]
        budget_left -= int(budget_use[k])
        if groups[i] >= 0:
            group_agent.setdefault(int(groups[i]), set()).add(a)

    hint = p.hint if p.hint is not None else np.full(p.n_items, -1, np.int64)
    if initial is not None:  # a partial plan to complete, e.g. the least-excess placement
        hint = np.where(initial >= 0, initial, hint)
    for i in np.flatnonzero(hint >= 0):
        take(int(i), int(hint[i]))
    todo = np.flatnonzero(hint < 0)
    # must-assign items first, then by what leaving them out would cost, then by fewest options
    options = np.diff(starts)[todo]
    key = np.lexsort((options, -p.item_skip_cost[todo], ~p.item_must[todo]))
    peak = 0
    for i in todo[key]:
        ks = order[starts[i]:starts[i + 1]]
        if ks.size == 0:
            continue
        agents = p.pair_agent[ks]
        after = load[agents] + p.pair_load[ks]
        ok = np.ones(ks.size, bool)
        if p.overload_cost is None:
            ok &= after <= p.agent_capacity[agents]
        lim = limits[agents]
        over_new = (lim >= 0) & (new[agents] + new_count[ks] > lim)
        if not p.new_limit_soft:
            ok &= ~over_new
        ok &= budget_use[ks] <= budget_left
        if not ok.any():
            continue
        if rule == "least_utilised":
            g = int(groups[i])
            same = np.array([a in group_agent.get(g, ()) for a in agents]) if g >= 0 else ok & False
            util = load[agents] / cap[agents]
            score = np.where(same, -1.0, util) + 1e-9 * p.pair_cost[ks]
            score = np.where(ok, score, np.inf)
            take(int(i), int(ks[np.argmin(score)]))
            continue
        marginal = p.pair_cost[ks].astype(np.float64)
        if p.overload_cost:
            cap_a = p.agent_capacity[agents]
            grow = np.maximum(after - cap_a, 0) - np.maximum(load[agents] - cap_a, 0)
            marginal += (p.overload_cost * grow).astype(np.float64)
            for b in range(band_cost.size):
                start = band_start[b, agents]
                grow = np.maximum(after - start, 0) - np.maximum(load[agents] - start, 0)
                marginal += (band_cost[b] * grow).astype(np.float64)
        if p.new_limit_soft:  # excess comes first: dearer than anything else on offer
            marginal += excess_price * np.where(over_new, new_count[ks], 0)
        if p.peak_cost:
            peak_after = -((-after * p.peak_scale) // cap[agents])
            marginal += p.peak_cost * np.maximum(peak_after - peak, 0).astype(np.float64)
        g = int(groups[i])
        if g >= 0 and p.group_split_cost and len(group_agent.get(g, ())) == 1:
            marginal += p.group_split_cost * ~np.isin(agents, list(group_agent[g]))
        marginal = np.where(ok, marginal, np.inf)
        best = int(np.argmin(marginal))
        if p.item_must[i] or marginal[best] < p.item_skip_cost[i]:
            k = int(ks[best])
            take(int(i), k)
            a = int(p.pair_agent[k])
            peak = max(peak, int(-((-load[a] * p.peak_scale) // cap[a])))
    return item_pair
