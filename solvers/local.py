# mypy: disable-error-code="no-untyped-def"
# (the compiled kernels below take numba's types, inferred from their arrays)
"""A compiled local search between neighbourhood re-solves: shift, swap and sibling-group moves.

The neighbourhood search re-solves eight agents at a time with CP-SAT, a few per second; most
of what a plan still lacks after a short search is simple (one item to a less loaded agent, two
items trading agents, a group of siblings moving together) and spread over every agent. This
search makes those moves, priced by their exact delta of the model's objective (pair costs,
skips, banded overload, the peak, split groups), never raising the excess new pairs above the
agents' limits nor the budget's use past it, in index order, first the best move of each item:
deterministic, and counted in evaluations so that its work is a fixed budget, not the clock.

Compiled with numba (cached on disk after the first run); the caller checks the result with the
independent evaluation and keeps it only when it is better.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from solvers.problem import AssignmentProblem, IntArray
from solvers.sparse import csr

_TOPS = 4  # the highest utilisations kept for the peak's delta
_SCRATCH = 256  # most items one move may touch (a sibling group's size, twice)


class Descent(NamedTuple):
    """What one run of the search did: the plan, the evaluations it made, and its own account of
    the change in total excess and in objective (the tests hold it to the evaluation's)."""

    plan: IntArray
    evals: int
    excess_change: int
    objective_change: int


class LocalSearch:
    """The problem's arrays in the layout the compiled search reads, made once per problem."""

    def __init__(self, p: AssignmentProblem) -> None:
        i64 = np.int64
        order, starts = csr(p.pair_item, p.n_items)
        # each item's pairs sorted by agent, for the swap's lookup of "this item at that agent"
        order = order[np.lexsort((p.pair_agent[order], p.pair_item[order]))]
        self.item_pairs, self.item_starts = order.astype(i64), starts.astype(i64)
        groups = p.groups().astype(i64)
        n_groups = int(groups.max(initial=-1)) + 1
        g_order, g_starts = csr(np.where(groups >= 0, groups, n_groups), n_groups + 1)
        self.group_items, self.group_starts = g_order.astype(i64), g_starts.astype(i64)
        self.groups = groups
        _, a_starts = csr(p.pair_agent, p.n_agents)
        self.agent_slot_starts = a_starts.astype(i64)  # an agent holds at most its pairs' items
        # "don't look" marks: an item is examined again only when one of its agents changed
        # since it was last found with no improving move
        self.item_seen = np.full(p.n_items, -1, i64)
        self.agent_stamp = np.zeros(p.n_agents, i64)
        self.clock = 0
        self.last: IntArray | None = None
        self.pair_agent = p.pair_agent
        band_start, band_cost = p.bands()
        self.args = (
            p.pair_item.astype(i64), p.pair_agent.astype(i64), p.pair_cost.astype(i64),
            p.pair_load.astype(i64), p.new_counts().astype(i64), p.budget_use().astype(i64),
            p.item_must.astype(np.bool_), p.item_skip_cost.astype(i64),
            np.maximum(p.agent_capacity, 1).astype(i64), p.agent_capacity.astype(i64),
            i64(p.overload_cost or 0), np.ascontiguousarray(band_start, i64),
            band_cost.astype(i64), p.new_limits().astype(i64), i64(p.peak_cost),
            i64(p.peak_scale), i64(p.group_split_cost),
            i64(-1 if p.budget is None else p.budget),
        )

    def run(self, plan: IntArray, max_evals: int) -> Descent:
        """The plan after improving moves until none is left or `max_evals` are spent."""
        out = plan.astype(np.int64).copy()
        if self.last is not None:  # what changed since the last run: its agents are looked at
            diff = np.flatnonzero(self.last != out)
            ks = np.concatenate([self.last[diff], out[diff]])
            self.clock += 1
            self.agent_stamp[self.pair_agent[ks[ks >= 0]]] = self.clock
        evals, self.clock, d_excess, d_objective = _search(
            out, int(max_evals), self.clock, self.item_seen, self.agent_stamp, self.item_pairs,
            self.item_starts, self.group_items, self.group_starts, self.groups,
            self.agent_slot_starts, *self.args)
        self.last = out.copy()
        return Descent(out, int(evals), int(d_excess), int(d_objective))


def compiled() -> None:
    """Compile the search, or load it from numba's disk cache: the first call after installing
    takes about 10 s, later ones (in any process) a fraction of a second."""
    p = AssignmentProblem(
        n_items=1, n_agents=1, pair_item=np.zeros(1, np.int64), pair_agent=np.zeros(1, np.int64),
        pair_cost=np.zeros(1, np.int64), pair_load=np.ones(1, np.int64),
        item_must=np.ones(1, bool), item_skip_cost=np.zeros(1, np.int64),
        agent_capacity=np.ones(1, np.int64), overload_cost=1)
    LocalSearch(p).run(np.zeros(1, np.int64), 1)


@njit(cache=True, nogil=True)
def _agent_cost(load, a, capacity, rate, band_start, band_cost):
    c = rate * max(load - capacity[a], 0)
    for b in range(band_cost.size):
        c += band_cost[b] * max(load - band_start[b, a], 0)
    return c


@njit(cache=True, nogil=True)
def _excess(new, a, limit):
    if limit[a] < 0:
        return 0
    return max(new - limit[a], 0)


@njit(cache=True, nogil=True)
def _util(load, a, cap, scale):
    return (load * scale + cap[a] - 1) // cap[a]


@njit(cache=True, nogil=True)
def _split(g, plan, moved_items, moved_pairs, m, group_items, group_starts, pair_agent):
    """Whether group g's assigned items use more than one agent once the move is made."""
    first = -1
    for t in range(group_starts[g], group_starts[g + 1]):
        i = group_items[t]
        k = plan[i]
        for s in range(m):
            if moved_items[s] == i:
                k = moved_pairs[s]
        if k < 0:
            continue
        a = pair_agent[k]
        if first < 0:
            first = a
        elif a != first:
            return 1
    return 0


@njit(cache=True, nogil=True)
def _delta(m, mv_items, mv_pairs, touched, plan, load, new, util, top, tops, groups,
           group_items, group_starts, pair_agent, pair_cost, pair_load, pair_new, pair_budget,
           item_skip, cap, capacity, rate, band_start, band_cost, limit, peak_cost, scale,
           split_cost):
    """(excess change, objective change, budget change) of setting item mv_items[s] to pair
    mv_pairs[s] for s < m. Loads are changed and restored in place."""
    nt = 0
    for s in range(m):
        i = mv_items[s]
        for k in (plan[i], mv_pairs[s]):
            if k >= 0:
                a = pair_agent[k]
                seen = False
                for t in range(nt):
                    if touched[t] == a:
                        seen = True
                if not seen:
                    touched[nt] = a
                    nt += 1
    obj = 0
    exc = 0
    for t in range(nt):
        a = touched[t]
        obj -= _agent_cost(load[a], a, capacity, rate, band_start, band_cost)
        exc -= _excess(new[a], a, limit)
    dbudget = 0
    for s in range(m):
        i = mv_items[s]
        old, k = plan[i], mv_pairs[s]
        if old >= 0:
            load[pair_agent[old]] -= pair_load[old]
            new[pair_agent[old]] -= pair_new[old]
            obj -= pair_cost[old]
            dbudget -= pair_budget[old]
        else:
            obj -= item_skip[i]
        if k >= 0:
            load[pair_agent[k]] += pair_load[k]
            new[pair_agent[k]] += pair_new[k]
            obj += pair_cost[k]
            dbudget += pair_budget[k]
        else:
            obj += item_skip[i]
    peak = 0
    for t in range(nt):
        a = touched[t]
        obj += _agent_cost(load[a], a, capacity, rate, band_start, band_cost)
        exc += _excess(new[a], a, limit)
        if peak_cost:
            peak = max(peak, _util(load[a], a, cap, scale))
    if peak_cost:
        # the highest utilisation among agents the move leaves alone: the first of the
        # kept top agents it does not touch (a scan when it touches them all)
        rest = -1
        for q in range(tops.size):
            inside = False
            for t in range(nt):
                if touched[t] == tops[q]:
                    inside = True
            if not inside:
                rest = util[tops[q]] if tops[q] >= 0 else 0
                break
        if rest < 0:
            rest = 0
            for a in range(util.size):
                inside = False
                for t in range(nt):
                    if touched[t] == a:
                        inside = True
                if not inside and util[a] > rest:
                    rest = util[a]
        peak = max(peak, rest)
        obj += peak_cost * (peak - top)
    for s in range(m):  # restore
        i = mv_items[s]
        old, k = plan[i], mv_pairs[s]
        if old >= 0:
            load[pair_agent[old]] += pair_load[old]
            new[pair_agent[old]] += pair_new[old]
        if k >= 0:
            load[pair_agent[k]] -= pair_load[k]
            new[pair_agent[k]] -= pair_new[k]
    if split_cost:
        for s in range(m):
            g = groups[mv_items[s]]
            if g < 0:
                continue
            done = False
            for r in range(s):
                if groups[mv_items[r]] == g:
                    done = True
            if done:
                continue
            before = _split(g, plan, mv_items, mv_pairs, 0, group_items, group_starts, pair_agent)
            after = _split(g, plan, mv_items, mv_pairs, m, group_items, group_starts, pair_agent)
            obj += split_cost * (after - before)
    return exc, obj, dbudget


@njit(cache=True, nogil=True)
def _tops(util, tops):
    """The agents of the highest utilisations, highest first, in `tops`; the highest."""
    tops[:] = -1
    for a in range(util.size):
        for q in range(tops.size):
            if tops[q] < 0 or util[a] > util[tops[q]]:
                for r in range(tops.size - 1, q, -1):
                    tops[r] = tops[r - 1]
                tops[q] = a
                break
    return util[tops[0]] if tops[0] >= 0 else 0


@njit(cache=True, nogil=True)
def _pair_at(j, agent, item_pairs, item_starts, pair_agent):
    """Item j's pair with `agent` (binary search: an item's pairs are sorted by agent), or -1."""
    lo, hi = item_starts[j], item_starts[j + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if pair_agent[item_pairs[mid]] < agent:
            lo = mid + 1
        else:
            hi = mid
    if lo < item_starts[j + 1] and pair_agent[item_pairs[lo]] == agent:
        return item_pairs[lo]
    return -1


@njit(cache=True, nogil=True)
def _search(plan, max_evals, clock, item_seen, agent_stamp, item_pairs, item_starts,
            group_items, group_starts, groups, slot_starts, pair_item, pair_agent, pair_cost,
            pair_load, pair_new, pair_budget, item_must, item_skip, cap, capacity, rate,
            band_start, band_cost, limit, peak_cost, scale, split_cost, budget):
    n_items = item_starts.size - 1
    n_agents = cap.size
    load = np.zeros(n_agents, np.int64)
    new = np.zeros(n_agents, np.int64)
    held = np.zeros(n_agents, np.int64)
    slots = np.empty(pair_item.size, np.int64)
    slot_of = np.full(n_items, -1, np.int64)
    used = 0
    for i in range(n_items):
        k = plan[i]
        if k >= 0:
            a = pair_agent[k]
            load[a] += pair_load[k]
            new[a] += pair_new[k]
            used += pair_budget[k]
            slot_of[i] = slot_starts[a] + held[a]
            slots[slot_of[i]] = i
            held[a] += 1
    util = np.zeros(n_agents, np.int64)
    for a in range(n_agents):
        util[a] = _util(load[a], a, cap, scale)
    tops = np.full(_TOPS, -1, np.int64)
    top = _tops(util, tops)
    touched = np.empty(_SCRATCH, np.int64)
    mv_items = np.empty(_SCRATCH // 2, np.int64)
    mv_pairs = np.empty(_SCRATCH // 2, np.int64)
    best_items = np.empty(_SCRATCH // 2, np.int64)
    best_pairs = np.empty(_SCRATCH // 2, np.int64)
    evals = 0
    d_excess = 0
    d_objective = 0
    improved = True
    while improved and evals < max_evals:
        improved = False
        for i in range(n_items):
            if evals >= max_evals:
                break
            evals += 1
            stale = False
            for t in range(item_starts[i], item_starts[i + 1]):
                if agent_stamp[pair_agent[item_pairs[t]]] > item_seen[i]:
                    stale = True
                    break
            if not stale:
                continue
            best_m = 0
            best_ex = 0
            best_obj = 0
            best_b = 0
            k0 = plan[i]
            a0 = pair_agent[k0] if k0 >= 0 else -1
            g = groups[i]
            # shifts of item i (to another agent, in, or out when it may be left out)
            for t in range(item_starts[i], item_starts[i + 1] + 1):
                k = item_pairs[t] if t < item_starts[i + 1] else -1
                if k == k0 or (k < 0 and item_must[i]):
                    continue
                if k >= 0 and pair_agent[k] == a0:
                    continue
                mv_items[0] = i
                mv_pairs[0] = k
                ex, ob, db = _delta(1, mv_items, mv_pairs, touched, plan, load, new, util, top,
                                    tops, groups, group_items, group_starts, pair_agent,
                                    pair_cost, pair_load, pair_new, pair_budget, item_skip, cap,
                                    capacity, rate, band_start, band_cost, limit, peak_cost,
                                    scale, split_cost)
                evals += 1
                if budget >= 0 and db > 0 and used + db > budget:
                    continue
                if ex < best_ex or (ex == best_ex and ob < best_obj):
                    best_m, best_ex, best_obj, best_b = 1, ex, ob, db
                    best_items[0] = i
                    best_pairs[0] = k
            # the whole group (siblings) to one of item i's agents, once per group
            if g >= 0 and group_items[group_starts[g]] == i \
                    and group_starts[g + 1] - group_starts[g] <= _SCRATCH // 2:
                for t in range(item_starts[i], item_starts[i + 1]):
                    b = pair_agent[item_pairs[t]]
                    m = 0
                    ok = True
                    for u in range(group_starts[g], group_starts[g + 1]):
                        j = group_items[u]
                        if plan[j] < 0:
                            continue
                        kj = _pair_at(j, b, item_pairs, item_starts, pair_agent)
                        if kj < 0:
                            ok = False
                            break
                        if kj != plan[j]:
                            mv_items[m] = j
                            mv_pairs[m] = kj
                            m += 1
                    if not ok or m < 2:
                        continue
                    ex, ob, db = _delta(m, mv_items, mv_pairs, touched, plan, load, new, util,
                                        top, tops, groups, group_items, group_starts,
                                        pair_agent, pair_cost, pair_load, pair_new,
                                        pair_budget, item_skip, cap, capacity, rate,
                                        band_start, band_cost, limit, peak_cost, scale,
                                        split_cost)
                    evals += 1
                    if budget >= 0 and db > 0 and used + db > budget:
                        continue
                    if ex < best_ex or (ex == best_ex and ob < best_obj):
                        best_m, best_ex, best_obj, best_b = m, ex, ob, db
                        for s in range(m):
                            best_items[s] = mv_items[s]
                            best_pairs[s] = mv_pairs[s]
            # swaps: item i to agent b, an item j of b's to i's agent
            if k0 >= 0:
                for t in range(item_starts[i], item_starts[i + 1]):
                    k = item_pairs[t]
                    b = pair_agent[k]
                    if b == a0:
                        continue
                    for u in range(slot_starts[b], slot_starts[b] + held[b]):
                        j = slots[u]
                        kj = _pair_at(j, a0, item_pairs, item_starts, pair_agent)
                        if kj < 0:
                            continue
                        mv_items[0] = i
                        mv_pairs[0] = k
                        mv_items[1] = j
                        mv_pairs[1] = kj
                        ex, ob, db = _delta(2, mv_items, mv_pairs, touched, plan, load, new,
                                            util, top, tops, groups, group_items, group_starts,
                                            pair_agent, pair_cost, pair_load, pair_new,
                                            pair_budget, item_skip, cap, capacity, rate,
                                            band_start, band_cost, limit, peak_cost, scale,
                                            split_cost)
                        evals += 1
                        if budget >= 0 and db > 0 and used + db > budget:
                            continue
                        if ex < best_ex or (ex == best_ex and ob < best_obj):
                            best_m, best_ex, best_obj, best_b = 2, ex, ob, db
                            best_items[0], best_pairs[0] = i, k
                            best_items[1], best_pairs[1] = j, kj
            if best_m == 0:
                item_seen[i] = clock
                continue
            clock += 1
            # make the best move
            for s in range(best_m):
                j = best_items[s]
                old, k = plan[j], best_pairs[s]
                if old >= 0:
                    a = pair_agent[old]
                    load[a] -= pair_load[old]
                    new[a] -= pair_new[old]
                    last = slots[slot_starts[a] + held[a] - 1]
                    slots[slot_of[j]] = last
                    slot_of[last] = slot_of[j]
                    held[a] -= 1
                    slot_of[j] = -1
                    util[a] = _util(load[a], a, cap, scale)
                    agent_stamp[a] = clock
                if k >= 0:
                    a = pair_agent[k]
                    load[a] += pair_load[k]
                    new[a] += pair_new[k]
                    slot_of[j] = slot_starts[a] + held[a]
                    slots[slot_of[j]] = j
                    held[a] += 1
                    util[a] = _util(load[a], a, cap, scale)
                    agent_stamp[a] = clock
                plan[j] = k
            used += best_b
            d_excess += best_ex
            d_objective += best_obj
            for s in range(best_m):  # a sibling's moves are priced anew (the split changed)
                g = groups[best_items[s]]
                if g >= 0:
                    for u in range(group_starts[g], group_starts[g + 1]):
                        item_seen[group_items[u]] = -1
            was = top
            top = _tops(util, tops)
            if top != was:  # the peak moved: every move's price may have changed
                for a in range(n_agents):
                    agent_stamp[a] = clock
            improved = True
    return evals, clock, d_excess, d_objective
