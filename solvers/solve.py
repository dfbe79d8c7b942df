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

from solvers.cpsat import least_excess
from solvers.evaluate import evaluate
from solvers.greedy import greedy, pairs_by_item
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
from solvers.stages import EXCESS_SHARE, LP_SHARE, Progress, Settings, solve_connected
from solvers.stopping import SOLVE_THREAD

__all__ = ["Progress", "components", "solve", "subproblem"]

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


# Of the time limit: what the components share by size, after the excess models and the global
# LP; and within a component, LNS's share (its stages overshoot far less than a whole model's).
SOLVE_SHARE = 0.75  # of the limit: the rest is start-up, excess, LP, and room for a busy machine
# A component's own clock valve, as a multiple of its deterministic budget: well above what the
# budget needs, so that a machine slowed by another job still runs every budget to its end and
# gives the same plan (measured: a CPU-bound job beside the solve slows it 1.5x on 2 cores).
COMPONENT_WALL_FACTOR = 3.0
GLOBAL_LP_MAX_PAIRS = 300_000  # above this HiGHS takes a minute; components' LPs take seconds
# Safety valves for short limits on large problems (a 20 s limit at 50,000 children): past
# these fractions of the clock, the per-component excess models and LPs are skipped.
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
COMPONENT_LNS_SHARE = 0.8
COMPONENT_LNS_RATE = 0.8  # modelled work per thread-second: two threads slow each other


