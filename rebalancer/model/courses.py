"""The outputs of a plan over weeks (a course per child): the plan of week 0, the schedule of
later changes, the workers table of week 0, the per-week utilisation table and the weekly KPIs.

load -> validate -> build -> solve -> **extract** -> write.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from rebalancer.model import rules
from rebalancer.model.plan import PLAN_COLUMNS, WORKER_COLUMNS, action_of, kpis
from rebalancer.model.rules import RULES, BoolArray, IntArray
from rebalancer.model.summary import ChangeCounts, KpiValues, WeekKpi
from rebalancer.model.terms import NO_PREVIOUS
from rebalancer.model.weekly import Change, County, week_loads

SCHEDULE_COLUMNS = ["child_id", "week", "effective_on", "from_worker_id", "to_worker_id",
                    "action", "forced", "reasons", "explanation"]
WEEK_COLUMNS = ["worker_id", "week", "starts_on", "can_hold", "load", "children",
                "utilisation"]


def published_on(plan: pd.DataFrame, schedule: pd.DataFrame | None, day: dt.date
                 ) -> pd.Series:
    """child_id -> worker_id ("" none) on `day` by a published plan: its plan's `to_worker_id`,
    then its schedule's changes effective on or before that day, in date order."""
    out = pd.Series(plan["to_worker_id"].fillna("").astype(str).to_numpy(object),
                    index=plan["child_id"].astype(str).to_numpy(object))
    if schedule is None or not len(schedule):
        return out
    days = pd.to_datetime(schedule["effective_on"].astype(str)).dt.date
    due = schedule.assign(day=days.to_numpy())
    due = due[due["day"] <= day].sort_values(["day", "week"], kind="stable")
    if len(due):
        latest = due.drop_duplicates("child_id", keep="last")
        out.loc[latest["child_id"].astype(str).to_numpy()] = \
            latest["to_worker_id"].fillna("").astype(str).to_numpy(object)
    return out


def published(cy: County, plan: pd.DataFrame, schedule: pd.DataFrame | None) -> IntArray:
    """(children, weeks): each child's worker in each week of this county's look-ahead by a
    published plan (`published_on` each week's start; a plan made on an earlier date is read at
    these weeks' dates); -1: none; NO_PREVIOUS for children it does not name."""
    base = np.full((len(cy.current), cy.weeks), NO_PREVIOUS, np.int64)
    ids = cy.frame.children["child_id"]
    index = cy.frame.worker_index
    for k, s in enumerate(cy.cal.starts):
        to = ids.map(published_on(plan, schedule, s))
        named = to.notna().to_numpy()
        base[named, k] = to[named].map(lambda w: index.get(w, -1) if w else -1
                                       ).to_numpy(np.int64)
    return base


def _ids(cy: County, idx: IntArray) -> np.ndarray:
    wid = cy.frame.workers["worker_id"].to_numpy(object)
    return np.where(idx >= 0, wid[np.maximum(idx, 0)], "")


def _travel(cy: County, worker: IntArray) -> np.ndarray:
    out = np.full(len(worker), np.nan)
    ok = np.flatnonzero(worker >= 0)
    minutes, km = rules.travel(cy.frame, ok, worker[ok])
    out[ok] = np.where(np.isnan(minutes), km, minutes)
    return out


def rule_codes(cy: County, child: int, worker: int) -> list[str]:
    """The reason codes of every rule the child's old worker breaks."""
    f = cy.frame
    c, w = np.array([child]), np.array([worker])
    return [str(r.reason_codes(f, w)[0]) for r in RULES if not r.check(f, c, w)[0]]


