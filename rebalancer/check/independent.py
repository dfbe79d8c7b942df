"""An independent check of any plan against the inputs: every hard rule, the KPIs, the objective.

Written apart from the model on purpose: it shares loading with it, never constraint logic. Rules
are re-derived here row by row from the contract's words, so a bug in the vectorised model is
caught rather than repeated.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rebalancer.check.least_excess import least_excess, units_to_place
from rebalancer.config import Config
from rebalancer.io.inputs import Inputs

GRADE_ORDER = ["asye", "sw", "senior", "advanced"]
TOLERANCE = 0.005  # KPIs and objective must match a recomputation within 0.5%


@dataclass
class Violation:
    rule: str
    message: str
    child_ids: list[str] = field(default_factory=list)
    worker_ids: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        ids = ""
        if self.child_ids:
            ids += f" children: {', '.join(self.child_ids[:10])}"
            ids += f" (+{len(self.child_ids) - 10} more)" if len(self.child_ids) > 10 else ""
        if self.worker_ids:
            ids += f" workers: {', '.join(self.worker_ids[:10])}"
        return f"{self.rule}: {self.message}{ids}"


@dataclass
class CheckReport:
    violations: list[Violation]
    mismatches: list[str]
    recomputed: dict[str, Any]
    unchecked: list[str] = field(default_factory=list)  # what could not be checked, and why
    warnings: list[str] = field(default_factory=list)  # allowed, but worth a look

    @property
    def ok(self) -> bool:
        return not self.violations and not self.mismatches


class _World:
    """The inputs as plain dictionaries, with the contract's derived quantities."""

    def __init__(self, inputs: Inputs, cfg: Config) -> None:
        self.cfg = cfg
        self.plan_date = cfg.plan_date
        self.workers = {r["worker_id"]: r for r in inputs.workers.to_dict("records")}
        self.children = {r["child_id"]: r for r in inputs.children.to_dict("records")}
        self.stays = {w: self.holds(w, 0) for w in self.workers}
        self.travel: dict[tuple[str, str], float] = {}
        if inputs.travel is not None:
            for r in inputs.travel.to_dict("records"):
                self.travel[(r["child_id"], r["worker_id"])] = float(r["minutes"])
        self.decisions: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for r in inputs.decisions.to_dict("records"):
            self.decisions[r["child_id"]].append((r["decision"], r["worker_id"]))

    def points(self, cid: str) -> float:
        c = self.children[cid]
        if not _missing(c["points"]):
            return float(c["points"])
        pts = self.cfg.points
        return float(getattr(pts, c["case_type"])) + (pts.in_proceedings
                                                      if c["in_proceedings"] else 0.0)

    def capacity(self, wid: str) -> float:
        w = self.workers[wid]
        if not _missing(w["capacity_points"]):
            return float(w["capacity_points"])
        cap = self.cfg.capacity
        return (cap.points_per_fte * float(w["fte"])
                * cap.grade_factor[w["grade"]] * (1 - float(w["reduction_pct"]) / 100))

    def min_grade(self, cid: str) -> int:
        c = self.children[cid]
        if c["min_grade"]:
            return GRADE_ORDER.index(c["min_grade"])
        rule = self.cfg.rules.min_grade
        need = GRADE_ORDER.index(rule[c["case_type"]]) if c["case_type"] in rule else 0
        if c["in_proceedings"] and "in_proceedings" in rule:
            need = max(need, GRADE_ORDER.index(rule["in_proceedings"]))
        return need

    def km(self, cid: str, wid: str) -> float | None:
        c, w = self.children[cid], self.workers[wid]
        if any(_missing(v) for v in (c["lat"], c["lon"], w["base_lat"], w["base_lon"])):
            return None
        p1, p2 = math.radians(w["base_lat"]), math.radians(c["lat"])
        dp, dl = p2 - p1, math.radians(c["lon"] - w["base_lon"])
        h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, h)))

    def travel_measure(self, cid: str, wid: str) -> tuple[float | None, str]:
        if (cid, wid) in self.travel:
            return self.travel[(cid, wid)], "minutes"
        return self.km(cid, wid), "km"

    def broken(self, cid: str, wid: str) -> list[str]:
        """The static rules the pair (child, worker) breaks, by code."""
        c, w = self.children[cid], self.workers[wid]
        out = []
        mode = self.cfg.rules.geography
        limit = self.cfg.rules.max_travel
        if mode == "locality" and c["locality"] != w["locality"]:
            out.append("GEOGRAPHY")
        if mode == "km":
            d = self.km(cid, wid)
            if d is None or d > limit:
                out.append("GEOGRAPHY")
        if mode == "minutes":
            m = self.travel.get((cid, wid))
            if m is None or m > limit:
                out.append("GEOGRAPHY")
        if not self.stays[wid]:
            out.append("AVAILABLE")
        if GRADE_ORDER.index(w["grade"]) < self.min_grade(cid):
            out.append("GRADE")
        if not set(c["required_skills"]) <= set(w["skills"]):
            out.append("SKILLS")
        if wid in c["excluded_worker_ids"]:
            out.append("EXCLUDED")
        if ("forbid", wid) in self.decisions.get(cid, []):
            out.append("PINNED")
        return out

    def week_start(self, week: int) -> dt.date:
        return self.plan_date + dt.timedelta(days=7 * week)

    def leaving(self, wid: str, week: int) -> bool:
        """Leaving on or before the week's start plus the horizon."""
        last = self.workers[wid].get("leaving_on")
        return last is not None and last <= self.week_start(week) + dt.timedelta(
            days=self.cfg.horizon_days)

    def holds(self, wid: str, week: int) -> bool:
        """The contract's look-ahead: available, in post by the week's start, not leaving within
        the horizon of it, and not away on any day from its start to its start + horizon."""
        r = self.workers[wid]
        s = self.week_start(week)
        end = s + dt.timedelta(days=self.cfg.horizon_days)
        if not r["available"] or self.leaving(wid, week):
            return False
        if r.get("starts_on") is not None and r["starts_on"] > s:
            return False
        away_from, away_until = r.get("away_from"), r.get("away_until")
        return not (away_from is not None and away_from <= end
                    and (away_until is None or away_until >= s))

    def eligible(self, cid: str) -> list[str]:
        return [w for w in self.workers if not self.broken(cid, w)]

    def mandated(self, cid: str) -> str | None:
        """The worker a pin, keep or assign ties the child to, if that worker is allowed."""
        c = self.children[cid]
        target = None
        if c["pinned"] or any(d == "keep" for d, _ in self.decisions.get(cid, [])):
            target = c["current_worker_id"] or None
        for d, w in self.decisions.get(cid, []):
            if d == "assign":
                target = w
        if target is not None and not self.broken(cid, target):
            return target
        return None


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v == ""


