"""The solve, in stages: greedy starts (reported at once as a whole plan), least excess, LP
bound, then each component's stages (solvers.stages), then a last polish.

Each stage hands the next a feasible plan, so a time limit or Ctrl-C at any point returns the
best plan found so far. The bound is the better of the LP relaxation (HiGHS) and CP-SAT's own.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from solvers.context import SolveContext, Termination
from solvers.cpsat import least_excess
from solvers.evaluate import evaluate
from solvers.greedy import greedy, pairs_by_item
from solvers.lp import lp_bound
from solvers.polish import polish
from solvers.problem import (
    AssignmentProblem,
    IntArray,
    Solution,
    SolveStats,
    Status,
    hint_in,
    take,
)
from solvers.stages import EXCESS_SHARE, Given, Report, solve_connected
from solvers.stopping import SOLVE_THREAD

__all__ = ["components", "solve", "subproblem"]

def components(p: AssignmentProblem) -> tuple[int, IntArray, IntArray]:
    """Connected components of the item-agent graph (items in one group are joined too).

    With locality geography each locality is a component: independent problems but for the peak,
    which is evaluated globally. Items with no pair at all are left out (component -1).
    """
    item_label = np.arange(p.n_items, dtype=np.int64)
    agent_label = np.full(p.n_agents, p.n_items, np.int64)
    groups = p.groups()
    in_group = np.flatnonzero(groups >= 0)
    while True:
        agent_new = np.full(p.n_agents, p.n_items, np.int64)
        np.minimum.at(agent_new, p.pair_agent, item_label[p.pair_item])
        item_new = item_label.copy()
        np.minimum.at(item_new, p.pair_item, agent_new[p.pair_agent])
        if in_group.size:
            g_min = np.full(int(groups.max()) + 1, p.n_items, np.int64)
            np.minimum.at(g_min, groups[in_group], item_new[in_group])
            item_new[in_group] = np.minimum(item_new[in_group], g_min[groups[in_group]])
        if np.array_equal(item_new, item_label) and np.array_equal(agent_new, agent_label):
            break
        item_label, agent_label = item_new, agent_new
    has = np.zeros(p.n_items, bool)
    has[p.pair_item] = True
    labels, item_comp = np.unique(np.where(has, item_label, -1), return_inverse=True)
    item_comp = item_comp - (1 if (labels == -1).any() else 0)
    agent_comp = np.full(p.n_agents, -1, np.int64)
    agent_comp[p.pair_agent] = item_comp[p.pair_item]
    return int(item_comp.max()) + 1 if has.any() else 0, item_comp, agent_comp


def subproblem(p: AssignmentProblem, items: IntArray, agents: IntArray
               ) -> tuple[AssignmentProblem, IntArray]:
    """The problem restricted to some items and agents (all pairs between them); returns it and
    the kept pairs' indices in `p`."""
    in_i = np.zeros(p.n_items, bool)
    in_i[items] = True
    in_a = np.zeros(p.n_agents, bool)
    in_a[agents] = True
    ks = np.flatnonzero(in_i[p.pair_item] & in_a[p.pair_agent])
    return take(p, items, agents, ks, hint=hint_in(p, items, ks)), ks


# Of the work: what the components share by size (the rest is start-up, the excess models, the
# LP, and room for a busy machine); within a component, LNS's share and rate (its stages
# overshoot far less than a whole model's; two threads slow each other).
SOLVE_SHARE = 0.75
COMPONENT_LNS_SHARE = 0.66  # with the LP-guided stage's 0.2: the same work as before
COMPONENT_LNS_RATE = 0.8
# A component's window of the clock is its share of what is left, by size, with this slack:
# the work per second differs between components (measured on sized 5,000-child counties: a
# component's window without slack cut its search on a quiet machine with 15 s of the limit
# unused), and one that ends early leaves its time to the rest
FAIR_SLACK = 1.5
GLOBAL_LP_MAX_PAIRS = 300_000  # above this HiGHS takes a minute; components' LPs take seconds
# Valves for short limits on large problems (a 20 s limit at 50,000 children): past these
# fractions of the clock, the per-component excess models and LPs are skipped.
CLOCK_EXCESS = 0.15
CLOCK_LP = 0.3
LP_SECONDS_PER_PAIR = 6e-6  # measured: the components' LPs take ~9 s at 1.4 million pairs


