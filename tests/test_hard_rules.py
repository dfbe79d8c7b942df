"""Each hard rule on a hand-made instance where it binds: without the rule the answer differs.

Default capacity: an sw at 1.0 FTE holds 85 points; a cin child weighs 5, cp 7, cla 6,
proceedings +3. "Filler" children, pinned, give a worker a load without being movable.
"""

from __future__ import annotations

from rebalancer.model.summary import MaxNewYielded
from tests.conftest import Case, child, filler, row, to, worker


def test_grade_sends_cp_child_past_an_idle_newly_qualified_worker(case: Case) -> None:
    # Without GRADE the cp child goes to idle A (lowest peak); cp needs at least sw: B.
    r = case.run([worker("A", grade="asye"), worker("B", grade="sw")],
                 [child("K", "cp"), *filler("B", 60)])
    assert to(r, "K") == "B"


def test_proceedings_need_a_senior(case: Case) -> None:
    # In proceedings: senior or above, even if the sw is idle and the senior is busy.
    r = case.run([worker("A", grade="sw"), worker("B", grade="senior")],
                 [child("K", "cla", in_proceedings="true"), *filler("B", 60)])
    assert to(r, "K") == "B"


def test_min_grade_column_overrides_the_case_rule(case: Case) -> None:
    r = case.run([worker("A", grade="sw"), worker("B", grade="advanced")],
                 [child("K", "cin", min_grade="advanced"), *filler("B", 40)])
    assert to(r, "K") == "B"


def test_skills_all_required(case: Case) -> None:
    # A is idle but lacks bsl; B has both tags the child needs.
    r = case.run([worker("A", skills="disability"), worker("B", skills="bsl;disability")],
                 [child("K", required_skills="bsl;disability"), *filler("B", 60)])
    assert to(r, "K") == "B"


def test_excluded_worker_never_given(case: Case) -> None:
    r = case.run([worker("A"), worker("B")],
                 [child("K", excluded_worker_ids="A"), *filler("B", 60)])
    assert to(r, "K") == "B"


def test_geography_locality(case: Case) -> None:
    # The idle worker is in another locality.
    r = case.run([worker("A", locality="North"), worker("B", locality="South")],
                 [child("K", locality="South"), *filler("B", 60, locality="South")])
    assert to(r, "K") == "B"


def test_geography_km_limit(case: Case) -> None:
    # Northampton to Kettering is about 24 km: outside a 10 km limit, inside 30 km.
    workers = [worker("A", base_lat=52.398, base_lon=-0.726),   # Kettering, idle
               worker("B", base_lat=52.237, base_lon=-0.894)]   # Northampton, busy
    kids = [child("K", lat=52.24, lon=-0.89),
            *[dict(c, lat=52.24, lon=-0.89) for c in filler("B", 60)]]
    near = case.run(workers, kids, config='[rules]\ngeography = "km"\nmax_travel = 10')
    assert to(near, "K") == "B"
    assert row(near, "K")["travel_after"] < 1.0  # B's base is beside the child; A is 24 km
    far = case.run(workers, kids, config='[rules]\ngeography = "km"\nmax_travel = 30\n'
                   '[weights]\ntravel_km = 0')
    assert to(far, "K") == "A"


def test_geography_off_allows_any_locality(case: Case) -> None:
    r = case.run([worker("A", locality="North"), worker("B", locality="South")],
                 [child("K", locality="South"), *filler("B", 60, locality="South")],
                 config='[rules]\ngeography = "off"')
    assert to(r, "K") == "A"


def test_geography_minutes_uses_the_travel_table(case: Case) -> None:
    travel = [{"worker_id": "A", "child_id": "K", "minutes": 50},
              {"worker_id": "B", "child_id": "K", "minutes": 20}]
    travel += [{"worker_id": "B", "child_id": "fill-B-0", "minutes": 5}]
    r = case.run([worker("A"), worker("B")], [child("K"), *filler("B", 60)], travel=travel,
                 config='[rules]\ngeography = "minutes"\nmax_travel = 30')
    assert to(r, "K") == "B"
    assert row(r, "K")["travel_after"] == 20


