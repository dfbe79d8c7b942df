"""The review workbook: written from a plan folder for team managers, read back for `replan`.

A manager marks each proposed move `accept` or `reject` (a dropdown) and may add a note. The
workbook is read with the same care as the inputs: unknown decision words, edited IDs, rows
deleted or added, and a workbook from another plan are each a clear problem naming the sheet,
row, cell and the value found, all reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
# the changes the plan schedules for later weeks (its look-ahead), decided like today's: a row
# per child and date, reject forbidding the proposed worker in the re-plan (see review_decisions)
SCHEDULED = "scheduled"
SCHEDULED_COLUMNS = ["child_id", "family_id", "team", "from_team", "to_team", "cross_team",
                     "week", "effective_on", "from_worker_id", "to_worker_id", "action",
                     "forced", "reasons", "explanation", "decision", "note"]
SCHEDULED_TEXT = set(SCHEDULED_COLUMNS) - {"week"}
SCHEDULED_CHECKED = ("family_id", "team", "from_team", "to_team", "cross_team", "week",
                     "from_worker_id", "to_worker_id", "action", "forced", "reasons",
                     "explanation")
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


def scheduled_table(schedule: pd.DataFrame, plan: pd.DataFrame, workers: pd.DataFrame
                    ) -> pd.DataFrame:
    """One row per change the plan schedules after week 0, by date, with the sending and
    receiving workers' teams (a handover between two teams is in both teams' workbooks)."""
    team_of = workers.set_index("worker_id")["team"].to_dict()
    family = plan.set_index("child_id")["family_id"]
    rows = schedule.copy()
    rows["family_id"] = rows["child_id"].map(family).fillna("")
    rows["from_team"] = rows["from_worker_id"].map(lambda w: team_of.get(w, ""))
    rows["to_team"] = rows["to_worker_id"].map(lambda w: team_of.get(w, ""))
    rows["team"] = rows["to_team"].where(rows["to_team"] != "", rows["from_team"])
    rows["cross_team"] = ((rows["from_team"] != "") & (rows["to_team"] != "")
                          & (rows["from_team"] != rows["to_team"])).map({True: "yes",
                                                                         False: ""})
    rows["week"] = rows["week"].astype(int)
    for name in ("forced", "reasons", "explanation"):
        rows[name] = rows[name].astype(str)
    rows["decision"] = ""
    rows["note"] = ""
    rows = rows.sort_values(["effective_on", "team", "child_id"], kind="stable")
    return rows[SCHEDULED_COLUMNS].astype({c: object for c in SCHEDULED_TEXT}).reset_index(
        drop=True)


def _of_team(rows: pd.DataFrame, team: str | None) -> pd.DataFrame:
    """The rows where a child leaves or joins `team` (every row for the county)."""
    if team is None:
        return rows
    return rows[(rows["from_team"] == team) | (rows["to_team"] == team)].reset_index(drop=True)


def write_review(path: Path, plan: pd.DataFrame, workers: pd.DataFrame,
                 children: pd.DataFrame, summary: Summary, plan_sha256: str,
                 team: str | None = None, schedule: pd.DataFrame | None = None) -> int:
    """The workbook, written whole then renamed into place; returns the number of rows (today's
    changes and the scheduled ones). With a team, only the rows where a child leaves or joins
    that team, only its workers, and its own figures: a manager sees no other team's children.
    With the plan's schedule (its look-ahead), a sheet of the changes it schedules for later
    weeks, decided in the same way."""
    from openpyxl import Workbook

    from rebalancer.io.outputs import atomic_write

    moves = _of_team(moves_table(plan, workers, children), team)
    scheduled = None if schedule is None else _of_team(
        scheduled_table(schedule, plan, workers), team)
    if team is not None:
        workers = workers[workers["team"] == team]
    wb = Workbook()
    _moves_sheet(wb.active, moves)
    if scheduled is not None:
        _scheduled_sheet(wb.create_sheet(SCHEDULED), scheduled)
    _workers_sheet(wb.create_sheet(WORKERS), workers)
    _summary_sheet(wb.create_sheet(SUMMARY), summary, plan_sha256, team,
                   team_kpis(workers, moves, team) if team is not None else None)
    for sheet in wb:
        _text_never_formula(sheet)
    atomic_write(path, lambda p: wb.save(p))
    return len(moves) + (0 if scheduled is None else len(scheduled))


def _moves_sheet(ws: Any, moves: pd.DataFrame) -> None:
    """One row per proposed change, the decision cell a list of accept or reject."""
    from openpyxl.utils import get_column_letter

    ws.title = MOVES
    _write_frame(ws, moves, TEXT_COLUMNS)
    n = len(moves)
    _decision_list(ws, MOVES_COLUMNS.index("decision"), n)
    for name in ("to_utilisation_before", "to_utilisation_after"):
        col = get_column_letter(MOVES_COLUMNS.index(name) + 1)
        for r in range(2, n + 2):
            ws[f"{col}{r}"].number_format = "0%"
    widths = {"explanation": 90, "reasons": 22, "note": 40, "team": 28, "from_team": 28,
              "to_team": 28}
    for i, name in enumerate(MOVES_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = widths.get(name, 14)


def _decision_list(ws: Any, column: int, n: int) -> None:
    """The decision cells of `n` rows (0-based `column`): a list of accept or reject."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    col = get_column_letter(column + 1)
    dv = DataValidation(type="list", formula1='"accept,reject"', allow_blank=True,
                        showErrorMessage=True, errorTitle="accept or reject",
                        error="Choose accept or reject, or leave the cell empty (undecided).")
    ws.add_data_validation(dv)
    if n:
        dv.add(f"{col}2:{col}{n + 1}")