def _recent_changes(child: dict[str, Any]) -> int:
    """worker_changes_12m, 0 when the column or the cell is absent (the contract's default)."""
    v = child.get("worker_changes_12m")
    if v is None or _missing(v):
        return 0
    return int(v)


def _months(world: _World, cid: str) -> float:
    c = world.children[cid]
    if not c["current_worker_id"] or c["allocated_on"] is None:
        return 0.0
    days = (world.plan_date - c["allocated_on"]).days
    return min(max(days / 30.4375, 0.0), world.cfg.weights.move_months_cap)


def check_plan(inputs: Inputs, cfg: Config, plan: pd.DataFrame,
               summary: dict[str, Any] | None = None,
               workers: pd.DataFrame | None = None,
               schedule: pd.DataFrame | None = None) -> CheckReport:
    """Every hard rule, then the KPIs and objective against summary.json when it is given;
    with a schedule, every rule in every week and the objective over the weeks."""
    world = _World(inputs, cfg)
    v: list[Violation] = []
    rows = {r["child_id"]: r for r in plan.to_dict("records")}
    before = {c: world.children[c]["current_worker_id"] for c in world.children}
    after = {c: (rows[c]["to_worker_id"] if c in rows else "") for c in world.children}
    v += _one_worker(world, plan, rows, before, after)
    allowed = _Allowed(world)
    published, previous_problems = _previous_plan(world, summary)
    previous = published[0] if published is not None else None
    allowed.endorse(before, previous)
    v += _static_rules(world, before, after)
    v += _mandates(world, after)
    groups, family = _families(world, before, after, allowed)
    v += family
    over, max_new = _max_new(world, before, after, summary)
    v += max_new
    least, cut_short = _least_excess(world, before, over, allowed, summary)
    v += least
    forced, max_moves = _max_moves(world, before, after, groups, allowed)
    v += max_moves
    stay = [] if (summary or {}).get("previous_plan") else staying_would_beat(
        world, before, after, forced, allowed)
    v += _config_mismatch(cfg, summary)
    recomputed = _recompute(world, before, after, forced)
    mismatches = list(previous_problems)
    weeks = [after]
    if schedule is not None:
        v_weeks, m_weeks, weeks = _over_weeks(world, (before, after), schedule, forced,
                                              recomputed, summary)
        v += v_weeks
        mismatches += m_weeks
    _previous_term(published, weeks, recomputed, cfg)
    mismatches += _plan_columns(world, plan, before, after)
    unchecked = ["explanations are checked for presence on changed rows, not wording; reasons "
                 "for their rule codes, not for which of OVERLOAD, BALANCE or FAMILY", *cut_short]
    if workers is not None:
        mismatches += _worker_columns(world, workers, before, after)
    else:
        unchecked.append("the workers table: none was given")
    if summary is not None:
        mismatches += _compare(recomputed, summary)
        mismatches += _summary_claims(summary, recomputed, sum(over.values()), inputs)
        unchecked.append("optimality: a claimed bound is checked for consistency, not re-proved")
    else:
        unchecked.append("summary.json: none was given, so KPIs, objective, input hashes and "
                         "declared MAX_NEW excess were not compared, and the configuration and "
                         "plan date used are the ones given, not the plan's own")
    return CheckReport(v, mismatches, recomputed, unchecked, stay)