def _solve(p: AssignmentProblem, *, time_limit: float, seed: int, threads: int,
           progress: Progress | None, stop: threading.Event,
           use_lp: bool, use_lns: bool, decompose: bool,
           wall_limit: float | None, report: Callable[[IntArray], None]) -> Solution:
    """Best plan within the time limit, with status, bound and the time each stage took.

    Budgets are derived from `time_limit` alone (so that a run is reproducible); `wall_limit`,
    when given, is the clock's own deadline (what is really left of the user's limit).

    A problem that falls apart into independent components (localities, usually) is solved one
    component at a time, `threads` at once, each with a share of the time by its size; the
    global LP gives the bound. A budget couples all components, so it keeps the problem whole.
    """
    t0 = time.perf_counter()
    n_comp, item_comp, agent_comp = components(p)
    if not decompose or n_comp <= 1 or p.budget is not None:
        # the same share of the limit as the components get, and the clock at the whole limit:
        # the headroom a busy machine needs to run every budget to its end
        whole = Settings(time_limit=SOLVE_SHARE * time_limit, seed=seed, threads=threads,
                         use_lp=use_lp, use_lns=use_lns,
                         wall_limit=time_limit if wall_limit is None else wall_limit)
        return solve_connected(p, whole, progress=progress, stop=stop, report=report)
    run = _Components(p, n_comp, item_comp, agent_comp, t0=t0, time_limit=time_limit,
                      wall_limit=wall_limit, seed=seed, threads=threads, use_lp=use_lp,
                      use_lns=use_lns, stop=stop, progress=progress, report=report)
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

    def __init__(self, p: AssignmentProblem, n_comp: int, item_comp: IntArray,
                 agent_comp: IntArray, *, t0: float, time_limit: float,
                 wall_limit: float | None, seed: int, threads: int, use_lp: bool,
                 use_lns: bool, stop: threading.Event, progress: Progress | None,
                 report: Callable[[IntArray], None]) -> None:
        self.p, self.n_comp, self.item_comp, self.agent_comp = p, n_comp, item_comp, agent_comp
        self.t0, self.time_limit, self.seed, self.threads = t0, time_limit, seed, threads
        self.use_lp, self.use_lns = use_lp, use_lns
        self.stop, self.progress, self.report = stop, progress, report
        self.stats = SolveStats(pairs=p.n_pairs, components=n_comp)
        self.deadline = t0 + (time_limit if wall_limit is None else wall_limit)
        self.wall_total = self.deadline - t0
        self.pairs_per = np.bincount(item_comp[p.pair_item], minlength=n_comp)
        self.parts: list[_Part] = []
        self.excess_total = 0
        self.clock_cut = False  # a stage gave up for the clock: the plan may differ next run
        self.lp_x: np.ndarray | None = None
        self.bound = float("-inf")
        self.plan = np.full(p.n_items, -1, np.int64)
        self.results: dict[int, Solution] = {}
        self.lock = threading.Lock()

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
            self.report(self.plan.copy())
            if self.progress is not None:
                self.progress(time.perf_counter() - self.t0, float(ev.objective), self.bound)

    def least_excess_each(self) -> None:
        # MAX_NEW yields only to ONE_WORKER: the least excess per component, a small model
        # each, `threads` at a time; work and excess are added up in component order
        began = time.perf_counter()
        used = [SolveStats() for _ in self.parts]

        def one(c: int) -> None:
            part = self.parts[c]
            sub, begin = part.sub, part.begin
            late = time.perf_counter() - self.t0 > CLOCK_EXCESS * self.wall_total
            if late:  # no time for the model: the start's excess caps
                self.clock_cut = True
                part.cap = evaluate(sub, begin).excess
            elif evaluate(sub, begin).feasible:
                share = EXCESS_SHARE * self.time_limit * self.pairs_per[c] / self.pairs_per.sum()
                part.cap, placed = least_excess(sub, begin, share, self.seed + c, 1,
                                                wall_cap=max(self.deadline - time.perf_counter(),
                                                             0.05), stats=used[c], stop=self.stop)
                if placed is not None:
                    part.begin = greedy(dataclasses.replace(sub, hint=None), initial=placed)
                    with self.lock:
                        self._write(part, part.begin)

        soft = [c for c, part in enumerate(self.parts) if part.sub.new_limit_soft]
        _in_parallel(one, soft, self.threads, self.stop)
        for c, part in enumerate(self.parts):
            self.excess_total += part.cap or 0
            self.stats.work_used += used[c].work_used
        self.stats.seconds["excess"] = time.perf_counter() - began
        self.stats.excess_cap = int(self.excess_total)
        self._report_whole()

    def bound_from_lp(self) -> None:
        # the bound: the global LP, or each component's LP without the peak plus a peak floor
        p, began = self.p, time.perf_counter()
        per_component = self.use_lp and p.n_pairs > GLOBAL_LP_MAX_PAIRS
        if per_component and LP_SECONDS_PER_PAIR * p.n_pairs > CLOCK_LP * self.wall_total:
            per_component, self.clock_cut = False, True  # the limit is too short for a bound
            self.use_lp = False
        if per_component:
            self._per_component_lp()
        elif self.use_lp:
            from solvers.lp import lp_bound

            lp = lp_bound(p, self.excess_total if p.new_limit_soft else None,
                          time_limit=max(min(LP_SHARE * self.time_limit,
                                             self.deadline - time.perf_counter()), 0.1),
                          stop=self.stop)
            self.stats.seconds["lp"] = time.perf_counter() - began
            if lp.status is Status.OPTIMAL:
                self.lp_x, self.bound = lp.x, lp.bound
                self.stats.lp_bound = lp.bound
            else:  # cut by HiGHS's clock: the components go unguided, and may differ next run
                self.clock_cut |= lp.status is Status.NO_SOLUTION

    def _per_component_lp(self) -> None:
        from solvers.lp import lp_bound

        p, t0 = self.p, self.t0
        x = np.zeros(p.n_pairs)
        values = np.full(len(self.parts), np.nan)  # each component's LP value, once solved
        began = time.perf_counter()
        failed = threading.Event()  # one LP not solved: no bound, and the others stop

        def one(c: int) -> None:
            part = self.parts[c]
            with self.lock:
                done = int(np.isfinite(values).sum())
                per_lp = (time.perf_counter() - began) / max(done, 1) * max(1, self.threads)
            if failed.is_set() or time.perf_counter() + per_lp - t0 > CLOCK_LP * self.wall_total:
                failed.set()
                return
            # solved to optimality: its seconds only guard the window the clock valve allows (a
            # share by size cut the larger localities' LPs at 50,000 children, and lost the bound)
            res = lp_bound(dataclasses.replace(part.sub, peak_cost=0), part.cap,
                           time_limit=max(CLOCK_LP * self.wall_total
                                          - (time.perf_counter() - t0), 0.1), stop=self.stop)
            if res.status is not Status.OPTIMAL:
                failed.set()
                return
            with self.lock:
                values[c] = res.bound
                x[part.ks] = res.x

        # largest first, `threads` at a time: HiGHS releases the interpreter while it solves
        order = np.argsort(-self.pairs_per, kind="stable")
        _in_parallel(one, order.tolist(), self.threads, self.stop)
        self.stats.seconds["lp"] = time.perf_counter() - began
        if failed.is_set() or not np.isfinite(values).all():  # the limit is too short for a bound
            self.clock_cut = True
            self.bound, self.lp_x = float("-inf"), None
            return
        # summed in component order, so the same LPs give the same bound to the last bit
        self.bound = float(p.peak_cost * peak_floor(p)) + float(sum(values.tolist()))
        self.lp_x = x
        self.stats.lp_bound = self.bound

    def solve_each(self) -> None:
        # every component's start is a whole plan at once; then each component's stages
        budget = SOLVE_SHARE * self.time_limit
        self.shares = budget * self.pairs_per / self.pairs_per.sum() * max(
            1, min(self.threads, self.n_comp))
        order = np.argsort(-self.pairs_per, kind="stable")  # largest first, for an even finish
        self.pending = np.ones(self.n_comp, bool)
        _in_parallel(self._run, order.tolist(), self.threads, self.stop)

    def _run(self, c: int) -> None:
        part = self.parts[c]
        ks = part.ks
        with self.lock:  # the components not yet started, this one included
            pending = float(self.pairs_per[self.pending].sum())
            self.pending[c] = False
        wall = min(float(self.shares[c]) * COMPONENT_WALL_FACTOR,
                   self._fair_wall(float(self.pairs_per[c]), pending))

        def better(sub_plan: IntArray) -> None:  # every improvement reaches the whole plan
            with self.lock:
                self._write(part, sub_plan)
                self._report_whole()

        lp_x = self.lp_x
        settings = Settings(time_limit=float(self.shares[c]), wall_limit=max(wall, 0.05),
                            seed=self.seed + c, threads=1, use_lp=self.use_lp and lp_x is None,
                            use_lns=self.use_lns, lns_share=COMPONENT_LNS_SHARE,
                            lns_rate=COMPONENT_LNS_RATE)
        sol = solve_connected(part.sub, settings, stop=self.stop,
                              lp_x=None if lp_x is None else lp_x[ks], start=part.begin,
                              excess_cap=part.cap, report=better)
        with self.lock:  # the component's whole answer, its unassigned items included
            self.results[c] = sol
            self._write(part, sol.item_pair)
            self._report_whole()

    def _fair_wall(self, pairs: float, pending: float) -> float:
        """A component's share of what is left on the clock, by its size among the components
        not yet started: on a machine too slow for every budget, each component is cut by the
        same proportion, instead of the first ones taking the time and the last getting none."""
        left = self.deadline - time.perf_counter()
        return left * min(1.0, max(1, self.threads) * pairs / max(pending, 1.0))

    def solution(self) -> Solution:
        p, plan, stats, results = self.p, self.plan, self.stats, self.results
        interrupted = self.stop.is_set() or any(s.interrupted for s in results.values())
        ev = evaluate(p, plan)
        wall = time.perf_counter() - self.t0
        if not ev.feasible:
            return Solution(Status.NO_SOLUTION, plan, float("nan"), self.bound, wall, "none",
                            interrupted, stats)
        for s in results.values():
            stats.add_seconds(s.stats)
        stats.deadline_hit = (time.perf_counter() >= self.deadline - 0.06 or interrupted
                              or self.clock_cut or stats.deadline_hit)
        all_optimal = all(s.status is Status.OPTIMAL for s in results.values())
        objective = float(ev.objective)
        status = Status.OPTIMAL if (all_optimal and not p.peak_cost) or \
            objective <= self.bound + 1e-6 else Status.FEASIBLE
        return Solution(status, plan, objective, min(self.bound, objective), wall, "components",
                        interrupted, stats)


