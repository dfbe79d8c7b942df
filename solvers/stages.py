"""The stages that solve one connected problem, each a method over one shared state.

greedy start → least excess → LP bound → CP-SAT on the LP's fractional items → a full CP-SAT
probe on small models → (a rescue from the LP's rounding when no stage found a plan) → LNS.
Each stage hands the next a feasible plan, so a time limit or Ctrl-C at any point returns the
best plan found so far. Every budget is a share of `time_limit`, fixed before the stage starts;
the clock (`wall_limit`) only guards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from solvers.cpsat import _parameters, add_hint, build, least_excess, restrict, work_done
from solvers.evaluate import evaluate
from solvers.greedy import greedy
from solvers.lns import improve
from solvers.problem import AssignmentProblem, IntArray, Solution, SolveStats, Status
from solvers.stopping import SOLVE_THREAD, engine_call

Progress = Callable[[float, float, float], None]  # elapsed seconds, best objective, best bound

# Beyond this the full model rarely closes its gap, and LNS does better with the probe's share
# (measured on a 5,000-child sized county: localities of 15,000-20,000 pairs gained nothing
# from the probe, identical plan without it, in 12.1 s of wall instead of 15.4).
PROBE_MAX_PAIRS = 6_000
LP_FIX_MIN_PAIRS = 3_000  # below this, the full-model probe alone is as good
# Shares of the time limit. Each stage's budget is fixed in advance (deterministic time for
# CP-SAT, an iteration count for LNS), never "whatever is left on the clock", so that the same
# inputs, seed and threads give the same plan; the clock only guards the overall time limit.
# CP-SAT overshoots a deterministic limit by up to 3x on these models (measured), hence the
# small shares: a typical run ends well inside its time limit, and the same plan comes back.
EXCESS_SHARE = 0.03
LP_SHARE = 0.25  # HiGHS's own time limit; the LP normally takes a small part of it
FIX_SHARE = 0.06
PROBE_SHARE = 0.1
LNS_SHARE = 0.45
RESCUE_SHARE = 0.8  # when no stage found a plan: most of the limit, the clock still guarding
LNS_SIZE = 8  # agents per neighbourhood (measured: 8 beats 5 and 12 on sized counties)
LNS_SUB_TIME = 0.1  # CP-SAT seconds (deterministic) per neighbourhood
LNS_WORK_SHARE = 1.0  # modelled work (solvers.lns WORK_*) per second of an LNS budget


@dataclasses.dataclass(frozen=True)
class Settings:
    """How one connected problem is solved: its budgets, seed and threads, and which stages."""

    time_limit: float = 60.0  # the budgets are shares of this
    seed: int = 0
    threads: int = 2
    use_lp: bool = True
    use_lns: bool = True
    wall_limit: float | None = None  # the clock's own deadline; time_limit when None
    lns_share: float = LNS_SHARE
    lns_rate: float = LNS_WORK_SHARE


def lp_fixing(p: AssignmentProblem, x: np.ndarray) -> np.ndarray:
    """Pairs left after fixing every item the LP relaxation decided integrally.

    An item whose LP value is integral keeps only the LP's pair (or none, if the LP left an
    optional item out); an item the LP split stays free. On 4,500-child counties about 90% of
    items come out integral, and CP-SAT places the rest far better than any greedy rule.
    """
    tol = 1e-6
    integral_one = x >= 1 - tol
    frac = (x > tol) & ~integral_one
    item_frac = np.zeros(p.n_items, bool)
    item_frac[p.pair_item[frac]] = True
    return integral_one | item_frac[p.pair_item]


def lp_rounding(p: AssignmentProblem, x: np.ndarray) -> IntArray:
    """Each item on its pair of largest LP value (none where the LP left it out): a hint that is
    nearly a plan, since the LP's solution is mostly integral."""
    order = np.lexsort((-x, p.pair_item))
    first = np.ones(order.size, bool)
    first[1:] = p.pair_item[order[1:]] != p.pair_item[order[:-1]]
    plan = np.full(p.n_items, -1, np.int64)
    best = order[first]
    keep = x[best] > 1e-6
    plan[p.pair_item[best[keep]]] = best[keep]
    return plan