def test_leaving_worker_holds_no_children_after_the_plan(case: Case) -> None:
    # A leaves on 2026-12-10, within the 14-day horizon from 2026-12-01: K must move to B.
    r = case.run([worker("A", leaving_on="2026-12-10"), worker("B")],
                 [child("K", current="A", allocated_on="2026-06-01")])
    assert to(r, "K") == "B"
    assert row(r, "K")["action"] == "move"
    assert row(r, "K")["reasons"] == "LEAVING"
    assert r.summary.kpis.after.moves_forced == 1


def test_leaving_after_the_horizon_is_not_leaving(case: Case) -> None:
    r = case.run([worker("A", leaving_on="2027-02-01"), worker("B")],
                 [child("K", current="A", allocated_on="2026-06-01")])
    assert to(r, "K") == "A"


def test_an_absence_that_begins_within_the_horizon_is_absent_now(case: Case) -> None:
    # plan 2026-12-01, horizon 14 days: A is away from 2026-12-10 (within it), so week 0 already
    # counts A as absent (a handover needs notice); C is away from 2026-12-20 (beyond it), and
    # B, not yet in post (starts 2026-12-08), cannot take anyone in week 0.
    r = case.run([worker("A", away_from="2026-12-10", away_until="2027-03-31"),
                  worker("B", starts_on="2026-12-08"), worker("C", away_from="2026-12-20"),
                  worker("D")],
                 [child("K", current="A", allocated_on="2026-06-01"),
                  child("M", current="C", allocated_on="2026-06-01"), child("N")],
                 config="lookahead_days = 0")
    assert to(r, "K") == "D" and row(r, "K")["reasons"] == "ABSENT"
    assert "away from 2026-12-10 to 2027-03-31" in row(r, "K")["explanation"]
    assert to(r, "M") == "C"
    assert to(r, "N") in ("C", "D")  # never B, not yet in post
    assert r.summary.kpis.after.moves_forced == 1


def test_absent_worker_holds_no_children(case: Case) -> None:
    r = case.run([worker("A", available="false"), worker("B")],
                 [child("K", current="A")])
    assert to(r, "K") == "B"
    assert row(r, "K")["reasons"] == "ABSENT"


def test_family_stays_together_when_splitting_would_be_cheaper(case: Case) -> None:
    # A leaves. B and C are busy at 78/85: both siblings (10 points) on one worker overloads it
    # by 3, one each overloads nobody. With the split cost at 0 only the FAMILY rule keeps them.
    kids = [child("S1", family_id="F", current="A"), child("S2", family_id="F", current="A"),
            *filler("B", 78), *filler("C", 78)]
    r = case.run([worker("A", leaving_on="2026-12-02"), worker("B"), worker("C")], kids,
                 config="[weights]\nsplit_family = 0")
    assert to(r, "S1") == to(r, "S2") != "A"


def test_family_without_rule_splits(case: Case) -> None:
    kids = [child("S1", family_id="F", current="A"), child("S2", family_id="F", current="A"),
            *filler("B", 78), *filler("C", 78)]
    r = case.run([worker("A", leaving_on="2026-12-02"), worker("B"), worker("C")], kids,
                 config="[weights]\nsplit_family = 0\n[rules]\nkeep_families = false")
    assert to(r, "S1") != to(r, "S2")


def test_family_with_no_common_worker_is_split_and_reported(case: Case) -> None:
    # S2 needs bsl (only C has it); S1 is cp (C is asye): no worker suits both.
    kids = [child("S1", "cp", family_id="F", current="A"),
            child("S2", family_id="F", current="A", required_skills="bsl")]
    r = case.run([worker("A", leaving_on="2026-12-02"), worker("B"),
                  worker("C", grade="asye", skills="bsl")], kids)
    assert (to(r, "S1"), to(r, "S2")) == ("B", "C")
    assert "FAMILY" in row(r, "S1")["reasons"] and "FAMILY" in row(r, "S2")["reasons"]


def test_pinned_child_stays_with_an_overloaded_worker(case: Case) -> None:
    # A is at 120/85; moving K to idle B would save 400/point. The pin holds.
    kids = [child("K", current="A", pinned="true"), *filler("A", 57.5, n=2)]
    r = case.run([worker("A"), worker("B")], kids)
    assert to(r, "K") == "A"
    unpinned = case.run([worker("A"), worker("B")],
                        [child("K", current="A"), *filler("A", 57.5, n=2)])
    assert to(unpinned, "K") == "B"


