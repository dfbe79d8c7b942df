"""`rebalancer allocate`: today's referrals given a worker each, moving nobody else.

load -> validate -> build (the baseline, the units to place and their options) -> solve
(exactly, `solvers.options`) -> extract (plan, schedule, workers, weeks, options) -> write (a
plan folder like every other, `kind: allocate`).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rebalancer import __version__
from rebalancer.config import Config
from rebalancer.io.inputs import InputPaths, Inputs, load_inputs
from rebalancer.io.outputs import claim
from rebalancer.model import courses, handovers, rules, weekly
from rebalancer.model.allocate import STATIC_RULES, Placement, course_of, placement
from rebalancer.model.build import COST_SCALE
from rebalancer.model.courses import calendar_words
from rebalancer.model.offers import offers
from rebalancer.model.summary import (
    Allocation,
    InputFile,
    Kpis,
    MaxNewYielded,
    Shortfall,
    ShortfallAfter,
    ShortfallBefore,
    SolverReport,
    Summary,
)
from rebalancer.model.terms import NO_PREVIOUS
from rebalancer.pipeline import (
    FolderHook,
    Result,
    check_output_dir,
    output_lock,
    run_started,
    slowdown,
    solve_context,
    write_plan_folder,
)
from rebalancer.planfolder import read_plan_folder
from rebalancer.problems import printable
from solvers import Progress
from solvers.context import Termination
from solvers.options import Placed, solve


@dataclass(frozen=True)
class Request:
    """What a manager asks of `allocate` beyond a rebalance's inputs."""

    plan: Path | None = None  # a plan in force: its week-by-week assignment is the baseline
    top: int = 3  # options shown per new child


def baseline(cy: weekly.County, plan_dir: Path | None) -> np.ndarray:
    """(children, weeks): each child's worker in each week before today's allocations: its
    current worker, or its worker in the plan in force (`courses.published`)."""
    if plan_dir is None:
        return np.repeat(cy.current[:, None], cy.weeks, axis=1)
    pf = read_plan_folder(plan_dir)
    base = courses.published(cy, pf.plan, pf.schedule())
    unnamed = base == NO_PREVIOUS  # children it does not name keep their current worker
    return np.where(unnamed, cy.current[:, None], base)


def allocate(paths: InputPaths, cfg: Config, out: Path, fmt: str, hook: FolderHook,
             request: Request, progress: Progress | None = None,
             replace: bool = False) -> Result:
    """load -> place -> write, as `pipeline.rebalance` (the same folder rules and signals)."""
    from rebalancer.pipeline import deferred_interrupts

    t0 = run_started()
    check_output_dir(out, paths.all(), fmt)
    claim(out, replace, "files (a plan?)")
    inputs = load_inputs(paths.workers, paths.children, paths.decisions, paths.travel, cfg,
                         paths.config, extra_decisions=paths.decided)
    created = not out.exists()
    stop = threading.Event()
    try:
        with output_lock(out):
            cy = weekly.county(inputs, cfg)
            base = baseline(cy, request.plan)
            today, later = handovers.split(cy, inputs, base)
            base, handed = handovers.scheduled(cy, base, later)
            pl = placement(cy, inputs, base, today)
            with deferred_interrupts(stop):
                result = placed(inputs, cy, pl, request, (t0, stop, progress))
                result.summary = dataclasses.replace(result.summary, allocation=_allocation(
                    cy, pl, result.summary, request, handed))
                result.summary = dataclasses.replace(
                    result.summary, wall_time=round(time.perf_counter() - t0, 3))
                write_plan_folder(out, fmt, result, hook)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise
    return result


