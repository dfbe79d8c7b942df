"""Plain-language explanations: why each child moved, was allocated or left unallocated, what the
alternatives would have cost, and why a worker gained or lost children.

Each sentence states why *that* child moved (the rule, the sibling, or the move's own effect on
its old worker), and says which utilisation figures are the whole plan's. Only IDs, grades,
localities, dates, skill tags and percentages appear: nothing else about a child.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rebalancer.model import rules, terms
from rebalancer.model.build import CaseModel
from rebalancer.model.calendar import calendar
from rebalancer.model.plan import joins_siblings
from rebalancer.model.rules import (
    GRADE_RANK,
    RULE_BY_CODE,
    RULE_ORDER,
    RULE_WORDS,
    RULES,
    BoolArray,
    IntArray,
    absence_words,
)
from rebalancer.problems import UsageError

GRADES = list(GRADE_RANK)
MAX_IDS_SHOWN = 5
MAX_NOTE = 80  # a manager's note, as far as an explanation quotes it

__all__ = ["RULE_WORDS", "alternatives", "explanations", "worker_story"]


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _ids(ids: list[str]) -> str:
    more = f" and {len(ids) - MAX_IDS_SHOWN} more" if len(ids) > MAX_IDS_SHOWN else ""
    return ", ".join(ids[:MAX_IDS_SHOWN]) + more


def _rule_words(cm: CaseModel, child: int, worker: int) -> list[str]:
    """The hard rules the child's current worker breaks, in a manager's words."""
    return [r.why_current(cm.frame, child, worker) for r in RULES
            if cm.current_broken[r.code][child]]


def _family_words(cm: CaseModel, child: int, src: int) -> str:
    """Why a sibling's rules moved this child: which sibling, and what bars the shared worker."""
    f = cm.frame
    unit = np.flatnonzero(cm.unit == cm.unit[child])
    if cm.family_split_forced[child]:
        return "no worker suits all the siblings, so each is placed on their own"
    blocked = [int(k) for k in unit if k != child and _rule_words(cm, int(k), src)]
    sibs = [f.children["child_id"].iat[k] for k in unit if k != child]
    why = ""
    if blocked:
        k = blocked[0]
        why = f": {src_id(cm, src)} cannot keep {f.children['child_id'].iat[k]} (" \
              + "; ".join(_rule_words(cm, k, src)) + ")"
    return f"moves with siblings {_ids(sibs)}{why}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def change_count_words(cm: CaseModel, child: int) -> str:
    """A move that is the child's second (or later) change of worker this year says so, since a
    manager weighs a third worker in a year differently from a first."""
    n = int(cm.recent_changes[child])
    return f"{_ordinal(n + 1)} change of social worker in 12 months" if n >= 1 else ""


def move_factor_parts(cm: CaseModel, child: int) -> dict[str, Any]:
    """What multiplies this child's move cost, factor by factor (the contract's move factors)."""
    w = cm.cfg.weights
    ch = cm.frame.children
    n = int(cm.recent_changes[child])
    parts: list[str] = []
    if bool(ch["in_proceedings"].iat[child]):
        parts.append(f"in proceedings ×{w.move_factor_proceedings:g}")
    if ch["case_type"].iat[child] == "cla":
        parts.append(f"looked after ×{w.move_factor_cla:g}")
    recent = float(terms.recent_change_factor(np.array([n]), w)[0])
    if n:
        capped = f", {w.recent_changes_cap} counted" if n > w.recent_changes_cap else ""
        parts.append(f"{n} change{'s' if n != 1 else ''} of social worker in 12 months"
                     f"{capped} ×{recent:g}")
    return {"factor": float(cm.move_factor[child]), "parts": parts, "recent_changes": n,
            "recent_factor": recent}


def src_id(cm: CaseModel, worker: int) -> str:
    return str(cm.frame.workers["worker_id"].iat[worker])


