"""Reading a plan folder back: exactly the files its summary.json names, verified by sha256.

`check`, `explain` (and the review and re-plan commands) read a plan through here, so none of
them can pick up a stale plan.parquet left beside a newer plan.csv, or a table whose summary was
never written.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cattrs
import pandas as pd

from rebalancer.config import Config
from rebalancer.io.inputs import Inputs, file_sha256, load_inputs
from rebalancer.io.outputs import SUMMARY, read_table_file
from rebalancer.io.whatifs import WhatIfs, apply_what_ifs
from rebalancer.model.build import CaseModel, build_case_model
from rebalancer.model.summary import Summary
from rebalancer.problems import InputRejected, UsageError


class PlanFolderError(UsageError):
    """The folder holds no complete, unchanged plan; the message says what to do."""

    option = "--plan"


@dataclass
class PlanFolder:
    path: Path
    raw: dict[str, Any]  # summary.json as written (the independent check reads this)
    plan: pd.DataFrame
    workers: pd.DataFrame
    changed: list[str]  # tables that differ from the sha256 summary.json gives (when not verified)

    @functools.cached_property
    def summary(self) -> Summary:
        """summary.json, typed (PlanFolderError when it does not read as one)."""
        try:
            return Summary.from_json(self.raw)
        except InputRejected as exc:  # its configuration is not one this version accepts
            raise PlanFolderError(f"{self.path / SUMMARY} records a configuration this version "
                                  f"refuses ({exc.problems[0]}); run the rebalance again") \
                from None
        except (cattrs.BaseValidationError, KeyError, TypeError, ValueError):
            raise PlanFolderError(f"{self.path / SUMMARY} is not a summary this version can "
                                  "read (edited, or made by another version); run the "
                                  "rebalance again") from None

    def config(self) -> Config:
        """The configuration the plan was made with."""
        return self.summary.config

    def protected(self) -> set[Path]:
        """What no command may write over: the folder's summary and files, and its inputs."""
        files = {self.path / SUMMARY, self.path / "report.html"}
        files |= {self.path / o.file for o in (self.summary.outputs or {}).values()}
        files |= set(self.input_paths().values())
        return {p.resolve() for p in files}

    def schedule(self) -> pd.DataFrame | None:
        """The plan's later weeks (None: a plan for its date alone), verified like its tables."""
        if "schedule" not in (self.raw.get("outputs") or {}):
            return None
        return _table(self.path, self.raw, "schedule", None)

    def input_paths(self) -> dict[str, Path]:
        return {k: Path(v.path) for k, v in self.summary.inputs.items()}


def read_summary(folder: Path) -> dict[str, Any]:
    file = folder / SUMMARY
    if not folder.exists():
        raise PlanFolderError(f"the folder {folder} does not exist; give the --out folder of a "
                              "rebalance")
    if not folder.is_dir():
        raise PlanFolderError(f"{folder} is a file, not a plan folder; give the --out folder of "
                              "a rebalance")
    if not file.is_file():
        raise PlanFolderError(f"no {SUMMARY} in {folder}: it holds no complete plan (a run that "
                              "was stopped while writing leaves none); run the rebalance again")
    try:
        summary = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanFolderError(f"{file} cannot be read ({exc}); run the rebalance again") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("outputs"), dict):
        raise PlanFolderError(f"{file} does not name its plan files (made by an older version?); "
                              "run the rebalance again")
    return summary


def _table(folder: Path, summary: dict[str, Any], name: str, changed: list[str] | None
           ) -> pd.DataFrame:
    entry = summary["outputs"].get(name)
    if not isinstance(entry, dict) or "/" in str(entry.get("file", "/")):
        raise PlanFolderError(f"{folder / SUMMARY} names no {name} table; run the rebalance again")
    path = folder / entry["file"]
    if not path.is_file():
        raise PlanFolderError(f"{path}, named in {SUMMARY}, is missing; run the rebalance again")
    if file_sha256(path) != entry.get("sha256"):
        if changed is not None:
            changed.append(f"{entry['file']}: differs from the file {SUMMARY} names (sha256); it "
                           "was edited or written by another run")
            return read_table_file(path)
        raise PlanFolderError(f"{path} is missing or differs from the one {SUMMARY} names "
                              "(edited, or written by another run); run the rebalance again")
    return read_table_file(path)


def read_plan_folder(folder: Path, verify: bool = True) -> PlanFolder:
    """The plan and workers tables summary.json names; with verify=False a changed table is read
    anyway and listed in `changed` (for `check`, which reports it rather than refusing)."""
    summary = read_summary(folder)
    changed: list[str] | None = None if verify else []
    workers = _table(folder, summary, "workers", changed)
    for col in ("load_before", "load_after", "utilisation_before", "utilisation_after",
                "capacity_points", "fte"):
        if col in workers.columns:
            workers[col] = pd.to_numeric(workers[col], errors="coerce")
    for col in ("new_children", "moved_out", "children_before", "children_after"):
        if col in workers.columns:
            workers[col] = pd.to_numeric(workers[col], errors="coerce").astype("Int64")
    plan = _table(folder, summary, "plan", changed)
    return PlanFolder(folder, summary, plan, workers, changed or [])


def reload_inputs(folder: PlanFolder) -> tuple[Inputs, Config]:
    """The inputs the plan was made from, refusing any that changed since."""
    files = folder.input_paths()
    files.pop("decisions_given", None)  # a re-plan's decisions in force replace it
    for name, path in files.items():
        if not path.is_file() or file_sha256(path) != folder.summary.inputs[name].sha256:
            raise PlanFolderError(f"the {name} input {path} is missing or has changed since the "
                                  "plan was made; re-run the rebalance")
    cfg = folder.config()
    inputs = load_inputs(files["workers"], files["children"], files.get("decisions"),
                         files.get("travel"), cfg, files.get("config"))
    return with_recorded_what_ifs(inputs, folder.summary.what_ifs, folder.path), cfg


def with_recorded_what_ifs(inputs: Inputs, what_ifs: WhatIfs | None, where: Path) -> Inputs:
    """The inputs as the plan saw them: with the staffing what-ifs its summary records (a
    sweep's or staffing's virtual workers, removed teams, cancelled leavers)."""
    return apply_what_ifs(inputs, what_ifs, str(where / SUMMARY)) if what_ifs else inputs


def reload_model(folder: Path) -> tuple[CaseModel, pd.DataFrame, pd.DataFrame]:
    """A plan folder's case model (from its unchanged inputs), plan and workers tables."""
    pf = read_plan_folder(folder)
    inputs, cfg = reload_inputs(pf)
    return build_case_model(inputs, cfg), pf.plan, pf.workers
