"""The solver core on plain arrays: hand-made instances with answers worked out by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from ortools.sat.python import cp_model
from typer.testing import CliRunner

from solvers import AssignmentProblem, SolveContext, Status, evaluate, greedy, solve
from solvers.cpsat import add_hint, build
from solvers.lp import lp_bound
from solvers.problem import CostOverflow
from tests.test_local import problems

runner = CliRunner()


def gap_problem(cost: list[list[int]], use: list[list[int]], cap: list[int]) -> AssignmentProblem:
    """A generalized assignment problem (every item assigned, hard capacities)."""
    m, n = len(cost), len(cost[0])
    agent, item = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    return AssignmentProblem(
        n_items=n, n_agents=m, pair_item=item.ravel(), pair_agent=agent.ravel(),
        pair_cost=np.array(cost).ravel(), pair_load=np.array(use).ravel(),
        item_must=np.ones(n, bool), item_skip_cost=np.zeros(n, np.int64),
        agent_capacity=np.array(cap), overload_cost=None)


def test_generalized_assignment_optimum_by_hand() -> None:
    # Two agents, three jobs. Cheapest would put all on agent 0 (cost 3) but it holds only 5 of
    # the 6 units; the best feasible moves job 2 (the cheapest extra: 4-1 = 3) to agent 1: 6.
    p = gap_problem(cost=[[1, 1, 1], [5, 5, 4]], use=[[2, 2, 2], [2, 2, 2]], cap=[5, 6])
    s = solve(p, SolveContext.start(5))
    assert s.status is Status.OPTIMAL
    assert s.objective == 6
    assert p.pair_agent[s.item_pair].tolist().count(1) == 1
    assert evaluate(p, s.item_pair).objective == 6


def test_infeasible_is_reported_not_hidden() -> None:
    p = gap_problem(cost=[[1, 1]], use=[[3, 3]], cap=[5])
    s = solve(p, SolveContext.start(5))
    assert s.status in (Status.INFEASIBLE, Status.NO_SOLUTION)


def test_soft_capacity_overload_cost() -> None:
    # One agent of capacity 4, two items of load 3 that must go: overload 2, cost 2 x 10.
    p = dataclasses.replace(gap_problem([[0, 0]], [[3, 3]], [4]), overload_cost=10)
    s = solve(p, SolveContext.start(5))
    assert s.objective == 20 and evaluate(p, s.item_pair).overload.tolist() == [2]


def test_optional_item_skipped_when_cheaper() -> None:
    # An optional item costs 7 to place and 5 to skip: skipped.
    p = dataclasses.replace(gap_problem([[7]], [[1]], [5]), item_must=np.array([False]),
                            item_skip_cost=np.array([5]))
    s = solve(p, SolveContext.start(5))
    assert s.item_pair.tolist() == [-1] and s.objective == 5


def test_soft_new_limit_takes_the_least_excess() -> None:
    # Three must items, each can only go to agent 0 (limit 1) or agent 1 (limit 1): excess 1.
    p = dataclasses.replace(gap_problem([[0, 0, 0], [1, 1, 1]], [[1] * 3, [1] * 3], [9, 9]),
                            pair_new=np.ones(6, np.int64), agent_new_limit=np.array([1, 1]),
                            new_limit_soft=True)
    s = solve(p, SolveContext.start(5))
    ev = evaluate(p, s.item_pair)
    assert ev.feasible and ev.excess == 1
    # the third item goes where it is cheaper: agent 0, so the objective is 1 (one on agent 1)
    assert s.objective == 1


def test_group_split_cost_and_peak() -> None:
    # Two items in one group, two equal agents: splitting lowers the peak from 2/4 to 1/4
    # (250 units of 1/1000 at cost 1 each) but costs 300: they stay together.
    base = dataclasses.replace(gap_problem([[0, 0], [0, 0]], [[1, 1], [1, 1]], [4, 4]),
                               overload_cost=10, peak_cost=1, peak_scale=1000,
                               item_group=np.array([0, 0]), group_split_cost=300)
    s = solve(base, SolveContext.start(5))
    assert len(set(base.pair_agent[s.item_pair])) == 1 and s.objective == 500
    cheap = dataclasses.replace(base, group_split_cost=100)
    s = solve(cheap, SolveContext.start(5))
    assert len(set(cheap.pair_agent[s.item_pair])) == 2 and s.objective == 350


def test_lp_bound_is_below_the_optimum() -> None:
    rng = np.random.default_rng(1)
    p = gap_problem(rng.integers(1, 30, (4, 20)).tolist(), rng.integers(5, 15, (4, 20)).tolist(),
                    [60, 60, 60, 60])
    s = solve(p, SolveContext.start(10))
    lp = lp_bound(p)
    assert s.status is Status.OPTIMAL
    assert lp.bound <= s.objective + 1e-6


def test_greedy_respects_hard_limits() -> None:
    p = gap_problem([[0, 0, 0], [5, 5, 5]], [[2, 2, 2], [2, 2, 2]], [4, 6])
    plan = greedy(p)
    assert evaluate(p, plan).feasible


@pytest.mark.parametrize("budget, moves", [(None, 2), (1, 1), (0, 0)])
def test_budget_limits_pairs_that_use_it(budget: int | None, moves: int) -> None:
    # Two items held by agent 0 (hint) could move to agent 1 for a saving of 5 each; each move
    # uses one unit of the budget.
    p = dataclasses.replace(gap_problem([[5, 5], [0, 0]], [[1, 1], [1, 1]], [9, 9]),
                            pair_budget=np.array([0, 0, 1, 1]), budget=budget,
                            hint=np.array([0, 1]))
    s = solve(p, SolveContext.start(5))
    assert int((p.pair_agent[s.item_pair] == 1).sum()) == moves


def test_components_keep_each_components_own_answer() -> None:
    # Two independent components, each an optional item costing 7 to place and 5 to skip:
    # both are left out, even though a start plan would place them.
    base = gap_problem([[7, 0], [0, 7]], [[1, 1], [1, 1]], [5, 5])
    p = dataclasses.replace(base, pair_item=np.array([0, 1]), pair_agent=np.array([0, 1]),
                            pair_cost=np.array([7, 7]), pair_load=np.array([1, 1]),
                            item_must=np.array([False, False]), item_skip_cost=np.array([5, 5]),
                            hint=np.array([0, 1]))
    s = solve(p, SolveContext.start(5))
    assert s.item_pair.tolist() == [-1, -1] and s.objective == 10


def _type_e(m: int, n: int, seed: int = 0) -> AssignmentProblem:
    """A tight generalized assignment instance of Laguna et al.'s type E (hard capacities)."""
    rng = np.random.default_rng(seed)
    r = (1 - 10 * np.log(rng.random((m, n)))).round().astype(np.int64)
    c = (1000 / r - 10 * rng.random((m, n))).round().astype(np.int64)
    b = np.maximum(0.8 * r.sum(axis=1) / m, r.max(axis=1)).astype(np.int64)
    return gap_problem(c.tolist(), r.tolist(), b.tolist())


