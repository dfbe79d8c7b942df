"""The problem and solution types shared by every solver in this package."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from solvers.context import Termination

IntArray = NDArray[np.integer[Any]]

# Every objective, bound and partial sum stays below this: exact in float64 (which evaluate and
# HiGHS use) and far inside CP-SAT's int64 arithmetic.
MAX_OBJECTIVE = float(2**53)


class CostOverflow(ValueError):
    """The problem's integer costs could overflow: refused rather than solved wrongly."""


class Status(enum.Enum):
    """Our own outcome codes: a solver's native status never leaves this package."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    NO_SOLUTION = "no_solution"


@dataclass
class AssignmentProblem:
    """Items to agents through candidate pairs; everything integer so CP-SAT can take it as is.

    Objective (minimised): sum of chosen pair costs + skip cost of every optional item left
    unassigned + overload_cost per unit of load above an agent's capacity + band_cost[b] more
    per unit above band_start[b, agent] (overload that grows dearer as it climbs) + peak_cost per
    unit of the highest load/capacity ratio (in 1/peak_scale steps) + group_split_cost per group
    whose items use more than one agent. New pairs above an agent's limit are forbidden, or
    (new_limit_soft) allowed only as far as the least total excess that places every must item.
    """

    n_items: int
    n_agents: int
    pair_item: IntArray
    pair_agent: IntArray
    pair_cost: IntArray
    pair_load: IntArray
    item_must: NDArray[np.bool_]  # must be assigned (exactly one pair) vs at most one
    item_skip_cost: IntArray  # cost when an optional item is left unassigned
    agent_capacity: IntArray
    overload_cost: int | None = None  # per load unit above capacity; None: capacity is hard
    band_start: IntArray | None = None  # (bands, agents): load above which each band starts
    band_cost: IntArray | None = None  # (bands,): extra cost per load unit above band_start
    pair_new: IntArray | None = None  # counted against agent_new_limit
    agent_new_limit: IntArray | None = None  # -1: no limit
    new_limit_soft: bool = False  # excess allowed, minimised before everything else
    peak_cost: int = 0
    peak_scale: int = 1000
    item_group: IntArray | None = None  # -1: in no group
    group_split_cost: int = 0
    pair_budget: IntArray | None = None  # counted against budget
    budget: int | None = None
    hint: IntArray | None = None  # per item: the pair index to start from, -1 for none

    def __post_init__(self) -> None:
        p = len(self.pair_item)
        for name in ("pair_agent", "pair_cost", "pair_load"):
            if len(getattr(self, name)) != p:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, expected {p}")
        if p and (self.pair_item.min() < 0 or self.pair_item.max() >= self.n_items):
            raise ValueError("pair_item out of range")
        if p and (self.pair_agent.min() < 0 or self.pair_agent.max() >= self.n_agents):
            raise ValueError("pair_agent out of range")
        if (self.agent_capacity <= 0).any() and self.peak_cost:
            raise ValueError("peak needs positive capacities")
        starts, costs = self.bands()
        if starts.shape != (costs.size, self.n_agents) or (costs < 0).any():
            raise ValueError("band_start must be (bands, agents) and band_cost non-negative")
        if costs.size and (self.overload_cost is None
                           or (starts < self.agent_capacity[None, :]).any()):
            raise ValueError("overload bands start at or above capacity, on a soft capacity")
        ceiling = self.cost_ceiling()
        if ceiling > MAX_OBJECTIVE:
            raise CostOverflow(
                f"the objective could reach {ceiling:.3g} solver units, above the "
                f"{MAX_OBJECTIVE:.3g} that 64-bit integer arithmetic handles exactly: lower the "
                "weights or points")

    def bands(self) -> tuple[IntArray, IntArray]:
        """Band starts (bands x agents) and extra costs per unit; empty when overload is flat."""
        if self.band_cost is None or self.band_start is None:
            return np.zeros((0, self.n_agents), np.int64), np.zeros(0, np.int64)
        return self.band_start, self.band_cost

    def overload_rate_max(self) -> int:
        """The dearest a unit of overload can be: the base rate plus every band's extra."""
        return int(self.overload_cost or 0) + int(self.bands()[1].sum())

    def cost_ceiling(self) -> float:
        """An upper bound on the absolute value of any objective (and of any partial sum the
        solvers form), computed in floats so that it cannot overflow itself."""
        if self.n_items == 0:
            return 0.0
        cost = np.abs(self.pair_cost.astype(float))
        worst = np.zeros(self.n_items)
        np.maximum.at(worst, self.pair_item, cost)
        heaviest = np.zeros(self.n_items)
        np.maximum.at(heaviest, self.pair_item, np.abs(self.pair_load.astype(float)))
        total_load = float(heaviest.sum())
        cap = float(max(np.abs(self.agent_capacity).min(initial=1), 1))
        n_groups = int(self.groups().max(initial=-1)) + 1
        return float(worst.sum() + np.abs(self.item_skip_cost.astype(float)).sum()
                     + self.overload_rate_max() * total_load
                     + abs(self.peak_cost) * self.peak_scale * (total_load / cap + 1)
                     + abs(self.group_split_cost) * n_groups
                     + total_load * self.peak_scale)

    @property
    def n_pairs(self) -> int:
        return len(self.pair_item)

    def new_counts(self) -> IntArray:
        return self.pair_new if self.pair_new is not None else np.zeros(self.n_pairs, np.int64)

    def new_limits(self) -> IntArray:
        if self.agent_new_limit is None:
            return np.full(self.n_agents, -1, np.int64)
        return self.agent_new_limit

    def groups(self) -> IntArray:
        if self.item_group is None:
            return np.full(self.n_items, -1, np.int64)
        return self.item_group

    def budget_use(self) -> IntArray:
        if self.pair_budget is None:
            return np.zeros(self.n_pairs, np.int64)
        return self.pair_budget