def placed(inputs: Inputs, cy: weekly.County, pl: Placement, request: Request,
           run: tuple[float, threading.Event, Progress | None]) -> Result:
    """Solve the placement exactly and extract every table of the folder."""
    t0, stop, progress = run
    cfg = cy.cfg
    slower = slowdown(t0, time.perf_counter())
    ctx = solve_context(cfg, len(inputs.children), t0, slower, stop, progress)
    got = solve(pl.problem, ctx)
    if got.choice is None:
        raise KeyboardInterrupt  # stopped before any placement existed: nothing to write
    course = course_of(pl, got.choice)
    terms, made = weekly.objective(cy, course)
    reasons, words = _week0_words(cy, pl, course)
    plan = courses.week0_plan(cy, course, reasons, words)
    workers = courses.workers_table(cy, course)
    tables = {"schedule": courses.schedule_table(cy, made, courses.schedule_words(cy, made)),
              "weeks": courses.weeks_table(cy, course),
              "options": offers(cy, pl, got.choice, request.top)}
    summary = _summary(inputs, cy, pl, (got, ctx.work), (plan, workers, made, course), terms)
    summary = dataclasses.replace(summary, allocation=_allocation(cy, pl, course, request, []))
    result = Result(None, None, plan, workers, summary, {}, inputs,
                    finish_by=t0 + cfg.solver.time_limit, slowdown=slower, stop=stop)
    result.tables = tables
    result.charts = False  # report.html in a moment: its charts come with `rebalancer report`
    return result


def _allocation(cy: weekly.County, pl: Placement, course: Any, request: Request,
                by_rule: list[int]) -> Allocation:
    """Who was placed: `course` is the final course, or a summary whose allocation to extend
    with the handovers scheduled by rule."""
    cid = cy.frame.children["child_id"].to_numpy(object)
    if isinstance(course, Summary):
        a = course.allocation
        assert a is not None
        return dataclasses.replace(a, handed_over=sorted(
            {*a.handed_over, *(str(cid[c]) for c in by_rule)}))
    new = [c for u in pl.units if u.prev < 0 for c in u.members]
    handed = [c for u in pl.units if u.prev >= 0 for c in u.members]
    return Allocation(allocated=[str(cid[c]) for c in new if course[c, 0] >= 0],
                      unallocated=[str(cid[c]) for c in new if course[c, 0] < 0],
                      handed_over=[str(cid[c]) for c in handed], top=request.top,
                      plan_in_force=None if request.plan is None
                      else str(request.plan.resolve()))


def _week0_words(cy: weekly.County, pl: Placement, course: np.ndarray
                 ) -> tuple[list[str], list[str]]:
    """Reason codes and words per child for week 0 (empty for a child that keeps its worker)."""
    n = len(course)
    reasons, words = [""] * n, [""] * n
    wid = cy.frame.workers["worker_id"].to_numpy(object)
    before, after = cy.current, course[:, 0]
    for c in range(n):
        b, a = int(before[c]), int(after[c])
        tail = _later(cy, course[c], wid)
        if a == b and a >= 0:
            words[c] = tail[2:]
            continue
        if b < 0 and a >= 0:
            reasons[c] = "UNALLOCATED"
            words[c] = f"allocated to {wid[a]}{_load_words(cy, a, course)}{tail}"
        elif a < 0:
            code = _empty_code(cy, c, pl)
            old = courses.rule_codes(cy, c, b) if b >= 0 else []
            reasons[c] = ";".join(dict.fromkeys(["UNALLOCATED", *old, code]))
            words[c] = ("no worker may take this child now: " + _empty_words(cy, c, code)
                        + tail)
        else:
            codes = courses.rule_codes(cy, c, b) or ["FAMILY"]
            reasons[c] = ";".join(dict.fromkeys(codes))
            why = ("moves with its siblings, whose worker cannot keep them"
                   if codes == ["FAMILY"] else _old_worker_words(cy, c, b))
            words[c] = f"from {wid[b]} ({why}) to {wid[a]}{_load_words(cy, a, course)}{tail}"
    return reasons, words


def _old_worker_words(cy: weekly.County, c: int, w: int) -> str:
    """Why the child's worker cannot keep it now: each rule's own words."""
    f = cy.frame
    return "; ".join(r.why_current(f, c, w) for r in rules.RULES
                     if not r.check(f, np.array([c]), np.array([w]))[0])


def _load_words(cy: weekly.County, w: int, course: np.ndarray) -> str:
    on = course[:, 0] == w
    load = float(cy.points[on].sum())
    return f" ({100 * load / cy.capacity[w]:.0f}% of capacity with it)"


