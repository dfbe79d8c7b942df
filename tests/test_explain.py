"""Explanations, `explain`, and the shortfall diagnosis on hand-made cases."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rebalancer.cli import app
from rebalancer.model.summary import NeedRow
from tests.conftest import Case, child, filler, row, to, worker

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
    after = r.summary.shortfall.after
    assert after.by_locality_and_grade == [
        NeedRow("North", "sw", fte=0.18, overload_points=15.0, unallocated_points=0.0,
                skills=[]),
        NeedRow("South", "sw", fte=0.08, overload_points=0.0, unallocated_points=7.0,
                skills=[]),
    ]
    assert after.total_fte == pytest.approx(0.26)
    before = r.summary.shortfall.before
    north = next(x for x in before.over_demand if x.locality == "North")
    assert north.ratio == pytest.approx(100 / 85, abs=1e-3)
    assert any(x.locality == "South" and x.ratio is None for x in before.over_demand)


def test_a_sibling_moved_by_family_says_which_sibling_and_why(case: Case) -> None:
    # S1 (cin) and S2 (cla in proceedings: needs a senior) share A, an sw. S2 must leave A, and
    # FAMILY takes S1 along to B, the only senior.
    r = case.run([worker("A"), worker("B", grade="senior")],
                 [child("S1", current="A", family_id="F"),
                  child("S2", "cla", current="A", family_id="F", in_proceedings="true")])
    assert to(r, "S1") == to(r, "S2") == "B"
    assert row(r, "S1")["reasons"] == "FAMILY"
    assert row(r, "S1")["explanation"].startswith(
        "from A (moves with siblings S2: A cannot keep S2 (sw below the senior grade needed)) "
        "to B")
    assert row(r, "S2")["reasons"] == "GRADE"


def test_discretionary_reasons_state_the_moves_own_effect(case: Case) -> None:
    # Generated county: every OVERLOAD move leaves a worker who would be over capacity had the
    # child stayed; every BALANCE move one who would not; every FAMILY move joins a sibling.
    from tests.conftest import generated

    inp = generated(case.root, children=300, workers=24, seed=11, scenario="steady")

    from rebalancer.config import load_config
    from rebalancer.io.inputs import load_inputs
    from rebalancer.pipeline import plan

    cfg = load_config(None, {"solver.time_limit": 8, "plan_date": "2026-12-01"})
    r = plan(load_inputs(inp / "workers.csv", inp / "children.csv", None, None, cfg), cfg)
    p, w = r.plan, r.workers.set_index("worker_id")
    disc = p[(p["action"] == "move") & ~r.model.forced]
    assert len(disc) > 0
    for _, m in disc.iterrows():
        src = w.loc[m["from_worker_id"]]
        would_be = src["load_after"] + m["points"]
        if m["reasons"] == "OVERLOAD":
            assert would_be > src["capacity_points"], m["child_id"]
        elif m["reasons"] == "BALANCE":
            assert would_be <= src["capacity_points"] + 1e-9, m["child_id"]
            assert "had it stayed" in m["explanation"]
        else:
            assert m["reasons"] == "FAMILY"
            sibs = p[(p["family_id"] == m["family_id"]) & (p["child_id"] != m["child_id"])]
            assert (sibs["to_worker_id"] == m["to_worker_id"]).any()
    assert (p["action"] == "move").sum() > 0  # the loop above examined real moves


def test_explain_prices_staying_put_and_flags_full_new_case_caps(case: Case) -> None:
    # K (cla in proceedings, 24+ months) moves off A (146/85) to B; C is eligible but its
    # new-case cap is 0. D is in another locality and newly qualified: listed once, under
    # GEOGRAPHY, the first rule that bars it.
    kids = [child("K", "cla", current="A", allocated_on="2024-01-01", in_proceedings="true",
                  points=6), *filler("A", 70, n=2), *filler("C", 80)]
    r = case.run([worker("A", grade="senior"), worker("B", grade="senior"),
                  worker("C", grade="senior", max_new_cases=0),
                  worker("D", grade="asye", locality="South")], kids)
    assert to(r, "K") == "B"
    out = runner.invoke(app, ["explain", "--plan", str(case.root / "out"), "K"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    stay = next(line for line in lines if "stay with the current worker" in line)
    assert stay.split()[0] == "A" and float(stay.split()[1]) > 0  # dearer than the plan
    full = next(line for line in lines if line.strip().startswith("C "))
    assert "new-case cap is full" in full
    assert "ineligible by GEOGRAPHY (outside the child's area): D" in out.output
    assert "ineligible by GRADE" not in out.output


def test_an_allocation_to_an_overloaded_worker_names_the_full_caps(case: Case) -> None:
    # A is full (85/85); B and C are idle but may take no new child (max_new_cases 0). K, new,
    # costs 14,000 left out and 2,000 + peak on A: it goes to A, and the row says why A.
    r = case.run([worker("A"), worker("B", max_new_cases=0), worker("C", max_new_cases=0)],
                 [child("K"), *filler("A", 85)])
    assert to(r, "K") == "A"
    assert row(r, "K")["explanation"] == (
        "allocated to A: same locality; every other eligible worker (2) has taken all the new "
        "children its cap allows; whole plan: A 100% → 106%")


def test_a_newly_qualified_worker_chosen_says_why(case: Case) -> None:
    # A (asye, 76.5) is idle, B (sw) holds 60 pinned points: K (cin, 5) goes to A, the least
    # utilised after the plan (7% against B's 71%).
    r = case.run([worker("A", grade="asye"), worker("B")], [child("K"), *filler("B", 60)])
    assert to(r, "K") == "A"
    assert row(r, "K")["explanation"] == (
        "allocated to A: same locality; A is the least utilised eligible worker with room after "
        "the plan; the next is at 71%; whole plan: A 0% → 7%")


def test_the_only_eligible_worker_is_named_without_a_current_one_that_is_barred(
        case: Case) -> None:
    # K needs bsl; its worker A lacks it, B has it and is full (85/85): K goes to B, the only
    # eligible worker (A is not one), and B ends over capacity, so the row says why B.
    r = case.run([worker("A"), worker("B", skills="bsl")],
                 [child("K", current="A", required_skills="bsl", allocated_on="2026-06-01"),
                  *filler("B", 85)])
    assert to(r, "K") == "B"
    text = row(r, "K")["explanation"]
    assert "B is the only eligible worker;" in text and "besides" not in text


def test_a_child_given_to_a_busier_worker_says_what_the_other_would_cost(case: Case) -> None:
    # A holds 82 pinned points (96.5%); K (cin, 5 points, new) lives beside A. B is idle, 6
    # degrees of latitude (about 667 km) away. K to A: 2 points over x 400 = 800, and the peak
    # rises from 96.5% to 102.4% (about 5.9 points x 50 = 295): about 1,095. K to B: about
    # 667 km x 2 = 1,334 of travel. So K goes to A, who ends over capacity, and the row says
    # what the less utilised B would have cost instead, and that travel is most of it.
    here = {"base_lat": 52.0, "base_lon": -1.0}
    r = case.run([worker("A", **here), worker("B", base_lat=58.0, base_lon=-1.0)],
                 [*filler("A", 41, n=2), child("K", lat=52.0, lon=-1.0)])
    assert to(r, "K") == "A"
    why = row(r, "K")["explanation"]
    assert "A costs least overall: B, less utilised, would add " in why
    assert "most of it in travel (+1,3" in why
    assert "rebalancer explain" not in why  # the page says it; no command to run


def test_an_empty_list_names_every_rule_that_emptied_it(case: Case) -> None:
    # X (cp, in proceedings: needs a senior) needs `disability`. In North the only worker with
    # that skill, A, is an sw; B is a senior without it. GRADE leaves B, SKILLS removes B: the
    # code is SKILLS, and the words name A and the grade that bars A as well.
    r = case.run([worker("A", grade="sw", skills="disability"), worker("B", grade="senior")],
                 [child("X", "cp", required_skills="disability", in_proceedings="true")])
    assert row(r, "X")["action"] == "unallocated"
    why = row(r, "X")["explanation"]
    assert "no available worker in the area has disability" in why
    assert "the one worker there who has disability: A: sw below the senior grade needed" in why
