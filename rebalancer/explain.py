"""Plain-language explanations: why each child moved, was allocated or left unallocated, what the
alternatives would have cost, and why a worker gained or lost children.

Only IDs, grades, localities, dates and percentages appear: nothing else about a child.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rebalancer import rules
from rebalancer.model import CaseModel, pair_move_cost, pair_travel_cost, unallocated_cost
from rebalancer.rules import GRADE_RANK

GRADES = list(GRADE_RANK)
RULE_WORDS = {
    "GEOGRAPHY": "outside the child's area",
    "AVAILABLE": "leaving or absent",
    "GRADE": "grade below what the case needs",
    "SKILLS": "lacks a required skill",
    "EXCLUDED": "excluded for this child",
    "PINNED": "forbidden by a manager's decision",
}


def _why_leave(cm: CaseModel, child: int, worker: int, reasons: str) -> str:
    """Why the child could not (or should not) stay with its worker, in a manager's words."""
    f = cm.frame
    wk = f.workers.iloc[worker]
    parts = []
    if f.w_leaving[worker]:
        parts.append(f"leaving {wk['leaving_on']}")
    if f.w_absent[worker]:
        parts.append("absent")
    if cm.current_broken["GRADE"][child]:
        parts.append(f"{wk['grade']} below the {GRADES[f.c_min_grade[child]]} grade needed")
    if cm.current_broken["SKILLS"][child]:
        missing = set(f.children["required_skills"].iat[child]) - set(wk["skills"])
        parts.append("lacks " + ", ".join(sorted(missing)))
    if cm.current_broken["EXCLUDED"][child]:
        parts.append("excluded for this child")
    if cm.current_broken["GEOGRAPHY"][child]:
        parts.append("outside the child's area")
    if "DECISION" in reasons and not parts:
        parts.append("manager's decision")
    if "FAMILY" in reasons and not parts:
        parts.append("the siblings move together")
    if not parts and "OVERLOAD" in reasons:
        parts.append("over capacity")
    if not parts and "BALANCE" in reasons:
        parts.append("to balance loads")
    return "; ".join(parts)


def _fit(cm: CaseModel, child: int, worker: int) -> str:
    """What makes the new worker suitable: the constraints the child's case puts on a worker."""
    f = cm.frame
    wk = f.workers.iloc[worker]
    mode = cm.cfg["rules"]["geography"]
    parts = []
    if mode == "locality":
        parts.append("same locality")
    elif mode in ("km", "minutes"):
        parts.append(f"within {cm.cfg['rules']['max_travel']:g} {mode}")
    need = int(f.c_min_grade[child])
    if need > 0:
        why = "for proceedings" if bool(f.children["in_proceedings"].iat[child]) else ""
        parts.append(f"{GRADES[need]} grade needed{(' ' + why) if why else ''} ({wk['grade']})")
    skills = f.children["required_skills"].iat[child]
    if skills:
        parts.append("has " + ", ".join(skills))
    return "; ".join(parts)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def explanations(cm: CaseModel, plan: pd.DataFrame, workers: pd.DataFrame) -> list[str]:
    """One sentence per move, allocate and unallocated row; empty for a plain keep."""
    f = cm.frame
    idx = f.worker_index
    ub = workers["utilisation_before"].to_numpy(float)
    ua = workers["utilisation_after"].to_numpy(float)
    out = [""] * len(plan)
    for i, (action, src, dst, reasons) in enumerate(zip(
            plan["action"], plan["from_worker_id"], plan["to_worker_id"], plan["reasons"],
            strict=True)):
        if action == "keep":
            if cm.fallback[i] and reasons:
                out[i] = (f"kept with {src}: no worker meets every rule "
                          f"({_empty_words(cm, i)}), and {src} stays")
            continue
        if action in ("move", "allocate"):
            w = idx[dst]
            head = (f"from {src} ({_why_leave(cm, i, idx[src], reasons)}) to {dst}"
                    if action == "move" else f"allocated to {dst}")
            tail = [_fit(cm, i, w), f"{dst} {_pct(ub[w])} → {_pct(ua[w])}"]
            if action == "move":
                s = idx[src]
                tail.append(f"{src} {_pct(ub[s])} → {_pct(ua[s])}")
            out[i] = head + ": " + "; ".join(t for t in tail if t)
            continue
        # unallocated
        if cm.empty_rule.iat[i]:
            out[i] = f"no eligible worker: {_empty_words(cm, i)}"
        else:
            out[i] = ("eligible workers exist but are all too full or have taken their "
                      f"{cm.cfg['rules']['max_new_cases']} new children; others needed them more")
        if src:
            out[i] = f"{src} is {_why_leave(cm, i, idx[src], reasons)}; " + out[i]
    return out


def _empty_words(cm: CaseModel, child: int) -> str:
    rule = cm.empty_rule.iat[child]
    ch = cm.frame.children
    if rule == "GEOGRAPHY":
        return f"no worker covers {ch['locality'].iat[child]}"
    if rule == "AVAILABLE":
        return "every worker in the area is leaving or absent"
    if rule == "GRADE":
        return f"no available {GRADES[cm.frame.c_min_grade[child]]} or above in the area"
    if rule == "SKILLS":
        return "no available worker in the area has " + ", ".join(ch["required_skills"].iat[child])
    if rule == "EXCLUDED":
        return "every suitable worker is excluded for this child"
    if rule == "PINNED":
        return "every suitable worker is forbidden by a decision"
    return RULE_WORDS.get(rule, rule)