def _later(cy: weekly.County, row: np.ndarray, wid: np.ndarray) -> str:
    """The course's later changes, in words."""
    out = []
    for k in range(1, len(row)):
        if row[k] != row[k - 1]:
            day = cy.cal.starts[k].isoformat()
            if row[k - 1] >= 0 and row[k] >= 0:
                out.append(f"{wid[row[k - 1]]} {calendar_words(cy, int(row[k - 1])) or 'cannot keep it'}: handed over in the week of {day} to {wid[row[k]]}")  # noqa: E501
            elif row[k] >= 0:
                out.append(f"to {wid[row[k]]} from the week of {day} "
                           f"({calendar_words(cy, int(row[k]))})")
            else:
                out.append(f"without a worker from the week of {day}")
    return ("; " + "; ".join(out)) if out else ""


def _empty_code(cy: weekly.County, c: int, pl: Placement) -> str:
    """The rule that empties the child's list, or OVERLOAD when workers exist but are full."""
    f = cy.frame
    w = np.arange(f.n_workers)
    ok = np.ones(f.n_workers, bool)
    for rule in STATIC_RULES:
        ok &= rule.check(f, np.full(f.n_workers, c), w)
        if not ok.any():
            return rule.reason
    if not (ok & cy.cal.can_hold[:, 0]).any():
        return "ABSENT"
    return "OVERLOAD"


def _empty_words(cy: weekly.County, c: int, code: str) -> str:
    return {"ABSENT": "every eligible worker is absent, leaving or not yet in post",
            "OVERLOAD": "the eligible workers' new-case slots are taken"}.get(
        code, f"no worker passes the {code} rule")


def _summary(inputs: Inputs, cy: weekly.County, pl: Placement, solved: tuple[Placed, float],
             tables: tuple[pd.DataFrame, pd.DataFrame, list[weekly.Change], np.ndarray],
             terms: dict[str, float]) -> Summary:
    got, work = solved
    plan, workers, made, course = tables
    objective = round(sum(terms.values()), 4)
    scale = cy.weeks * COST_SCALE
    gap_units = max(got.objective - got.bound, 0.0) if np.isfinite(got.bound) else None
    bound = None if gap_units is None else round(objective - gap_units / scale, 4)
    before, after = courses.kpis_of(cy, plan, workers, cy.forced0, made)
    excess = _excess(cy, course)
    return Summary(
        tool="caseload-rebalancer", version=__version__,
        inputs={name: InputFile(str(Path(p).resolve()), h) for (name, p), h in
                zip(inputs.files.items(), inputs.sha256().values(), strict=True)},
        config=cy.cfg,
        status="optimal" if got.termination is Termination.FINISHED else "feasible",
        objective=objective, best_bound=bound,
        gap=None if bound is None or objective <= 0 else round(
            max(0.0, (objective - bound) / objective), 6),
        wall_time=0.0,
        solver=SolverReport(source="options", termination=got.termination,
                            candidate_pairs=len(pl.options), decision_units=len(pl.units),
                            lp_bound=None, stage_objectives={}, stage_seconds={},
                            excess_cap=sum(excess.values()), work=round(work, 3),
                            work_used=round(got.work_used, 3)),
        objective_terms={k: round(v, 4) for k, v in terms.items()},
        kpis=Kpis(before, after, changes_lookahead=courses.change_counts(made),
                  weeks=courses.week_kpis(cy, course)),
        conflicts=[], max_new_yielded=MaxNewYielded(sum(excess.values()), excess),
        shortfall=Shortfall(ShortfallBefore([], [], [], [], []), ShortfallAfter(0.0, [])),
        no_eligible_worker={},
        input_warnings=[printable(str(w)) for w in inputs.warnings] or None,
        kind="allocate")


def _excess(cy: weekly.County, course: np.ndarray) -> dict[str, int]:
    """Workers given more new children in week 0 than their cap (MAX_NEW yielded)."""
    from rebalancer.model.allocate import fixed_new

    new0 = fixed_new(cy, course)[:, 0]
    limit = cy.new_limit
    wid = cy.frame.workers["worker_id"].to_numpy(object)
    return {str(wid[w]): int(new0[w] - limit[w]) for w in np.flatnonzero(new0 > limit)}
