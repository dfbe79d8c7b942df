"""`rebalancer check`: a plan folder re-verified against the inputs by the independent check.

The rules and weights come from the user's configuration (or the shipped defaults), never from
the folder being checked, unless the user says to trust it. The folder's summary.json is read
as plain JSON (the check trusts nothing the model's code builds); a table that differs from the
one the summary names is checked anyway and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rebalancer.check.independent import CheckReport, check_plan
from rebalancer.config import load_config
from rebalancer.io.inputs import InputPaths, file_sha256, load_inputs
from rebalancer.io.whatifs import WhatIfs
from rebalancer.planfolder import PlanFolder, read_plan_folder, with_recorded_what_ifs


@dataclass
class FolderCheck:
    report: CheckReport
    children: int
    notes: list[str] = field(default_factory=list)  # what was read besides the inputs given


def check_folder(paths: InputPaths, plan: Path, trust_plan_config: bool = False) -> FolderCheck:
    """The independent check of the plan in `plan` (InputRejected, PlanFolderError)."""
    folder = read_plan_folder(plan, verify=False)
    notes = []
    decisions = paths.decisions
    in_force = folder.raw.get("outputs", {}).get("decisions")
    own = isinstance(in_force, dict)
    if decisions is None and own:  # a re-plan's decisions in force
        decisions = plan / str(in_force["file"])
        notes.append(f"decisions in force: {decisions} (the re-plan's own; --decisions "
                     "overrides)")
    cfg = folder.config() if trust_plan_config else load_config(paths.config)
    inputs = load_inputs(paths.workers, paths.children, decisions, paths.travel, cfg,
                         paths.config)
    if folder.raw.get("what_ifs"):
        inputs = with_recorded_what_ifs(inputs, WhatIfs.from_json(folder.raw["what_ifs"]),
                                        plan)
        notes.append("what-ifs applied as the plan records them (summary.json what_ifs)")
    report = check_plan(inputs, cfg, folder.plan, folder.raw, folder.workers,
                        _schedule(folder))
    report.mismatches[:0] = folder.changed
    if own and decisions == plan / str(in_force["file"]) \
            and file_sha256(decisions) != in_force.get("sha256"):
        report.mismatches.insert(0, f"{decisions}: differs from the decisions in force the "
                                    "plan folder names (sha256)")
    if trust_plan_config:
        report.unchecked.insert(0, "configuration taken from the plan (--trust-plan-config): "
                                   "its rules and weights were not checked against yours")
    return FolderCheck(report, len(inputs.children), notes)


def _schedule(folder: PlanFolder) -> pd.DataFrame | None:
    """The folder's schedule of later weeks, if it has one (its hash is checked with the
    folder's other tables)."""
    from rebalancer.io.outputs import read_table_file

    entry = folder.raw.get("outputs", {}).get("schedule")
    if not isinstance(entry, dict):
        return None
    path = folder.path / str(entry.get("file"))
    if not path.is_file() or file_sha256(path) != entry.get("sha256"):
        folder.changed.append("schedule")
    if not path.is_file():
        return pd.DataFrame(columns=["child_id", "week", "effective_on", "from_worker_id",
                                     "to_worker_id"])
    return read_table_file(path)
