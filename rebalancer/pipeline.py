"""The rebalance, end to end: load -> validate -> build -> solve -> extract -> write."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rebalancer import __version__
from rebalancer.clock import run_started
from rebalancer.config import Config
from rebalancer.io.inputs import InputPaths, Inputs, load_inputs
from rebalancer.io.outputs import (
    check_output_dir,
    claim,
    deferred_interrupts,
    output_lock,
    write_outputs,
)
from rebalancer.model import courses, lookahead
from rebalancer.model.build import COST_SCALE, CaseModel, build_case_model
from rebalancer.model.courses import published_on
from rebalancer.model.explain import explanations
from rebalancer.model.plan import (
    assigned_workers_from_plan,
    build_plan,
    build_workers,
    changed_from_previous,
    kpis,
    moved_mask,
    objective_terms,
)
from rebalancer.model.shortfall import before_solving, fte_needed
from rebalancer.model.summary import (
    AuditRecord,
    InputFile,
    Kpis,
    LaterWeeks,
    MaxNewYielded,
    OutputFile,
    PreviousPlan,
    SecondChanges,
    Shortfall,
    SolverReport,
    Summary,
)
from rebalancer.planfolder import read_plan_folder
from rebalancer.problems import InputRejected, Problem, printable
from solvers import Progress, Solution, SolveContext, Termination, solve
from solvers.problem import CostOverflow

# Seconds kept back from the solve for what follows it: the last polish, extracting and
# explaining the plan (0.8 s at 4,500 children), report.html's charts (about a second with
# matplotlib's import), writing the tables and the audit entry, and the process's own exit;
# grown by the slowdown seen while reading and building (twice as much beside three busy
# processes). The time limit's last second is the margin the process keeps (wall <= limit + 1).
WRITE_RESERVE = 1.6
WRITE_RESERVE_PER_CHILD = 1e-4
# The last engine call may end after the deadline: CP-SAT is given at least 0.05 s and HiGHS
# 0.1 s however little is left, and a stop takes effect at the engine's next check (0.1 s past
# the deadline was seen beside three busy processes, taking a 4 s run to 4.10 s)
ENGINE_OVERRUN = 0.25
# With the look-ahead, the objective over the weeks, the schedule and the weekly tables (building
# the later weeks' search and solving it are counted in the work's share, LATER_SHARE): 0.2 s at
# 5,000 children and 13 weeks on a quiet machine, reserved about five times over
WRITE_RESERVE_PER_CHILD_WEEK = 1.5e-5


@dataclass
class Result:
    model: CaseModel | None  # None: a placement (allocate), not a whole-county model
    solution: Solution | None
    plan: pd.DataFrame
    workers: pd.DataFrame
    summary: Summary
    paths: dict[str, Path]
    inputs: Inputs | None = None  # what the plan was made from (decisions in force included)
    # when the run should be done by its time limit (perf_counter), and how much slower than
    # a quiet machine it has gone: what is left decides whether report.html gets its charts
    finish_by: float | None = None
    slowdown: float = 1.0
    stop: threading.Event | None = None  # set by an interrupt after the solve: no charts
    tables: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)  # beside plan
    charts: bool | None = None  # False: report.html without charts, whatever the time


def max_new_yielded(cm: CaseModel, workers: pd.DataFrame) -> MaxNewYielded:
    """MAX_NEW yields to ONE_WORKER: where a cap was exceeded, by how much, declared openly."""
    excess = np.maximum(workers["new_children"].to_numpy() - cm.new_limit, 0)
    over = np.flatnonzero(excess)
    return MaxNewYielded(int(excess.sum()),
                         {str(workers["worker_id"].iat[i]): int(excess[i]) for i in over})


def second_changes(cm: CaseModel, plan: pd.DataFrame) -> SecondChanges:
    """The children this plan gives their second change of worker this year (one change in
    the 12 months before it, and a move now), forced or for balance."""
    rising = moved_mask(plan) & (np.asarray(cm.recent_changes) == 1)
    return SecondChanges(int((rising & cm.forced).sum()), int((rising & ~cm.forced).sum()))


def _solver_summary(cm: CaseModel, sol: Solution, work: float) -> SolverReport:
    """How the plan was found; objective values in the contract's units, never solver units."""
    return SolverReport(
        source=sol.source,
        termination=sol.termination,
        candidate_pairs=int(cm.problem.n_pairs),
        decision_units=int(cm.problem.n_items),
        lp_bound=None if sol.lp_bound is None else round(sol.lp_bound / COST_SCALE, 4),
        stage_objectives={k: round(v / COST_SCALE, 4) for k, v in sol.sources.items()
                          if math.isfinite(v)},
        stage_seconds={k: round(v, 3) for k, v in sol.timings.items()},
        excess_cap=sol.stats.excess_cap,
        work=round(work, 3),
        work_used=round(sol.stats.work_used, 3),
        week0_objective=round(sol.objective / COST_SCALE, 4) if math.isfinite(sol.objective)
        else None,
    )