@dataclass
class SolveStats:
    """The solver's own account of a solve, typed: what the summary and the checks read."""

    seconds: dict[str, float] = field(default_factory=dict)  # per stage, in the order they ran
    sources: dict[str, float] = field(default_factory=dict)  # best objective each stage reached
    lp_bound: float | None = None  # solver units
    excess_cap: int = 0
    # why the stages stopped: WORK_SPENT unless the clock or an interrupt cut one
    stopped: Termination = Termination.WORK_SPENT
    # deterministic work the budgeted stages did (CP-SAT's deterministic time and LNS's counted
    # steps, in work units): the same for the same inputs, seed, threads and work
    work_used: float = 0.0

    def cut_by(self, reason: Termination) -> None:
        """A stage stopped early for `reason` (the worst reason is kept)."""
        self.stopped = self.stopped.worst(reason)

    def add(self, other: SolveStats) -> None:
        """A part's stage seconds, work, excess and cuts added into the whole's."""
        for k, v in other.seconds.items():
            self.seconds[k] = self.seconds.get(k, 0.0) + v
        self.work_used += other.work_used
        self.excess_cap += other.excess_cap
        self.cut_by(other.stopped)


@dataclass
class Solution:
    """The chosen pair per item (-1: unassigned), with the solver's own account of quality."""

    status: Status
    item_pair: IntArray
    objective: float
    bound: float
    wall_time: float
    source: str = "cpsat"  # the stage that found the plan; "none" when no stage found one
    stats: SolveStats = field(default_factory=SolveStats)

    @property
    def lp_bound(self) -> float | None:
        """The LP relaxation's bound, when the LP was solved (solver units)."""
        return self.stats.lp_bound

    @property
    def termination(self) -> Termination:
        """Why the solve stopped: FINISHED when the plan is proven optimal and nothing was cut."""
        if self.stats.stopped is Termination.WORK_SPENT and self.status is Status.OPTIMAL:
            return Termination.FINISHED
        return self.stats.stopped

    @property
    def reproducible(self) -> bool:
        """Every stage ran its fixed budget: the same inputs, seed and threads give this plan."""
        return self.termination.reproducible

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per stage."""
        return dict(self.stats.seconds)

    @property
    def sources(self) -> dict[str, float]:
        """The best objective each stage reached (solver units)."""
        return dict(self.stats.sources)

    @property
    def gap(self) -> float:
        if self.status is Status.OPTIMAL:
            return 0.0
        if not np.isfinite(self.objective) or not np.isfinite(self.bound):
            return float("inf")
        return abs(self.objective - self.bound) / max(abs(self.objective), 1e-9)


_KEEP: Any = object()


def take(p: AssignmentProblem, items: IntArray, agents: IntArray, ks: IntArray,
         **given: Any) -> AssignmentProblem:
    """The problem over some of its items, agents and pairs (`ks`, between them), renumbered.

    Components, LP-fixed remainders and LNS neighbourhoods are all made this way; groups are
    renumbered from 0 (-1 stays "no group"). `given` may set the new problem's `item_group`,
    `item_must`, `budget` and `hint` (in the new pair numbering; none when not given).
    """
    unknown = set(given) - {"item_group", "hint", "item_must", "budget"}
    if unknown:
        raise TypeError(f"take() cannot set {sorted(unknown)}")
    item_group, item_must = given.get("item_group"), given.get("item_must")
    budget, hint = given.get("budget", _KEEP), given.get("hint")
    imap = np.full(p.n_items, -1, np.int64)
    imap[items] = np.arange(items.size)
    amap = np.full(p.n_agents, -1, np.int64)
    amap[agents] = np.arange(agents.size)
    g = p.groups()[items] if item_group is None else item_group
    _, codes = np.unique(g, return_inverse=True)
    codes = codes - (1 if (g < 0).any() else 0)
    return dataclasses.replace(
        p, n_items=items.size, n_agents=agents.size, pair_item=imap[p.pair_item[ks]],
        pair_agent=amap[p.pair_agent[ks]], pair_cost=p.pair_cost[ks], pair_load=p.pair_load[ks],
        item_must=p.item_must[items] if item_must is None else item_must,
        item_skip_cost=p.item_skip_cost[items], agent_capacity=p.agent_capacity[agents],
        band_start=None if p.band_start is None else p.band_start[:, agents],
        pair_new=None if p.pair_new is None else p.pair_new[ks],
        agent_new_limit=None if p.agent_new_limit is None else p.agent_new_limit[agents],
        item_group=np.where(g >= 0, codes, -1),
        pair_budget=None if p.pair_budget is None else p.pair_budget[ks],
        budget=p.budget if budget is _KEEP else budget, hint=hint)


def hint_in(p: AssignmentProblem, items: IntArray, ks: IntArray) -> IntArray | None:
    """The problem's hint for `items`, in the numbering of the kept pairs `ks`."""
    if p.hint is None:
        return None
    pos = np.full(p.n_pairs, -1, np.int64)
    pos[ks] = np.arange(ks.size)
    h = p.hint[items]
    return np.where(h >= 0, pos[np.maximum(h, 0)], -1)
