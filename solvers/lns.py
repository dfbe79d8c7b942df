"""Large-neighbourhood search: re-solve a few related agents exactly with CP-SAT, keep what helps.

CP-SAT's own neighbourhoods on a 100,000-variable model improve slowly on two cores; these ones
follow the problem's structure: an overloaded or busy agent and a chain of agents away from it
(each hop the least utilised of the last one's neighbours, and one more sharing its items),
every item they hold and every waiting item that could go to them. Each neighbourhood is a
model of a few hundred variables, re-solved by CP-SAT from the current plan within a small
deterministic budget; a change is accepted only when the full evaluation (objective, then
excess) improves. Before the first re-solve and after each that helped, the compiled local
search (`solvers.local`) makes the simple moves (one item, two trading, a group together) that
re-solving eight agents at a time reaches too slowly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from solvers.context import SolveContext
from solvers.cpsat import Presolve, add_hint, build, run
from solvers.evaluate import Evaluation, evaluate
from solvers.problem import AssignmentProblem, IntArray, take
from solvers.sparse import csr


@dataclass
class _Links:
    """Which agents share candidate items, found on demand from two CSR indexes (agent -> its
    pairs, item -> its pairs): memory O(pairs), never pairs x candidates per item."""

    item_order: IntArray
    item_starts: IntArray
    agent_order: IntArray
    agent_starts: IntArray

    @classmethod
    def of(cls, p: AssignmentProblem) -> _Links:
        io, ist = csr(p.pair_item, p.n_items)
        ao, ast = csr(p.pair_agent, p.n_agents)
        return cls(io, ist, ao, ast)

    def has_links(self, p: AssignmentProblem) -> np.ndarray:
        """Agents with at least one candidate item that another agent shares."""
        per_item = np.diff(self.item_starts)
        shared = per_item[p.pair_item] > 1
        out = np.zeros(p.n_agents, bool)
        out[p.pair_agent[shared]] = True
        return out

    def neighbours(self, p: AssignmentProblem, agent: int) -> tuple[IntArray, IntArray]:
        """The other agents sharing candidate items with `agent`, and how many they share."""
        ks = self.agent_order[self.agent_starts[agent]:self.agent_starts[agent + 1]]
        items = p.pair_item[ks]
        starts, ends = self.item_starts[items], self.item_starts[items + 1]
        lengths = ends - starts
        idx = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) \
            + np.arange(int(lengths.sum()))
        others = p.pair_agent[self.item_order[idx]]
        counts = np.bincount(others, minlength=p.n_agents)
        counts[agent] = 0
        near = np.flatnonzero(counts)
        order = np.lexsort((near, -counts[near]))
        return near[order], counts[near][order]


# Wall seconds per neighbourhood on the 2-core CI machine, fitted over 400 neighbourhoods of a
# 2,000-child county (one thread): a fixed part (building the model in Python), a part per
# candidate pair, and CP-SAT's deterministic time. The LNS budget is spent in these units.
WORK_PER_ITERATION = 0.0031
WORK_PER_PAIR = 2.6e-5
WORK_PER_DTIME = 2.0


def neighbourhood_problem(p: AssignmentProblem, item_pair: IntArray, agents: IntArray,
                          budget_left: int | None
                          ) -> tuple[AssignmentProblem, IntArray, IntArray] | None:
    """The sub-problem over `agents`: their items and waiting items that could go to them."""
    in_s = np.zeros(p.n_agents, bool)
    in_s[agents] = True
    assigned_agent = np.where(item_pair >= 0, p.pair_agent[np.maximum(item_pair, 0)], -1)
    holds = (assigned_agent >= 0) & in_s[np.maximum(assigned_agent, 0)]
    could = np.zeros(p.n_items, bool)
    could[p.pair_item[in_s[p.pair_agent]]] = True
    free = holds | ((item_pair < 0) & could)
    items = np.flatnonzero(free)
    if items.size == 0:
        return None
    keep = free[p.pair_item] & in_s[p.pair_agent]
    ks = np.flatnonzero(keep)
    # a group is modelled only when all its assigned items are inside this neighbourhood
    g_all = p.groups()
    outside = np.zeros(max(int(g_all.max()) + 1, 1), bool)
    outside[g_all[(g_all >= 0) & ~free & (item_pair >= 0)]] = True
    groups = g_all[items]
    groups = np.where((groups >= 0) & ~outside[np.maximum(groups, 0)], groups, -1)
    hint = np.where(holds[items], np.searchsorted(ks, item_pair[items]), -1)
    sub = take(p, items, agents, ks, item_group=groups, hint=hint, budget=budget_left)
    return sub, items, ks


# Agents per neighbourhood (measured: 8 beats 5 and 12 on sized counties), and each
# neighbourhood's CP-SAT work.
SIZE = 8
SUB_WORK = 0.1
# The compiled local search (solvers.local) first, and again after every neighbourhood that
# helped: at most this share of the work each time (it mostly stops sooner, at a local optimum),
# counted per move it evaluates (measured: 6.2e-7 s on the 2-core machine, two components at
# once, once loaded; counted a little above, as CP-SAT's work is: at 1e-6 a 60 s run on a sized
# 5,000-child county ended at 31-42 s).
LOCAL_SHARE = 0.3
LOCAL_WORK_PER_EVAL = 7.0e-7


def improve(p: AssignmentProblem, start: IntArray, ctx: SolveContext,
            excess_cap: int | None = None,
            on_better: Callable[[IntArray], None] | None = None) -> tuple[IntArray, float]:
    """Improve `start` by neighbourhood re-solves until the context's work is spent (or the
    clock's deadline, or a stop); never makes it worse. Returns the plan and the work used."""
    rng = np.random.default_rng(ctx.seed)
    best = start.copy()
    ev = evaluate(p, best)
    links = _Links.of(p)
    linked = links.has_links(p)
    cap = np.maximum(p.agent_capacity, 1)
    work = 0.0
    from solvers.local import LocalSearch  # numba, loaded only when a search runs

    local = LocalSearch(p)

    def descend(limit: float) -> None:
        nonlocal best, ev, work
        # the clock only guards (half of what is left: a busy machine makes a move dearer), as
        # CP-SAT's time limit does; on a quiet machine the work alone decides
        limit = min(limit, 0.5 * ctx.left())
        plan, evals, _, _ = local.run(best, int(max(limit, 0.0) / LOCAL_WORK_PER_EVAL))
        work += evals * LOCAL_WORK_PER_EVAL
        lev = evaluate(p, plan)
        if lev.feasible and (lev.excess, lev.objective) < (ev.excess, ev.objective):
            best, ev = plan, lev
            if on_better is not None:
                on_better(best)

    descend(LOCAL_SHARE * ctx.work)
    while ctx.left() > 0.05 and not ctx.stopped and work < ctx.work:
        agents = _pick_agents(p, rng, links, linked, ev.agent_load / cap, ev.overload > 0)
        if agents is None:
            break
        peak_floor, excess_left, budget_left = _limits_outside(p, ev, best, agents, cap,
                                                               excess_cap)
        made = neighbourhood_problem(p, best, agents, budget_left)
        if made is None:
            work += WORK_PER_ITERATION
            continue
        sub, items, ks = made
        sub_ctx = ctx.part(SUB_WORK, seed=int(rng.integers(1 << 30)), threads=1)
        vals, used = _resolve(sub, excess_left, peak_floor, sub_ctx)
        # the work this iteration did, in seconds of this machine, from deterministic counts
        # only: the same budget stops at the same iteration on a busy machine
        work += used
        if vals is None:
            continue
        trial = best.copy()
        trial[items] = -1
        trial[items[sub.pair_item[vals]]] = ks[vals]
        tev = evaluate(p, trial)
        if tev.feasible and (tev.excess, tev.objective) < (ev.excess, ev.objective):
            best, ev = trial, tev
            if on_better is not None:
                on_better(best)
            descend(min(LOCAL_SHARE * ctx.work, ctx.work - work))
    return best, work


