"""Analysts: sweeps on a real Dask LocalCluster, a failing scenario, the frontier, staffing and
comparing plans."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rebalancer.cli import app
from rebalancer.io.outputs import read_table_file
from tests.conftest import Case, child, generated, small_county, worker

runner = CliRunner()


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("analysis")
    generated(root, children=160, workers=14, seed=4, scenario="steady")
    (root / "c.toml").write_text("plan_date = 2026-12-01\n")
    return root


def args(root: Path) -> list[str]:
    return ["--workers", str(root / "in/workers.csv"), "--children",
            str(root / "in/children.csv"), "--config", str(root / "c.toml")]


def test_sweep_on_a_local_cluster(county: Path, tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    from rebalancer.analysis import scenarios, sweep
    from rebalancer.config import load_config
    from rebalancer.pipeline import InputPaths

    out = tmp_path / "sweep"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        paths = InputPaths(county / "in/workers.csv", county / "in/children.csv",
                           config=county / "c.toml")
        cfg = load_config(county / "c.toml", {"solver.work": 3})  # rows that compare
        grid = scenarios.parse_grid(["weights.move=100,300", "rules.max_moves=0,3,-1"])
        df = sweep.sweep(paths, cfg, scenarios.scenarios(grid, []), out, "csv", 60.0,
                            cluster.scheduler_address, list(grid), echo=lambda _: None)
        workers = set(cluster.workers[w].worker_address for w in cluster.workers)
    assert len(df) == 6
    bad = df[df["rules.max_moves"].astype(str) == "-1"]
    assert (bad["status"] == "error").all() and bad["error"].str.contains("max_moves").all()
    good = df[df["status"] != "error"]
    assert set(good["host"]) <= workers
    for row in good.itertuples(index=False):
        summary = json.loads((Path(row.folder) / "summary.json").read_text())
        for k in ("unallocated", "moves", "moves_discretionary", "total_overload_points",
                  "children_2plus_changes"):
            assert summary["kpis"]["after"][k] == pytest.approx(getattr(row, k))
        # a scenario's configuration is the scenario's own: checked as such, and said so
        c = runner.invoke(app, ["check", *args(county)[:4], "--plan", row.folder,
                                "--trust-plan-config"])
        assert c.exit_code == 0, c.output
        assert "NOT CHECKED configuration taken from the plan" in c.output
    results = pd.read_csv(out / "results.csv", encoding="utf-8-sig")
    assert list(results["scenario"]) == sorted(df["scenario"])
    assert (out / "results.parquet").is_file() and (out / "sweep.html").is_file()
    # each scenario's plan is the plan a single rebalance makes with that configuration
    one = good[good["weights.move"].astype(int) == 300].iloc[0]
    r = runner.invoke(app, ["rebalance", *args(county), "--out", str(tmp_path / "single"),
                            "--format", "csv", "--work", "3", "--time-limit", "60",
                            "--threads", "1", "--quiet", "--max-moves",
                            str(one["rules.max_moves"])])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "single/plan.csv").read_bytes() == \
        (Path(one["folder"]) / "plan.csv").read_bytes()


def test_sweep_command_with_a_bad_grid_key_is_a_usage_error(county: Path,
                                                           tmp_path: Path) -> None:
    r = runner.invoke(app, ["sweep", *args(county), "--grid", "weights.moove=1,2", "--out",
                            str(tmp_path / "s")])
    assert r.exit_code == 2 and "weights.move" in r.output


def test_a_sweep_over_the_look_ahead_carries_the_changes_over_the_weeks(
        county: Path, tmp_path: Path) -> None:
    # the generated county has a calendar: with 28 days' look-ahead the plan has weeks, and
    # its row counts every change in them; with none it is the plan date's alone
    out = tmp_path / "s"
    r = runner.invoke(app, ["sweep", *args(county), "--grid", "lookahead_days=0,28", "--work",
                            "2", "--time-limit", "60", "--out", str(out)])
    assert r.exit_code == 0, r.output
    df = read_table_file(out / "results.csv").set_index("lookahead_days")
    assert df.loc["0", "changes_lookahead"] == "" and not (Path(df.loc["0", "folder"])
                                                          / "schedule.csv").exists()
    row = df.loc["28"]
    summary = json.loads((Path(row["folder"]) / "summary.json").read_text())
    got = summary["kpis"]["changes_lookahead"]
    assert [int(row["changes_lookahead"]), int(row["changes_lookahead_forced"]),
            int(row["changes_lookahead_discretionary"])] == [
        got["total"], got["forced"], got["discretionary"]]
    assert len(summary["kpis"]["weeks"]) == 4
    # the changes over the weeks are the plan's and the schedule's
    sched = read_table_file(Path(row["folder"]) / "schedule.csv")
    moved = summary["kpis"]["after"]["moves"]
    assert got["total"] == moved + int((sched["from_worker_id"] != "").sum())
    c = runner.invoke(app, ["compare", df.loc["0", "folder"], row["folder"]])
    assert c.exit_code == 0 and "changes_lookahead" in c.output, c.output


def test_frontier_is_monotone(county: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["frontier", *args(county), "--out", str(tmp_path / "f"),
                            "--points", "4", "--time-limit", "4", "--format", "csv"])
    assert r.exit_code == 0, r.output
    f = pd.read_csv(tmp_path / "f/frontier.csv", encoding="utf-8-sig")
    assert list(f.columns)[:6] == ["max_moves", "moves_discretionary", "total_overload_points",
                                   "workers_over_capacity", "peak_utilisation", "objective"]
    assert len(f) >= 3 and f["moves_discretionary"].iloc[-1] > 0  # a real trade-off to check
    assert f["max_moves"].is_monotonic_increasing and f["max_moves"].iloc[0] == 0
    assert f["moves_discretionary"].iloc[0] == 0
    assert (f["total_overload_points"].diff().dropna() <= 1e-6).all()
    assert (f["moves_discretionary"] <= f["max_moves"].where(f["max_moves"] > 0, 0)
            .where(f.index < len(f) - 1, 10**9)).all()
    assert (tmp_path / "f/frontier.png").stat().st_size > 1000
    for row in f.itertuples(index=False):  # each point carries the recent-changes KPI
        summary = json.loads((Path(row.folder) / "summary.json").read_text())
        assert row.children_2plus_changes == summary["kpis"]["after"]["children_2plus_changes"]
    assert f["children_2plus_changes"].iloc[0] >= 1  # the steady county has unsettled children


def test_staffing_recommendation_is_checked_by_a_replan(county: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["staffing", *args(county), "--out", str(tmp_path / "st"),
                            "--time-limit", "4", "--format", "csv"])
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "st/staffing.json").read_text())
    summary = json.loads((tmp_path / "st/summary.json").read_text())
    # the recommendation is confirmed by the re-plan it wrote, or says it is not
    assert rec["confirmed"] == (summary["kpis"]["after"]["total_overload_points"] <= 1e-6
                                and summary["kpis"]["after"]["unallocated"] == 0)
    assert rec["total_fte"] > 0  # the steady county has overload to absorb
    assert rec["total_fte"] == pytest.approx(sum(x["fte"] for x in rec["by_locality_and_grade"]))
    plan = read_table_file(tmp_path / "st/plan.csv")
    assert plan["to_worker_id"].str.startswith("NEW-").any()


def test_compare_two_plans(county: Path, tmp_path: Path) -> None:
    for name, extra in (("a", []), ("b", ["--max-moves", "2"])):
        r = runner.invoke(app, ["rebalance", *args(county), "--out", str(tmp_path / name),
                                "--time-limit", "4", "--quiet", *extra])
        assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out",
                            str(tmp_path / "diff.csv")])
    assert r.exit_code == 0, r.output
    assert "moves_discretionary" in r.output
    line = next(x for x in r.output.splitlines() if x.startswith("children_2plus_changes"))
    ka = json.loads((tmp_path / "a/summary.json").read_text())["kpis"]["after"]
    kb = json.loads((tmp_path / "b/summary.json").read_text())["kpis"]["after"]
    assert line.split()[1:3] == [str(ka["children_2plus_changes"]),
                                 str(kb["children_2plus_changes"])]
    diff = read_table_file(tmp_path / "diff.csv")
    a = read_table_file(tmp_path / "a/plan.csv").set_index("child_id")
    b = read_table_file(tmp_path / "b/plan.csv").set_index("child_id")
    differ = (a["to_worker_id"] != b.loc[a.index, "to_worker_id"]).sum()
    assert differ > 0  # the budget of 2 changes the plan: there is something to compare
    assert len(diff) == differ


def test_a_sweep_a_person_can_read(county: Path, tmp_path: Path) -> None:
    # Names carry the grid's values; rows say whether the clock decided them and the work they
    # were given; repeats with --work agree (one distinct plan per scenario); the page formats
    # numbers and does not draw objectives under different weights as comparable.
    out = tmp_path / "s"
    import contextlib
    import socket

    # Dask's default dashboard port taken (another cluster, a notebook): the sweep says nothing
    # of it, and no library's raw warning reaches the analyst
    with contextlib.closing(socket.socket()) as taken:
        with contextlib.suppress(OSError):
            taken.bind(("127.0.0.1", 8787))
            taken.listen()
        r = runner.invoke(app, ["sweep", *args(county), "--grid",
                                "weights.move_factor_recent_change=0,1", "--repeats", "2",
                                "--work", "3", "--time-limit", "30", "--out", str(out),
                                "--format", "csv"])
    assert r.exit_code == 0, r.output
    assert "Warning" not in r.output and "8787" not in r.output
    res = pd.read_csv(out / "results.csv", encoding="utf-8-sig")
    assert list(res["scenario"]) == ["move_factor_recent_change=0",
                                     "move_factor_recent_change=0~2",
                                     "move_factor_recent_change=1",
                                     "move_factor_recent_change=1~2"]
    assert {"reproducible", "work", "gap", "children_2plus_changes"} <= set(res.columns)
    assert res["reproducible"].all() and (res["work"] == 3).all()
    res["base"] = res["scenario"].str.replace(r"~\d+$", "", regex=True)
    assert (res.groupby("base")["plan_sha256"].nunique() == 1).all()
    page = (out / "sweep.html").read_text()
    assert "Spread across repeats" in page and "not comparable" in page
    assert "%</td>" in page  # gaps and utilisation as percentages
    assert "default-src 'none'" in page


def test_bad_grids_and_scenario_files_are_refused_before_anything_runs(case: Case) -> None:
    args, _ = small_county(case)
    out = case.root / "sweep"
    r = runner.invoke(app, ["sweep", *args, "--grid", "solver.threads=1,2", "--out", str(out)])
    assert r.exit_code == 2 and "Dask worker's threads" in r.output
    r = runner.invoke(app, ["sweep", *args, "--grid", "weights.move=", "--out", str(out)])
    assert r.exit_code == 2 and "no values" in r.output
    bad = case.root / "s.toml"
    bad.write_text(
        '[scenario.a]\nadd_workers = [{ locality = "North", fte = 7.5, count = -3 }]\n'
        'remove_team = ["No Such Team"]\n'
        '[scenario.b]\nadd_workers = [{ grade = "boss" }]\noverrides = "weights.move=1"\n')
    r = runner.invoke(app, ["sweep", *args, "--scenarios", str(bad), "--out", str(out)])
    assert r.exit_code == 1 and "Traceback" not in r.output
    for text in ("add_workers[0].fte", "add_workers[0].count", "add_workers[0].grade",
                 "add_workers[0].locality", "scenario.b.overrides"):
        assert text in r.output, text
    assert not out.exists()
    # the teams and localities a what-if names are checked against the county, too
    bad.write_text('[scenario.a]\nremove_team = ["No Such Team"]\n'
                   'add_workers = [{ locality = "Atlantis" }]\n')
    r = runner.invoke(app, ["sweep", *args, "--scenarios", str(bad), "--out", str(out)])
    assert r.exit_code == 1
    assert "'No Such Team' is not a team" in r.output and "'Atlantis' is no locality" in r.output


def test_a_scenario_reads_the_files_it_was_started_with(case: Case) -> None:
    from rebalancer.analysis.scenarios import Scenario
    from rebalancer.analysis.sweep import run_scenario
    from rebalancer.config import load_config
    from rebalancer.pipeline import InputPaths

    small_county(case)
    c = case.root
    paths = InputPaths(c / "workers.csv", c / "children.csv", config=c / "config.toml")
    expected = {str(c / "workers.csv"): "0" * 64}  # what another machine's file hashed to
    row = run_scenario(paths, load_config(c / "config.toml"), Scenario("x"), c / "sw", "csv",
                       4.0, 1, expected)
    assert row["status"] == "error" and "differs on this Dask worker" in row["error"]


def test_what_if_folders_work_with_every_command(case: Case) -> None:
    # staffing adds NEW- workers (with the skill nobody had): check, explain and review work
    # on its folder because it records them
    case.write("workers", [worker("A")])
    case.write("children", [child("K", required_skills="bsl"), child("L")])
    (case.root / "c.toml").write_text("plan_date = 2026-12-01\n")
    a = ["--workers", str(case.root / "workers.csv"), "--children",
         str(case.root / "children.csv"), "--config", str(case.root / "c.toml")]
    st = case.root / "st"
    r = runner.invoke(app, ["staffing", *a, "--out", str(st), "--time-limit", "4", "--target",
                            "0.9", "--format", "csv"])
    assert r.exit_code == 0, r.output
    summary = json.loads((st / "summary.json").read_text())
    assert summary["what_ifs"]["add_workers"] and summary["what_ifs"]["capacity_points"]
    c = runner.invoke(app, ["check", *a, "--plan", str(st)])
    assert c.exit_code == 0 and "what-ifs applied" in c.output, c.output
    e = runner.invoke(app, ["explain", "--plan", str(st), "K"])
    assert e.exit_code == 0 and "NEW-" in e.output, e.output
    assert runner.invoke(app, ["review", "--plan", str(st)]).exit_code == 0


def test_a_reused_sweep_folder_keeps_no_stale_scenario(tmp_path: Path) -> None:
    import pandas as pd

    from rebalancer.analysis.sweep import _remove_stale

    out = tmp_path / "sweep"
    for name in ("move=100", "move=300", "notes"):
        (out / name).mkdir(parents=True)
    (out / "move=100" / "summary.json").write_text("{}")
    (out / "move=300" / "summary.json").write_text("{}")
    pd.DataFrame({"scenario": ["move=100", "move=300"]}).to_csv(out / "results.csv",
                                                                index=False)
    _remove_stale(out, {"move=300"})
    assert sorted(p.name for p in out.iterdir()) == ["move=300", "notes", "results.csv"]


def test_a_grid_runs_each_value_once_and_a_huge_one_is_refused() -> None:
    from rebalancer.analysis.scenarios import MAX_SCENARIOS, parse_grid, scenarios

    grid = parse_grid(["weights.move=100,1e2,100.0,300", "rules.keep_families=true,true"])
    assert grid == {"weights.move": [100, 300], "rules.keep_families": [True]}
    assert [s.name for s in scenarios(grid, [])] == ["move=100,keep_families=true",
                                                     "move=300,keep_families=true"]
    many = ",".join(str(v) for v in range(1, 1001))
    with pytest.raises(ValueError, match=f"more than the {MAX_SCENARIOS:,}"):
        parse_grid([f"weights.move={many}", f"weights.peak={many}"])


def test_an_interrupted_sweep_keeps_whole_plans_as_rows_and_no_half_folder(case: Case) -> None:
    # what a sweep does once its workers have stopped after Ctrl-C: a scenario whose folder
    # landed whole becomes a row of the table; one a stopped worker left half-written (no
    # summary.json) leaves nothing behind
    import shutil

    from rebalancer.analysis.scenarios import Scenario
    from rebalancer.analysis.sweep import _finished_on_disk, _remove_unfinished
    from rebalancer.config import load_config

    case.run([worker("A"), worker("B")], [child("K"), child("L")])
    out = case.root / "sweep"
    out.mkdir()
    shutil.copytree(case.root / "out", out / "whole")
    (out / "half").mkdir()
    (out / "half" / "plan.csv").write_text("child_id\nK\n")
    todo = [Scenario("whole"), Scenario("half"), Scenario("never")]
    rows = _finished_on_disk(out, todo, set(), load_config(case.root / "config.toml"))
    _remove_unfinished(out, todo, {r["scenario"] for r in rows})
    assert [r["scenario"] for r in rows] == ["whole"]
    assert sorted(p.name for p in out.iterdir()) == ["whole"]


def _executing(dask_worker: object) -> int:
    return len(dask_worker.state.executing)  # type: ignore[attr-defined]


def test_ctrl_c_on_a_sweep_lands_no_folder_of_a_cancelled_scenario(tmp_path: Path) -> None:
    # Ctrl-C on a sweep whose scenarios run on a cluster it does not own (--scheduler): the
    # scenarios still running are told to stop, and none of them lands a plan folder later;
    # every folder on disk, once the cluster is idle, is a row of results.csv
    import time

    from distributed import Client, LocalCluster

    from rebalancer.analysis import scenarios, sweep
    from rebalancer.config import load_config
    from rebalancer.pipeline import InputPaths

    inp = generated(tmp_path, children=600, workers=40, seed=6, scenario="crisis")
    (tmp_path / "c.toml").write_text("plan_date = 2026-12-01\n")
    out = tmp_path / "sweep"

    said: list[str] = []

    def ctrl_c(line: str) -> None:
        said.append(line)
        if len(said) == 1:
            raise KeyboardInterrupt  # as the first scenario's line is printed

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        paths = InputPaths(inp / "workers.csv", inp / "children.csv", config=tmp_path / "c.toml")
        cfg = load_config(tmp_path / "c.toml", {"solver.work": 40})
        grid = scenarios.parse_grid(["weights.move=100,200,300,400,500,600"])
        df = sweep.sweep(paths, cfg, scenarios.scenarios(grid, []), out, "csv", 120.0,
                         cluster.scheduler_address, list(grid), echo=ctrl_c)
        said_done = {p.name for p in out.iterdir() if p.is_dir()}
        deadline = time.monotonic() + 180
        while sum(client.run(_executing).values()) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not sum(client.run(_executing).values())
    assert 1 <= len(df) < 6
    landed = {p.name for p in out.iterdir() if p.is_dir()}
    assert landed == said_done == set(df["scenario"]), (landed, said_done, list(df["scenario"]))
    for row in df.itertuples(index=False):
        assert (Path(row.folder) / "summary.json").is_file()