def week0_plan(cy: County, course: IntArray, reasons: list[str], words: list[str]
               ) -> pd.DataFrame:
    ch = cy.frame.children
    before, after = cy.current, course[:, 0]
    plan = pd.DataFrame({
        "child_id": ch["child_id"].to_numpy(object),
        "family_id": ch["family_id"].to_numpy(object),
        "case_type": ch["case_type"].to_numpy(object),
        "points": cy.points,
        "from_worker_id": _ids(cy, before), "to_worker_id": _ids(cy, after),
        "action": action_of(before, after), "reasons": reasons,
        "travel_before": _travel(cy, before), "travel_after": _travel(cy, after)})
    plan = plan[PLAN_COLUMNS]
    plan["explanation"] = words
    return plan


def workers_table(cy: County, course: IntArray) -> pd.DataFrame:
    """Week 0, in the contract's columns."""
    n_w = cy.frame.n_workers
    before, after = cy.current, course[:, 0]
    lb = np.bincount(before[before >= 0], weights=cy.points[before >= 0], minlength=n_w)
    la = np.bincount(after[after >= 0], weights=cy.points[after >= 0], minlength=n_w)
    arrived = (after >= 0) & (after != before)
    left = (before >= 0) & (after != before)
    wk = cy.frame.workers
    return pd.DataFrame({
        "worker_id": wk["worker_id"].to_numpy(object), "team": wk["team"].to_numpy(object),
        "locality": wk["locality"].to_numpy(object), "grade": wk["grade"].to_numpy(object),
        "fte": wk["fte"].to_numpy(float), "capacity_points": cy.capacity,
        "load_before": lb, "load_after": la,
        "children_before": np.bincount(before[before >= 0], minlength=n_w),
        "children_after": np.bincount(after[after >= 0], minlength=n_w),
        "utilisation_before": lb / cy.capacity, "utilisation_after": la / cy.capacity,
        "new_children": np.bincount(after[arrived], minlength=n_w),
        "moved_out": np.bincount(before[left], minlength=n_w)})[WORKER_COLUMNS]


def schedule_table(cy: County, changes: list[Change], words: dict[tuple[int, int], str]
                   ) -> pd.DataFrame:
    """One row per change in weeks 1 … W−1 (the header alone when there is none)."""
    rows = []
    wid = cy.frame.workers["worker_id"].to_numpy(object)
    cid = cy.frame.children["child_id"].to_numpy(object)
    for c in changes:
        if c.week == 0:
            continue
        action = "allocate" if c.src < 0 else ("unallocated" if c.dst < 0 else "move")
        rows.append({"child_id": cid[c.child], "week": c.week,
                     "effective_on": cy.cal.starts[c.week].isoformat(),
                     "from_worker_id": wid[c.src] if c.src >= 0 else "",
                     "to_worker_id": wid[c.dst] if c.dst >= 0 else "", "action": action,
                     "forced": "true" if c.forced else "false",
                     "reasons": schedule_reasons(cy, c),
                     "explanation": words.get((c.child, c.week), "")})
    return pd.DataFrame(rows, columns=SCHEDULE_COLUMNS)


def schedule_reasons(cy: County, c: Change) -> str:
    codes = []
    if c.src >= 0 and not cy.cal.can_hold[c.src, c.week]:
        codes.append(cy.cal.why(c.src, c.week))
    if c.src < 0 or c.dst < 0:
        codes.append("UNALLOCATED")
    if c.dst >= 0 and cy.cal.not_started[c.dst, c.week - 1]:
        codes.append("STARTS")
    if c.src >= 0 and c.dst >= 0 and not codes:
        codes.append("FAMILY" if c.forced else "BALANCE")
    return ";".join(dict.fromkeys(codes))


def weeks_table(cy: County, course: IntArray) -> pd.DataFrame:
    """Per worker and week: whether they may hold children, their load and utilisation."""
    load = week_loads(cy, course)
    n_w, n_weeks = load.shape
    count = np.zeros((n_w, n_weeks), np.int64)
    for k in range(n_weeks):
        on = course[:, k] >= 0
        count[:, k] = np.bincount(course[on, k], minlength=n_w)
    return pd.DataFrame({
        "worker_id": np.repeat(cy.frame.workers["worker_id"].to_numpy(object), n_weeks),
        "week": np.tile(np.arange(n_weeks), n_w),
        "starts_on": np.tile([s.isoformat() for s in cy.cal.starts], n_w),
        "can_hold": np.where(cy.cal.can_hold.ravel(), "true", "false"),
        "load": load.ravel(), "children": count.ravel(),
        "utilisation": (load / cy.capacity[:, None]).ravel()})[WEEK_COLUMNS]