class _Allowed:
    """The workers a child may end with: the one a pin or decision names, else every eligible
    one (cached: the family and forced-move checks ask for the same children)."""

    def __init__(self, world: _World) -> None:
        self.world = world
        self.cache: dict[str, list[str]] = {}
        self.endorsed: set[str] = set()  # assigns that accept the previous plan's own move

    def endorse(self, before: dict[str, str], previous: dict[str, str] | None) -> None:
        """An `assign` naming the worker the previous plan moved the child to is that move
        accepted: the move keeps the kind the rules give it, judged without the decision."""
        for cid, decided in self.world.decisions.items():
            for d, w in decided:
                if d == "assign" and previous and previous.get(cid) == w and before[cid] \
                        and w != before[cid]:
                    self.endorsed.add(cid)

    def without_endorsement(self, cid: str) -> list[str]:
        """The workers that judge whether a move is forced."""
        return self.world.eligible(cid) if cid in self.endorsed else self(cid)

    def __call__(self, cid: str) -> list[str]:
        if cid not in self.cache:
            m = self.world.mandated(cid)
            self.cache[cid] = [m] if m else self.world.eligible(cid)
        return self.cache[cid]


def _one_worker(world: _World, plan: pd.DataFrame, rows: dict[str, Any],
                before: dict[str, str], after: dict[str, str]) -> list[Violation]:
    # ONE_WORKER: one row per child, known workers only, and a child who had a worker ends
    # unallocated only if no eligible worker exists (unknown workers count as none after this)
    v = []
    missing = [c for c in world.children if c not in rows]
    extra = [c for c in rows if c not in world.children]
    if missing or extra or len(plan) != len(rows):
        v.append(Violation("ONE_WORKER", "the plan must have exactly one row per child",
                           missing + extra))
    unknown = [c for c, w in after.items() if w and w not in world.workers]
    if unknown:
        v.append(Violation("ONE_WORKER", "assigned to a worker not in the workers table", unknown))
        for c in unknown:
            after[c] = ""
    dropped = [c for c in world.children if before[c] and not after[c] and world.eligible(c)]
    if dropped:
        v.append(Violation("ONE_WORKER", "had a worker, ends unallocated although eligible "
                           "workers exist", dropped))
    return v


def _static_rules(world: _World, before: dict[str, str], after: dict[str, str]
                  ) -> list[Violation]:
    # GEOGRAPHY, AVAILABLE, GRADE, SKILLS, EXCLUDED, PINNED (forbid) on every final pair, except a
    # child kept with its worker for want of any other
    by_rule: dict[str, list[str]] = defaultdict(list)
    for cid, wid in after.items():
        if not wid:
            continue
        kept_for_want = wid == before[cid] and not world.eligible(cid) and world.stays[wid]
        for code in world.broken(cid, wid):
            if not (kept_for_want and code != "AVAILABLE"):
                by_rule[code].append(cid)
    return [Violation(code, f"{len(kids)} child(ren) end with a worker who breaks {code}", kids)
            for code, kids in by_rule.items()]


def _mandates(world: _World, after: dict[str, str]) -> list[Violation]:
    # PINNED: pins, keeps and assigns hold where the named worker is allowed
    broken = [c for c in world.children if world.mandated(c) and after[c] != world.mandated(c)]
    return [Violation("PINNED", "a pin, keep or assign decision was not honoured", broken)] \
        if broken else []


def _families(world: _World, before: dict[str, str], after: dict[str, str], allowed: _Allowed
              ) -> tuple[dict[tuple[str, str], list[str]], list[Violation]]:
    # FAMILY: siblings who shared a worker still share one, unless none suits them all
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    if world.cfg.rules.keep_families:
        for cid, c in world.children.items():
            if c["family_id"] and before[cid]:
                groups[(c["family_id"], before[cid])].append(cid)
    split_bad = []
    for kids in groups.values():
        if len(kids) < 2 or len({after[k] for k in kids}) == 1:
            continue
        common = set(allowed(kids[0]) or ([before[kids[0]]] if world.stays[before[kids[0]]]
                                          else []))
        for k in kids[1:]:
            common &= set(allowed(k) or ([before[k]] if world.stays[before[k]] else []))
        if common:
            split_bad += kids
    v = [Violation("FAMILY", "siblings who shared a worker were split although a worker suits "
                   "them all", split_bad)] if split_bad else []
    return groups, v


