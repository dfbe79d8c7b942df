"""Loading and validating all input tables together: every problem in every file, at once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rebalancer.config import Config
from rebalancer.io.schema import CHILDREN, DECISIONS, TRAVEL, WORKERS
from rebalancer.io.tables import read_table
from rebalancer.problems import InputRejected, Problem, shown


@dataclass
class Inputs:
    """The validated, typed tables; defaults of optional columns are filled in."""

    workers: pd.DataFrame
    children: pd.DataFrame
    decisions: pd.DataFrame
    travel: pd.DataFrame | None
    files: dict[str, Path] = field(default_factory=dict)
    # the plan to stay close to (`replan`, `rebalance --previous`): child_id -> worker_id, ""
    # for unallocated; children it does not name carry no cost for changing
    previous: pd.Series | None = None
    # that plan's tables as published (plan, schedule or None): the weeks it set out
    published: tuple[pd.DataFrame, pd.DataFrame | None] | None = None
    # a plan to start the search from, at no cost (the frontier's warm starts): same shape
    start: pd.Series | None = None
    # what is applied as given but looks like a mistake (an absence under four weeks, a start
    # after the last day): said with file, row and column, never refused
    warnings: list[Problem] = field(default_factory=list)

    def sha256(self) -> dict[str, str]:
        return {name: file_sha256(path) for name, path in self.files.items()}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fill_defaults(workers: pd.DataFrame, children: pd.DataFrame) -> None:
    """Optional columns take the contract's defaults where a cell is empty."""
    workers["agency"] = workers["agency"].fillna(False).astype(bool)
    workers["available"] = workers["available"].fillna(True).astype(bool)
    workers["reduction_pct"] = workers["reduction_pct"].fillna(0.0)
    children["in_proceedings"] = children["in_proceedings"].fillna(False).astype(bool)
    children["pinned"] = children["pinned"].fillna(False).astype(bool)
    children["worker_changes_12m"] = children["worker_changes_12m"].fillna(0).astype(np.int64)
    children["priority"] = children["priority"].replace("", "medium")


def _duplicates(df: pd.DataFrame, column: str, file: str, what: str) -> list[Problem]:
    """Each ID names exactly one row."""
    dup = df[column].ne("") & df[column].duplicated(keep=False)
    return [Problem(file, row, column, f"{what} {shown(ident)} appears more than once",
                    f"give each {what} its own ID or remove the repeated row")
            for row, ident in zip(df.loc[dup, "_row"], df.loc[dup, column], strict=True)]


def _unknown_workers(df: pd.DataFrame, column: str, known: set[str], file: str,
                     fix: str) -> list[Problem]:
    """A reference to a worker must name a row of the workers table."""
    problems = []
    values = df[column]
    if values.map(lambda v: isinstance(v, tuple)).any():
        for row, ids in zip(df["_row"], values, strict=True):
            for ident in ids:
                if ident not in known:
                    problems.append(Problem(file, row, column,
                                            f"worker {shown(ident)} is not in the "
                                            "workers table", fix))
        return problems
    bad = values.ne("") & ~values.isin(known)
    return [Problem(file, row, column, f"worker {shown(ident)} is not in the workers table", fix)
            for row, ident in zip(df.loc[bad, "_row"], values[bad], strict=True)]


def _coordinates_paired(df: pd.DataFrame, lat: str, lon: str, file: str) -> list[Problem]:
    """Latitude and longitude come together or not at all."""
    half = df[lat].isna() != df[lon].isna()
    return [Problem(file, row, f"{lat}/{lon}", "only one of the two coordinates is given",
                    "give both coordinates or neither") for row in df.loc[half, "_row"]]


def _geography_inputs(cfg: Config, workers: pd.DataFrame, children: pd.DataFrame,
                      travel: pd.DataFrame | None, files: dict[str, str]) -> list[Problem]:
    """The km mode needs every coordinate; the minutes mode needs a travel table."""
    mode = cfg.rules.geography
    problems = []
    if mode == "km":
        for df, lat, file in ((workers, "base_lat", files["workers"]),
                              (children, "lat", files["children"])):
            for row in df.loc[df[lat].isna(), "_row"]:
                problems.append(Problem(file, row, lat, "no coordinates, but rules.geography is "
                                        "'km'", "add coordinates, or set rules.geography to "
                                        "'locality' or 'off'"))
    if mode == "minutes" and travel is None:
        problems.append(Problem(files.get("config", "configuration"), "-", "rules.geography",
                                "'minutes' needs a travel table", "pass --travel FILE"))
    return problems


SHORT_ABSENCE_DAYS = 28  # the contract: known absences of four weeks or more


