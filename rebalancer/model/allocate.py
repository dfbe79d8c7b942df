"""Today's referrals: a worker for every child without one, moving nobody else, over the weeks.

Every child keeps its course (its current worker, or its worker in the plan in force, week by
week) while that worker may hold it. The rest are placed: children without a worker from week 0,
and children whose worker cannot hold them from some week on (a departure, an absence, a
decision), from that week, each family's children who share a starting week and worker as one.
A placement is one of a few courses (options): one worker to the end of the look-ahead; a worker
until they cannot hold children, then another to the end (or none, where no worker is
eligible); none until a starter is in post, then the starter; for a child without a worker
in a week already planned (a rebalance's week 0), none for up to three weeks, then a worker
(MAX_NEW is per week, so this week's room may be spent). The objective is the contract's
over the weeks; `solvers.options` finds the optimum of this restricted problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rebalancer.io.inputs import Inputs
from rebalancer.model import rules, terms
from rebalancer.model.build import COST_SCALE, PEAK_SCALE, POINT_SCALE, _overload_arrays, _scaled
from rebalancer.model.rules import RULES, BoolArray, FloatArray, IntArray
from rebalancer.model.terms import DAYS_PER_MONTH, NO_PREVIOUS
from rebalancer.model.weekly import County, week_loads
from solvers.options import OptionsProblem

# How many weeks after its first an allocation may wait for a worker's MAX_NEW room (in the
# weeks after week 0 of a rebalance, where week 0 is already planned)
LATER_ALLOCATION_WEEKS = 3

STATIC_RULES = tuple(r for r in RULES if r.code != "AVAILABLE")


@dataclass
class Unit:
    """Children placed together from week `start`, after worker `prev` (-1: none)."""

    members: list[int]
    start: int
    prev: int
    eligible: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass
class Placement:
    """The restricted problem: the baseline course, the units to place, every option (a
    unit's, or a continuation's from the week its first worker cannot hold it), and the
    solver's arrays (items: the units, then the continuations)."""

    baseline: IntArray  # (children, weeks)
    units: list[Unit]
    options: list[Option]
    problem: OptionsProblem


def static_eligible(cy: County, inputs: Inputs, child: int) -> IntArray:
    """Workers the rules allow for a child, the calendar apart (decisions included)."""
    f = cy.frame
    w = np.arange(f.n_workers)
    c = np.full(f.n_workers, child)
    ok = np.ones(f.n_workers, bool)
    for rule in STATIC_RULES:
        ok &= rule.check(f, c, w)
    d = inputs.decisions
    cid = f.children["child_id"].iat[child]
    assign = d[(d["child_id"] == cid) & (d["decision"] == "assign")]
    if len(assign):
        ok &= w == f.worker_index[str(assign["worker_id"].iat[0])]
    return np.flatnonzero(ok)


def needs_placing(cy: County, inputs: Inputs, base: IntArray, from_week: int = 0) -> IntArray:
    """Per child, the first week from `from_week` its baseline worker may not hold it (W:
    never); the weeks before `from_week` are settled."""
    n, n_weeks = base.shape
    first = np.full(n, n_weeks, np.int64)
    held = base >= 0
    can = np.zeros_like(held)
    can[held] = cy.cal.can_hold[base[held], np.nonzero(held)[1]]
    pairs = pd.DataFrame({"c": np.repeat(np.arange(n), n_weeks), "w": base.ravel()})
    pairs = pairs[pairs["w"] >= 0].drop_duplicates()
    if len(pairs):
        c, w = pairs["c"].to_numpy(), pairs["w"].to_numpy()
        bad = np.zeros(len(c), bool)
        for rule in STATIC_RULES:
            bad |= ~rule.check(cy.frame, c, w)
        bad |= _assigned_elsewhere(cy, inputs, c, w)
        # ONE_WORKER's fallback: a child no worker may take keeps its worker while they stay,
        # week by week (an eligible worker away, leaving or not yet in post takes no one)
        for c_, w_ in set(zip(c[bad].tolist(), w[bad].tolist(), strict=True)):
            eligible = static_eligible(cy, inputs, c_)
            someone = cy.cal.can_hold[eligible].any(axis=0) if len(eligible) else \
                np.zeros(n_weeks, bool)
            can[c_] &= ~((base[c_] == w_) & someone)
    ok = held & can
    missing = ~ok
    missing[:, :from_week] = False
    first = np.where(missing.any(axis=1), missing.argmax(axis=1), n_weeks)
    return _with_siblings(cy, base, first)