def peak_floor(p: AssignmentProblem) -> int:
    """A lower bound on the peak: what must-items with a single candidate put on their agent."""
    order, starts = pairs_by_item(p)
    single = np.flatnonzero(p.item_must & (np.diff(starts) == 1))
    k = order[starts[single]]
    load = np.bincount(p.pair_agent[k], weights=p.pair_load[k], minlength=p.n_agents)
    cap = np.maximum(p.agent_capacity, 1)
    return int(np.floor((load * p.peak_scale / cap).max())) if p.n_agents else 0


def _solve(p: AssignmentProblem, ctx: SolveContext, report: Report) -> Solution:
    """Best plan within the context's work, with status, bound and the time each stage took.

    A problem that falls apart into independent components (localities, usually) is solved one
    component at a time, `threads` at once, each with a share of the work by its size; the
    global LP gives the bound. A budget couples all components, so it keeps the problem whole.
    """
    n_comp, item_comp, agent_comp = components(p)
    if n_comp <= 1 or p.budget is not None:
        # the same share of the work as the components get, the clock at the whole limit: the
        # headroom a busy machine needs to run every budget to its end
        return solve_connected(p, ctx.part(SOLVE_SHARE * ctx.work), report=report)
    run = _Components(p, ctx, (n_comp, item_comp, agent_comp), report)
    run.starts()
    run.whole_start()  # a whole plan exists from here on: an interrupt later keeps it
    run.least_excess_each()
    run.bound_from_lp()
    run.solve_each()
    return run.solution()


@dataclasses.dataclass
class _Part:
    """One component: its items, agents, subproblem, pairs' indices in the whole, start, cap."""

    items: IntArray
    agents: IntArray
    sub: AssignmentProblem
    ks: IntArray
    begin: IntArray
    cap: int | None