def _max_new(world: _World, before: dict[str, str], after: dict[str, str],
             summary: dict[str, Any] | None) -> tuple[dict[str, int], list[Violation]]:
    # MAX_NEW: no worker receives more new children than the cap (unless declared as yielding)
    limit = world.cfg.rules.max_new_cases
    new_count: dict[str, int] = defaultdict(int)
    for cid, wid in after.items():
        if wid and wid != before[cid]:
            new_count[wid] += 1
    over = {}
    for wid, n in new_count.items():
        cap = world.workers[wid]["max_new_cases"]
        cap = limit if _missing(cap) else int(cap)
        if n > cap:
            over[wid] = n - cap
    declared = (summary or {}).get("max_new_yielded", {}).get("excess_total", 0)
    v = []
    if over and sum(over.values()) != declared:
        v.append(Violation("MAX_NEW", f"{sum(over.values())} new child(ren) above the caps "
                           f"(summary declares {declared})", worker_ids=sorted(over)))
    return over, v


def _least_excess(world: _World, before: dict[str, str], over: dict[str, int],
                  allowed: _Allowed, summary: dict[str, Any] | None
                  ) -> tuple[list[Violation], list[str]]:
    # MAX_NEW yields only as far as it must: the plan's excess over the caps is at most the
    # least that places every child who had a worker (found by the check's own model). A run
    # its summary says was interrupted or cut by the clock may have stopped before the tool
    # found that least: said, not failed
    if not over:
        return [], []
    limit = world.cfg.rules.max_new_cases
    caps = {w: limit if _missing(r["max_new_cases"]) else int(r["max_new_cases"])
            for w, r in world.workers.items()}
    units = units_to_place(world.children, before, _looking_ahead(world, before, allowed),
                           world.cfg.rules.keep_families)
    least = least_excess(units, caps)
    total = sum(over.values())
    if least is None or total <= least:
        return [], []
    stopped = str(((summary or {}).get("solver") or {}).get("termination", ""))
    if stopped in ("interrupted", "deadline"):
        return [], [f"MAX_NEW: {total} new child(ren) above the caps where {least} is the least "
                    f"that places every child who had a worker; the run says it was {stopped} "
                    "before it could find that least (a finished run would fail here)"]
    return [Violation("MAX_NEW", f"{total} new child(ren) above the caps where {least} is the "
                      "least that places every child who had a worker: the caps were exceeded "
                      "without need", worker_ids=sorted(over))], []


def _looking_ahead(world: _World, before: dict[str, str], allowed: _Allowed
                   ) -> Callable[[str], list[str]]:
    """The workers a child may be given in week 0, with the look-ahead's rule (contract reading
    19): only those who can hold children in every week of the look-ahead, where any of the
    child's allowed workers (its own among them) can."""
    weeks = range(world.cfg.weeks)
    if len(weeks) < 2:
        return allowed
    stays = {w: all(world.holds(w, k) for k in weeks) for w in world.workers}

    def given(cid: str) -> list[str]:
        ok = allowed(cid)
        if any(stays[w] for w in ok) or (before[cid] and before[cid] in ok
                                         and stays[before[cid]]):
            return [w for w in ok if stays[w] or w == before[cid]]
        return ok
    return given


def _max_moves(world: _World, before: dict[str, str], after: dict[str, str],
               groups: dict[tuple[str, str], list[str]], allowed: _Allowed
               ) -> tuple[set[str], list[Violation]]:
    # MAX_MOVES: discretionary moves within the budget; a move is a child who had a worker and
    # ends with another one or with none
    moved = [c for c in world.children if before[c] and after[c] != before[c]]
    forced = {c for c in moved if _forced(world, c, before, groups, allowed)}
    budget = world.cfg.rules.max_moves
    discretionary = [c for c in moved if c not in forced]
    v = []
    if budget > 0 and len(discretionary) > budget:
        v.append(Violation("MAX_MOVES", f"{len(discretionary)} discretionary moves, budget "
                           f"{budget}", discretionary))
    return forced, v


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: tree}


def _config_mismatch(cfg: Config, summary: dict[str, Any] | None) -> list[Violation]:
    # CONFIG_MISMATCH: the plan was made by the rules and weights it is checked against (the
    # solver's own settings, time and threads, do not decide what a valid plan is)
    if summary is None or not isinstance(summary.get("config"), dict):
        return []
    recorded = _flatten(summary["config"])
    given = _flatten(cfg.to_dict())
    out = []
    for key in sorted(set(recorded) | set(given)):
        if key.startswith("solver."):
            continue
        a, b = recorded.get(key), given.get(key)
        same = a == b or (isinstance(a, int | float) and isinstance(b, int | float)
                          and math.isclose(a, b, rel_tol=1e-12))
        if not same:
            out.append(Violation("CONFIG_MISMATCH", f"{key}: the plan records {a!r}, it is "
                                 f"checked against {b!r} (give the --config the plan was made "
                                 "with)"))
    return out


