"""Each objective term on a hand-made instance where it decides the answer (worked by hand).

Defaults: unallocated high/medium/low 10000/7000/5000; overload 400 a point; a move 300 plus 10 a
month with the worker (cap 24), x2 in proceedings, x2 looked after; peak 50 a percentage point;
travel 2 a km; split family 500. The plan for the plan date alone (`lookahead_days = 0`): the
objective over the weeks is held to its own answers in tests/test_lookahead.py.
"""

from __future__ import annotations

import pytest

from tests.conftest import SINGLE_DATE, Case, child, filler, row, to, worker


@pytest.fixture(autouse=True)
def _single_date(case: Case) -> None:
    case.base_config = SINGLE_DATE


def test_move_cost_keeps_a_child_with_a_slightly_overloaded_worker(case: Case) -> None:
    # A holds 81 pinned + K (cla in proceedings, 6 points, 24+ months) = 87/85: 2 points over.
    # Moving K to idle B saves 2 x 400 = 800 overload, and the peak falls from 102.35% to
    # 95.29%: 7.06 x 50 = 353. Gain 1153 < move cost (300 + 10 x 24) x 2 x 2 = 2160: K stays.
    kids = [child("K", "cla", current="A", allocated_on="2024-01-01", in_proceedings="true",
                  points=6), *filler("A", 81)]
    r = case.run([worker("A", grade="senior"), worker("B", grade="senior")], kids)
    assert to(r, "K") == "A"
    assert r.summary.objective_terms["overload"] == pytest.approx(800)


def test_overload_cost_moves_a_child_off_a_badly_overloaded_worker(case: Case) -> None:
    # Same child, but A is at 146/85: moving K saves 6 x 400 = 2400 overload + peak 7.06 pp x 50
    # = 353, more than the 2160 move cost. K moves, for OVERLOAD.
    kids = [child("K", "cla", current="A", allocated_on="2024-01-01", in_proceedings="true",
                  points=6), *filler("A", 70, n=2)]
    r = case.run([worker("A", grade="senior"), worker("B", grade="senior")], kids)
    assert to(r, "K") == "B"
    assert row(r, "K")["reasons"] == "OVERLOAD"
    assert r.summary.objective_terms["moves"] == pytest.approx(2160, rel=1e-3)


def test_unallocated_cost_outweighs_overload(case: Case) -> None:
    # The only worker is full (85/85); a 5-point child costs 2000 in overload, and 7000 if
    # left unallocated: it is allocated.
    r = case.run([worker("A")], [child("K"), *filler("A", 85)])
    assert to(r, "K") == "A"
    assert r.summary.kpis.after.total_overload_points == pytest.approx(5)


def test_unallocated_cost_is_by_priority(case: Case) -> None:
    # Room for one new child: the high-priority one gets it.
    r = case.run([worker("A", max_new_cases=1)],
                 [child("LOW", priority="low"), child("HIGH", priority="high")])
    assert to(r, "HIGH") == "A" and to(r, "LOW") == ""
    assert r.summary.objective_terms["unallocated"] == 10000


def test_peak_sends_a_new_child_to_the_less_utilised_worker(case: Case) -> None:
    # A at 40/85, B at 60/85: the child on B would raise the peak from 70.6% to 76.5%.
    r = case.run([worker("A"), worker("B")],
                 [child("K"), *filler("A", 40), *filler("B", 60)])
    assert to(r, "K") == "A"


def test_travel_sends_a_child_to_the_nearer_worker(case: Case) -> None:
    # Equal loads; B's base is next to the child, A's 20 km away: 40 points of travel cost.
    r = case.run([worker("A", base_lat=52.40, base_lon=-0.73),
                  worker("B", base_lat=52.24, base_lon=-0.89)],
                 [child("K", lat=52.24, lon=-0.89)])
    assert to(r, "K") == "B"
    assert row(r, "K")["travel_after"] == pytest.approx(0.0, abs=0.01)