def _pick_agents(p: AssignmentProblem, rng: np.random.Generator, links: _Links,
                 linked: np.ndarray, util: np.ndarray, over: np.ndarray) -> IntArray | None:
    """A busy agent drawn by utilisation, and a chain of agents away from it: each hop adds the
    least utilised of the last one's neighbours (where load can go) and another drawn by the
    items it shares with them, then goes on from the least utilised. Load can then travel
    several agents in one re-solve, which a star of the busy agent's own neighbours cannot do
    where they are all busy too (measured at work 10 on eight sized 5,000-child counties: 0.1%
    to 6.2% lower objective on seven, 0.1% higher on one; crisis and leavers counties within
    0.2%). None when no agent has a link."""
    weight = np.where(linked, 0.05 + util + over, 0)
    if weight.sum() <= 0:
        return None
    at = int(rng.choice(p.n_agents, p=weight / weight.sum()))
    chosen = [at]
    taken = np.zeros(p.n_agents, bool)
    taken[at] = True
    while len(chosen) < SIZE:
        cand, shared = links.neighbours(p, at)
        free = ~taken[cand]
        cand, shared = cand[free], shared[free]
        if cand.size == 0:
            break
        low = int(cand[np.lexsort((cand, util[cand]))][0])
        add = [low]
        rest = cand != low
        if rest.any() and len(chosen) + 1 < SIZE:
            weights = shared[rest].astype(float)
            add.append(int(rng.choice(cand[rest], p=weights / weights.sum())))
        for a in add:
            taken[a] = True
            chosen.append(a)
        at = low
    return np.sort(np.asarray(chosen, np.int64))