def _over_weeks(world: _World, sides: tuple[dict[str, str], dict[str, str]],
                schedule: pd.DataFrame, forced: set[str], recomputed: dict[str, Any],
                summary: dict[str, Any] | None
                ) -> tuple[list[Violation], list[str], list[dict[str, str]]]:
    """The weeks after week 0 (check/weekly.py): their rules, and the objective, changes and
    weekly KPIs over the weeks in place of the single date's."""
    from rebalancer.check.weekly import check_weeks

    before, after = sides
    wk = check_weeks(world, before, after, schedule, forced, _recompute)
    recomputed["objective_terms"] = wk.terms
    recomputed["objective"] = sum(wk.terms.values())
    recomputed["kpis"]["after"]["children_2plus_changes"] = wk.twice
    out = list(wk.mismatches)
    kpis = (summary or {}).get("kpis", {})
    if summary is not None and kpis.get("changes_lookahead") != wk.changes:
        out.append(f"kpis.changes_lookahead: summary says {kpis.get('changes_lookahead')}, "
                   f"recomputed {wk.changes}")
    given = kpis.get("weeks") or []
    if summary is not None and (len(given) != len(wk.weeks) or any(
            g.get(k) != r[k] if isinstance(r[k], int | str) else not _close(r[k], g.get(k))
            for g, r in zip(given, wk.weeks, strict=False) for k in r)):
        out.append("kpis.weeks: the weekly figures differ from those recomputed")
    return [Violation(rule, msg, ids) for rule, msg, ids in wk.violations], out, wk.assignments


def _previous_term(published: list[dict[str, str]] | None, weeks: list[dict[str, str]],
                   recomputed: dict[str, Any], cfg: Config) -> None:
    """The term a re-plan adds, recomputed from the previous plan's own files: per week, the
    children it names whose worker differs from its worker for that week's date, averaged over
    the weeks (one week: the children whose outcome differs)."""
    if published is not None:
        changed = sum(1 for prev, now in zip(published, weeks, strict=True)
                      for c, w in now.items() if c in prev and prev[c] != w)
        term = cfg.weights.previous_change * changed / len(weeks)
        recomputed["objective_terms"]["previous_plan"] = term
        recomputed["objective"] += term


def _forced(world: _World, cid: str, before: dict[str, str],
            groups: dict[tuple[str, str], list[str]], allowed: _Allowed) -> bool:
    """A move is forced when the old worker is not allowed for the child or for a sibling who
    shares that worker (the family moves as one), or no longer stays."""
    old = before[cid]
    c = world.children[cid]
    kids = groups.get((c["family_id"], old), [cid]) if c["family_id"] else [cid]
    return any(old not in (allowed.without_endorsement(k) or ([old] if world.stays[old] else []))
               for k in kids)


def _recompute(world: _World, before: dict[str, str], after: dict[str, str],
               forced: set[str]) -> dict[str, Any]:
    w = world.cfg.weights
    kpis: dict[str, dict[str, Any]] = {}
    for side, assign in (("before", before), ("after", after)):
        load: dict[str, float] = defaultdict(float)
        for cid, wid in assign.items():
            if wid:
                load[wid] += world.points(cid)
        util = {wid: load[wid] / world.capacity(wid) for wid in world.workers}
        over = {wid: max(load[wid] - world.capacity(wid), 0.0) for wid in world.workers}
        fam: dict[str, set[str]] = defaultdict(set)
        for cid, wid in assign.items():
            if wid and world.children[cid]["family_id"]:
                fam[world.children[cid]["family_id"]].add(wid)
        travels = [t for cid, wid in assign.items() if wid
                   for t in [world.travel_measure(cid, wid)[0]] if t is not None]
        kpis[side] = {
            "unallocated": sum(1 for x in assign.values() if not x),
            "workers_over_capacity": sum(1 for x in over.values() if x > 1e-9),
            "workers_above_110pct": sum(1 for w in world.workers
                                        if load[w] > 1.10 * world.capacity(w) + 1e-9),
            "workers_above_125pct": sum(1 for w in world.workers
                                        if load[w] > 1.25 * world.capacity(w) + 1e-9),
            "asye_over_capacity": sum(1 for w, x in over.items()
                                      if x > 1e-9 and world.workers[w]["grade"] == "asye"),
            "total_overload_points": sum(over.values()),
            "peak_utilisation": max(util.values()) if util else 0.0,
            "families_split": sum(1 for s in fam.values() if len(s) > 1),
            "mean_travel": sum(travels) / len(travels) if travels else None,
        }
    moved = [c for c in world.children if before[c] and after[c] != before[c]]
    # a child's changes of worker in the 12 months to the plan, and one more if the plan moves it
    moved_set = set(moved)
    kpis["before"]["children_2plus_changes"] = sum(
        1 for c in world.children.values() if _recent_changes(c) >= 2)
    kpis["after"]["children_2plus_changes"] = sum(
        1 for cid, c in world.children.items()
        if _recent_changes(c) + (1 if cid in moved_set else 0) >= 2)
    kpis["after"]["moves"] = len(moved)
    kpis["after"]["moves_forced"] = sum(1 for c in moved if c in forced)
    kpis["after"]["moves_discretionary"] = len(moved) - kpis["after"]["moves_forced"]
    move_cost = sum(_move_cost(world, cid, cid in forced) for cid in moved)
    travel_cost = 0.0
    for cid, wid in after.items():
        if wid:
            t, unit = world.travel_measure(cid, wid)
            if t is not None:
                travel_cost += t * (w.travel_minute if unit == "minutes" else w.travel_km)
    a = kpis["after"]
    terms = {
        "unallocated": sum(w.unallocated[world.children[c]["priority"]]
                           for c, x in after.items() if not x),
        "overload": _banded_overload(world, after),
        "moves": move_cost,
        "peak": w.peak * 100 * a["peak_utilisation"],
        "travel": travel_cost,
        "split_family": w.split_family * a["families_split"],
    }
    return {"kpis": kpis, "objective_terms": terms, "objective": sum(terms.values())}


