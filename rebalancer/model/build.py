"""Building the assignment model from the tables: candidates, decision units, costs.

load -> validate -> **build** -> solve -> extract -> write. Everything here is vectorised over
candidate (child, worker) pairs; the only Python loops are over families and decisions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rebalancer.config import Capacity, Config, Points, Weights
from rebalancer.io.inputs import Inputs
from rebalancer.model import rules, terms
from rebalancer.model.calendar import calendar
from rebalancer.model.rules import RULE_ORDER, RULES, BoolArray, FloatArray, Frame, IntArray
from rebalancer.model.terms import NO_PREVIOUS, Pairs
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
    previous: IntArray  # worker per child in the previous plan (-1 none, NO_PREVIOUS not there)
    facts: ChildFacts  # what the per-pair cost terms read
    conflicts: list[Conflict] = field(default_factory=list)
    # per child: the worker a pin, keep or assign ties it to (-1: none), and that decision's kind
    # ("pinned", "keep", "assign", or "forbid" when only forbids name it) and note
    mandate: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    decision_kind: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))
    decision_note: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))

    @property
    def cfg(self) -> Config:
        return self.frame.cfg

    def pairs_at(self, c: IntArray, w: IntArray) -> Pairs:
        """Pairs (child c, worker w; -1 for none) as the per-pair cost terms price them."""
        return child_pairs(self.facts, self.frame, c, w)

    @property
    def recent_changes(self) -> IntArray:
        """Per child, changes of worker in the 12 months to the plan (worker_changes_12m)."""
        return self.frame.children["worker_changes_12m"].to_numpy(np.int64)

    @property
    def inputs_previous(self) -> bool:
        """A previous plan is in force (its term is part of the objective)."""
        return bool((self.previous != NO_PREVIOUS).any())


def case_points(children: pd.DataFrame, points: Points) -> FloatArray:
    """A child's weight: points by case type, plus the proceedings addition; `points` overrides."""
    base = children["case_type"].map(points.of).to_numpy(float)
    base = base + np.where(children["in_proceedings"].to_numpy(bool), points.in_proceedings, 0.0)
    given = children["points"].to_numpy(float)
    return np.where(np.isnan(given), base, given)