def _scheduled_sheet(ws: Any, scheduled: pd.DataFrame) -> None:
    """One row per change scheduled after week 0, with its date; decided like today's."""
    from openpyxl.utils import get_column_letter

    _write_frame(ws, scheduled, SCHEDULED_TEXT)
    _decision_list(ws, SCHEDULED_COLUMNS.index("decision"), len(scheduled))
    widths = {"explanation": 90, "reasons": 22, "note": 40, "team": 28, "from_team": 28,
              "to_team": 28, "effective_on": 12, "week": 6}
    for i, name in enumerate(SCHEDULED_COLUMNS, start=1):
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


# a sheet's rows as read: today's changes, and the scheduled ones with their date and week
DECIDED = ["child_id", "from_worker_id", "to_worker_id", "action", "decision", "note"]
DECIDED_SCHEDULED = [*DECIDED, "effective_on", "week"]


@dataclass
class Review:
    """What a manager decided: one row per reviewed child."""

    rows: pd.DataFrame  # child_id, from_worker_id, to_worker_id, action, decision, note
    team: str = ""  # "" for the whole county's workbook
    reviewer: str = ""  # the workbook's reviewer cell
    file: str = ""
    sha256: str = ""
    # the scheduled changes decided (the plan's later weeks): the rows' columns with
    # effective_on and week; empty for a plan of its date alone
    scheduled: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=DECIDED_SCHEDULED))

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


def read_review(path: Path, expected: pd.DataFrame, plan_sha256: str,
                scheduled: pd.DataFrame | None = None) -> tuple[Review | None, list[Problem]]:
    """The decisions in a workbook, checked against the rows the plan proposes (`expected`, the
    plan itself or its `moves_table`; a team's workbook against that team's rows), and against
    the changes it schedules (`scheduled`, its `scheduled_table`; None: a plan without a
    look-ahead)."""
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
    proposed = expected[expected["action"].isin(REVIEWED_ACTIONS)]
    frame, problems = _read_sheet(wb, MOVES, file, proposed.set_index("child_id"),
                                  ("child_id",), CHECKED_COLUMNS, DECIDED)
    later = pd.DataFrame(columns=DECIDED_SCHEDULED)
    if scheduled is not None and (SCHEDULED in wb.sheetnames or len(scheduled)):
        if team:
            scheduled = _of_team(scheduled, team)
        if SCHEDULED not in wb.sheetnames:
            problems.append(Problem(file, "-", "-", f"has no sheet '{SCHEDULED}' (the plan "
                                    "schedules changes for later weeks)", "use the workbook "
                                    "`rebalancer review` wrote; do not rename or delete its "
                                    "sheets"))
        else:
            later, found = _read_sheet(
                wb, SCHEDULED, file,
                scheduled.set_index(["child_id", "effective_on"], drop=False),
                ("child_id", "effective_on"), SCHEDULED_CHECKED, DECIDED_SCHEDULED)
            problems += found
    if problems:
        return None, problems
    from rebalancer.io.inputs import file_sha256

    return Review(frame, team, labels.get(REVIEWER_LABEL, "")[:64], file, file_sha256(path),
                  later), []


def _read_sheet(wb: Any, sheet: str, file: str, proposed: pd.DataFrame, key: tuple[str, ...],
                checked: tuple[str, ...], columns: list[str]
                ) -> tuple[pd.DataFrame, list[Problem]]:
    """One sheet of decisions, row by row against the rows proposed (indexed by `key`)."""
    cell_rows = list(wb[sheet].iter_rows())
    rows = [tuple(c.value for c in r) for r in cell_rows]
    formula = [tuple(getattr(c, "data_type", "") == "f" for c in r) for r in cell_rows]
    header = [_text(h) for h in rows[0]] if rows else []
    problems = _header_problems(header, file, sheet, key)
    if problems:
        return pd.DataFrame(columns=columns), problems
    reader = _RowReader(file, sheet, header, proposed, key, checked, columns)
    for r, values in enumerate(rows[1:], start=2):
        reader.read(r, values, formula[r - 1])
    return (pd.DataFrame(reader.out, columns=columns),
            reader.problems + reader.deleted_rows())


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