def _move_cost(world: _World, cid: str, forced: bool) -> float:
    """A move's cost in the contract's words: (move + months x per month) x its factors; a forced
    move its months only."""
    w = world.cfg.weights
    c = world.children[cid]
    factor = ((w.move_factor_proceedings if c["in_proceedings"] else 1.0)
              * (w.move_factor_cla if c["case_type"] == "cla" else 1.0)
              * (1 + w.move_factor_recent_change * min(_recent_changes(c), w.recent_changes_cap)))
    base = 0.0 if forced else w.move
    return (base + w.move_per_month * _months(world, cid)) * factor


def _worker_overload(world: _World, wid: str, load: float) -> float:
    """One worker's banded overload cost at a load."""
    w = world.cfg.weights
    cap = world.capacity(wid)
    edges = [(1.0, 1.0), *w.overload_bands]
    total = 0.0
    for j, (util, multiplier) in enumerate(edges):
        top = edges[j + 1][0] * cap if j + 1 < len(edges) else float("inf")
        total += w.overload * multiplier * max(min(load, top) - util * cap, 0.0)
    return total


def _travel_cost(world: _World, cid: str, wid: str) -> float:
    w = world.cfg.weights
    t, unit = world.travel_measure(cid, wid)
    return 0.0 if t is None else t * (w.travel_minute if unit == "minutes" else w.travel_km)


def staying_would_beat(world: _World, before: dict[str, str], after: dict[str, str],
                       forced: set[str], allowed: Any) -> list[str]:
    """Discretionary moves of children with no sibling that reverting alone would make
    cheaper (the move's cost, travel, the two workers' overload and the peak): a plan stopped
    short of a local optimum. Warnings, not violations: the plan keeps every rule."""
    w = world.cfg.weights
    load: dict[str, float] = defaultdict(float)
    for cid, wid in after.items():
        if wid:
            load[wid] += world.points(cid)
    util = {wid: load[wid] / world.capacity(wid) for wid in world.workers}
    peak = max(util.values(), default=0.0)
    family: dict[str, int] = defaultdict(int)
    for c in world.children.values():
        if c["family_id"]:
            family[c["family_id"]] += 1
    out = []
    for cid, new in after.items():
        old = before[cid]
        c = world.children[cid]
        if not old or not new or old == new or cid in forced or family[c["family_id"]] > 1:
            continue
        if old not in allowed(cid):
            continue
        pts = world.points(cid)
        delta = (-_move_cost(world, cid, False)
                 + _travel_cost(world, cid, old) - _travel_cost(world, cid, new)
                 + _worker_overload(world, old, load[old] + pts)
                 - _worker_overload(world, old, load[old])
                 + _worker_overload(world, new, load[new] - pts)
                 - _worker_overload(world, new, load[new]))
        rest = max((u for wid, u in util.items() if wid not in (old, new)), default=0.0)
        new_peak = max(rest, (load[old] + pts) / world.capacity(old),
                       (load[new] - pts) / world.capacity(new))
        delta += w.peak * 100 * (new_peak - peak)
        if delta < -1e-6:
            out.append(f"{cid}: staying with {old} instead of moving to {new} would lower the "
                       f"objective by {-delta:,.1f}")
    return out


def _banded_overload(world: _World, after: dict[str, str]) -> float:
    """Each point above capacity costs `overload`; each point above a band's utilisation costs
    the band's multiplier times `overload` instead (the contract's words, worker by worker)."""
    load: dict[str, float] = defaultdict(float)
    for cid, wid in after.items():
        if wid:
            load[wid] += world.points(cid)
    return sum(_worker_overload(world, wid, load[wid]) for wid in world.workers)


