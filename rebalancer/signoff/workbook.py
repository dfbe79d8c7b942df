"""The review workbook: written from a plan folder for team managers, read back for `replan`.

A manager marks each proposed move `accept` or `reject` (a dropdown) and may add a note. The
workbook is read with the same care as the inputs: unknown decision words, edited IDs, rows
deleted or added, and a workbook from another plan are each a clear problem naming the sheet,
row, cell and the value found, all reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rebalancer.io.schema import MAX_TEXT_LENGTH
from rebalancer.model.kpi import KPI_NAMES
from rebalancer.model.plan import CHANGED_ACTIONS, changes_with_teams
from rebalancer.model.summary import ReviewCounts, Summary
from rebalancer.problems import Problem, shown

MOVES = "moves"
WORKERS = "workers"
SUMMARY = "summary"
REVIEWED_ACTIONS = CHANGED_ACTIONS
MOVES_COLUMNS = ["child_id", "family_id", "case_type", "team", "from_team", "to_team",
                 "cross_team", "locality", "from_worker_id", "to_worker_id", "action", "reasons",
                 "explanation", "to_utilisation_before", "to_utilisation_after", "decision",
                 "note"]
TEXT_COLUMNS = {"child_id", "family_id", "case_type", "team", "from_team", "to_team",
                "cross_team", "locality", "from_worker_id", "to_worker_id", "action", "reasons",
                "explanation", "decision", "note"}
# must be as the plan proposed: a different outcome is asked for by 'reject', not by editing;
# only decision and note are the manager's (locality is checked by the re-plan's inputs)
CHECKED_COLUMNS = ("family_id", "case_type", "team", "from_team", "to_team", "cross_team",
                   "from_worker_id", "to_worker_id", "action", "reasons", "explanation")
TEAM_LABEL = "team"
SCOPE_LABEL = "scope"  # "county" (every team's rows) or "team" (the team cell's rows only)
REVIEWER_LABEL = "reviewer"
DECISION_WORDS = ("accept", "reject")
PLAN_HASH_LABEL = "plan_sha256"


def moves_table(plan: pd.DataFrame, workers: pd.DataFrame, children: pd.DataFrame | None
                ) -> pd.DataFrame:
    """One row per child whose action is move, allocate or unallocated; families together.
    `from_team` and `to_team` are the sending and receiving workers' teams; a move between two
    teams is `cross_team` and appears in both teams' workbooks."""
    rows = changes_with_teams(plan, workers)
    w = workers.set_index("worker_id")
    rows["team"] = rows["to_team"].where(rows["to_team"] != "", rows["from_team"])
    rows["cross_team"] = ((rows["from_team"] != "") & (rows["to_team"] != "")
                          & (rows["from_team"] != rows["to_team"])).map({True: "yes",
                                                                         False: ""})
    if children is not None:
        locality = children.set_index("child_id")["locality"]
        rows["locality"] = rows["child_id"].map(locality).fillna("")
    else:
        rows["locality"] = ""
    util_b, util_a = w["utilisation_before"].to_dict(), w["utilisation_after"].to_dict()
    rows["to_utilisation_before"] = rows["to_worker_id"].map(util_b)
    rows["to_utilisation_after"] = rows["to_worker_id"].map(util_a)
    rows["decision"] = ""
    rows["note"] = ""
    if "explanation" not in rows.columns:
        rows["explanation"] = ""
    family = rows["family_id"].where(rows["family_id"] != "", "\x00" + rows["child_id"])
    rows["_family"] = family
    rows["_team"] = rows.groupby("_family")["team"].transform("min")
    rows = rows.sort_values(["_team", "_family", "child_id"], kind="stable")
    return rows[MOVES_COLUMNS].reset_index(drop=True)


