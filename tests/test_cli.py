"""The command line, as other tools script it: exit codes, files written, messages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rebalancer import __version__
from rebalancer.cli import app
from rebalancer.io.outputs import read_table_file
from tests.conftest import digest, generated, rebalance

runner = CliRunner()


def test_rebalance_writes_its_outputs_and_check_passes(tmp_path: Path) -> None:
    inp = generated(tmp_path)
    before = digest(inp)
    r = rebalance(inp, tmp_path / "out")
    assert r.exit_code == 0, r.output
    # the plan (week 0), its later weeks (schedule, and each worker's weeks), the workers
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "plan.csv", "schedule.csv", "weeks.csv", "workers.csv", "report.html", "summary.json"}
    assert digest(inp) == before  # inputs never touched
    c = runner.invoke(app, ["check", "--workers", str(inp / "workers.csv"), "--children",
                            str(inp / "children.csv"), "--plan", str(tmp_path / "out")])
    assert c.exit_code == 0, c.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["config"]["solver"]["time_limit"] == 5
    assert set(summary["inputs"]) == {"workers", "children"}
    assert len(summary["inputs"]["workers"]["sha256"]) == 64


def test_parquet_round_trip_keeps_ids_as_strings(tmp_path: Path) -> None:
    inp = generated(tmp_path, fmt="parquet")
    r = rebalance(inp, tmp_path / "out", fmt="parquet")
    assert r.exit_code == 0, r.output
    plan = read_table_file(tmp_path / "out" / "plan.parquet")
    assert plan["child_id"].iloc[0] == "C000001"
    assert list(plan.columns)[:10] == ["child_id", "family_id", "case_type", "points",
                                       "from_worker_id", "to_worker_id", "action", "reasons",
                                       "travel_before", "travel_after"]
    workers = read_table_file(tmp_path / "out" / "workers.parquet")
    assert workers["worker_id"].iloc[0] == "W0001"


def test_check_catches_a_broken_plan(tmp_path: Path) -> None:
    inp = generated(tmp_path)
    assert rebalance(inp, tmp_path / "out").exit_code == 0
    plan_file = tmp_path / "out" / "plan.csv"
    plan = pd.read_csv(plan_file, dtype=str, keep_default_na=False)
    kept = plan.index[plan["action"] == "keep"]
    plan.loc[kept[0], "to_worker_id"] = ""  # drop a child who has eligible workers
    plan.to_csv(plan_file, index=False)
    c = runner.invoke(app, ["check", "--workers", str(inp / "workers.csv"), "--children",
                            str(inp / "children.csv"), "--plan", str(tmp_path / "out")])
    assert c.exit_code == 1
    assert "VIOLATION ONE_WORKER" in c.output
    assert "MISMATCH kpis.after.unallocated" in c.output


def test_bad_inputs_exit_1_and_write_nothing(tmp_path: Path) -> None:
    inp = generated(tmp_path)
    (inp / "workers.csv").write_text("worker_id,team,locality,grade,fte\nW1,T,N,chief,2\n")
    r = rebalance(inp, tmp_path / "out")
    assert r.exit_code == 1
    assert "grade" in r.output and "fte" in r.output
    assert not (tmp_path / "out" / "plan.csv").exists()
    v = runner.invoke(app, ["validate", "--workers", str(inp / "workers.csv"), "--children",
                            str(inp / "children.csv")])
    assert v.exit_code == 1 and "chief" in v.output


def test_validate_ok(tmp_path: Path) -> None:
    inp = generated(tmp_path)
    v = runner.invoke(app, ["validate", "--workers", str(inp / "workers.csv"), "--children",
                            str(inp / "children.csv")])
    assert v.exit_code == 0 and v.output.startswith("ok: 8 workers, 60 children")


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    inp = generated(tmp_path)
    r = rebalance(inp, tmp_path / "out", "--threads", "0")
    assert r.exit_code == 2 and "--threads" in r.output
    r = rebalance(inp, tmp_path / "out", "--format", "xlsx")
    assert r.exit_code == 2 and "xlsx" in r.output
    r = runner.invoke(app, ["rebalance"])
    assert r.exit_code == 2 and "Missing option" in r.output
    assert not (tmp_path / "out").exists()


def test_output_folder_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    inp = generated(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    r = rebalance(inp, blocker)
    assert r.exit_code == 2
    assert "cannot write" in r.output


def test_output_that_would_overwrite_an_input_is_refused(tmp_path: Path) -> None:
    inp = generated(tmp_path)
    (inp / "workers.csv").rename(inp / "plan.csv")
    r = runner.invoke(app, ["rebalance", "--workers", str(inp / "plan.csv"), "--children",
                            str(inp / "children.csv"), "--out", str(inp), "--format", "csv",
                            "--quiet"])
    assert r.exit_code == 2 and "overwrite the input" in r.output


def test_formula_cells_are_neutralised_in_csv(tmp_path: Path) -> None:
    inp = generated(tmp_path)
    kids = pd.read_csv(inp / "children.csv", dtype=str, keep_default_na=False)
    kids.loc[0, "family_id"] = "=HYPERLINK(1)"
    kids.to_csv(inp / "children.csv", index=False)
    assert rebalance(inp, tmp_path / "out").exit_code == 0
    text = (tmp_path / "out" / "plan.csv").read_text()
    assert "'=HYPERLINK(1)" in text and ",=HYPERLINK" not in text


def test_same_seed_same_plan(tmp_path: Path) -> None:
    inp = generated(tmp_path, children=120, workers=12)
    assert rebalance(inp, tmp_path / "a", "--seed", "7").exit_code == 0
    assert rebalance(inp, tmp_path / "b", "--seed", "7").exit_code == 0
    assert (tmp_path / "a" / "plan.csv").read_bytes() == (tmp_path / "b" / "plan.csv").read_bytes()


def test_generate_is_seeded(tmp_path: Path) -> None:
    a, b = generated(tmp_path / "a", seed=5), generated(tmp_path / "b", seed=5)
    c = generated(tmp_path / "c", seed=6)
    assert digest(a) == digest(b) != digest(c)


def test_a_plan_folder_that_does_not_exist_is_named_as_such(tmp_path: Path) -> None:
    r = runner.invoke(app, ["explain", "--plan", str(tmp_path / "nosuchdir"), "C1"])
    assert r.exit_code == 2
    assert "does not exist" in r.output and "interrupted" not in r.output


def test_version_and_plain_help() -> None:
    from rebalancer import __version__

    v = runner.invoke(app, ["--version"])
    assert v.exit_code == 0 and v.output.strip() == f"caseload-rebalancer {__version__}"
    h = runner.invoke(app, ["rebalance", "--help"])
    assert "<bool>" not in h.output
    assert "--seed" in h.output and "same plan" in h.output and "default" in h.output


@pytest.mark.parametrize("flag,value", [("--time-limit", "nan"), ("--time-limit", "inf"),
                                        ("--threads", "65"), ("--seed", "4294967296")])
def test_out_of_range_flags_are_usage_errors(tmp_path: Path, flag: str, value: str) -> None:
    inp = generated(tmp_path, children=20, workers=3)
    r = rebalance(inp, tmp_path / "out", flag, value)
    assert r.exit_code == 2, r.output
    assert flag in r.output and not (tmp_path / "out").exists()


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


def test_every_command_writes_csv_unless_told_otherwise() -> None:
    # one default for every command that writes plan tables, one a workforce lead can open
    import inspect

    from rebalancer import cli

    for command in (cli.rebalance, cli.replan, cli.sweep, cli.frontier_cmd, cli.staffing_cmd,
                    cli.import_ssd_cmd):
        default = inspect.signature(command).parameters["format"].default
        assert default == cli.Format.csv, command.__name__


def test_a_plan_made_with_relative_paths_is_read_from_any_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inp = generated(tmp_path, children=40, workers=5)
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["rebalance", "--workers", "in/workers.csv", "--children",
                            "in/children.csv", "--out", "plan", "--time-limit", "5", "--quiet"])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "plan" / "summary.json").read_text())
    assert summary["inputs"]["workers"]["path"] == str((inp / "workers.csv").resolve())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    child = pd.read_csv(inp / "children.csv", dtype=str)["child_id"].iat[0]
    e = runner.invoke(app, ["explain", "--plan", str(tmp_path / "plan"), child])
    assert e.exit_code == 0 and "changed" not in e.output, e.output


def test_the_console_script_ends_with_each_outcomes_exit_code(tmp_path: Path) -> None:
    # the process ends as soon as its output is flushed (no module teardown after the limit):
    # what it printed arrives whole, and each outcome keeps its exit code (0 done, 1 inputs
    # rejected with every problem, 2 a usage error naming the option)
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rebalancer.cli", *args],
                              capture_output=True, text=True, timeout=120)

    done = run("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"caseload-rebalancer {__version__}")
    bad = tmp_path / "workers.csv"
    bad.write_text("worker_id,team\nW1,\n")
    children = tmp_path / "children.csv"
    children.write_text("child_id\nC1\n")
    rejected = run("validate", "--workers", str(bad), "--children", str(children))
    assert rejected.returncode == 1, rejected.stdout + rejected.stderr
    assert "workers.csv" in rejected.stdout + rejected.stderr
    usage = run("rebalance", "--children", str(children))
    assert usage.returncode == 2
    assert "Missing option '--workers'" in usage.stderr
