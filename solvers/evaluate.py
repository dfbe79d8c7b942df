"""A solution re-scored in plain numpy, independent of any solver (the `check_solution` pattern)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvers.problem import AssignmentProblem, IntArray


@dataclass
class Evaluation:
    feasible: bool
    violations: list[str]
    objective: int
    terms: dict[str, int]
    agent_load: IntArray
    agent_new: IntArray
    overload: IntArray
    peak: int  # in units of 1/peak_scale of load/capacity, rounded up
    split_groups: int
    excess: int  # total new pairs above the agents' limits (only when the limits are soft)


def _ceil_div(a: IntArray, b: IntArray) -> IntArray:
    return -((-a) // b)


def evaluate(problem: AssignmentProblem, item_pair: IntArray) -> Evaluation:
    """Objective and hard-rule check of a per-item pair choice, as the model defines them."""
    p = problem
    violations: list[str] = []
    chosen = item_pair[item_pair >= 0]
    if chosen.size and (p.pair_item[chosen] != np.flatnonzero(item_pair >= 0)).any():
        violations.append("an item uses a pair that is not its own")
    unassigned_must = np.flatnonzero((item_pair < 0) & p.item_must)
    if unassigned_must.size:
        violations.append(f"{unassigned_must.size} item(s) that must be assigned are not")
    agents = p.pair_agent[chosen]
    load = np.bincount(agents, weights=p.pair_load[chosen], minlength=p.n_agents).astype(np.int64)
    new = np.bincount(agents, weights=p.new_counts()[chosen], minlength=p.n_agents)
    new = new.astype(np.int64)
    overload = np.maximum(load - p.agent_capacity, 0)
    band_start, band_cost = p.bands()
    band_over = np.maximum(load[None, :] - band_start, 0)
    if p.overload_cost is None and overload.any():
        violations.append(f"{int((overload > 0).sum())} agent(s) over a hard capacity")
    limits = p.new_limits()
    excess = np.where(limits >= 0, np.maximum(new - limits, 0), 0)
    if not p.new_limit_soft and excess.any():
        violations.append(f"{int((excess > 0).sum())} agent(s) over their new-pair limit")
    used = int(p.budget_use()[chosen].sum())
    if p.budget is not None and used > p.budget:
        violations.append(f"budget {p.budget} exceeded: {used}")
    peak = 0
    if p.peak_cost and p.n_agents:
        cap = np.maximum(p.agent_capacity, 1)
        peak = int(_ceil_div(load * p.peak_scale, cap).max())
    groups = p.groups()
    split = 0
    if (groups >= 0).any():
        assigned = item_pair >= 0
        g = groups[assigned]
        a = p.pair_agent[item_pair[assigned]]
        in_group = g >= 0
        pairs = np.unique(np.stack([g[in_group], a[in_group]]), axis=1)
        split = int((np.bincount(pairs[0]) > 1).sum()) if pairs.size else 0
    skip = int(p.item_skip_cost[(item_pair < 0) & ~p.item_must].sum())
    terms = {
        "pairs": int(p.pair_cost[chosen].sum()),
        "skipped": skip,
        "overload": int(overload.sum()) * (p.overload_cost or 0)
        + int((band_over.sum(axis=1) * band_cost).sum()),
        "peak": peak * p.peak_cost,
        "split": split * p.group_split_cost,
    }
    return Evaluation(
        feasible=not violations, violations=violations, objective=sum(terms.values()),
        terms=terms, agent_load=load, agent_new=new, overload=overload, peak=peak,
        split_groups=split, excess=int(excess.sum()),
    )