def week_kpis(cy: County, course: IntArray) -> list[WeekKpi]:
    load = week_loads(cy, course)
    cap = cy.capacity[:, None]
    util = load / cap
    return [WeekKpi(week=k, starts_on=cy.cal.starts[k].isoformat(),
                    unallocated=int((course[:, k] < 0).sum()),
                    workers_over_capacity=int((load[:, k] > cap[:, 0] + 1e-9).sum()),
                    overload_points=round(float(np.maximum(load[:, k] - cap[:, 0], 0).sum()), 4),
                    peak_utilisation=round(float(util[:, k].max()), 6) if len(util) else 0.0)
            for k in range(course.shape[1])]


def change_counts(changes: list[Change]) -> ChangeCounts:
    real = [c for c in changes if c.src >= 0]
    forced = sum(1 for c in real if c.forced)
    return ChangeCounts(total=len(real), forced=forced, discretionary=len(real) - forced)


def kpis_of(cy: County, plan: pd.DataFrame, workers: pd.DataFrame, forced0: BoolArray,
            changes: list[Change]) -> tuple[KpiValues, KpiValues]:
    """Before and after (week 0), with children_2plus_changes counting the whole course."""
    before = kpis(plan, workers, forced0, "before", cy.changes12)
    after = kpis(plan, workers, forced0, "after", cy.changes12)
    made = np.zeros(len(plan), np.int64)
    for c in changes:
        if c.src >= 0:
            made[c.child] += 1
    twice = int(((cy.changes12 + made) >= 2).sum())
    return before, dataclasses.replace(after, children_2plus_changes=twice)


def calendar_words(cy: County, w: int) -> str:
    """The worker's dates that matter within the look-ahead, in words."""
    row = cy.frame.workers.iloc[w]
    end = cy.cal.starts[-1]
    out = []
    if row["leaving_on"] is not None and row["leaving_on"] <= end + _horizon(cy):
        out.append(f"leaves on {row['leaving_on']}")
    if row.get("starts_on") is not None and row["starts_on"] > cy.cfg.plan_date:
        out.append(f"starts on {row['starts_on']}")
    if row.get("away_from") is not None and row["away_from"] <= end + _horizon(cy):
        until = row.get("away_until")
        out.append(f"away from {row['away_from']}" + (f" to {until}" if until else ""))
    return "; ".join(out)


def _horizon(cy: County):  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.timedelta(days=cy.cfg.horizon_days)


def schedule_words(cy: County, made: list[Change]) -> dict[tuple[int, int], str]:
    """Each later change in words, keyed by (child, week)."""
    wid = cy.frame.workers["worker_id"].to_numpy(object)
    out = {}
    for c in made:
        if c.week == 0:
            continue
        day = cy.cal.starts[c.week].isoformat()
        if c.src >= 0 and c.dst >= 0:
            out[(c.child, c.week)] = (
                f"{wid[c.src]} {calendar_words(cy, c.src) or 'cannot keep it'}; handed over in "
                f"the week of {day} to {wid[c.dst]}"
                + (", who stays" if cy.cal.can_hold[c.dst, c.week:].all() else ""))
        elif c.dst >= 0:
            out[(c.child, c.week)] = (f"allocated in the week of {day} to {wid[c.dst]} "
                                      f"({calendar_words(cy, c.dst) or 'in post'})")
        else:
            out[(c.child, c.week)] = (f"{wid[c.src]} {calendar_words(cy, c.src)}; no eligible "
                                      f"worker can take it from the week of {day}")
    return out