class _Components:
    """A problem solved component by component: starts and least excess first, then the bound
    (the global LP, or per component above GLOBAL_LP_MAX_PAIRS), then each component's stages,
    every improvement written into one whole plan."""

    def __init__(self, p: AssignmentProblem, ctx: SolveContext,
                 labels: tuple[int, IntArray, IntArray], report: Report) -> None:
        self.p, self.ctx, self.report = p, ctx, report
        self.n_comp, self.item_comp, self.agent_comp = labels
        self.t0 = time.perf_counter()
        self.wall_total = ctx.deadline - self.t0
        self.stats = SolveStats()
        self.pairs_per = np.bincount(self.item_comp[p.pair_item], minlength=self.n_comp)
        self.parts: list[_Part] = []
        self.excess_total = 0
        self.use_lp = True
        self.lp_x: np.ndarray | None = None
        self.bound = float("-inf")
        self.plan = np.full(p.n_items, -1, np.int64)
        self.results: dict[int, Solution] = {}
        self.lock = threading.Lock()

    def cut(self) -> None:
        """A stage gave up for the clock (or a stop): the plan may differ next run."""
        self.stats.cut_by(Termination.INTERRUPTED if self.ctx.stopped else Termination.DEADLINE)

    def starts(self) -> None:
        # a greedy start per component: milliseconds each, before any model is built
        p, t0 = self.p, self.t0
        for c in range(self.n_comp):
            items = np.flatnonzero(self.item_comp == c)
            agents = np.flatnonzero(self.agent_comp == c)
            sub, ks = subproblem(p, items, agents)
            self.parts.append(_Part(items, agents, sub, ks, greedy(sub), None))
        self.stats.seconds["greedy"] = time.perf_counter() - t0

    def whole_start(self) -> None:
        # every component's start, put together: the first whole plan, reported at once
        for part in self.parts:
            self._write(part, part.begin)
        self._report_whole()

    def _write(self, part: _Part, sub_plan: IntArray) -> None:
        self.plan[part.items] = np.where(sub_plan >= 0, part.ks[np.maximum(sub_plan, 0)], -1)

    def _report_whole(self) -> None:
        ev = evaluate(self.p, self.plan)
        if ev.feasible:
            self.report(self.plan.copy(), float(ev.objective), self.bound)

    def least_excess_each(self) -> None:
        # MAX_NEW yields only to ONE_WORKER: the least excess per component, a small model
        # each, `threads` at a time; work and excess are added up in component order
        began = time.perf_counter()
        used = np.zeros(len(self.parts))

        def one(c: int) -> None:
            part = self.parts[c]
            sub, begin = part.sub, part.begin
            late = time.perf_counter() - self.t0 > CLOCK_EXCESS * self.wall_total
            if late:  # no time for the model: the start's excess caps
                self.cut()
                part.cap = evaluate(sub, begin).excess
            elif evaluate(sub, begin).feasible:
                work = EXCESS_SHARE * self.ctx.work * self.pairs_per[c] / self.pairs_per.sum()
                part.cap, placed, used[c] = least_excess(
                    sub, begin, self.ctx.part(work, seed=self.ctx.seed + c, threads=1))
                if placed is not None:
                    part.begin = greedy(dataclasses.replace(sub, hint=None), initial=placed)
                    with self.lock:
                        self._write(part, part.begin)

        soft = [c for c, part in enumerate(self.parts) if part.sub.new_limit_soft]
        _in_parallel(one, soft, self.ctx)
        for c, part in enumerate(self.parts):
            self.excess_total += part.cap or 0
            self.stats.work_used += float(used[c])
        self.stats.seconds["excess"] = time.perf_counter() - began
        self.stats.excess_cap = int(self.excess_total)
        self._report_whole()

    def bound_from_lp(self) -> None:
        # the bound: the global LP, or each component's LP without the peak plus a peak floor
        p, began = self.p, time.perf_counter()
        per_component = p.n_pairs > GLOBAL_LP_MAX_PAIRS
        if per_component and LP_SECONDS_PER_PAIR * p.n_pairs > CLOCK_LP * self.wall_total:
            self.cut()  # the limit is too short for a bound
            self.use_lp = False
            return
        if per_component:
            self._per_component_lp()
            return
        lp = lp_bound(p, self.excess_total if p.new_limit_soft else None, self.ctx)
        self.stats.seconds["lp"] = time.perf_counter() - began
        if lp.status is Status.OPTIMAL:
            self.lp_x, self.bound = lp.x, lp.bound
            self.stats.lp_bound = lp.bound
        elif lp.status is Status.NO_SOLUTION:  # cut by the clock: the components go unguided
            self.cut()

    def _per_component_lp(self) -> None:
        p, t0 = self.p, self.t0
        x = np.zeros(p.n_pairs)
        values = np.full(len(self.parts), np.nan)  # each component's LP value, once solved
        began = time.perf_counter()
        failed = threading.Event()  # one LP not solved: no bound, and the others stop

        def one(c: int) -> None:
            part = self.parts[c]
            with self.lock:
                done = int(np.isfinite(values).sum())
                per_lp = (time.perf_counter() - began) / max(done, 1) * max(1, self.ctx.threads)
            window = CLOCK_LP * self.wall_total - (time.perf_counter() - t0)
            if failed.is_set() or per_lp > window:
                failed.set()
                return
            # solved to optimality: the window of the clock valve is its only limit (a share by
            # size cut the larger localities' LPs at 50,000 children, and lost the bound)
            res = lp_bound(dataclasses.replace(part.sub, peak_cost=0), part.cap,
                           self.ctx.part(0.0, wall=max(window, 0.1)))
            if res.status is not Status.OPTIMAL:
                failed.set()
                return
            with self.lock:
                values[c] = res.bound
                x[part.ks] = res.x

        # largest first, `threads` at a time: HiGHS releases the interpreter while it solves
        order = np.argsort(-self.pairs_per, kind="stable")
        _in_parallel(one, order.tolist(), self.ctx)
        self.stats.seconds["lp"] = time.perf_counter() - began
        if failed.is_set() or not np.isfinite(values).all():  # the limit is too short for a bound
            self.cut()
            self.bound, self.lp_x = float("-inf"), None
            return
        # summed in component order, so the same LPs give the same bound to the last bit
        self.bound = float(p.peak_cost * peak_floor(p)) + float(sum(values.tolist()))
        self.lp_x = x
        self.stats.lp_bound = self.bound

    def solve_each(self) -> None:
        # every component's start is a whole plan at once; then each component's stages
        work = SOLVE_SHARE * self.ctx.work
        self.shares = work * self.pairs_per / self.pairs_per.sum() * max(
            1, min(self.ctx.threads, self.n_comp))
        order = np.argsort(-self.pairs_per, kind="stable")  # largest first, for an even finish
        self.pending = np.ones(self.n_comp, bool)
        _in_parallel(self._run, order.tolist(), self.ctx)

    def _run(self, c: int) -> None:
        part = self.parts[c]
        ks = part.ks
        with self.lock:  # the components not yet started, this one included
            pending = float(self.pairs_per[self.pending].sum())
            self.pending[c] = False
        wall = self._fair_wall(float(self.pairs_per[c]), pending)

        def better(sub_plan: IntArray, objective: float, bound: float) -> None:
            with self.lock:  # every improvement reaches the whole plan
                self._write(part, sub_plan)
                self._report_whole()

        lp_x = self.lp_x
        given = Given(start=part.begin, excess_cap=part.cap,
                      lp_x=None if lp_x is None else lp_x[ks],
                      solve_lp=self.use_lp and lp_x is None, lns_share=COMPONENT_LNS_SHARE,
                      lns_rate=COMPONENT_LNS_RATE)
        ctx = self.ctx.part(float(self.shares[c]), seed=self.ctx.seed + c, threads=1,
                            wall=max(wall, 0.05))
        sol = solve_connected(part.sub, ctx, given, report=better)
        with self.lock:  # the component's whole answer, its unassigned items included
            self.results[c] = sol
            self._write(part, sol.item_pair)
            self._report_whole()

    def _fair_wall(self, pairs: float, pending: float) -> float:
        """A component's share of what is left on the clock, by its size among the components
        not yet started: on a machine too slow for every budget, each component is cut by the
        same proportion, instead of the first ones taking the time and the last getting none."""
        return self.ctx.left() * min(1.0, FAIR_SLACK * max(1, self.ctx.threads) * pairs
                                     / max(pending, 1.0))

    def solution(self) -> Solution:
        p, plan, stats, results = self.p, self.plan, self.stats, self.results
        if self.ctx.stopped:
            stats.cut_by(Termination.INTERRUPTED)
        elif self.ctx.left() <= 0.06:
            stats.cut_by(Termination.DEADLINE)
        for c in sorted(results):
            stats.add(results[c].stats)
        ev = evaluate(p, plan)
        wall = time.perf_counter() - self.t0
        if not ev.feasible:
            return Solution(Status.NO_SOLUTION, plan, float("nan"), self.bound, wall, "none",
                            stats)
        all_optimal = all(s.status is Status.OPTIMAL for s in results.values())
        objective = float(ev.objective)
        status = Status.OPTIMAL if (all_optimal and not p.peak_cost) or \
            objective <= self.bound + 1e-6 else Status.FEASIBLE
        return Solution(status, plan, objective, min(self.bound, objective), wall, "components",
                        stats)


