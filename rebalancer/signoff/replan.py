"""Managers sign off: the review workbook of a plan folder, and the re-plan that keeps what they
did not reject.

The re-plan turns the workbook into the contract's decisions (accept: assign the proposed
worker; reject: forbid it, and keep the current worker where the rules allow), merges them with
earlier decisions, and solves with the reviewed plan as the previous plan: every child whose
outcome differs from it costs `weights.previous_change`, so accepted and undecided rows keep their
proposed worker unless a rejection forces a change.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

from rebalancer.allocation import Request, allocate
from rebalancer.config import Config
from rebalancer.io.outputs import OutputError, claim, neutralise, refuse_overwrite
from rebalancer.model.summary import ChangedChild, InputFile, ReviewReport, ReviewWorkbook
from rebalancer.pipeline import ExtraFile, InputPaths, Result, rebalance
from rebalancer.planfolder import PlanFolder, read_plan_folder, reload_inputs
from rebalancer.problems import InputRejected, Problem
from rebalancer.signoff import audit
from rebalancer.signoff.teams import Merged
from rebalancer.signoff.workbook import (
    counts_of,
    moves_table,
    read_review,
    review_decisions,
    scheduled_table,
    write_review,
)
from solvers import Progress

DECISION_COLUMNS = ["child_id", "decision", "worker_id", "note"]


def review_workbook(folder: Path, out: Path | None = None, replace: bool = False
                    ) -> tuple[Path, int]:
    """Write the review workbook of a plan folder (default: DIR/review.xlsx)."""
    pf = read_plan_folder(folder)
    inputs, _ = reload_inputs(pf)
    path = out if out is not None else folder / "review.xlsx"
    if path.suffix.lower() != ".xlsx":
        raise OutputError(f"--out {path}: a review workbook is written as .xlsx; give a path "
                          "ending in .xlsx")
    refuse_overwrite(path, pf.protected())
    # a workbook there may hold the decisions a manager typed: never written over
    claim(path, replace, "a review workbook (maybe with decisions typed in)")
    n = write_review(path, pf.plan, pf.workers, inputs.children, pf.summary,
                     pf.summary.plan_file.sha256, schedule=pf.schedule())
    return path, n


def team_workbooks(folder: Path, out: Path | None = None, replace: bool = False
                   ) -> tuple[Path, list[dict[str, Any]]]:
    """One workbook per team that has a child leaving or joining it (default DIR/review/),
    and index.csv: team, file, rows, sha256."""
    from rebalancer.io.inputs import file_sha256
    from rebalancer.io.outputs import atomic_write, safe_file_name
    from rebalancer.signoff.teams import INDEX

    pf = read_plan_folder(folder)
    inputs, _ = reload_inputs(pf)
    target = out if out is not None else folder / "review"
    refuse_overwrite(target, pf.protected())
    claim(target, replace, "files (team workbooks, maybe with decisions typed in)")
    target.mkdir(parents=True, exist_ok=True)
    moves = moves_table(pf.plan, pf.workers, None)
    schedule = pf.schedule()
    rows = [moves] if schedule is None else [moves,
                                             scheduled_table(schedule, pf.plan, pf.workers)]
    teams = sorted(set().union(*(set(r["from_team"]) | set(r["to_team"]) for r in rows)) - {""})
    taken: set[str] = set()
    index = []
    for team in teams:
        path = target / safe_file_name("review", team, ".xlsx", taken)
        n = write_review(path, pf.plan, pf.workers, inputs.children, pf.summary,
                         pf.summary.plan_file.sha256, team=team, schedule=schedule)
        index.append({"team": team, "file": path.name, "rows": n, "sha256": file_sha256(path)})
    # a team named '=HYPERLINK(...)' stays text in a spreadsheet, as in every CSV we write
    frame = neutralise(pd.DataFrame(index, columns=["team", "file", "rows", "sha256"]))
    atomic_write(target / INDEX, lambda p: frame.to_csv(p, index=False, lineterminator="\n",
                                                        encoding="utf-8-sig"))
    return target, index


def _review_summary(review: Merged, reviewed: pd.DataFrame, result: Result, reviewer: str,
                    plan_sha: str) -> ReviewReport:
    """Counts of the decisions, and every child whose outcome changed though it was not
    rejected, with why."""
    before = reviewed.set_index("child_id")["to_worker_id"]
    now = result.plan.set_index("child_id")
    rejected = set(review.rows.loc[review.rows["decision"] == "reject", "child_id"])
    changed = [c for c in now.index if c in before.index and now.at[c, "to_worker_id"]
               != before.at[c] and c not in rejected]
    return ReviewReport(review.workbooks, reviewer, plan_sha, review.by_team,
                        review.disagreements, review.counts(), len(changed),
                        [_changed(c, str(before.at[c]), now.loc[c]) for c in changed],
                        skipped=list(review.skipped),
                        no_effect=[str(r.child_id) for r in review.rows.itertuples(index=False)
                                   if audit.no_effect(r)],
                        scheduled=counts_of(review.scheduled) if len(review.scheduled)
                        else None)


def _changed(child_id: str, reviewed: str, row: pd.Series) -> ChangedChild:
    """A child whose outcome differs from the reviewed plan though nobody rejected it: its
    reason code and why. A child kept with its own worker has no move reason on its plan row,
    so the why says what happened: the reviewed plan moved it, and now staying costs less."""
    reasons, why = str(row["reasons"]), str(row["explanation"])
    worker = str(row["to_worker_id"])
    if not reasons and row["action"] == "keep":
        reasons = "BALANCE"
        why = (f"stays with {worker}, its current worker, which the reviewed plan had moved to "
               f"{reviewed or '(unallocated)'}: after the rejections, keeping it costs less "
               "than that move")
    return ChangedChild(child_id, reviewed, worker, reasons, why[:300])


def same_inputs(paths: InputPaths, pf: PlanFolder) -> None:
    """A review applies to the county it was made of: inputs that differ from the reviewed
    plan's (by sha256) are refused, each named; new data is `rebalance --previous`."""
    from rebalancer.io.inputs import file_sha256

    problems = []
    for name, path in (("workers", paths.workers), ("children", paths.children),
                       ("travel", paths.travel)):
        entry = pf.summary.inputs.get(name)
        recorded = None if entry is None else entry.sha256
        if path is None and recorded is None:
            continue
        if path is None or recorded is None or not path.is_file() \
                or file_sha256(path) != recorded:
            problems.append(Problem(
                str(path) if path is not None else name, "-", "-",
                f"the {name} input differs from the one the reviewed plan was made from",
                "give the inputs the reviewed plan names in its summary.json (inputs); to plan "
                "new data close to a reviewed plan, use rebalance --previous"))
    if problems:
        raise InputRejected(problems)


