"""A plan over the weeks of the look-ahead: each child's worker in each week (its course), the
changes that course makes, and the contract's objective over the weeks, computed exactly.

Objective: (1/W) × the sum over weeks of that week's unallocated, overload (banded), peak,
travel and split-family terms, each as for a single date; plus every change's cost once. A change
in week 0 is a move, forced as the contract defines it; a change in week k ≥ 1 is forced when
the week k−1 worker cannot hold children in week k (or FAMILY takes the child with a sibling
whose change is forced). A change's months with the worker run from the date the child got that
worker (`allocated_on`, the plan date where that is empty, or the start of the week of a change
in this plan) to the week's start; its recent-change factor counts `worker_changes_12m` plus
the child's earlier changes in this plan. With W = 1 this is the single-date objective.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rebalancer.config import Config
from rebalancer.io.inputs import Inputs
from rebalancer.model import rules, terms
from rebalancer.model.build import case_points, worker_capacity
from rebalancer.model.calendar import Calendar, calendar
from rebalancer.model.rules import BoolArray, FloatArray, Frame, IntArray
from rebalancer.model.terms import DAYS_PER_MONTH, NO_PREVIOUS

NO_WORKER = -1


@dataclass
class County:
    """What the weekly objective and a placement need of the inputs, computed once."""

    cfg: Config
    frame: Frame
    cal: Calendar
    points: FloatArray
    capacity: FloatArray
    current: IntArray
    months0: FloatArray  # months with the current worker at the plan date (capped)
    got_on: list[object]  # the date each child got its current worker (plan date if unknown)
    changes12: IntArray
    base_factor: FloatArray  # proceedings and care factors (the recent-change factor apart)
    unallocated_cost: FloatArray
    forced0: BoolArray  # a change in week 0 would be forced (its current worker breaks a rule)
    # a published plan in force (`--previous`, a re-plan): each child's worker in each week by
    # it, NO_PREVIOUS where it names the child not; departures from it cost previous_change
    published: IntArray | None = None

    @property
    def weeks(self) -> int:
        return self.cal.weeks

    @property
    def new_limit(self) -> IntArray:
        """Per worker, MAX_NEW: `max_new_cases`, else the configured default."""
        return np.nan_to_num(self.frame.workers["max_new_cases"].to_numpy(float),
                             nan=self.cfg.rules.max_new_cases).astype(np.int64)


def county(inputs: Inputs, cfg: Config) -> County:
    f = rules.frame(inputs, cfg)
    ch, w = f.children, cfg.weights
    current = ch["current_worker_id"].map(f.worker_index).fillna(-1).to_numpy(np.int64)
    plan_day = pd.Timestamp(cfg.plan_date)
    months0 = terms.months_with_worker(ch["allocated_on"], current >= 0, plan_day, w)
    got = [d if d is not None and d == d and d <= cfg.plan_date else cfg.plan_date
           for d in ch["allocated_on"]]
    base = terms.move_factor(ch["in_proceedings"].to_numpy(bool),
                             (ch["case_type"] == "cla").to_numpy(), np.zeros(len(ch), np.int64),
                             w)
    forced0 = np.zeros(len(ch), bool)
    has = np.flatnonzero(current >= 0)
    if has.size:
        broken = rules.broken_rules(f, has, current[has])
        forced0[has] = np.any(np.vstack([m for m in broken.values()]), axis=0)
        forced0 |= _family_forced(ch["family_id"].to_numpy(str), current, forced0)
    return County(cfg, f, calendar(inputs.workers, cfg), case_points(ch, cfg.points),
                  worker_capacity(inputs.workers, cfg.capacity), current, months0, got,
                  ch["worker_changes_12m"].to_numpy(np.int64), base,
                  terms.unallocated(ch["priority"], w), forced0)


def _family_forced(family: np.ndarray, worker: IntArray, forced: BoolArray) -> BoolArray:
    """Siblings who share a worker move as one: forced when any of them is."""
    df = pd.DataFrame({"f": family, "w": worker, "x": forced})
    shared = (df["f"] != "") & (df["w"] >= 0)
    out = np.zeros(len(df), bool)
    if shared.any():
        any_forced = df[shared].groupby(["f", "w"])["x"].transform("any")
        out[np.flatnonzero(shared.to_numpy())] = any_forced.to_numpy(bool)
    return out


@dataclass(frozen=True)
class Change:
    child: int
    week: int
    src: int  # -1: none (an allocation)
    dst: int  # -1: none
    forced: bool
    cost: float


def changes(cy: County, course: IntArray) -> list[Change]:
    """Every change of worker the course makes, with its kind and cost, week by week."""
    w = cy.cfg.weights
    starts = cy.cal.starts
    out: list[Change] = []
    prev = cy.current.copy()
    since: list[object] = list(cy.got_on)
    made = np.zeros(len(prev), np.int64)
    family = cy.frame.children["family_id"].to_numpy(str)
    for k in range(course.shape[1]):
        now = course[:, k]
        moving = np.flatnonzero(now != prev)
        if k == 0:
            forced = cy.forced0.copy()
        else:
            forced = np.zeros(len(prev), bool)
            held = np.flatnonzero(prev >= 0)
            forced[held] = ~cy.cal.can_hold[prev[held], k]
            forced &= now != prev
            forced |= _family_forced(family, np.where(now != prev, prev, -1), forced) & (
                now != prev)
        for c in moving:
            src, dst = int(prev[c]), int(now[c])
            if src >= 0:
                if k == 0:
                    months = float(cy.months0[c])
                else:
                    days = (starts[k] - since[c]).days  # type: ignore[operator]
                    months = min(max(days / DAYS_PER_MONTH, 0.0), w.move_months_cap)
                factor = cy.base_factor[c] * terms.recent_change_factor(
                    np.array([cy.changes12[c] + made[c]]), w)[0]
                cost = float(terms.move(np.array([months]), np.array([factor]),
                                        np.array([bool(forced[c])]), w)[0])
                out.append(Change(int(c), k, src, dst, bool(forced[c]), cost))
                made[c] += 1
            else:
                out.append(Change(int(c), k, src, dst, False, 0.0))
            since[c] = starts[k]
        prev = now
    return out


def week_terms(cy: County, assignment: IntArray) -> dict[str, float]:
    """One week's terms, exactly as for a single date."""
    w = cy.cfg.weights
    on = assignment >= 0
    load = np.bincount(assignment[on], weights=cy.points[on],
                       minlength=cy.frame.n_workers).astype(float)
    idx = np.flatnonzero(on)
    minutes, km = rules.travel(cy.frame, idx, assignment[idx])
    fam = cy.frame.children["family_id"]
    split = _families_split(fam.to_numpy(str), assignment)
    return {"unallocated": float(cy.unallocated_cost[~on].sum()),
            "overload": terms.overload_total(load, cy.capacity, w),
            "peak": terms.peak_of(load, cy.capacity, w),
            "travel": float(terms.travel(minutes, km, w).sum()),
            "split_family": terms.split_family(split, w)}