def full_model(p: AssignmentProblem, start: IntArray | None, excess_cap: int | None,
               time_limit: float, seed: int, threads: int, stop: threading.Event | None,
               wall_cap: float | None = None, full_presolve: bool = False,
               stats: SolveStats | None = None) -> tuple[IntArray | None, float, bool, bool]:
    """CP-SAT on the whole model, in a thread so Ctrl-C can stop it: (plan, bound, optimal,
    interrupted)."""
    built = build(p, excess_cap)
    if start is not None:
        add_hint(built, p, start)
    solver = cp_model.CpSolver()
    _parameters(solver, time_limit, seed, threads, wall_cap, full_presolve)
    result: dict[str, Any] = {}
    finished = threading.Event()

    def run() -> None:
        try:
            with engine_call():
                result["s"] = solver.solve(built.model)
        finally:
            finished.set()

    worker = threading.Thread(target=run, daemon=True, name=f"{SOLVE_THREAD}-cpsat")
    worker.start()
    interrupted = False
    try:  # an Event, not join(), for the reason in solvers.stopping
        while not finished.wait(0.1):
            if stop is not None and stop.is_set() and not interrupted:
                interrupted = True
                solver.stop_search()
    except KeyboardInterrupt:
        interrupted = True
        solver.stop_search()
        finished.wait()
    if stats is not None:
        stats.work_used += work_done(solver, threads)
    if "s" not in result:  # stopped before CP-SAT reported anything: no plan and no bound
        return None, float("-inf"), False, interrupted
    status = result["s"]
    if status == cp_model.INFEASIBLE:
        return None, float("inf"), False, interrupted
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, float(solver.best_objective_bound), False, interrupted
    vals = solver.boolean_values(pd.Series(built.x)).to_numpy(dtype=bool)
    plan = np.full(p.n_items, -1, np.int64)
    plan[p.pair_item[vals]] = np.flatnonzero(vals)
    return plan, float(solver.best_objective_bound), status == cp_model.OPTIMAL, interrupted


class Stages:
    """What the stages of one connected problem share: the best plan (fewest excess new pairs,
    then least objective), the bound, whether an interrupt came, and each stage's seconds."""

    def __init__(self, p: AssignmentProblem, s: Settings, *, progress: Progress | None,
                 stop: threading.Event | None, start: IntArray | None, excess_cap: int | None,
                 report: Callable[[IntArray], None] | None) -> None:
        self.p, self.s = p, s
        self.progress, self.stop, self.report = progress, stop, report
        self.start, self.excess_cap = start, excess_cap
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + (s.time_limit if s.wall_limit is None else s.wall_limit)
        self.stats = SolveStats(pairs=p.n_pairs, components=1)
        self.best: IntArray | None = None
        self.best_key = (np.inf, np.inf)
        self.bound = float("-inf")
        self.interrupted = False
        self.probe_share_left = 0.0

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def offer(self, plan: IntArray | None, source: str) -> None:
        """Keep `plan` if it is feasible and better than the best so far."""
        if plan is None:
            return
        ev = evaluate(self.p, plan)
        if ev.feasible and (ev.excess, ev.objective) < self.best_key:
            self.best, self.best_key = plan, (ev.excess, ev.objective)
            self.stats.sources[source] = float(ev.objective)
            if self.report is not None:
                self.report(plan)
            if self.progress is not None:
                self.progress(time.perf_counter() - self.t0, float(ev.objective), self.bound)

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        yield
        self.stats.seconds[name] = time.perf_counter() - began

    def greedy_start(self) -> None:
        # the given start (a warm start, or a component's), else the greedy construction
        with self.timed("greedy"):
            self.offer(self.start if self.start is not None else greedy(self.p), "greedy")

    def rescue(self, x: np.ndarray | None) -> None:
        # never give up with time left: no feasible plan yet, so the time goes to CP-SAT on the
        # whole model, from the LP's rounding (else the partial start), before any stage that
        # only needs a plan
        p, s = self.p, self.s
        with self.timed("rescue"):
            if x is not None:
                partial = lp_rounding(p, x)
            else:
                partial = self.start if self.start is not None else greedy(p)
            plan, cp_bound, _, self.interrupted = full_model(
                p, partial, self.excess_cap, RESCUE_SHARE * s.time_limit, s.seed, s.threads,
                self.stop, wall_cap=self.left(), full_presolve=True, stats=self.stats)
            self.bound = max(self.bound, cp_bound)
            self.offer(plan, "rescue")

    def excess(self) -> None:
        # MAX_NEW yields only to ONE_WORKER: the least total excess over the new-case caps
        p, s = self.p, self.s
        if not (p.new_limit_soft and self.best is not None and self.start is None):
            return
        with self.timed("excess"):
            self.excess_cap, placed = least_excess(p, self.best, EXCESS_SHARE * s.time_limit,
                                                   s.seed, s.threads, wall_cap=self.left(),
                                                   stats=self.stats, stop=self.stop)
            if placed is not None:
                self.offer(greedy(dataclasses.replace(p, hint=None), initial=placed), "excess")
            self.stats.excess_cap = int(self.excess_cap)

    def lp(self, given: np.ndarray | None) -> np.ndarray | None:
        # the LP relaxation: the bound, and the guide of the next stage (unless given already)
        if not self.s.use_lp or given is not None:
            return given
        from solvers.lp import lp_bound

        with self.timed("lp"):
            # with no plan yet the LP is the way to one (it guides the next stage), so it may
            # take most of what is left; else its share. Either way it normally ends first:
            # HiGHS's limit is in seconds, so it only guards
            share = LP_SHARE * self.s.time_limit
            limit = max(min(share if self.best is not None else max(share, 0.7 * self.left()),
                            self.left()), 0.1)
            lp = lp_bound(self.p, self.excess_cap, time_limit=limit, stop=self.stop)
            if lp.status is not Status.OPTIMAL:
                # HiGHS's limit is in seconds: a relaxation it could not finish in time leaves
                # the next stages without a guide, so the plan may differ on a faster machine
                self.stats.deadline_hit |= lp.status is Status.NO_SOLUTION
                return None
            self.bound = max(self.bound, lp.bound)
            self.stats.lp_bound = lp.bound
            return lp.x

    def lp_fix(self, x: np.ndarray | None) -> None:
        # CP-SAT on the items the LP left fractional, every other item as the LP chose
        p, s = self.p, self.s
        if x is None or p.n_pairs <= LP_FIX_MIN_PAIRS or not s.use_lns:
            return
        with self.timed("lp_fix"):
            sub, ks = restrict(p, lp_fixing(p, x))
            plan, _, _, self.interrupted = full_model(sub, None, self.excess_cap,
                                                      FIX_SHARE * s.time_limit, s.seed,
                                                      s.threads, self.stop, wall_cap=self.left(),
                                                      stats=self.stats)
            if plan is not None:
                self.offer(np.where(plan >= 0, ks[np.maximum(plan, 0)], -1), "lp_fix")

    def probe(self) -> None:
        # CP-SAT on the whole model: on small problems it proves optimality
        p, s = self.p, self.s
        if (p.n_pairs > PROBE_MAX_PAIRS and s.use_lns) or self.interrupted:
            self.probe_share_left = PROBE_SHARE  # the neighbourhood search takes it
            return
        with self.timed("cpsat"):
            share = PROBE_SHARE if s.use_lns else 1.0
            plan, cp_bound, optimal, self.interrupted = full_model(
                p, self.best, self.excess_cap, share * s.time_limit, s.seed, s.threads,
                self.stop, wall_cap=self.left(), stats=self.stats)
            self.bound = max(self.bound, cp_bound)
            self.offer(plan, "cpsat")
        if optimal and self.best is not None:
            self.bound = max(self.bound, self.best_key[1])

    def lns(self) -> None:
        # large-neighbourhood search, its budget counted in modelled work, not seconds
        s, best = self.s, self.best
        proven = best is not None and self.best_key[1] <= self.bound + 1e-6
        if not s.use_lns or best is None or proven or self.interrupted or self.left() <= 0.1:
            return
        with self.timed("lns"):
            work = (s.lns_share + self.probe_share_left) * s.time_limit * s.lns_rate
            stop = self.stop
            self.offer(improve(self.p, best, self.left(), seed=s.seed,
                               excess_cap=self.excess_cap, size=LNS_SIZE,
                               sub_time=LNS_SUB_TIME, work=work,
                               on_better=lambda plan, _: self.offer(plan, "lns"),
                               stats=self.stats,
                               stop=lambda: stop is not None and stop.is_set()), "lns")

    def solution(self) -> Solution:
        """The best plan with its status and bound; a run the clock cut says so."""
        wall = time.perf_counter() - self.t0
        self.stats.deadline_hit = (self.stats.deadline_hit or self.interrupted
                                   or time.perf_counter() >= self.deadline - 0.06)
        if self.best is None:
            status = Status.INFEASIBLE if self.bound == float("inf") else Status.NO_SOLUTION
            return Solution(status, np.full(self.p.n_items, -1, np.int64), float("nan"),
                            self.bound, wall, "none", self.interrupted, self.stats)
        objective = float(self.best_key[1])
        bound = min(self.bound, objective) if self.bound > objective else self.bound
        status = Status.OPTIMAL if objective <= bound + 1e-6 else Status.FEASIBLE
        sources = self.stats.sources
        source = max(sources, key=lambda k: -sources[k])
        return Solution(status, self.best, objective, bound, wall, source, self.interrupted,
                        self.stats)


