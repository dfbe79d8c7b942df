"""The rolling simulation: 13 weekly re-plans of a generated 5,000-child county whose events
unfold week by week, once with the look-ahead off (`lookahead_days = 0`) and once with the
default (91 days); every change of worker each child experiences is counted.

    python -m bench.lookahead rolling

The world (seed 2029) is drawn once and is the same for both runs:
- the county as generated (its calendar is known from the start);
- more departures, each announced with notice (28-56 days; an agency worker's 7-21), and long
  absences announced 14-42 days ahead, spread over the 13 weeks: a plan sees a worker's date
  only from the week it is announced;
- each week about 1.2% of open cases close and as many new referrals arrive without a worker.
Each week's plan is `rebalance --previous` (last week's plan) at the same work; what it decides
for week 0 is carried out: children's `current_worker_id`, `allocated_on` and
`worker_changes_12m` follow it into the next week's inputs.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent / "out" / "lookahead" / "rolling"
CLI = str(Path(sys.executable).parent / "rebalancer")
START = dt.date(2026, 12, 1)
WEEKS = 13
WORK = 10.0
SIZE = (5000, 430)  # children, workers
TURNOVER = 0.012  # of open cases closing, and as many referrals, each week


def _world(seed: int = 2029) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[pd.DataFrame],
                                      list[np.ndarray]]:
    """Workers (with announcement dates), children, and each week's referrals and closures."""
    d = ROOT / "generated"
    if not (d / "children.csv").is_file():
        subprocess.run([CLI, "generate", "--children", str(SIZE[0]), "--workers", str(SIZE[1]),
                        "--seed",
                        str(seed), "--scenario", "steady", "--out", str(d)], check=True,
                       stdout=subprocess.DEVNULL)
    w = pd.read_csv(d / "workers.csv", dtype=str, keep_default_na=False)
    c = pd.read_csv(d / "children.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed)
    m = len(w)
    w["leaving_known"] = START.isoformat()
    w["away_known"] = START.isoformat()
    free = (w["leaving_on"] == "") & (w["away_from"] == "") & (w["starts_on"] == "") & (
        w["available"] == "true")
    agency = (w["agency"] == "true").to_numpy()
    # about 14% a year leave: a quarter's share more, announced during the 13 weeks
    leaves = free.to_numpy() & (rng.random(m) < 0.035 * np.where(agency, 2.0, 0.7))
    notice = np.where(agency, rng.integers(7, 22, m), rng.integers(28, 57, m))
    announced = rng.integers(0, 7 * WEEKS, m)
    for i in np.flatnonzero(leaves):
        a = START + dt.timedelta(days=int(announced[i]))
        w.loc[i, "leaving_on"] = (a + dt.timedelta(days=int(notice[i]))).isoformat()
        w.loc[i, "leaving_known"] = a.isoformat()
    away = free.to_numpy() & ~leaves & (rng.random(m) < 0.02)
    ahead = rng.integers(14, 43, m)
    for i in np.flatnonzero(away):
        a = START + dt.timedelta(days=int(announced[i]))
        w.loc[i, "away_from"] = (a + dt.timedelta(days=int(ahead[i]))).isoformat()
        w.loc[i, "away_until"] = (a + dt.timedelta(days=int(ahead[i]) + 180)).isoformat()
        w.loc[i, "away_known"] = a.isoformat()
    referrals, closures = [], []
    per_week = round(TURNOVER * len(c))
    for t in range(WEEKS):
        new = c.sample(per_week, random_state=int(rng.integers(1 << 31))).copy()
        new["child_id"] = [f"N{t:02d}{k:04d}" for k in range(per_week)]
        new["family_id"] = ""
        new["current_worker_id"] = ""
        new["allocated_on"] = ""
        new["pinned"] = "false"
        new["excluded_worker_ids"] = ""
        new["worker_changes_12m"] = "0"
        referrals.append(new)
        closures.append(rng.random(len(c) + per_week * WEEKS))
    return w, c, c.iloc[:0], referrals, closures


def _visible(w: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """The workers table as HR knows it on `day`: dates not yet announced are not in it."""
    v = w.copy()
    hidden = pd.to_datetime(v["leaving_known"]).dt.date > day
    v.loc[hidden, "leaving_on"] = ""
    hidden = pd.to_datetime(v["away_known"]).dt.date > day
    v.loc[hidden, ["away_from", "away_until"]] = ""
    return v.drop(columns=["leaving_known", "away_known"])


def simulate(days: int) -> dict[str, object]:
    workers, children, _, referrals, closures = _world()
    home = ROOT / f"lookahead{days}"
    home.mkdir(parents=True, exist_ok=True)
    kids = children.copy()
    changes: dict[str, int] = {}
    unallocated_weeks = 0
    overload = 0.0
    over_workers = 0
    previous: Path | None = None
    for t in range(WEEKS):
        day = START + dt.timedelta(days=7 * t)
        open_ = closures[t][: len(kids)] >= TURNOVER  # cases closing this week
        kids = pd.concat([kids[open_], referrals[t]], ignore_index=True)
        d = home / f"week{t:02d}"
        d.mkdir(exist_ok=True)
        _visible(workers, day).to_csv(d / "workers.csv", index=False)
        kids.to_csv(d / "children.csv", index=False)
        (d / "config.toml").write_text(f"plan_date = {day}\nlookahead_days = {days}\n")
        args = [CLI, "rebalance", "--workers", str(d / "workers.csv"), "--children",
                str(d / "children.csv"), "--config", str(d / "config.toml"), "--out",
                str(d / "plan"), "--work", str(WORK), "--time-limit", "3600", "--quiet",
                "--replace"]
        if previous is not None:
            args += ["--previous", str(previous)]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        previous = d / "plan"
        plan = pd.read_csv(d / "plan" / "plan.csv", dtype=str, keep_default_na=False,
                           encoding="utf-8-sig").set_index("child_id")
        to = plan["to_worker_id"].reindex(kids["child_id"]).to_numpy(object)
        before = kids["current_worker_id"].to_numpy(object)
        moved = (before != "") & (to != before)
        for cid in kids["child_id"].to_numpy(object)[moved]:
            changes[cid] = changes.get(cid, 0) + 1
        given = to != before
        kids["current_worker_id"] = to
        kids.loc[given, "allocated_on"] = day.isoformat()
        kids.loc[moved, "worker_changes_12m"] = (
            kids.loc[moved, "worker_changes_12m"].astype(int) + 1).astype(str)
        s = json.loads((d / "plan" / "summary.json").read_text())
        after = s["kpis"]["after"]
        unallocated_weeks += int(after["unallocated"])
        overload += float(after["total_overload_points"])
        over_workers += int(after["workers_over_capacity"])
    n = np.array(list(changes.values()))
    return {"lookahead_days": days, "changes": int(n.sum()),
            "children_changed": int((n >= 1).sum()), "children_twice": int((n >= 2).sum()),
            "unallocated_child_weeks": unallocated_weeks,
            "overload_point_weeks": round(overload, 1), "over_capacity_worker_weeks": over_workers}


def rolling() -> None:
    rows = [simulate(0), simulate(91)]
    for r in rows:
        print(json.dumps(r), flush=True)
    (ROOT / "rolling.json").write_text(json.dumps(rows, indent=1))
