"""The rebalance over the weeks of the look-ahead: week 0 by the whole-county search, the later
weeks placed on top of it.

Week 0 is the monthly rebalance as before, with one look-ahead rule of its own (`build`): a child
is given a new worker only among those who can keep it to the end of the look-ahead, where any
of its eligible workers can (so no child is moved onto a worker who leaves or goes away in the
coming weeks, which would make it change again). Each child then keeps its week-0 worker in
every later week that worker can hold it (or, with a published plan in force whose week 0 it
keeps, that plan's later weeks); what remains is placed from the week it must be: children whose
worker leaves, goes away, or may no longer hold them (handed over, forced), and children without
a worker in week 0 (allocated from week 1, to a starter once in post or to whoever has room,
MAX_NEW counted per week). They are placed as `allocate` places today's referrals (a few courses
each, the contract's objective over the weeks, `solvers.options`), under the same rule (only
workers who stay to the end, where one is eligible), with each unit's eight best-looking
options, from the placement of the rule of `handovers`, within a share of the run's work (the
rule's placement stands where the search finds none). The objective of the whole course is
computed exactly (`weekly.objective`).

With `lookahead_days = 0` (W = 1) none of this runs: the plan is the single-date plan.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rebalancer.config import Config
from rebalancer.io.inputs import Inputs
from rebalancer.model import courses, handovers, weekly
from rebalancer.model.allocate import Placement, Unit, course_of, placement, units_to_place
from rebalancer.model.calendar import calendar
from rebalancer.model.rules import BoolArray, IntArray
from solvers import SolveContext
from solvers.context import Termination
from solvers.options import solve

# The share of a run's work the later weeks get (the rest is week 0's search). The later weeks'
# placement is small (the children of leavers and of workers going away, and those without a
# worker): at 5,000 children it proves its optimum with a fraction of this.
LATER_SHARE = 0.1
# Where no worker's calendar changes within the look-ahead, the weeks after week 0 only place
# children who waited for a worker's MAX_NEW room: week 0's search gets nearly all the work
STEADY_SHARE = 0.02
# Options kept per unit after week 0 (the best-looking on their own, and none): measured on a
# 2,000-child county, every eligible worker's (9,295 options for 103 units) left CP-SAT 3% from
# its optimum with the share's work
OPTIONS_KEPT = 8
# Above this many units the rule places the later weeks alone: building the search's model is a
# Python loop (32 s for 1,808 units at 50,000 children, after which CP-SAT found nothing within
# its share and the run overran its 180 s limit); 103 units at 2,000 children take about a second
SEARCH_UNITS = 1000
# Building the search's model costs about this many seconds per eligible worker of a unit
# (measured: 0.38 s for 105 units with 3,259 eligible workers on a sized 5,000-child county,
# 11.6 s for 800 units with 40,401 at 50,000, where the later weeks then took 62 s of a 180 s
# limit and the run overran it). Building is counted in the weeks' work: the search is built
# only when it leaves CP-SAT at least as much again, else the rule places them (at 20 s on a
# sized 5,000-child county the build's 0.9 s went uncounted, the weeks took 1.9 s of a share of
# 1.07 and the clock cut them). A choice from the inputs and the work, never the clock.
PLACEMENT_PER_ELIGIBLE = 3e-4


@dataclass
class Weeks:
    """The course of every child over the weeks, its changes and objective, and how the weeks
    after week 0 were placed."""

    county: weekly.County
    course: IntArray  # (children, weeks)
    changes: list[weekly.Change]
    terms: dict[str, float]
    units: int  # groups of children placed after week 0
    placed_by: str  # "search" (solvers.options), "rule" (handovers), "none" (nothing to place)
    termination: Termination
    work_used: float


def later_share(workers: pd.DataFrame, cfg: Config) -> float:
    """The share of the run's work for the weeks after week 0 (none without a look-ahead)."""
    if cfg.weeks <= 1:
        return 0.0
    hold = calendar(workers, cfg).can_hold
    return LATER_SHARE if bool((hold != hold[:, :1]).any()) else STEADY_SHARE