def decisions_in_force(paths: InputPaths, pf: PlanFolder) -> InputPaths:
    """Decisions carry forward: a re-plan of a re-plan keeps the reviewed plan's decisions in
    force (its decisions.csv) unless a decisions file is given."""
    entry = (pf.summary.outputs or {}).get("decisions")
    if paths.decisions is not None or entry is None:
        return paths
    return dataclasses.replace(paths, decisions=pf.path / entry.file)


def read_reviews(files: list[Path], pf: PlanFolder, reviewer: str) -> Merged:
    """Every workbook read against the plan's proposed rows (a team's against its own), then
    merged by the cross-team rule; every problem in every workbook refused at once."""
    from rebalancer.signoff.teams import merge_reviews, workbooks_in

    expected = moves_table(pf.plan, pf.workers, None)
    schedule = pf.schedule()
    scheduled = None if schedule is None else scheduled_table(schedule, pf.plan, pf.workers)
    plan_sha = pf.summary.plan_file.sha256
    reviews, problems = [], []
    books, skipped = workbooks_in(files)
    if not books:
        problems.append(Problem(", ".join(map(str, files)), "-", "-", "holds no workbook",
                                "give the review workbooks, or the folder they are in"))
    for f in books:
        review, found = read_review(f, expected, plan_sha, scheduled)
        problems += found
        if review is not None:
            reviews.append(review)
    if problems:
        raise InputRejected(problems)
    merged, problems = merge_reviews(reviews, reviewer)
    if problems:
        raise InputRejected(problems)
    merged.workbooks = [ReviewWorkbook(str(Path(rv.file).resolve()), rv.team, rv.reviewer,
                                       rv.sha256) for rv in reviews]
    merged.skipped = skipped
    merged.submitted = reviews
    return merged


