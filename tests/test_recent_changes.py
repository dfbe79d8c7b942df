"""Continuity that remembers: `worker_changes_12m`, its move factor and `children_2plus_changes`.

Worked by hand with the defaults: a move costs (300 + 10 a month with the worker) times
(1 + 0.5 x min(worker_changes_12m, 3)); 2026-06-01 to the plan date 2026-12-01 is 183 days,
6.0123 months, so a discretionary move of a cin child costs 360.12 x the factor.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rebalancer.cli import app
from rebalancer.problems import InputRejected
from tests.conftest import Case, child, filler, row, to, worker
from tests.test_inputs import WORKERS, load

runner = CliRunner()
MONTHS = 183 / 30.4375
BASE = 300 + 10 * MONTHS  # 360.12


@pytest.mark.parametrize("settled,unsettled", [("P", "Q"), ("Q", "P")])
def test_a_child_with_two_recent_changes_stays_where_a_settled_child_moves(
        case: Case, settled: str, unsettled: str) -> None:
    # A holds 80 pinned points + P + Q (cin, 5 points each) = 90/85: 5 over (105.9%, below the
    # 110% band). Moving one child to idle B saves 5 x 400 = 2000 overload and 5.88 pp of peak
    # (x 50 = 294): 2294. The settled child's move costs 360.12, the unsettled one's (two
    # changes) 360.12 x 2 = 720.25: the settled child moves. A second move would save only the
    # peak (294) for at least 360: one move, whichever ID the history sits on.
    kids = [child(settled, current="A", allocated_on="2026-06-01", worker_changes_12m=0),
            child(unsettled, current="A", allocated_on="2026-06-01", worker_changes_12m=2),
            *filler("A", 80)]
    r = case.run([worker("A"), worker("B")], kids)
    assert to(r, settled) == "B"
    assert to(r, unsettled) == "A"
    assert r.summary.objective_terms["moves"] == pytest.approx(BASE, rel=1e-4)
    assert r.summary.kpis.before.children_2plus_changes == 1
    assert r.summary.kpis.after.children_2plus_changes == 1  # 0 + 1 move < 2


def test_the_factor_is_a_weight_and_zero_turns_it_off(case: Case) -> None:
    # With move_factor_recent_change = 0 both children cost 360.12 to move, so history no longer
    # decides; with 1.5 the unsettled child costs 360.12 x 4 (cap 3 counts 2 changes).
    kids = [child("P", current="A", allocated_on="2026-06-01", worker_changes_12m=0),
            child("Q", current="A", allocated_on="2026-06-01", worker_changes_12m=5),
            *filler("A", 80)]
    r = case.run([worker("A"), worker("B")], kids,
                 config="[weights]\nmove_factor_recent_change = 1.5\nrecent_changes_cap = 2\n")
    assert to(r, "P") == "B" and to(r, "Q") == "A"
    assert r.summary.config.weights.move_factor_recent_change == 1.5
    assert r.summary.config.weights.recent_changes_cap == 2
    out = runner.invoke(app, ["explain", "--plan", str(case.root / "out"), "Q"])
    assert "5 changes of social worker in 12 months, 2 counted ×4" in out.output


def test_forced_moves_carry_the_factor_and_count_towards_the_kpi(case: Case) -> None:
    # C leaves: L (1 recent change) and M (none) must move to B; U (1 change, unallocated) is
    # allocated, which is not a change. Forced moves cost months x 10 x factor:
    # L 60.12 x 1.5 = 90.18, M 60.12 x 1 = 60.12; total 150.31.
    # children_2plus_changes: before 0 (nobody has 2); after L (1 + its move) = 1.
    kids = [child("L", current="C", allocated_on="2026-06-01", worker_changes_12m=1),
            child("M", current="C", allocated_on="2026-06-01"),
            child("U", worker_changes_12m=1)]
    r = case.run([worker("B"), worker("C", leaving_on="2026-12-05")], kids)
    assert (to(r, "L"), to(r, "M"), to(r, "U")) == ("B", "B", "B")
    assert r.summary.objective_terms["moves"] == pytest.approx(10 * MONTHS * 2.5, rel=1e-4)
    assert r.summary.kpis.before.children_2plus_changes == 0
    assert r.summary.kpis.after.children_2plus_changes == 1
    assert row(r, "L")["explanation"].endswith("; 2nd change of social worker in 12 months")
    assert "change of social worker" not in row(r, "M")["explanation"]
    assert "change of social worker" not in row(r, "U")["explanation"]
    out = runner.invoke(app, ["explain", "--plan", str(case.root / "out"), "L"])
    assert out.exit_code == 0, out.output
    assert ("moving this child costs ×1.5 the base move cost: "
            "1 change of social worker in 12 months ×1.5") in out.output


def test_a_child_left_unallocated_by_a_leaver_counts_as_a_change(case: Case) -> None:
    # C leaves and nobody else covers North: K (2 changes before) ends unallocated, a move by
    # the contract, so it has 3 changes after; its explanation says it is the 3rd.
    r = case.run([worker("C", leaving_on="2026-12-05"), worker("S", locality="South")],
                 [child("K", current="C", allocated_on="2026-06-01", worker_changes_12m=2)])
    assert to(r, "K") == ""
    assert r.summary.kpis.before.children_2plus_changes == 1
    assert r.summary.kpis.after.children_2plus_changes == 1
    assert row(r, "K")["explanation"].endswith("; 3rd change of social worker in 12 months")


def test_bad_counts_are_refused_with_row_column_and_fix(tmp_path: Path) -> None:
    children = ("child_id,case_type,locality,current_worker_id,worker_changes_12m\n"
                "C1,cin,North,W1,-1\nC2,cin,North,W1,1.5\nC3,cin,North,W1,two\n"
                "C4,cin,North,W1,\nC5,cin,North,W1,3\n")
    with pytest.raises(InputRejected) as exc:
        load(tmp_path, workers=WORKERS, children=children)
    found = {(p.row, p.column): (p.message, p.fix) for p in exc.value.problems}
    col = "worker_changes_12m"
    assert set(found) == {(f"row {i + 2} (child_id C{i + 1})", col) for i in range(3)}, found
    assert found[("row 2 (child_id C1)", col)] == (
        "'-1' is out of range (>= 0 and <= 366)", "write a whole number >= 0 and <= 366")
    assert found[("row 3 (child_id C2)", col)] == (
        "'1.5' is not a whole number", "write a whole number >= 0 and <= 366")
    assert found[("row 4 (child_id C3)", col)][0] == "'two' is not a finite number"
    assert found[("row 4 (child_id C3)", col)][1].startswith("write a whole number >= 0")


def test_the_column_is_optional_and_defaults_to_zero(tmp_path: Path) -> None:
    children = ("child_id,case_type,locality,current_worker_id,worker_changes_12m\n"
                "C1,cin,North,W1,\nC2,cin,North,W1,3\n")
    inputs = load(tmp_path, workers=WORKERS, children=children)
    assert inputs.children["worker_changes_12m"].tolist() == [0, 3]
    (tmp_path / "without").mkdir()
    assert load(tmp_path / "without").children["worker_changes_12m"].tolist() == [0, 0]


@pytest.mark.parametrize("key,value", [("move_factor_recent_change", "-0.5"),
                                       ("recent_changes_cap", "1.5"),
                                       ("recent_changes_cap", "-1")])
def test_the_new_weights_are_bounded(tmp_path: Path, key: str, value: str) -> None:
    from rebalancer.config import load_config

    p = tmp_path / "c.toml"
    p.write_text(f"[weights]\n{key} = {value}\n")
    with pytest.raises(InputRejected) as exc:
        load_config(p)
    assert [q.column for q in exc.value.problems] == [f"weights.{key}"]
