"""The stages that solve one connected problem, each a method over one shared state.

greedy start → least excess → LP bound → CP-SAT on the LP's fractional items → a full CP-SAT
probe on small models → (a rescue from the LP's rounding when no stage found a plan) → LNS.
Each stage hands the next a feasible plan, so a time limit or Ctrl-C at any point returns the
best plan found so far. Every budget is a share of the context's work, fixed before the stage
starts; the context's deadline only guards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator

import numpy as np

from solvers.context import SolveContext, Termination
from solvers.cpsat import Outcome, Presolve, least_excess, restrict, solve_model
from solvers.evaluate import evaluate
from solvers.greedy import greedy
from solvers.lns import improve
from solvers.problem import AssignmentProblem, IntArray, Solution, SolveStats, Status

# Beyond this the full model rarely closes its gap, and LNS does better with the probe's share
# (measured on a 5,000-child sized county: localities of 15,000-20,000 pairs gained nothing
# from the probe, identical plan without it, in 12.1 s of wall instead of 15.4).
PROBE_MAX_PAIRS = 6_000
LP_FIX_MIN_PAIRS = 3_000  # below this, the full-model probe alone is as good
# Shares of the work. Each stage's budget is fixed in advance (deterministic time for
# CP-SAT, an iteration count for LNS), never "whatever is left on the clock", so that the same
# inputs, seed and threads give the same plan; the clock only guards the overall time limit.
# CP-SAT overshoots a deterministic limit by up to 3x on these models (measured), hence the
# small shares: a typical run ends well inside its time limit, and the same plan comes back.
EXCESS_SHARE = 0.03
# The LP-guided model: CP-SAT places the items the LP split far better per unit of work than the
# neighbourhood search improves a plan (measured at work 10 on sized 5,000-child counties,
# against 0.06: 0.3-2.5% lower objective at equal work used; with 0.06 CP-SAT found no plan at
# all on half their localities; crisis and leavers counties within 0.15%).
FIX_SHARE = 0.2
PROBE_SHARE = 0.1
LNS_SHARE = 0.45
RESCUE_SHARE = 0.8  # when no stage found a plan: most of the limit, the clock still guarding
LNS_WORK_SHARE = 1.0  # modelled work (solvers.lns WORK_*) per second of an LNS budget


@dataclasses.dataclass(frozen=True)
class Given:
    """What the caller already knows of one connected problem (a start, the excess cap, an LP
    solution), and how its neighbourhood search is weighed."""

    start: IntArray | None = None
    excess_cap: int | None = None
    lp_x: np.ndarray | None = None
    solve_lp: bool = True  # solve the LP here when lp_x is not given
    lns_share: float = LNS_SHARE
    lns_rate: float = LNS_WORK_SHARE


# Every plan a stage improves on goes here: the plan, its objective, the best bound so far.
Report = Callable[[IntArray, float, float], None]


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


class Stages:
    """What the stages of one connected problem share: the best plan (fewest excess new pairs,
    then least objective), the bound, and the solver's account (seconds, work, cuts)."""

    def __init__(self, p: AssignmentProblem, ctx: SolveContext, given: Given,
                 report: Report | None) -> None:
        self.p, self.ctx, self.given, self.report = p, ctx, given, report
        self.start, self.excess_cap = given.start, given.excess_cap
        self.stats = SolveStats()
        self.best: IntArray | None = None
        self.best_key = (np.inf, np.inf)
        self.bound = float("-inf")
        self.probe_share_left = 0.0

    def share(self, fraction: float) -> SolveContext:
        """The context of a stage that may spend `fraction` of this problem's work."""
        return self.ctx.part(fraction * self.ctx.work)

    def offer(self, plan: IntArray | None, source: str) -> None:
        """Keep `plan` if it is feasible and better than the best so far."""
        if plan is None:
            return
        ev = evaluate(self.p, plan)
        if ev.feasible and (ev.excess, ev.objective) < self.best_key:
            self.best, self.best_key = plan, (ev.excess, ev.objective)
            self.stats.sources[source] = float(ev.objective)
            if self.report is not None:
                self.report(plan, float(ev.objective), self.bound)

    def ran(self, outcome: Outcome) -> Outcome:
        """A CP-SAT call's work counted, and its stop noted."""
        self.stats.work_used += outcome.work_used
        if self.ctx.stopped:
            self.stats.cut_by(Termination.INTERRUPTED)
        return outcome

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
        # never give up with time left: no feasible plan yet, so the work goes to CP-SAT on the
        # whole model, from the LP's rounding (else the partial start), before any stage that
        # only needs a plan
        p = self.p
        with self.timed("rescue"):
            if x is not None:
                partial = lp_rounding(p, x)
            else:
                partial = self.start if self.start is not None else greedy(p)
            out = self.ran(solve_model(p, self.share(RESCUE_SHARE), partial, self.excess_cap,
                                       Presolve.FULL))
            self.bound = max(self.bound, out.bound)
            self.offer(out.plan, "rescue")

    def excess(self) -> None:
        # MAX_NEW yields only to ONE_WORKER: the least total excess over the new-case caps
        p = self.p
        if not (p.new_limit_soft and self.best is not None and self.start is None):
            return
        with self.timed("excess"):
            self.excess_cap, placed, used = least_excess(p, self.best, self.share(EXCESS_SHARE))
            self.stats.work_used += used
            if placed is not None:
                self.offer(greedy(dataclasses.replace(p, hint=None), initial=placed), "excess")
            self.stats.excess_cap = int(self.excess_cap)

    def lp(self) -> np.ndarray | None:
        # the LP relaxation: the bound, and the guide of the next stage (unless given already)
        if not self.given.solve_lp or self.given.lp_x is not None:
            return self.given.lp_x
        from solvers.lp import lp_bound

        with self.timed("lp"):
            lp = lp_bound(self.p, self.excess_cap, self.ctx)
            if lp.status is not Status.OPTIMAL:
                # cut by the clock (or a stop): the next stages go without a guide, so the plan
                # may differ on a faster machine
                if lp.status is Status.NO_SOLUTION:
                    self.stats.cut_by(Termination.INTERRUPTED if self.ctx.stopped
                                      else Termination.DEADLINE)
                return None
            self.bound = max(self.bound, lp.bound)
            self.stats.lp_bound = lp.bound
            return lp.x

    def lp_fix(self, x: np.ndarray | None) -> None:
        # CP-SAT on the items the LP left fractional, every other item as the LP chose
        p = self.p
        if x is None or p.n_pairs <= LP_FIX_MIN_PAIRS:
            return
        with self.timed("lp_fix"):
            sub, ks = restrict(p, lp_fixing(p, x))
            out = self.ran(solve_model(sub, self.share(FIX_SHARE), None, self.excess_cap))
            if out.plan is not None:
                self.offer(np.where(out.plan >= 0, ks[np.maximum(out.plan, 0)], -1), "lp_fix")

    def probe(self) -> None:
        # CP-SAT on the whole model: on small problems it proves optimality
        p = self.p
        if p.n_pairs > PROBE_MAX_PAIRS or self.ctx.stopped:
            self.probe_share_left = PROBE_SHARE  # the neighbourhood search takes it
            return
        with self.timed("cpsat"):
            out = self.ran(solve_model(p, self.share(PROBE_SHARE), self.best, self.excess_cap))
            self.bound = max(self.bound, out.bound)
            self.offer(out.plan, "cpsat")
        if out.optimal and self.best is not None:
            self.bound = max(self.bound, self.best_key[1])

    def lns(self) -> None:
        # large-neighbourhood search, its budget counted in modelled work, not seconds
        best, given = self.best, self.given
        proven = best is not None and self.best_key[1] <= self.bound + 1e-6
        if best is None or proven or self.ctx.stopped or self.ctx.left() <= 0.1:
            return
        with self.timed("lns"):
            work = (given.lns_share + self.probe_share_left) * self.ctx.work * given.lns_rate
            plan, used = improve(self.p, best, self.ctx.part(work), self.excess_cap,
                                 on_better=lambda plan: self.offer(plan, "lns"))
            self.stats.work_used += used
            self.offer(plan, "lns")

    def solution(self) -> Solution:
        """The best plan with its status and bound; a run the clock cut says so."""
        if self.ctx.stopped:
            self.stats.cut_by(Termination.INTERRUPTED)
        elif self.ctx.left() <= 0.06:
            self.stats.cut_by(Termination.DEADLINE)
        if self.best is None:
            status = Status.INFEASIBLE if self.bound == float("inf") else Status.NO_SOLUTION
            return Solution(status, np.full(self.p.n_items, -1, np.int64), float("nan"),
                            self.bound, 0.0, "none", self.stats)
        objective = float(self.best_key[1])
        bound = min(self.bound, objective) if self.bound > objective else self.bound
        status = Status.OPTIMAL if objective <= bound + 1e-6 else Status.FEASIBLE
        sources = self.stats.sources
        source = max(sources, key=lambda k: -sources[k])
        return Solution(status, self.best, objective, bound, 0.0, source, self.stats)


def solve_connected(p: AssignmentProblem, ctx: SolveContext, given: Given | None = None,
                    report: Report | None = None) -> Solution:
    """One connected problem, stage by stage, within the context's work."""
    t0 = time.perf_counter()
    if p.n_pairs == 0:  # nothing to decide: every optional item is out, and no item must be in
        nothing = np.full(p.n_items, -1, np.int64)
        if p.item_must.any():
            return Solution(Status.INFEASIBLE, nothing, float("inf"), float("inf"), 0.0)
        value = float(evaluate(p, nothing).objective)
        return Solution(Status.OPTIMAL, nothing, value, value, 0.0)
    run = Stages(p, ctx, given or Given(), report)
    run.greedy_start()
    # no stage is skipped because another failed: with no greedy plan, the LP-guided stage
    # (which finds plans greedy cannot on tight instances) still runs before the rescue
    run.excess()
    x = run.lp()
    run.lp_fix(x)
    run.probe()
    if run.best is None and not ctx.stopped and ctx.left() > 0.1:
        run.rescue(x)
    run.lns()
    return dataclasses.replace(run.solution(), wall_time=time.perf_counter() - t0)