def _why_leave(cm: CaseModel, child: int, src: int, dst: int, reasons: str,
               load_after: np.ndarray, travel: tuple[float, float]) -> str:
    """Why the child left its worker: the rule, the decision, the sibling, or the move's effect."""
    parts = _rule_words(cm, child, src)
    codes = reasons.split(";")
    cap, pts = cm.capacity, float(cm.child_points[child])
    if not parts and "DECISION" in codes and cm.forced_decision[child]:
        parts.append("a manager's decision")
    if not parts and "FAMILY" in codes and cm.forced[child]:
        parts.append(_family_words(cm, child, src))
    if not parts and "FAMILY" in codes:
        parts.append(f"joins its siblings at {src_id(cm, dst)}")
    if not parts and "OVERLOAD" in codes:
        parts.append(f"{src_id(cm, src)} would be at {_pct((load_after[src] + pts) / cap[src])}"
                     " had it stayed")
    if not parts and "BALANCE" in codes:
        text = (f"to balance loads: {src_id(cm, src)} would be at "
                f"{_pct((load_after[src] + pts) / cap[src])} had it stayed, "
                f"{src_id(cm, dst)} is at {_pct(load_after[dst] / cap[dst])} with it")
        before, after = travel
        if np.isfinite(before) and np.isfinite(after) and after < before - 0.05:
            text += f"; nearer ({after:.1f} instead of {before:.1f})"
        parts.append(text)
    return "; ".join(parts)


def _fit(cm: CaseModel, child: int, worker: int) -> str:
    """What makes the new worker suitable: each rule's words for what the case asks of a worker."""
    words = (r.fit(cm.frame, child, worker) for r in RULES if r.fit is not None)
    return "; ".join(w for w in words if w)


def explanations(cm: CaseModel, plan: pd.DataFrame, workers: pd.DataFrame) -> list[str]:
    """One sentence per move, allocate and unallocated row; empty for a plain keep."""
    f = cm.frame
    idx = f.worker_index
    ub = workers["utilisation_before"].to_numpy(float)
    ua = workers["utilisation_after"].to_numpy(float)
    load_after = workers["load_after"].to_numpy(float)
    tb = plan["travel_before"].to_numpy(float)
    ta = plan["travel_after"].to_numpy(float)
    after = plan["to_worker_id"].map(idx).fillna(-1).to_numpy(np.int64)
    with_siblings = joins_siblings(cm, after)
    candidates = _candidates(cm)
    out = [""] * len(plan)
    for i, (action, src, dst, reasons) in enumerate(zip(
            plan["action"], plan["from_worker_id"], plan["to_worker_id"], plan["reasons"],
            strict=True)):
        note = str(cm.decision_note.iat[i])[:MAX_NOTE] if "DECISION" in reasons else ""
        said = f" (manager's note: {note})" if note else ""
        if action == "keep":
            if cm.fallback[i] and reasons:
                out[i] = (f"kept with {src}: no worker meets every rule "
                          f"({_empty_words(cm, i)}), and {src} stays")
            elif "DECISION" in reasons:
                out[i] = f"kept with {src} by a manager's decision{said}"
            continue
        if action in ("move", "allocate"):
            w = idx[dst]
            if action == "move":
                why = _why_leave(cm, i, idx[src], w, reasons, load_after, (tb[i], ta[i]))
                head = f"from {src} to {dst}" if why == "a manager's decision" \
                    else f"from {src} ({why}) to {dst}"
                teams = f.workers["team"].to_numpy(object)
                if teams[idx[src]] != teams[w]:  # both teams' managers read this row
                    head += f" (team {teams[idx[src]][:40]} → {teams[w][:40]})"
            else:
                head = f"allocated to {dst}" + (" with its siblings" if with_siblings[i] else "")
            if "DECISION" in reasons and cm.decision_kind.iat[i] == "assign":
                head += f" by a manager's decision{said}"
            elif said:
                head += said
            chosen = _why_this_worker(cm, i, w, candidates, workers) \
                if ua[w] > 1.0 + 1e-9 or f.workers["grade"].iat[w] == "asye" else ""
            whole = f"whole plan: {dst} {_pct(ub[w])} → {_pct(ua[w])}"
            if action == "move":
                s = idx[src]
                whole += f", {src} {_pct(ub[s])} → {_pct(ua[s])}"
            changes = change_count_words(cm, i) if action == "move" else ""
            out[i] = head + ": " + "; ".join(t for t in (_fit(cm, i, w), chosen, whole, changes)
                                             if t)
            continue
        # unallocated
        if cm.empty_rule.iat[i]:
            out[i] = f"no eligible worker: {_empty_words(cm, i)}"
        else:
            out[i] = ("eligible workers exist but are all too full or have taken their "
                      f"{cm.cfg.rules.max_new_cases} new children; others needed them more")
        if src:
            s = idx[src]
            out[i] = (f"{src} cannot keep it ({'; '.join(_rule_words(cm, i, s)) or reasons}); "
                      + out[i])
            if change_count_words(cm, i):
                out[i] += f"; {change_count_words(cm, i)}"
    return out