def _plan_columns(world: _World, plan: pd.DataFrame, before: dict[str, str],
                  after: dict[str, str]) -> list[str]:
    """Every column of the plan that follows from the inputs and the assignment."""
    out: list[str] = []
    rows = {r["child_id"]: r for r in plan.to_dict("records")}
    bad: dict[str, list[str]] = defaultdict(list)
    for cid, c in world.children.items():
        r = rows.get(cid)
        if r is None:
            continue
        old, new = before[cid], after[cid]
        action = ("unallocated" if not new else "allocate" if not old
                  else "keep" if old == new else "move")
        expect = {"family_id": c["family_id"], "case_type": c["case_type"],
                  "from_worker_id": old, "action": action}
        for col, value in expect.items():
            if str(r.get(col, "")) != str(value):
                bad[col].append(cid)
        if not _close(_num(r.get("points")), world.points(cid)):
            bad["points"].append(cid)
        for col, wid in (("travel_before", old), ("travel_after", new)):
            t = world.travel_measure(cid, wid)[0] if wid else None
            if not _close(_num(r.get(col)), t):
                bad[col].append(cid)
        if not _reasons_ok(world, cid, old, action, str(r.get("reasons", ""))):
            bad["reasons"].append(cid)
    for col, kids in bad.items():
        more = f" (+{len(kids) - 10} more)" if len(kids) > 10 else ""
        out.append(f"plan.{col} differs from the inputs for {len(kids)} child(ren): "
                   f"{', '.join(kids[:10])}{more}")
    return out


def _previous_plan(world: _World, summary: dict[str, Any] | None
                   ) -> tuple[list[dict[str, str]] | None, list[str]]:
    """The plan a re-plan stayed close to, read from its folder and verified by its hashes:
    per week of this plan, each child it names and its worker on that week's start (its plan,
    then its schedule's changes effective by then). What could not be read is a mismatch (its
    term cannot be recomputed)."""
    import json
    from pathlib import Path

    from rebalancer.io.outputs import read_table_file

    info = (summary or {}).get("previous_plan")
    if not isinstance(info, dict):
        return None, []
    folder = Path(str(info.get("folder", "")))
    path = folder / str(info.get("plan_file", ""))
    if not path.is_file() or _file_hash(path) != info.get("plan_sha256"):
        return None, [f"previous_plan: {path} is missing or changed, so the objective's "
                      "previous-plan term cannot be recomputed"]
    prev = read_table_file(path)
    given = dict(zip(prev["child_id"], prev["to_worker_id"].fillna(""), strict=True))
    changes: list[tuple[dt.date, int, str, str]] = []
    try:
        entry = json.loads((folder / "summary.json").read_text()).get("outputs", {}).get(
            "schedule")
    except (OSError, ValueError):
        entry = None
    if isinstance(entry, dict):
        sched_path = folder / str(entry.get("file", ""))
        if not sched_path.is_file() or _file_hash(sched_path) != entry.get("sha256"):
            return None, [f"previous_plan: {sched_path} is missing or changed, so the "
                          "objective's previous-plan term cannot be recomputed"]
        for r in read_table_file(sched_path).to_dict("records"):
            changes.append((dt.date.fromisoformat(str(r["effective_on"])), int(r["week"]),
                            str(r["child_id"]), str(r["to_worker_id"] or "")))
    changes.sort()
    out = []
    for k in range(world.cfg.weeks):
        now = dict(given)
        for day, _, cid, wid in changes:
            if day <= world.week_start(k):
                now[cid] = wid
        out.append(now)
    return out, []


RULE_REASONS = {"GEOGRAPHY", "GRADE", "SKILLS", "EXCLUDED", "LEAVING", "ABSENT"}


def _reasons_ok(world: _World, cid: str, old: str, action: str, reasons: str) -> bool:
    """The reason codes a row must carry, from the contract: every rule the old worker breaks
    (leaving before absent), UNALLOCATED on unallocated and allocated rows, and one why on a
    move that no rule forced."""
    codes = set(reasons.split(";")) - {""}
    known = RULE_REASONS | {"UNALLOCATED", "OVERLOAD", "BALANCE", "FAMILY", "DECISION"}
    if codes - known:
        return False
    if action in ("allocate", "unallocated") and "UNALLOCATED" not in codes:
        return False
    if action == "keep" or not old:
        return True
    expected = set()
    for code in world.broken(cid, old):
        if code == "AVAILABLE":
            expected.add("LEAVING" if world.leaving(old, 0) else "ABSENT")
        elif code != "PINNED":
            expected.add(code)
    if action == "move" and (codes & RULE_REASONS) != expected:
        return False
    if action == "unallocated" and not expected <= codes:
        return False
    return bool(codes)