def _with_siblings(cy: County, base: IntArray, first: IntArray) -> IntArray:
    """FAMILY: siblings who share a worker move as one, so a child placed from week k takes
    the siblings who share its worker of the week before (its current worker, for week 0)."""
    fam = cy.frame.children["family_id"].to_numpy(str)
    n_weeks = base.shape[1]
    before = np.c_[cy.current, base][:, :n_weeks]  # each week's worker before any change then
    for _ in range(n_weeks):  # a sibling pulled in earlier may pull in another
        changed = False
        for c in np.flatnonzero((first < n_weeks) & (fam != "")):
            k = int(first[c])
            w = before[c, k]
            if w < 0:
                continue
            sib = np.flatnonzero((fam == fam[c]) & (before[:, k] == w) & (first > k))
            if sib.size:
                first[sib] = k
                changed = True
        if not changed:
            break
    return first


def _assigned_elsewhere(cy: County, inputs: Inputs, c: IntArray, w: IntArray) -> BoolArray:
    d = inputs.decisions
    assign = d[d["decision"] == "assign"]
    if not len(assign):
        return np.zeros(len(c), bool)
    f = cy.frame
    to = pd.Series(assign["worker_id"].map(f.worker_index).to_numpy(np.int64),
                   index=assign["child_id"].map(dict(zip(f.children["child_id"],
                                                          range(f.n_children),
                                                          strict=True))).to_numpy())
    named = to.reindex(c).to_numpy(float)
    return ~np.isnan(named) & (named != w)


def units_to_place(cy: County, inputs: Inputs, base: IntArray, from_week: int = 0
                   ) -> list[Unit]:
    """The children to place (see `needs_placing`), each family's children who share a
    starting week and worker as one unit where a worker suits them all (when FAMILY is a hard
    rule, `keep_families`; else each child is a unit of its own, as in week 0)."""
    first = needs_placing(cy, inputs, base, from_week)
    n_weeks = base.shape[1]
    todo = np.flatnonzero(first < n_weeks)
    prev = np.array([base[c, first[c] - 1] if first[c] > 0 else cy.current[c] for c in todo],
                    np.int64)
    fam = cy.frame.children["family_id"].to_numpy(str)[todo]
    df = pd.DataFrame({"c": todo, "start": first[todo], "prev": prev, "fam": fam})
    together = (df["fam"] != "") & cy.cfg.rules.keep_families
    df["key"] = np.where(together, df["fam"], "#" + df["c"].astype(str))
    units = []
    for (_, start, p), g in df.groupby(["key", "start", "prev"], sort=False):
        members = g["c"].tolist()
        sets = [set(static_eligible(cy, inputs, c).tolist()) for c in members]
        common = set.intersection(*sets)
        if common or len(members) == 1:
            units.append(Unit(members, int(start), int(p), np.array(sorted(common), np.int64)))
        else:  # no worker suits them all: each on their own (FAMILY may be split)
            units += [Unit([c], int(start), int(p), np.array(sorted(s), np.int64))
                      for c, s in zip(members, sets, strict=True)]
    units.sort(key=lambda u: (u.start, u.members[0]))
    return units


@dataclass
class Option:
    """One way to place a unit: its workers from `start` (-1 none) for `span` weeks, what it
    costs but loads, and the week it hands on to a continuation (-1: never)."""

    unit: int
    start: int
    workers: IntArray
    cost: float
    hands_on: int = -1