def _polished(p: AssignmentProblem, sol: Solution) -> Solution:
    """The plan with no single item's new pair that staying (or another agent with room) would
    beat (solvers.polish); an optimal plan has none."""
    if sol.status is not Status.FEASIBLE:
        return sol
    t0 = time.perf_counter()
    plan, made = polish(p, sol.item_pair)
    sol.stats.seconds["polish"] = time.perf_counter() - t0
    sol.stats.polish_changes = made
    if not made:
        return sol
    objective = float(evaluate(p, plan).objective)
    status = Status.OPTIMAL if objective <= sol.bound + 1e-6 else Status.FEASIBLE
    return dataclasses.replace(sol, item_pair=plan, objective=objective, status=status,
                               wall_time=sol.wall_time + time.perf_counter() - t0)


def _in_parallel(fn: Callable[[int], None], jobs: list[int], threads: int,
                 stop: threading.Event) -> None:
    """Run jobs on `threads` daemon threads (none outlives an interrupted process); a job not
    yet started is skipped once `stop` is set. The first error is raised here."""
    queue = list(reversed(jobs))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        while not stop.is_set():
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
            for n in range(max(1, threads))]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]


# After Ctrl-C or SIGTERM, how long the stages get to stop before the best plan is taken as is.
INTERRUPT_GRACE = 0.5