def test_never_gives_up_with_time_left() -> None:
    # the greedy start leaves most jobs unplaced and the model is too big for the early probe:
    # the time must go to finding a plan, not end in no_solution
    p = _type_e(40, 600)
    assert (greedy(p) < 0).sum() > 100
    s = solve(p, SolveContext.start(6))
    assert s.status is Status.FEASIBLE
    assert evaluate(p, s.item_pair).feasible


def test_lns_neighbours_match_a_brute_force_count() -> None:
    from solvers.lns import _Links

    rng = np.random.default_rng(3)
    item = rng.integers(0, 30, 200)
    agent = rng.integers(0, 12, 200)
    keep = np.unique(np.stack([item, agent]), axis=1)
    p = AssignmentProblem(n_items=30, n_agents=12, pair_item=keep[0], pair_agent=keep[1],
                          pair_cost=np.zeros(keep.shape[1], np.int64),
                          pair_load=np.ones(keep.shape[1], np.int64),
                          item_must=np.zeros(30, bool), item_skip_cost=np.zeros(30, np.int64),
                          agent_capacity=np.full(12, 5), overload_cost=1)
    links = _Links.of(p)
    for a in range(12):
        near, shared = links.neighbours(p, a)
        mine = set(p.pair_item[p.pair_agent == a])
        expect = {b: len(mine & set(p.pair_item[p.pair_agent == b])) for b in range(12)
                  if b != a}
        assert dict(zip(near.tolist(), shared.tolist(), strict=True)) == {
            b: n for b, n in expect.items() if n}


