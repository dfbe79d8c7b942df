"""The hard eligibility rules, one function each, vectorised over arrays of (child, worker) pairs.

Every function returns a mask that is True where the pair passes the rule. The same functions
judge candidate pairs, the current assignment (to find forced moves) and `explain`'s alternatives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rebalancer.config import GRADES, Config
from rebalancer.io.inputs import Inputs
from rebalancer.model.calendar import calendar

BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.integer[Any]]
FloatArray = NDArray[np.floating[Any]]
GRADE_RANK = {g: i for i, g in enumerate(GRADES)}
EARTH_RADIUS_KM = 6371.0088

MAX_TAG_SHOWN = 24  # a skill tag is free text: messages quote at most this much of it


@dataclass
class Frame:
    """Column arrays of the validated tables, indexed by row position, ready for pair lookups."""

    cfg: Config
    workers: pd.DataFrame
    children: pd.DataFrame
    worker_index: dict[str, int]
    w_locality: IntArray
    c_locality: IntArray
    w_grade: IntArray
    c_min_grade: IntArray
    w_skills: NDArray[np.uint64]
    c_skills: NDArray[np.uint64]
    w_absent: BoolArray
    w_leaving: BoolArray
    excluded_keys: IntArray  # child * n_workers + worker, sorted
    forbid_keys: IntArray
    travel_minutes: pd.Series | None  # indexed by child * n_workers + worker
    w_lat: FloatArray
    w_lon: FloatArray
    c_lat: FloatArray
    c_lon: FloatArray

    @property
    def n_workers(self) -> int:
        return len(self.workers)

    @property
    def n_children(self) -> int:
        return len(self.children)

    @property
    def w_stays(self) -> BoolArray:
        return ~(self.w_absent | self.w_leaving)


def _tag_bits(lists: pd.Series, vocab: dict[str, int]) -> NDArray[np.uint64]:
    words = max(1, (len(vocab) + 63) // 64)
    bits = np.zeros((len(lists), words), np.uint64)
    for row, tags in enumerate(lists):
        for t in tags:
            b = vocab[t]
            bits[row, b // 64] |= np.uint64(1) << np.uint64(b % 64)
    return bits


def min_grade(children: pd.DataFrame, cfg: Config) -> IntArray:
    """The least grade a child needs: the strictest of its case rules; min_grade overrides."""
    rule = cfg.rules.min_grade
    need = np.zeros(len(children), np.int64)
    for case_type in ("assessment", "cin", "cp", "cla"):
        if case_type in rule:
            hit = (children["case_type"] == case_type).to_numpy()
            need = np.where(hit, np.maximum(need, GRADE_RANK[rule[case_type]]), need)
    if "in_proceedings" in rule:
        hit = children["in_proceedings"].to_numpy(bool)
        need = np.where(hit, np.maximum(need, GRADE_RANK[rule["in_proceedings"]]), need)
    override = children["min_grade"].map(lambda g: GRADE_RANK.get(g, -1)).to_numpy(np.int64)
    return np.where(override >= 0, override, need)


def frame(inputs: Inputs, cfg: Config) -> Frame:
    w, c = inputs.workers, inputs.children
    n_w = len(w)
    worker_index = {wid: i for i, wid in enumerate(w["worker_id"])}
    localities = {loc: i for i, loc in enumerate(sorted(set(w["locality"]) | set(c["locality"])))}
    vocab_tags = sorted({t for ts in w["skills"] for t in ts} | {t for ts in c["required_skills"]
                                                                  for t in ts})
    vocab = {t: i for i, t in enumerate(vocab_tags)}
    week0 = calendar(w, dataclasses.replace(cfg, lookahead_days=0))
    ex_c = np.repeat(np.arange(len(c)), c["excluded_worker_ids"].map(len).to_numpy())
    ex_w = np.array([worker_index[x] for xs in c["excluded_worker_ids"] for x in xs], np.int64)
    child_index = {cid: i for i, cid in enumerate(c["child_id"])}
    d = inputs.decisions
    forbid = d[d["decision"] == "forbid"]
    forbid_keys = np.sort(forbid["child_id"].map(child_index).to_numpy(np.int64) * n_w
                          + forbid["worker_id"].map(worker_index).to_numpy(np.int64))
    travel = None
    if inputs.travel is not None:
        t = inputs.travel
        keys = (t["child_id"].map(child_index).to_numpy(np.int64) * n_w
                + t["worker_id"].map(worker_index).to_numpy(np.int64))
        travel = pd.Series(t["minutes"].to_numpy(float), index=keys).sort_index()
    return Frame(
        cfg=cfg, workers=w, children=c, worker_index=worker_index,
        w_locality=w["locality"].map(localities).to_numpy(np.int64),
        c_locality=c["locality"].map(localities).to_numpy(np.int64),
        w_grade=w["grade"].map(GRADE_RANK).to_numpy(np.int64),
        c_min_grade=min_grade(c, cfg),
        w_skills=_tag_bits(w["skills"], vocab), c_skills=_tag_bits(c["required_skills"], vocab),
        # AVAILABLE is the calendar's week 0: leaving within the horizon, or absent (not
        # available, away within the horizon, or not yet in post)
        w_absent=(week0.absent | week0.not_started)[:, 0], w_leaving=week0.leaving[:, 0],
        excluded_keys=np.sort(ex_c * n_w + ex_w), forbid_keys=forbid_keys, travel_minutes=travel,
        w_lat=w["base_lat"].to_numpy(float), w_lon=w["base_lon"].to_numpy(float),
        c_lat=c["lat"].to_numpy(float), c_lon=c["lon"].to_numpy(float),
    )


def distance_km(f: Frame, c: IntArray, w: IntArray) -> FloatArray:
    """Great-circle distance between worker base and child; NaN where a coordinate is missing."""
    lat1, lon1 = np.radians(f.w_lat[w]), np.radians(f.w_lon[w])
    lat2, lon2 = np.radians(f.c_lat[c]), np.radians(f.c_lon[c])
    h = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def travel_minutes(f: Frame, c: IntArray, w: IntArray) -> FloatArray:
    """Minutes from the travel table; NaN where the pair is not in it (or there is no table)."""
    if f.travel_minutes is None:
        return np.full(len(c), np.nan)
    keys = c * f.n_workers + w
    return f.travel_minutes.reindex(keys).to_numpy(float)


def travel(f: Frame, c: IntArray, w: IntArray) -> tuple[FloatArray, FloatArray]:
    """Travel of a pair for the travel term: (minutes or NaN, km or NaN)."""
    return travel_minutes(f, c, w), distance_km(f, c, w)


def rule_geography(f: Frame, c: IntArray, w: IntArray) -> BoolArray:
    # GEOGRAPHY: same locality, or within max_travel km/minutes, or no limit ("off").
    mode = f.cfg.rules.geography
    limit = f.cfg.rules.max_travel
    if mode == "locality":
        return np.asarray(f.w_locality[w] == f.c_locality[c])
    if mode == "km":
        return np.asarray(distance_km(f, c, w) <= limit)
    if mode == "minutes":
        return np.asarray(travel_minutes(f, c, w) <= limit)
    return np.ones(len(c), bool)


def rule_available(f: Frame, c: IntArray, w: IntArray) -> BoolArray:
    # AVAILABLE: a worker who is absent or leaving within the horizon holds no children.
    return np.asarray(f.w_stays[w])


def rule_grade(f: Frame, c: IntArray, w: IntArray) -> BoolArray:
    # GRADE: the worker's grade is at least the child's minimum grade.
    return np.asarray(f.w_grade[w] >= f.c_min_grade[c])


def rule_skills(f: Frame, c: IntArray, w: IntArray) -> BoolArray:
    # SKILLS: the worker has every skill the child requires.
    return np.asarray(((f.c_skills[c] & ~f.w_skills[w]) == 0).all(axis=1))


def rule_excluded(f: Frame, c: IntArray, w: IntArray) -> BoolArray:
    # EXCLUDED: never a worker in the child's excluded_worker_ids.
    return ~np.isin(c * f.n_workers + w, f.excluded_keys)


def rule_forbid(f: Frame, c: IntArray, w: IntArray) -> BoolArray:
    # PINNED (forbid): a manager's 'forbid' decision keeps the child away from that worker.
    return ~np.isin(c * f.n_workers + w, f.forbid_keys)


def _tags(tags: tuple[str, ...] | set[str]) -> str:
    return ", ".join(t if len(t) <= MAX_TAG_SHOWN else t[:MAX_TAG_SHOWN - 1] + "…"
                     for t in sorted(tags))


def _grade_words(f: Frame, c: int, w: int) -> str:
    return f"{f.workers['grade'].iat[w]} below the {GRADES[f.c_min_grade[c]]} grade needed"


def _skills_words(f: Frame, c: int, w: int) -> str:
    missing = set(f.children["required_skills"].iat[c]) - set(f.workers["skills"].iat[w])
    return "lacks " + _tags(missing)


def _available_words(f: Frame, c: int, w: int) -> str:
    return absence_words(f, w)


def absence_words(f: Frame, w: int) -> str:
    """Why a worker holds no children after the plan, in words: leaving, not yet in post, away
    (with its dates), or absent."""
    row = f.workers.iloc[w]
    if f.w_leaving[w]:
        return f"leaving {row['leaving_on']}"
    starts, away, until = row.get("starts_on"), row.get("away_from"), row.get("away_until")
    if row["available"] and starts is not None and starts > f.cfg.plan_date:
        return f"starts on {starts}"
    if row["available"] and away is not None:
        return f"away from {away}" + (f" to {until}" if until is not None else "")
    return "absent"


def _geography_fit(f: Frame, c: int, w: int) -> str:
    mode = f.cfg.rules.geography
    if mode == "locality":
        return "same locality"
    if mode in ("km", "minutes"):
        return f"within {f.cfg.rules.max_travel:g} {mode}"
    return ""


def _grade_fit(f: Frame, c: int, w: int) -> str:
    need = int(f.c_min_grade[c])
    if need == 0:
        return ""
    why = " for proceedings" if bool(f.children["in_proceedings"].iat[c]) else ""
    return f"{GRADES[need]} grade needed{why} ({f.workers['grade'].iat[w]})"


def _skills_fit(f: Frame, c: int, w: int) -> str:
    skills = f.children["required_skills"].iat[c]
    return "has " + _tags(skills) if skills else ""


def _available_reasons(f: Frame, w: IntArray) -> NDArray[np.str_]:
    return np.where(f.w_leaving[w], "LEAVING", "ABSENT")


@dataclass(frozen=True)
class Rule:
    """One pairwise hard rule, declared once: everything else (candidate pairs, forced moves,
    reason codes, explanations, `explain`'s barred workers) derives from this table."""

    code: str  # the rule's code in reports
    reason: str  # the reason code on a plan row whose old worker breaks it
    words: str  # why a worker is barred, in a manager's words
    check: Callable[[Frame, IntArray, IntArray], BoolArray]  # True where the pair passes
    why_current: Callable[[Frame, int, int], str]  # why the child's worker cannot keep it
    when_empty: Callable[[Frame, int], str]  # why no worker is left for the child
    decision: bool = False  # comes from a manager's decision, not from the case's facts
    reasons: Callable[[Frame, IntArray], NDArray[np.str_]] | None = None  # per worker, if varied
    fit: Callable[[Frame, int, int], str] | None = None  # why a worker suits the child ("" none)

    def reason_codes(self, f: Frame, w: IntArray) -> NDArray[np.str_]:
        return self.reasons(f, w) if self.reasons else np.full(len(w), self.reason)


# In the order they are applied when reporting which rule emptied a child's list.
RULES: tuple[Rule, ...] = (
    Rule("GEOGRAPHY", "GEOGRAPHY", "outside the child's area", rule_geography,
         lambda f, c, w: "outside the child's area",
         lambda f, c: f"no worker covers {f.children['locality'].iat[c][:40]}",
         fit=_geography_fit),
    Rule("AVAILABLE", "ABSENT", "leaving or absent", rule_available, _available_words,
         lambda f, c: "every worker in the area is leaving or absent",
         reasons=_available_reasons),
    Rule("GRADE", "GRADE", "grade below what the case needs", rule_grade, _grade_words,
         lambda f, c: f"no available {GRADES[f.c_min_grade[c]]} or above in the area",
         fit=_grade_fit),
    Rule("SKILLS", "SKILLS", "lacks a required skill", rule_skills, _skills_words,
         lambda f, c: "no available worker in the area has "
         + _tags(f.children["required_skills"].iat[c]), fit=_skills_fit),
    Rule("EXCLUDED", "EXCLUDED", "excluded for this child", rule_excluded,
         lambda f, c, w: "excluded for this child",
         lambda f, c: "every suitable worker is excluded for this child"),
    Rule("PINNED", "DECISION", "forbidden by a manager's decision", rule_forbid,
         lambda f, c, w: "a manager's decision forbids this worker",
         lambda f, c: "every suitable worker is forbidden by a decision", decision=True),
)
RULE_BY_CODE = {r.code: r for r in RULES}
RULE_ORDER = tuple(r.code for r in RULES)
RULE_WORDS = {r.code: r.words for r in RULES}


def broken_rules(f: Frame, c: IntArray, w: IntArray) -> dict[str, BoolArray]:
    """For each rule, where the pair breaks it (used for the current assignment and `explain`)."""
    return {r.code: ~r.check(f, c, w) for r in RULES}
