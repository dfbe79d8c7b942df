"""What the terminal tells a workforce lead: the headline table's extra rows and flags, the line
that says when the clock decided, the next steps, and the import's plan date travelling on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rebalancer.cli import app
from rebalancer.reports.terminal import before_after, clock_line
from solvers import Termination
from tests.conftest import SINGLE_DATE, Case, child, filler, worker

runner = CliRunner()


def test_headline_rows_above_110_and_125_percent_and_the_asye_flag(case: Case) -> None:
    # A (asye, capacity 0.9 x 85 = 76.5) holds 90 pinned points: 117.6%, over and above 110%.
    # B (sw, 85) holds 110 pinned points: 129.4%, above 125% too. C is idle.
    r = case.run([worker("A", grade="asye"), worker("B"), worker("C")],
                 [*filler("A", 45, n=2), *filler("B", 55, n=2)])
    after = r.summary.kpis.after
    assert (after.workers_over_capacity, after.workers_above_110pct,
            after.workers_above_125pct, after.asye_over_capacity) == (2, 2, 1, 1)
    text = before_after(r.summary)
    assert "… above 110% of capacity" in text and "… above 125% of capacity" in text
    assert "FLAG: 1 newly qualified (ASYE) worker(s) over capacity" in text


def test_more_workers_over_capacity_while_overload_falls_is_explained(case: Case) -> None:
    r = case.run([worker("A")], [child("K")])
    k = r.summary.kpis
    s = dataclasses.replace(r.summary, kpis=dataclasses.replace(
        k, before=dataclasses.replace(k.before, workers_over_capacity=3,
                                      total_overload_points=500.0),
        after=dataclasses.replace(k.after, workers_over_capacity=5, total_overload_points=400.0,
                                  allocations=12)))
    assert ("More workers are over capacity (3 → 5) while total overload falls: overload is "
            "spread rather than piled on the busiest, and the 12 newly allocated children add "
            "load.") in before_after(s)
    assert "More workers are over capacity" not in before_after(r.summary)


@pytest.mark.parametrize("interrupted,expect", [
    (False, "The clock cut the neighbourhood search stage short (time limit 10s): a re-run may "
            "give a different plan."),
    (True, "Interrupted (Ctrl-C or SIGTERM) during the neighbourhood search stage: this is the "
           "best plan found so far, and a re-run may give a different one."),
])
def test_the_clock_line_names_the_stage_it_cut(case: Case, interrupted: bool,
                                               expect: str) -> None:
    r = case.run([worker("A")], [child("K")])
    assert clock_line(r.summary) == ""  # a small county runs every budget to its end
    solver = dataclasses.replace(r.summary.solver,
                                 termination=Termination.INTERRUPTED if interrupted
                                 else Termination.DEADLINE,
                                 stage_seconds={"greedy": 0.1, "cpsat": 2.0, "lns": 7.5})
    s = dataclasses.replace(r.summary, solver=solver)
    assert clock_line(s).startswith(expect)
    assert expect in before_after(s)


def test_every_rebalance_ends_with_next_steps(case: Case) -> None:
    case.write("workers", [worker("A")])
    case.write("children", [child("K")])
    (case.root / "c.toml").write_text("plan_date = 2026-12-01\n")
    w, c, cfg, out = (case.root / "workers.csv", case.root / "children.csv",
                      case.root / "c.toml", case.root / "plan")
    r = runner.invoke(app, ["rebalance", "--workers", str(w), "--children", str(c), "--config",
                            str(cfg), "--out", str(out), "--time-limit", "5", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "Next steps:" in r.output
    assert f"rebalancer explain --plan {out} CHILD_ID" in r.output
    assert (f"rebalancer check --workers {w} --children {c} --config {cfg} --plan {out}"
            in r.output)
    assert f"rebalancer review --plan {out}" in r.output


def test_import_writes_the_plan_date_beside_the_tables(tmp_path: Path) -> None:
    from rebalancer.synth.county import generate
    from rebalancer.synth.ssd import write_ssd

    write_ssd(generate(120, 10, seed=2, scenario="steady"), tmp_path / "ssd", seed=2)
    out = tmp_path / "county"
    r = runner.invoke(app, ["import-ssd", "--ssd", str(tmp_path / "ssd"), "--mapping",
                            str(tmp_path / "ssd" / "mapping.toml"), "--plan-date", "2026-12-01",
                            "--out", str(out), "--format", "csv"])
    assert r.exit_code == 0, r.output
    assert (out / "config.toml").read_text().splitlines()[-1] == "plan_date = 2026-12-01"
    step = (f"rebalancer rebalance --workers {out / 'workers.csv'} --children "
            f"{out / 'children.csv'} --config {out / 'config.toml'}")
    assert step in r.output
    v = runner.invoke(app, ["validate", "--workers", str(out / "workers.csv"), "--children",
                            str(out / "children.csv"), "--config", str(out / "config.toml")])
    assert v.exit_code == 0, v.output
    from rebalancer.config import load_config

    assert str(load_config(out / "config.toml").plan_date) == "2026-12-01"


def test_staffing_names_the_skills_fte_cannot_fix_and_hires_them(case: Case) -> None:
    # Nobody in North speaks BSL: K stays unallocated however many plain FTE are added. Staffing
    # reports K, North and bsl, and the worker it proposes has bsl, so a re-plan allocates K.
    import json

    case.write("workers", [worker("A", skills="disability")])
    case.write("children", [child("K", required_skills="bsl"), child("L")])
    (case.root / "c.toml").write_text("plan_date = 2026-12-01\n")
    r = runner.invoke(app, ["staffing", "--workers", str(case.root / "workers.csv"),
                            "--children", str(case.root / "children.csv"), "--config",
                            str(case.root / "c.toml"), "--out", str(case.root / "st"),
                            "--time-limit", "4", "--format", "csv"])
    assert r.exit_code == 0, r.output
    assert "1 child(ren) need skills no worker in their area has" in r.output
    assert "K in North: bsl" in r.output
    rec = json.loads((case.root / "st" / "staffing.json").read_text())
    assert rec["skills_no_worker_has"] == [{"child_id": "K", "locality": "North",
                                            "skills": ["bsl"]}]
    assert rec["confirmed"] is True
    assert [x["skills"] for x in rec["by_locality_and_grade"]] == [["bsl"]]
    summary = json.loads((case.root / "st" / "summary.json").read_text())
    assert summary["kpis"]["after"]["unallocated"] == 0


def test_compare_warns_when_the_plans_are_of_different_counties(tmp_path: Path) -> None:
    # The same workers, children that differ by one child: compare says the data differ, and
    # prints counts as whole numbers.
    def county(name: str, kids: list[dict[str, object]]) -> Path:
        c = Case(tmp_path / name)
        c.root.mkdir()
        c.run([worker("A"), worker("B")], kids)
        return c.root / "out"

    a = county("a", [child("K"), child("L")])
    b = county("b", [child("K"), child("L"), child("M")])
    same = runner.invoke(app, ["compare", str(a), str(a)])
    assert same.exit_code == 0 and "WARNING" not in same.output
    r = runner.invoke(app, ["compare", str(a), str(b)])
    assert r.exit_code == 0, r.output
    assert "WARNING: the children inputs differ" in r.output
    line = next(x for x in r.output.splitlines() if x.startswith("allocations"))
    assert line.split()[1:] == ["2", "3", "1"]
    assert "nan" not in r.output and ".000" not in r.output


def test_a_second_change_of_worker_this_year_is_flagged_forced_or_for_balance(
        case: Case) -> None:
    # K (one change this year) is with A, who leaves: its move to B is forced and its second
    # change. L (one change this year) is with C, who holds 90 more pinned points (100 + 5 of
    # L's = 105/85): moving L to idle D saves 5 points of overload x 400 = 2,000 against a move
    # of (300 + 10 x months) x (1 + 0.5 x 1) = 450 + 15 x months, so L moves for balance, its
    # second change too. M (no change this year) moves with no flag. Before: 0 children with two
    # or more changes; after: 2, one forced, one for balance.
    r = case.run([worker("A", leaving_on="2026-12-02"), worker("B"), worker("C"),
                  worker("D")],
                 [child("K", current="A", worker_changes_12m=1, allocated_on="2026-11-01"),
                  child("L", current="C", worker_changes_12m=1, allocated_on="2026-11-01"),
                  *filler("C", 45, n=2)])
    assert r.summary.kpis.before.children_2plus_changes == 0
    assert r.summary.kpis.after.children_2plus_changes == 2
    assert r.summary.second_changes is not None
    assert (r.summary.second_changes.forced, r.summary.second_changes.discretionary) == (1, 1)
    assert ("FLAG: children with two or more changes of social worker this year rise from 0 "
            "to 2: 1 of them are moved for balance") in before_after(r.summary)


def test_the_plan_quality_is_said_in_words_first(case: Case) -> None:
    case.base_config = SINGLE_DATE
    r = case.run([worker("A")], [child("K")])
    text = before_after(r.summary)
    assert "Plan quality: the best possible plan under these rules and weights (proven). The " \
           "clock did not decide it" in text
    s = dataclasses.replace(r.summary, status="feasible", gap=0.0128,
                            solver=dataclasses.replace(r.summary.solver,
                                                       termination=Termination.DEADLINE))
    text = before_after(s)
    assert "Plan quality: within 1.3% of the best possible plan" in text
    assert "The clock cut" in text


def test_next_steps_count_the_scheduled_changes_a_review_holds() -> None:
    from rebalancer.reports.terminal import next_steps

    text = next_steps(Path("p1"), Path("w.csv"), Path("c.csv"), None, 0, 2)
    assert "a workbook of the 0 changes of worker (and the 2 scheduled for later weeks)" in text
    assert "scheduled" not in next_steps(Path("p1"), Path("w.csv"), Path("c.csv"), None, 5)