class Pricing:
    """What the options of one unit cost, in the contract's units, but their loads."""

    def __init__(self, cy: County, unit: Unit, base: IntArray) -> None:
        self.cy, self.unit = cy, unit
        m = np.array(unit.members)
        self.members = m
        e = unit.eligible
        minutes, km = rules.travel(cy.frame, np.repeat(m, len(e)), np.tile(e, len(m)))
        per = terms.travel(minutes, km, cy.cfg.weights).reshape(len(m), len(e)).sum(axis=0)
        self.travel = dict(zip(e.tolist(), per.tolist(), strict=True))
        self.unallocated = float(cy.unallocated_cost[m].sum())
        fam = cy.frame.children["family_id"].to_numpy(str)
        f = fam[m[0]]
        self.others = np.setdiff1d(np.flatnonzero(fam == f), m) if f else np.zeros(0, int)
        self.base = base
        self.since, self.made = _before(cy, base, m, unit.start)

    def weeks(self, workers: IntArray, first: int) -> float:
        """The weekly terms of the unit holding `workers` from week `first`, averaged."""
        cy, n_weeks = self.cy, self.cy.weeks
        cost = 0.0
        published = cy.published
        for j, w in enumerate(workers.tolist()):
            cost += (self.travel[w] if w >= 0 else self.unallocated) / n_weeks
            if published is not None:  # departures from a published plan's week
                was = published[self.members, first + j]
                cost += cy.cfg.weights.previous_change * float(
                    ((was != NO_PREVIOUS) & (was != w)).sum()) / n_weeks
            if len(self.others):
                held = self.base[self.others, first + j]
                seen = set(held[held >= 0].tolist()) | ({w} if w >= 0 else set())
                cost += terms.split_family(int(len(seen) > 1), cy.cfg.weights) / n_weeks
        return cost

    def change(self, week: int, forced: bool, got: int | None) -> float:
        """The members' change of worker at `week` (after holding since week `got`, or since
        before the plan when None), each with its earlier changes in the plan."""
        cy, w = self.cy, self.cy.cfg.weights
        total = 0.0
        for i, c in enumerate(self.members.tolist()):
            if week == 0:
                months = float(cy.months0[c])
            else:
                since = cy.cal.starts[got] if got is not None else self.since[i]
                days = (cy.cal.starts[week] - since).days  # type: ignore[operator]
                months = min(max(days / DAYS_PER_MONTH, 0.0), w.move_months_cap)
            earlier = self.made[i] + (1 if got is not None and self.unit.prev >= 0 else 0)
            factor = cy.base_factor[c] * terms.recent_change_factor(
                np.array([cy.changes12[c] + earlier]), w)[0]
            total += float(terms.move(np.array([months]), np.array([factor]),
                                      np.array([forced]), w)[0])
        return total


def _before(cy: County, base: IntArray, members: IntArray, s: int
            ) -> tuple[list[object], list[int]]:
    """Per member: when it got its worker of the week before `s`, and its changes before `s`."""
    since, made = [], []
    for c in members.tolist():
        got, n, prev = cy.got_on[c], 0, int(cy.current[c])
        for k in range(s):
            w = int(base[c, k])
            if w != prev:
                n += int(prev >= 0)
                got = cy.cal.starts[k]
            prev = w
        since.append(got)
        made.append(n)
    return since, made


def options_of(cy: County, i: int, unit: Unit, base: IntArray) -> list[Option]:
    """The options of a unit (see the module's docstring); a partial option hands on to a
    continuation priced by `continuations`."""
    can, n_weeks, s = cy.cal.can_hold, cy.weeks, unit.start
    price = Pricing(cy, unit, base)
    # the change at `s` is the same whichever option (the worker before cannot keep the unit)
    # forced: a unit that had a worker is placed because that worker cannot keep it
    first = price.change(s, True, None) if unit.prev >= 0 else 0.0
    out = []
    for w in unit.eligible.tolist():
        if not can[w, s]:
            continue
        if can[w, s:].all():
            course = np.full(n_weeks - s, w, np.int64)
            out.append(Option(i, s, course, first + price.weeks(course, s)))
            continue
        b = s + int(np.argmin(can[w, s:]))  # the first week w cannot hold children
        course = np.full(b - s, w, np.int64)
        out.append(Option(i, s, course, first + price.weeks(course, s), hands_on=b))
    if unit.prev < 0:
        for w in unit.eligible.tolist():
            if can[w, s] or not can[w, s:].any():
                continue
            t = s + int(np.argmax(can[w, s:]))
            if can[w, t:].all():
                course = np.r_[np.full(t - s, -1), np.full(n_weeks - t, w)].astype(np.int64)
                out.append(Option(i, s, course, price.weeks(course, s)))
    if unit.prev < 0 and s > 0:  # without a worker in a week already planned: MAX_NEW may
        # leave no room this week, so a worker from one of the next few weeks is an option too
        seen = {(o.start + int(np.argmax(o.workers >= 0)), int(o.workers.max())) for o in out}
        for w in unit.eligible.tolist():
            for t in range(s + 1, min(s + 1 + LATER_ALLOCATION_WEEKS, n_weeks)):
                if (t, w) not in seen and can[w, t:].all():
                    course = np.r_[np.full(t - s, -1), np.full(n_weeks - t, w)].astype(np.int64)
                    out.append(Option(i, s, course, price.weeks(course, s)))
    if unit.prev < 0 or not out:  # a child who had a worker keeps one where any is eligible
        course = np.full(n_weeks - s, -1, np.int64)
        out.append(Option(i, s, course, first + price.weeks(course, s)))
    return out