def _candidates(cm: CaseModel) -> dict[int, IntArray]:
    """Per child, the workers it could have been given (its eligible pairs)."""
    c = cm.pairs["c"].to_numpy(np.int64)
    w = cm.pairs["w"].to_numpy(np.int64)
    order = np.argsort(c, kind="stable")
    cuts = np.flatnonzero(np.diff(c[order])) + 1
    return {int(c[g[0]]): w[g] for g in np.split(order, cuts) if g.size}


def _why_this_worker(cm: CaseModel, child: int, worker: int, candidates: dict[int, IntArray],
                     workers: pd.DataFrame) -> str:
    """Why a child went to a worker who ends over capacity, or to a newly qualified worker: the
    binding reason, so the row says what `explain` would."""
    wid = src_id(cm, worker)
    new_now = workers["new_children"].to_numpy(int)
    ua = workers["utilisation_after"].to_numpy(float)
    current = int(cm.current[child])
    pool = candidates.get(child, np.zeros(0, np.int64))
    others = [int(k) for k in pool if k != worker and k != current]
    if not others:
        return f"{wid} is the only eligible worker" + (" besides the current one"
                                                       if current in pool else "")
    full = [k for k in others if new_now[k] >= cm.new_limit[k]]
    if len(full) == len(others):
        return (f"every other eligible worker ({len(others)}) has taken all the new children "
                "its cap allows")
    room = [k for k in others if k not in full]
    least = min(room, key=lambda k: (float(ua[k]), k))
    lowest = float(ua[least])
    if lowest >= float(ua[worker]) - 1e-9:
        more = f" ({len(full)} more have their new-case cap full)" if full else ""
        return (f"{wid} is the least utilised eligible worker with room after the plan; the "
                f"next is at {_pct(lowest)}{more}")
    return f"{wid} costs least overall: {_versus(cm, workers, child, worker, least)}"


def _empty_words(cm: CaseModel, child: int) -> str:
    """Why no worker is left for the child: the rule that removed the last one, and, where
    workers in the area would pass that rule, which other rule bars each of them, so that the
    rules that empty the list together are named together ("the one worker in Corby with
    disability is below the senior grade needed")."""
    rule = cm.empty_rule.iat[child]
    words = RULE_BY_CODE[rule].when_empty(cm.frame, child) if rule in RULE_BY_CODE else rule
    return words + _near_misses(cm, child, rule)


# the case rules whose together-emptied lists are worth naming, and what passing each means
PASSING = {"GRADE": lambda f, c: f"are {GRADES[f.c_min_grade[c]]} or above",
           "SKILLS": lambda f, c: "have " + ", ".join(sorted(f.children["required_skills"]
                                                             .iat[c])),
           "EXCLUDED": lambda f, c: "are not excluded for this child",
           "PINNED": lambda f, c: "are not forbidden by a decision"}


def _near_misses(cm: CaseModel, child: int, rule: str) -> str:
    if rule not in PASSING:
        return ""
    f = cm.frame
    ws = np.arange(f.n_workers, dtype=np.int64)
    broken = rules.broken_rules(f, np.full(ws.size, child, np.int64), ws)
    near = ~broken["GEOGRAPHY"] & ~broken["AVAILABLE"] & ~broken[rule]
    if not near.any():
        return ""
    ids = f.workers["worker_id"].to_numpy(object)
    parts = []
    for other in PASSING:
        if other == rule:
            continue
        hit = np.flatnonzero(near & broken[other])
        if hit.size:
            named = ", ".join(str(ids[k]) for k in hit[:3]) + (" …" if hit.size > 3 else "")
            why = RULE_BY_CODE[other].why_current(f, child, int(hit[0])) \
                if hit.size == 1 else RULE_WORDS[other]
            parts.append(f"{named}: {why}")
        near &= ~broken[other]
    n = int(np.count_nonzero(~broken["GEOGRAPHY"] & ~broken["AVAILABLE"] & ~broken[rule]))
    who = "the one worker there who" if n == 1 else f"the {n} workers there who"
    verb = PASSING[rule](f, child)
    if n == 1:  # "the one worker there who has disability", not "who have"
        verb = verb.replace("are ", "is ", 1).replace("have ", "has ", 1)
    return f"; {who} {verb}: " + "; ".join(parts) if parts else ""