def _families_split(family: np.ndarray, worker: IntArray) -> int:
    df = pd.DataFrame({"f": family, "w": worker})
    df = df[(df["f"] != "") & (df["w"] >= 0)]
    return int((df.groupby("f")["w"].nunique() > 1).sum())


def objective(cy: County, course: IntArray) -> tuple[dict[str, float], list[Change]]:
    """The contract's objective of a course, term by term (weekly terms averaged), and its
    changes."""
    n_weeks = course.shape[1]
    total = dict.fromkeys(("unallocated", "overload", "moves", "peak", "travel",
                           "split_family"), 0.0)
    for k in range(n_weeks):
        for name, v in week_terms(cy, course[:, k]).items():
            total[name] += v / n_weeks
    made = changes(cy, course)
    total["moves"] = float(sum(c.cost for c in made))
    if cy.published is not None:
        named = cy.published != NO_PREVIOUS
        total["previous_plan"] = cy.cfg.weights.previous_change * float(
            (named & (course != cy.published)).sum()) / n_weeks
    return total, made


def week_loads(cy: County, course: IntArray) -> FloatArray:
    """(workers, weeks): each worker's load in each week."""
    out = np.zeros((cy.frame.n_workers, course.shape[1]))
    for k in range(course.shape[1]):
        on = course[:, k] >= 0
        out[:, k] = np.bincount(course[on, k], weights=cy.points[on],
                                minlength=cy.frame.n_workers)
    return out


def single_date(cy: County) -> County:
    """The same county planned for the plan date alone (W = 1)."""
    cfg = dataclasses.replace(cy.cfg, lookahead_days=0)
    return dataclasses.replace(cy, cfg=cfg, cal=calendar(cy.frame.workers, cfg))