def solve_connected(p: AssignmentProblem, s: Settings, *, progress: Progress | None = None,
                    stop: threading.Event | None = None, lp_x: np.ndarray | None = None,
                    start: IntArray | None = None, excess_cap: int | None = None,
                    report: Callable[[IntArray], None] | None = None) -> Solution:
    """One connected problem, stage by stage; `lp_x` is a relaxation already solved."""
    if p.n_pairs == 0:  # nothing to decide: every optional item is out, and no item must be in
        nothing = np.full(p.n_items, -1, np.int64)
        if p.item_must.any():
            return Solution(Status.INFEASIBLE, nothing, float("inf"), float("inf"), 0.0)
        value = float(evaluate(p, nothing).objective)
        return Solution(Status.OPTIMAL, nothing, value, value, 0.0)
    run = Stages(p, s, progress=progress, stop=stop, start=start, excess_cap=excess_cap,
                 report=report)
    try:
        run.greedy_start()
        # no stage is skipped because another failed: with no greedy plan, the LP-guided stage
        # (which finds plans greedy cannot on tight instances) still runs before the rescue
        run.excess()
        x = run.lp(lp_x)
        run.lp_fix(x)
        run.probe()
        if run.best is None and not run.interrupted and run.left() > 0.1:
            run.rescue(x)
        run.lns()
    except KeyboardInterrupt:
        run.interrupted = True
    return run.solution()