def _num(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _worker_columns(world: _World, workers: pd.DataFrame, before: dict[str, str],
                    after: dict[str, str]) -> list[str]:
    """Every column of the workers table, recomputed worker by worker."""
    rows = {r["worker_id"]: r for r in workers.to_dict("records")}
    out: list[str] = []
    if set(rows) != set(world.workers) or len(workers) != len(rows):
        out.append("workers table: must have exactly one row per worker of the inputs")
    load: dict[str, dict[str, float]] = {s: defaultdict(float) for s in ("before", "after")}
    count: dict[str, dict[str, int]] = {s: defaultdict(int) for s in ("before", "after")}
    new: dict[str, int] = defaultdict(int)
    moved_out: dict[str, int] = defaultdict(int)
    for side, assign in (("before", before), ("after", after)):
        for cid, wid in assign.items():
            if wid:
                load[side][wid] += world.points(cid)
                count[side][wid] += 1
    for cid in world.children:
        if after[cid] and after[cid] != before[cid]:
            new[after[cid]] += 1
        if before[cid] and after[cid] != before[cid]:
            moved_out[before[cid]] += 1
    bad: dict[str, list[str]] = defaultdict(list)
    for wid, w in world.workers.items():
        r = rows.get(wid)
        if r is None:
            continue
        cap = world.capacity(wid)
        text = {"team": w["team"], "locality": w["locality"], "grade": w["grade"]}
        for col, value in text.items():
            if str(r.get(col, "")) != str(value):
                bad[col].append(wid)
        nums = {"fte": float(w["fte"]), "capacity_points": cap,
                "load_before": load["before"][wid], "load_after": load["after"][wid],
                "utilisation_before": load["before"][wid] / cap,
                "utilisation_after": load["after"][wid] / cap}
        for col, value in nums.items():
            if not _close(_num(r.get(col)), value):
                bad[col].append(wid)
        counts = {"children_before": count["before"][wid], "children_after": count["after"][wid],
                  "new_children": new[wid], "moved_out": moved_out[wid]}
        for col, n in counts.items():
            if _num(r.get(col)) != n:
                bad[col].append(wid)
    for col, ids in bad.items():
        out.append(f"workers.{col} differs from a recomputation for {len(ids)} worker(s): "
                   f"{', '.join(ids[:10])}")
    return out


def _summary_claims(summary: dict[str, Any], recomputed: dict[str, Any], excess: int,
                    inputs: Inputs) -> list[str]:
    """What summary.json claims beyond KPIs: input hashes, the MAX_NEW excess, the status."""
    out = []
    for name, path in inputs.files.items():
        given = summary.get("inputs", {}).get(name, {}).get("sha256")
        if given is not None and given != _file_hash(path):
            out.append(f"inputs.{name}: {path} is not the file the plan was made from (sha256 "
                       "differs)")
    for name in summary.get("inputs", {}):
        if name not in inputs.files and name not in ("config", "decisions_given"):
            out.append(f"inputs.{name}: the plan was made with a {name} file; give it to check")
    declared = summary.get("max_new_yielded", {}).get("excess_total")
    if declared != excess:
        out.append(f"max_new_yielded.excess_total: summary says {declared}, the plan has {excess}")
    objective, bound = recomputed["objective"], summary.get("best_bound")
    status, gap = summary.get("status"), summary.get("gap")
    if bound is not None and bound > objective + TOLERANCE * abs(objective) + 1e-6:
        out.append(f"best_bound {bound} is above the plan's objective {objective:.4f}")
    if bound is not None and gap is not None and objective > 0:
        true_gap = max(0.0, (objective - bound) / objective)
        if abs(true_gap - gap) > 1e-3:
            out.append(f"gap: summary says {gap}, objective and bound give {true_gap:.6f}")
    if status == "optimal" and (bound is None or not _close(bound, objective)):
        out.append(f"status 'optimal', but the bound {bound} does not meet the objective "
                   f"{objective:.4f}")
    if status not in ("optimal", "feasible", "infeasible", "no_solution"):
        out.append(f"status {status!r} is not a status of the contract")
    return out


def _file_hash(path: Any) -> str:
    from rebalancer.io.inputs import file_sha256

    return file_sha256(path)


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= TOLERANCE * max(abs(a), abs(b)) + 1e-6


def _compare(recomputed: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    out = []
    for side in ("before", "after"):
        for key, value in recomputed["kpis"][side].items():
            given = summary.get("kpis", {}).get(side, {}).get(key)
            exact = isinstance(value, int) and not isinstance(value, bool)
            if (given != value) if exact else not _close(value, given):
                out.append(f"kpis.{side}.{key}: summary says {given}, recomputed {value}")
    if not _close(recomputed["objective"], summary.get("objective")):
        out.append(f"objective: summary says {summary.get('objective')}, recomputed "
                   f"{recomputed['objective']:.4f}")
    return out
