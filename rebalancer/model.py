"""Building the assignment model from the tables: candidates, decision units, costs.

load -> validate -> **build** -> solve -> extract -> write. Everything here is vectorised over
candidate (child, worker) pairs; the only Python loops are over families and decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rebalancer import rules
from rebalancer.config import Config
from rebalancer.inputs import Inputs
from rebalancer.rules import RULE_ORDER, BoolArray, FloatArray, Frame, IntArray
from solvers import AssignmentProblem

POINT_SCALE = 100  # solver load units per caseload point
COST_SCALE = 100  # solver cost units per objective unit
PEAK_SCALE = 10000  # solver peak units per 100% utilisation (one unit = 0.01 percentage point)
CHUNK_PAIRS = 5_000_000  # all-pairs modes are generated in blocks of about this many pairs


@dataclass
class Conflict:
    """A decision or pin that yielded to a hard rule, reported rather than silently dropped."""

    child_id: str
    kind: str  # "pinned", "keep", "assign"
    worker_id: str
    rule: str
    message: str


@dataclass
class CaseModel:
    """Everything extract and reports need to turn a solution back into a plan."""

    frame: Frame
    child_points: FloatArray
    capacity: FloatArray
    new_limit: IntArray
    current: IntArray  # worker index per child, -1 when unallocated
    months: FloatArray
    move_factor: FloatArray
    pairs: pd.DataFrame  # child, worker, minutes, km: every eligible (or fallback) pair
    empty_rule: pd.Series  # per child: the rule that emptied its list, "" when it has options
    fallback: BoolArray  # child keeps its current worker although no worker is eligible
    current_broken: dict[str, BoolArray]  # per rule: the current assignment breaks it
    forced: BoolArray  # per child: the current worker is not a candidate of its unit
    forced_family: BoolArray  # ...only because a sibling's rules exclude it
    forced_decision: BoolArray  # ...because a decision excludes it
    unit: IntArray  # decision unit per child
    family_split_forced: BoolArray  # sibling group that had to be split (no common worker)
    problem: AssignmentProblem
    unit_pair_worker: IntArray  # worker per solver pair
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def cfg(self) -> Config:
        return self.frame.cfg


def case_points(children: pd.DataFrame, cfg: Config) -> FloatArray:
    """A child's weight: points by case type, plus the proceedings addition; `points` overrides."""
    pts = cfg["points"]
    base = children["case_type"].map(lambda t: float(pts[t])).to_numpy(float)
    base = base + np.where(children["in_proceedings"].to_numpy(bool),
                           float(pts["in_proceedings"]), 0.0)
    given = children["points"].to_numpy(float)
    return np.where(np.isnan(given), base, given)


def worker_capacity(workers: pd.DataFrame, cfg: Config) -> FloatArray:
    """Capacity: points_per_fte x fte x grade_factor x (1 - reduction); a given value overrides."""
    c = cfg["capacity"]
    factor = workers["grade"].map(lambda g: float(c["grade_factor"][g])).to_numpy(float)
    computed = (float(c["points_per_fte"]) * workers["fte"].to_numpy(float) * factor
                * (1 - workers["reduction_pct"].to_numpy(float) / 100))
    given = workers["capacity_points"].to_numpy(float)
    return np.where(np.isnan(given), computed, given)


def months_with_worker(children: pd.DataFrame, cfg: Config) -> FloatArray:
    """Months since allocated_on (days / 30.4375), 0 when unknown or in the future, capped."""
    cap = float(cfg["weights"]["move_months_cap"])
    plan = pd.Timestamp(cfg.plan_date)
    dates = pd.to_datetime(children["allocated_on"].astype(object), errors="coerce")
    days = (plan - dates).dt.days.to_numpy(float)
    months = np.clip(np.nan_to_num(days, nan=0.0) / 30.4375, 0, cap)
    return np.where(children["current_worker_id"].to_numpy(str) == "", 0.0, months)


