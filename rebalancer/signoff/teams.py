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
from rebalancer.signoff.workbook import Review, counts_of

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
    """The decisions in force after every workbook: one row per reviewed child."""

    rows: pd.DataFrame  # child_id, from_worker_id, to_worker_id, action, decision, note,
    # reviewer, workbook_sha256
    disagreements: list[Disagreement] = field(default_factory=list)
    by_team: dict[str, ReviewCounts] = field(default_factory=dict)
    workbooks: list[ReviewWorkbook] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files passed over, with why
    submitted: list[Review] = field(default_factory=list)  # each workbook as read

    def counts(self) -> ReviewCounts:
        return counts_of(self.rows)


def merge_reviews(reviews: list[Review], default_reviewer: str) -> tuple[Merged, list[Problem]]:
    """One decision per child from every team's workbook (the rule in this module's doc)."""
    problems = _same_team_conflicts(reviews)
    by_child: dict[str, list[tuple[Review, pd.Series]]] = {}
    base: dict[str, pd.Series] = {}
    by_team: dict[str, ReviewCounts] = {}
    for rv in reviews:
        team = rv.team or "(every team)"
        add, had = rv.counts(), by_team.get(team, ReviewCounts(0, 0, 0))
        by_team[team] = ReviewCounts(had.accepted + add.accepted, had.rejected + add.rejected,
                                     had.undecided + add.undecided)
        for _, row in rv.rows.iterrows():
            by_child.setdefault(row["child_id"], []).append((rv, row))
            base.setdefault(row["child_id"], row)
    rows, disagreements = [], []
    for cid, entries in by_child.items():
        rejects = [(rv, r) for rv, r in entries if r["decision"] == "reject"]
        accepts = [(rv, r) for rv, r in entries if r["decision"] == "accept"]
        decided = rejects or accepts
        rv, r = decided[0] if decided else entries[0]
        if rejects and accepts:
            disagreements.append(Disagreement(
                cid, "reject", accepted_by=[_who(a, default_reviewer) for a, _ in accepts],
                rejected_by=[_who(x, default_reviewer) for x, _ in rejects]))
        row = base[cid]
        rows.append({"child_id": cid, "from_worker_id": row["from_worker_id"],
                     "to_worker_id": row["to_worker_id"], "action": row["action"],
                     "decision": r["decision"] if decided else "",
                     "note": "; ".join(dict.fromkeys(x["note"] for _, x in decided
                                                     if x["note"]))[:1000],
                     "reviewer": _who(rv, default_reviewer) if decided else "",
                     "workbook_sha256": rv.sha256 if decided else ""})
    frame = pd.DataFrame(rows, columns=["child_id", "from_worker_id", "to_worker_id", "action",
                                        "decision", "note", "reviewer", "workbook_sha256"])
    return Merged(frame, disagreements, by_team), problems


def _who(rv: Review, default: str) -> str:
    """The workbook's reviewer cell, else --reviewer; and its team."""
    name = rv.reviewer or default or "(unnamed)"
    return f"{name} ({rv.team})" if rv.team and f"({rv.team})" not in name else name


def _same_team_conflicts(reviews: list[Review]) -> list[Problem]:
    """Two workbooks of one team must not decide one child differently."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    problems = []
    for rv in reviews:
        for _, row in rv.rows.iterrows():
            key = (rv.team, row["child_id"])
            if key in seen and seen[key][0] != row["decision"]:
                problems.append(Problem(
                    rv.file, "sheet moves", f"decision of {row['child_id']}",
                    f"{row['decision'] or 'undecided'} here, but "
                    f"{seen[key][0] or 'undecided'} in {seen[key][1]}, a workbook of the same "
                    f"team ({rv.team or 'every team'})",
                    "give one workbook per team, or make them agree"))
            seen.setdefault(key, (row["decision"], rv.file))
    return problems
