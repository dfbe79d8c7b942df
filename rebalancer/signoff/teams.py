"""Every team manager signs off their own team: a workbook per team out, several workbooks in,
merged by one rule.

A move between two teams is in both teams' workbooks. A reject from either team wins (the
receiving team cannot take the child, or the sending team must keep it); an accept counts when
the other team accepted or left the row undecided. Every accept-against-reject is reported as a
disagreement. Two workbooks of the same team that decide differently are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rebalancer.model.summary import Disagreement, ReviewCounts, ReviewWorkbook
from rebalancer.problems import Problem
from rebalancer.signoff.workbook import DECIDED, DECIDED_SCHEDULED, Review, counts_of

INDEX = "index.csv"


def workbooks_in(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Each --review: a workbook, or a folder meaning every workbook in it (.xlsx in any case);
    the workbooks to read, and every file passed over with why (another kind of file, a lock
    file, or the same workbook again, by its contents)."""
    from rebalancer.io.inputs import file_sha256

    out: list[Path] = []
    skipped: list[str] = []
    for p in paths:
        if not p.is_dir():
            out.append(p)
            continue
        for x in sorted(p.iterdir()):
            if not x.is_file():
                continue
            if x.name.startswith(("~$", ".")):
                skipped.append(f"{x.name} (a lock or hidden file)")
            elif x.suffix.lower() != ".xlsx":
                skipped.append(f"{x.name} (not an .xlsx workbook)")
            else:
                out.append(x)
    seen: dict[str, Path] = {}
    unique = []
    for x in out:
        digest = file_sha256(x) if x.is_file() else str(x)
        if digest in seen:
            skipped.append(f"{x.name} (the same workbook as {seen[digest].name}: read once)")
            continue
        seen[digest] = x
        unique.append(x)
    return unique, skipped


@dataclass
class Merged:
    """The decisions in force after every workbook: one row per reviewed child, and one per
    scheduled change (child and date)."""

    rows: pd.DataFrame  # child_id, from_worker_id, to_worker_id, action, decision, note,
    # reviewer, workbook_sha256
    disagreements: list[Disagreement] = field(default_factory=list)
    by_team: dict[str, ReviewCounts] = field(default_factory=dict)
    workbooks: list[ReviewWorkbook] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files passed over, with why
    submitted: list[Review] = field(default_factory=list)  # each workbook as read
    scheduled: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=[*DECIDED_SCHEDULED, "reviewer", "workbook_sha256"]))

    def counts(self) -> ReviewCounts:
        return counts_of(self.rows)


def merge_reviews(reviews: list[Review], default_reviewer: str) -> tuple[Merged, list[Problem]]:
    """One decision per child (and per scheduled change) from every team's workbook (the rule
    in this module's doc)."""
    problems = _same_team_conflicts(reviews)
    by_team: dict[str, ReviewCounts] = {}
    for rv in reviews:
        team = rv.team or "(every team)"
        add, had = rv.counts(), by_team.get(team, ReviewCounts(0, 0, 0))  # today's changes
        by_team[team] = ReviewCounts(had.accepted + add.accepted, had.rejected + add.rejected,
                                     had.undecided + add.undecided)
    disagreements: list[Disagreement] = []
    rows = _merged([(rv, rv.rows) for rv in reviews], ("child_id",), DECIDED, default_reviewer,
                   disagreements)
    later = _merged([(rv, rv.scheduled) for rv in reviews], ("child_id", "effective_on"),
                    DECIDED_SCHEDULED, default_reviewer, disagreements)
    return Merged(rows, disagreements, by_team, scheduled=later), problems


def _merged(sheets: list[tuple[Review, pd.DataFrame]], key: tuple[str, ...],
            columns: list[str], default_reviewer: str, disagreements: list[Disagreement]
            ) -> pd.DataFrame:
    """One row per key from every workbook's rows: a reject wins, an accept counts when no
    workbook rejected; each accept-against-reject added to `disagreements`."""
    by_key: dict[tuple[str, ...], list[tuple[Review, pd.Series]]] = {}
    for rv, frame in sheets:
        for _, row in frame.iterrows():
            by_key.setdefault(tuple(row[k] for k in key), []).append((rv, row))
    out = []
    for k, entries in by_key.items():
        rejects = [(rv, r) for rv, r in entries if r["decision"] == "reject"]
        accepts = [(rv, r) for rv, r in entries if r["decision"] == "accept"]
        decided = rejects or accepts
        rv, r = decided[0] if decided else entries[0]
        if rejects and accepts:
            disagreements.append(Disagreement(
                " on ".join(k), "reject",
                accepted_by=[_who(a, default_reviewer) for a, _ in accepts],
                rejected_by=[_who(x, default_reviewer) for x, _ in rejects]))
        row = entries[0][1]
        out.append({**{c: row[c] for c in columns},
                    "decision": r["decision"] if decided else "",
                    "note": "; ".join(dict.fromkeys(x["note"] for _, x in decided
                                                    if x["note"]))[:1000],
                    "reviewer": _who(rv, default_reviewer) if decided else "",
                    "workbook_sha256": rv.sha256 if decided else ""})
    return pd.DataFrame(out, columns=[*columns, "reviewer", "workbook_sha256"])


def _who(rv: Review, default: str) -> str:
    """The workbook's reviewer cell, else --reviewer; and its team."""
    name = rv.reviewer or default or "(unnamed)"
    return f"{name} ({rv.team})" if rv.team and f"({rv.team})" not in name else name


def _same_team_conflicts(reviews: list[Review]) -> list[Problem]:
    """Two workbooks of one team must not decide one child (or scheduled change) differently."""
    seen: dict[tuple[str, str, str], tuple[str, str]] = {}
    problems = []
    for rv in reviews:
        for sheet, frame in (("moves", rv.rows), ("scheduled", rv.scheduled)):
            problems += _differing(rv, sheet, frame, seen)
    return problems


def _differing(rv: Review, sheet: str, frame: pd.DataFrame,
               seen: dict[tuple[str, str, str], tuple[str, str]]) -> list[Problem]:
    """The rows of one sheet decided otherwise by an earlier workbook of the same team."""
    problems = []
    for _, row in frame.iterrows():
        child = row["child_id"] + (f" on {row['effective_on']}" if sheet == "scheduled" else "")
        key = (rv.team, sheet, child)
        if key in seen and seen[key][0] != row["decision"]:
            problems.append(Problem(
                rv.file, f"sheet {sheet}", f"decision of {child}",
                f"{row['decision'] or 'undecided'} here, but "
                f"{seen[key][0] or 'undecided'} in {seen[key][1]}, a workbook of the same "
                f"team ({rv.team or 'every team'})",
                "give one workbook per team, or make them agree"))
        seen.setdefault(key, (row["decision"], rv.file))
    return problems
