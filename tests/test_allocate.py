"""Today's referrals: `rebalancer allocate` on hand-made counties with answers worked by hand,
on generated counties (nobody else moves, with and without a plan in force), and the optimum
of the restricted problem held to a HiGHS MIP of the same problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rebalancer.cli import app
from rebalancer.io.outputs import read_table_file
from tests.conftest import PLAN_DATE, child, decide, filler, generated, worker

runner = CliRunner()


def _write(root: Path, workers: list[dict[str, Any]], children: list[dict[str, Any]],
           config: str = "") -> list[str]:
    pd.DataFrame(workers).to_csv(root / "workers.csv", index=False)
    pd.DataFrame(children).to_csv(root / "children.csv", index=False)
    (root / "config.toml").write_text(f"plan_date = {PLAN_DATE}\n{config}\n")
    return ["--workers", str(root / "workers.csv"), "--children", str(root / "children.csv"),
            "--config", str(root / "config.toml")]


def _allocate(root: Path, args: list[str], out: str = "a", *extra: str) -> tuple[Path, Any]:
    r = runner.invoke(app, ["allocate", *args, "--out", str(root / out), "--quiet", *extra])
    assert r.exit_code == 0, r.output
    c = runner.invoke(app, ["check", *args, "--plan", str(root / out)])
    assert c.exit_code == 0, c.output  # every allocation passes the independent check
    return root / out, r


def _plan(folder: Path) -> pd.DataFrame:
    return read_table_file(folder / "plan.csv").set_index("child_id")


def test_a_family_of_three_is_allocated_together_to_the_worker_worked_by_hand(
        tmp_path: Path) -> None:
    # A holds 60 of 85 points, B 70. Three new siblings (cin, 5 points each, 15 in all) fit
    # either; together on A the peak is 75/85 = 88.2%, on B 85/85 = 100%. No calendar, so every
    # week is alike and the objective is the single date's: peak 50 × 88.235 = 4,411.76.
    args = _write(tmp_path, [worker("A"), worker("B")],
                  [*filler("A", 60), *filler("B", 70),
                   *(child(f"S{i}", family_id="F1") for i in range(3))])
    out, r = _allocate(tmp_path, args)
    plan = _plan(out)
    assert [plan.at[f"S{i}", "to_worker_id"] for i in range(3)] == ["A", "A", "A"]
    assert (plan.loc[["S0", "S1", "S2"], "action"] == "allocate").all()
    assert (plan.loc[["S0", "S1", "S2"], "reasons"] == "UNALLOCATED").all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "allocate" and summary["status"] == "optimal"
    assert summary["objective"] == pytest.approx(50 * 100 * 75 / 85, abs=1e-3)
    assert summary["allocation"]["allocated"] == ["S0", "S1", "S2"]
    options = read_table_file(out / "options.csv")
    first = options[options["child_id"] == "S0"]
    assert list(first["worker_id"]) == ["A", "B"] and list(first["chosen"]) == ["true", "false"]
    # choosing B instead adds the peak's difference: 50 × 100 × (85 − 75)/85 = 588.24
    assert float(first["adds"].iat[1]) == pytest.approx(588.24, abs=0.01)
    assert "S0: allocated to A" in r.output and "1. A" in r.output
    page = (out / "report.html").read_text()
    assert "Today's referrals: allocation of 2026-12-01" in page and "Shortfall" not in page
    e = runner.invoke(app, ["explain", "--plan", str(out), "S0"])
    assert e.exit_code == 0 and "allocated to A" in e.output and "options.csv" in e.output
    t = runner.invoke(app, ["review", "--plan", str(out), "--by-team"])
    assert t.exit_code == 0, t.output
    assert (out / "review" / "index.csv").read_text(encoding="utf-8-sig").count("\n") == 2


def test_a_rejected_allocation_is_replanned_with_the_next_option(tmp_path: Path) -> None:
    # N can go to A (idle) or B (half full): A first. The manager rejects A; the re-plan
    # offers the next option, B, and passes the check.
    args = _write(tmp_path, [worker("A"), worker("B")], [*filler("B", 40), child("N")])
    out, _ = _allocate(tmp_path, args)
    assert _plan(out).at["N", "to_worker_id"] == "A"
    assert runner.invoke(app, ["review", "--plan", str(out)]).exit_code == 0
    decide(out / "review.xlsx", "N", "reject", "A is on a course")
    r = runner.invoke(app, ["replan", *args, "--plan", str(out), "--review",
                            str(out / "review.xlsx"), "--out", str(tmp_path / "a2"), "--quiet"])
    assert r.exit_code == 0, r.output
    again = tmp_path / "a2"
    assert _plan(again).at["N", "to_worker_id"] == "B"
    assert json.loads((again / "summary.json").read_text())["kind"] == "allocate"
    c = runner.invoke(app, ["check", *args, "--plan", str(again)])
    assert c.exit_code == 0, c.output


def test_a_new_child_whose_only_worker_leaves_in_week_2(tmp_path: Path) -> None:
    # Plan 2026-12-01, horizon 14: A leaves on 2026-12-26, after week 1's start + 14
    # (2026-12-22) but not after week 2's (2026-12-29): A holds children in weeks 0 and 1
    # only. N needs `bsl`, which only A has: allocated to A now, without a worker from week 2.
    # By hand (13 weeks): unallocated 14,000 × 11/13 = 11,846.15; the forced change in week 2
    # after 14 days with A: 14/30.4375 × 10 = 4.60; peak 50 × 100 × 5/85 × 2/13 = 45.25.
    args = _write(tmp_path, [worker("A", leaving_on="2026-12-26", skills="bsl"), worker("B")],
                  [child("N", required_skills="bsl")])
    out, r = _allocate(tmp_path, args)
    assert _plan(out).at["N", "to_worker_id"] == "A"
    sched = read_table_file(out / "schedule.csv")
    assert len(sched) == 1
    row = sched.iloc[0]
    assert (row["child_id"], int(row["week"]), row["effective_on"], row["from_worker_id"],
            row["to_worker_id"], row["action"], row["forced"]) == (
        "N", 2, "2026-12-15", "A", "", "unallocated", "true")
    assert set(row["reasons"].split(";")) == {"LEAVING", "UNALLOCATED"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective"] == pytest.approx(
        14000 * 11 / 13 + 14 / 30.4375 * 10 + 50 * 100 * 5 / 85 * 2 / 13, abs=0.01)
    assert summary["kpis"]["changes_lookahead"] == {"total": 1, "forced": 1,
                                                    "discretionary": 0}
    assert [w["unallocated"] for w in summary["kpis"]["weeks"]][:3] == [0, 0, 1]
    options = read_table_file(out / "options.csv")
    assert options["calendar"].iat[0] == "leaves on 2026-12-26"
    assert "only 1 worker(s) may take this child" in options["why"].iat[0]
    assert "changes scheduled: week 2 (2026-12-15): 1" in r.output


def test_a_child_no_worker_may_take_is_left_with_its_reason(tmp_path: Path) -> None:
    args = _write(tmp_path, [worker("A"), worker("B", locality="South")],
                  [child("X", required_skills="urdu"), child("Y")])
    out, _ = _allocate(tmp_path, args)
    plan = _plan(out)
    assert plan.at["X", "to_worker_id"] == "" and plan.at["X", "reasons"] == "UNALLOCATED;SKILLS"
    assert "no worker passes the SKILLS rule" in plan.at["X", "explanation"]
    options = read_table_file(out / "options.csv")
    x = options[options["child_id"] == "X"]
    assert len(x) == 1 and x["worker_id"].iat[0] == ""
    assert x["why"].iat[0] == ("only 0 worker(s) may take this child: 1 in North, "
                               "0 with `urdu`")
    assert plan.at["Y", "to_worker_id"] == "A"


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("allocate")
    inp = generated(root, children=400, workers=30, seed=11, scenario="steady")
    (inp / "config.toml").write_text(f"plan_date = {PLAN_DATE}\n")
    return inp


def _args(inp: Path) -> list[str]:
    return ["--workers", str(inp / "workers.csv"), "--children", str(inp / "children.csv"),
            "--config", str(inp / "config.toml")]


def _stays(inp: Path, folder: Path, baseline: pd.Series) -> None:
    """Every child whose baseline worker may still hold it in week 0 keeps that worker."""
    from rebalancer.config import load_config
    from rebalancer.io.inputs import load_inputs
    from rebalancer.model import weekly

    cfg = load_config(inp / "config.toml")
    inputs = load_inputs(inp / "workers.csv", inp / "children.csv", None, None, cfg)
    cy = weekly.county(inputs, cfg)
    plan = _plan(folder)
    wid = list(cy.frame.workers["worker_id"])
    for cid, w in baseline.items():
        if w and cy.cal.can_hold[wid.index(w), 0]:
            c = int(np.flatnonzero(cy.frame.children["child_id"] == cid)[0])
            if not cy.forced0[c]:
                assert plan.at[cid, "to_worker_id"] == w, cid


def test_allocations_never_move_an_allocated_child(county: Path, tmp_path: Path) -> None:
    out, _ = _allocate(tmp_path, _args(county))
    children = pd.read_csv(county / "children.csv", dtype=str, keep_default_na=False)
    _stays(county, out, children.set_index("child_id")["current_worker_id"])
    moved = _plan(out)
    moved = moved[moved["action"] == "move"]
    assert all(r for r in moved["reasons"])  # every move is forced, with its rule


def test_allocations_keep_the_plan_in_force(county: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["rebalance", *_args(county), "--out", str(tmp_path / "p"),
                            "--work", "2", "--quiet"])
    assert r.exit_code == 0, r.output
    out, _ = _allocate(tmp_path, _args(county), "a", "--plan", str(tmp_path / "p"))
    in_force = _plan(tmp_path / "p")["to_worker_id"]
    _stays(county, out, in_force)
    plan = _plan(out)
    kept = (plan["to_worker_id"] == in_force.reindex(plan.index)).mean()
    assert kept > 0.95


def test_the_optimum_is_the_mip_optimum(tmp_path: Path) -> None:
    # a county with departures and a starter inside the look-ahead, so that courses hand on
    from rebalancer.config import load_config
    from rebalancer.io.inputs import load_inputs
    from rebalancer.model import allocate, weekly
    from solvers.context import SolveContext, Termination
    from solvers.options import solve, solve_mip

    # small enough for HiGHS to prove in seconds (CP-SAT: a tenth of a second)
    inp = generated(tmp_path, children=60, workers=6, seed=5, scenario="steady")
    workers = pd.read_csv(inp / "workers.csv", dtype=str, keep_default_na=False)
    workers.loc[1, "leaving_on"] = "2026-12-31"
    workers.loc[3, "leaving_on"] = "2027-01-20"
    workers["starts_on"] = ""
    workers.loc[5, "starts_on"] = "2026-12-22"
    workers.to_csv(inp / "workers.csv", index=False)
    (inp / "config.toml").write_text(f"plan_date = {PLAN_DATE}\n")
    cfg = load_config(inp / "config.toml")
    inputs = load_inputs(inp / "workers.csv", inp / "children.csv", None, None, cfg)
    cy = weekly.county(inputs, cfg)
    pl = allocate.placement(cy, inputs, np.repeat(cy.current[:, None], cy.weeks, axis=1))
    assert len(pl.units) >= 10 and any(o.hands_on >= 0 for o in pl.options)
    assert any(u.start > 0 for u in pl.units)  # handovers in later weeks
    assert any(o.workers[0] < 0 and (o.workers >= 0).any() for o in pl.options)  # a starter
    got = solve(pl.problem, SolveContext.start(120.0, threads=1))
    assert got.termination is Termination.FINISHED
    mip, choice = solve_mip(pl.problem)
    assert got.objective == pytest.approx(mip, abs=0.5)
    assert pl.problem.objective(choice) == pytest.approx(mip, abs=0.5)
    _allocate(tmp_path, _args(inp))  # and the folder passes the check


def test_a_child_whose_worker_leaves_in_week_3_is_handed_over_that_week(tmp_path: Path
                                                                         ) -> None:
    # A leaves on 2026-12-30: it can hold children in week 2 (2026-12-15 + 14 days is before
    # it) but not in week 3 (2026-12-22 + 14 is after it). C leaves on 2027-01-10 (from week
    # 4). K stays with A until then and is handed over in week 3 to B, the one worker who
    # stays to the end. The new child N: straight to B, or to C until week 4 and then to B. By
    # the contract's objective C is cheaper: in week 3 the peak is 5/85 instead of 10/85 (50 ×
    # 100 × 5/85 / 13 = 22.62 less), and N's change in week 4 is forced (C cannot hold it),
    # costing only its 28 days: 28/30.4375 × 10 = 9.20. (A second change priced this low is
    # the contract's reading; see docs/contract-reading.md.)
    args = _write(tmp_path, [worker("A", leaving_on="2026-12-30"), worker("B"),
                             worker("C", leaving_on="2027-01-10")],
                  [child("K", current="A", allocated_on="2026-06-01"), child("N")])
    out, _ = _allocate(tmp_path, args)
    plan = _plan(out)
    assert plan.at["K", "action"] == "keep" and plan.at["K", "to_worker_id"] == "A"
    assert plan.at["N", "to_worker_id"] == "C"
    sched = read_table_file(out / "schedule.csv")
    assert sched[["child_id", "week", "from_worker_id", "to_worker_id", "forced",
                  "reasons"]].values.tolist() == [["K", "3", "A", "B", "true", "LEAVING"],
                                                  ["N", "4", "C", "B", "true", "LEAVING"]]
    assert sched["explanation"].iat[0] \
        == "A leaves on 2026-12-30; handed over in the week of 2026-12-22 to B, who stays"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["allocation"]["handed_over"] == ["K"]
    # K's change after 204 days with A (2026-06-01 to 2026-12-22), N's after 28 with C
    assert summary["objective_terms"]["moves"] == pytest.approx(
        204 / 30.4375 * 10 + 28 / 30.4375 * 10, abs=1e-3)
    options = read_table_file(out / "options.csv")
    b = options[(options["child_id"] == "N") & (options["worker_id"] == "B")]
    assert float(b["adds"].iat[0]) == pytest.approx(50 * 100 * 5 / 85 / 13 - 28 / 30.4375 * 10,
                                                    abs=0.01)