def _calendar(workers: pd.DataFrame, file: str) -> tuple[list[Problem], list[Problem]]:
    """`away_until` needs `away_from` on or before it (errors); an absence under four weeks, or
    a start after the last working day, is applied but warned about."""
    problems, warnings = [], []
    for r in workers.to_dict("records"):
        row, a, u = r["_row"], r["away_from"], r["away_until"]
        if u is not None and a is None:
            problems.append(Problem(file, row, "away_until", "an absence's last day without its "
                                    "first", "give away_from (the first day away), or clear "
                                    "away_until"))
        elif a is not None and u is not None and u < a:
            problems.append(Problem(file, row, "away_until", f"{u} is before away_from {a}",
                                    "give the last day away, on or after away_from"))
        elif a is not None and u is not None and (u - a).days + 1 < SHORT_ABSENCE_DAYS:
            warnings.append(Problem(file, row, "away_from/away_until",
                                    f"an absence of {(u - a).days + 1} day(s), under four weeks: "
                                    "applied, though the team usually covers one this short",
                                    "leave short absences out of the workers table"))
        start, last = r["starts_on"], r["leaving_on"]
        if start is not None and last is not None and start > last:
            warnings.append(Problem(file, row, "starts_on", f"starts on {start}, after "
                                    f"leaving_on {last}: holds no children at all",
                                    "check both dates"))
    return problems, warnings


def _listed(ids: set[str]) -> str:
    return ", ".join(shown(x) for x in sorted(ids))


def _decision_conflicts(decisions: pd.DataFrame, children: pd.DataFrame,
                        file: str) -> list[Problem]:
    """Decisions about one child must not contradict each other, the child's pin or exclusions."""
    problems: list[Problem] = []
    if decisions.empty:
        return problems
    kid = children.drop_duplicates("child_id").set_index("child_id")
    needs_worker = decisions["decision"].isin(["assign", "forbid"]) & decisions["worker_id"].eq("")
    for row in decisions.loc[needs_worker, "_row"]:
        problems.append(Problem(file, row, "worker_id", "assign and forbid need a worker",
                                "fill in worker_id"))
    known = decisions["child_id"].isin(kid.index)
    for child_id, group in decisions[known & ~needs_worker].groupby("child_id", sort=True):
        current = kid.at[child_id, "current_worker_id"]
        pinned = bool(kid.at[child_id, "pinned"])
        excluded = set(kid.at[child_id, "excluded_worker_ids"])
        keeps = group[group["decision"] == "keep"]
        assigns = set(group.loc[group["decision"] == "assign", "worker_id"])
        forbids = set(group.loc[group["decision"] == "forbid", "worker_id"])
        row = group["_row"].iloc[0]

        def say(msg: str, fix: str, col: str = "decision", row: str = row,
                child_id: str = child_id) -> None:
            problems.append(Problem(file, row, col, f"child {shown(child_id)}: {msg}", fix))

        stay = pinned or not keeps.empty
        if not keeps.empty and current == "":
            say("'keep' for a child with no current worker", "use 'assign' with a worker_id")
        for w in keeps["worker_id"]:
            if w not in ("", current):
                say(f"'keep' names {shown(w)} but the current worker is {shown(current)}",
                    "use 'assign' to move the child, or correct worker_id", "worker_id")
        if len(assigns) > 1:
            say(f"assigned to more than one worker ({_listed(assigns)})",
                "keep one 'assign' row")
        if assigns & forbids:
            say(f"both assigned to and forbidden {_listed(assigns & forbids)}",
                "remove one of the two rows")
        if stay and assigns - {current}:
            say("kept with the current worker (pinned or 'keep') but assigned elsewhere",
                "remove the 'assign' row or unpin the child")
        if stay and current in forbids and current != "":
            say("kept with the current worker (pinned or 'keep') but that worker is forbidden",
                "remove the 'forbid' row or unpin the child")
        if assigns & excluded:
            say(f"assigned to {_listed(assigns & excluded)}, which is in the child's "
                "excluded_worker_ids", "assign another worker or correct the exclusion",
                "worker_id")
    return problems


def _table_references(workers: pd.DataFrame, children: pd.DataFrame, names: dict[str, str]
                      ) -> list[Problem]:
    """Each ID names one row, every worker a child names exists, coordinates come in pairs, and
    a pinned child has a worker to stay with."""
    known_workers = set(workers["worker_id"])
    problems = _duplicates(workers, "worker_id", names["workers"], "worker")
    problems += _duplicates(children, "child_id", names["children"], "child")
    problems += _unknown_workers(children, "current_worker_id", known_workers, names["children"],
                                 "correct the ID, add the worker, or leave the cell empty if the "
                                 "child is unallocated")
    problems += _unknown_workers(children, "excluded_worker_ids", known_workers,
                                 names["children"], "correct the ID or remove it from the list")
    problems += _coordinates_paired(workers, "base_lat", "base_lon", names["workers"])
    problems += _coordinates_paired(children, "lat", "lon", names["children"])
    pinned_unallocated = children["pinned"] & children["current_worker_id"].eq("")
    for row in children.loc[pinned_unallocated, "_row"]:
        problems.append(Problem(names["children"], row, "pinned", "pinned but has no current "
                                "worker", "unpin the child or fill in current_worker_id"))
    return problems


