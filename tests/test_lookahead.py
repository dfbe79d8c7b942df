"""The rebalance over the weeks of the look-ahead, on hand-made counties with answers worked by
hand: a leaver in week 3, a starter in week 2, an absence, MAX_NEW per week, a family, a `keep`
on a worker who leaves in week 5; and `--previous` with a published schedule. Every plan here is
checked independently, every week (`Case.run`).

Dates: plan 2026-12-01, horizon 14 days, so week k (starting 2026-12-01 + 7k) may hold children
when the worker leaves after its start + 14 days.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rebalancer.io.outputs import read_table_file
from tests.conftest import Case, child, filler, row, worker

FOUR_WEEKS = "lookahead_days = 28"  # W = 4: weeks start 12-01, 12-08, 12-15, 12-22


def _schedule(case: Case) -> pd.DataFrame:
    return _typed(read_table_file(case.root / "out" / "schedule.csv"))


def _typed(sched: pd.DataFrame) -> pd.DataFrame:
    return sched.astype({"week": int})


def _summary(case: Case) -> dict:  # type: ignore[type-arg]
    return json.loads((case.root / "out" / "summary.json").read_text())


def test_no_child_is_moved_onto_a_worker_who_leaves_in_week_3(case: Case) -> None:
    # A holds 84 pinned points and K (5 points, with A since 2026-11-01): 89/85. B is idle and
    # leaves on 2027-01-02 (holds weeks 0-2: 2027-01-02 > 12-15 + 14, not > 12-22 + 14). C holds
    # 80. For the plan date alone, K goes to B (peak 84/85 rather than 85/85). Over four weeks
    # K would then change again in week 3; the plan moves K to C once instead.
    # By hand, every week alike: peak 50 × 100 × 85/85 = 5,000; K's move (300 + 10 × 30/30.4375)
    # = 309.86. Objective 5,309.86.
    workers = [worker("A"), worker("B", leaving_on="2027-01-02"), worker("C")]
    children = [*filler("A", 84), *filler("C", 80),
                child("K", current="A", allocated_on="2026-11-01")]
    single = case.run(workers, children, config="lookahead_days = 0")
    assert row(single, "K")["to_worker_id"] == "B"
    r = case.run(workers, children, config=FOUR_WEEKS)
    assert row(r, "K")["to_worker_id"] == "C"
    assert len(_schedule(case)) == 0  # K changes once, now
    s = _summary(case)
    assert s["objective"] == pytest.approx(5000 + 300 + 10 * 30 / 30.4375, abs=0.01)
    assert s["kpis"]["changes_lookahead"] == {"total": 1, "forced": 0, "discretionary": 1}
    assert [w["week"] for w in s["kpis"]["weeks"]] == [0, 1, 2, 3]


def test_a_childs_worker_leaving_in_week_3_hands_it_over_then_to_a_worker_who_stays(
        case: Case) -> None:
    # K is with B (leaving 2027-01-02: weeks 0-2); C and D stay, C holds 40, D 60. K stays with
    # B until week 3 (moving now would be a discretionary move, costlier than the handover), then
    # goes to C (lower load). By hand: peak 50 × 100 × 60/85 = 3,529.41 every week; the forced
    # handover in week 3 after 21 + 30 days with B (allocated 2026-11-01): 10 × 51/30.4375 =
    # 16.76. Objective 3,546.17.
    r = case.run([worker("B", leaving_on="2027-01-02"), worker("C"), worker("D")],
                 [*filler("C", 40), *filler("D", 60),
                  child("K", current="B", allocated_on="2026-11-01")], config=FOUR_WEEKS)
    assert row(r, "K")["to_worker_id"] == "B" and row(r, "K")["action"] == "keep"
    sched = _schedule(case)
    assert sched[["child_id", "week", "effective_on", "from_worker_id", "to_worker_id",
                  "action", "forced", "reasons"]].values.tolist() == [
        ["K", 3, "2026-12-22", "B", "C", "move", "true", "LEAVING"]]
    assert "B leaves on 2027-01-02; handed over in the week of 2026-12-22 to C, who stays" in \
        sched["explanation"].iat[0]
    assert row(r, "K")["explanation"].startswith("Later: B leaves on 2027-01-02")
    s = _summary(case)
    assert s["objective"] == pytest.approx(5000 * 60 / 85 + 10 * 51 / 30.4375, abs=0.01)
    assert s["kpis"]["changes_lookahead"] == {"total": 1, "forced": 1, "discretionary": 0}


def test_a_child_only_a_starter_can_take_is_allocated_when_the_starter_is_in_post(
        case: Case) -> None:
    # N needs `bsl`; only S has it, and S starts on 2026-12-15 (week 2). N is unallocated in
    # weeks 0 and 1 and allocated to S in week 2. By hand: unallocated 14,000 × 2/4 = 7,000;
    # peak 50 × 100 × 5/85 × 2/4 = 147.06. Objective 7,147.06.
    r = case.run([worker("S", starts_on="2026-12-15", skills="bsl"), worker("A")],
                 [child("N", required_skills="bsl")], config=FOUR_WEEKS)
    assert row(r, "N")["action"] == "unallocated"
    sched = _schedule(case)
    assert sched[["child_id", "week", "to_worker_id", "action", "forced"]].values.tolist() == [
        ["N", 2, "S", "allocate", "false"]]
    assert "STARTS" in sched["reasons"].iat[0] and "starts on 2026-12-15" in \
        sched["explanation"].iat[0]
    assert _summary(case)["objective"] == pytest.approx(7000 + 5000 * 5 / 85 / 2, abs=0.01)
    weeks = [w["unallocated"] for w in _summary(case)["kpis"]["weeks"]]
    assert weeks == [1, 1, 0, 0]


def test_an_absence_hands_the_child_over_once_and_nobody_is_given_to_the_absent_worker(
        case: Case) -> None:
    # B is away from 2027-01-10 to 2027-06-30: with 14 days' notice B holds children in weeks
    # 0-1 (12-08 + 14 = 12-22 < 01-10) but not week 2 (12-15 + 14 = 12-29... the window from
    # 12-15 to 12-29 misses 01-10, so week 2 holds; week 3's 12-22 to 01-05 also misses it).
    # With W = 6 (42 days): week 4 (12-29 to 01-12) reaches 01-10: B hands K over in week 4.
    # L is new: idle B is not given L (B cannot keep L through the look-ahead); C is.
    r = case.run([worker("B", away_from="2027-01-10", away_until="2027-06-30"), worker("C")],
                 [*filler("C", 40), child("K", current="B", allocated_on="2026-11-01"),
                  child("L")], config="lookahead_days = 42")
    assert row(r, "L")["to_worker_id"] == "C"
    assert row(r, "K")["to_worker_id"] == "B"
    sched = _schedule(case)
    assert sched[["child_id", "week", "from_worker_id", "to_worker_id", "forced", "reasons"]
                 ].values.tolist() == [["K", 4, "B", "C", "true", "ABSENT"]]
    # K does not go back to B after the absence: one change, not two
    assert _summary(case)["kpis"]["changes_lookahead"]["total"] == 1


def test_max_new_cases_applies_per_week(case: Case) -> None:
    # A may take one new child a week. Three new children (high, medium, low priority): the
    # high one now, the medium one in week 1, the low one in week 2. By hand: unallocated
    # 14,000 × 1/4 + 10,000 × 2/4 = 8,500; peak 50 × 100 × (5 + 10 + 15 + 15)/85/4 = 661.76.
    r = case.run([worker("A", max_new_cases=1)],
                 [child("H", priority="high"), child("M", priority="medium"),
                  child("L", priority="low")], config=FOUR_WEEKS)
    assert row(r, "H")["action"] == "allocate"
    sched = _schedule(case)
    assert sched[["child_id", "week", "to_worker_id", "action"]].values.tolist() == [
        ["M", 1, "A", "allocate"], ["L", 2, "A", "allocate"]]
    assert _summary(case)["objective"] == pytest.approx(8500 + 5000 * 45 / 85 / 4, abs=0.01)


def test_a_family_is_handed_over_together(case: Case) -> None:
    # Siblings S1, S2 are with B, who leaves in week 3. C (holding 40) and D (holding 35) both
    # stay; the siblings go together (to one worker) in week 3, both forced.
    case.run([worker("B", leaving_on="2027-01-02"), worker("C"), worker("D")],
             [*filler("C", 40), *filler("D", 35),
              child("S1", current="B", family_id="F", allocated_on="2026-11-01"),
              child("S2", current="B", family_id="F", allocated_on="2026-11-01")],
             config=FOUR_WEEKS)
    sched = _schedule(case)
    assert sorted(sched["child_id"]) == ["S1", "S2"]
    assert set(sched["week"]) == {3} and sched["to_worker_id"].nunique() == 1
    assert set(sched["forced"]) == {"true"}
    assert _summary(case)["kpis"]["weeks"][3]["unallocated"] == 0


def test_a_keep_on_a_worker_who_leaves_in_week_5_holds_until_then(case: Case) -> None:
    # B holds 90 points with K kept by a manager's decision; B leaves on 2027-01-15 (holds weeks
    # 0-4: 01-15 > 12-29 + 14 = 01-12, not > 01-05 + 14 = 01-19). K stays with B, though B is
    # over capacity, until week 5, then is handed over to C.
    r = case.run([worker("B", leaving_on="2027-01-15"), worker("C")],
                 [*filler("B", 86), child("K", current="B", allocated_on="2026-11-01")],
                 decisions=[{"child_id": "K", "decision": "keep", "worker_id": "",
                             "note": "court next week"}], config="lookahead_days = 42")
    assert row(r, "K")["to_worker_id"] == "B"
    sched = _schedule(case)
    k = sched[sched["child_id"] == "K"]
    assert k[["week", "from_worker_id", "to_worker_id", "forced"]].values.tolist() == [
        [5, "B", "C", "true"]]


def test_rebalance_previous_keeps_the_published_weeks(case: Case, tmp_path: Path) -> None:
    # A plan with a handover in week 3, then a re-plan a week later with --previous: the
    # handover it published (to C) is kept, now in week 2, though D is as good.
    from typer.testing import CliRunner

    from rebalancer.cli import app

    r = case.run([worker("B", leaving_on="2027-01-02"), worker("C"), worker("D")],
                 [*filler("C", 40), *filler("D", 40),
                  child("K", current="B", allocated_on="2026-11-01")], config=FOUR_WEEKS)
    first = _schedule(case)
    assert first["week"].tolist() == [3]
    handed_to = first["to_worker_id"].iat[0]
    assert r is not None
    (case.root / "later.toml").write_text(f"plan_date = 2026-12-08\n{FOUR_WEEKS}\n")
    out = tmp_path / "later"
    res = CliRunner().invoke(app, [
        "rebalance", "--workers", str(case.root / "workers.csv"), "--children",
        str(case.root / "children.csv"), "--config", str(case.root / "later.toml"),
        "--previous", str(case.root / "out"), "--out", str(out), "--quiet", "--work", "2"])
    assert res.exit_code == 0, res.output
    again = _typed(read_table_file(out / "schedule.csv"))
    assert again[["child_id", "week", "effective_on", "to_worker_id"]].values.tolist() == [
        ["K", 2, "2026-12-22", handed_to]]


def test_a_child_no_worker_in_post_may_take_keeps_its_worker_until_one_is(case: Case) -> None:
    # K needs `bsl` and is with A, who lacks it; the only worker with it, S, starts on
    # 2026-12-15 (week 2). No eligible worker can hold K in weeks 0 and 1, so K (and its
    # sibling L, with A too) stays with A (ONE_WORKER's fallback) and nobody is left without a
    # worker; from week 2 the family goes to S together.
    case.run([worker("A"), worker("S", starts_on="2026-12-15", skills="bsl")],
             [child("K", current="A", family_id="F", required_skills="bsl",
                    allocated_on="2026-11-01"),
              child("L", current="A", family_id="F", allocated_on="2026-11-01")],
             config=FOUR_WEEKS)
    sched = _schedule(case)
    assert sorted(sched[["child_id", "week", "from_worker_id", "to_worker_id"]].values.tolist()
                  ) == [["K", 2, "A", "S"], ["L", 2, "A", "S"]]
    assert [w["unallocated"] for w in _summary(case)["kpis"]["weeks"]] == [0, 0, 0, 0]


def _decide_scheduled(book: Path, decisions: dict[str, str]) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(book)
    ws = wb["scheduled"]
    header = [c.value for c in ws[1]]
    for r in ws.iter_rows(min_row=2):
        if r[header.index("child_id")].value in decisions:
            r[header.index("decision")].value = decisions[r[header.index("child_id")].value]
    wb.save(book)


def _scheduled_rows(book: Path) -> list[tuple[object, ...]]:
    from openpyxl import load_workbook

    ws = load_workbook(book)["scheduled"]
    header = [c.value for c in ws[1]]
    cols = [header.index(c) for c in ("child_id", "effective_on", "from_worker_id",
                                      "to_worker_id")]
    return [tuple(r[j] for j in cols) for r in ws.iter_rows(min_row=2, values_only=True)]


def test_managers_decide_scheduled_handovers_and_the_replan_honours_them(case: Case) -> None:
    # B (team North A) and E (team South E... same locality, another team) both leave on
    # 2027-01-02 (hold weeks 0-2). K is with B, L with E; C (team North C) holds 40, D (team
    # North C) 60. Each is handed over in week 3 (2026-12-22) to C, the lower load (C ends at
    # 50, under D's 60). North A's manager rejects K's handover to C; North C's manager accepts
    # L's. The re-plan forbids C for K in every week, so K goes to D in week 3 (the only other
    # worker who stays), and L's accepted handover to C stands, as published.
    from typer.testing import CliRunner

    from rebalancer.cli import app

    team = lambda w, t: {**w, "team": t}  # noqa: E731
    workers = [team(worker("B", leaving_on="2027-01-02"), "North A"),
               team(worker("E", leaving_on="2027-01-02"), "North E"),
               team(worker("C"), "North C"), team(worker("D"), "North C")]
    case.run(workers, [*filler("C", 40), *filler("D", 60),
                       child("K", current="B", allocated_on="2026-11-01"),
                       child("L", current="E", allocated_on="2026-11-01")], config=FOUR_WEEKS)
    assert _typed(_schedule(case))[["child_id", "week", "from_worker_id", "to_worker_id"]
                                   ].values.tolist() == [["K", 3, "B", "C"], ["L", 3, "E", "C"]]
    runner = CliRunner()
    out = case.root / "out"
    r = runner.invoke(app, ["review", "--plan", str(out), "--by-team"])
    assert r.exit_code == 0, r.output
    books = out / "review"
    # each team sees the handovers that leave or join it, with their dates, and nothing else
    assert _scheduled_rows(books / "review-north-a.xlsx") == [("K", "2026-12-22", "B", "C")]
    assert _scheduled_rows(books / "review-north-e.xlsx") == [("L", "2026-12-22", "E", "C")]
    assert _scheduled_rows(books / "review-north-c.xlsx") == [("K", "2026-12-22", "B", "C"),
                                                              ("L", "2026-12-22", "E", "C")]
    # a date edited in the county's workbook is refused, naming sheet, row and column
    from openpyxl import load_workbook

    bad = case.root / "edited.xlsx"
    assert runner.invoke(app, ["review", "--plan", str(out), "--out", str(bad)]).exit_code == 0
    wb = load_workbook(bad)
    header = [x.value for x in wb["scheduled"][1]]
    wb["scheduled"].cell(2, header.index("effective_on") + 1).value = "2026-12-29"
    wb.save(bad)
    c = case.root
    inputs = ["--workers", str(c / "workers.csv"), "--children", str(c / "children.csv"),
              "--config", str(c / "config.toml")]
    r = runner.invoke(app, ["replan", *inputs, "--plan", str(out), "--review", str(bad),
                            "--out", str(c / "refused"), "--audit", str(c / "t0.sqlite")])
    assert r.exit_code == 1
    assert "sheet scheduled, row 2 (child_id K)" in r.output and "effective_on" in r.output
    assert "1 scheduled change(s) have no row (deleted): K on 2026-12-22" in r.output
    assert not (c / "refused").exists()
    _decide_scheduled(books / "review-north-a.xlsx", {"K": "reject"})
    _decide_scheduled(books / "review-north-c.xlsx", {"L": "accept"})
    (books / "review-north-e.xlsx").unlink()
    p2, db = case.root / "p2", case.root / "trail.sqlite"
    r = runner.invoke(app, ["replan", *inputs, "--plan", str(out), "--review", str(books),
                            "--out", str(p2), "--reviewer", "Ann", "--audit", str(db),
                            "--quiet"])
    assert r.exit_code == 0, r.output
    assert ("of the changes scheduled for later weeks: 1 accepted, 1 rejected" in r.output)
    sched = _typed(read_table_file(p2 / "schedule.csv"))
    assert sched[["child_id", "week", "from_worker_id", "to_worker_id", "forced"]
                 ].values.tolist() == [["K", 3, "B", "D", "true"], ["L", 3, "E", "C", "true"]]
    decisions = read_table_file(p2 / "decisions.csv")
    assert decisions[["child_id", "decision", "worker_id"]].values.tolist() == [
        ["K", "forbid", "C"]]
    assert "scheduled for 2026-12-22" in decisions["note"].iat[0]
    review = json.loads((p2 / "summary.json").read_text())["review"]
    assert review["scheduled"] == {"accepted": 1, "rejected": 1, "undecided": 0}
    import sqlite3

    with sqlite3.connect(db) as con:
        payloads = [json.loads(p) for (p,) in con.execute(
            "SELECT payload FROM entries WHERE kind = 'decision'")]
    assert sorted((p["child_id"], p["decision"], p.get("effective_on")) for p in payloads) == [
        ("K", "reject", "2026-12-22"), ("L", "accept", "2026-12-22")]
    # the re-plan's check agrees, every week, with the forbid in force
    r = runner.invoke(app, ["check", *inputs, "--plan", str(p2)])
    assert r.exit_code == 0, r.output


def test_the_rule_places_the_later_weeks_when_the_search_cannot_pay_for_its_model(
        case: Case) -> None:
    # B leaves (weeks 0-2) holding six children; C, D, E and F stay: six units of four eligible
    # workers each, 24 × 3e-4 = 0.0072 s to build the search's model. With a work of 0.1 the
    # later weeks get 0.01 (a tenth), less than twice the building: the rule places them; with
    # 2 they get 0.2 and the search does. Either way the plan is the same kind of plan: every
    # child handed over once in week 3 (checked every week by Case.run), never to B again.
    from rebalancer.model.lookahead import PLACEMENT_PER_ELIGIBLE

    assert round(24 * PLACEMENT_PER_ELIGIBLE, 6) == 0.0072
    workers = [worker("B", leaving_on="2027-01-02"), worker("C"), worker("D"), worker("E"),
               worker("F")]
    kids = [child(f"K{i}", current="B", allocated_on="2026-11-01") for i in range(6)]
    for work, placed in ((0.1, "rule"), (2.0, "search")):
        case.run(workers, kids, config=FOUR_WEEKS, **{"solver.work": work})
        weeks = _summary(case)["solver"]["weeks"]
        assert (weeks["units"], weeks["placed_by"]) == (6, placed), work
        sched = _schedule(case)
        assert sorted(sched["child_id"]) == [f"K{i}" for i in range(6)]
        assert set(sched["week"]) == {3} and "B" not in set(sched["to_worker_id"])
