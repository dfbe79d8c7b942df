# mypy: disable-error-code="no-untyped-def"
# (the compiled kernels below take numba's types, inferred from their arrays)
"""A compiled local search between neighbourhood re-solves: shift, swap and sibling-group moves.

The neighbourhood search re-solves eight agents at a time with CP-SAT, a few per second; most
of what a plan still lacks after a short search is simple (one item to a less loaded agent, two
items trading agents, a group of siblings moving together) and spread over every agent. This
search makes those moves, priced by their exact delta of the model's objective (pair costs,
skips, banded overload, the peak, split groups), never raising the excess new pairs above the
agents' limits, nor a load past a hard capacity, nor the budget's use past it. Items are taken
in index order, each item's best move made when it improves (fewer excess new pairs first,
then a lower objective): deterministic, and counted in evaluations so that its work is a fixed
budget, not the clock.

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
    """The problem's arrays in the layout the compiled search reads, made once per problem; and
    the "don't look" marks, kept from one run to the next: an item is examined again only when
    one of its candidate agents changed since it was last found with no improving move."""

    def __init__(self, p: AssignmentProblem) -> None:
        i64 = np.int64
        order, starts = csr(p.pair_item, p.n_items)
        # each item's pairs sorted by agent, for the lookup of "this item at that agent"
        order = order[np.lexsort((p.pair_agent[order], p.pair_item[order]))]
        groups = p.groups().astype(i64)
        n_groups = int(groups.max(initial=-1)) + 1
        g_order, g_starts = csr(np.where(groups >= 0, groups, n_groups), n_groups + 1)
        _, a_starts = csr(p.pair_agent, p.n_agents)  # an agent holds at most its pairs' items
        band_start, band_cost = p.bands()
        self.p = p
        self.problem = (
            (p.pair_agent.astype(i64), p.pair_cost.astype(i64), p.pair_load.astype(i64),
             p.new_counts().astype(i64), p.budget_use().astype(i64)),
            (order.astype(i64), starts.astype(i64), p.item_must.astype(np.bool_),
             p.item_skip_cost.astype(i64), groups, g_order.astype(i64), g_starts.astype(i64)),
            (np.maximum(p.agent_capacity, 1).astype(i64), p.agent_capacity.astype(i64),
             np.ascontiguousarray(band_start, i64), band_cost.astype(i64),
             p.new_limits().astype(i64), a_starts.astype(i64)),
            np.array([p.overload_cost or 0, p.peak_cost, p.peak_scale, p.group_split_cost,
                      -1 if p.budget is None else p.budget, p.overload_cost is None], i64))
        self.item_seen = np.full(p.n_items, -1, i64)
        self.agent_stamp = np.zeros(p.n_agents, i64)
        self.clock = 0
        self.last: IntArray | None = None

    def run(self, plan: IntArray, max_evals: int) -> Descent:
        """The plan after improving moves until none is left or `max_evals` are spent."""
        p = self.p
        out = plan.astype(np.int64).copy()
        if self.last is not None:  # what changed since the last run: its agents are looked at
            diff = np.flatnonzero(self.last != out)
            ks = np.concatenate([self.last[diff], out[diff]])
            self.clock += 1
            self.agent_stamp[p.pair_agent[ks[ks >= 0]]] = self.clock
        k = out[out >= 0]
        agent = p.pair_agent[k].astype(np.int64)
        load = np.bincount(agent, weights=p.pair_load[k], minlength=p.n_agents).astype(np.int64)
        new = np.bincount(agent, weights=p.new_counts()[k], minlength=p.n_agents)
        # each agent's items in a region of `slots` of its own, filled from its start
        held = np.bincount(agent, minlength=p.n_agents).astype(np.int64)
        items = np.flatnonzero(out >= 0)[np.argsort(agent, kind="stable")]
        first = np.concatenate([[0], np.cumsum(held)[:-1]])
        slots = np.zeros(p.n_pairs, np.int64)
        slot_of = np.full(p.n_items, -1, np.int64)
        at = self.problem[2][5][np.sort(agent)] + np.arange(items.size) - np.repeat(first, held)
        slots[at], slot_of[items] = items, at
        cap = self.problem[2][0]
        util = (load * p.peak_scale + cap - 1) // cap
        tops = np.full(_TOPS, -1, np.int64)
        acc = np.array([0, max_evals, self.clock, int(p.budget_use()[k].sum()), 0, 0, 0],
                       np.int64)
        state = (out, load, new.astype(np.int64), util, tops, held, slots, slot_of,
                 self.item_seen, self.agent_stamp, acc)
        _search(self.problem, state, _scratch())
        self.clock = int(acc[_CLOCK])
        self.last = out.copy()
        return Descent(out, int(acc[_EVALS]), int(acc[_DEX]), int(acc[_DOBJ]))


def _scratch() -> tuple[np.ndarray, ...]:
    """Work arrays: the agents a move touches, the move being priced, the best move so far
    (its items and pairs) and its size, excess change, objective change and budget change."""
    half = _SCRATCH // 2
    return (np.empty(_SCRATCH, np.int64), np.empty(half, np.int64), np.empty(half, np.int64),
            np.empty(half, np.int64), np.empty(half, np.int64), np.zeros(4, np.int64))


def compiled() -> None:
    """Compile the search, or load it from numba's disk cache: the first call after installing
    takes about 10 s, later ones (in any process) a fraction of a second."""
    p = AssignmentProblem(
        n_items=1, n_agents=1, pair_item=np.zeros(1, np.int64), pair_agent=np.zeros(1, np.int64),
        pair_cost=np.zeros(1, np.int64), pair_load=np.ones(1, np.int64),
        item_must=np.ones(1, bool), item_skip_cost=np.zeros(1, np.int64),
        agent_capacity=np.ones(1, np.int64), overload_cost=1)
    LocalSearch(p).run(np.zeros(1, np.int64), 1)


# Slots of the counters (acc) and of the best move (best); the layouts of the tuples are those
# LocalSearch builds: problem = (pairs, items, agents, scalars), state = (plan, load, new,
# util, tops, held, slots, slot_of, item_seen, agent_stamp, acc), work = _scratch().
_EVALS, _MAX, _CLOCK, _USED, _TOP, _DEX, _DOBJ = range(7)
_M, _EX, _OBJ, _DB = range(4)
_RATE, _PEAK, _SCALE, _SPLIT, _BUDGET, _HARD = range(6)
_REFUSED = 1 << 40  # the excess change of a move past a hard capacity: never made


@njit(cache=True, nogil=True, inline="always")
def _agent_cost(load, a, agents, rate):
    """Banded overload cost of agent a at `load`."""
    capacity, band_start, band_cost = agents[1], agents[2], agents[3]
    c = rate * max(load - capacity[a], 0)
    for b in range(band_cost.size):
        c += band_cost[b] * max(load - band_start[b, a], 0)
    return c


@njit(cache=True, nogil=True, inline="always")
def _excess(new, a, limit):
    if limit[a] < 0:
        return 0
    return max(new - limit[a], 0)


@njit(cache=True, nogil=True, inline="always")
def _touch(m, problem, state, work):
    """The agents the move touches (each once) into work[0]; how many."""
    pair_agent, plan = problem[0][0], state[0]
    touched, mv_items, mv_pairs = work[0], work[1], work[2]
    nt = 0
    for s in range(m):
        for k in (plan[mv_items[s]], mv_pairs[s]):
            if k >= 0:
                a = pair_agent[k]
                seen = False
                for t in range(nt):
                    if touched[t] == a:
                        seen = True
                if not seen:
                    touched[nt] = a
                    nt += 1
    return nt


@njit(cache=True, nogil=True, inline="always")
def _shift(m, sign, problem, state, work):
    """Apply (sign 1) or undo (sign -1) the move's loads and new pairs; the change of pair and
    skip costs and of the budget's use."""
    pair_agent, pair_cost, pair_load, pair_new, pair_budget = problem[0]
    item_skip = problem[1][3]
    plan, load, new = state[0], state[1], state[2]
    mv_items, mv_pairs = work[1], work[2]
    cost = 0
    budget = 0
    for s in range(m):
        i = mv_items[s]
        old, k = plan[i], mv_pairs[s]
        if old >= 0:
            load[pair_agent[old]] -= sign * pair_load[old]
            new[pair_agent[old]] -= sign * pair_new[old]
            cost -= pair_cost[old]
            budget -= pair_budget[old]
        else:
            cost -= item_skip[i]
        if k >= 0:
            load[pair_agent[k]] += sign * pair_load[k]
            new[pair_agent[k]] += sign * pair_new[k]
            cost += pair_cost[k]
            budget += pair_budget[k]
        else:
            cost += item_skip[i]
    return cost, budget