def _first_broken(broken: dict[str, np.ndarray]) -> IntArray:
    """Per pair, the index in RULE_ORDER of the first rule it breaks (-1: none): a barred worker
    is listed once, under the first rule that bars it."""
    stack = np.stack([broken[code] for code in RULE_ORDER])
    return np.where(stack.any(axis=0), stack.argmax(axis=0), -1)


def _pricer(cm: CaseModel, workers: pd.DataFrame, pos: int, now: int, ws: IntArray
            ) -> tuple[Callable[[int], dict[str, float]], np.ndarray]:
    """Each registered term one child's worker changes, priced for a worker `k` of `ws` (an
    index into `ws`'s order): its per-pair terms, and the terms of the workers' loads with the
    child on k instead of `now`; and the loads without the child."""
    w_cfg = cm.cfg.weights
    c = np.full(ws.size, pos, np.int64)
    by_pair = cm.pairs_at(c, ws)
    shown = [t for t in terms.PAIR_TERMS if t.name != "unallocated"
             and (cm.inputs_previous or not t.needs_previous)]
    pair_terms = {t.name: t.pair(by_pair, w_cfg) for t in shown if t.pair is not None}
    pts = float(cm.child_points[pos])
    base_load = workers["load_after"].to_numpy(float).copy()
    if now >= 0:
        base_load[now] -= pts  # the plan without this child
    at = {int(w): j for j, w in enumerate(ws)}

    def price(k: int) -> dict[str, float]:
        load = base_load.copy()
        load[k] += pts
        cost = {name: float(v[at[k]]) for name, v in pair_terms.items()}
        cost.update({t.name: t.load(load, cm.capacity, w_cfg)
                     for t in terms.LOAD_TERMS if t.load is not None})
        return {t.name: cost[t.name] for t in terms.TERMS if t.name in cost}

    return price, base_load


def _versus(cm: CaseModel, workers: pd.DataFrame, child: int, chosen: int, other: int) -> str:
    """Why `chosen` beat `other` for a child: what giving it `other` instead would add to the
    whole plan's cost, and the term that adds most."""
    price, _ = _pricer(cm, workers, child, chosen, np.array([chosen, other], np.int64))
    a, b = price(chosen), price(other)
    delta = {t: b[t] - a[t] for t in a}
    term, most = max(delta.items(), key=lambda kv: kv[1])
    label = {t.name: t.label for t in terms.TERMS}.get(term, term)
    return (f"{src_id(cm, other)}, less utilised, would add {sum(delta.values()):,.0f} to the "
            f"plan's cost, most of it in {label} (+{most:,.0f})")


