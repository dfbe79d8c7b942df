"""Managers sign off: the review workbook, the re-plan that keeps what was not rejected, the
audit trail, and the report page."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from rebalancer.cli import app
from rebalancer.io.outputs import read_table_file
from tests.conftest import Case, child, decide, filler, generated, small_county, worker

runner = CliRunner()


def run(*args: str) -> object:
    return runner.invoke(app, [*args])


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A steady county planned once, with its review workbook."""
    root = tmp_path_factory.mktemp("review")
    inp = generated(root, children=300, workers=24, seed=9, scenario="steady")
    r = run("rebalance", "--workers", str(inp / "workers.csv"), "--children",
            str(inp / "children.csv"), "--out", str(root / "p1"), "--format", "csv",
            "--time-limit", "10", "--quiet")
    assert r.exit_code == 0, r.output
    r = run("review", "--plan", str(root / "p1"))
    assert r.exit_code == 0, r.output
    return root


def _sheet_rows(path: Path, sheet: str = "moves") -> list[list[object]]:
    wb = load_workbook(path)
    return [list(r) for r in wb[sheet].iter_rows(values_only=True)]


def test_workbook_is_a_real_review_sheet(reviewed: Path) -> None:
    wb = load_workbook(reviewed / "p1" / "review.xlsx")
    assert wb.sheetnames == ["moves", "scheduled", "workers", "summary"]
    ws = wb["moves"]
    header = [c.value for c in ws[1]]
    for col in ("child_id", "family_id", "case_type", "team", "locality", "from_worker_id",
                "to_worker_id", "action", "reasons", "explanation", "to_utilisation_before",
                "to_utilisation_after", "decision", "note"):
        assert col in header
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref
    validations = ws.data_validations.dataValidation
    assert any(v.formula1 == '"accept,reject"' for v in validations)
    plan = read_table_file(reviewed / "p1" / "plan.csv")
    proposed = plan[plan["action"].isin(["move", "allocate", "unallocated"])]
    rows = [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert sorted(r["child_id"] for r in rows) == sorted(proposed["child_id"])
    cid = ws.cell(2, header.index("child_id") + 1)
    assert cid.data_type == "s" and cid.number_format == "@"
    # families together: each family's rows are contiguous
    fams = [r["family_id"] for r in rows if r["family_id"]]
    for fam in set(fams):
        idx = [i for i, r in enumerate(rows) if r["family_id"] == fam]
        assert idx == list(range(idx[0], idx[0] + len(idx)))
    assert wb["workers"].conditional_formatting
    summary = {r[0]: r[1:] for r in wb["summary"].iter_rows(values_only=True) if r and r[0]}
    assert "unallocated" in summary and "plan_sha256" in summary


def _decide(path: Path, accept: int, reject: int, note: str = "") -> tuple[list[str], list[str]]:
    """Mark rows as a spreadsheet user would: openpyxl, cell by cell, then save."""
    wb = load_workbook(path)
    ws = wb["moves"]
    header = [c.value for c in ws[1]]
    d, n, c = (header.index(x) + 1 for x in ("decision", "note", "child_id"))
    to = header.index("to_worker_id") + 1
    rows = [r for r in range(2, ws.max_row + 1) if ws.cell(r, to).value]
    accepted = [ws.cell(r, c).value for r in rows[:accept]]
    rejected = [ws.cell(r, c).value for r in rows[accept:accept + reject]]
    for r in rows[:accept]:
        ws.cell(r, d).value = "accept"
    for r in rows[accept:accept + reject]:
        ws.cell(r, d).value = "Reject"
        ws.cell(r, n).value = note
    wb.save(path)
    return accepted, rejected


def test_replan_honours_every_decision_and_changes_little_else(reviewed: Path,
                                                               tmp_path: Path) -> None:
    inp, p1 = reviewed / "in", reviewed / "p1"
    book = tmp_path / "review.xlsx"
    shutil.copy(p1 / "review.xlsx", book)
    accepted, rejected = _decide(book, 4, 3, note="the family asked to keep their worker")
    out, db = tmp_path / "p2", tmp_path / "audit.sqlite"
    r = run("replan", "--workers", str(inp / "workers.csv"), "--children",
            str(inp / "children.csv"), "--plan", str(p1), "--review", str(book), "--out",
            str(out), "--format", "csv", "--time-limit", "10", "--quiet", "--reviewer", "TM1",
            "--audit", str(db))
    assert r.exit_code == 0, r.output
    old = read_table_file(p1 / "plan.csv").set_index("child_id")
    new = read_table_file(out / "plan.csv").set_index("child_id")
    for c in accepted:
        assert new.at[c, "to_worker_id"] == old.at[c, "to_worker_id"]
        assert "DECISION" in new.at[c, "reasons"]
    for c in rejected:
        assert new.at[c, "to_worker_id"] != old.at[c, "to_worker_id"]
    summary = json.loads((out / "summary.json").read_text())
    rows = len(_sheet_rows(p1 / "review.xlsx")) - 1  # every proposed change has one row
    assert rows > 7
    assert summary["review"]["counts"] == {"accepted": 4, "rejected": 3, "undecided": rows - 7}
    others = [c for c in new.index if c not in rejected
              and new.at[c, "to_worker_id"] != old.at[c, "to_worker_id"]]
    assert summary["review"]["changed_beyond_rejected"] == len(others)
    # the README's claim: accepted and undecided rows keep their worker unless a rejection
    # forces a change, and every such change says why
    assert all(c["reasons"] and c["why"] for c in summary["review"]["changed"]), \
        summary["review"]["changed"]
    assert len(others) <= 5, others
    decisions = read_table_file(out / "decisions.csv")
    assert set(decisions["child_id"]) == set(accepted) | set(rejected)
    assert "the family asked" in " ".join(decisions["note"])
    c = run("check", "--workers", str(inp / "workers.csv"), "--children",
            str(inp / "children.csv"), "--decisions", str(out / "decisions.csv"), "--plan",
            str(out))
    assert c.exit_code == 0, c.output
    v = run("audit", "--db", str(db), "--verify")
    # a plan, the 7 decisions as the workbook said them, and the 7 in force
    assert v.exit_code == 0 and "intact: 15 entries" in v.output
    listing = run("audit", "--db", str(db)).output
    assert "reject" in listing and "by TM1" in listing


@pytest.mark.parametrize("damage,where", [
    ("word", "decision (cell"), ("edited", "to_worker_id (cell"), ("deleted", "deleted"),
    ("added", "is not a child whose move"), ("other_plan", "another plan"),
    ("not_xlsx", "cannot be read as an xlsx")])
def test_bad_workbooks_are_refused_with_nothing_written(reviewed: Path, tmp_path: Path,
                                                       damage: str, where: str) -> None:
    inp, p1 = reviewed / "in", reviewed / "p1"
    book = tmp_path / "review.xlsx"
    shutil.copy(p1 / "review.xlsx", book)
    wb = load_workbook(book)
    ws = wb["moves"]
    header = [c.value for c in ws[1]]
    if damage == "word":
        ws.cell(2, header.index("decision") + 1).value = "maybe"
    elif damage == "edited":
        ws.cell(3, header.index("to_worker_id") + 1).value = "W9999"
    elif damage == "deleted":
        ws.delete_rows(4)
    elif damage == "added":
        ws.append(["C999999"] + [""] * (len(header) - 1))
    elif damage == "other_plan":
        summary = wb["summary"]
        for row in summary.iter_rows():
            if row[0].value == "plan_sha256":
                row[1].value = "0" * 64
    wb.save(book)
    if damage == "not_xlsx":
        book.write_text("child_id,decision\n")
    out = tmp_path / "p2"
    r = run("replan", "--workers", str(inp / "workers.csv"), "--children",
            str(inp / "children.csv"), "--plan", str(p1), "--review", str(book), "--out",
            str(out), "--time-limit", "5", "--quiet")
    assert r.exit_code == 1, r.output
    assert where in r.output
    if damage in ("word", "edited"):
        assert "sheet moves, row" in r.output
    assert not out.exists()


def test_rebalance_previous_keeps_last_weeks_plan(reviewed: Path, tmp_path: Path) -> None:
    inp, p1 = reviewed / "in", reviewed / "p1"
    r = run("rebalance", "--workers", str(inp / "workers.csv"), "--children",
            str(inp / "children.csv"), "--out", str(tmp_path / "again"), "--format", "csv",
            "--time-limit", "10", "--quiet", "--previous", str(p1), "--seed", "5")
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert summary["previous_plan"]["changed"] <= 3
    assert summary["objective_terms"]["previous_plan"] == pytest.approx(
        2000 * summary["previous_plan"]["changed"])
    c = run("check", "--workers", str(inp / "workers.csv"), "--children",
            str(inp / "children.csv"), "--plan", str(tmp_path / "again"))
    assert c.exit_code == 0, c.output


def test_audit_tampering_is_caught(reviewed: Path, tmp_path: Path) -> None:
    from rebalancer.signoff import audit

    db = tmp_path / "a.sqlite"
    for i in range(3):
        audit.append(db, "decision", [{"child_id": f"C{i}", "decision": "accept"}])
    assert run("audit", "--db", str(db), "--verify").exit_code == 0
    edited = tmp_path / "edited.sqlite"
    shutil.copy(db, edited)
    with sqlite3.connect(edited) as con:
        with pytest.raises(sqlite3.DatabaseError):  # the trigger refuses
            con.execute("UPDATE entries SET payload = '{}' WHERE seq = 2")
        con.execute("DROP TRIGGER entries_no_update")
        con.execute("UPDATE entries SET payload = '{\"child_id\":\"C9\"}' WHERE seq = 2")
    v = run("audit", "--db", str(edited), "--verify")
    assert v.exit_code == 1 and "entry 2" in v.output and "edited" in v.output
    deleted = tmp_path / "deleted.sqlite"
    shutil.copy(db, deleted)
    with sqlite3.connect(deleted) as con:
        con.execute("DROP TRIGGER entries_no_delete")
        con.execute("DELETE FROM entries WHERE seq = 2")
    v = run("audit", "--db", str(deleted), "--verify")
    assert v.exit_code == 1 and "entry 2 is missing" in v.output


def test_report_is_self_contained_and_has_the_charts(reviewed: Path) -> None:
    # `report` draws the charts whatever the machine's load (a run near its time limit leaves
    # them out of the folder's page and says so)
    r = run("report", "--plan", str(reviewed / "p1"))
    assert r.exit_code == 0, r.output
    page = (reviewed / "p1" / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 3  # utilisation, demand/capacity, reasons
    assert "<script" not in page and "<link" not in page and "@import" not in page
    # no attribute points anywhere off the page (the SVG namespace is a name, not a request)
    urls = re.findall(r"(?:src|href|url)\s*[=(]\s*[\"']?(https?:|//)", page)
    assert urls == []
    assert "Before and after" in page and "Shortfall" in page and "<details>" in page
    assert "Content-Security-Policy" in page


def test_replan_refuses_inputs_other_than_the_reviewed_plans(case: Case) -> None:
    args, out = small_county(case)
    assert runner.invoke(app, ["review", "--plan", str(out)]).exit_code == 0
    other = case.root / "other.csv"
    other.write_text((case.root / "children.csv").read_text() + "Z,cin,North,,,\n")
    a = list(args)
    a[a.index(str(case.root / "children.csv"))] = str(other)
    r = runner.invoke(app, ["replan", *a, "--plan", str(out), "--review",
                            str(out / "review.xlsx"), "--out", str(case.root / "p2"), "--quiet"])
    assert r.exit_code == 1
    assert f"{other}: the children input differs from the one the reviewed plan" in r.output
    assert not (case.root / "p2").exists()


def test_review_chains_keep_their_decisions_and_check_finds_them(case: Case) -> None:
    args, out = small_county(case)
    assert runner.invoke(app, ["review", "--plan", str(out)]).exit_code == 0
    book = out / "review.xlsx"
    decide(book, "K", "reject", "x" * 1001)  # too long for decisions.csv: refused here
    p2 = case.root / "p2"
    r = runner.invoke(app, ["replan", *args, "--plan", str(out), "--review", str(book),
                            "--out", str(p2), "--quiet"])
    assert r.exit_code == 1 and "note (cell" in r.output and "1,001 characters" in r.output
    decide(book, "K", "accept", "stays with B")
    r = runner.invoke(app, ["replan", *args, "--plan", str(out), "--review", str(book),
                            "--out", str(p2), "--quiet"])
    assert r.exit_code == 0, r.output
    summary = json.loads((p2 / "summary.json").read_text())
    assert summary["inputs"]["decisions"]["path"] == str((p2 / "decisions.csv").resolve())
    c = runner.invoke(app, ["check", *args, "--plan", str(p2)])  # no --decisions needed
    assert c.exit_code == 0 and "decisions in force:" in c.output, c.output
    # a second review of the re-plan, with nothing decided: review 1's assign stays hard
    assert runner.invoke(app, ["review", "--plan", str(p2)]).exit_code == 0
    p3 = case.root / "p3"
    r = runner.invoke(app, ["replan", *args, "--plan", str(p2), "--review",
                            str(p2 / "review.xlsx"), "--out", str(p3), "--quiet"])
    assert r.exit_code == 0, r.output
    kept = (p3 / "decisions.csv").read_text(encoding="utf-8-sig")
    assert "K,assign,B,stays with B" in kept
    c = runner.invoke(app, ["check", *args, "--plan", str(p3)])
    assert c.exit_code == 0, c.output


def test_a_reject_that_changes_nothing_is_said_and_recorded_as_such(case: Case) -> None:
    # X needs a skill no worker has and had no worker: the plan leaves it unallocated, and
    # rejecting that row can change nothing. The re-plan warns, counts it as a rejection, and
    # the trail records it with no effect.
    case.run([worker("A")], [child("K"), child("X", required_skills="bsl")])
    out = case.root / "out"
    args = ["--workers", str(case.root / "workers.csv"), "--children",
            str(case.root / "children.csv"), "--config", str(case.root / "config.toml")]
    assert runner.invoke(app, ["review", "--plan", str(out)]).exit_code == 0
    decide(out / "review.xlsx", "X", "reject", "find someone")
    db = case.root / "t.sqlite"
    r = runner.invoke(app, ["replan", *args, "--plan", str(out), "--review",
                            str(out / "review.xlsx"), "--out", str(case.root / "p2"),
                            "--audit", str(db), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "WARNING: 1 reject(s) change nothing" in r.output and "(X)" in r.output
    review = json.loads((case.root / "p2" / "summary.json").read_text())["review"]
    assert review["counts"]["rejected"] == 1 and review["no_effect"] == ["X"]
    with sqlite3.connect(db) as con:
        kinds = {k: json.loads(p) for k, p in con.execute(
            "SELECT kind, payload FROM entries WHERE kind != 'plan'")}
    assert kinds["decision"]["effect"] == "none" and kinds["submitted"]["decision"] == "reject"


def test_an_accepted_move_keeps_its_reason_and_kind(case: Case) -> None:
    # A holds 90 points of pinned work and K (5): 95 of 85, so moving K to B (idle) is a
    # discretionary OVERLOAD move (A would be at 112% had it stayed). Accepting it in review adds
    # the decision to the row: its reason, its explanation and its kind (discretionary) stay.
    case.run([worker("A"), worker("B")],
             [*filler("A", 90), child("K", current="A", allocated_on="2026-06-01")])
    out = case.root / "out"
    args = ["--workers", str(case.root / "workers.csv"), "--children",
            str(case.root / "children.csv"), "--config", str(case.root / "config.toml")]
    first = read_table_file(out / "plan.csv").set_index("child_id")
    assert first.at["K", "to_worker_id"] == "B" and first.at["K", "reasons"] == "OVERLOAD"
    assert runner.invoke(app, ["review", "--plan", str(out), "--by-team"]).exit_code == 0
    book = next((out / "review").glob("*.xlsx"))
    decide(book, "K", "accept", "agreed")
    p2 = case.root / "p2"
    r = runner.invoke(app, ["replan", *args, "--plan", str(out), "--review", str(book),
                            "--out", str(p2), "--quiet", "--reviewer", "TM (North team)"])
    assert r.exit_code == 0, r.output
    new = read_table_file(p2 / "plan.csv").set_index("child_id")
    assert new.at["K", "to_worker_id"] == "B"
    assert new.at["K", "reasons"] == "OVERLOAD;DECISION"
    why = new.at["K", "explanation"]
    assert why.startswith("from A (A would be at 112% had it stayed) to B by a manager's "
                          "decision"), why
    before = json.loads((out / "summary.json").read_text())["kpis"]["after"]
    after = json.loads((p2 / "summary.json").read_text())["kpis"]["after"]
    assert (after["moves_forced"], after["moves_discretionary"]) == (0, 1) \
        == (before["moves_forced"], before["moves_discretionary"])
    # the reviewer cell names the team already: it is not named twice
    decisions = (p2 / "decisions.csv").read_text(encoding="utf-8-sig")
    assert "K,assign,B,agreed" in decisions
    audit_rows = runner.invoke(app, ["audit"]).output
    assert "(North team) (North team)" not in audit_rows
    c = runner.invoke(app, ["check", *args, "--plan", str(p2)])
    assert c.exit_code == 0, c.output
