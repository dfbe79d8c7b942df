"""Explanations, `explain`, and the shortfall diagnosis on hand-made cases."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rebalancer.cli import app
from tests.conftest import Case, child, row, worker
from tests.test_hard_rules import filler

runner = CliRunner()


def test_move_explanation_names_the_reason_the_fit_and_the_loads(case: Case) -> None:
    # A leaves; K (cp, 7 points) goes to B, idle: B 0% -> 8%, A 8% -> 0%.
    r = case.run([worker("A", leaving_on="2026-12-10"), worker("B")],
                 [child("K", "cp", current="A")])
    assert row(r, "K")["explanation"] == (
        "from A (leaving 2026-12-10) to B: same locality; sw grade needed (sw); "
        "whole plan: B 0% → 8%, A 8% → 0%")


def test_allocation_and_unallocated_explanations(case: Case) -> None:
    r = case.run([worker("A")], [child("K"), child("S", locality="South")])
    assert row(r, "K")["explanation"] == "allocated to A: same locality; whole plan: A 0% → 6%"
    assert row(r, "S")["explanation"] == "no eligible worker: no worker covers South"


def test_explain_command_shows_alternatives_and_barred_workers(case: Case) -> None:
    r = case.run([worker("A", grade="asye"), worker("B"), worker("C")],
                 [child("K", "cp"), *filler("B", 30), *filler("C", 60)])
    assert row(r, "K")["to_worker_id"] == "B"
    out = runner.invoke(app, ["explain", "--plan", str(case.root / "out"), "K"])
    assert out.exit_code == 0, out.output
    assert "K: allocate (unallocated) → B" in out.output
    lines = out.output.splitlines()
    chosen = next(line for line in lines if line.strip().startswith("B "))
    other = next(line for line in lines if line.strip().startswith("C "))
    assert "chosen" in chosen and "chosen" not in other
    assert "ineligible by GRADE (grade below what the case needs): A" in out.output
    assert "leaving the child unallocated would cost 14,000" in out.output  # medium priority


def test_explain_worker_view(case: Case) -> None:
    case.run([worker("A", available="false"), worker("B")],
             [child("K1", current="A"), child("K2", current="A")])
    out = runner.invoke(app, ["explain", "--plan", str(case.root / "out"), "--worker", "A"])
    assert out.exit_code == 0, out.output
    assert "absent for the planning horizon" in out.output
    assert "K1 to B: ABSENT" in out.output and "K2 to B: ABSENT" in out.output


def test_explain_refuses_changed_inputs(case: Case) -> None:
    case.run([worker("A")], [child("K")])
    (case.root / "children.csv").write_text("child_id,case_type,locality\nK,cp,North\n")
    out = runner.invoke(app, ["explain", "--plan", str(case.root / "out"), "K"])
    assert out.exit_code == 2 and "has changed" in out.output


def test_shortfall_in_fte_by_locality_and_grade(case: Case) -> None:
    # A (sw, 85 points) holds 100 pinned points: 15 points over = 15/85 = 0.18 FTE of sw in
    # North. South has an unallocated cp child (7 points, needs sw) and no worker: 7/85 = 0.08.
    r = case.run([worker("A")], [*filler("A", 50, n=2), child("S", "cp", locality="South")])
    after = r.summary["shortfall"]["after"]
    assert after["by_locality_and_grade"] == [
        {"locality": "North", "grade": "sw", "fte": 0.18, "overload_points": 15.0,
         "unallocated_points": 0.0},
        {"locality": "South", "grade": "sw", "fte": 0.08, "overload_points": 0.0,
         "unallocated_points": 7.0},
    ]
    assert after["total_fte"] == pytest.approx(0.26)
    before = r.summary["shortfall"]["before"]
    north = next(x for x in before["over_demand"] if x["locality"] == "North")
    assert north["ratio"] == pytest.approx(100 / 85, abs=1e-3)
    assert any(x["locality"] == "South" and x["ratio"] is None for x in before["over_demand"])
