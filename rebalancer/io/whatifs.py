"""Staffing what-ifs on the input tables: virtual workers added, a team removed, a leaver who
stays. Declared and checked once (every problem at once, like configuration), applied in memory,
and recorded in the plan folder's summary.json so that explain, check and review work on a
what-if's plan as on any other."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from rebalancer.config import GRADES
from rebalancer.io.inputs import Inputs
from rebalancer.problems import InputRejected, Problem, shown

ADD_KEYS = {"locality", "grade", "fte", "count", "team", "skills"}
MAX_ADDED = 1000  # virtual workers in one what-if line
PREFIX = "NEW-"  # virtual workers' IDs start with it


@dataclass(frozen=True)
class WhatIfs:
    add_workers: tuple[dict[str, Any], ...] = ()
    remove_team: tuple[str, ...] = ()
    cancel_leaver: tuple[str, ...] = ()
    capacity_points: tuple[tuple[str, float], ...] = ()  # (worker, capacity): staffing's target

    def __bool__(self) -> bool:
        return bool(self.add_workers or self.remove_team or self.cancel_leaver
                    or self.capacity_points)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"add_workers": [dict(a) for a in self.add_workers],
                               "remove_team": list(self.remove_team),
                               "cancel_leaver": list(self.cancel_leaver)}
        if self.capacity_points:
            out["capacity_points"] = dict(self.capacity_points)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> WhatIfs:
        d = d or {}
        return cls(tuple(d.get("add_workers", ())), tuple(d.get("remove_team", ())),
                   tuple(d.get("cancel_leaver", ())),
                   tuple((str(k), float(v)) for k, v in d.get("capacity_points", {}).items()))


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def read_what_ifs(spec: dict[str, Any], file: str, where: str) -> tuple[WhatIfs, list[Problem]]:
    """A what-if as given in a scenario file, checked: every problem at once, each named."""
    problems: list[Problem] = []

    def bad(key: str, message: str, fix: str) -> None:
        problems.append(Problem(file, "-", f"{where}.{key}", message, fix))

    adds: list[dict[str, Any]] = []
    raw_adds = spec.get("add_workers", [])
    if not isinstance(raw_adds, list):
        bad("add_workers", "is not a list of tables",
            'write add_workers = [{ locality = "Corby", grade = "sw", fte = 1.0, count = 2 }]')
        raw_adds = []
    for i, a in enumerate(raw_adds):
        key = f"add_workers[{i}]"
        if not isinstance(a, dict):
            bad(key, f"{shown(a)} is not a table", "write { locality = ..., grade = ... }")
            continue
        for k in sorted(set(a) - ADD_KEYS):
            bad(f"{key}.{shown(k)[1:-1]}", "is not a key of a worker to add",
                f"use {', '.join(sorted(ADD_KEYS))}")
        loc = a.get("locality")
        if not isinstance(loc, str) or not loc.strip():
            bad(f"{key}.locality", "is missing or empty", 'write locality = "Corby"')
        grade = a.get("grade", "sw")
        if grade not in GRADES:
            bad(f"{key}.grade", f"{shown(grade)} is not a grade", f"use {', '.join(GRADES)}")
        fte = a.get("fte", 1.0)
        if not _number(fte) or not 0 < fte <= 1:
            bad(f"{key}.fte", f"{shown(fte)} is not an FTE in (0, 1]",
                "write fte = 1.0 (and count for more than one worker)")
        count = a.get("count", 1)
        if not _number(count) or count != int(count) or not 1 <= count <= MAX_ADDED:
            bad(f"{key}.count", f"{shown(count)} is not a whole number from 1 to {MAX_ADDED}",
                "write count = 3")
        skills = a.get("skills", [])
        if not isinstance(skills, list) or not all(isinstance(x, str) for x in skills):
            bad(f"{key}.skills", "is not a list of skill tags", 'write skills = ["bsl"]')
        adds.append(dict(a))
    lists: dict[str, tuple[str, ...]] = {}
    for name in ("remove_team", "cancel_leaver"):
        value = spec.get(name, [])
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            bad(name, "is not a list of text values", f'write {name} = ["..."]')
            value = []
        lists[name] = tuple(value)
    return WhatIfs(tuple(adds), lists["remove_team"], lists["cancel_leaver"]), problems


def check_what_ifs(inputs: Inputs, w: WhatIfs, where: str) -> list[Problem]:
    """What the tables must hold for the what-if to mean something: the teams removed, the
    leavers and the localities named."""
    teams = set(inputs.workers["team"])
    workers = set(inputs.workers["worker_id"])
    localities = set(inputs.workers["locality"]) | set(inputs.children["locality"])
    out = []
    for t in w.remove_team:
        if t not in teams:
            out.append(Problem(where, "-", "remove_team", f"{shown(t)} is not a team of the "
                               "workers table", "name a team as the workers table spells it"))
    for wid in w.cancel_leaver:
        if wid not in workers:
            out.append(Problem(where, "-", "cancel_leaver", f"{shown(wid)} is not a worker",
                               "name a worker_id of the workers table"))
    for a in w.add_workers:
        if a.get("locality") not in localities:
            out.append(Problem(where, "-", "add_workers.locality",
                               f"{shown(a.get('locality'))} is no locality of the county",
                               "name a locality of the workers or children table"))
    return out


def apply_what_ifs(inputs: Inputs, w: WhatIfs, where: str = "what-if") -> Inputs:
    """The tables with the what-if applied; refused (all problems at once) when it names what
    the tables do not hold."""
    problems = check_what_ifs(inputs, w, where)
    if problems:
        raise InputRejected(problems)
    wk = inputs.workers.copy()
    ch = inputs.children.copy()
    if w.cancel_leaver:
        wk.loc[wk["worker_id"].isin(w.cancel_leaver), "leaving_on"] = None
    if w.capacity_points:  # capacities scaled to a utilisation target
        cap = dict(w.capacity_points)
        known = wk["worker_id"].isin(list(cap))
        wk.loc[known, "capacity_points"] = wk.loc[known, "worker_id"].map(cap)
    if w.remove_team:
        gone = wk["team"].isin(w.remove_team)
        ch.loc[ch["current_worker_id"].isin(set(wk.loc[gone, "worker_id"])),
               ["current_worker_id", "allocated_on"]] = ["", None]
        ch.loc[ch["pinned"] & (ch["current_worker_id"] == ""), "pinned"] = False
        wk = wk[~gone]
    rows = []
    for j, spec in enumerate(w.add_workers):
        for k in range(int(spec.get("count", 1))):
            rows.append({"worker_id": f"{PREFIX}{j + 1}-{k + 1}",
                         "team": spec.get("team", f"{spec['locality']} (new)"),
                         "locality": spec["locality"], "grade": spec.get("grade", "sw"),
                         "fte": float(spec.get("fte", 1.0)), "agency": False,
                         "capacity_points": float("nan"), "reduction_pct": 0.0,
                         "available": True, "leaving_on": None, "starts_on": None,
                         "away_from": None, "away_until": None, "base_lat": float("nan"),
                         "base_lon": float("nan"), "skills": tuple(spec.get("skills", ())),
                         "max_new_cases": float("nan"), "_row": f"virtual worker {j + 1}"})
    if rows:
        wk = pd.concat([wk, pd.DataFrame(rows)], ignore_index=True).astype(
            {c: object for c in ("leaving_on", "starts_on", "away_from", "away_until")})
        for c in ("leaving_on", "starts_on", "away_from", "away_until"):
            wk[c] = wk[c].where(wk[c].notna(), None)
    return dataclasses.replace(inputs, workers=wk.reset_index(drop=True),
                               children=ch.reset_index(drop=True))
