"""The options a team manager sees for each new child: the best `top` eligible workers, ranked
by what choosing them adds to the objective (everyone else as allocated), with their
utilisation before and after, travel, the calendar where it matters, and the reason in words;
where fewer than `top` are eligible, the rule that binds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rebalancer.config import GRADES
from rebalancer.model import rules, terms
from rebalancer.model.allocate import STATIC_RULES, Placement, course_of
from rebalancer.model.courses import calendar_words
from rebalancer.model.rules import GRADE_RANK, IntArray
from rebalancer.model.weekly import County
from solvers.options import OptionsProblem

OPTION_COLUMNS = ["child_id", "rank", "worker_id", "team", "adds", "utilisation_before",
                  "utilisation_after", "travel", "calendar", "chosen", "why"]


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


class Pricer:
    """Exactly what changing some items' options adds to the objective (contract units): their
    own costs, and the overload and peak of the workers whose loads change, week by week."""

    def __init__(self, cy: County, pl: Placement, choice: IntArray) -> None:
        self.cy, self.pl, self.choice = cy, pl, choice
        n_w, n_weeks = cy.frame.n_workers, cy.weeks
        self.load = np.zeros((n_w, n_weeks))
        course = course_of(pl, choice)
        for k in range(n_weeks):
            on = course[:, k] >= 0
            self.load[:, k] = np.bincount(course[on, k], weights=cy.points[on], minlength=n_w)
        self.util = self.load / cy.capacity[:, None]
        self.order = np.argsort(-self.util, axis=0, kind="stable")

    def _spread(self, k: int, sign: float, load: dict[tuple[int, int], float]) -> None:
        o = self.pl.options[k]
        pts = float(self.cy.points[self.pl.units[o.unit].members].sum())
        for j, w in enumerate(o.workers.tolist()):
            if w >= 0:
                key = (w, o.start + j)
                load[key] = load.get(key, 0.0) + sign * pts

    def adds(self, swap: dict[int, int]) -> float:
        """The objective's change when each item in `swap` takes the given option (-1 none)."""
        cy, w = self.cy, self.cy.cfg.weights
        diff: dict[tuple[int, int], float] = {}
        cost = 0.0
        for item, new in swap.items():
            old = int(self.choice[item])
            if old >= 0:
                cost -= self.pl.options[old].cost
                self._spread(old, -1.0, diff)
            if new >= 0:
                cost += self.pl.options[new].cost
                self._spread(new, 1.0, diff)
        keys = [(x, k) for (x, k), d in diff.items() if abs(d) > 1e-12]
        if not keys:
            return cost
        a = np.array([x for x, _ in keys])
        wk = np.array([k for _, k in keys])
        cap = cy.capacity[a]
        before = self.load[a, wk]
        after = before + np.array([diff[key] for key in keys])
        # overload of every changed (worker, week) at once, averaged over the weeks
        cost += float(terms.overload(after, cap, w).sum()
                      - terms.overload(before, cap, w).sum()) / cy.weeks
        for k in np.unique(wk).tolist():
            mine = wk == k
            changed = set(a[mine].tolist())
            rest = next((float(self.util[x, k]) for x in self.order[:, k]
                         if int(x) not in changed), 0.0)
            peak_now = float(self.util[self.order[0, k], k])
            peak_new = max(rest, float((after[mine] / cap[mine]).max()))
            cost += (terms.peak(peak_new, w) - terms.peak(peak_now, w)) / cy.weeks
        return cost


def offers(cy: County, pl: Placement, choice: IntArray, top: int) -> pd.DataFrame:
    """Per new child: the best `top` workers by what choosing them adds, the chosen marked."""
    p = pl.problem
    pricer = Pricer(cy, pl, choice)
    load0 = pricer.load[:, 0]
    cid = cy.frame.children["child_id"].to_numpy(object)
    wid = cy.frame.workers["worker_id"].to_numpy(object)
    team = cy.frame.workers["team"].to_numpy(object)
    rows = []
    for i, u in enumerate(pl.units):
        if u.prev >= 0 or u.start != 0:
            continue
        pts = float(cy.points[u.members].sum())
        on_now = int(pl.options[int(choice[i])].workers[0])
        by_worker: dict[int, float] = {}
        for k in np.flatnonzero(p.opt_item == i).tolist():
            first = next((w for w in pl.options[k].workers.tolist() if w >= 0), -1)
            if first >= 0:
                by_worker[first] = min(by_worker.get(first, np.inf),
                                       _best_with(pricer, p, choice, i, k))
        ranked = sorted(by_worker.items(), key=lambda kv: (kv[1], wid[kv[0]]))[:top]
        note = binding(cy, u.members[0], top) if len(by_worker) < top else ""
        for c in u.members:
            minutes, km = rules.travel(cy.frame, np.full(len(ranked), c),
                                       np.array([w for w, _ in ranked], np.int64))
            for r, ((w, adds), mi, k) in enumerate(zip(ranked, minutes, km, strict=True)):
                base = load0[w] - (pts if w == on_now else 0.0)
                travel = mi if mi == mi else k
                rows.append({"child_id": cid[c], "rank": r + 1, "worker_id": wid[w],
                             "team": team[w], "adds": round(max(adds, 0.0), 2),
                             "utilisation_before": round(base / cy.capacity[w], 4),
                             "utilisation_after": round((base + pts) / cy.capacity[w], 4),
                             "travel": None if travel != travel else round(float(travel), 2),
                             "calendar": calendar_words(cy, w),
                             "chosen": "true" if w == on_now else "false",
                             "why": _why(cy, w, adds, base, pts, note)})
            if not ranked:
                rows.append({"child_id": cid[c], "rank": 0, "worker_id": "", "team": "",
                             "adds": None, "utilisation_before": None,
                             "utilisation_after": None, "travel": None, "calendar": "",
                             "chosen": "false", "why": binding(cy, c, top)})
    return pd.DataFrame(rows, columns=OPTION_COLUMNS)


def _best_with(pricer: Pricer, p: OptionsProblem, choice: IntArray, item: int, option: int
               ) -> float:
    """What taking `option` for `item` adds, its continuation (if any) at its best."""
    swap = {item: option}
    old = int(p.opt_continues[int(choice[item])])
    if old >= 0:
        swap[old] = -1
    j = int(p.opt_continues[option])
    if j < 0:
        return pricer.adds(swap)
    return min(pricer.adds({**swap, j: k}) for k in np.flatnonzero(p.opt_item == j).tolist())


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