def _header_problems(header: list[str], file: str, sheet: str, key: tuple[str, ...]
                     ) -> list[Problem]:
    """Every column the reader needs is there, and none appears twice."""
    twice = sorted({h for h in header if h and header.count(h) > 1})
    if twice:
        return [Problem(file, f"sheet {sheet}, row 1", ", ".join(twice),
                        "column heading(s) appear more than once, so which one holds the "
                        "answer is unclear", "delete the added column(s)")]
    missing = [c for c in dict.fromkeys((*key, "from_worker_id", "to_worker_id", "action",
                                         "decision", "note")) if c not in header]
    if missing:
        return [Problem(file, f"sheet {sheet}, row 1", ", ".join(missing),
                        "column(s) missing from the header",
                        "restore the header row as `rebalancer review` wrote it")]
    return []


MAX_NOTE_CHARS = MAX_TEXT_LENGTH * 5  # what the decisions table accepts in its note column


class _RowReader:
    """A sheet of decisions row by row: each row a proposed change (a child's move today, or a
    change scheduled for a date), unedited but for its decision and note; every problem is
    kept, so all are reported at once."""

    def __init__(self, file: str, sheet: str, header: list[str], proposed: pd.DataFrame,
                 key: tuple[str, ...], checked: tuple[str, ...], columns: list[str]) -> None:
        self.file, self.sheet, self.key, self.columns = file, sheet, key, columns
        self.col = {name: header.index(name) for name in header if name}
        self.proposed = proposed
        self.checked = [c for c in checked if c in self.proposed.columns and c in self.col]
        self.seen: dict[Any, int] = {}
        self.out: list[dict[str, Any]] = []
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
        where = f"sheet {self.sheet}, row {r}" + (f" (child_id {shown(cid)[1:-1]})" if cid
                                                  else "")
        bad = lambda name, msg, fix: self.problems.append(  # noqa: E731
            Problem(self.file, where, self.cell(name, r), msg, fix))
        raw_id = values[self.col["child_id"]] if self.col["child_id"] < len(values) else None
        if isinstance(raw_id, int | float) and not isinstance(raw_id, bool):
            bad("child_id", f"holds the number {shown(raw_id)}: the spreadsheet turned the ID "
                "into a number (leading zeros are lost)", "restore the ID as text, as the "
                "workbook had it (format the column as Text first)")
            return
        k = cid if len(self.key) == 1 else tuple(cells[name] for name in self.key)
        if k not in self.proposed.index:
            what = ("a child whose move the plan proposes" if len(self.key) == 1 else
                    "a change the plan schedules for that child on that date")
            bad(self.key[-1], f"{shown(cells[self.key[-1]])} is not {what} (a row added, or "
                "its ID or date edited)", "delete the row or restore what the workbook had")
            return
        if k in self.seen:
            bad("child_id", f"{shown(cid)} appears again (first on row {self.seen[k]})",
                "keep one row per child" + ("" if len(self.key) == 1 else " and date"))
            return
        self.seen[k] = r
        for name in self.checked:
            if cells[name] != str(self.proposed.at[k, name]):
                bad(name, f"{shown(cells[name])} was edited (the plan proposes "
                    f"{shown(self.proposed.at[k, name])})", "restore the value: a different "
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
        row: dict[str, Any] = {name: cells.get(name, "") for name in self.columns}
        row["decision"] = decision
        if "week" in row:
            row["week"] = int(self.proposed.at[k, "week"])
        self.out.append(row)

    def deleted_rows(self) -> list[Problem]:
        gone = [c if isinstance(c, str) else " on ".join(c) for c in self.proposed.index
                if c not in self.seen]
        if not gone:
            return []
        more = f" and {len(gone) - 10} more" if len(gone) > 10 else ""
        what = "proposed move(s)" if len(self.key) == 1 else "scheduled change(s)"
        return [Problem(self.file, f"sheet {self.sheet}", "child_id",
                        f"{len(gone)} {what} have no row (deleted): "
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
    # a scheduled change: accepted or undecided, the re-plan keeps it as a published week
    # (weights.previous_change); rejected, the proposed worker is forbidden the child in every
    # week, so it is handed over (or allocated) to another. Keeping the sending worker is not
    # asked: a scheduled change is one their calendar makes (they leave or are away)
    written = {x[:3] for x in rows}
    for r in review.scheduled.itertuples(index=False):
        key = (r.child_id, "forbid", r.to_worker_id)
        if r.decision == "reject" and r.to_worker_id and key not in written:
            who = getattr(r, "reviewer", "") or reviewer
            note = r.note or (f"rejected in review (scheduled for {r.effective_on})"
                              + (f" by {who}" if who else ""))
            rows.append((*key, note))
            written.add(key)
    return pd.DataFrame(rows, columns=["child_id", "decision", "worker_id", "note"])