def continuation(cy: County, i: int, unit: Unit, base: IntArray, b: int, held_from: int
                 ) -> list[Option]:
    """Who takes a unit from week b, when its worker since `held_from` cannot hold it."""
    can, n_weeks = cy.cal.can_hold, cy.weeks
    price = Pricing(cy, unit, base)
    change = price.change(b, True, held_from)
    out = [Option(i, b, np.full(n_weeks - b, w, np.int64),
                  change + price.weeks(np.full(n_weeks - b, w, np.int64), b))
           for w in unit.eligible.tolist() if can[w, b:].all()]
    if not out:
        course = np.full(n_weeks - b, -1, np.int64)
        out.append(Option(i, b, course, change + price.weeks(course, b)))
    return out


def fixed_new(cy: County, course: IntArray) -> IntArray:
    """(workers, weeks): children new to each worker whose change takes effect that week."""
    out = np.zeros((cy.frame.n_workers, course.shape[1]), np.int64)
    prev = cy.current
    for k in range(course.shape[1]):
        now = course[:, k]
        new = (now >= 0) & (now != prev)
        np.add.at(out[:, k], now[new], 1)
        prev = now
    return out


def without(cy: County, base: IntArray, units: list[Unit]
            ) -> tuple[IntArray, FloatArray, IntArray]:
    """The baseline with the units taken out from their start: the course, each worker's load
    per week, and the new children each may still take per week (MAX_NEW)."""
    course = base.copy()
    for u in units:
        course[u.members, u.start:] = -1
    return course, week_loads(cy, course), cy.new_limit[:, None] - fixed_new(cy, course)


def _all_options(cy: County, units: list[Unit], fixed: IntArray
                 ) -> tuple[list[Option], list[int], list[int]]:
    """Every option, with its item and the continuation item it hands on to (-1: none)."""
    opts: list[Option] = []
    item: list[int] = []
    hands: list[int] = []
    later: dict[tuple[int, int], int] = {}
    for i, u in enumerate(units):
        for o in options_of(cy, i, u, fixed):
            opts.append(o)
            item.append(i)
            if o.hands_on >= 0 and (i, o.hands_on) not in later:
                later[(i, o.hands_on)] = len(units) + len(later)
            hands.append(later.get((i, o.hands_on), -1) if o.hands_on >= 0 else -1)
    for (i, b), j in later.items():
        for o in continuation(cy, i, units[i], fixed, b, units[i].start):
            opts.append(o)
            item.append(j)
            hands.append(-1)
    return opts, item, hands


