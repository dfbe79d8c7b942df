"""Plan folders: written as one set, never over an input or a plan, readable back only as the
set summary.json names; CSV cells a spreadsheet would run are neutralised, reversibly."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rebalancer.cli import app
from rebalancer.io.outputs import neutralise, read_table_file, unneutralise, write_outputs
from tests.conftest import Case, check_cli, decide, generated, rebalance, small_county, tampered

runner = CliRunner()


def test_no_command_writes_over_an_input_or_a_plan(case: Case) -> None:
    args, out = small_county(case)
    before = {p: p.read_bytes() for p in [*case.root.glob("*.csv"), *out.iterdir()]}
    r = runner.invoke(app, ["review", "--plan", str(out), "--out",
                            str(case.root / "children.csv")])
    assert r.exit_code == 2 and ".xlsx" in r.output
    r = runner.invoke(app, ["review", "--plan", str(out), "--out",
                            str(case.root / "children.xlsx")])
    assert r.exit_code == 0, r.output  # a new file is fine
    r = runner.invoke(app, ["compare", str(out), str(out), "--out", str(out / "plan.csv")])
    assert r.exit_code == 2 and "would overwrite" in r.output
    r = runner.invoke(app, ["compare", str(out), str(out), "--out",
                            str(case.root / "workers.csv")])
    assert r.exit_code == 2 and "would overwrite" in r.output
    assert runner.invoke(app, ["review", "--plan", str(out)]).exit_code == 0
    r = runner.invoke(app, ["replan", *args, "--plan", str(out), "--review",
                            str(out / "review.xlsx"), "--out", str(out), "--quiet"])
    assert r.exit_code == 2 and "the plan being reviewed" in r.output
    for p, data in before.items():
        assert p.read_bytes() == data, p


def test_csv_outputs_carry_a_byte_order_mark(planned: tuple[Path, Path]) -> None:
    assert (planned[1] / "plan.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_neutralisation_is_reversible() -> None:
    cells = ["'=odd", "=SUM(1)", "''", "'", "+44", "plain", "-", "'abc"]
    df = pd.DataFrame({"x": cells})
    back = neutralise(df)["x"].map(unneutralise).tolist()
    assert back == cells


def test_an_id_starting_with_apostrophe_equals_round_trips(tmp_path: Path) -> None:
    inp = generated(tmp_path, children=30, workers=4)
    kids = pd.read_csv(inp / "children.csv", dtype=str, keep_default_na=False)
    kids.loc[0, "child_id"] = "'=K1"
    kids.to_csv(inp / "children.csv", index=False)
    assert rebalance(inp, tmp_path / "out").exit_code == 0
    plan = read_table_file(tmp_path / "out" / "plan.csv")
    assert "'=K1" in set(plan["child_id"])
    assert check_cli(inp, tmp_path / "out").exit_code == 0
    e = runner.invoke(app, ["explain", "--plan", str(tmp_path / "out"), "'=K1"])
    assert e.exit_code == 0, e.output


def test_readers_use_the_files_the_summary_names(tmp_path: Path) -> None:
    inp = generated(tmp_path, children=40, workers=5)
    out = tmp_path / "out"
    assert rebalance(inp, out, fmt="parquet").exit_code == 0
    assert rebalance(inp, out, "--max-moves", "0", "--seed", "3",
                     "--replace").exit_code == 0  # csv now
    summary = json.loads((out / "summary.json").read_text())
    assert summary["outputs"]["plan"]["file"] == "plan.csv"
    assert not (out / "plan.parquet").exists()  # the old set's files are gone
    (out / "plan.parquet").write_bytes(b"stale")  # a stray file is never read
    assert check_cli(inp, out).exit_code == 0


def test_a_folder_whose_write_was_cut_short_holds_no_summary(tmp_path: Path,
                                                            planned: tuple[Path, Path]) -> None:
    out = tampered(planned, tmp_path)
    plan = read_table_file(out / "plan.csv")
    bad = plan.assign(points=object())  # cannot be written as a table: the write fails
    import pyarrow as pa

    with pytest.raises(pa.ArrowInvalid):  # the table cannot be converted: nothing lands
        write_outputs(out, "parquet", {"plan": bad}, lambda outputs: {"x": 1})
    assert not (out / "summary.json").exists()
    c = check_cli(planned[0], out)
    assert c.exit_code == 2 and "no summary.json" in c.output


def test_rejected_inputs_leave_no_output_folder(tmp_path: Path) -> None:
    inp = generated(tmp_path, children=20, workers=3)
    (inp / "workers.csv").write_text("worker_id,team,locality,grade,fte\nW1,T,N,chief,2\n")
    assert rebalance(inp, tmp_path / "new" / "out").exit_code == 1
    assert not (tmp_path / "new").exists()


def test_a_second_run_into_a_folder_being_written_is_refused(tmp_path: Path) -> None:
    from rebalancer.io.outputs import output_lock

    inp = generated(tmp_path, children=20, workers=3)
    with output_lock(tmp_path / "out"):  # another run holds the folder
        r = rebalance(inp, tmp_path / "out")
    assert r.exit_code == 2 and "another run is writing" in r.output
    assert not (tmp_path / "out" / "summary.json").exists()


def test_a_full_disk_is_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import rebalancer.io.outputs as outputs

    inp = generated(tmp_path, children=20, workers=3)
    assert rebalance(inp, tmp_path / "out").exit_code == 0

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs, "write_table", full)
    r = rebalance(inp, tmp_path / "out", "--seed", "9", "--replace")
    assert r.exit_code == 2 and "No space left" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "out" / "summary.json").exists()  # no summary: no stale set


def test_the_folder_lock_refuses_a_second_holder_and_releases(tmp_path: Path) -> None:
    from rebalancer.io.outputs import OutputError, output_lock

    with output_lock(tmp_path / "out"), pytest.raises(OutputError, match="another run is "
                                                      "writing"), output_lock(tmp_path / "out"):
        pass
    with output_lock(tmp_path / "out"):  # released: a later run may write
        pass
    assert list((tmp_path / "out").iterdir()) == []  # no lock file left behind on POSIX


def _digest(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_no_command_writes_over_a_plan_a_workbook_or_an_edited_configuration(
        case: Case) -> None:
    args, out = small_county(case)
    root = case.root
    plan_files = _digest(out)

    def refused(*argv: str) -> None:
        r = runner.invoke(app, list(argv))
        assert r.exit_code == 2 and "nothing is written over" in r.output, (argv, r.output)

    # rebalance onto a plan folder, and onto the plan it stays close to
    refused("rebalance", *args, "--out", str(out), "--quiet")
    refused("rebalance", *args, "--previous", str(out), "--out", str(out), "--quiet")
    assert _digest(out) == plan_files
    # with --replace the old folder is moved aside whole, never lost
    r = runner.invoke(app, ["rebalance", *args, "--out", str(out), "--replace", "--quiet"])
    assert r.exit_code == 0, r.output
    aside = [p for p in root.iterdir() if p.name.startswith("out.replaced-")]
    assert len(aside) == 1 and _digest(aside[0]) == plan_files
    # a re-run of review would erase the decisions typed into the returned workbook
    assert runner.invoke(app, ["review", "--plan", str(out)]).exit_code == 0
    decide(out / "review.xlsx", "K", "reject", "typed by a manager")
    typed = (out / "review.xlsx").read_bytes()
    refused("review", "--plan", str(out))
    assert (out / "review.xlsx").read_bytes() == typed
    # team workbooks into a folder that holds an index.csv (or anything else)
    elsewhere = root / "books"
    elsewhere.mkdir()
    (elsewhere / "index.csv").write_text("team,file\nmine,mine.xlsx\n")
    refused("review", "--plan", str(out), "--by-team", "--out", str(elsewhere))
    assert (elsewhere / "index.csv").read_text() == "team,file\nmine,mine.xlsx\n"
    # compare's CSV over a workbook
    refused("compare", str(out), str(aside[0]), "--out", str(out / "review.xlsx"))
    assert (out / "review.xlsx").read_bytes() == typed
    # a re-plan whose decisions file sits where the re-plan would write its own
    target = root / "p2"
    target.mkdir()
    (target / "decisions.csv").write_text("child_id,decision,worker_id,note\n")
    r = runner.invoke(app, ["replan", *args, "--plan", str(out), "--review",
                            str(out / "review.xlsx"), "--decisions",
                            str(target / "decisions.csv"), "--out", str(target), "--quiet"])
    assert r.exit_code == 2 and "would overwrite the input" in r.output, r.output


def test_import_ssd_keeps_a_configuration_the_lead_edited(tmp_path: Path) -> None:
    r = runner.invoke(app, ["generate", "--children", "40", "--workers", "5", "--format", "ssd",
                            "--out", str(tmp_path / "ssd")])
    assert r.exit_code == 0, r.output
    county = tmp_path / "county"
    args = ["import-ssd", "--ssd", str(tmp_path / "ssd"), "--mapping",
            str(tmp_path / "ssd" / "mapping.toml"), "--plan-date", "2026-12-01", "--out",
            str(county)]
    assert runner.invoke(app, args).exit_code == 0
    (county / "config.toml").write_text("plan_date = 2026-12-01\n[rules]\nmax_moves = 20\n")
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "nothing is written over" in r.output
    assert "max_moves = 20" in (county / "config.toml").read_text()
    assert runner.invoke(app, [*args, "--replace"]).exit_code == 0
    kept = next(p for p in tmp_path.iterdir() if p.name.startswith("county.replaced-"))
    assert "max_moves = 20" in (kept / "config.toml").read_text()