def alternatives(cm: CaseModel, plan: pd.DataFrame, workers: pd.DataFrame, child_id: str,
                 top: int = 3) -> dict[str, Any]:
    """For one child: staying put, the chosen worker and the best other eligible workers, each
    priced term by term as the change to the whole plan's objective if only this child went there
    instead; the workers whose new-case cap is full; and every barred worker under one rule."""
    f = cm.frame
    w_cfg = cm.cfg.weights
    pos = int(np.flatnonzero(f.children["child_id"].to_numpy() == child_id)[0])
    row = plan.iloc[pos]
    n_w = f.n_workers
    c = np.full(n_w, pos, np.int64)
    ws = np.arange(n_w, dtype=np.int64)
    first = _first_broken(rules.broken_rules(f, c, ws))
    barred = {code: [f.workers["worker_id"].iat[k] for k in np.flatnonzero(first == j)]
              for j, code in enumerate(RULE_ORDER) if (first == j).any()}
    cap = cm.capacity
    pts = float(cm.child_points[pos])
    now = f.worker_index.get(row["to_worker_id"], -1)
    before = int(cm.current[pos])
    price, base_load = _pricer(cm, workers, pos, now, ws)
    new_now = workers["new_children"].to_numpy(int)

    planned = price(now) if now >= 0 else None
    short = _short_of_lookahead(cm, pos, first)
    options = []
    for k in np.flatnonzero(first < 0):
        priced = price(int(k))
        if planned is not None:
            priced = {t: v - planned[t] for t, v in priced.items()}
        slots_full = k != before and k != now and new_now[k] >= cm.new_limit[k]
        note = "its new-case cap is full" if slots_full else ""
        if k in short:
            note = short[int(k)]
        options.append((sum(priced.values()), f.workers["worker_id"].iat[k], priced,
                        _pct((base_load[k] + pts) / cap[k]), note))
    options.sort(key=lambda o: (o[0], o[1]))
    chosen = next((o for o in options if o[1] == row["to_worker_id"]), None)
    stay = None
    if before >= 0 and before != now:
        wid = f.workers["worker_id"].iat[before]
        barring = [r.code for r in RULES if cm.current_broken[r.code][pos]]
        if cm.forced[pos] and not barring:
            barring = ["FAMILY"]
        stay = {"worker_id": wid, "allowed": not barring, "rules": barring,
                "option": next((o for o in options if o[1] == wid), None)}
    others = [o for o in options if o[1] not in (row["to_worker_id"], stay and stay["worker_id"])]
    unit = np.flatnonzero(cm.unit == cm.unit[pos])
    siblings = [f.children["child_id"].iat[k] for k in unit if k != pos]
    slots = {f.workers["worker_id"].iat[k]: f"{new_now[k]}/{cm.new_limit[k]}" for k in range(n_w)}
    unalloc = float(terms.unallocated(f.children["priority"].iloc[[pos]], w_cfg)[0])
    return {
        "siblings_in_unit": siblings, "new_case_slots": slots,
        "child_id": child_id, "action": row["action"], "from": row["from_worker_id"],
        "to": row["to_worker_id"], "reasons": row["reasons"],
        "unallocated_cost": unalloc, "stay": stay, "move_factor": move_factor_parts(cm, pos),
        "chosen": chosen, "alternatives": others[:top], "ineligible": barred,
        "weeks": cm.cfg.weeks,
    }


def _short_of_lookahead(cm: CaseModel, pos: int, first: IntArray) -> dict[int, str]:
    """Eligible workers the look-ahead's rule kept from the child (`build.lookahead_pairs`):
    those who cannot hold children in every week of the look-ahead, why, in words."""
    if cm.cfg.weeks < 2:
        return {}
    cal = calendar(cm.frame.workers, cm.cfg)
    stays: BoolArray = np.asarray(cal.can_hold.all(axis=1))
    eligible = np.flatnonzero(first < 0)
    if not stays[eligible].any():  # none can keep it: the rule keeps them all
        return {}
    out = {}
    for k in eligible[~stays[eligible]].tolist():
        if k == cm.current[pos]:
            continue
        week = int(np.argmin(cal.can_hold[k]))
        why = {"LEAVING": "leaves", "ABSENT": "is away", "STARTS": "starts"}.get(
            cal.why(k, week), "cannot hold children")
        out[k] = (f"not offered: {why} within the look-ahead (cannot hold children from "
                  f"{cal.starts[week].isoformat()}), so the child would change again")
    return out


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
        words = absence_words(cm.frame, k)
        return ("absent for the planning horizon" if words == "absent" else words) \
            + ": holds no children after the plan"
    return ""


@dataclass(frozen=True)
class Explained:
    """`rebalancer explain`: a worker's story, or a child's alternatives with its explanation."""

    story: dict[str, Any] | None = None
    alternatives: dict[str, Any] | None = None
    explanation: str = ""


def explain(cm: CaseModel, plan: pd.DataFrame, workers: pd.DataFrame, child_id: str | None,
            worker: str | None) -> Explained:
    """`rebalancer explain`: a child's alternatives (or a worker's story); an ID the plan does
    not hold is a UsageError."""
    if worker is not None:
        if worker not in set(workers["worker_id"]):
            raise UsageError(f"no worker {worker[:40]!r} in the plan", "--worker")
        return Explained(story=worker_story(cm, plan, workers, worker))
    if child_id is None or child_id not in set(plan["child_id"]):
        raise UsageError(f"give a CHILD_ID of the plan (got {str(child_id)[:40]!r})")
    row = plan.loc[plan["child_id"] == child_id].iloc[0]
    return Explained(alternatives=alternatives(cm, plan, workers, child_id),
                     explanation=str(row.get("explanation", "")))
