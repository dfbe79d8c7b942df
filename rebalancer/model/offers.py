"""The options a team manager sees for each new child: the best `top` eligible workers, ranked
by what choosing them adds to the objective (everyone else as allocated), with their
utilisation before and after, travel, the calendar where it matters, and the reason in words;
where fewer than `top` are eligible, the rule that binds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rebalancer.config import GRADES
from rebalancer.model import rules
from rebalancer.model.allocate import STATIC_RULES, Placement
from rebalancer.model.build import COST_SCALE
from rebalancer.model.rules import GRADE_RANK, IntArray
from rebalancer.model.weekly import County

OPTION_COLUMNS = ["child_id", "rank", "worker_id", "team", "adds", "utilisation_before",
                  "utilisation_after", "travel", "calendar", "chosen", "why"]


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


def binding(cy: County, child: int, top: int) -> str:
    """Why fewer than `top` workers may take the child: the count after each rule that cuts."""
    f = cy.frame
    w = np.arange(f.n_workers)
    c = np.full(f.n_workers, child)
    ok = np.ones(f.n_workers, bool)
    parts = []
    for rule in STATIC_RULES:
        now = ok & rule.check(f, c, w)
        if now.sum() < ok.sum():
            parts.append(f"{int(now.sum())} {_rule_phrase(cy, rule.code, child)}")
        ok = now
    held = ok & cy.cal.can_hold[:, 0]
    if held.sum() < ok.sum():
        parts.append(f"{int(held.sum())} of them in post and staying")
    return (f"only {int(ok.sum())} worker(s) may take this child: " + ", ".join(parts)) \
        if parts else f"only {int(ok.sum())} worker(s) in the county"


def _rule_phrase(cy: County, code: str, child: int) -> str:
    ch = cy.frame.children.iloc[child]
    if code == "GEOGRAPHY":
        return f"in {str(ch['locality'])[:40]}" if cy.cfg.rules.geography == "locality" \
            else "within the travel limit"
    if code == "GRADE":
        return f"of grade {GRADES[int(cy.frame.c_min_grade[child])]} or above"
    if code == "SKILLS":
        return "with " + ", ".join(f"`{t[:24]}`" for t in ch["required_skills"])
    if code == "EXCLUDED":
        return "not excluded for this child"
    return "not forbidden by a manager's decision"


def offers(cy: County, pl: Placement, choice: IntArray, top: int) -> pd.DataFrame:
    """Per new child: the best `top` workers by what choosing them adds, the chosen marked."""
    p = pl.problem
    scale = cy.weeks * COST_SCALE
    best = p.objective(choice)
    load0 = p.loads(choice)[:, 0] / 100.0
    cid = cy.frame.children["child_id"].to_numpy(object)
    wid = cy.frame.workers["worker_id"].to_numpy(object)
    team = cy.frame.workers["team"].to_numpy(object)
    rows = []
    for i, u in enumerate(pl.units):
        if u.prev >= 0 or u.start != 0:
            continue
        pts = float(cy.points[u.members].sum())
        mine = int(choice[i])
        on_now = int(pl.options[mine].workers[0])
        by_worker: dict[int, float] = {}
        for k in np.flatnonzero(p.opt_item == i).tolist():
            o = pl.options[k]
            first = next((w for w in o.workers.tolist() if w >= 0), -1)
            if first < 0:
                continue
            alt = _with(p, choice, i, k)
            cost = (p.objective(alt) - best) / scale
            by_worker[first] = min(by_worker.get(first, np.inf), cost)
        ranked = sorted(by_worker.items(), key=lambda kv: (kv[1], wid[kv[0]]))[:top]
        note = binding(cy, u.members[0], top) if len(by_worker) < top else ""
        for c in u.members:
            minutes, km = rules.travel(cy.frame, np.full(len(ranked), c),
                                       np.array([w for w, _ in ranked], np.int64))
            for r, ((w, adds), mi, k) in enumerate(zip(ranked, minutes, km, strict=True)):
                base = load0[w] - (pts if w == on_now else 0.0)
                rows.append({"child_id": cid[c], "rank": r + 1, "worker_id": wid[w],
                             "team": team[w], "adds": round(max(adds, 0.0), 2),
                             "utilisation_before": round(base / cy.capacity[w], 4),
                             "utilisation_after": round((base + pts) / cy.capacity[w], 4),
                             "travel": round(float(mi if mi == mi else k), 2) if (
                                 mi == mi or k == k) else None,
                             "calendar": calendar_words(cy, w),
                             "chosen": "true" if w == on_now else "false",
                             "why": _why(cy, w, adds, base, pts, note)})
            if not ranked:
                rows.append({"child_id": cid[c], "rank": 0, "worker_id": "", "team": "",
                             "adds": None, "utilisation_before": None,
                             "utilisation_after": None, "travel": None, "calendar": "",
                             "chosen": "false", "why": binding(cy, c, top)})
    return pd.DataFrame(rows, columns=OPTION_COLUMNS)


def _with(p, choice: IntArray, item: int, option: int) -> IntArray:  # type: ignore[no-untyped-def]
    """The choice with one item's option replaced (its continuation, if any, at its best)."""
    alt = choice.copy()
    old = int(alt[item])
    alt[item] = option
    for j in (int(p.opt_continues[old]), int(p.opt_continues[option])):
        if j >= 0:
            alt[j] = -1
    j = int(p.opt_continues[option])
    if j >= 0:
        tries = []
        for k in np.flatnonzero(p.opt_item == j).tolist():
            trial = alt.copy()
            trial[j] = k
            tries.append((p.objective(trial), k))
        alt[j] = min(tries)[1]
    return alt


def _why(cy: County, w: int, adds: float, base: float, pts: float, note: str) -> str:
    cap = float(cy.capacity[w])
    words = [f"adds {adds:,.0f} to the objective" if adds > 0.005 else "the best choice",
             f"{100 * base / cap:.0f}% → {100 * (base + pts) / cap:.0f}% of capacity"]
    grade = cy.frame.workers["grade"].iat[w]
    if GRADE_RANK[grade] == 0:
        words.append("newly qualified (asye)")
    cal = calendar_words(cy, w)
    if cal:
        words.append(cal)
    if note:
        words.append(note)
    return "; ".join(words)