def worker_capacity(workers: pd.DataFrame, capacity: Capacity) -> FloatArray:
    """Capacity: points_per_fte x fte x grade_factor x (1 - reduction); a given value overrides."""
    factor = workers["grade"].map(lambda g: float(capacity.grade_factor[g])).to_numpy(float)
    computed = (capacity.points_per_fte * workers["fte"].to_numpy(float) * factor
                * (1 - workers["reduction_pct"].to_numpy(float) / 100))
    given = workers["capacity_points"].to_numpy(float)
    return np.where(np.isnan(given), computed, given)


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

    Rules are applied in the rule table's order; a child whose list becomes empty is charged to
    the rule that removed its last worker, which is what `validate` and the plan report.
    """
    emptied = np.full(f.n_children, RULES[0].code, dtype=object)
    locality = f.cfg.rules.geography == "locality"
    blocks = [_locality_pairs(f)] if locality else _all_pair_blocks(f)
    kept_c, kept_w = [], []
    for c, w in blocks:
        for pos, rule in enumerate(RULES):
            if rule.code != "GEOGRAPHY" or not locality:  # the join already applied it
                ok = rule.check(f, c, w)
                c, w = c[ok], w[ok]
            emptied[np.unique(c)] = RULES[pos + 1].code if pos + 1 < len(RULES) else ""
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


def decision_facts(f: Frame, inputs: Inputs) -> tuple[IntArray, pd.Series, pd.Series]:
    """Per child: the mandated worker, the kind of decision about it, and the managers' notes
    (joined), so the plan can show which outcomes a decision fixed, and why."""
    mandate, kind = _mandates(f, inputs)
    d = inputs.decisions
    ids = f.children["child_id"]
    forbidden = ids.isin(d.loc[d["decision"] == "forbid", "child_id"]).to_numpy()
    kind = kind.where((kind != "") | ~forbidden, "forbid")
    notes = d[d["note"].fillna("") != ""].groupby("child_id")["note"].agg(
        lambda xs: "; ".join(dict.fromkeys(xs)))
    note = pd.Series([notes.get(c, "") for c in ids], index=ids.index, dtype=object)
    return mandate, kind, note


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


def lookahead_pairs(stays: BoolArray, current: IntArray, c: IntArray, w: IntArray
                    ) -> tuple[IntArray, IntArray]:
    """The look-ahead's rule for week 0: a child is given a new worker only among those who can
    hold children in every week of the look-ahead (`stays`), where any of its candidates can
    (its current worker included); a child whose every candidate leaves, goes away or starts
    within the look-ahead keeps them all. So no child is moved onto a worker it would have to
    leave again in the coming weeks. With W = 1 every available worker stays: nothing changes."""
    short = (w != current[c]) & ~stays[w]
    if not short.any():
        return c, w
    has_stayer = np.zeros(len(current), bool)
    has_stayer[c[stays[w]]] = True
    keep = ~(short & has_stayer[c])
    return c[keep], w[keep]


def fallback_pairs(f: Frame, current: IntArray, c: IntArray) -> IntArray:
    # ONE_WORKER: a child with no eligible worker keeps its current worker where that worker stays.
    has = np.zeros(f.n_children, bool)
    has[c] = True
    stays = np.where(current >= 0, f.w_stays[np.maximum(current, 0)], False)
    return np.flatnonzero(~has & (current >= 0) & stays)


def sibling_group(f: Frame, current: IntArray) -> IntArray:
    """Siblings sharing a worker before the plan (when families are kept) share a group id;
    every other child is a group of its own (negative ids)."""
    ch = f.children
    together = (ch["family_id"].to_numpy(str) != "") & (current >= 0)
    if not f.cfg.rules.keep_families:
        together[:] = False
    key = ch["family_id"].astype(str) + "\x00" + pd.Series(current, index=ch.index).astype(str)
    codes, _ = pd.factorize(key.where(together, ""))
    return np.where(together, codes, -1 - np.arange(f.n_children))


def sibling_units(f: Frame, current: IntArray, c: IntArray, w: IntArray
                  ) -> tuple[IntArray, BoolArray]:
    # FAMILY: siblings who share a worker before the plan are one unit, unless no worker suits all.
    unit = np.arange(f.n_children, dtype=np.int64)
    group = sibling_group(f, current)
    grouped = group >= 0
    if grouped.any():
        sizes = np.bincount(group[grouped])
        grouped &= sizes[np.maximum(group, 0)] >= 2
    split = np.zeros(f.n_children, bool)
    if not grouped.any():
        return unit, split
    first = np.full(int(group.max()) + 1, f.n_children, np.int64)
    np.minimum.at(first, group[grouped], np.flatnonzero(grouped))
    unit[grouped] = first[group[grouped]]
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


@dataclass
class Forced:
    """Which children's moves are forced, and by what (the contract's forced-move rule)."""

    any: BoolArray  # the current worker is not allowed for the child or a sibling sharing it
    family: BoolArray  # ...only because a sibling's rules exclude it
    decision: BoolArray  # ...because a decision excludes it
    broken: dict[str, BoolArray]  # per rule: the current assignment breaks it


def endorsed_moves(f: Frame, inputs: Inputs, current: IntArray, previous: IntArray,
                   free: tuple[IntArray, IntArray]) -> BoolArray:
    """Children whose `assign` decision names the worker the previous plan moved them to (a
    review's accept) while their current worker is allowed but for that decision: the decision
    holds, and the move keeps the kind the rules give it (docs/contract-reading.md)."""
    c, w = free  # the pairs the rules allow, before decisions tie children to one worker
    mandate, kind = _mandates(f, inputs)
    own = np.zeros(f.n_children, bool)
    own[c[w == current[c]]] = True
    return ((kind == "assign").to_numpy() & (mandate >= 0) & (mandate == previous)
            & (current >= 0) & (mandate != current) & own)


def forced_moves(f: Frame, inputs: Inputs, current: IntArray, c: IntArray, w: IntArray,
                 endorsed: BoolArray) -> Forced:
    # A move is forced when the child's current worker is not among its allowed pairs (a rule or
    # a decision bars it), or not among a sibling's who shares that worker (FAMILY: moved as one).
    # An endorsed move (a review's accept of the previous plan's move) is judged without the
    # decision that endorses it.
    broken = {code: np.zeros(f.n_children, bool) for code in RULE_ORDER}
    allocated = np.flatnonzero(current >= 0)
    for code, mask in rules.broken_rules(f, allocated, current[allocated]).items():
        broken[code][allocated] = mask
    own_hit = endorsed.copy()
    own_hit[c[w == current[c]]] = True
    group = sibling_group(f, current)
    forced = (current >= 0) & ~(pd.Series(own_hit).groupby(group).transform("all").to_numpy())
    own_rule = np.zeros(f.n_children, bool)
    for rule in RULES:
        if not rule.decision:
            own_rule |= broken[rule.code]
    mandate, kind = _mandates(f, inputs)
    assigned_away = (kind == "assign").to_numpy() & (mandate != current) & (current >= 0) \
        & ~endorsed
    decision = forced & ~own_rule & (broken["PINNED"] | assigned_away)
    return Forced(forced, forced & ~own_rule & ~decision, decision, broken)




def previous_workers(f: Frame, inputs: Inputs) -> IntArray:
    """Per child, its worker in the previous plan (-1: unallocated there, NO_PREVIOUS: none)."""
    out = np.full(f.n_children, NO_PREVIOUS, np.int64)
    if inputs.previous is None:
        return out
    given = f.children["child_id"].map(inputs.previous)
    known = given.notna().to_numpy()
    idx = given.map(lambda x: -1 if x == "" else f.worker_index.get(x, NO_PREVIOUS))
    out[known] = idx[known].to_numpy(np.int64)
    return out


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


def _scaled(x: np.ndarray | float, scale: float) -> IntArray:
    return np.rint(np.asarray(x, float) * scale).astype(np.int64)


def _overload_arrays(capacity: FloatArray, w: Weights) -> tuple[int, IntArray, IntArray]:
    """The flat overload rate and the bands above it, in solver units."""
    steps = terms.overload_steps(w)
    rate = round(steps[0][1] * COST_SCALE / POINT_SCALE)
    cap = np.maximum(_scaled(capacity, POINT_SCALE), 1)
    starts = np.array([np.maximum(_scaled(util * capacity, POINT_SCALE), cap)
                       for util, _ in steps[1:]], np.int64).reshape(len(steps) - 1, len(cap))
    costs = np.array([round(r * COST_SCALE / POINT_SCALE) for _, r in steps[1:]], np.int64)
    return rate, starts, costs


@dataclass
class ChildFacts:
    """Per child (and per worker) arrays the solver's costs and limits are made from."""

    current: IntArray  # worker index before the plan, -1 unallocated
    unit: IntArray  # decision unit (siblings who move as one share it)
    months: FloatArray
    factor: FloatArray
    forced: BoolArray
    capacity: FloatArray  # per worker
    new_limit: IntArray  # per worker
    previous: IntArray  # worker in the previous plan, NO_PREVIOUS when none
    start: IntArray | None  # a warm start, same coding as `previous`


def child_pairs(facts: ChildFacts, f: Frame, c: IntArray, w: IntArray) -> Pairs:
    """The per-pair terms' view of pairs (child c, worker w); worker -1 is no worker."""
    has = w >= 0
    minutes, km = np.full(len(c), np.nan), np.full(len(c), np.nan)
    if has.all():
        minutes, km = rules.travel(f, c, w)
    elif has.any():
        minutes[has], km[has] = rules.travel(f, c[has], w[has])
    return Pairs(worker=w, current=facts.current[c], previous=facts.previous[c],
                 months=facts.months[c], factor=facts.factor[c], forced=facts.forced[c],
                 priority=f.children["priority"].to_numpy(object)[c], minutes=minutes, km=km)


def solver_problem(cm_facts: ChildFacts, pairs: pd.DataFrame, f: Frame) -> AssignmentProblem:
    """The integer arrays of `solvers.AssignmentProblem`: one item per decision unit."""
    cfg = f.cfg
    current, unit = cm_facts.current, cm_facts.unit
    agg = pairs.groupby(["u", "w"], sort=True).agg(
        cost=("cost", "sum"), load=("load", "sum"), new=("new", "sum"),
        budget=("budget", "sum")).reset_index()
    units, unit_of_child = np.unique(unit, return_inverse=True)
    item = np.searchsorted(units, agg["u"].to_numpy())
    unit_current = np.full(len(units), -1, np.int64)
    unit_current[unit_of_child] = current
    unit_has_pairs = np.zeros(len(units), bool)
    unit_has_pairs[item] = True
    # leaving a child out is the pair (child, no worker), priced by the same terms
    previous = cm_facts.previous
    everyone = np.arange(f.n_children)
    skip = terms.pair_cost(child_pairs(cm_facts, f, everyone,
                                           np.full(f.n_children, terms.NO_WORKER)),
                               cfg.weights)
    pair_worker = agg["w"].to_numpy(np.int64)
    hint = np.full(len(units), -1, np.int64)
    # the search starts from the previous plan where there is one, else from today's workers
    unit_previous = np.full(len(units), NO_PREVIOUS, np.int64)
    unit_previous[unit_of_child] = previous
    unit_start = np.where(unit_previous != NO_PREVIOUS, unit_previous, unit_current)
    given = cm_facts.start
    if given is not None:  # a warm start overrides both
        unit_given = np.full(len(units), NO_PREVIOUS, np.int64)
        unit_given[unit_of_child] = given
        unit_start = np.where(unit_given != NO_PREVIOUS, unit_given, unit_start)
    at_start = np.flatnonzero(pair_worker == unit_start[item])
    hint[item[at_start]] = at_start
    rate, band_start, band_cost = _overload_arrays(cm_facts.capacity, cfg.weights)
    return AssignmentProblem(
        n_items=len(units), n_agents=f.n_workers,
        pair_item=item.astype(np.int64), pair_agent=pair_worker,
        pair_cost=_scaled(agg["cost"].to_numpy(), COST_SCALE),
        pair_load=_scaled(agg["load"].to_numpy(), POINT_SCALE),
        item_must=(unit_current >= 0) & unit_has_pairs,
        item_skip_cost=_scaled(np.bincount(unit_of_child, weights=skip, minlength=len(units)),
                               COST_SCALE),
        agent_capacity=np.maximum(_scaled(cm_facts.capacity, POINT_SCALE), 1),
        overload_cost=rate, band_start=band_start, band_cost=band_cost,
        pair_new=agg["new"].to_numpy(np.int64), agent_new_limit=cm_facts.new_limit,
        # MAX_NEW yields only to ONE_WORKER: caps are exceeded by the least total needed to give
        # every child who had a worker a worker, and by nothing more.
        new_limit_soft=True,
        peak_cost=round(cfg.weights.peak * COST_SCALE * 100 / PEAK_SCALE),
        peak_scale=PEAK_SCALE,
        item_group=_family_groups(f, units, unit_of_child, unit_has_pairs),
        group_split_cost=round(cfg.weights.split_family * COST_SCALE),
        pair_budget=agg["budget"].to_numpy(np.int64),
        budget=cfg.rules.max_moves if cfg.rules.max_moves > 0 else None,
        hint=hint,
    )


def build_case_model(inputs: Inputs, cfg: Config) -> CaseModel:
    """From validated tables to the solver's arrays, and the facts extract needs to explain them."""
    f = rules.frame(inputs, cfg)
    ch, wk = f.children, f.workers
    current = ch["current_worker_id"].map(f.worker_index).fillna(-1).to_numpy(np.int64)
    points = case_points(ch, cfg.points)
    capacity = worker_capacity(wk, cfg.capacity)
    months = terms.months_with_worker(ch["allocated_on"], current >= 0,
                                          pd.Timestamp(cfg.plan_date), cfg.weights)
    factor = terms.move_factor(ch["in_proceedings"].to_numpy(bool),
                                   ch["case_type"].to_numpy(str) == "cla",
                                   ch["worker_changes_12m"].to_numpy(np.int64), cfg.weights)
    new_limit = np.nan_to_num(wk["max_new_cases"].to_numpy(float),
                              nan=cfg.rules.max_new_cases).astype(np.int64)

    free_c, free_w, empty_rule = eligible_pairs(f)
    c, w, conflicts = apply_decisions(f, inputs, free_c, free_w)
    stays: BoolArray = np.asarray(calendar(wk, cfg).can_hold.all(axis=1))
    c, w = lookahead_pairs(stays, current, c, w)
    fb = fallback_pairs(f, current, c)
    fallback = np.zeros(f.n_children, bool)
    fallback[fb] = True
    c, w = np.concatenate([c, fb]), np.concatenate([w, current[fb]])
    previous = previous_workers(f, inputs)
    endorsed = endorsed_moves(f, inputs, current, previous, (free_c, free_w))
    forced = forced_moves(f, inputs, current, c, w, endorsed)
    unit, family_split = sibling_units(f, current, c, w)
    # a unit's pairs are the workers every member may have
    size = np.bincount(unit, minlength=f.n_children)
    per_unit_worker = pd.DataFrame({"u": unit[c], "w": w}).groupby(["u", "w"])["u"] \
        .transform("size").to_numpy()
    keep = per_unit_worker == size[unit[c]]
    c, w = c[keep], w[keep]

    start = None if inputs.start is None else previous_workers(
        f, dataclasses.replace(inputs, previous=inputs.start))
    facts = ChildFacts(current, unit, months, factor, forced.any, capacity, new_limit, previous,
                       start)
    cand = child_pairs(facts, f, c, w)
    pairs = pd.DataFrame({"c": c, "w": w, "u": unit[c], "minutes": cand.minutes, "km": cand.km,
                          "cost": terms.pair_cost(cand, cfg.weights), "load": points[c],
                          "new": (w != current[c]).astype(np.int64),
                          "budget": (cand.moving & ~forced.any[c]).astype(np.int64)})
    problem = solver_problem(facts, pairs, f)
    _, unit_of_child = np.unique(unit, return_inverse=True)
    mandate, kind, note = decision_facts(f, inputs)
    return CaseModel(
        frame=f, child_points=points, capacity=capacity, new_limit=new_limit, current=current,
        months=months, move_factor=factor,
        pairs=pairs[["c", "w", "minutes", "km"]], empty_rule=empty_rule, fallback=fallback,
        current_broken=forced.broken, forced=forced.any, forced_family=forced.family,
        forced_decision=forced.decision, unit=unit_of_child.astype(np.int64),
        family_split_forced=family_split, problem=problem,
        unit_pair_worker=problem.pair_agent, previous=previous, facts=facts,
        conflicts=conflicts,
        mandate=mandate, decision_kind=kind, decision_note=note,
    )