def summarise(inputs: Inputs, cfg: Config, cm: CaseModel, sol: Solution, plan: pd.DataFrame,
              workers: pd.DataFrame, wall: float, work: float = 0.0,
              weeks: lookahead.Weeks | None = None) -> Summary:
    """summary.json: enough to re-score the plan independently and to audit where it came from.
    With the look-ahead (`weeks`), the objective is the one over the weeks; the bound and gap
    are week 0's search's, which bound no objective over the weeks, so none is given."""
    terms = objective_terms(cm, plan, workers) if weeks is None else weeks.terms
    objective = sum(terms.values())
    bound = sol.bound / COST_SCALE if math.isfinite(sol.bound) and weeks is None else None
    gap = None
    if bound is not None and objective > 0:
        gap = max(0.0, (objective - bound) / objective)
    elif bound is not None:
        gap = 0.0
    return Summary(
        tool="caseload-rebalancer",
        version=__version__,
        # absolute, so that a command run from another folder finds the same files
        inputs={name: InputFile(str(Path(p).resolve()), h)
                for (name, p), h in zip(inputs.files.items(), inputs.sha256().values(),
                                        strict=True)},
        config=cfg,
        status=sol.status.value if weeks is None or sol.status.value != "optimal"
        else "feasible",
        objective=round(objective, 4),
        best_bound=None if bound is None else round(bound, 4),
        gap=None if gap is None else round(gap, 6),
        wall_time=round(wall, 3),
        solver=_solver_summary(cm, sol, work),
        objective_terms={k: round(v, 4) for k, v in terms.items()},
        kpis=_kpis(cm, plan, workers, weeks),
        conflicts=list(cm.conflicts),
        max_new_yielded=max_new_yielded(cm, workers),
        shortfall=Shortfall(before_solving(cm), fte_needed(cm, plan, workers)),
        second_changes=second_changes(cm, plan),
        no_eligible_worker={
            rule: int(n) for rule, n in cm.empty_rule[cm.empty_rule != ""].value_counts()
            .sort_index().items()
        },
        input_warnings=[printable(str(w)) for w in inputs.warnings] or None,
    )


def _kpis(cm: CaseModel, plan: pd.DataFrame, workers: pd.DataFrame,
          weeks: lookahead.Weeks | None) -> Kpis:
    """Before and after (week 0); with the look-ahead, the changes over the weeks, each week's
    figures, and children_2plus_changes counting the schedule."""
    if weeks is None:
        return Kpis(kpis(plan, workers, cm.forced, "before", cm.recent_changes),
                    kpis(plan, workers, cm.forced, "after", cm.recent_changes))
    before, after = courses.kpis_of(weeks.county, plan, workers, cm.forced, weeks.changes)
    return Kpis(before, after, changes_lookahead=courses.change_counts(weeks.changes),
                weeks=courses.week_kpis(weeks.county, weeks.course))


def build(inputs: Inputs, cfg: Config) -> CaseModel:
    """The case model, refusing costs the solver could not add up exactly."""
    try:
        return build_case_model(inputs, cfg)
    except CostOverflow as exc:
        raise InputRejected([Problem(str(inputs.files.get("config", "configuration")), "-",
                                     "weights", str(exc),
                                     "lower the largest weights or case points")]) from None


