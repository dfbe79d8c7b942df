"""Synthetic counties, realistic by the domain brief, for the demo, tests and benchmarks.

Shapes (not exact figures) follow the brief: ~12% of children on a CP plan, ~21% looked after,
assessments and child in need plans the rest; ~23% of workers newly qualified; a quarter agency
in a crisis; siblings mostly held by one worker; loads skewed towards first-response teams;
some newly qualified workers holding child protection cases; some children unallocated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TOWNS = [("Northampton", 52.237, -0.894), ("Kettering", 52.398, -0.726),
         ("Corby", 52.489, -0.701), ("Wellingborough", 52.302, -0.694),
         ("Daventry", 52.257, -1.162), ("Towcester", 52.134, -0.990),
         ("Rushden", 52.289, -0.601), ("Brackley", 52.032, -1.147),
         ("Oundle", 52.481, -0.469), ("Thrapston", 52.397, -0.538)]
TEAM_KINDS = ["Assessment", "Safeguarding", "Children in Care"]
SKILLS = {"disability": 0.10, "uasc": 0.05, "bsl": 0.02, "polish": 0.04, "urdu": 0.03,
          "romanian": 0.03}
NEEDS = {"disability": 0.05, "uasc": 0.02, "bsl": 0.004, "polish": 0.01, "urdu": 0.008,
         "romanian": 0.008}


@dataclass(frozen=True)
class ScenarioShape:
    agency: float
    leaving: float
    absent: float
    unallocated: float
    skew: float  # sigma of the lognormal spread of current loads
    asye_cp: float  # share of CP children held by newly qualified workers before the plan
    churn: float = 1.0  # scales the changes of worker children had in the last 12 months


SHAPES = {
    "crisis": ScenarioShape(agency=0.25, leaving=0.05, absent=0.05, unallocated=0.075, skew=0.4,
                            asye_cp=0.10),
    "steady": ScenarioShape(agency=0.16, leaving=0.02, absent=0.03, unallocated=0.01, skew=0.3,
                            asye_cp=0.0, churn=0.5),
    "leavers": ScenarioShape(agency=0.30, leaving=0.15, absent=0.04, unallocated=0.03, skew=0.4,
                             asye_cp=0.04, churn=1.2),
    "edge": ScenarioShape(agency=0.25, leaving=0.15, absent=0.10, unallocated=0.10, skew=1.0,
                          asye_cp=0.2),
}


def _localities(n: int) -> list[tuple[str, float, float]]:
    out = []
    for i in range(n):
        name, lat, lon = TOWNS[i % len(TOWNS)]
        if i >= len(TOWNS):  # a region: more areas around the same towns
            name = f"{name} {i // len(TOWNS) + 1}"
            lat += 0.6 * (i // len(TOWNS))
        out.append((name, lat, lon))
    return out


def _tags(rng: np.random.Generator, n: int, shares: dict[str, float]) -> list[str]:
    picks = [np.where(rng.random(n) < p, t, "") for t, p in shares.items()]
    return [";".join(t for t in row if t) for row in zip(*picks, strict=True)]


def _workers(rng: np.random.Generator, m: int, shape: ScenarioShape, plan: dt.date,
             locs: list[tuple[str, float, float]]) -> pd.DataFrame:
    loc = rng.integers(0, len(locs), m)
    loc[: len(locs)] = np.arange(min(m, len(locs)))  # every locality has someone
    kind = rng.choice(len(TEAM_KINDS), m, p=[0.35, 0.40, 0.25])
    team_no = rng.integers(1, 3, m)
    grade = rng.choice(["asye", "sw", "senior", "advanced"], m, p=[0.23, 0.43, 0.26, 0.08])
    fte = np.where(rng.random(m) < 0.8, 1.0, rng.choice([0.5, 0.6, 0.8], m))
    agency = rng.random(m) < shape.agency
    leaving = (rng.random(m) < shape.leaving * np.where(agency, 2.0, 0.6))
    days = rng.integers(0, 14, m)
    leaving_on = [(plan + dt.timedelta(days=int(d))).isoformat() if x else ""
                  for d, x in zip(days, leaving, strict=True)]
    later = (~leaving) & (rng.random(m) < 0.03)  # leaving after the horizon: still plannable
    for i in np.flatnonzero(later):
        leaving_on[i] = (plan + dt.timedelta(days=int(rng.integers(40, 120)))).isoformat()
    reduction = np.where(rng.random(m) < 0.08, rng.choice([10, 20, 40], m), 0)
    return pd.DataFrame({
        "worker_id": [f"W{i:04d}" for i in range(1, m + 1)],
        "team": [f"{locs[a][0]} {TEAM_KINDS[k]} {t}" for a, k, t in zip(loc, kind, team_no,
                                                                       strict=True)],
        "locality": [locs[a][0] for a in loc],
        "grade": grade,
        "fte": fte,
        "agency": np.where(agency, "true", "false"),
        "capacity_points": "",
        "reduction_pct": np.where(reduction > 0, reduction.astype(str), ""),
        "available": np.where(rng.random(m) < shape.absent, "false", "true"),
        "leaving_on": leaving_on,
        "base_lat": np.round([locs[a][1] for a in loc] + rng.normal(0, 0.01, m), 5),
        "base_lon": np.round([locs[a][2] for a in loc] + rng.normal(0, 0.01, m), 5),
        "skills": _tags(rng, m, SKILLS),
        "max_new_cases": "",
    })


def _families(rng: np.random.Generator, n: int) -> np.ndarray:
    """Family index per child: about 40% of children have a sibling in the caseload."""
    sizes = []
    total = 0
    while total < n:
        s = int(rng.choice([1, 2, 3, 4], p=[0.72, 0.18, 0.07, 0.03]))
        sizes.append(min(s, n - total))
        total += sizes[-1]
    return np.repeat(np.arange(len(sizes)), sizes)


def _children(rng: np.random.Generator, n: int, shape: ScenarioShape, plan: dt.date,
              locs: list[tuple[str, float, float]], workers: pd.DataFrame) -> pd.DataFrame:
    fam = _families(rng, n)
    n_fam = fam.max() + 1
    fam_loc = rng.integers(0, len(locs), n_fam)
    fam_type = rng.choice(["assessment", "cin", "cp", "cla"], n_fam, p=[0.22, 0.45, 0.12, 0.21])
    case_type = fam_type[fam]
    loc = fam_loc[fam]
    proceedings = ((case_type == "cla") & (rng.random(n) < 0.30)) | (
        (case_type == "cp") & (rng.random(n) < 0.10))
    priority = np.where((case_type == "cp") | proceedings, "high",
                        np.where(case_type == "assessment", rng.choice(["high", "medium"], n,
                                                                       p=[0.3, 0.7]),
                                 rng.choice(["medium", "low"], n, p=[0.7, 0.3])))
    lat = np.array([locs[a][1] for a in loc]) + rng.normal(0, 0.05, n)
    lon = np.array([locs[a][2] for a in loc]) + rng.normal(0, 0.05, n)
    # current allocation: skewed loads within the locality, siblings together (mostly)
    grade_rank = workers["grade"].map({"asye": 0, "sw": 1, "senior": 2, "advanced": 3})
    wloc = workers["locality"].to_numpy()
    pull = np.clip(rng.lognormal(0, shape.skew, len(workers)), 0.4, 2.0)
    pull *= workers["fte"].to_numpy()
    pull *= np.where(workers["team"].str.contains("Assessment"), 1.4, 1.0)
    current = np.full(n, "", dtype=object)
    by_loc = {name: np.flatnonzero(wloc == name) for name, _, _ in locs}
    fam_worker: dict[int, str] = {}
    needs = _tags(rng, n, NEEDS)
    wskills = [set(x.split(";")) for x in workers["skills"]]
    for i in range(n):
        f = int(fam[i])
        if f in fam_worker and rng.random() < 0.9:
            current[i] = fam_worker[f]
            continue
        pool = by_loc[locs[loc[i]][0]]
        if pool.size == 0:
            continue
        need = 2 if proceedings[i] else (1 if case_type[i] == "cp" else 0)
        ok = pool[grade_rank.to_numpy()[pool] >= need]
        if ok.size == 0 or (case_type[i] == "cp" and rng.random() < shape.asye_cp):
            ok = pool
        if needs[i] and rng.random() < 0.85:  # most needs are already met by the current worker
            skilled = [k for k in ok if set(needs[i].split(";")) <= wskills[k]]
            ok = np.array(skilled) if skilled else ok
        p = pull[ok] / pull[ok].sum()
        current[i] = workers["worker_id"].iat[int(rng.choice(ok, p=p))]
        fam_worker.setdefault(f, current[i])
    unalloc_p = np.where(case_type == "assessment", shape.unallocated * 2.5, shape.unallocated / 3)
    current[rng.random(n) < unalloc_p] = ""
    months = np.where(case_type == "assessment", rng.uniform(0, 2, n),
                      rng.gamma(2.0, 5.0, n))
    allocated = [(plan - dt.timedelta(days=int(m * 30.4))).isoformat() if c else ""
                 for m, c in zip(months, current, strict=True)]
    fam_ids = np.array([f"F{f + 1:05d}" for f in fam], dtype=object)
    singles = np.bincount(fam)[fam] == 1
    fam_ids[singles] = ""
    excluded = np.full(n, "", dtype=object)
    ex = np.flatnonzero(rng.random(n) < 0.01)
    for i in ex.tolist():
        pool = by_loc[locs[loc[i]][0]]
        if pool.size:
            excluded[i] = workers["worker_id"].iat[int(rng.choice(pool))]
    excluded[(excluded == current) & (rng.random(n) < 0.5)] = ""  # some exclusions already hold
    pinned = (current != "") & proceedings & (rng.random(n) < 0.15)
    return pd.DataFrame({
        "child_id": [f"C{i:06d}" for i in range(1, n + 1)],
        "family_id": fam_ids,
        "case_type": case_type,
        "in_proceedings": np.where(proceedings, "true", "false"),
        "locality": [locs[a][0] for a in loc],
        "lat": np.round(lat, 5), "lon": np.round(lon, 5),
        "current_worker_id": current,
        "allocated_on": allocated,
        "priority": priority,
        "points": "",
        "min_grade": "",
        "required_skills": needs,
        "excluded_worker_ids": excluded,
        "pinned": np.where(pinned, "true", "false"),
    })


# mean changes of worker in 12 months, by case type, in a crisis county: about a quarter of
# children in care end with two or more (the Children's Commissioner's Stability Index, 2017)
CHANGES_MEAN = {"cla": 1.3, "cp": 1.0, "cin": 0.75, "assessment": 0.15}


def recent_changes(rng: np.random.Generator, children: pd.DataFrame, shape: ScenarioShape,
                   plan: dt.date) -> np.ndarray:
    """worker_changes_12m per child, consistent with allocated_on: a child whose current worker
    has held it for more than a year had no change in the year."""
    mean = children["case_type"].map(CHANGES_MEAN).to_numpy(float) * shape.churn
    n = rng.poisson(mean)
    since = pd.to_datetime(children["allocated_on"].replace("", None), errors="coerce")
    held_all_year = (pd.Timestamp(plan) - since).dt.days.to_numpy(float) > 365
    return np.where(held_all_year, 0, np.minimum(n, 6)).astype(np.int64)


# The calendar of the coming 13 weeks (domain: turnover about 14% a year, so a county of 300
# loses about 10 in a quarter, agency workers more likely; a few long absences and starters)
LEAVING_13W = 0.02  # beyond the 3% already leaving after the horizon (in 40-120 days)
AGENCY_LEAVING = 2.0  # times as likely for an agency worker (0.6 for the others)
ABSENT_13W = 0.015  # a long absence (maternity leave, say) starting in 2-10 weeks
STARTERS = 0.02  # new workers starting in 1-10 weeks, holding no children yet


def add_calendar(rng: np.random.Generator, w: pd.DataFrame, plan: dt.date) -> pd.DataFrame:
    """The workers with the calendar's columns (`starts_on`, `away_from`, `away_until`), more
    known departures within 13 weeks, and starters added at the end (with no children)."""
    m = len(w)
    w = w.copy()
    free = (w["leaving_on"] == "").to_numpy() & (w["available"] == "true").to_numpy()
    agency = (w["agency"] == "true").to_numpy()
    leaving = free & (rng.random(m) < LEAVING_13W * np.where(agency, AGENCY_LEAVING, 0.6))
    days = rng.integers(15, 92, m)
    w["leaving_on"] = np.where(leaving, [(plan + dt.timedelta(days=int(d))).isoformat()
                                         for d in days], w["leaving_on"])
    away = free & ~leaving & (rng.random(m) < ABSENT_13W)
    start = rng.integers(14, 71, m)
    length = rng.integers(120, 271, m)
    w["away_from"] = np.where(away, [(plan + dt.timedelta(days=int(d))).isoformat()
                                     for d in start], "")
    w["away_until"] = np.where(away, [(plan + dt.timedelta(days=int(d + n))).isoformat()
                                      for d, n in zip(start, length, strict=True)], "")
    w["starts_on"] = ""
    k = max(1, round(STARTERS * m)) if m >= 20 else 0
    like = w.iloc[rng.choice(m, size=k, replace=True)].copy() if k else w.iloc[:0].copy()
    like["worker_id"] = [f"W{i:04d}" for i in range(m + 1, m + k + 1)]
    like["grade"] = rng.choice(["asye", "sw"], k, p=[0.6, 0.4])
    like["agency"] = "false"
    like["reduction_pct"] = ""
    like["available"] = "true"
    like["leaving_on"] = like["away_from"] = like["away_until"] = ""
    like["starts_on"] = [(plan + dt.timedelta(days=int(d))).isoformat()
                         for d in rng.integers(7, 71, k)]
    return pd.concat([w, like], ignore_index=True)


def generate(children: int, workers: int, seed: int = 0, scenario: str = "crisis",
             plan_date: dt.date = dt.date(2026, 12, 1), with_calendar: bool = True
             ) -> dict[str, pd.DataFrame]:
    """A county (or region) of the given size; the same seed gives the same tables. With the
    calendar (a stream of its own, so every other column is the same without it), `workers` are
    in post and a few starters are added."""
    shape = SHAPES[scenario]
    rng = np.random.default_rng(seed)
    n_loc = max(1, min(60, round(children / 650)))
    locs = _localities(n_loc)
    w = _workers(rng, workers, shape, plan_date, locs)
    c = _children(rng, children, shape, plan_date, locs, w)
    if scenario == "edge":
        _edge_cases(rng, w, c)
    # a stream of its own, so the other columns of a seed are what they were before this column
    c["worker_changes_12m"] = recent_changes(np.random.default_rng([seed, 16]), c, shape,
                                             plan_date)
    if with_calendar:
        w = add_calendar(np.random.default_rng([seed, 29]), w, plan_date)
    return {"workers": w, "children": c}


def _edge_cases(rng: np.random.Generator, w: pd.DataFrame, c: pd.DataFrame) -> None:
    """Awkward but valid situations: needs no one meets, pins on leavers, a locality with no one."""
    n = len(c)
    pick = rng.choice(n, size=min(n, 6), replace=False)
    c.loc[pick[:2], "required_skills"] = "makaton"  # nobody has it
    leavers = w.index[w["leaving_on"] != ""]
    if len(leavers) and len(pick) > 2:
        c.loc[pick[2], "current_worker_id"] = w.at[leavers[0], "worker_id"]
        c.loc[pick[2], "allocated_on"] = "2026-01-05"
        c.loc[pick[2], "pinned"] = "true"
    if len(pick) > 3:
        c.loc[pick[3], "locality"] = "Nowhere"
        c.loc[pick[3], "current_worker_id"] = ""
        c.loc[pick[3], "allocated_on"] = ""
        c.loc[pick[3], "pinned"] = "false"
    if len(pick) > 5:
        c.loc[pick[4], "min_grade"] = "advanced"
        c.loc[pick[5], "points"] = "12.5"


def write_scenario(tables: dict[str, pd.DataFrame], out: Path, fmt: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, df in tables.items():
        p = out / f"{name}.{fmt}"
        if fmt == "csv":
            df.to_csv(p, index=False, lineterminator="\n")
        else:
            df.astype(str).to_parquet(p, index=False)
        paths.append(p)
    return paths