def alternatives(cm: CaseModel, plan: pd.DataFrame, workers: pd.DataFrame, child_id: str,
                 top: int = 3) -> dict[str, Any]:
    """For one child: the chosen worker and the best other eligible workers, cost term by term
    (each as if only this child changed), and every ineligible worker by the rule that bars it."""
    f = cm.frame
    pos = int(np.flatnonzero(f.children["child_id"].to_numpy() == child_id)[0])
    row = plan.iloc[pos]
    n_w = f.n_workers
    c = np.full(n_w, pos, np.int64)
    w = np.arange(n_w, dtype=np.int64)
    broken = rules.broken_rules(f, c, w)
    barred = {code: [f.workers["worker_id"].iat[k] for k in np.flatnonzero(mask)]
              for code, mask in broken.items() if mask.any()}
    eligible = ~np.any(np.stack(list(broken.values())), axis=0)
    load_after = workers["load_after"].to_numpy(float)
    cap = cm.capacity
    pts = cm.child_points[pos]
    now = f.worker_index.get(row["to_worker_id"], -1)
    before = cm.current[pos]
    wts = cm.cfg["weights"]
    minutes, km = rules.travel(f, c, w)
    travel = pair_travel_cost(f, minutes, km)
    peak_now = float(workers["utilisation_after"].max())
    options = []
    for k in np.flatnonzero(eligible):
        load = load_after[k] + (0 if k == now else pts)
        src_load = load_after.copy()
        if now >= 0 and k != now:
            src_load[now] -= pts
        src_load[k] = load
        over_delta = (max(load - cap[k], 0) - max(load_after[k] - cap[k], 0)
                      + (max(src_load[now] - cap[now], 0) - max(load_after[now] - cap[now], 0)
                         if now >= 0 and k != now else 0))
        moving = before >= 0 and k != before
        move = float(pair_move_cost(f, cm.months[[pos]], cm.move_factor[[pos]],
                                    cm.forced[[pos]])[0]) if moving else 0.0
        peak = float(wts["peak"]) * 100 * (max((src_load / cap).max(), 0) - peak_now)
        terms = {"moves": move, "overload": float(wts["overload"]) * over_delta,
                 "peak": peak, "travel": float(travel[k])}
        options.append((sum(terms.values()), f.workers["worker_id"].iat[k], terms,
                        _pct(load / cap[k])))
    options.sort()
    chosen = next((o for o in options if o[1] == row["to_worker_id"]), None)
    others = [o for o in options if o[1] != row["to_worker_id"]][:top]
    unit = np.flatnonzero(cm.unit == cm.unit[pos])
    siblings = [f.children["child_id"].iat[k] for k in unit if k != pos]
    new_now = workers["new_children"].to_numpy(int)
    slots = {f.workers["worker_id"].iat[k]: f"{new_now[k]}/{cm.new_limit[k]}"
             for k in range(n_w)}
    return {
        "siblings_in_unit": siblings, "new_case_slots": slots,
        "child_id": child_id, "action": row["action"], "from": row["from_worker_id"],
        "to": row["to_worker_id"], "reasons": row["reasons"],
        "unallocated_cost": float(unallocated_cost(f)[pos]),
        "chosen": chosen, "alternatives": others, "ineligible": barred,
    }


def worker_story(cm: CaseModel, plan: pd.DataFrame, workers: pd.DataFrame,
                 worker_id: str) -> dict[str, Any]:
    """Why a worker gained or lost children: each arrival and departure with its reasons."""
    wrow = workers.loc[workers["worker_id"] == worker_id].iloc[0]
    gained = plan[(plan["to_worker_id"] == worker_id) & (plan["from_worker_id"] != worker_id)]
    lost = plan[(plan["from_worker_id"] == worker_id) & (plan["to_worker_id"] != worker_id)]
    return {
        "worker_id": worker_id,
        "load": (float(wrow["load_before"]), float(wrow["load_after"])),
        "utilisation": (float(wrow["utilisation_before"]), float(wrow["utilisation_after"])),
        "capacity": float(wrow["capacity_points"]),
        "gained": list(zip(gained["child_id"], gained["from_worker_id"], gained["reasons"],
                           strict=True)),
        "lost": list(zip(lost["child_id"], lost["to_worker_id"], lost["reasons"], strict=True)),
        "why_lost": _why_worker_lost(cm, worker_id),
    }


def _why_worker_lost(cm: CaseModel, worker_id: str) -> str:
    k = cm.frame.worker_index[worker_id]
    if cm.frame.w_leaving[k]:
        return f"leaving {cm.frame.workers['leaving_on'].iat[k]}: holds no children after the plan"
    if cm.frame.w_absent[k]:
        return "absent for the planning horizon: holds no children after the plan"
    return ""