def slowdown(t0: float, now: float) -> float:
    """How much slower than its own CPU time this run has gone so far, between 1 and 3.

    Reading and building are single-threaded, so on a quiet machine their wall time is their CPU
    time; beside other busy processes it is longer, and writing the plan will be slower by about
    as much. The clock's reserve for writing grows by this factor (the budgets do not change, so
    the plan does not either). A process that did other work before this run has more CPU time
    than the run's wall time: 1."""
    cpu, wall = time.process_time(), now - t0
    if cpu <= 0 or wall <= 0:
        return 1.0
    return min(max(wall / cpu, 1.0), 3.0)


# Seconds of a run outside its budgeted search, modelled from its size on the 2-core machine
# the rates were measured on (never read from the clock, so that the default work, and with it
# the plan, depends on the inputs and the limit alone): reading and building per child, the
# whole-county LP bound per candidate pair (dearer per pair than the per-component LPs that
# solvers.solve.LP_SECONDS_PER_PAIR times, as a sized county's localities are larger). Of what
# the limit leaves after these and the reserve, the search gets DEFAULT_WORK_SHARE in work units:
# a unit is a modelled second of this machine, and costs 0.72-0.82 s of wall on sized 5,000-child
# counties, up to 15% more in one run of two on the same quiet machine. The rest is the clock
# valve's margin: with all of it (1.0) a 20 s run of a sized county was cut by the clock in one
# run of two on a quiet machine, and its plan was 0.04-0.1% lower than with 0.9 (at 60 s within
# 0.1% either way), so the default keeps the margin and its plan.
READ_BUILD_PER_CHILD = 4e-4  # 1.7-2.0 s at 5,000 children
LP_PER_PAIR = 2.2e-5  # 2.1-3.4 s for 131,000-142,000 pairs (sized 5,000-child counties)
DEFAULT_WORK_SHARE = 0.9


def default_work(limit: float, children: int, pairs: int, reserve: float) -> float:
    """The work of a run given only a time limit: what is left of it for the search."""
    left = limit - reserve - children * READ_BUILD_PER_CHILD - pairs * LP_PER_PAIR
    return max(DEFAULT_WORK_SHARE * left, 0.5)


def solve_context(cfg: Config, children: int, t0: float, slower: float,
                  stop: threading.Event | None, progress: Progress | None,
                  pairs: int = 0) -> SolveContext:
    """The one context of a run's solve. Its work comes from the configuration and the inputs'
    size alone (--work, else `default_work`), so the plan is reproducible; its deadline is what
    is really left of the limit, counted from `t0`, the run's start, less the reserve for
    writing and the last engine call's overrun (grown by the slowdown seen so far)."""
    limit = cfg.solver.time_limit
    reserve = WRITE_RESERVE + children * WRITE_RESERVE_PER_CHILD
    if cfg.weeks > 1:
        reserve += children * cfg.weeks * WRITE_RESERVE_PER_CHILD_WEEK
    now = time.perf_counter()
    remaining = limit - (now - t0) - (reserve + ENGINE_OVERRUN) * slower
    work = cfg.solver.work if cfg.solver.work > 0 else default_work(limit, children, pairs,
                                                                     reserve)
    # no floor beyond a moment: on a machine too slow for the limit the solve gets what is left
    # (every locality's greedy start is a whole plan within it) and says the clock cut it
    return SolveContext(work, now + max(remaining, 0.05), stop or threading.Event(), progress,
                        cfg.solver.seed, cfg.solver.threads)


def plan(inputs: Inputs, cfg: Config, *, progress: Progress | None = None,
         stop: threading.Event | None = None, started: float | None = None) -> Result:
    """Build, solve and extract, with no file I/O: what rebalance, review and sweeps call.

    `started` is when the run began (the time limit covers the whole run, reading included)."""
    t0 = time.perf_counter() if started is None else started
    t_load = time.perf_counter()  # reading done: building starts
    return solved(Built(inputs, build(inputs, cfg), t0, t_load), cfg, progress, stop)


@dataclass(frozen=True)
class Built:
    """A run's inputs and case model, and when the run began and the building began."""

    inputs: Inputs
    model: CaseModel
    t0: float
    t_load: float