def _polished(p: AssignmentProblem, sol: Solution) -> Solution:
    """The plan with no single item's new pair that staying (or another agent with room) would
    beat (solvers.polish); an optimal plan has none."""
    if sol.status is not Status.FEASIBLE:
        return sol
    t0 = time.perf_counter()
    plan, made = polish(p, sol.item_pair)
    sol.stats.seconds["polish"] = time.perf_counter() - t0
    if not made:
        return sol
    objective = float(evaluate(p, plan).objective)
    status = Status.OPTIMAL if objective <= sol.bound + 1e-6 else Status.FEASIBLE
    return dataclasses.replace(sol, item_pair=plan, objective=objective, status=status,
                               wall_time=sol.wall_time + time.perf_counter() - t0)


def _in_parallel(fn: Callable[[int], None], jobs: list[int], ctx: SolveContext) -> None:
    """Run jobs on the context's threads (daemon threads: none outlives an interrupted
    process); a job not yet started is skipped once the context is stopped. The first error is
    raised here."""
    queue = list(reversed(jobs))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        while not ctx.stopped:
            with lock:
                if not queue or errors:
                    return
                job = queue.pop()
            try:
                fn(job)
            except BaseException as exc:  # handed to the caller's thread
                with lock:
                    errors.append(exc)
                return

    pool = [threading.Thread(target=worker, daemon=True, name=f"{SOLVE_THREAD}-{n}")
            for n in range(max(1, ctx.threads))]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]