def write_review(path: Path, plan: pd.DataFrame, workers: pd.DataFrame,
                 children: pd.DataFrame, summary: Summary, plan_sha256: str,
                 team: str | None = None) -> int:
    """The workbook, written whole then renamed into place; returns the number of rows. With
    a team, only the rows where a child leaves or joins that team, only its workers, and its
    own figures: a manager sees no other team's children."""
    from openpyxl import Workbook

    from rebalancer.io.outputs import atomic_write

    moves = moves_table(plan, workers, children)
    if team is not None:
        moves = moves[(moves["from_team"] == team) | (moves["to_team"] == team)]
        moves = moves.reset_index(drop=True)
        workers = workers[workers["team"] == team]
    wb = Workbook()
    _moves_sheet(wb.active, moves)
    _workers_sheet(wb.create_sheet(WORKERS), workers)
    _summary_sheet(wb.create_sheet(SUMMARY), summary, plan_sha256, team,
                   team_kpis(workers, moves, team) if team is not None else None)
    for sheet in wb:
        _text_never_formula(sheet)
    atomic_write(path, lambda p: wb.save(p))
    return len(moves)


def _moves_sheet(ws: Any, moves: pd.DataFrame) -> None:
    """One row per proposed change, the decision cell a list of accept or reject."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    ws.title = MOVES
    _write_frame(ws, moves, TEXT_COLUMNS)
    n = len(moves)
    decision_col = get_column_letter(MOVES_COLUMNS.index("decision") + 1)
    dv = DataValidation(type="list", formula1='"accept,reject"', allow_blank=True,
                        showErrorMessage=True, errorTitle="accept or reject",
                        error="Choose accept or reject, or leave the cell empty (undecided).")
    ws.add_data_validation(dv)
    if n:
        dv.add(f"{decision_col}2:{decision_col}{n + 1}")
    for name in ("to_utilisation_before", "to_utilisation_after"):
        col = get_column_letter(MOVES_COLUMNS.index(name) + 1)
        for r in range(2, n + 2):
            ws[f"{col}{r}"].number_format = "0%"
    widths = {"explanation": 90, "reasons": 22, "note": 40, "team": 28, "from_team": 28,
              "to_team": 28}
    for i, name in enumerate(MOVES_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = widths.get(name, 14)


def _workers_sheet(ws: Any, workers: pd.DataFrame) -> None:
    """The workers, utilisation coloured by the report's bands."""
    from openpyxl.formatting.rule import CellIsRule
    from openpyxl.styles import PatternFill
    from openpyxl.utils import get_column_letter

    wk = workers.copy()
    _write_frame(ws, wk, {"worker_id", "team", "locality", "grade"})
    green = PatternFill("solid", fgColor="C6EFCE")
    amber = PatternFill("solid", fgColor="FFEB9C")
    red = PatternFill("solid", fgColor="FFC7CE")
    for name in ("utilisation_before", "utilisation_after"):
        col = get_column_letter(list(wk.columns).index(name) + 1)
        cells = f"{col}2:{col}{len(wk) + 1}"
        for r in range(2, len(wk) + 2):
            ws[f"{col}{r}"].number_format = "0%"
        # the bands of the report: under 100%, 100-110%, over 110%
        ws.conditional_formatting.add(cells, CellIsRule(operator="lessThan", formula=["1"],
                                                         fill=green))
        ws.conditional_formatting.add(cells, CellIsRule(operator="between",
                                                         formula=["1", "1.1"], fill=amber))
        ws.conditional_formatting.add(cells, CellIsRule(operator="greaterThan",
                                                         formula=["1.1"], fill=red))