def solved(built: Built, cfg: Config, progress: Progress | None,
           stop: threading.Event | None) -> Result:
    """Solve a built model and extract the plan, workers table, explanations and summary."""
    inputs, cm, t0, t_load = built.inputs, built.model, built.t0, built.t_load
    t_build = time.perf_counter()
    slower = slowdown(t0, t_build)
    ctx = solve_context(cfg, len(inputs.children), t0, slower, stop, progress,
                        cm.problem.n_pairs)
    later = lookahead.later_share(cm.frame.workers, cfg)  # the weeks after week 0's share
    sol = solve(cm.problem, ctx.part(ctx.work * (1 - later), wall=ctx.left() * (1 - later))
                if later else ctx)
    t_solve = time.perf_counter()
    if sol.termination is Termination.INTERRUPTED and sol.source == "none":
        raise KeyboardInterrupt  # stopped before any plan existed: nothing to write
    plan_df = build_plan(cm, sol)
    workers = build_workers(cm, plan_df)
    weeks = None
    t_weeks = time.perf_counter()
    if later:
        weeks = lookahead.plan_weeks(inputs, cfg, assigned_workers_from_plan(cm, plan_df),
                                     ctx.part(ctx.work * later), cm.forced)
    t_weeks_done = time.perf_counter()
    plan_df["explanation"] = explanations(cm, plan_df, workers)
    summary = summarise(inputs, cfg, cm, sol, plan_df, workers, time.perf_counter() - t0,
                        ctx.work, weeks)
    timings = {"load_seconds": round(t_load - t0, 3),
               "build_seconds": round(t_build - t_load, 3),
               "solve_seconds": round(t_solve - t_build, 3), "slowdown": round(slower, 2)}
    if weeks is not None:
        timings["weeks_seconds"] = round(t_weeks_done - t_weeks, 3)
    later_weeks = None if weeks is None else LaterWeeks(
        weeks.units, weeks.placed_by, weeks.termination, round(weeks.work_used, 3))
    summary = dataclasses.replace(summary, solver=dataclasses.replace(
        summary.solver, timings=timings, weeks=later_weeks))
    result = Result(cm, sol, plan_df, workers, summary, {}, inputs,
                    finish_by=t0 + cfg.solver.time_limit, slowdown=slower, stop=ctx.stop)
    if weeks is not None:
        result.tables = lookahead.schedule_of(weeks)
        plan_df["explanation"] = lookahead.with_later_weeks(weeks, plan_df["explanation"])
    return result


def previous_from_folder(folder: Path, inputs: Inputs, day: dt.date) -> PreviousPlan:
    """A plan folder as the plan to stay close to, set on `inputs`: child -> its worker on `day`
    by that plan and its schedule ("" unallocated), and its tables for the weeks after."""
    pf = read_plan_folder(folder)
    schedule = pf.schedule()
    inputs.previous = published_on(pf.plan, schedule, day)
    inputs.published = (pf.plan, schedule)
    return PreviousPlan(str(folder.resolve()), pf.summary.plan_file.file,
                        pf.summary.plan_file.sha256)


# A file of the plan folder's set beside its tables: its name, and how to write it to a path.
ExtraFile = tuple[str, Callable[[Path], Any]]


@dataclass(frozen=True)
class FolderHook:
    """The one extension point of a rebalance, called after planning and before writing (in the
    manner of PyPSA's `extra_functionality`); both parts optional.

    - `finish(result)` may replace `result.summary` with additions and returns extra files for
      the set by name (a re-plan adds its review to the summary and writes decisions.csv);
    - `record(summary, folder)` writes the plan's entries into an audit trail once the tables'
      hashes are known, before summary.json lands, and says where they are (signoff.audit
      makes one, so this package knows nothing of trails).
    """

    finish: Callable[[Result], dict[str, ExtraFile]] | None = None
    record: Callable[[Summary, Path], AuditRecord] | None = None


# Seconds the report's charts take on a quiet machine (matplotlib's import and four charts, the
# coming weeks' included: 1.0 to 1.1 s at 700 children); more on a busy one, by the slowdown the
# run has seen.
CHART_SECONDS = 1.2


