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
from tests.test_cli import generated

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
    a = read_table_file(tmp_path / "a/plan.parquet").set_index("child_id")
    b = read_table_file(tmp_path / "b/plan.parquet").set_index("child_id")
    differ = (a["to_worker_id"] != b.loc[a.index, "to_worker_id"]).sum()
    assert differ > 0  # the budget of 2 changes the plan: there is something to compare
    assert len(diff) == differ


def test_a_sweep_a_person_can_read(county: Path, tmp_path: Path) -> None:
    # Names carry the grid's values; rows say whether the clock decided them and the work they
    # were given; repeats with --work agree (one distinct plan per scenario); the page formats
    # numbers and does not draw objectives under different weights as comparable.
    out = tmp_path / "s"
    r = runner.invoke(app, ["sweep", *args(county), "--grid",
                            "weights.move_factor_recent_change=0,1", "--repeats", "2",
                            "--work", "3", "--time-limit", "30", "--out", str(out),
                            "--format", "csv"])
    assert r.exit_code == 0, r.output
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
