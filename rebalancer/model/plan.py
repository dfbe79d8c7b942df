"""Turning a solution into the contract's outputs: the plan, the workers table, KPIs, reasons.

load -> validate -> build -> solve -> **extract** -> write.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rebalancer.model import terms
from rebalancer.model.build import CaseModel
from rebalancer.model.rules import RULE_BY_CODE, RULES, BoolArray, FloatArray, IntArray
from rebalancer.model.summary import KpiValues
from solvers import Solution

NDStr = np.ndarray

PLAN_COLUMNS = ["child_id", "family_id", "case_type", "points", "from_worker_id", "to_worker_id",
                "action", "reasons", "travel_before", "travel_after"]
WORKER_COLUMNS = ["worker_id", "team", "locality", "grade", "fte", "capacity_points",
                  "load_before", "load_after", "children_before", "children_after",
                  "utilisation_before", "utilisation_after", "new_children", "moved_out"]
def assigned_workers(cm: CaseModel, solution: Solution) -> IntArray:
    """Worker index per child after the plan (-1: unallocated)."""
    pair = solution.item_pair[cm.unit]
    if cm.unit_pair_worker.size == 0:
        return np.full(len(pair), -1, np.int64)
    return np.where(pair >= 0, cm.unit_pair_worker[np.maximum(pair, 0)], -1)


def travel_of(cm: CaseModel, child: IntArray, worker: IntArray) -> FloatArray:
    """The travel measure of the plan: minutes where the travel table has the pair, else km."""
    from rebalancer.model import rules

    out = np.full(len(child), np.nan)
    ok = worker >= 0
    minutes, km = rules.travel(cm.frame, child[ok], worker[ok])
    out[ok] = np.where(np.isnan(minutes), km, minutes)
    return out


def joins_siblings(cm: CaseModel, after: IntArray) -> BoolArray:
    """Children who end with a worker that holds one of their siblings after the plan."""
    fam = cm.frame.children["family_id"].to_numpy(str)
    df = pd.DataFrame({"f": fam, "w": after, "i": np.arange(len(after))})
    df = df[(df["f"] != "") & (df["w"] >= 0)]
    n = df.groupby(["f", "w"])["i"].transform("size").to_numpy()
    out = np.zeros(len(after), bool)
    out[df["i"].to_numpy()[n >= 2]] = True
    return out


def discretionary_reason(cm: CaseModel, before: IntArray, after: IntArray,
                         load_after: FloatArray) -> NDStr:
    """Why a child moved when nothing forced it, judged by that move's own effect: FAMILY when it
    joins its siblings; OVERLOAD when its old worker would be over capacity had it stayed;
    BALANCE otherwise (loads, peak or travel)."""
    src = np.maximum(before, 0)
    would_be = load_after[src] + cm.child_points
    over = would_be > cm.capacity[src] + 1e-9
    return np.select([joins_siblings(cm, after), over], ["FAMILY", "OVERLOAD"], "BALANCE")


def reasons(cm: CaseModel, before: IntArray, after: IntArray, load_after: FloatArray
            ) -> list[str]:
    """Reason codes per child: why it moved, why it is (still) unallocated, or why a keep conflicts
    with a rule (kept for want of any eligible worker)."""
    f = cm.frame
    n = f.n_children
    out: list[list[str]] = [[] for _ in range(n)]
    moved = (before >= 0) & (after >= 0) & (before != after)
    changed = (before >= 0) & (before != after)
    for rule in RULES:
        hit = np.flatnonzero(cm.current_broken[rule.code] & (changed | cm.fallback))
        for i, code in zip(hit, rule.reason_codes(f, before[hit]), strict=True):
            out[i].append(str(code))
    for i in np.flatnonzero(changed & cm.forced_decision):
        out[i].append("DECISION")
    for i in np.flatnonzero(changed & (cm.forced_family | cm.family_split_forced)):
        out[i].append("FAMILY")
    discretionary = moved & ~cm.forced
    why = discretionary_reason(cm, before, after, load_after)
    for i in np.flatnonzero(discretionary):
        out[i].append(str(why[i]))
    # a keep or assign that fixed the outcome shows on the row, even when nothing moved; it is
    # added to the move's own reason (an accepted move stays OVERLOAD, BALANCE or FAMILY)
    kind = cm.decision_kind.to_numpy(object)
    held = np.isin(kind, ["keep", "assign"]) & (cm.mandate >= 0) & (after == cm.mandate)
    for i in np.flatnonzero(held):
        out[i].append("DECISION")
    for i in np.flatnonzero(after < 0):
        out[i].insert(0, "UNALLOCATED")
        rule = cm.empty_rule.iat[i]
        if rule:
            code = str(RULE_BY_CODE[rule].reason_codes(f, np.maximum(before[[i]], 0))[0])
            if rule == "AVAILABLE" and before[i] < 0:
                code = "ABSENT"
        else:
            code = "OVERLOAD"  # eligible workers exist but the plan judged them too full
        out[i].append(code)
    for i in np.flatnonzero((before < 0) & (after >= 0)):
        out[i].append("UNALLOCATED")
    return [";".join(dict.fromkeys(r)) for r in out]


def loads(cm: CaseModel, assignment: IntArray) -> tuple[FloatArray, IntArray]:
    ok = assignment >= 0
    n_w = cm.frame.n_workers
    load = np.bincount(assignment[ok], weights=cm.child_points[ok], minlength=n_w)
    count = np.bincount(assignment[ok], minlength=n_w)
    return load.astype(np.float64), count.astype(np.int64)


def action_of(before: IntArray, after: IntArray) -> NDStr:
    return np.select([after < 0, before < 0, before == after], ["unallocated", "allocate", "keep"],
                     "move")




def build_plan(cm: CaseModel, solution: Solution) -> pd.DataFrame:
    f = cm.frame
    ch, wid = f.children, f.workers["worker_id"].to_numpy(object)
    before, after = cm.current, assigned_workers(cm, solution)
    load_after, _ = loads(cm, after)
    idx = np.arange(f.n_children)
    plan = pd.DataFrame({
        "child_id": ch["child_id"].to_numpy(object),
        "family_id": ch["family_id"].to_numpy(object),
        "case_type": ch["case_type"].to_numpy(object),
        "points": cm.child_points,
        "from_worker_id": np.where(before >= 0, wid[np.maximum(before, 0)], ""),
        "to_worker_id": np.where(after >= 0, wid[np.maximum(after, 0)], ""),
        "action": action_of(before, after),
        "reasons": reasons(cm, before, after, load_after),
        "travel_before": travel_of(cm, idx, before),
        "travel_after": travel_of(cm, idx, after),
    })
    return plan[PLAN_COLUMNS]


def build_workers(cm: CaseModel, plan: pd.DataFrame) -> pd.DataFrame:
    f = cm.frame
    before, after = cm.current, assigned_workers_from_plan(cm, plan)
    lb, cb = loads(cm, before)
    la, ca = loads(cm, after)
    n_w = f.n_workers
    arrived = (after >= 0) & (after != before)
    left = (before >= 0) & (after != before)
    wk = f.workers
    return pd.DataFrame({
        "worker_id": wk["worker_id"].to_numpy(object),
        "team": wk["team"].to_numpy(object),
        "locality": wk["locality"].to_numpy(object),
        "grade": wk["grade"].to_numpy(object),
        "fte": wk["fte"].to_numpy(float),
        "capacity_points": cm.capacity,
        "load_before": lb, "load_after": la,
        "children_before": cb, "children_after": ca,
        "utilisation_before": lb / cm.capacity, "utilisation_after": la / cm.capacity,
        "new_children": np.bincount(after[arrived], minlength=n_w),
        "moved_out": np.bincount(before[left], minlength=n_w),
    })[WORKER_COLUMNS]


def assigned_workers_from_plan(cm: CaseModel, plan: pd.DataFrame) -> IntArray:
    return plan["to_worker_id"].map(cm.frame.worker_index).fillna(-1).to_numpy(np.int64)


def families_split(family: pd.Series, worker: pd.Series) -> int:
    """Families whose allocated members end with more than one worker."""
    df = pd.DataFrame({"f": family.to_numpy(object), "w": worker.to_numpy(object)})
    df = df[(df["f"] != "") & (df["w"] != "")]
    return int((df.groupby("f")["w"].nunique() > 1).sum())


CHANGED_ACTIONS = ("move", "allocate", "unallocated")


def changes_with_teams(plan: pd.DataFrame, workers: pd.DataFrame) -> pd.DataFrame:
    """Every changed child (moved, allocated, unallocated) with its sending and receiving
    workers' teams, "" where there is no worker: what each team's manager answers for."""
    team_of = workers.set_index("worker_id")["team"].to_dict()
    changed = plan[plan["action"].isin(CHANGED_ACTIONS)].copy()
    changed["from_team"] = changed["from_worker_id"].map(lambda w: team_of.get(w, ""))
    changed["to_team"] = changed["to_worker_id"].map(lambda w: team_of.get(w, ""))
    return changed.astype({"from_team": object, "to_team": object})


def moved_mask(plan: pd.DataFrame) -> BoolArray:
    """A move: a child who had a worker and ends with another one, or with none."""
    src = plan["from_worker_id"].to_numpy(object)
    return (src != "") & (src != plan["to_worker_id"].to_numpy(object))


def kpis(plan: pd.DataFrame, workers: pd.DataFrame, forced: BoolArray, when: str,
         recent_changes: IntArray) -> KpiValues:
    """The headline figures for one side of the plan, from the output tables and each child's
    changes of worker in the 12 months to the plan (row for row with the plan)."""
    worker_col = "from_worker_id" if when == "before" else "to_worker_id"
    load, cap = workers[f"load_{when}"], workers["capacity_points"]
    over = np.maximum(load - cap, 0)
    travel = plan[f"travel_{when}"]
    after = when == "after"
    moved = moved_mask(plan) if after else np.zeros(len(plan), bool)
    return KpiValues(
        unallocated=int((plan[worker_col] == "").sum()),
        workers_over_capacity=int((load > cap + 1e-9).sum()),
        workers_above_110pct=int((load > 1.10 * cap + 1e-9).sum()),
        workers_above_125pct=int((load > 1.25 * cap + 1e-9).sum()),
        asye_over_capacity=int(((load > cap + 1e-9) & (workers["grade"] == "asye")).sum()),
        total_overload_points=round(float(over.sum()), 4),
        peak_utilisation=round(float(workers[f"utilisation_{when}"].max()), 6)
        if len(workers) else 0.0,
        families_split=families_split(plan["family_id"], plan[worker_col]),
        mean_travel=round(float(travel.mean()), 4) if travel.notna().any() else None,
        children_2plus_changes=int(terms.second_change_or_more(recent_changes, moved).sum()),
        moves=int(moved.sum()),
        moves_forced=int((moved & forced).sum()),
        moves_discretionary=int((moved & ~forced).sum()),
        allocations=int((plan["action"] == "allocate").sum()) if after else 0,
    )


def objective_terms(cm: CaseModel, plan: pd.DataFrame, workers: pd.DataFrame) -> dict[str, float]:
    """The objective of the plan term by term, in the contract's units, from the outputs: each
    registered term priced at the plan's own pairs, loads and families."""
    w = cm.cfg.weights
    after = assigned_workers_from_plan(cm, plan)
    at_plan = cm.pairs_at(np.arange(cm.frame.n_children), after)
    load = workers["load_after"].to_numpy(float)
    capacity = workers["capacity_points"].to_numpy(float)
    out: dict[str, float] = {}
    for t in terms.TERMS:
        if t.needs_previous and not cm.inputs_previous:
            continue
        if t.pair is not None:
            out[t.name] = float(t.pair(at_plan, w).sum())
        elif t.load is not None:
            out[t.name] = t.load(load, capacity, w)
        elif t.family is not None:
            out[t.name] = t.family(families_split(plan["family_id"], plan["to_worker_id"]), w)
    return out


def changed_from_previous(cm: CaseModel, after: IntArray) -> int:
    """Children whose outcome differs from the previous plan (those it names)."""
    from rebalancer.model.build import NO_PREVIOUS

    return int(((cm.previous != NO_PREVIOUS) & (after != cm.previous)).sum())
