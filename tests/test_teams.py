"""Every team manager signs off their own team: a workbook and a page per team, several
workbooks merged into one re-plan by one rule, a LibreOffice-saved workbook read back.

The county: A1 (team North A) leaves, so K1, K2 and K3 move to North B's idle workers (A2 is
full): three cross-team moves, in both teams' workbooks. U1, unallocated, is allocated within
North B. In the South, C1 leaves and S1 moves within South C.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from openpyxl import load_workbook
from typer.testing import CliRunner

from rebalancer.cli import app
from tests.conftest import Case, child, filler, worker

runner = CliRunner()
FIXTURE = Path(__file__).parent / "fixtures" / "review-north-a-libreoffice.xlsx"


def county(case: Case) -> Path:
    """The hand-made county above, planned; its plan (and so its hash) is the same every run."""
    w = [{**worker("A1", leaving_on="2026-12-05"), "team": "North A"},
         {**worker("A2"), "team": "North A"},
         {**worker("B1"), "team": "North B"}, {**worker("B2"), "team": "North B"},
         {**worker("C1", locality="South", leaving_on="2026-12-05"), "team": "South C"},
         {**worker("C2", locality="South"), "team": "South C"}]
    kids = [child(k, current="A1", allocated_on="2026-06-01") for k in ("K1", "K2", "K3")]
    kids += [child("U1"), child("S1", locality="South", current="C1",
                                allocated_on="2026-06-01"), *filler("A2", 84)]
    case.run(w, kids, fmt="csv")
    return case.root / "out"


def args(case: Case) -> list[str]:
    c = case.root
    return ["--workers", str(c / "workers.csv"), "--children", str(c / "children.csv"),
            "--config", str(c / "config.toml")]


def decide(book: Path, decisions: dict[str, str], reviewer: str | None = None) -> None:
    wb = load_workbook(book)
    ws = wb["moves"]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        cid = row[header.index("child_id")].value
        if cid in decisions:
            row[header.index("decision")].value = decisions[cid]
    if reviewer is not None:
        for row in wb["summary"].iter_rows():
            if row[0].value == "reviewer":
                row[1].value = reviewer
    wb.save(book)


def children_in(book: Path) -> set[str]:
    ws = load_workbook(book)["moves"]
    header = [c.value for c in ws[1]]
    return {r[header.index("child_id")] for r in ws.iter_rows(min_row=2, values_only=True)}


def test_a_workbook_per_team_holds_only_that_teams_children(case: Case) -> None:
    out = county(case)
    r = runner.invoke(app, ["review", "--plan", str(out), "--by-team"])
    assert r.exit_code == 0, r.output
    folder = out / "review"
    index = (folder / "index.csv").read_text(encoding="utf-8-sig").splitlines()
    assert index[0] == "team,file,rows,sha256"
    files = {line.split(",")[0]: line.split(",")[1] for line in index[1:]}
    assert files == {"North A": "review-north-a.xlsx", "North B": "review-north-b.xlsx",
                     "South C": "review-south-c.xlsx"}
    assert children_in(folder / files["North A"]) == {"K1", "K2", "K3"}
    assert children_in(folder / files["North B"]) == {"K1", "K2", "K3", "U1"}
    assert children_in(folder / files["South C"]) == {"S1"}
    wb = load_workbook(folder / files["North A"])
    assert {r[0] for r in wb["workers"].iter_rows(min_row=2, values_only=True)} == {"A1", "A2"}
    moves = list(wb["moves"].iter_rows(values_only=True))
    header = list(moves[0])
    assert {r[header.index("cross_team")] for r in moves[1:]} == {"yes"}
    assert {r[header.index("to_team")] for r in moves[1:]} == {"North B"}
    labels = {r[0]: r[1] for r in wb["summary"].iter_rows(values_only=True) if r and r[0]}
    assert labels["team"] == "North A" and "reviewer" in labels
    after = {r[0]: r[2] for r in wb["summary"].iter_rows(values_only=True) if r and r[0]}
    assert after["children_leaving"] == 3 and after["children_joining"] == 0
    assert after["workers"] == 2
    # the pages: each team's own children only
    r = runner.invoke(app, ["report", "--plan", str(out), "--by-team"])
    assert r.exit_code == 0, r.output
    page_a = (out / "report-north-a.html").read_text()
    assert "K1" in page_a and "S1" not in page_a and "U1" not in page_a
    assert "S1" in (out / "report-south-c.html").read_text()


def test_two_team_workbooks_merge_by_the_rule_and_the_audit_names_both(case: Case) -> None:
    out = county(case)
    assert runner.invoke(app, ["review", "--plan", str(out), "--by-team"]).exit_code == 0
    books = out / "review"
    # North A's manager decided in LibreOffice Calc (the fixture, made once from this county);
    # North B's in openpyxl, its reviewer cell left empty (--reviewer names them)
    shutil.copy(FIXTURE, books / "review-north-a.xlsx")
    decide(books / "review-north-b.xlsx", {"K1": "accept", "K2": "accept", "U1": "reject"})
    (books / "review-south-c.xlsx").unlink()
    p2, db = case.root / "p2", case.root / "trail.sqlite"
    r = runner.invoke(app, ["replan", *args(case), "--plan", str(out), "--review", str(books),
                            "--out", str(p2), "--reviewer", "Bob", "--audit", str(db),
                            "--format", "csv",
                            "--quiet"])
    assert r.exit_code == 0, r.output
    assert ("disagreement on K2: accepted by Bob (North B), rejected by Alice (North A): the "
            "reject wins") in r.output
    assert "against the reviewed plan" in r.output and "North A" in r.output
    review = json.loads((p2 / "summary.json").read_text())["review"]
    assert review["disagreements"] == [{"child_id": "K2", "outcome": "reject",
                                        "accepted_by": ["Bob (North B)"],
                                        "rejected_by": ["Alice (North A)"]}]
    assert review["by_team"]["North A"] == {"accepted": 2, "rejected": 1, "undecided": 0}
    old = {r[0]: r[5] for r in _rows(out / "plan.csv")}
    new = {r[0]: r[5] for r in _rows(p2 / "plan.csv")}
    assert new["K1"] == old["K1"] and new["K3"] == old["K3"]  # accepted (K3 as 'Accept ')
    assert new["K2"] != old["K2"] and new["U1"] != old["U1"]  # rejected
    c = runner.invoke(app, ["check", *args(case), "--plan", str(p2)])
    assert c.exit_code == 0, c.output
    with sqlite3.connect(db) as con:
        payloads = [json.loads(p) for (p,) in con.execute(
            "SELECT payload FROM entries WHERE kind = 'decision'")]
    assert {p["reviewer"] for p in payloads} == {"Alice (North A)", "Bob (North B)"}
    assert all(len(p["workbook_sha256"]) == 64 for p in payloads)
    # both teams' words on K2 are kept, each with its reviewer and workbook, beside the
    # merged outcome: the trail records who said what, not only who won
    with sqlite3.connect(db) as con:
        said = [json.loads(p) for (p,) in con.execute(
            "SELECT payload FROM entries WHERE kind = 'submitted'")]
    on_k2 = sorted((p["team"], p["reviewer"], p["decision"]) for p in said
                   if p["child_id"] == "K2")
    assert on_k2 == [("North A", "Alice", "reject"), ("North B", "", "accept")] or \
        on_k2 == [("North A", "Alice", "reject"), ("North B", "Bob", "accept")]
    books_sha = {p["workbook_sha256"] for p in said if p["child_id"] == "K2"}
    assert len(books_sha) == 2
    merged = [p for p in payloads if p["child_id"] == "K2"]
    assert [p["decision"] for p in merged] == ["reject"]


def test_two_workbooks_of_one_team_that_disagree_are_refused(case: Case) -> None:
    out = county(case)
    assert runner.invoke(app, ["review", "--plan", str(out), "--by-team"]).exit_code == 0
    books = out / "review"
    shutil.copy(books / "review-north-b.xlsx", case.root / "b-copy.xlsx")
    decide(books / "review-north-b.xlsx", {"K1": "accept"})
    decide(case.root / "b-copy.xlsx", {"K1": "reject"})
    p2 = case.root / "p2"
    r = runner.invoke(app, ["replan", *args(case), "--plan", str(out), "--review",
                            str(books / "review-north-b.xlsx"), "--review",
                            str(case.root / "b-copy.xlsx"), "--out", str(p2), "--quiet"])
    assert r.exit_code == 1 and "a workbook of the same team (North B)" in r.output
    assert not p2.exists()


def test_an_id_turned_into_a_number_is_refused(case: Case) -> None:
    out = county(case)
    assert runner.invoke(app, ["review", "--plan", str(out)]).exit_code == 0
    wb = load_workbook(out / "review.xlsx")
    ws = wb["moves"]
    ws["A2"].value = 7
    wb.save(out / "review.xlsx")
    r = runner.invoke(app, ["replan", *args(case), "--plan", str(out), "--review",
                            str(out / "review.xlsx"), "--out", str(case.root / "p2"), "--quiet"])
    assert r.exit_code == 1 and "child_id (cell A2)" in r.output and "number" in r.output


def _rows(path: Path) -> list[list[str]]:
    import csv

    with path.open(encoding="utf-8-sig") as f:
        return list(csv.reader(f))[1:]


def make_fixture() -> None:  # pragma: no cover - run by hand when the plan's bytes change
    """Rebuild the LibreOffice fixture: North A's workbook of this county, decided (Alice: K1
    accept, K2 reject, K3 'Accept '), then opened and saved by Debian's LibreOffice Calc
    (`apt-get install libreoffice-calc-nogui`). Run: python -m tests.test_teams"""
    import subprocess
    import tempfile

    root = Path(tempfile.mkdtemp())
    case = Case(root)
    out = county(case)
    assert runner.invoke(app, ["review", "--plan", str(out), "--by-team"]).exit_code == 0
    book = out / "review" / "review-north-a.xlsx"
    decide(book, {"K1": "accept", "K2": "reject", "K3": "Accept "}, reviewer="Alice")
    subprocess.run(["soffice", "--headless", "--convert-to", "xlsx:Calc MS Excel 2007 XML",
                    "--outdir", str(root / "lo"), str(book)], check=True)
    shutil.copy(root / "lo" / book.name, FIXTURE)


if __name__ == "__main__":  # pragma: no cover
    make_fixture()


def test_what_a_review_folder_holds_is_read_once_and_said(case: Case) -> None:
    # a workbook saved as .XLSX is read; the same workbook twice is read once (counts not
    # doubled); a note and a lock file are passed over; the terminal says which was which
    out = county(case)
    assert runner.invoke(app, ["review", "--plan", str(out), "--by-team"]).exit_code == 0
    books = out / "review"
    north_a = next(books.glob("review-north-a*.xlsx"))
    decide(north_a, {"K2": "reject"}, reviewer="Alice")
    north_a.rename(books / "REVIEW-NORTH-A.XLSX")
    shutil.copy(books / "REVIEW-NORTH-A.XLSX", books / "copy-of-north-a.xlsx")
    (books / "notes.txt").write_text("call Alice\n")
    (books / "~$review-north-b.xlsx").write_text("")
    p2 = case.root / "p2"
    r = runner.invoke(app, ["replan", *args(case), "--plan", str(out), "--review", str(books),
                            "--out", str(p2), "--quiet"])
    assert r.exit_code == 0, r.output
    review = json.loads((p2 / "summary.json").read_text())["review"]
    assert review["by_team"]["North A"]["rejected"] == 1  # not 2
    assert "read REVIEW-NORTH-A.XLSX (North A)" in r.output
    assert "skipped copy-of-north-a.xlsx (the same workbook as REVIEW-NORTH-A.XLSX" in r.output
    assert "skipped notes.txt (not an .xlsx workbook)" in r.output
    assert "skipped ~$review-north-b.xlsx (a lock or hidden file)" in r.output


def test_an_edited_explanation_or_reason_is_refused_like_an_edited_id(case: Case) -> None:
    out = county(case)
    assert runner.invoke(app, ["review", "--plan", str(out)]).exit_code == 0
    book = out / "review.xlsx"
    wb = load_workbook(book)
    ws = wb["moves"]
    header = [c.value for c in ws[1]]
    ws.cell(row=2, column=header.index("explanation") + 1).value = "moved because I said so"
    ws.cell(row=3, column=header.index("reasons") + 1).value = "BALANCE"
    wb.save(book)
    r = runner.invoke(app, ["replan", *args(case), "--plan", str(out), "--review", str(book),
                            "--out", str(case.root / "p2"), "--quiet"])
    assert r.exit_code == 1
    assert "explanation" in r.output and "reasons" in r.output and "was edited" in r.output
    assert not (case.root / "p2").exists()


def test_a_team_may_be_called_every_team_and_index_csv_stays_text(case: Case) -> None:
    w = [{**worker("A1", leaving_on="2026-12-05"), "team": "(every team)"},
         {**worker("B1"), "team": "=HYPERLINK(\"http://x\")"}]
    # U1 is allocated within the other team: not a row of the "(every team)" team's workbook,
    # which a reader taking that team for the whole county would miss as a deleted row
    case.run(w, [child("K1", current="A1", allocated_on="2026-06-01"), child("U1")],
             fmt="csv")
    out = case.root / "out"
    assert runner.invoke(app, ["review", "--plan", str(out), "--by-team"]).exit_code == 0
    index = (out / "review" / "index.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in index and "\n=HYPERLINK" not in index
    book = next(p for p in (out / "review").glob("*.xlsx") if "every-team" in p.name)
    decide(book, {"K1": "reject"}, reviewer="Eve")
    r = runner.invoke(app, ["replan", *args(case), "--plan", str(out), "--review", str(book),
                            "--out", str(case.root / "p2"), "--quiet"])
    assert r.exit_code == 0, r.output
    review = json.loads((case.root / "p2" / "summary.json").read_text())["review"]
    assert review["by_team"] == {"(every team)": {"accepted": 0, "rejected": 1,
                                                  "undecided": 0}}
