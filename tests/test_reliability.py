"""What a careful tester tried: plan folders that are all old or all new, readers that use
exactly the files a summary names, a check that trusts nothing, clear usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rebalancer.cli import app
from rebalancer.io.outputs import neutralise, read_table_file, unneutralise, write_outputs
from solvers import AssignmentProblem
from solvers.problem import CostOverflow
from tests.test_cli import generated, rebalance

runner = CliRunner()


def check(inp: Path, out: Path) -> object:
    return runner.invoke(app, ["check", "--workers", str(inp / "workers.csv"), "--children",
                               str(inp / "children.csv"), "--plan", str(out)])


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("planned")
    inp = generated(root, children=80, workers=8, seed=4)
    r = rebalance(inp, root / "out")
    assert r.exit_code == 0, r.output
    return inp, root / "out"


def tampered(planned: tuple[Path, Path], tmp_path: Path) -> Path:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(planned[1], out)
    return out


def test_version_and_plain_help() -> None:
    from rebalancer import __version__

    v = runner.invoke(app, ["--version"])
    assert v.exit_code == 0 and v.output.strip() == f"caseload-rebalancer {__version__}"
    h = runner.invoke(app, ["rebalance", "--help"])
    assert "<bool>" not in h.output
    assert "--seed" in h.output and "same plan" in h.output and "default" in h.output


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
    assert check(inp, tmp_path / "out").exit_code == 0
    e = runner.invoke(app, ["explain", "--plan", str(tmp_path / "out"), "'=K1"])
    assert e.exit_code == 0, e.output


def test_readers_use_the_files_the_summary_names(tmp_path: Path) -> None:
    inp = generated(tmp_path, children=40, workers=5)
    out = tmp_path / "out"
    assert rebalance(inp, out, fmt="parquet").exit_code == 0
    assert rebalance(inp, out, "--max-moves", "0", "--seed", "3").exit_code == 0  # csv now
    summary = json.loads((out / "summary.json").read_text())
    assert summary["outputs"]["plan"]["file"] == "plan.csv"
    assert not (out / "plan.parquet").exists()  # the old set's files are gone
    (out / "plan.parquet").write_bytes(b"stale")  # a stray file is never read
    assert check(inp, out).exit_code == 0


def test_a_folder_whose_write_was_cut_short_holds_no_summary(tmp_path: Path,
                                                            planned: tuple[Path, Path]) -> None:
    out = tampered(planned, tmp_path)
    plan = read_table_file(out / "plan.csv")
    bad = plan.assign(points=object())  # cannot be written as a table: the write fails
    import pyarrow as pa

    with pytest.raises(pa.ArrowInvalid):  # the table cannot be converted: nothing lands
        write_outputs(out, "parquet", {"plan": bad}, lambda outputs: {"x": 1})
    assert not (out / "summary.json").exists()
    c = check(planned[0], out)
    assert c.exit_code == 2 and "no summary.json" in c.output


def test_rejected_inputs_leave_no_output_folder(tmp_path: Path) -> None:
    inp = generated(tmp_path, children=20, workers=3)
    (inp / "workers.csv").write_text("worker_id,team,locality,grade,fte\nW1,T,N,chief,2\n")
    assert rebalance(inp, tmp_path / "new" / "out").exit_code == 1
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("flag,value", [("--time-limit", "nan"), ("--time-limit", "inf"),
                                        ("--threads", "65"), ("--seed", "4294967296")])
def test_out_of_range_flags_are_usage_errors(tmp_path: Path, flag: str, value: str) -> None:
    inp = generated(tmp_path, children=20, workers=3)
    r = rebalance(inp, tmp_path / "out", flag, value)
    assert r.exit_code == 2, r.output
    assert flag in r.output and not (tmp_path / "out").exists()


def test_huge_weights_are_refused_not_solved_wrongly(tmp_path: Path) -> None:
    inp = generated(tmp_path, children=20, workers=3)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[weights]\nunallocated = { high = 1e17, medium = 1e17, low = 1e17 }\n"
                   "split_family = 1e18\npeak = 1e15\n[capacity]\npoints_per_fte = 1e17\n")
    r = rebalance(inp, tmp_path / "out", "--config", str(cfg))
    assert r.exit_code == 1
    for key in ("weights.unallocated.high", "weights.split_family", "weights.peak",
                "capacity.points_per_fte"):
        assert key in r.output
    assert "Traceback" not in r.output


def test_the_solver_refuses_costs_that_could_overflow() -> None:
    big = np.array([2**61], np.int64)
    with pytest.raises(CostOverflow):
        AssignmentProblem(n_items=1, n_agents=1, pair_item=np.array([0]),
                          pair_agent=np.array([0]), pair_cost=big, pair_load=np.array([1]),
                          item_must=np.array([False]), item_skip_cost=big,
                          agent_capacity=np.array([10]), overload_cost=1)


def _edit_plan(out: Path, edit: object) -> None:
    plan = read_table_file(out / "plan.csv")
    edit(plan)  # type: ignore[operator]
    plan.to_csv(out / "plan.csv", index=False)


def test_check_fails_a_move_relabelled_keep(tmp_path: Path, planned: tuple[Path, Path]) -> None:
    out = tampered(planned, tmp_path)

    def relabel(plan: pd.DataFrame) -> None:
        moved = plan["action"] == "move"
        assert moved.any()
        plan.loc[moved, "from_worker_id"] = plan.loc[moved, "to_worker_id"]
        plan.loc[moved, "action"] = "keep"

    _edit_plan(out, relabel)
    c = check(planned[0], out)
    assert c.exit_code == 1 and "plan.from_worker_id" in c.output


def test_check_fails_changed_points(tmp_path: Path, planned: tuple[Path, Path]) -> None:
    out = tampered(planned, tmp_path)
    _edit_plan(out, lambda p: p.__setitem__("points", "1"))
    c = check(planned[0], out)
    assert c.exit_code == 1 and "plan.points" in c.output


def test_check_fails_a_zeroed_workers_file(tmp_path: Path, planned: tuple[Path, Path]) -> None:
    out = tampered(planned, tmp_path)
    w = read_table_file(out / "workers.csv")
    for col in ("load_after", "utilisation_after", "children_after"):
        w[col] = 0
    w.to_csv(out / "workers.csv", index=False)
    c = check(planned[0], out)
    assert c.exit_code == 1 and "workers.load_after" in c.output


@pytest.mark.parametrize("claim", ["excess", "optimal"])
def test_check_fails_false_claims_in_the_summary(tmp_path: Path, planned: tuple[Path, Path],
                                                 claim: str) -> None:
    out = tampered(planned, tmp_path)
    s = json.loads((out / "summary.json").read_text())
    if claim == "excess":
        s["max_new_yielded"]["excess_total"] += 1
    else:
        s["status"], s["gap"] = "optimal", 0.0
        s["best_bound"] = round(s["objective"] * 0.9, 4)
    (out / "summary.json").write_text(json.dumps(s))
    c = check(planned[0], out)
    assert c.exit_code == 1, c.output
    expect = "max_new_yielded" if claim == "excess" else "status"
    assert expect.split("_")[0].upper() in c.output.upper(), c.output


def test_check_compares_input_hashes(tmp_path: Path, planned: tuple[Path, Path]) -> None:
    import shutil

    inp = tmp_path / "in"
    shutil.copytree(planned[0], inp)
    kids = pd.read_csv(inp / "children.csv", dtype=str, keep_default_na=False)
    kids.to_csv(inp / "children.csv", index=False, lineterminator="\r\n")  # same rows, new bytes
    c = check(inp, planned[1])
    assert c.exit_code == 1 and "inputs.children" in c.output


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
    r = rebalance(inp, tmp_path / "out", "--seed", "9")
    assert r.exit_code == 2 and "disk" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "out" / "summary.json").exists()  # no summary: no stale set


def test_check_fails_a_rule_reason_rewritten(tmp_path: Path, planned: tuple[Path, Path]) -> None:
    out = tampered(planned, tmp_path)

    def rewrite(plan: pd.DataFrame) -> None:
        ruled = plan["reasons"].str.contains("LEAVING|ABSENT|SKILLS|GRADE")
        ruled &= plan["action"] == "move"
        assert ruled.any()
        plan.loc[ruled, "reasons"] = "BALANCE"

    _edit_plan(out, rewrite)
    c = check(planned[0], out)
    assert c.exit_code == 1 and "plan.reasons" in c.output


def test_the_cli_starts_without_posix_only_modules() -> None:
    # Windows has no fcntl: with it made unavailable, the CLI still imports and shows --help
    # (the folder lock imports it only when it locks, and uses msvcrt on Windows).
    import subprocess
    import sys

    code = ("import sys; sys.modules['fcntl'] = None\n"
            "from typer.testing import CliRunner\n"
            "from rebalancer.cli import app\n"
            "r = CliRunner().invoke(app, ['--help'])\n"
            "assert r.exit_code == 0 and 'rebalance' in r.output, r.output\n"
            "assert 'fcntl' not in [m for m, v in sys.modules.items() if v is not None]\n"
            "print('help ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "help ok"


def test_the_folder_lock_refuses_a_second_holder_and_releases(tmp_path: Path) -> None:
    from rebalancer.io.outputs import OutputError, output_lock

    with output_lock(tmp_path / "out"), pytest.raises(OutputError, match="another run is "
                                                      "writing"), output_lock(tmp_path / "out"):
        pass
    with output_lock(tmp_path / "out"):  # released: a later run may write
        pass
    assert list((tmp_path / "out").iterdir()) == []  # no lock file left behind on POSIX
