"""The independent check of the weeks after week 0: re-derived from the contract's words, the
inputs, the plan and its schedule (never from the model's code).

Each week's assignment is week 0's with the schedule's changes applied in order. In every week
k ≥ 1: no child with a worker who cannot hold children that week (available, in post, not
leaving or away within the horizon of the week's start); a worker given in week k passes every
rule; a child who had a worker keeps one unless none is eligible that week; siblings who shared
a worker still share one unless none suits them all; pins and `keep` decisions hold while their
worker can hold children; at most `max_new_cases` children new to a worker that week. Then the
objective: each week's terms (as for a single date) averaged over the weeks, plus every change
once, with the months and recent-change factor the contract gives a change in week k.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

DAYS_PER_MONTH = 30.4375


@dataclass
class WeeklyCheck:
    violations: list[tuple[str, str, list[str]]] = field(default_factory=list)  # rule, msg, ids
    mismatches: list[str] = field(default_factory=list)
    terms: dict[str, float] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)  # total, forced, discretionary
    twice: int = 0  # children_2plus_changes over the whole course
    weeks: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, str]] = field(default_factory=list)  # each week's, from week 0


def _assignments(world: Any, after0: dict[str, str], schedule: pd.DataFrame,
                 out: WeeklyCheck) -> list[dict[str, str]]:
    """Week by week, from week 0 and the schedule (rows that do not follow are mismatches)."""
    n_weeks = world.cfg.weeks
    weeks = [dict(after0)]
    rows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in schedule.to_dict("records"):
        try:
            k = int(r["week"])
        except (TypeError, ValueError):
            k = -1
        if not 1 <= k < n_weeks or r["child_id"] not in world.children:
            out.mismatches.append(f"schedule: row for {r['child_id']} in week {r['week']} is "
                                  f"not a week 1–{n_weeks - 1} change of a child of the inputs")
            continue
        if str(r["effective_on"]) != world.week_start(k).isoformat():
            out.mismatches.append(f"schedule: {r['child_id']} week {k} effective_on "
                                  f"{r['effective_on']} is not that week's start")
        rows[k].append(r)
    for k in range(1, n_weeks):
        now = dict(weeks[-1])
        for r in rows[k]:
            cid = r["child_id"]
            if (r["from_worker_id"] or "") != now[cid]:
                out.mismatches.append(f"schedule: {cid} week {k} from {r['from_worker_id']!r},"
                                      f" but its worker the week before is {now[cid]!r}")
            now[cid] = r["to_worker_id"] or ""
        weeks.append(now)
    return weeks


def _rules(world: Any, weeks: list[dict[str, str]], out: WeeklyCheck) -> None:
    for k in range(1, len(weeks)):
        prev, now = weeks[k - 1], weeks[k]
        cannot = sorted(c for c, w in now.items() if w and not world.holds(w, k))
        if cannot:
            out.violations.append(("AVAILABLE", f"week {k}: with a worker who cannot hold "
                                   "children that week", cannot))
        broken = sorted(c for c, w in now.items() if w and w != prev[c]
                        and set(world.broken(c, w)) - {"AVAILABLE"})
        if broken:
            out.violations.append(("ONE_WORKER", f"week {k}: given a worker who breaks a rule",
                                   broken))
        dropped = sorted(c for c, w in now.items() if prev[c] and not w
                         and _eligible(world, c, k))
        if dropped:
            out.violations.append(("ONE_WORKER", f"week {k}: left without a worker though one "
                                   "is eligible", dropped))
        kept = sorted(c for c, w in now.items() if w != prev[c] and prev[c]
                      and world.holds(prev[c], k) and _tied(world, c, prev[c]))
        if kept:
            out.violations.append(("PINNED", f"week {k}: a pin or keep changed while its worker "
                                   "can hold children", kept))
        if world.cfg.rules.keep_families:  # FAMILY binds only as a hard rule, as in week 0
            out.violations += _family(world, prev, now, k)
        out.violations += _max_new(world, prev, now, k)


def _eligible(world: Any, cid: str, k: int) -> bool:
    return any(not (set(world.broken(cid, w)) - {"AVAILABLE"}) and world.holds(w, k)
               for w in world.workers)


def _tied(world: Any, cid: str, wid: str) -> bool:
    c = world.children[cid]
    return (bool(c["pinned"]) and c["current_worker_id"] == wid) or any(
        d == "keep" and c["current_worker_id"] == wid for d, _ in world.decisions.get(cid, []))


def _family(world: Any, prev: dict[str, str], now: dict[str, str], k: int
            ) -> list[tuple[str, str, list[str]]]:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for cid, w in prev.items():
        fam = world.children[cid]["family_id"]
        if fam and w:
            groups[(fam, w)].append(cid)
    split = []
    for kids in groups.values():
        if len(kids) > 1 and len({now[c] for c in kids}) > 1:
            common = [w for w in world.workers if world.holds(w, k) and all(
                not (set(world.broken(c, w)) - {"AVAILABLE"}) for c in kids)]
            if common:
                split += kids
    return [("FAMILY", f"week {k}: siblings who shared a worker were split although a worker "
             "suits them all", sorted(split))] if split else []


def _max_new(world: Any, prev: dict[str, str], now: dict[str, str], k: int
             ) -> list[tuple[str, str, list[str]]]:
    """At most the cap of children new to a worker in week k. As in week 0, MAX_NEW yields to
    ONE_WORKER: a worker may go over it only with children handed over that week (a child who
    had a worker keeps one; an allocation can wait), and only where none of those children had
    another eligible worker, able to hold children that week, still within the cap."""
    new: dict[str, list[str]] = defaultdict(list)
    for cid, w in now.items():
        if w and w != prev[cid]:
            new[w].append(cid)
    limit = world.cfg.rules.max_new_cases
    cap = {w: _cap(world.workers[w], limit) for w in world.workers}
    over = []
    for w, kids in new.items():
        if len(kids) <= cap[w]:
            continue
        handed = [c for c in kids if prev[c]]
        if len(handed) < len(kids) or any(
                x != w and len(new.get(x, [])) < cap[x] and world.holds(x, k)
                and not (set(world.broken(c, x)) - {"AVAILABLE"})
                for c in handed for x in world.workers):
            over.append(w)
    return [("MAX_NEW", f"week {k}: more new children than the cap without need", sorted(over))
            ] if over else []


def _cap(worker: dict[str, Any], limit: int) -> int:
    v = worker.get("max_new_cases")
    return limit if v is None or v != v else int(v)


def _change_costs(world: Any, before: dict[str, str], weeks: list[dict[str, str]],
                  forced0: set[str], out: WeeklyCheck) -> float:
    """Every change once: week 0's moves as a single date; a change in week k ≥ 1 forced when
    the worker of week k−1 cannot hold children in week k (or a sibling sharing it is)."""
    w = world.cfg.weights
    total, counts = 0.0, {"total": 0, "forced": 0, "discretionary": 0}
    made: dict[str, int] = defaultdict(int)
    since: dict[str, dt.date] = {}
    for cid, c in world.children.items():
        got = c["allocated_on"]
        since[cid] = got if got is not None and got <= world.plan_date else world.plan_date
    prev = before
    for k, now in enumerate(weeks):
        forced = _forced_at(world, prev, now, k, forced0)
        for cid in world.children:
            if now[cid] == prev[cid]:
                continue
            if prev[cid]:
                days = (world.week_start(k) - since[cid]).days
                months = min(max(days / DAYS_PER_MONTH, 0.0), w.move_months_cap)
                c = world.children[cid]
                recent = min(_recent(c) + made[cid], w.recent_changes_cap)
                factor = ((w.move_factor_proceedings if c["in_proceedings"] else 1.0)
                          * (w.move_factor_cla if c["case_type"] == "cla" else 1.0)
                          * (1 + w.move_factor_recent_change * recent))
                total += ((0.0 if cid in forced else w.move) + w.move_per_month * months) * factor
                made[cid] += 1
                counts["total"] += 1
                counts["forced" if cid in forced else "discretionary"] += 1
            since[cid] = world.week_start(k)
        prev = now
    out.changes = counts
    out.twice = sum(1 for cid, c in world.children.items() if _recent(c) + made[cid] >= 2)
    return total


def _forced_at(world: Any, prev: dict[str, str], now: dict[str, str], k: int,
               forced0: set[str]) -> set[str]:
    if k == 0:
        return forced0
    forced = {c for c, w in now.items() if w != prev[c] and prev[c]
              and not world.holds(prev[c], k)}
    for cid in list(forced):
        fam = world.children[cid]["family_id"]
        if fam:
            forced |= {c for c, w in prev.items() if w == prev[cid] and now[c] != w
                       and world.children[c]["family_id"] == fam}
    return forced


def _recent(c: dict[str, Any]) -> int:
    v = c.get("worker_changes_12m")
    return 0 if v is None or v != v else int(v)


def check_weeks(world: Any, before: dict[str, str], after0: dict[str, str],
                schedule: pd.DataFrame, forced0: set[str], recompute: Any) -> WeeklyCheck:
    """Rules in every week, the changes and the objective over the weeks. `recompute` is the
    check's single-date recomputation (its terms of one week's assignment)."""
    out = WeeklyCheck()
    weeks = _assignments(world, after0, schedule, out)
    out.assignments = weeks
    _rules(world, weeks, out)
    n_weeks = len(weeks)
    terms = dict.fromkeys(("unallocated", "overload", "moves", "peak", "travel",
                           "split_family"), 0.0)
    for k, assign in enumerate(weeks):
        r = recompute(world, before, assign, set())
        for name, v in r["objective_terms"].items():
            if name != "moves":
                terms[name] += v / n_weeks
        a = r["kpis"]["after"]
        load_over = a["total_overload_points"]
        out.weeks.append({"week": k, "starts_on": world.week_start(k).isoformat(),
                          "unallocated": a["unallocated"],
                          "workers_over_capacity": a["workers_over_capacity"],
                          "overload_points": load_over,
                          "peak_utilisation": a["peak_utilisation"]})
    terms["moves"] = _change_costs(world, before, weeks, forced0, out)
    out.terms = terms
    return out