def test_keep_assign_and_forbid_decisions(case: Case) -> None:
    kids = [child("K1", current="A"), child("K2", current="A"), child("K3"),
            *filler("A", 55, n=2)]
    decisions = [{"child_id": "K1", "decision": "keep", "worker_id": "A"},
                 {"child_id": "K2", "decision": "assign", "worker_id": "C"},
                 {"child_id": "K3", "decision": "forbid", "worker_id": "B"}]
    r = case.run([worker("A"), worker("B"), worker("C"), *[]], kids, decisions=decisions)
    assert to(r, "K1") == "A"  # kept despite A's overload
    assert to(r, "K2") == "C"  # assigned
    assert to(r, "K3") == "C"  # B forbidden; C is the only other choice
    assert "DECISION" in row(r, "K2")["reasons"]


def test_pin_on_a_leaving_worker_yields_and_is_reported(case: Case) -> None:
    r = case.run([worker("A", leaving_on="2026-12-05"), worker("B")],
                 [child("K", current="A", pinned="true")])
    assert to(r, "K") == "B"
    assert [(c.child_id, c.rule) for c in r.summary.conflicts] == [("K", "AVAILABLE")]


def test_max_new_cases_caps_allocations_lowest_priority_left(case: Case) -> None:
    # 8 unallocated children, 2 idle workers taking at most 3 new each: 6 allocated, and the
    # two left out are the two low-priority ones.
    prio = ["high", "high", "medium", "medium", "medium", "medium", "low", "low"]
    kids = [child(f"K{i}", priority=p) for i, p in enumerate(prio)]
    r = case.run([worker("A"), worker("B", max_new_cases=3)], kids,
                 config="[rules]\nmax_new_cases = 3")
    left = set(r.plan.loc[r.plan["action"] == "unallocated", "child_id"])
    assert left == {"K6", "K7"}
    assert (r.workers["new_children"] <= 3).all()


def test_max_new_yields_to_one_worker_and_is_declared(case: Case) -> None:
    # A leaves with 4 children; B is the only other worker and takes at most 2 new. A child who
    # had a worker must not be dropped, so B takes all 4 and the excess of 2 is declared.
    kids = [child(f"K{i}", current="A") for i in range(4)]
    r = case.run([worker("A", leaving_on="2026-12-02"), worker("B", max_new_cases=2)], kids)
    assert set(r.plan["to_worker_id"]) == {"B"}
    assert r.summary.max_new_yielded == MaxNewYielded(excess_total=2, workers={"B": 2})


def test_max_moves_budget(case: Case) -> None:
    # A holds 4 children and 80 filler points (100/85): each move to idle B saves overload.
    kids = [child(f"K{i}", current="A", allocated_on="2026-10-01") for i in range(4)]
    kids += filler("A", 80)
    free = case.run([worker("A"), worker("B")], kids)
    assert free.summary.kpis.after.moves_discretionary >= 3
    capped = case.run([worker("A"), worker("B")], kids, config="[rules]\nmax_moves = 1")
    assert capped.summary.kpis.after.moves_discretionary == 1


def test_child_with_no_eligible_worker_keeps_a_staying_worker(case: Case) -> None:
    # Nobody has makaton: K keeps A (who stays), reported; L's worker leaves: L is unallocated.
    kids = [child("K", current="A", required_skills="makaton"),
            child("L", current="B", required_skills="makaton")]
    r = case.run([worker("A"), worker("B", leaving_on="2026-12-02")], kids)
    assert to(r, "K") == "A" and row(r, "K")["reasons"] == "SKILLS"
    assert row(r, "L")["action"] == "unallocated"
    assert row(r, "L")["reasons"] == "UNALLOCATED;LEAVING;SKILLS"
    assert r.summary.no_eligible_worker == {"SKILLS": 2}


def test_unallocated_child_reports_the_rule_that_emptied_its_list(case: Case) -> None:
    r = case.run([worker("A", locality="North")], [child("K", locality="South")])
    assert row(r, "K")["reasons"] == "UNALLOCATED;GEOGRAPHY"