@njit(cache=True, nogil=True, inline="always")
def _agents_cost(nt, peak_too, problem, state, work):
    """Overload cost, excess and (when asked) highest utilisation of the touched agents at
    their loads; with hard capacities, an agent over its capacity counts as refused excess."""
    agents, sc = problem[2], problem[3]
    load, new = state[1], state[2]
    touched = work[0]
    cost = 0
    excess = 0
    peak = 0
    for t in range(nt):
        a = touched[t]
        cost += _agent_cost(load[a], a, agents, sc[_RATE])
        excess += _excess(new[a], a, agents[4])
        if sc[_HARD] and load[a] > agents[1][a]:
            excess += _REFUSED
        if peak_too:
            peak = max(peak, (load[a] * sc[_SCALE] + agents[0][a] - 1) // agents[0][a])
    return cost, excess, peak


@njit(cache=True, nogil=True, inline="always")
def _rest_peak(nt, state, work):
    """The highest utilisation among agents the move leaves alone: the first kept top agent it
    does not touch (a scan when it touches them all)."""
    util, tops = state[3], state[4]
    touched = work[0]
    for q in range(tops.size):
        inside = False
        for t in range(nt):
            if touched[t] == tops[q]:
                inside = True
        if not inside:
            return util[tops[q]] if tops[q] >= 0 else 0
    rest = 0
    for a in range(util.size):
        inside = False
        for t in range(nt):
            if touched[t] == a:
                inside = True
        if not inside and util[a] > rest:
            rest = util[a]
    return rest


@njit(cache=True, nogil=True, inline="always")
def _split(g, m, problem, state, work):
    """Whether group g's assigned items use more than one agent with the move's first m
    changes made."""
    pair_agent = problem[0][0]
    group_items, group_starts = problem[1][5], problem[1][6]
    plan = state[0]
    mv_items, mv_pairs = work[1], work[2]
    first = -1
    for t in range(group_starts[g], group_starts[g + 1]):
        i = group_items[t]
        k = plan[i]
        for s in range(m):
            if mv_items[s] == i:
                k = mv_pairs[s]
        if k < 0:
            continue
        a = pair_agent[k]
        if first < 0:
            first = a
        elif a != first:
            return 1
    return 0


@njit(cache=True, nogil=True, inline="always")
def _delta(m, problem, state, work):
    """(excess change, objective change, budget change) of the move in work[1:3] (its first m
    items to their pairs). Loads are changed and restored in place."""
    sc, groups = problem[3], problem[1][4]
    mv_items = work[1]
    nt = _touch(m, problem, state, work)
    before, ex_before, _ = _agents_cost(nt, False, problem, state, work)
    cost, budget = _shift(m, 1, problem, state, work)
    after, ex_after, peak = _agents_cost(nt, sc[_PEAK] != 0, problem, state, work)
    _shift(m, -1, problem, state, work)
    obj = cost + after - before
    if sc[_PEAK]:
        top = state[10][_TOP]
        obj += sc[_PEAK] * (max(peak, _rest_peak(nt, state, work)) - top)
    if sc[_SPLIT]:
        for s in range(m):
            g = groups[mv_items[s]]
            done = g < 0
            for r in range(s):
                if groups[mv_items[r]] == g:
                    done = True
            if not done:
                obj += sc[_SPLIT] * (_split(g, m, problem, state, work)
                                     - _split(g, 0, problem, state, work))
    return ex_after - ex_before, obj, budget


@njit(cache=True, nogil=True, inline="always")
def _consider(m, problem, state, work):
    """Price the move in work[1:3]; keep it as the best when it lowers (excess, objective) most
    of those seen and stays within the budget."""
    acc, best = state[10], work[5]
    ex, ob, db = _delta(m, problem, state, work)
    acc[_EVALS] += 1
    budget = problem[3][_BUDGET]
    if budget >= 0 and db > 0 and acc[_USED] + db > budget:
        return
    if ex < best[_EX] or (ex == best[_EX] and ob < best[_OBJ]):
        best[_M], best[_EX], best[_OBJ], best[_DB] = m, ex, ob, db
        for s in range(m):
            work[3][s] = work[1][s]
            work[4][s] = work[2][s]


@njit(cache=True, nogil=True, inline="always")
def _pair_at(j, agent, problem):
    """Item j's pair with `agent` (binary search: an item's pairs are sorted by agent), or -1."""
    pair_agent = problem[0][0]
    item_pairs, item_starts = problem[1][0], problem[1][1]
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
def _shifts(i, since, problem, state, work):
    """Item i to each of its other agents, and out when it may be left out, or in; only to
    agents changed after `since` when that is not -1 (the others' prices are as they were)."""
    pair_agent = problem[0][0]
    item_pairs, item_starts, item_must = problem[1][0], problem[1][1], problem[1][2]
    plan, agent_stamp = state[0], state[9]
    k0 = plan[i]
    a0 = pair_agent[k0] if k0 >= 0 else -1
    for t in range(item_starts[i], item_starts[i + 1] + 1):
        k = item_pairs[t] if t < item_starts[i + 1] else -1
        if k == k0 or (k < 0 and item_must[i]) or (k >= 0 and pair_agent[k] == a0):
            continue
        if since >= 0 and (k < 0 or agent_stamp[pair_agent[k]] <= since):
            continue
        work[1][0], work[2][0] = i, k
        _consider(1, problem, state, work)


@njit(cache=True, nogil=True)
def _group_moves(i, problem, state, work):
    """Item i's whole group (siblings) to one of item i's agents, once per group."""
    pair_agent = problem[0][0]
    item_pairs, item_starts = problem[1][0], problem[1][1]
    groups, group_items, group_starts = problem[1][4], problem[1][5], problem[1][6]
    plan = state[0]
    g = groups[i]
    if g < 0 or group_items[group_starts[g]] != i \
            or group_starts[g + 1] - group_starts[g] > _SCRATCH // 2:
        return
    for t in range(item_starts[i], item_starts[i + 1]):
        b = pair_agent[item_pairs[t]]
        m = 0
        ok = True
        for u in range(group_starts[g], group_starts[g + 1]):
            j = group_items[u]
            if plan[j] < 0:
                continue
            kj = _pair_at(j, b, problem)
            if kj < 0:
                ok = False
                break
            if kj != plan[j]:
                work[1][m], work[2][m] = j, kj
                m += 1
        if ok and m >= 2:
            _consider(m, problem, state, work)


@njit(cache=True, nogil=True)
def _swaps(i, since, problem, state, work):
    """Item i to one of its agents b, an item j of b's to i's agent (only agents b changed
    after `since` when that is not -1)."""
    pair_agent = problem[0][0]
    item_pairs, item_starts = problem[1][0], problem[1][1]
    slot_starts = problem[2][5]
    plan, held, slots, agent_stamp = state[0], state[5], state[6], state[9]
    k0 = plan[i]
    if k0 < 0:
        return
    a0 = pair_agent[k0]
    for t in range(item_starts[i], item_starts[i + 1]):
        k = item_pairs[t]
        b = pair_agent[k]
        if b == a0 or (since >= 0 and agent_stamp[b] <= since):
            continue
        for u in range(slot_starts[b], slot_starts[b] + held[b]):
            j = slots[u]
            kj = _pair_at(j, a0, problem)
            if kj < 0:
                continue
            work[1][0], work[2][0] = i, k
            work[1][1], work[2][1] = j, kj
            _consider(2, problem, state, work)


@njit(cache=True, nogil=True)
def _make(problem, state, work):
    """Make the best move: loads, slots, utilisations, marks and counters follow."""
    pair_agent, _, pair_load, pair_new, _ = problem[0]
    groups, group_items, group_starts = problem[1][4], problem[1][5], problem[1][6]
    cap, slot_starts, scale = problem[2][0], problem[2][5], problem[3][_SCALE]
    plan, load, new, util, tops, held, slots, slot_of, item_seen, agent_stamp, acc = state
    best = work[5]
    acc[_CLOCK] += 1
    for s in range(best[_M]):
        j, k = work[3][s], work[4][s]
        for kk, sign in ((plan[j], -1), (k, 1)):
            if kk < 0:
                continue
            a = pair_agent[kk]
            load[a] += sign * pair_load[kk]
            new[a] += sign * pair_new[kk]
            util[a] = (load[a] * scale + cap[a] - 1) // cap[a]
            agent_stamp[a] = acc[_CLOCK]
            if sign < 0:  # out of a's slots: the last of them takes its place
                last = slots[slot_starts[a] + held[a] - 1]
                slots[slot_of[j]] = last
                slot_of[last] = slot_of[j]
                held[a] -= 1
            else:
                slot_of[j] = slot_starts[a] + held[a]
                slots[slot_of[j]] = j
                held[a] += 1
        plan[j] = k
        if groups[j] >= 0:  # a sibling's moves are priced anew (the split changed)
            g = groups[j]
            for u in range(group_starts[g], group_starts[g + 1]):
                item_seen[group_items[u]] = -1
    acc[_USED] += best[_DB]
    acc[_DEX] += best[_EX]
    acc[_DOBJ] += best[_OBJ]
    was = acc[_TOP]
    acc[_TOP] = _tops(util, tops)
    if acc[_TOP] != was:  # the peak moved: every move's price may have changed
        agent_stamp[:] = acc[_CLOCK]


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


@njit(cache=True, nogil=True, inline="always")
def _stale(i, problem, state):
    """Whether one of item i's agents changed since i was last found with nothing to gain."""
    pair_agent = problem[0][0]
    item_pairs, item_starts = problem[1][0], problem[1][1]
    item_seen, agent_stamp = state[8], state[9]
    for t in range(item_starts[i], item_starts[i + 1]):
        if agent_stamp[pair_agent[item_pairs[t]]] > item_seen[i]:
            return True
    return False


@njit(cache=True, nogil=True, inline="always")
def _since(i, problem, state):
    """When item i was last found with nothing to gain, if its own agent has not changed since
    (then only moves to agents changed after that can gain: a shift's or a swap's price
    depends on the two agents' loads and items, and on the peak, whose change marks every
    agent); else -1, every move priced."""
    plan, item_seen, agent_stamp = state[0], state[8], state[9]
    seen = item_seen[i]
    k0 = plan[i]
    if seen < 0 or (k0 >= 0 and agent_stamp[problem[0][0][k0]] > seen):
        return -1
    return seen


@njit(cache=True, nogil=True)
def _search(problem, state, work):
    """Passes over the items in index order, each item's best move made when it improves,
    until a pass makes none or the evaluations are spent."""
    n_items = problem[1][1].size - 1
    acc, best, item_seen = state[10], work[5], state[8]
    acc[_TOP] = _tops(state[3], state[4])
    improved = True
    while improved and acc[_EVALS] < acc[_MAX]:
        improved = False
        for i in range(n_items):
            if acc[_EVALS] >= acc[_MAX]:
                break
            acc[_EVALS] += 1
            if not _stale(i, problem, state):
                continue
            best[:] = 0
            since = _since(i, problem, state)
            _shifts(i, since, problem, state, work)
            _group_moves(i, problem, state, work)
            _swaps(i, since, problem, state, work)
            if best[_M] == 0:
                item_seen[i] = acc[_CLOCK]
                continue
            _make(problem, state, work)
            improved = True