def baseline(cy: weekly.County, week0: IntArray, published: IntArray | None) -> IntArray:
    """Each child's week-0 worker in every week; with a published plan in force, its later
    weeks for every child whose week-0 worker is the one it published for that date."""
    base = np.repeat(week0[:, None], cy.weeks, axis=1)
    if published is not None:
        same = published[:, 0] == week0
        base[same] = published[same]
    return base


def later_units(cy: weekly.County, inputs: Inputs, base: IntArray) -> list[Unit]:
    """The children to place after week 0: from the week their worker cannot hold them, and
    those without a worker in week 0 from week 1."""
    return units_to_place(cy, inputs, base, from_week=1)


def plan_weeks(inputs: Inputs, cfg: Config, week0: IntArray, ctx: SolveContext,
               forced0: BoolArray | None = None) -> Weeks:
    """The course of every child, week 0 given (see the module's docstring); a plan in force
    (`inputs.published`) is read week by week (`courses.published`); `forced0`: which week-0
    changes are forced, as week 0's model judged them (decisions included)."""
    cy = weekly.county(inputs, cfg)
    published = None if inputs.published is None else courses.published(cy, *inputs.published)
    cy = dataclasses.replace(cy, published=published)
    if forced0 is not None:
        cy.forced0 = forced0
    base = baseline(cy, week0, published)
    units = later_units(cy, inputs, base)
    if not units:
        terms, made = weekly.objective(cy, base)
        return Weeks(cy, base, made, terms, 0, "none", Termination.FINISHED, 0.0)
    ruled, _ = handovers.scheduled(cy, base, units)
    building = sum(len(u.eligible) for u in units) * PLACEMENT_PER_ELIGIBLE
    if len(units) > SEARCH_UNITS or 2 * building > ctx.work:
        # building the search would take longer than it can give
        terms, made = weekly.objective(cy, ruled)
        return Weeks(cy, ruled, made, terms, len(units), "rule", Termination.FINISHED, 0.0)
    if ctx.left() <= 0:  # the clock has run out (a busy machine): the rule's, and it says so
        terms, made = weekly.objective(cy, ruled)
        return Weeks(cy, ruled, made, terms, len(units), "rule", Termination.DEADLINE, 0.0)
    pl = placement(cy, inputs, base, units, keep=OPTIONS_KEPT)
    got = solve(pl.problem, ctx.part(ctx.work - building), hint=options_matching(pl, ruled))
    if got.choice is not None:  # the search's (it starts from the rule's where that is valid)
        course, by = course_of(pl, got.choice), "search"
    else:  # no placement within the work: the rule's, which always exists
        course, by = ruled, "rule"
    terms, made = weekly.objective(cy, course)
    return Weeks(cy, course, made, terms, len(units), by, got.termination,
                 got.work_used + building)


def options_matching(pl: Placement, course: IntArray) -> IntArray:
    """The options (one per item at most) that give the units the course's workers: where the
    search starts (the rule's placement)."""
    out = []
    seen: set[int] = set()
    items = pl.problem.opt_item
    for k, o in enumerate(pl.options):
        item = int(items[k])
        if item in seen:
            continue
        members = pl.units[o.unit].members
        span = course[members, o.start:o.start + len(o.workers)]
        if (span == o.workers[None, :]).all():
            out.append(k)
            seen.add(item)
    return np.array(out, np.int64)


def schedule_of(weeks: Weeks) -> dict[str, object]:
    """The tables beside the plan: the schedule of later changes and the weeks per worker."""
    cy = weeks.county
    return {"schedule": courses.schedule_table(cy, weeks.changes,
                                               courses.schedule_words(cy, weeks.changes)),
            "weeks": courses.weeks_table(cy, weeks.course)}


def with_later_weeks(weeks: Weeks, explanation: pd.Series) -> pd.Series:
    """Each plan row's explanation, with the child's later changes said after it."""
    words = courses.schedule_words(weeks.county, weeks.changes)
    later: dict[int, list[str]] = {}
    for (child, _week), text in sorted(words.items(), key=lambda kv: kv[0][1]):
        later.setdefault(child, []).append(text)
    out = explanation.copy()
    for child, texts in later.items():
        head = str(out.iat[child]).rstrip(". ")
        out.iat[child] = (f"{head}. Then: " if head else "Later: ") + "; then ".join(texts) + "."
    return out