def test_split_family_cost_keeps_unallocated_siblings_together(case: Case) -> None:
    # Two idle workers: one sibling each lowers the peak by 5.9 pp (294), less than 500.
    kids = [child("S1", family_id="F"), child("S2", family_id="F")]
    r = case.run([worker("A"), worker("B")], kids)
    assert to(r, "S1") == to(r, "S2") != ""
    free = case.run([worker("A"), worker("B")], kids, config="[weights]\nsplit_family = 0")
    assert to(free, "S1") != to(free, "S2")


def test_forced_move_costs_months_only(case: Case) -> None:
    # A leaves; K (cin, with A since 2026-06-01: 183 days = 6.01 months) must move:
    # forced, so 10 x 6.01 = 60.1, without the 300.
    r = case.run([worker("A", leaving_on="2026-12-05"), worker("B")],
                 [child("K", current="A", allocated_on="2026-06-01")])
    assert r.summary.objective_terms["moves"] == pytest.approx(10 * 183 / 30.4375, rel=1e-3)
    assert r.summary.kpis.after.moves_forced == 1


def test_objective_equals_the_sum_of_its_terms_and_bound_is_below(case: Case) -> None:
    kids = [child(f"K{i}", current="A", allocated_on="2026-03-01") for i in range(20)]
    kids += [child(f"U{i}") for i in range(5)]
    r = case.run([worker("A"), worker("B"), worker("C", grade="asye")], kids)
    s = r.summary
    assert s.objective == pytest.approx(sum(s.objective_terms.values()), rel=1e-9)
    assert s.status == "optimal"
    assert s.best_bound is not None and s.best_bound <= s.objective * (1 + 1e-3)


def test_overload_bands_cost_each_point_by_the_band_it_falls_in(case: Case) -> None:
    # A (85 points) holds 120 pinned points: 35 above 100%; 120 - 93.5 = 26.5 above 110%;
    # 120 - 106.25 = 13.75 above 125%. 400 x 35 + 200 x 26.5 + 200 x 13.75 = 22,050.
    r = case.run([worker("A")], filler("A", 60, n=2))
    assert r.summary.objective_terms["overload"] == pytest.approx(22050)
    flat = case.run([worker("A")], filler("A", 60, n=2), config="[weights]\noverload_bands = []")
    assert flat.summary.objective_terms["overload"] == pytest.approx(400 * 35)
    assert flat.summary.config.weights.overload_bands == ()
    assert r.summary.config.weights.overload_bands == ((1.1, 1.5), (1.25, 2.0))


def test_overload_bands_spread_unavoidable_overload(case: Case) -> None:
    # A holds 100/85 (118%), B 85/85 (100%); K (5 points) must be allocated (14,000 > any
    # overload). On A its 5 points fall above 110%: 600 each, 3,000. On B: 400 each, 2,000. The
    # peak is A's 117.6% either way. With bands K goes to B; with a flat rate it is a tie.
    kids = [child("K"), *filler("A", 50, n=2), *filler("B", 85)]
    r = case.run([worker("A"), worker("B")], kids)
    assert to(r, "K") == "B"
    # A: 400 x 15 + 200 x 6.5 = 7,300; B: 400 x 5 = 2,000
    assert r.summary.objective_terms["overload"] == pytest.approx(9300)


def test_a_child_left_unallocated_by_its_leaving_worker_is_a_forced_move(case: Case) -> None:
    # A leaves and no other worker covers North: K (with A 183 days: 6.01 months) ends
    # unallocated. That is a move (forced): 10 x 6.01 = 60.1, beside its 14,000.
    r = case.run([worker("A", leaving_on="2026-12-05"), worker("B", locality="South")],
                 [child("K", current="A", allocated_on="2026-06-01")])
    assert to(r, "K") == "" and row(r, "K")["action"] == "unallocated"
    after = r.summary.kpis.after
    assert (after.moves, after.moves_forced, after.moves_discretionary) == (1, 1, 0)
    assert r.summary.objective_terms["moves"] == pytest.approx(10 * 183 / 30.4375, rel=1e-3)
    assert r.summary.objective_terms["unallocated"] == 14000
    assert r.workers.set_index("worker_id").at["A", "moved_out"] == 1