def placement(cy: County, inputs: Inputs, base: IntArray,
              units: list[Unit] | None = None, keep: int | None = None) -> Placement:
    """The options problem: loads of everyone not placed stay where the baseline has them.
    With `keep`, each item keeps only its `keep` options that look best on their own
    (`_pruned`), and its options without a worker."""
    units = units_to_place(cy, inputs, base) if units is None else units
    n_w, n_weeks = cy.frame.n_workers, cy.weeks
    fixed, load, room = without(cy, base, units)
    room = np.maximum(room, 0)
    opts, item, hands = _all_options(cy, units, fixed)
    if keep is not None:
        opts, item, hands = _staying(cy, units, (opts, item, hands))
        opts, item, hands = _pruned(cy, units, load, (opts, item, hands), keep)
    ent: list[tuple[int, int, int, int]] = []
    new: list[tuple[int, int, int, int]] = []
    for k, o in enumerate(opts):
        u = units[o.unit]
        pts = round(float(cy.points[u.members].sum()) * POINT_SCALE)
        prev = u.prev if o.start == u.start else -2  # a continuation: its worker is new
        for j, w in enumerate(o.workers.tolist()):
            if w >= 0:
                ent.append((k, w, o.start + j, pts))
                if w != prev:
                    new.append((k, w, o.start + j, len(u.members)))
            prev = w
    e = np.array(ent, np.int64).reshape(-1, 4)
    n = np.array(new, np.int64).reshape(-1, 4)
    rate, band_start, band_cost = _overload_arrays(cy.capacity, cy.cfg.weights)
    problem = OptionsProblem(
        n_items=len(units) + len(set(hands) - {-1}), n_agents=n_w, n_weeks=n_weeks,
        opt_item=np.array(item, np.int64), opt_continues=np.array(hands, np.int64),
        # every term is counted once a week, so a change's cost counts W times
        opt_cost=_scaled(np.array([o.cost for o in opts]) * n_weeks, COST_SCALE),
        ent_opt=e[:, 0], ent_agent=e[:, 1], ent_week=e[:, 2], ent_load=e[:, 3],
        new_opt=n[:, 0], new_agent=n[:, 1], new_week=n[:, 2], new_count=n[:, 3],
        fixed_load=_scaled(load, POINT_SCALE),
        capacity=np.maximum(_scaled(cy.capacity, POINT_SCALE), 1), new_room=room,
        overload_cost=rate, band_start=band_start, band_cost=band_cost,
        peak_cost=round(cy.cfg.weights.peak * COST_SCALE * 100 / PEAK_SCALE),
        peak_scale=PEAK_SCALE)
    return Placement(base, units, opts, problem)


def _staying(cy: County, units: list[Unit], found: tuple[list[Option], list[int], list[int]]
             ) -> tuple[list[Option], list[int], list[int]]:
    """The look-ahead's rule after week 0 (as `build.lookahead_pairs` in week 0): a unit goes to
    a worker who can hold children to the end of the look-ahead wherever one of its eligible
    workers can, never to one it would have to leave again (an option that hands on)."""
    opts, item, hands = found
    can = cy.cal.can_hold
    stays = [bool(len(u.eligible)) and bool(can[u.eligible, u.start:].all(axis=1).any())
             for u in units]
    kept = [k for k, o in enumerate(opts)
            if not (o.hands_on >= 0 and o.start == units[o.unit].start and stays[o.unit])]
    return [opts[k] for k in kept], [item[k] for k in kept], [hands[k] for k in kept]


def _pruned(cy: County, units: list[Unit], load: FloatArray,
            found: tuple[list[Option], list[int], list[int]], keep: int
            ) -> tuple[list[Option], list[int], list[int]]:
    """Per item, the `keep` options whose own cost plus the overload their load adds to the
    baseline's (everyone else where the baseline has them) is least, and every option without
    a worker; a rebalance's later weeks hold many units, and CP-SAT settles a few options each
    far sooner than every eligible worker's."""
    opts, item, hands = found
    w = cy.cfg.weights
    score = np.zeros(len(opts))
    for k, o in enumerate(opts):
        pts = float(cy.points[units[o.unit].members].sum())
        weeks = np.arange(o.start, o.start + len(o.workers))
        on = o.workers >= 0
        a, wk = o.workers[on], weeks[on]
        now = load[a, wk]
        cap = cy.capacity[a]
        added = terms.overload(now + pts, cap, w) - terms.overload(now, cap, w)
        score[k] = o.cost + float(np.sum(added)) / cy.weeks
    chosen: list[int] = []
    by_item: dict[int, list[int]] = {}
    for k, i in enumerate(item):
        by_item.setdefault(i, []).append(k)
    for ks in by_item.values():
        ranked = sorted(ks, key=lambda k: (score[k], k))
        chosen += [k for j, k in enumerate(ranked) if j < keep or (opts[k].workers < 0).all()]
    chosen.sort()
    return [opts[k] for k in chosen], [item[k] for k in chosen], [hands[k] for k in chosen]


def course_of(pl: Placement, choice: IntArray) -> IntArray:
    """(children, weeks): the baseline with each unit's chosen options from its start."""
    out = pl.baseline.copy()
    for k in choice[choice >= 0].tolist():
        o = pl.options[k]
        members = pl.units[o.unit].members
        out[np.ix_(members, np.arange(o.start, o.start + len(o.workers)))] = o.workers[None, :]
    return out