def replan(paths: InputPaths, cfg: Config, plan_dir: Path, review_files: list[Path],
           out: Path, how: Replan) -> Result:
    """Read the workbooks (refusing a bad one, nothing written), re-plan, write the plan folder
    with decisions.csv and the review summary, and record the decisions in the audit trail."""
    audit.check_usable(how.audit_db or audit.default_path(), how.audit_key)
    pf = read_plan_folder(plan_dir)
    if out.resolve() == plan_dir.resolve():
        raise OutputError(f"--out {out} is the plan being reviewed: its files are the record of "
                          "what the managers decided on; choose another --out folder")
    plan_sha = pf.summary.plan_file.sha256
    same_inputs(paths, pf)
    paths = decisions_in_force(paths, pf)
    review = read_reviews(review_files, pf, how.reviewer)
    submitted = tuple(audit.submitted_payloads(review.submitted, how.reviewer, plan_sha))
    decided = tuple(audit.decision_payloads(review.rows, how.reviewer, plan_sha)
                    + audit.decision_payloads(review.scheduled, how.reviewer, plan_sha))
    trail = audit.Trail.at(how.audit_db, how.audit_key,
                           (("submitted", submitted), ("decision", decided)))

    def finish(result: Result) -> dict[str, ExtraFile]:
        result.summary = dataclasses.replace(
            result.summary,
            review=_review_summary(review, pf.plan, result, how.reviewer, plan_sha))
        assert result.inputs is not None
        # the decisions in force: the file's, with the review's replacing them child by child
        # (merged once, by load_inputs, which also checked them); summary.inputs names them, so
        # check and the next re-plan find them
        safe = neutralise(result.inputs.decisions[DECISION_COLUMNS])
        data = safe.to_csv(index=False, lineterminator="\n").encode("utf-8-sig")
        inputs = dict(result.summary.inputs)
        if "decisions" in inputs:
            inputs["decisions_given"] = inputs["decisions"]
        inputs["decisions"] = InputFile(str((out / "decisions.csv").resolve()),
                                        hashlib.sha256(data).hexdigest())
        result.summary = dataclasses.replace(result.summary, inputs=inputs)
        return {"decisions": ("decisions.csv", lambda p: p.write_bytes(data))}

    if pf.summary.kind == "allocate":  # today's referrals again: the next option where rejected
        placed = pf.summary.allocation
        request = Request(None if placed is None or placed.plan_in_force is None
                          else Path(placed.plan_in_force), 3 if placed is None else placed.top)
        paths = dataclasses.replace(paths, decided=review_decisions(review, how.reviewer))
        return allocate(paths, cfg, out, how.fmt, trail.hook(finish), request, how.progress,
                        replace=how.replace)
    paths = dataclasses.replace(paths, previous=plan_dir,
                                decided=review_decisions(review, how.reviewer))
    return rebalance(paths, cfg, out, how.fmt, trail.hook(finish), how.progress,
                     replace=how.replace)


@dataclasses.dataclass(frozen=True)
class Replan:
    """How a re-plan is written: the tables' format, the reviewer named when a workbook names
    none, the audit trail and its key, and where progress goes."""

    fmt: str = "csv"
    reviewer: str = ""
    audit_db: Path | None = None
    audit_key: bytes | None = None
    progress: Progress | None = None
    replace: bool = False  # an --out that holds files is moved aside, not refused