def _summary_sheet(ws: Any, summary: Summary, plan_sha256: str, team: str | None,
                   team_rows: list[list[Any]] | None) -> None:
    """The figures (the county's, or the team's own), the plan's hash, and the reviewer cell."""
    from openpyxl.styles import Font, PatternFill

    ws.append(["kpi", "before", "after"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    if team_rows is None:
        before, after = summary.kpis.before, summary.kpis.after
        for key in KPI_NAMES:
            ws.append([key, before.value(key), after.value(key)])
    else:
        for row in team_rows:
            ws.append(row)
    ws.append([])
    ws.append(["status", summary.status])
    ws.append(["objective", summary.objective])
    ws.append(["plan_date", summary.config.plan_date.isoformat()])
    ws.append([PLAN_HASH_LABEL, plan_sha256])
    ws.append([TEAM_LABEL, team or "(every team)"])
    ws.append([SCOPE_LABEL, "team" if team else "county"])
    ws.append([REVIEWER_LABEL, None])  # the manager writes their name here
    ws[f"B{ws.max_row}"].fill = PatternFill("solid", fgColor="FFF2CC")
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 68


def team_kpis(workers: pd.DataFrame, moves: pd.DataFrame, team: str) -> list[list[Any]]:
    """A team's own figures, before and after the plan: its workers' load, capacity, overload
    and peak, and the children leaving and joining it."""
    cap = workers["capacity_points"].astype(float)
    out: list[list[Any]] = [["workers", len(workers), len(workers)]]
    for side in ("before", "after"):
        load = workers[f"load_{side}"].astype(float)
        out_row = {"children": int(workers[f"children_{side}"].sum()),
                   "load_points": round(float(load.sum()), 1),
                   "workers_over_capacity": int((load > cap + 1e-9).sum()),
                   "points_over_capacity": round(float((load - cap).clip(lower=0).sum()), 1),
                   "peak_utilisation": round(float((load / cap).max()), 4) if len(cap) else 0.0}
        if side == "before":
            before = out_row
        else:
            out += [[k, before[k], v] for k, v in out_row.items()]
    out.append(["capacity_points", round(float(cap.sum()), 1), round(float(cap.sum()), 1)])
    out.append(["children_leaving", "", int((moves["from_team"] == team).sum()
                                            - ((moves["from_team"] == team)
                                               & (moves["to_team"] == team)).sum())])
    out.append(["children_joining", "", int((moves["to_team"] == team).sum()
                                            - ((moves["from_team"] == team)
                                               & (moves["to_team"] == team)).sum())])
    return out


def _write_frame(ws: Any, df: pd.DataFrame, text: set[str]) -> None:
    from openpyxl.styles import Font

    ws.append(list(df.columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for record in df.itertuples(index=False):
        ws.append([_cell(v, name in text) for v, name in zip(record, df.columns, strict=True)])
    if text:  # IDs stay text: "007" is never turned into 7 by a spreadsheet
        for j, name in enumerate(df.columns, start=1):
            if name in text:
                for row in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                    row[0].number_format = "@"
    ws.freeze_panes = "A2"
    if ws.max_row >= 1:
        ws.auto_filter.ref = ws.dimensions


def _text_never_formula(ws: Any) -> None:
    """Every text cell is stored as a string: openpyxl would store a text starting with "=" as a
    live formula, and a team or ID from the inputs must never run in a manager's spreadsheet."""
    for row in ws.iter_rows():
        for c in row:
            if isinstance(c.value, str) and c.data_type == "f":
                c.data_type = "s"


def _cell(value: Any, text: bool) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if text:
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    return value


@dataclass
class Review:
    """What a manager decided: one row per reviewed child."""

    rows: pd.DataFrame  # child_id, from_worker_id, to_worker_id, action, decision, note
    team: str = ""  # "" for the whole county's workbook
    reviewer: str = ""  # the workbook's reviewer cell
    file: str = ""
    sha256: str = ""

    def counts(self) -> ReviewCounts:
        return counts_of(self.rows)


def counts_of(rows: pd.DataFrame) -> ReviewCounts:
    """Accepted, rejected and undecided rows of a decisions table."""
    d = rows["decision"]
    return ReviewCounts(int((d == "accept").sum()), int((d == "reject").sum()),
                        int((d == "").sum()))


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def read_review(path: Path, expected: pd.DataFrame, plan_sha256: str) -> tuple[Review | None,
                                                                             list[Problem]]:
    """The decisions in a workbook, checked against the rows the plan proposes (`expected`, the
    plan itself or its `moves_table`; a team's workbook against that team's rows)."""
    from openpyxl import load_workbook

    file = str(path)
    try:
        # formulas as their text (data_only=False): a formula is then seen, never its cached
        # value or an empty cell
        wb = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        return None, [Problem(file, "-", "-", f"cannot be read as an xlsx workbook "
                              f"({type(exc).__name__})", "give the review.xlsx that "
                              "`rebalancer review` wrote, saved as .xlsx")]
    problems = _workbook_problems(wb, file, plan_sha256)
    if problems:
        return None, problems
    labels = _summary_cells(wb)
    team = labels.get(TEAM_LABEL, "")
    scope = labels.get(SCOPE_LABEL)
    # the scope row says whose rows these are, so a team may be called anything, even
    # "(every team)"; a workbook without it is the county's when its team cell says so
    if scope == "county" or (scope is None and team == "(every team)"):
        team = ""
    if team and "from_team" in expected.columns:  # a team's workbook holds its own rows
        expected = expected[(expected["from_team"] == team) | (expected["to_team"] == team)]
    cell_rows = list(wb[MOVES].iter_rows())
    rows = [tuple(c.value for c in r) for r in cell_rows]
    formula = [tuple(getattr(c, "data_type", "") == "f" for c in r) for r in cell_rows]
    header = [_text(h) for h in rows[0]] if rows else []
    problems = _header_problems(header, file)
    if problems:
        return None, problems
    reader = _RowReader(file, header, expected)
    for r, values in enumerate(rows[1:], start=2):
        reader.read(r, values, formula[r - 1])
    problems = reader.problems + reader.deleted_rows()
    if problems:
        return None, problems
    frame = pd.DataFrame(reader.out, columns=["child_id", "from_worker_id", "to_worker_id",
                                              "action", "decision", "note"])
    from rebalancer.io.inputs import file_sha256

    return Review(frame, team, labels.get(REVIEWER_LABEL, "")[:64], file, file_sha256(path)), []


def _summary_cells(wb: Any) -> dict[str, str]:
    """The summary sheet's labelled cells (team, reviewer, plan hash), as text."""
    out = {}
    for row in wb[SUMMARY].iter_rows(values_only=True):
        if row and isinstance(row[0], str) and len(row) > 1:
            out[row[0]] = _text(row[1])
    return out


def _workbook_problems(wb: Any, file: str, plan_sha256: str) -> list[Problem]:
    """The workbook has its sheets and belongs to this plan (by the plan's hash)."""
    problems = [Problem(file, "-", "-", f"has no sheet '{sheet}'",
                        "use the workbook `rebalancer review` wrote; do not rename or delete "
                        "its sheets") for sheet in (MOVES, SUMMARY) if sheet not in wb.sheetnames]
    if problems:
        return problems
    found = None
    for row in wb[SUMMARY].iter_rows(values_only=True):
        if row and row[0] == PLAN_HASH_LABEL:
            found = _text(row[1]) if len(row) > 1 else ""
    if found != plan_sha256:
        return [Problem(file, f"sheet {SUMMARY}", PLAN_HASH_LABEL,
                        f"the workbook belongs to another plan (found {shown(found)})",
                        "write a fresh workbook with `rebalancer review --plan DIR` for this "
                        "plan folder")]
    return []


def _header_problems(header: list[str], file: str) -> list[Problem]:
    """Every column the reader needs is there, and none appears twice."""
    twice = sorted({h for h in header if h and header.count(h) > 1})
    if twice:
        return [Problem(file, f"sheet {MOVES}, row 1", ", ".join(twice),
                        "column heading(s) appear more than once, so which one holds the "
                        "answer is unclear", "delete the added column(s)")]
    missing = [c for c in ("child_id", "from_worker_id", "to_worker_id", "action", "decision",
                           "note") if c not in header]
    if missing:
        return [Problem(file, f"sheet {MOVES}, row 1", ", ".join(missing),
                        "column(s) missing from the header",
                        "restore the header row as `rebalancer review` wrote it")]
    return []


MAX_NOTE_CHARS = MAX_TEXT_LENGTH * 5  # what the decisions table accepts in its note column


class _RowReader:
    """The moves sheet row by row: each row a proposed move, unedited but for its decision and
    note; every problem is kept, so all are reported at once."""

    def __init__(self, file: str, header: list[str], plan: pd.DataFrame) -> None:
        self.file = file
        self.col = {name: header.index(name) for name in header if name}
        self.proposed = plan[plan["action"].isin(REVIEWED_ACTIONS)].set_index("child_id")
        self.checked = [c for c in CHECKED_COLUMNS
                        if c in self.proposed.columns and c in self.col]
        self.seen: dict[str, int] = {}
        self.out: list[dict[str, str]] = []
        self.problems: list[Problem] = []

    def cell(self, name: str, r: int) -> str:
        from openpyxl.utils import get_column_letter

        return f"{name} (cell {get_column_letter(self.col[name] + 1)}{r})"

    def read(self, r: int, values: tuple[Any, ...], formula: tuple[bool, ...]) -> None:
        cells = {name: _text(values[j]) if j < len(values) else ""
                 for name, j in self.col.items()}
        if not any(cells.values()):
            return
        cid = cells["child_id"]
        where = f"sheet {MOVES}, row {r}" + (f" (child_id {shown(cid)[1:-1]})" if cid else "")
        bad = lambda name, msg, fix: self.problems.append(  # noqa: E731
            Problem(self.file, where, self.cell(name, r), msg, fix))
        raw_id = values[self.col["child_id"]] if self.col["child_id"] < len(values) else None
        if isinstance(raw_id, int | float) and not isinstance(raw_id, bool):
            bad("child_id", f"holds the number {shown(raw_id)}: the spreadsheet turned the ID "
                "into a number (leading zeros are lost)", "restore the ID as text, as the "
                "workbook had it (format the column as Text first)")
            return
        if cid not in self.proposed.index:
            bad("child_id", f"{shown(cid)} is not a child whose move the plan proposes (a row "
                "added, or its ID edited)", "delete the row or restore the ID the workbook had")
            return
        if cid in self.seen:
            bad("child_id", f"{shown(cid)} appears again (first on row {self.seen[cid]})",
                "keep one row per child")
            return
        self.seen[cid] = r
        for name in self.checked:
            if cells[name] != str(self.proposed.at[cid, name]):
                bad(name, f"{shown(cells[name])} was edited (the plan proposes "
                    f"{shown(self.proposed.at[cid, name])})", "restore the value: a different "
                    "outcome is asked for by 'reject' and a note, not by editing the row")
        decision = cells["decision"].lower()
        j = self.col["decision"]
        if j < len(formula) and formula[j]:
            bad("decision", f"holds a formula {shown(cells['decision'])}, not a decision",
                "type accept or reject (or choose from the list), or leave it empty")
        elif decision not in ("", *DECISION_WORDS):
            bad("decision", f"{shown(cells['decision'])} is not a decision",
                "choose accept or reject from the list, or leave it empty")
        if len(cells["note"]) > MAX_NOTE_CHARS:  # decisions.csv could not carry it forward
            bad("note", f"is {len(cells['note']):,} characters long, more than the "
                f"{MAX_NOTE_CHARS:,} a decision's note may hold", "shorten the note")
        self.out.append({"child_id": cid, "from_worker_id": cells["from_worker_id"],
                         "to_worker_id": cells["to_worker_id"], "action": cells["action"],
                         "decision": decision, "note": cells["note"]})

    def deleted_rows(self) -> list[Problem]:
        gone = [c for c in self.proposed.index if c not in self.seen]
        if not gone:
            return []
        more = f" and {len(gone) - 10} more" if len(gone) > 10 else ""
        return [Problem(self.file, f"sheet {MOVES}", "child_id",
                        f"{len(gone)} proposed move(s) have no row (deleted): "
                        f"{', '.join(gone[:10])}{more}",
                        "restore the deleted rows (leave decision empty if undecided)")]


def review_decisions(review: Any, reviewer: str) -> pd.DataFrame:
    """The contract's decisions that hold the manager's choices: accept -> assign the proposed
    worker; reject -> forbid the proposed worker and keep the current one where there is one
    (the keep yields, as any keep does, if the rules no longer allow that worker)."""
    rows = []
    for r in review.rows.itertuples(index=False):
        who = getattr(r, "reviewer", "") or reviewer
        note = r.note or f"{r.decision}ed in review" + (f" by {who}" if who else "")
        if r.decision == "accept" and r.to_worker_id:
            rows.append((r.child_id, "assign", r.to_worker_id, note))
        elif r.decision == "reject":
            if r.to_worker_id:
                rows.append((r.child_id, "forbid", r.to_worker_id, note))
            if r.from_worker_id:
                rows.append((r.child_id, "keep", r.from_worker_id, note))
    return pd.DataFrame(rows, columns=["child_id", "decision", "worker_id", "note"])