def solve(p: AssignmentProblem, *, time_limit: float = 60.0, seed: int = 0, threads: int = 2,
          progress: Progress | None = None, stop: threading.Event | None = None,
          use_lp: bool = True, use_lns: bool = True, decompose: bool = True,
          wall_limit: float | None = None) -> Solution:
    """Best plan within the time limit, with status, bound and the time each stage took.

    Budgets are derived from `time_limit` alone (so that a run is reproducible); `wall_limit`,
    when given, is the clock's own deadline (what is really left of the user's limit).

    A problem that falls apart into independent components (localities, usually) is solved one
    component at a time, `threads` at once, each with a share of the time by its size; the
    global LP gives the bound. A budget couples all components, so it keeps the problem whole.

    The stages run on a worker thread while this one waits, so Ctrl-C (KeyboardInterrupt) or a
    set `stop` is honoured within INTERRUPT_GRACE whatever stage is running (HiGHS and CP-SAT
    calls cannot be cut short from Python): the best plan reported so far comes back, marked
    interrupted.
    """
    t0 = time.perf_counter()
    stop = stop if stop is not None else threading.Event()
    lock = threading.Lock()
    latest: list[IntArray] = []
    done: dict[str, Any] = {}

    def report(plan: IntArray) -> None:
        with lock:
            latest[:] = [plan]

    finished = threading.Event()

    def work() -> None:
        try:
            done["solution"] = _solve(p, time_limit=time_limit, seed=seed, threads=threads,
                                      progress=progress, stop=stop, use_lp=use_lp,
                                      use_lns=use_lns, decompose=decompose,
                                      wall_limit=wall_limit, report=report)
        except BaseException as exc:  # raised again in the caller's thread
            done["error"] = exc
        finally:
            finished.set()

    worker = threading.Thread(target=work, daemon=True, name=SOLVE_THREAD)
    worker.start()
    # an Event, not worker.join(): a KeyboardInterrupt inside join() marks a running thread as
    # stopped on Python 3.11 (see solvers.stopping)
    try:
        while not finished.wait(0.05):
            pass
    except KeyboardInterrupt:
        stop.set()
        finished.wait(INTERRUPT_GRACE)
    if "error" in done:
        raise done["error"]
    if "solution" in done:
        sol: Solution = done["solution"]
        if stop.is_set():
            sol.interrupted = True
            sol.stats.deadline_hit = True
            return sol
        return _polished(p, sol)
    with lock:  # interrupted, and the stages did not stop in time: the best plan reported
        plan = latest[0] if latest else None
    wall = time.perf_counter() - t0
    if plan is None:
        return Solution(Status.NO_SOLUTION, np.full(p.n_items, -1, np.int64), float("nan"),
                        float("-inf"), wall, "none", True, SolveStats(deadline_hit=True))
    value = float(evaluate(p, plan).objective)
    return Solution(Status.FEASIBLE, plan, value, float("-inf"), wall, "interrupted", True,
                    SolveStats(pairs=p.n_pairs, deadline_hit=True))
