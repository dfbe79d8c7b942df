"""The solve, in stages: greedy start, least excess, LP bound, a full CP-SAT probe, then LNS.

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
import pandas as pd
from ortools.sat.python import cp_model

from solvers.cpsat import _parameters, add_hint, build, least_excess, restrict
from solvers.evaluate import evaluate
from solvers.greedy import greedy, pairs_by_item
from solvers.lns import improve
from solvers.problem import AssignmentProblem, IntArray, Solution, Status, hint_in, take

Progress = Callable[[float, float, float], None]  # elapsed seconds, best objective, best bound

PROBE_MAX_PAIRS = 20_000  # beyond this, the full model rarely closes its gap; LNS does better
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


def _full_model(p: AssignmentProblem, start: IntArray | None, excess_cap: int | None,
                time_limit: float, seed: int, threads: int, stop: threading.Event | None,
                wall_cap: float | None = None, full_presolve: bool = False
                ) -> tuple[IntArray | None, float, bool, bool]:
    """CP-SAT on the whole model, in a thread so Ctrl-C can stop it: (plan, bound, optimal,
    interrupted)."""
    built = build(p, excess_cap)
    if start is not None:
        add_hint(built, p, start)
    solver = cp_model.CpSolver()
    _parameters(solver, time_limit, seed, threads, wall_cap, full_presolve)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.setdefault("s", solver.solve(built.model)),
                              daemon=True)
    worker.start()
    interrupted = False
    try:
        while worker.is_alive():
            worker.join(0.1)
            if stop is not None and stop.is_set() and not interrupted:
                interrupted = True
                solver.stop_search()
    except KeyboardInterrupt:
        interrupted = True
        solver.stop_search()
        worker.join()
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


def _solve_one(p: AssignmentProblem, *, time_limit: float = 60.0, seed: int = 0,
               threads: int = 2, progress: Progress | None = None,
               stop: threading.Event | None = None, use_lp: bool = True, use_lns: bool = True,
               lp_x: np.ndarray | None = None, wall_limit: float | None = None,
               start: IntArray | None = None, excess_cap: int | None = None,
               lns_share: float = LNS_SHARE,
               lns_rate: float = LNS_WORK_SHARE,
               report: Callable[[IntArray], None] | None = None) -> Solution:
    """One connected problem, in stages; `lp_x` is a relaxation already solved by the caller."""
    t0 = time.perf_counter()
    deadline = t0 + (time_limit if wall_limit is None else wall_limit)
    left = lambda: deadline - time.perf_counter()  # noqa: E731
    stats: dict[str, float] = {"pairs": float(p.n_pairs)}
    if p.n_pairs == 0:  # nothing to decide: every optional item is out, and no item must be in
        nothing = np.full(p.n_items, -1, np.int64)
        if p.item_must.any():
            return Solution(Status.INFEASIBLE, nothing, float("inf"), float("inf"), 0.0)
        value = float(evaluate(p, nothing).objective)
        return Solution(Status.OPTIMAL, nothing, value, value, time.perf_counter() - t0)

    best: IntArray | None = None
    best_key = (np.inf, np.inf)
    bound = float("-inf")
    given = start is not None
    interrupted = False

    def offer(plan: IntArray | None, source: str) -> None:
        nonlocal best, best_key
        if plan is None:
            return
        ev = evaluate(p, plan)
        if ev.feasible and (ev.excess, ev.objective) < best_key:
            best, best_key = plan, (ev.excess, ev.objective)
            stats["source_" + source] = float(ev.objective)
            if report is not None:
                report(plan)
            if progress is not None:
                progress(time.perf_counter() - t0, float(ev.objective), bound)

    def stage(name: str) -> Callable[[], None]:
        began = time.perf_counter()
        return lambda: stats.__setitem__(f"{name}_seconds", time.perf_counter() - began)

    def rescue() -> None:
        # never give up with time left: no feasible plan yet, so the time goes to CP-SAT on the
        # whole model, from the partial start, before any stage that only needs a plan
        nonlocal bound, interrupted
        done = stage("rescue")
        partial = start if given else greedy(p)
        plan, cp_bound, _, interrupted = _full_model(
            p, partial, excess_cap, RESCUE_SHARE * time_limit, seed, threads, stop,
            wall_cap=left(), full_presolve=True)
        bound = max(bound, cp_bound)
        offer(plan, "rescue")
        done()

    try:
        done = stage("greedy")
        offer(start if given else greedy(p), "greedy")
        done()
        if best is None and p.n_pairs > PROBE_MAX_PAIRS:  # the probe below would come too late
            rescue()
        if p.new_limit_soft and best is not None and not given:
            done = stage("excess")
            excess_cap, placed = least_excess(p, best, EXCESS_SHARE * time_limit, seed, threads,
                                              wall_cap=left())
            if placed is not None:
                offer(greedy(dataclasses.replace(p, hint=None), initial=placed), "excess")
            stats["excess_cap"] = float(excess_cap)
            done()
        x = lp_x
        if use_lp and x is None:
            from solvers.lp import lp_bound

            done = stage("lp")
            lp = lp_bound(p, excess_cap, time_limit=max(min(LP_SHARE * time_limit, left()), 0.1))
            if lp.status is Status.OPTIMAL:
                bound = max(bound, lp.bound)
                stats["lp_bound"] = lp.bound
                x = lp.x
            done()
        if x is not None and p.n_pairs > LP_FIX_MIN_PAIRS and use_lns:
            done = stage("lp_fix")
            sub, ks = restrict(p, lp_fixing(p, x))
            plan, _, _, interrupted = _full_model(sub, None, excess_cap,
                                                  FIX_SHARE * time_limit, seed, threads,
                                                  stop, wall_cap=left())
            if plan is not None:
                offer(np.where(plan >= 0, ks[np.maximum(plan, 0)], -1), "lp_fix")
            done()
        if (p.n_pairs <= PROBE_MAX_PAIRS or not use_lns) and not interrupted:
            done = stage("cpsat")
            share = PROBE_SHARE if use_lns else 1.0
            plan, cp_bound, optimal, interrupted = _full_model(
                p, best, excess_cap, share * time_limit, seed, threads, stop, wall_cap=left())
            bound = max(bound, cp_bound)
            offer(plan, "cpsat")
            done()
            if optimal and best is not None:
                bound = max(bound, best_key[1])
        if best is None and not interrupted and left() > 0.1:
            rescue()
        proven = best is not None and best_key[1] <= bound + 1e-6
        if use_lns and best is not None and not proven and not interrupted and left() > 0.1:
            done = stage("lns")
            work = lns_share * time_limit * lns_rate
            offer(improve(p, best, left(), seed=seed, excess_cap=excess_cap, size=LNS_SIZE,
                          sub_time=LNS_SUB_TIME, work=work,
                          on_better=lambda plan, _: offer(plan, "lns"),
                          stop=lambda: stop is not None and stop.is_set()), "lns")
            done()
    except KeyboardInterrupt:
        interrupted = True
    wall = time.perf_counter() - t0
    # a run the clock cut short may differ from the next one; one that ran its budgets does not
    stats["deadline_hit"] = float(time.perf_counter() >= deadline - 0.06 or interrupted)
    if best is None:
        status = Status.INFEASIBLE if bound == float("inf") else Status.NO_SOLUTION
        return Solution(status, np.full(p.n_items, -1, np.int64), float("nan"), bound, wall,
                        "none", interrupted, stats)
    objective = float(best_key[1])
    bound = min(bound, objective) if bound > objective else bound
    status = Status.OPTIMAL if objective <= bound + 1e-6 else Status.FEASIBLE
    source = max((k for k in stats if k.startswith("source_")),
                 key=lambda k: -stats[k]).removeprefix("source_")
    return Solution(status, best, objective, bound, wall, source, interrupted, stats)


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
SOLVE_SHARE = 0.6  # ~55-65% of the limit on an idle machine: room for a busy one (below)
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
        return _solve_one(p, time_limit=SOLVE_SHARE * time_limit, seed=seed, threads=threads,
                          progress=progress, stop=stop, use_lp=use_lp, use_lns=use_lns,
                          wall_limit=time_limit if wall_limit is None else wall_limit,
                          report=report)
    from solvers.lp import lp_bound

    stats: dict[str, float] = {"pairs": float(p.n_pairs), "components": float(n_comp)}
    deadline = t0 + (time_limit if wall_limit is None else wall_limit)
    pairs_per = np.bincount(item_comp[p.pair_item], minlength=n_comp)
    parts = []
    excess_total = 0
    wall_total = deadline - t0
    clock_cut = False  # a stage gave up for the clock: the plan may differ on another run
    for c in range(n_comp):  # a start and the least excess per component: small, quick models
        items = np.flatnonzero(item_comp == c)
        agents = np.flatnonzero(agent_comp == c)
        sub, ks = subproblem(p, items, agents)
        begin = greedy(sub)
        cap = None
        late = time.perf_counter() - t0 > CLOCK_EXCESS * wall_total
        clock_cut |= late and sub.new_limit_soft
        if late and sub.new_limit_soft:  # no time for the model: the start's excess is the cap
            cap = evaluate(sub, begin).excess
            excess_total += cap
        elif sub.new_limit_soft and evaluate(sub, begin).feasible:
            share = EXCESS_SHARE * time_limit * pairs_per[c] / pairs_per.sum()
            cap, placed = least_excess(sub, begin, share, seed + c, 1,
                                       wall_cap=max(deadline - time.perf_counter(), 0.05))
            if placed is not None:
                begin = greedy(dataclasses.replace(sub, hint=None), initial=placed)
            excess_total += cap
        parts.append((items, agents, sub, ks, begin, cap))
    stats["excess_seconds"] = time.perf_counter() - t0
    stats["excess_cap"] = float(excess_total)
    lp_x = None
    bound = float("-inf")
    per_component_lp = use_lp and p.n_pairs > GLOBAL_LP_MAX_PAIRS
    if per_component_lp and LP_SECONDS_PER_PAIR * p.n_pairs > CLOCK_LP * wall_total:
        per_component_lp, clock_cut = False, True  # the limit is too short for a bound
        use_lp = False
    if per_component_lp:  # the bound: each component's LP without the peak, plus a peak floor
        bound = p.peak_cost * peak_floor(p)
        lp_x = np.zeros(p.n_pairs)
        lp_start = time.perf_counter()
        for c, (_, _, sub, ks, _, cap) in enumerate(parts):
            per_lp = (time.perf_counter() - lp_start) / max(c, 1)
            if time.perf_counter() + per_lp - t0 > CLOCK_LP * wall_total:  # no bound, not late
                bound, lp_x, clock_cut = float("-inf"), None, True
                break
            res = lp_bound(dataclasses.replace(sub, peak_cost=0), cap,
                           time_limit=max(LP_SHARE * time_limit * pairs_per[c]
                                          / pairs_per.sum(), 0.1))
            if res.status is not Status.OPTIMAL:
                bound, lp_x = float("-inf"), None
                break
            bound += res.bound
            lp_x[ks] = res.x
        stats["lp_seconds"] = time.perf_counter() - t0 - stats["excess_seconds"]
        if lp_x is not None:
            stats["lp_bound"] = bound
    elif use_lp:
        lp = lp_bound(p, excess_total if p.new_limit_soft else None,
                      time_limit=max(LP_SHARE * time_limit, 0.1))
        stats["lp_seconds"] = time.perf_counter() - t0 - stats["excess_seconds"]
        if lp.status is Status.OPTIMAL:
            lp_x, bound = lp.x, lp.bound
            stats["lp_bound"] = lp.bound
    budget = SOLVE_SHARE * time_limit
    shares = budget * pairs_per / pairs_per.sum() * max(1, min(threads, n_comp))
    plan = np.full(p.n_items, -1, np.int64)
    for items, _, _, ks, begin, _ in parts:  # every component's start: a whole plan at once
        chosen = begin >= 0
        plan[items[chosen]] = ks[begin[chosen]]
    results: dict[int, Solution] = {}
    lock = threading.Lock()
    if evaluate(p, plan).feasible:
        report(plan.copy())

    def run(c: int) -> None:
        items, _, sub, ks, begin, cap = parts[c]
        wall = min(float(shares[c]) * COMPONENT_WALL_FACTOR, deadline - time.perf_counter())

        def better(sub_plan: IntArray) -> None:  # every improvement reaches the whole plan
            with lock:
                plan[items] = np.where(sub_plan >= 0, ks[np.maximum(sub_plan, 0)], -1)
                if evaluate(p, plan).feasible:
                    report(plan.copy())

        sol = _solve_one(sub, time_limit=float(shares[c]), wall_limit=max(wall, 0.05),
                         seed=seed + c, threads=1, stop=stop, use_lp=use_lp and lp_x is None,
                         use_lns=use_lns, lp_x=None if lp_x is None else lp_x[ks],
                         start=begin, excess_cap=cap, lns_share=COMPONENT_LNS_SHARE,
                         lns_rate=COMPONENT_LNS_RATE, report=better)
        with lock:  # the component's whole answer, its unassigned items included
            results[c] = sol
            plan[items] = np.where(sol.item_pair >= 0, ks[np.maximum(sol.item_pair, 0)], -1)
            if progress is not None:
                progress(time.perf_counter() - t0, float(evaluate(p, plan).objective), bound)

    order = np.argsort(-pairs_per, kind="stable")  # largest first, for an even finish
    _in_parallel(run, order.tolist(), threads, stop)
    interrupted = stop.is_set() or any(s.interrupted for s in results.values())
    ev = evaluate(p, plan)
    wall = time.perf_counter() - t0
    if not ev.feasible:
        return Solution(Status.NO_SOLUTION, plan, float("nan"), bound, wall, "none",
                        interrupted, stats)
    for s in results.values():
        for k, v in s.stats.items():
            if k.endswith("_seconds") or k == "excess_cap" or k == "deadline_hit":
                stats[k] = stats.get(k, 0.0) + v
    stats["deadline_hit"] = float(time.perf_counter() >= deadline - 0.06 or interrupted
                                  or clock_cut or stats.get("deadline_hit", 0.0) > 0)
    all_optimal = all(s.status is Status.OPTIMAL for s in results.values())
    objective = float(ev.objective)
    status = Status.OPTIMAL if (all_optimal and not p.peak_cost) or objective <= bound + 1e-6 \
        else Status.FEASIBLE
    return Solution(status, plan, objective, min(bound, objective), wall, "components",
                    interrupted, stats)


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

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, threads))]
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

    def work() -> None:
        try:
            done["solution"] = _solve(p, time_limit=time_limit, seed=seed, threads=threads,
                                      progress=progress, stop=stop, use_lp=use_lp,
                                      use_lns=use_lns, decompose=decompose,
                                      wall_limit=wall_limit, report=report)
        except BaseException as exc:  # raised again in the caller's thread
            done["error"] = exc

    worker = threading.Thread(target=work, daemon=True, name="solve")
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.05)
    except KeyboardInterrupt:
        stop.set()
        worker.join(INTERRUPT_GRACE)
    if "error" in done:
        raise done["error"]
    if "solution" in done:
        sol: Solution = done["solution"]
        if stop.is_set():
            sol.interrupted = True
            sol.stats["deadline_hit"] = 1.0
        return sol
    with lock:  # interrupted, and the stages did not stop in time: the best plan reported
        plan = latest[0] if latest else None
    wall = time.perf_counter() - t0
    if plan is None:
        return Solution(Status.NO_SOLUTION, np.full(p.n_items, -1, np.int64), float("nan"),
                        float("-inf"), wall, "none", True, {"deadline_hit": 1.0})
    value = float(evaluate(p, plan).objective)
    return Solution(Status.FEASIBLE, plan, value, float("-inf"), wall, "interrupted", True,
                    {"deadline_hit": 1.0, "pairs": float(p.n_pairs)})