def test_when_greedy_fails_the_lp_guided_stage_runs_before_the_rescue(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Items 5, 4, 5, 3, 3 on two agents of 10: cheapest-first puts 5 and 4 on agent 0 (cost 0
    # each), then has no room for the last 3 anywhere. The LP's optimum is the plan {5, 5} on
    # agent 0 and {4, 3, 3} on agent 1 (cost 1). The instance stands in for a large one (the
    # probe's and the LP-guided stage's size thresholds set to 0): the LP-guided stage must
    # find the plan, and no rescue run.
    import solvers.stages as stages

    p = gap_problem(cost=[[0, 0, 0, 9, 9], [10, 1, 5, 0, 0]],
                    use=[[5, 4, 5, 3, 3], [5, 4, 5, 3, 3]], cap=[10, 10])
    assert not evaluate(p, greedy(p)).feasible
    monkeypatch.setattr(stages, "PROBE_MAX_PAIRS", 0)
    monkeypatch.setattr(stages, "LP_FIX_MIN_PAIRS", 0)
    s = stages.solve_connected(p, SolveContext.start(5, threads=1))
    assert evaluate(p, s.item_pair).feasible
    assert s.source == "lp_fix" and "rescue" not in s.stats.seconds


def test_polish_undoes_a_move_that_staying_would_beat() -> None:
    # Item 0 is on agent 0 (its own, new = 0) or agent 1 (new = 1), item 1 on agent 1 only.
    # A plan that moved item 0 to agent 1 (cost 5, and agent 1 goes to 6/5: 1 over, 10 a point)
    # is beaten by staying (cost 0, no overload): polish makes that one change and no other.
    from solvers.polish import polish

    p = AssignmentProblem(
        n_items=2, n_agents=2, pair_item=np.array([0, 0, 1]), pair_agent=np.array([0, 1, 1]),
        pair_cost=np.array([0, 5, 0]), pair_load=np.array([3, 3, 3]),
        item_must=np.ones(2, bool), item_skip_cost=np.zeros(2, np.int64),
        agent_capacity=np.array([5, 5]), overload_cost=10,
        pair_new=np.array([0, 1, 0]))
    moved = np.array([1, 2])
    assert evaluate(p, moved).objective == 5 + 10
    plan, made = polish(p, moved)
    assert made == 1 and plan.tolist() == [0, 2]
    assert evaluate(p, plan).objective == 0
    assert polish(p, plan)[1] == 0  # nothing left to improve


def test_the_solver_refuses_costs_that_could_overflow() -> None:
    big = np.array([2**61], np.int64)
    with pytest.raises(CostOverflow):
        AssignmentProblem(n_items=1, n_agents=1, pair_item=np.array([0]),
                          pair_agent=np.array([0]), pair_cost=big, pair_load=np.array([1]),
                          item_must=np.array([False]), item_skip_cost=big,
                          agent_capacity=np.array([10]), overload_cost=1)


def test_options_where_no_option_loads_any_agent_are_solved() -> None:
    # One item whose only options load nobody (a child no worker may take: unallocated in every
    # week, or in some): the cheaper is chosen, with nothing to add up per agent and week.
    from solvers.options import OptionsProblem
    from solvers.options import solve as solve_options

    none = np.zeros(0, np.int64)
    p = OptionsProblem(
        n_items=1, n_agents=1, n_weeks=2, opt_item=np.array([0, 0]),
        opt_continues=np.array([-1, -1]), opt_cost=np.array([7, 5]), ent_opt=none,
        ent_agent=none, ent_week=none, ent_load=none, new_opt=none, new_agent=none,
        new_week=none, new_count=none, fixed_load=np.zeros((1, 2), np.int64),
        capacity=np.array([10]), new_room=np.full((1, 2), -1))
    got = solve_options(p, SolveContext.start(5.0, threads=1))
    assert got.choice is not None and got.choice.tolist() == [1]
    assert got.objective == 5


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_a_plans_hint_is_a_solution_of_its_model(
        case: tuple[AssignmentProblem, np.ndarray]) -> None:
    """CP-SAT starts from a hinted plan only when every hinted value (the plan's pairs and the
    aggregates: overload, bands, excess, peak, splits) satisfies the model: with every variable
    fixed to its hint, the model must be solved at the plan's own objective."""
    p, start = case
    if not evaluate(p, start).feasible:
        start = greedy(p)
    ev = evaluate(p, start)
    if not ev.feasible:
        return
    built = build(p, ev.excess if p.new_limit_soft else None)
    add_hint(built, p, start)
    solver = cp_model.CpSolver()
    solver.parameters.fix_variables_to_their_hinted_value = True
    solver.parameters.num_workers = 1
    status = solver.solve(built.model)
    assert status == cp_model.OPTIMAL, solver.status_name(status)
    assert round(solver.objective_value) == ev.objective


def test_the_weeks_placement_counts_all_its_work_within_its_budget(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Three new items, two agents with room for one new item between them: the least excess
    # (2) is a CP-SAT model of its own before the placement's. Both are the placement's work:
    # the second gets what the first left, and the work reported is both.
    import solvers.options as options
    from solvers.options import OptionsProblem
    from solvers.options import solve as solve_options

    calls: list[tuple[float, float]] = []  # (work given, work used) of each CP-SAT call
    real_run = options.run

    def counted(model: cp_model.CpModel, ctx: SolveContext, presolve: object) -> object:
        ran = real_run(model, ctx, presolve)
        calls.append((ctx.work, ran.work_used))
        return ran

    monkeypatch.setattr(options, "run", counted)
    opt_item = np.array([0, 0, 1, 1, 2, 2])
    agent = np.array([0, 1, 0, 1, 0, 1])
    zero = np.zeros(6, np.int64)
    p = OptionsProblem(
        n_items=3, n_agents=2, n_weeks=1, opt_item=opt_item, opt_continues=np.full(6, -1),
        opt_cost=np.array([1, 2, 1, 2, 1, 2]), ent_opt=np.arange(6), ent_agent=agent,
        ent_week=zero, ent_load=np.ones(6, np.int64), new_opt=np.arange(6), new_agent=agent,
        new_week=zero, new_count=np.ones(6, np.int64), fixed_load=np.zeros((2, 1), np.int64),
        capacity=np.array([10, 10]), new_room=np.array([[1], [0]]))
    got = solve_options(p, SolveContext.start(2.0, threads=1))
    assert got.choice is not None and got.choice.size == 3
    assert len(calls) == 2
    (given_first, used_first), (given_second, used_second) = calls
    assert given_first == 2.0
    assert used_first > 0 and given_second + used_first <= 2.0 + 1e-12
    assert got.work_used == pytest.approx(used_first + used_second, rel=1e-12)
