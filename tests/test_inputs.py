"""Loading and validation: every problem reported at once, with file, row, column and fix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rebalancer.cli import app
from rebalancer.config import load_config
from rebalancer.io.inputs import load_inputs
from rebalancer.problems import InputRejected, Problem

runner = CliRunner()

WORKERS = "worker_id,team,locality,grade,fte\nW1,T,North,sw,1\nW2,T,North,senior,0.5\n"
CHILDREN = "child_id,case_type,locality,current_worker_id\n007,cin,North,W1\n008,cp,North,\n"


def load(tmp: Path, workers: str = WORKERS, children: str = CHILDREN, decisions: str | None = None,
         travel: str | None = None, suffix: str = ".csv", encoding: str = "utf-8"):
    w, c = tmp / f"workers{suffix}", tmp / f"children{suffix}"
    w.write_bytes(workers.encode(encoding))
    c.write_bytes(children.encode(encoding))
    d = t = None
    if decisions is not None:
        d = tmp / "decisions.csv"
        d.write_text(decisions)
    if travel is not None:
        t = tmp / "travel.csv"
        t.write_text(travel)
    return load_inputs(w, c, d, t, load_config(None))


def problems(tmp: Path, **kw: str) -> list[Problem]:
    with pytest.raises(InputRejected) as exc:
        load(tmp, **kw)
    return exc.value.problems


def test_identifiers_stay_strings(tmp_path: Path) -> None:
    inputs = load(tmp_path)
    assert list(inputs.children["child_id"]) == ["007", "008"]
    assert inputs.children["current_worker_id"].tolist() == ["W1", ""]


def test_identifiers_stay_strings_from_parquet(tmp_path: Path) -> None:
    pd.DataFrame({"worker_id": ["007"], "team": ["T"], "locality": ["N"], "grade": ["sw"],
                  "fte": [1.0], "agency": [True]}).to_parquet(tmp_path / "w.parquet")
    pd.DataFrame({"child_id": ["0042"], "case_type": ["cla"], "locality": ["N"],
                  "current_worker_id": ["007"], "allocated_on": [pd.Timestamp("2026-01-02")]}
                 ).to_parquet(tmp_path / "c.parquet")
    inputs = load_inputs(tmp_path / "w.parquet", tmp_path / "c.parquet", None, None,
                         load_config(None))
    assert inputs.children["child_id"].iat[0] == "0042"
    assert inputs.children["current_worker_id"].iat[0] == "007"
    assert str(inputs.children["allocated_on"].iat[0]) == "2026-01-02"
    assert bool(inputs.workers["agency"].iat[0]) is True


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    workers = ("worker_id,team,locality,grade,fte\n"
               "W1,T,North,sw,1.5\n"          # fte out of range
               "W1,T,North,boss,1\n"          # duplicate id, unknown grade
               "W3,T,,sw,abc\n")              # missing locality, fte not a number
    children = ("child_id,case_type,locality,current_worker_id,allocated_on\n"
                "C1,cin,North,W9,2026-13-40\n")  # unknown worker, bad date
    found = problems(tmp_path, workers=workers, children=children)
    where = {(p.row, p.column) for p in found}
    assert ("row 2 (worker_id W1)", "fte") in where
    assert ("row 3 (worker_id W1)", "grade") in where
    assert ("row 4 (worker_id W3)", "locality") in where
    assert ("row 4 (worker_id W3)", "fte") in where
    assert ("row 2 (child_id C1)", "allocated_on") in where
    assert all(p.fix for p in found)
    assert all(str(p).startswith(str(tmp_path)) for p in found)


def test_cross_references_after_parsing(tmp_path: Path) -> None:
    workers = WORKERS + "W1,T,North,sw,1\n"
    children = ("child_id,case_type,locality,current_worker_id,excluded_worker_ids\n"
                "C1,cin,North,W9,W1;W8\n")
    found = problems(tmp_path, workers=workers, children=children)
    messages = [(p.column, p.message) for p in found]
    assert ("worker_id", "worker 'W1' appears more than once") in messages
    assert ("current_worker_id", "worker 'W9' is not in the workers table") in messages
    assert ("excluded_worker_ids", "worker 'W8' is not in the workers table") in messages


@pytest.mark.parametrize("decisions, expected", [
    ("child_id,decision,worker_id,note\n007,assign,W2,\n007,forbid,W2,\n", "both assigned to"),
    ("child_id,decision,worker_id,note\n007,assign,W2,\n007,assign,W1,\n", "more than one"),
    ("child_id,decision,worker_id,note\n007,keep,W2,\n", "'keep' names 'W2'"),
    ("child_id,decision,worker_id,note\n008,keep,,\n", "no current worker"),
    ("child_id,decision,worker_id,note\n999,keep,,\n", "not in the children table"),
    ("child_id,decision,worker_id,note\n007,promote,W1,\n", "not an allowed value"),
    ("child_id,decision,worker_id,note\n007,forbid,,\n", "need a worker"),
])
def test_contradictory_or_unknown_decisions(tmp_path: Path, decisions: str, expected: str
                                            ) -> None:
    found = problems(tmp_path, decisions=decisions)
    assert any(expected in p.message for p in found), [str(p) for p in found]


def test_missing_and_extra_columns(tmp_path: Path) -> None:
    found = problems(tmp_path, workers="worker_id,team,grade,fte,fte_pct\nW1,T,sw,1,1\n")
    cols = {(p.column, p.message) for p in found}
    assert ("locality", "required column is missing") in cols
    assert any(c == "fte_pct" and "not a column" in m for c, m in cols)


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("worker_id,team,locality,grade,fte\n", "header but no rows"),
])
def test_empty_and_header_only(tmp_path: Path, text: str, message: str) -> None:
    found = problems(tmp_path, workers=text)
    assert any(message in p.message for p in found)


@pytest.mark.parametrize("fte", ["0", "-1", "nan", "inf", "1e400", "1,0"])
def test_bad_fte(tmp_path: Path, fte: str) -> None:
    header = "worker_id,team,locality,grade,fte\n"
    found = problems(tmp_path, workers=f'{header}W1,T,North,sw,"{fte}"\n')
    assert [(p.row, p.column) for p in found] == [("row 2 (worker_id W1)", "fte")]


def test_byte_order_mark_and_windows_line_endings_are_fine(tmp_path: Path) -> None:
    inputs = load(tmp_path, workers="\ufeff" + WORKERS.replace("\n", "\r\n"),
                  children=CHILDREN.replace("\n", "\r\n"))
    assert list(inputs.workers["worker_id"]) == ["W1", "W2"]


def test_quoted_cells_with_commas(tmp_path: Path) -> None:
    workers = 'worker_id,team,locality,grade,fte\nW1,"Corby, Safeguarding 1",North,sw,1\n'
    inputs = load(tmp_path, workers=workers, children=CHILDREN.replace(",W1\n", ",W1\n"))
    assert inputs.workers["team"].iat[0] == "Corby, Safeguarding 1"


def test_latin1_is_refused_with_the_encoding_named(tmp_path: Path) -> None:
    workers = "worker_id,team,locality,grade,fte\nW1,Équipe,North,sw,1\n"
    found = problems(tmp_path, workers=workers, encoding="latin-1")
    assert "not UTF-8" in found[0].message and "Latin-1" in found[0].message
    assert "UTF-8" in found[0].fix


def test_very_long_identifier(tmp_path: Path) -> None:
    header = "worker_id,team,locality,grade,fte\n"
    found = problems(tmp_path, workers=f"{header}{'W' * 5000},T,N,sw,1\n")
    assert any(p.column == "worker_id" and "characters long" in p.message for p in found)


def test_coordinates_come_in_pairs(tmp_path: Path) -> None:
    found = problems(tmp_path, children="child_id,case_type,locality,lat\nC1,cin,North,52.1\n")
    assert [p.column for p in found] == ["lat/lon"]


def test_km_mode_needs_coordinates(tmp_path: Path) -> None:
    w, c = tmp_path / "w.csv", tmp_path / "c.csv"
    w.write_text(WORKERS)
    c.write_text(CHILDREN)
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('[rules]\ngeography = "km"\nmax_travel = 10\n')
    with pytest.raises(InputRejected) as exc:
        load_inputs(w, c, None, None, load_config(cfg_file))
    assert len(exc.value.problems) == 4  # two workers, two children


def test_config_typos_and_bad_values_are_rejected(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text("[weights]\noverlaod = 5\npeak = -1\n[rules]\ngeography = 'miles'\n")
    with pytest.raises(InputRejected) as exc:
        load_config(cfg_file)
    text = " | ".join(str(p) for p in exc.value.problems)
    assert "did you mean 'weights.overload'" in text
    cfg_file.write_text("[weights]\npeak = -1\n[rules]\ngeography = 'miles'\n")
    with pytest.raises(InputRejected) as exc:
        load_config(cfg_file)
    assert {p.column for p in exc.value.problems} == {"weights.peak", "rules.geography"}


def test_too_many_problems_are_counted_not_listed(tmp_path: Path) -> None:
    rows = "".join(f"W{i},T,North,sw,2\n" for i in range(1000))
    found = problems(tmp_path, workers="worker_id,team,locality,grade,fte\n" + rows)
    assert len(found) == 201
    assert "800 more row(s)" in found[-1].message


def test_validate_lists_every_problem_in_one_pass(tmp_path: Path) -> None:
    # a missing column, a bad fte, a duplicate ID, an unknown worker and contradictory
    # decisions: all five in the first pass, not three now and the rest after fixing them
    workers = "worker_id,locality,grade,fte\nW1,North,sw,1.7\nW2,North,sw,1\n"
    children = ("child_id,case_type,locality,current_worker_id\nC1,cin,North,W1\n"
                "C1,cin,North,W2\nC3,cin,North,W9\n")
    decisions = "child_id,decision,worker_id,note\nC3,assign,W1,\nC3,assign,W2,\n"
    found = problems(tmp_path, workers=workers, children=children, decisions=decisions)
    columns = {(p.file.rsplit("/", 1)[-1], p.column) for p in found}
    assert {("workers.csv", "team"), ("workers.csv", "fte"), ("children.csv", "child_id"),
            ("children.csv", "current_worker_id"), ("decisions.csv", "decision")} <= columns


def _validate(workers: Path, children: Path) -> object:
    return runner.invoke(app, ["validate", "--workers", str(workers), "--children",
                               str(children)])


def test_no_message_quotes_more_than_40_characters_of_a_cell(tmp_path: Path) -> None:
    secret = "S" * 900
    (tmp_path / "w.csv").write_text(f"W1,{'T' * 300},North,sw,1\n")  # no header row
    (tmp_path / "c.csv").write_text(
        "child_id,case_type,locality,current_worker_id,excluded_worker_ids\n"
        f"{'K' * 64},cin,North,{'Q' * 64},{secret}\n")
    r = _validate(tmp_path / "w.csv", tmp_path / "c.csv")
    assert r.exit_code == 1 and "excluded_worker_ids" in r.output
    for line in r.output.splitlines():
        for run in __import__("re").findall(r"[STKQ]{41,}", line):
            raise AssertionError(f"{len(run)} characters of a cell in: {line[:120]}")


def test_parquet_lists_and_duplicate_columns_are_clear_problems(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    kids = tmp_path / "c.csv"
    kids.write_text("child_id,case_type,locality\nC1,cin,North\n")
    pq.write_table(pa.table({"worker_id": ["W1"], "team": ["T"], "locality": ["N"],
                             "grade": ["sw"], "fte": [1.0], "skills": pa.array([["a"]])}),
                   tmp_path / "w1.parquet")
    r = _validate(tmp_path / "w1.parquet", kids)
    assert r.exit_code == 1 and "'skills' hold lists" in r.output
    arrays = [pa.array(x) for x in (["W1"], ["T"], ["N"], ["sw"], [1.0], ["x"])]
    pq.write_table(pa.Table.from_arrays(arrays, names=["worker_id", "team", "locality", "grade",
                                                       "fte", "team"]), tmp_path / "w2.parquet")
    r = _validate(tmp_path / "w2.parquet", kids)
    assert r.exit_code == 1 and "'team' appear more than once" in r.output
    assert "__fragment_index" not in r.output


def test_control_characters_are_refused_and_never_printed_raw(tmp_path: Path) -> None:
    # an ESC in a team name and a BEL in a locality: refused at validation with row and column,
    # and the message carries the characters' codes, never the characters themselves
    workers = "worker_id,team,locality,grade,fte\nW1,\x1b[31mRed,North,sw,1\nW2,T,No\x07rth,sw,1\n"
    found = problems(tmp_path, workers=workers)
    bad = {(p.row.split(" ")[1], p.column) for p in found if "control character" in p.message}
    assert bad == {("2", "team"), ("3", "locality")}
    text = "\n".join(map(str, found))
    assert "\x1b" not in text and "\x07" not in text and "\\x1b[31mRed" in text
    r = runner.invoke(app, ["validate", "--workers", str(tmp_path / "workers.csv"),
                            "--children", str(tmp_path / "children.csv")])
    assert r.exit_code == 1 and "\x1b" not in r.output and "\\x1b" in r.output


def test_a_line_break_in_a_note_is_kept(tmp_path: Path) -> None:
    inputs = load(tmp_path, decisions='child_id,decision,worker_id,note\n007,keep,W1,"one\ntwo"\n')
    assert inputs.decisions["note"].iat[0] == "one\ntwo"


def _allocated_on(day: str) -> str:
    return f"child_id,case_type,locality,current_worker_id,allocated_on\n007,cin,North,W1,{day}\n"


@pytest.mark.parametrize("day", ["2026-01-15garbage", "2026-11-30T99:99", "15/01/2026 x",
                                 "2026-02-30"])
def test_a_date_with_anything_else_in_its_cell_is_refused(tmp_path: Path, day: str) -> None:
    found = problems(tmp_path, children=_allocated_on(day))
    assert [(p.column, "is not a date" in p.message) for p in found] == [("allocated_on", True)]


@pytest.mark.parametrize("day", ["2026-01-15", "2026-01-15T10:30", "2026-01-15 00:00:00",
                                 "15/01/2026"])
def test_dates_as_spreadsheets_export_them_are_read(tmp_path: Path, day: str) -> None:
    inputs = load(tmp_path, children=_allocated_on(day))
    assert str(inputs.children["allocated_on"].iat[0]) == "2026-01-15"


def test_a_column_named_twice_in_a_csv_header_is_said_so(tmp_path: Path) -> None:
    children = "child_id,case_type,locality,points,points\n007,cin,North,5,6\n"
    found = problems(tmp_path, children=children)
    assert any("'points' appear more than once in the header" in p.message for p in found)
    assert not any("points.1" in str(p) for p in found)


def test_calendar_dates_are_checked_every_problem_at_once(tmp_path: Path) -> None:
    workers = ("worker_id,team,locality,grade,fte,leaving_on,starts_on,away_from,away_until\n"
               "W1,T,North,sw,1,,,,2027-01-10\n"                  # until without from
               "W2,T,North,sw,1,,,2027-02-01,2027-01-10\n"        # until before from
               "W3,T,North,sw,1,,2027-01-0x,,\n")                 # not a date
    found = problems(tmp_path, workers=workers)
    where = {(p.row, p.column): p for p in found}
    assert set(where) == {("row 2 (worker_id W1)", "away_until"),
                          ("row 3 (worker_id W2)", "away_until"),
                          ("row 4 (worker_id W3)", "starts_on")}
    assert "without its first" in where[("row 2 (worker_id W1)", "away_until")].message
    assert "before away_from 2027-02-01" in where[("row 3 (worker_id W2)", "away_until")].message


def test_a_short_absence_or_a_start_after_leaving_is_applied_and_warned(tmp_path: Path) -> None:
    workers = ("worker_id,team,locality,grade,fte,leaving_on,starts_on,away_from,away_until\n"
               "W1,T,North,sw,1,,,2026-12-02,2026-12-20\n"        # 19 days
               "W2,T,North,sw,1,2027-01-10,2027-02-01,,\n"        # starts after leaving
               "W3,T,North,sw,1,,,2027-01-01,2027-01-28\n")       # 28 days: no warning
    children = "child_id,case_type,locality,current_worker_id\nC1,cin,North,W1\n"
    inputs = load(tmp_path, workers=workers, children=children)
    said = [(p.row, p.column) for p in inputs.warnings]
    assert said == [("row 2 (worker_id W1)", "away_from/away_until"),
                    ("row 3 (worker_id W2)", "starts_on")]
    assert "19 day(s)" in inputs.warnings[0].message
    r = runner.invoke(app, ["validate", "--workers", str(tmp_path / "workers.csv"),
                            "--children", str(tmp_path / "children.csv")])
    assert r.exit_code == 0
    assert r.output.count("WARNING ") == 2 and "ok: 3 workers" in r.output
