"""Shortfall diagnosis: where demand outruns capacity, before solving, and how many FTE of which
grade in which locality would bring every worker within capacity, after solving."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rebalancer.model.build import CaseModel
from rebalancer.model.rules import GRADE_RANK
from rebalancer.model.summary import (
    DemandRow,
    NeedRow,
    Shortfall,
    ShortfallAfter,
    ShortfallBefore,
)

GRADES = list(GRADE_RANK)
MIN_FTE_SHOWN = 0.05


def demand_and_capacity(cm: CaseModel) -> list[DemandRow]:
    """Per locality and grade band: points of children needing at least that grade, against the
    capacity of staying workers of at least that grade (a necessary condition for balance)."""
    f = cm.frame
    rows = []
    ch_loc = f.children["locality"].to_numpy(object)
    wk_loc = f.workers["locality"].to_numpy(object)
    stays = f.w_stays
    for loc in sorted(set(ch_loc) | set(wk_loc)):
        c_in = ch_loc == loc
        w_in = (wk_loc == loc) & stays
        for band, rank in (("any", 0), ("sw+", 1), ("senior+", 2), ("advanced", 3)):
            need = float(cm.child_points[c_in & (f.c_min_grade >= rank)].sum())
            have = float(cm.capacity[w_in & (f.w_grade >= rank)].sum())
            if need == 0 and band != "any":
                continue
            rows.append(DemandRow(loc, band, round(need, 1), round(have, 1),
                                  round(need / have, 3) if have else None))
    return rows


def before_solving(cm: CaseModel) -> ShortfallBefore:
    """What is wrong with the situation before any plan: the facts a lead should see first."""
    f = cm.frame
    dc = demand_and_capacity(cm)
    split = f.children.loc[cm.family_split_forced, "family_id"].unique().tolist()
    pins_leaving = [c.child_id for c in cm.conflicts if c.rule == "AVAILABLE"]
    contrary = [c for c in cm.conflicts if c.rule != "AVAILABLE"]
    return ShortfallBefore(
        over_demand=[r for r in dc if r.ratio is None or r.ratio > 1],
        demand_and_capacity=dc,
        families_with_no_common_worker=sorted(split),
        pins_on_leaving_or_absent_workers=pins_leaving,
        decisions_contradicting_rules=contrary,
    )


def fte_needed(cm: CaseModel, plan: pd.DataFrame, workers: pd.DataFrame) -> ShortfallAfter:
    """Extra FTE, by locality and grade, to absorb what the plan could not: overload stays with
    the overloaded worker's grade and locality; an unallocated child needs its minimum grade in
    its own locality. One FTE of grade g holds points_per_fte x grade_factor(g) points."""
    cfg = cm.cfg.capacity
    over = np.maximum(workers["load_after"] - workers["capacity_points"], 0.0)
    need: dict[tuple[str, str], dict[str, float]] = {}

    def add(loc: str, grade: str, key: str, pts: float) -> None:
        slot = need.setdefault((loc, grade), {"overload_points": 0.0, "unallocated_points": 0.0})
        slot[key] += pts

    for loc, grade, pts in zip(workers["locality"], workers["grade"], over, strict=True):
        if pts > 1e-9:  # a newly qualified worker's overload is work for a qualified one
            add(loc, "sw" if grade == "asye" else grade, "overload_points", float(pts))
    un = (plan["action"] == "unallocated").to_numpy()
    f = cm.frame
    skills: dict[tuple[str, str], set[str]] = {}
    for i in np.flatnonzero(un):
        grade = GRADES[max(int(f.c_min_grade[i]), 1)]  # a newly hired worker is at least an sw
        loc = f.children["locality"].iat[i]
        add(loc, grade, "unallocated_points", float(cm.child_points[i]))
        if cm.empty_rule.iat[i] == "SKILLS":  # no worker in the area has them: hire them
            skills.setdefault((loc, grade), set()).update(f.children["required_skills"].iat[i])
    rows: list[NeedRow] = []
    for (loc, grade), v in sorted(need.items()):
        per_fte = cfg.points_per_fte * cfg.grade_factor[grade]
        pts = v["overload_points"] + v["unallocated_points"]
        rows.append(NeedRow(loc, grade, round(pts / per_fte, 2),
                            round(v["overload_points"], 1), round(v["unallocated_points"], 1),
                            sorted(skills.get((loc, grade), set()))))
    total = sum(float(r.fte) for r in rows)
    return ShortfallAfter(round(total, 2), rows)


def shortfall_text(shortfall: Shortfall, top: int = 8) -> str:
    need = shortfall.after
    if not need.by_locality_and_grade:
        return "Every worker is within capacity and every child has a worker."
    everything = sorted(need.by_locality_and_grade, key=lambda r: -r.fte)
    # a line is worth a manager's attention from a twentieth of a post; smaller needs are counted
    rows = [r for r in everything if r.fte >= MIN_FTE_SHOWN]
    small = len(everything) - len(rows)
    lines = [f"To bring every worker within capacity and allocate every child: "
             f"{need.total_fte:.{1 if need.total_fte >= 0.1 else 2}f} more FTE"]
    for r in rows[:top]:
        lines.append(f"  {r.locality[:24]:<24}{r.grade:<10}{r.fte:>6.1f} FTE")
    if len(rows) > top:
        lines.append(f"  ... {len(rows) - top} more in summary.json (shortfall)")
    if small:
        lines.append(f"  ... and {small} locality/grade band(s) needing under {MIN_FTE_SHOWN} "
                     "FTE each (summary.json)")
    over = shortfall.before.over_demand
    if over:
        lines.append(f"{len(over)} locality/grade band(s) where demand exceeds capacity before "
                     "any plan, e.g. " + ", ".join(
                         f"{r.locality} {r.grade_band} {r.ratio or 'no staff'}x"
                         for r in over[:3]))
    return "\n".join(lines)