def _decision_references(decisions: pd.DataFrame, children: pd.DataFrame,
                         known_workers: set[str], known_children: set[str], file: str
                         ) -> list[Problem]:
    """Decisions name known children and workers, and do not contradict each other."""
    problems = []
    unknown_child = ~decisions["child_id"].isin(known_children)
    for row, ident in zip(decisions.loc[unknown_child, "_row"],
                          decisions.loc[unknown_child, "child_id"], strict=True):
        problems.append(Problem(file, row, "child_id", f"child {shown(ident)} is not in the "
                                "children table", "correct the ID or remove the row"))
    problems += _unknown_workers(decisions, "worker_id", known_workers, file,
                                 "correct the ID or remove the row")
    problems += _decision_conflicts(decisions, children, file)
    return problems


def _travel_references(travel: pd.DataFrame, known_workers: set[str], known_children: set[str],
                       file: str) -> list[Problem]:
    """Travel rows name known workers and children, one row per pair."""
    problems = _unknown_workers(travel, "worker_id", known_workers, file,
                                "correct the ID or remove the row")
    unknown_child = ~travel["child_id"].isin(known_children)
    for row in travel.loc[unknown_child, "_row"].head(200):
        problems.append(Problem(file, row, "child_id", "child is not in the children table",
                                "correct the ID or remove the row"))
    dup = travel.duplicated(["worker_id", "child_id"], keep="first")
    for row in travel.loc[dup, "_row"].head(200):
        problems.append(Problem(file, row, "worker_id/child_id", "this pair appears more "
                                "than once", "keep one row per worker and child"))
    return problems


@dataclass
class InputPaths:
    """What a rebalance reads: the tables and configuration, a plan folder to stay close to,
    and decisions in memory that replace the decisions file's rows for the children they name
    (a re-plan's, already in the contract's form)."""

    workers: Path
    children: Path
    decisions: Path | None = None
    travel: Path | None = None
    config: Path | None = None
    previous: Path | None = None
    decided: pd.DataFrame | None = None

    def all(self) -> list[Path]:
        return [p for p in (self.workers, self.children, self.decisions, self.travel,
                            self.config) if p is not None]


def load_inputs(workers_path: Path, children_path: Path, decisions_path: Path | None,
                travel_path: Path | None, cfg: Config, config_path: Path | None = None,
                extra_decisions: pd.DataFrame | None = None) -> Inputs:
    """Read, parse and cross-check every table; raise InputRejected listing every problem.

    `extra_decisions` (a manager's review, in the contract's columns) replace the decisions
    file's rows for the children they name, and are checked with them."""
    files = {"workers": workers_path, "children": children_path}
    workers, problems = read_table(workers_path, WORKERS)
    children, p = read_table(children_path, CHILDREN)
    problems += p
    decisions = pd.DataFrame({c.name: pd.Series(dtype=object) for c in DECISIONS.columns}
                             | {"_row": pd.Series(dtype=object)})
    if decisions_path is not None:
        files["decisions"] = decisions_path
        decisions, p = read_table(decisions_path, DECISIONS)
        problems += p
    if extra_decisions is not None and not decisions.columns.empty:
        extra = extra_decisions.astype(object).copy()
        extra["_row"] = [f"review decision {i + 1} (child_id {shown(c)[1:-1]})"
                         for i, c in enumerate(extra["child_id"])]
        keep = ~decisions["child_id"].isin(set(extra["child_id"]))
        decisions = pd.concat([decisions[keep], extra], ignore_index=True)
    travel = None
    if travel_path is not None:
        files["travel"] = travel_path
        travel, p = read_table(travel_path, TRAVEL)
        problems += p
    if config_path is not None:
        files["config"] = config_path
    # cross-references run over whatever parsed, so one pass lists every problem; only a table
    # that could not be read at all (no columns) is left out of them
    unreadable = [df for df in (workers, children) if df.columns.empty]
    if unreadable or (decisions_path is not None and decisions.columns.empty) or (
            travel is not None and travel.columns.empty):
        raise InputRejected(problems)
    names = {k: str(v) for k, v in files.items()}
    _fill_defaults(workers, children)
    known_workers = set(workers["worker_id"])
    known_children = set(children["child_id"])
    problems += _table_references(workers, children, names)
    if decisions_path is not None or extra_decisions is not None:
        problems += _decision_references(decisions, children, known_workers, known_children,
                                         names.get("decisions", "review decisions"))
    if travel is not None:
        problems += _travel_references(travel, known_workers, known_children, names["travel"])
    problems += _geography_inputs(cfg, workers, children, travel, names)
    dates, warnings = _calendar(workers, names["workers"])
    problems += dates
    if problems:
        raise InputRejected(problems)
    workers["max_new_cases"] = workers["max_new_cases"].astype(float)
    children["points"] = children["points"].astype(float)
    return Inputs(workers=workers, children=children, decisions=decisions, travel=travel,
                  files=files, warnings=warnings)