def _limits_outside(p: AssignmentProblem, ev: Evaluation, best: IntArray, agents: IntArray,
                    cap: np.ndarray, excess_cap: int | None
                    ) -> tuple[int, int | None, int | None]:
    """What the rest of the plan fixes for a neighbourhood: the peak it already reaches, the
    excess new pairs left to the neighbourhood, and the budget left to it."""
    peak_floor = 0
    if p.peak_cost:
        others = np.ones(p.n_agents, bool)
        others[agents] = False
        if others.any():
            peak_floor = int((-((-ev.agent_load[others] * p.peak_scale) // cap[others])).max())
    excess_left = None
    if p.new_limit_soft:
        lim = p.new_limits()
        ex = np.where(lim >= 0, np.maximum(ev.agent_new - lim, 0), 0)
        inside = int(ex[agents].sum())
        outside = int(ex.sum()) - inside
        excess_left = inside if excess_cap is None else max(excess_cap - outside, inside)
    budget_left = None
    if p.budget is not None:
        chosen_pairs = best[best >= 0]
        in_s = np.zeros(p.n_agents, bool)
        in_s[agents] = True
        used = p.budget_use()[chosen_pairs]
        budget_left = p.budget - int(used[~in_s[p.pair_agent[chosen_pairs]]].sum())
    return peak_floor, excess_left, budget_left


def _resolve(sub: AssignmentProblem, excess_left: int | None, peak_floor: int,
             ctx: SolveContext) -> tuple[np.ndarray | None, float]:
    """CP-SAT on one neighbourhood from its current plan: the chosen pairs (None when it found
    no plan) and the modelled work it took."""
    excess_cost = 0
    if sub.new_limit_soft:  # dearer than everything else the neighbourhood can change
        excess_cost = 1 + int(np.abs(sub.pair_cost).sum() + sub.item_skip_cost.sum()
                              + sub.overload_rate_max() * sub.pair_load.sum()
                              + sub.peak_cost * sub.peak_scale * 10 + sub.group_split_cost
                              * sub.n_items)
    built = build(sub, excess_left, peak_floor=peak_floor, excess_cost=excess_cost)
    if sub.hint is not None:
        add_hint(built, sub, sub.hint)
    # a neighbourhood is a few hundred variables from a known plan: presolve costs more than it
    # saves (measured on sized counties: 4.1-4.9% from the LP bound after 3 s of LNS per
    # locality without it, 5.1-7.4% with it, three seeds)
    ran = run(built.model, ctx, Presolve.OFF)
    used = WORK_PER_ITERATION + WORK_PER_PAIR * sub.n_pairs + WORK_PER_DTIME * ran.dtime
    if not ran.found:
        return None, used
    return ran.values(built.x), used
