"""The compiled local search: moves worked by hand, and its deltas against the independent
evaluation on random problems with every term of the objective."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers import AssignmentProblem, evaluate, greedy
from solvers.local import LocalSearch


def two_items_two_agents(cost: list[int], load: int, capacity: list[int],
                         **extra: object) -> AssignmentProblem:
    """Items 0 and 1, each with a pair on agents 0 and 1 (pairs 0-1 item 0's, 2-3 item 1's),
    every item a must, overload 10 a point."""
    return AssignmentProblem(
        n_items=2, n_agents=2, pair_item=np.array([0, 0, 1, 1]),
        pair_agent=np.array([0, 1, 0, 1]), pair_cost=np.array(cost),
        pair_load=np.full(4, load), item_must=np.ones(2, bool),
        item_skip_cost=np.zeros(2, np.int64), agent_capacity=np.array(capacity),
        overload_cost=10, **extra)  # type: ignore[arg-type]


def test_a_swap_where_no_single_move_helps() -> None:
    # Items 0 and 1 (4 points each) sit on agents 0 and 1 (capacity 4, 10 a point over), each
    # on the other's agent: cost 3 each where they are, 0 on the other's. Moving either alone
    # puts 8 points on one agent: 4 over, 40, dearer than the 3 it saves. Trading them saves 6
    # and overloads nobody: the search makes that swap and nothing else.
    p = two_items_two_agents([3, 0, 0, 3], 4, [4, 4])
    start = np.array([0, 3])
    assert evaluate(p, start).objective == 6
    got = LocalSearch(p).run(start, 1_000)
    assert got.plan.tolist() == [1, 2]
    assert evaluate(p, got.plan).objective == 0 and got.objective_change == -6


def test_siblings_move_together_where_one_alone_would_split_them() -> None:
    # Siblings 0 and 1 (3 points each) share agent 0 (capacity 4: 2 over, 10 a point: 20).
    # Agent 1 (capacity 6) is free; a move costs 2 a child. One sibling alone to agent 1: 2 +
    # split 50, worse than the 20 it saves. Both together: 4, no overload, no split: the
    # search moves the group (objective 20 -> 4).
    p = two_items_two_agents([0, 2, 0, 2], 3, [4, 6], item_group=np.array([0, 0]),
                             group_split_cost=50)
    start = np.array([0, 2])
    assert evaluate(p, start).objective == 20
    got = LocalSearch(p).run(start, 1_000)
    assert got.plan.tolist() == [1, 3] and evaluate(p, got.plan).objective == 4


def test_the_budget_and_the_new_pair_limits_hold() -> None:
    # Three items (one point each) on agent 0 (capacity 1: 2 over, 100 a point: 200) could
    # each go to agent 1 for 1 (a new pair: 1 against agent 1's limit, 1 of the budget).
    # Unlimited, two go (objective 2). With agent 1's limit at 1, or a budget of 1, one goes:
    # 1 + 100 of overload left (objective 101).
    def case(limit: int, budget: int | None) -> AssignmentProblem:
        return AssignmentProblem(
            n_items=3, n_agents=2, pair_item=np.array([0, 0, 1, 1, 2, 2]),
            pair_agent=np.array([0, 1, 0, 1, 0, 1]), pair_cost=np.array([0, 1, 0, 1, 0, 1]),
            pair_load=np.ones(6, np.int64), item_must=np.ones(3, bool),
            item_skip_cost=np.zeros(3, np.int64), agent_capacity=np.array([1, 5]),
            overload_cost=100, pair_new=np.array([0, 1, 0, 1, 0, 1]),
            agent_new_limit=np.array([-1, limit]), pair_budget=np.array([0, 1, 0, 1, 0, 1]),
            budget=budget)

    start = np.array([0, 2, 4])
    for limit, budget, moved, objective in [(-1, None, 2, 2), (1, None, 1, 101),
                                            (-1, 1, 1, 101)]:
        p = case(limit, budget)
        assert evaluate(p, start).objective == 200
        got = LocalSearch(p).run(start, 1_000)
        assert int((got.plan % 2 == 1).sum()) == moved, (limit, budget)
        assert evaluate(p, got.plan).objective == objective == 200 + got.objective_change


@st.composite
def problems(draw: st.DrawFn) -> tuple[AssignmentProblem, np.ndarray]:
    """A random problem with every term (bands, peak, groups, soft or hard new-pair limits,
    a budget, optional items), and a random start plan."""
    n_items = draw(st.integers(2, 12))
    n_agents = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    pairs = np.array([(i, a) for i in range(n_items) for a in range(n_agents)
                      if rng.random() < 0.7 or a == i % n_agents])
    k = len(pairs)
    cap = rng.integers(2, 12, n_agents)
    soft = bool(rng.random() < 0.5)
    hard_capacity = bool(rng.random() < 0.25)  # no overload at all (bands need a soft one)
    p = AssignmentProblem(
        n_items=n_items, n_agents=n_agents, pair_item=pairs[:, 0], pair_agent=pairs[:, 1],
        pair_cost=rng.integers(-3, 20, k), pair_load=rng.integers(1, 6, k),
        item_must=rng.random(n_items) < 0.6, item_skip_cost=rng.integers(0, 40, n_items),
        agent_capacity=cap, overload_cost=None if hard_capacity else int(rng.integers(1, 8)),
        band_start=None if hard_capacity else np.stack([cap + 2, cap + 5]),
        band_cost=None if hard_capacity else np.array([3, 5]),
        pair_new=rng.integers(0, 2, k), agent_new_limit=rng.integers(-1, 3, n_agents),
        new_limit_soft=soft, peak_cost=int(rng.integers(0, 4)), peak_scale=100,
        item_group=rng.integers(-1, max(2, n_items // 3), n_items),
        group_split_cost=int(rng.integers(0, 30)),
        pair_budget=rng.integers(0, 2, k),
        budget=None if rng.random() < 0.5 else int(rng.integers(0, 4)))
    start = np.full(n_items, -1, np.int64)
    for i in range(n_items):
        ks = np.flatnonzero(p.pair_item == i)
        if p.item_must[i] or rng.random() < 0.5:
            start[i] = rng.choice(ks)
    return p, start


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_every_move_is_priced_exactly_and_leaves_no_single_improving_move(
        case: tuple[AssignmentProblem, np.ndarray]) -> None:
    p, start = case
    before = evaluate(p, start)
    if not before.feasible:
        start = greedy(p)  # the search starts from a plan within the hard limits
        before = evaluate(p, start)
        if not before.feasible:
            return
    got = LocalSearch(p).run(start, 100_000)
    after = evaluate(p, got.plan)
    # the search's own account of its moves is the independent evaluation's, term for term
    assert after.excess - before.excess == got.excess_change
    assert after.objective - before.objective == got.objective_change
    assert after.feasible and (after.excess, after.objective) <= (before.excess, before.objective)
    assert not (got.plan < 0)[p.item_must].any() or (start < 0)[p.item_must].any()
    if p.budget is not None:
        assert int(p.budget_use()[got.plan[got.plan >= 0]].sum()) <= p.budget
    # and it stopped at a local optimum: no single item's change (within the budget) is better
    assert got.evals < 100_000
    for i in range(p.n_items):
        options = [*np.flatnonzero(p.pair_item == i).tolist(),
                   *([] if p.item_must[i] else [-1])]
        for k in options:
            trial = got.plan.copy()
            trial[i] = k
            ev = evaluate(p, trial)
            if not ev.feasible:  # past the budget, a hard capacity or a hard new-pair limit
                continue
            assert (ev.excess, ev.objective) >= (after.excess, after.objective), (i, k)


def test_the_same_problem_and_budget_give_the_same_plan() -> None:
    rng = np.random.default_rng(7)
    n, m = 200, 12
    pairs = np.array([(i, a) for i in range(n) for a in range(m) if rng.random() < 0.4])
    k = len(pairs)
    p = AssignmentProblem(
        n_items=n, n_agents=m, pair_item=pairs[:, 0], pair_agent=pairs[:, 1],
        pair_cost=rng.integers(0, 50, k), pair_load=rng.integers(1, 5, k),
        item_must=np.zeros(n, bool), item_skip_cost=np.full(n, 200),
        agent_capacity=np.full(m, 40), overload_cost=5, peak_cost=3, peak_scale=100)
    start = greedy(p)
    first = LocalSearch(p).run(start, 3_000)
    again = LocalSearch(p).run(start, 3_000)
    assert first.evals == again.evals and first.plan.tolist() == again.plan.tolist()
    full = LocalSearch(p).run(start, 10**7)
    assert evaluate(p, full.plan).objective <= evaluate(p, first.plan).objective