def charts_in_time(result: Result) -> bool:
    """Draw report.html's charts unless the run was interrupted, or drawing them would take the
    run past its time limit (then the page says how to draw them later)."""
    if result.summary.solver.interrupted or (result.stop is not None and result.stop.is_set()):
        return False
    if result.charts is not None:
        return result.charts
    if result.finish_by is None:
        return True
    return result.finish_by - time.perf_counter() > CHART_SECONDS * result.slowdown


def write_plan_folder(out: Path, fmt: str, result: Result, hook: FolderHook | None = None
                      ) -> None:
    """The plan folder as one set: tables, report.html, the hook's files and audit entries,
    then summary.json naming them all. The entries are written once the tables' hashes are
    known and before the summary lands, so the summary records them (seq and link) and a
    deleted entry is found."""
    from rebalancer.reports.plan_page import render

    hook = hook or FolderHook()
    with deferred_interrupts(result.stop):  # a plan exists: it is written, whatever comes
        extra = hook.finish(result) if hook.finish is not None else {}
        charts = charts_in_time(result)
        result.summary = dataclasses.replace(result.summary, report_charts=charts)
        page = render(result.plan, result.workers, result.summary, charts_drawn=charts,
                      schedule=result.tables.get("schedule"))
        files: dict[str, ExtraFile] = {
            "report": ("report.html", lambda p: p.write_text(page, encoding="utf-8")),
            **extra}
        _write_set(out, fmt, result, files, hook)


def _write_set(out: Path, fmt: str, result: Result, files: dict[str, ExtraFile],
               hook: FolderHook) -> None:
    """The tables and files, then summary.json naming them all, sealed with the audit entries."""

    def sealed(outputs: dict[str, dict[str, str]]) -> dict[str, Any]:
        result.summary = dataclasses.replace(
            result.summary, outputs={k: OutputFile(**v) for k, v in outputs.items()})
        if hook.record is not None:
            result.summary = dataclasses.replace(result.summary,
                                                 audit=hook.record(result.summary, out))
        return result.summary.to_json()

    result.paths, _ = write_outputs(
        out, fmt, {"plan": result.plan, "workers": result.workers, **result.tables}, sealed,
        files)


def _record_previous(result: Result, previous: PreviousPlan | None) -> None:
    """The plan stayed close to, with how many children's outcome differs from it."""
    if previous is None or result.model is None:
        return
    changed = changed_from_previous(result.model,
                                    assigned_workers_from_plan(result.model, result.plan))
    result.summary = dataclasses.replace(
        result.summary, previous_plan=dataclasses.replace(previous, changed=changed))


def rebalance(paths: InputPaths, cfg: Config, out: Path, fmt: str = "csv",
              hook: FolderHook | None = None, progress: Progress | None = None,
              stop: threading.Event | None = None, replace: bool = False) -> Result:
    """load -> plan -> write; I/O happens only in the first and last steps. The hook adds to
    the folder (see FolderHook); check it (an audit trail usable) before calling. A folder that
    holds anything is refused, unless `replace` moves it aside first (nothing is lost)."""
    t0 = run_started()
    check_output_dir(out, paths.all(), fmt)
    claim(out, replace, "files (a plan?)")
    inputs = load_inputs(paths.workers, paths.children, paths.decisions, paths.travel, cfg,
                         paths.config, extra_decisions=paths.decided)
    previous = None
    if paths.previous is not None:
        previous = previous_from_folder(paths.previous, inputs, cfg.plan_date)
    created = not out.exists()
    stop = stop or threading.Event()
    try:
        with output_lock(out):
            t_load = time.perf_counter()  # reading done: building starts
            built = Built(inputs, build(inputs, cfg), t0, t_load)
            # a signal before the solve ends the run (no plan yet: exit 130); from the solve on
            # it stops the solve, whose best plan is kept, or waits for the folder's writing
            with deferred_interrupts(stop):
                result = solved(built, cfg, progress, stop)
                _record_previous(result, previous)
                result.summary = dataclasses.replace(
                    result.summary, wall_time=round(time.perf_counter() - t0, 3))
                write_plan_folder(out, fmt, result, hook)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # interrupted or refused before any plan: leave nothing behind
        raise
    return result