def move_factor(children: pd.DataFrame, cfg: Config) -> FloatArray:
    """A move harms more in proceedings (x2) and in care (x2); both multiply (x4)."""
    w = cfg["weights"]
    f = np.where(children["in_proceedings"].to_numpy(bool),
                 float(w["move_factor_proceedings"]), 1.0)
    return f * np.where(children["case_type"].to_numpy(str) == "cla",
                        float(w["move_factor_cla"]), 1.0)


def _all_pair_blocks(f: Frame):  # type: ignore[no-untyped-def]
    """All (child, worker) pairs, a block of children at a time, to bound memory."""
    n_w = f.n_workers
    step = max(1, CHUNK_PAIRS // max(n_w, 1))
    for start in range(0, f.n_children, step):
        c = np.repeat(np.arange(start, min(start + step, f.n_children)), n_w)
        w = np.tile(np.arange(n_w), len(c) // n_w if n_w else 0)
        yield c.astype(np.int64), w.astype(np.int64)


def _locality_pairs(f: Frame) -> tuple[IntArray, IntArray]:
    """Pairs that share a locality, by a join rather than a scan of every pair."""
    left = pd.DataFrame({"c": np.arange(f.n_children), "loc": f.c_locality})
    right = pd.DataFrame({"w": np.arange(f.n_workers), "loc": f.w_locality})
    joined = left.merge(right, on="loc", how="inner", sort=False)
    joined = joined.sort_values(["c", "w"], kind="stable")
    return joined["c"].to_numpy(np.int64), joined["w"].to_numpy(np.int64)


def eligible_pairs(f: Frame) -> tuple[IntArray, IntArray, pd.Series]:
    """Candidate pairs passing every rule, and for each child the rule that emptied its list.

    Rules are applied in RULE_ORDER; a child whose list becomes empty is charged to the rule that
    removed its last worker, which is what `validate` and the plan report.
    """
    emptied = np.full(f.n_children, "GEOGRAPHY", dtype=object)
    locality = f.cfg["rules"]["geography"] == "locality"
    blocks = [_locality_pairs(f)] if locality else _all_pair_blocks(f)
    kept_c, kept_w = [], []
    for c, w in blocks:
        for code in RULE_ORDER:
            if code != "GEOGRAPHY" or not locality:
                ok = rules.RULES[code](f, c, w)
                c, w = c[ok], w[ok]
            emptied[np.unique(c)] = RULE_ORDER[RULE_ORDER.index(code) + 1] if code != "PINNED" \
                else ""
        kept_c.append(c)
        kept_w.append(w)
    c_all = np.concatenate(kept_c) if kept_c else np.zeros(0, np.int64)
    w_all = np.concatenate(kept_w) if kept_w else np.zeros(0, np.int64)
    return c_all, w_all, pd.Series(emptied, index=f.children.index)


def _mandates(f: Frame, inputs: Inputs) -> tuple[IntArray, pd.Series]:
    """The worker a manager's decision ties a child to (-1: none), and what kind of decision."""
    c = f.children
    mandate = np.full(f.n_children, -1, np.int64)
    kind = pd.Series("", index=c.index, dtype=object)
    current = c["current_worker_id"].map(f.worker_index).fillna(-1).to_numpy(np.int64)
    pinned = c["pinned"].to_numpy(bool)
    mandate[pinned] = current[pinned]
    kind[pinned] = "pinned"
    d = inputs.decisions
    child_index = pd.Series(np.arange(f.n_children), index=c["child_id"])
    keep = d[d["decision"] == "keep"]
    ki = child_index.reindex(keep["child_id"]).to_numpy(np.int64)
    mandate[ki] = current[ki]
    kind.iloc[ki] = "keep"
    assign = d[d["decision"] == "assign"]
    ai = child_index.reindex(assign["child_id"]).to_numpy(np.int64)
    mandate[ai] = assign["worker_id"].map(f.worker_index).to_numpy(np.int64)
    kind.iloc[ai] = "assign"
    return mandate, kind


def apply_decisions(f: Frame, inputs: Inputs, c: IntArray, w: IntArray
                    ) -> tuple[IntArray, IntArray, list[Conflict]]:
    # PINNED: pins, 'keep' and 'assign' hold, unless the worker breaks a rule; then they yield.
    mandate, kind = _mandates(f, inputs)
    hit = (mandate[c] >= 0) & (w == mandate[c])
    honoured = np.zeros(f.n_children, bool)
    honoured[c[hit]] = True
    keep = (mandate[c] < 0) | ~honoured[c] | hit
    conflicts = []
    yielded = np.flatnonzero((mandate >= 0) & ~honoured)
    if yielded.size:
        broken = rules.broken_rules(f, yielded, mandate[yielded])
        for j, child in enumerate(yielded):
            codes = [code for code in RULE_ORDER if broken[code][j]]
            code = codes[0] if codes else "PINNED"
            wid = f.workers["worker_id"].iat[mandate[child]]
            cid = f.children["child_id"].iat[child]
            why = "is leaving or absent" if code == "AVAILABLE" else f"breaks the {code} rule"
            conflicts.append(Conflict(cid, kind.iat[child], wid, code,
                                      f"{kind.iat[child]} on {wid} yields: the worker {why}"))
    return c[keep], w[keep], conflicts


def fallback_pairs(f: Frame, current: IntArray, c: IntArray) -> IntArray:
    # ONE_WORKER: a child with no eligible worker keeps its current worker where that worker stays.
    has = np.zeros(f.n_children, bool)
    has[c] = True
    stays = np.where(current >= 0, f.w_stays[np.maximum(current, 0)], False)
    return np.flatnonzero(~has & (current >= 0) & stays)


def sibling_units(f: Frame, current: IntArray, c: IntArray, w: IntArray
                  ) -> tuple[IntArray, BoolArray]:
    # FAMILY: siblings who share a worker before the plan are one unit, unless no worker suits all.
    ch = f.children
    unit = np.arange(f.n_children, dtype=np.int64)
    split = np.zeros(f.n_children, bool)
    if not f.cfg["rules"]["keep_families"]:
        return unit, split
    together = (ch["family_id"].to_numpy(str) != "") & (current >= 0)
    key = ch["family_id"].astype(str) + "\x00" + pd.Series(current, index=ch.index).astype(str)
    codes, _ = pd.factorize(key.where(together, ""))
    codes = np.where(together, codes, -1)
    sizes = np.bincount(codes[together], minlength=codes.max() + 1 if together.any() else 0)
    grouped = together & (sizes[np.maximum(codes, 0)] >= 2) if sizes.size else together & False
    if not grouped.any():
        return unit, split
    first = np.full(sizes.size, f.n_children, np.int64)
    np.minimum.at(first, codes[grouped], np.flatnonzero(grouped))
    unit[grouped] = first[codes[grouped]]
    # the unit's candidate workers are those eligible for every member
    pu = pd.DataFrame({"u": unit[c], "w": w})
    counts = pu.groupby(["u", "w"]).size()
    size = np.bincount(unit, minlength=f.n_children)
    common = counts[counts.to_numpy() == size[counts.index.get_level_values("u")]]
    has_common = np.zeros(f.n_children, bool)
    has_common[common.index.get_level_values("u").to_numpy()] = True
    split = grouped & ~has_common[unit]
    unit[split] = np.flatnonzero(split)
    return unit, split


def pair_travel_cost(f: Frame, minutes: FloatArray, km: FloatArray) -> FloatArray:
    # travel term: per minute from the travel table where given, else per great-circle km, else 0.
    w = f.cfg["weights"]
    return np.where(~np.isnan(minutes), float(w["travel_minute"]) * minutes,
                    np.where(~np.isnan(km), float(w["travel_km"]) * km, 0.0))


def pair_move_cost(f: Frame, months: FloatArray, factor: FloatArray, forced: BoolArray
                   ) -> FloatArray:
    # moves term: (move + per month) x factor; a forced move costs only its months x factor.
    w = f.cfg["weights"]
    base = np.where(forced, 0.0, float(w["move"]))
    return (base + float(w["move_per_month"]) * months) * factor


def unallocated_cost(f: Frame) -> FloatArray:
    # unallocated term: per child left without a worker, by priority.
    w = f.cfg["weights"]["unallocated"]
    return f.children["priority"].map(lambda p: float(w[p])).to_numpy(float)


def _scaled(x: np.ndarray | float, scale: float) -> IntArray:
    return np.rint(np.asarray(x, float) * scale).astype(np.int64)


def build_case_model(inputs: Inputs, cfg: Config) -> CaseModel:
    """From validated tables to the solver's arrays, and the facts extract needs to explain them."""
    f = rules.frame(inputs, cfg)
    ch, wk = f.children, f.workers
    current = ch["current_worker_id"].map(f.worker_index).fillna(-1).to_numpy(np.int64)
    points = case_points(ch, cfg)
    capacity = worker_capacity(wk, cfg)
    months = months_with_worker(ch, cfg)
    factor = move_factor(ch, cfg)
    default_new = int(cfg["rules"]["max_new_cases"])
    new_limit = np.nan_to_num(wk["max_new_cases"].to_numpy(float), nan=default_new)
    new_limit = new_limit.astype(np.int64)

    c, w, empty_rule = eligible_pairs(f)
    c, w, conflicts = apply_decisions(f, inputs, c, w)
    fb = fallback_pairs(f, current, c)
    fallback = np.zeros(f.n_children, bool)
    fallback[fb] = True
    c = np.concatenate([c, fb])
    w = np.concatenate([w, current[fb]])
    current_broken = {code: np.zeros(f.n_children, bool) for code in RULE_ORDER}
    allocated = np.flatnonzero(current >= 0)
    for code, mask in rules.broken_rules(f, allocated, current[allocated]).items():
        current_broken[code][allocated] = mask

    # a move is forced when the current worker is not a candidate for the child, or for a
    # sibling who shares that worker (the family moves as one, or was split for want of one)
    own_hit = np.zeros(f.n_children, bool)
    own_hit[c[w == current[c]]] = True
    unit, family_split = sibling_units(f, current, c, w)
    family = _sibling_group(f, current)
    forced = (current >= 0) & ~(pd.Series(own_hit).groupby(family).transform("all").to_numpy())
    size = np.bincount(unit, minlength=f.n_children)
    pu = pd.DataFrame({"c": c, "w": w, "u": unit[c]})
    per_unit_worker = pu.groupby(["u", "w"])["c"].transform("size").to_numpy()
    keep = per_unit_worker == size[unit[c]]
    c, w = c[keep], w[keep]
    own_rule = np.zeros(f.n_children, bool)
    for code in ("GEOGRAPHY", "AVAILABLE", "GRADE", "SKILLS", "EXCLUDED"):
        own_rule |= current_broken[code]
    forced_decision = forced & ~own_rule & (current_broken["PINNED"] | _assigned_away(
        f, inputs, current))
    forced_family = forced & ~own_rule & ~forced_decision

    minutes, km = rules.travel(f, c, w)
    cost = (pair_move_cost(f, months[c], factor[c], forced[c]) * (w != current[c])
            * (current[c] >= 0) + pair_travel_cost(f, minutes, km))
    pairs = pd.DataFrame({"c": c, "w": w, "u": unit[c], "minutes": minutes, "km": km,
                          "cost": cost, "load": points[c],
                          "new": (w != current[c]).astype(np.int64),
                          "budget": ((w != current[c]) & (current[c] >= 0) & ~forced[c])
                          .astype(np.int64)})
    agg = pairs.groupby(["u", "w"], sort=True).agg(
        cost=("cost", "sum"), load=("load", "sum"), new=("new", "sum"),
        budget=("budget", "sum")).reset_index()
    units, unit_of_child = np.unique(unit, return_inverse=True)
    item = np.searchsorted(units, agg["u"].to_numpy())
    unit_current = np.full(len(units), -1, np.int64)
    unit_current[unit_of_child] = current
    unit_has_pairs = np.zeros(len(units), bool)
    unit_has_pairs[item] = True
    skip = np.bincount(unit_of_child, weights=unallocated_cost(f), minlength=len(units))
    pair_worker = agg["w"].to_numpy(np.int64)
    hint = np.full(len(units), -1, np.int64)
    at_current = np.flatnonzero(pair_worker == unit_current[item])
    hint[item[at_current]] = at_current
    groups = _family_groups(f, units, unit_of_child, unit_has_pairs)

    wts = cfg["weights"]
    max_moves = int(cfg["rules"]["max_moves"])
    problem = AssignmentProblem(
        n_items=len(units), n_agents=f.n_workers,
        pair_item=item.astype(np.int64), pair_agent=pair_worker,
        pair_cost=_scaled(agg["cost"].to_numpy(), COST_SCALE),
        pair_load=_scaled(agg["load"].to_numpy(), POINT_SCALE),
        item_must=(unit_current >= 0) & unit_has_pairs,
        item_skip_cost=_scaled(skip, COST_SCALE),
        agent_capacity=np.maximum(_scaled(capacity, POINT_SCALE), 1),
        overload_cost=round(float(wts["overload"]) * COST_SCALE / POINT_SCALE),
        pair_new=agg["new"].to_numpy(np.int64), agent_new_limit=new_limit,
        # MAX_NEW yields only to ONE_WORKER: caps are exceeded by the least total needed to give
        # every child who had a worker a worker, and by nothing more.
        new_limit_soft=True,
        peak_cost=round(float(wts["peak"]) * COST_SCALE * 100 / PEAK_SCALE),
        peak_scale=PEAK_SCALE,
        item_group=groups, group_split_cost=round(float(wts["split_family"]) * COST_SCALE),
        pair_budget=agg["budget"].to_numpy(np.int64),
        budget=max_moves if max_moves > 0 else None,
        hint=hint,
    )
    return CaseModel(
        frame=f, child_points=points, capacity=capacity, new_limit=new_limit, current=current,
        months=months, move_factor=factor,
        pairs=pairs[["c", "w", "minutes", "km"]], empty_rule=empty_rule, fallback=fallback,
        current_broken=current_broken, forced=forced, forced_family=forced_family,
        forced_decision=forced_decision, unit=unit_of_child.astype(np.int64),
        family_split_forced=family_split, problem=problem, unit_pair_worker=pair_worker,
        conflicts=conflicts,
    )


def _sibling_group(f: Frame, current: IntArray) -> IntArray:
    """Siblings sharing a worker before the plan (when families are kept) share a group id."""
    ch = f.children
    together = (ch["family_id"].to_numpy(str) != "") & (current >= 0)
    if not f.cfg["rules"]["keep_families"]:
        together[:] = False
    key = ch["family_id"].astype(str) + "\x00" + pd.Series(current, index=ch.index).astype(str)
    codes, _ = pd.factorize(key.where(together, ""))
    return np.where(together, codes, -1 - np.arange(f.n_children))


def _assigned_away(f: Frame, inputs: Inputs, current: IntArray) -> BoolArray:
    """Children whose 'assign' decision names a worker other than their current one."""
    mandate, kind = _mandates(f, inputs)
    return ((kind == "assign").to_numpy() & (mandate != current)) & (current >= 0)


def _family_groups(f: Frame, units: IntArray, unit_of_child: IntArray,
                   unit_has_pairs: BoolArray) -> IntArray:
    # split families: siblings in more than one unit are a group, charged once if they split.
    fam = f.children["family_id"].to_numpy(str)
    df = pd.DataFrame({"fam": fam, "u": unit_of_child})
    df = df[(df["fam"] != "") & unit_has_pairs[df["u"].to_numpy()]].drop_duplicates()
    n_units = df.groupby("fam")["u"].transform("size")
    df = df[n_units.to_numpy() >= 2]
    group = np.full(len(units), -1, np.int64)
    codes, _ = pd.factorize(df["fam"])
    group[df["u"].to_numpy()] = codes
    return group