# After Ctrl-C or SIGTERM, how long the stages get to stop before the best plan is taken as is.
INTERRUPT_GRACE = 0.5


def solve(p: AssignmentProblem, ctx: SolveContext) -> Solution:
    """Best plan within the context's work, with status, bound, why it stopped, and the time
    each stage took (see `_solve`).

    The stages run on a worker thread while this one waits, so Ctrl-C (KeyboardInterrupt) or a
    set stop event is honoured within INTERRUPT_GRACE whatever stage is running: the best plan
    reported so far comes back, its termination INTERRUPTED.
    """
    t0 = time.perf_counter()
    lock = threading.Lock()
    latest: list[IntArray] = []
    done: dict[str, Any] = {}

    def report(plan: IntArray, objective: float, bound: float) -> None:
        with lock:
            latest[:] = [plan]
        if ctx.progress is not None:
            ctx.progress(time.perf_counter() - t0, objective, bound)

    finished = threading.Event()

    def work() -> None:
        try:
            done["solution"] = _solve(p, ctx, report)
        except BaseException as exc:  # raised again in the caller's thread
            done["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=work, daemon=True, name=SOLVE_THREAD).start()
    # an Event, not Thread.join(): a KeyboardInterrupt inside join() marks a running thread as
    # stopped on Python 3.11 (see solvers.stopping)
    try:
        while not finished.wait(0.05):
            if ctx.stopped:  # a caller's stop (or a signal handler that set it)
                finished.wait(INTERRUPT_GRACE)
                break
    except KeyboardInterrupt:
        ctx.stop.set()
        finished.wait(INTERRUPT_GRACE)
    if "error" in done:
        raise done["error"]
    if "solution" in done:
        sol: Solution = done["solution"]
        if ctx.stopped:
            sol.stats.cut_by(Termination.INTERRUPTED)
            return sol
        return _polished(p, sol)
    with lock:  # interrupted, and the stages did not stop in time: the best plan reported
        plan = latest[0] if latest else None
    wall = time.perf_counter() - t0
    stopped = SolveStats(stopped=Termination.INTERRUPTED)
    if plan is None:
        return Solution(Status.NO_SOLUTION, np.full(p.n_items, -1, np.int64), float("nan"),
                        float("-inf"), wall, "none", stopped)
    value = float(evaluate(p, plan).objective)
    return Solution(Status.FEASIBLE, plan, value, float("-inf"), wall, "interrupted", stopped)
