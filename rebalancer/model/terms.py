"""The objective, one function per cost term, in the contract's units.

The model turns these into the solver's integer costs, `plan.objective_terms` scores a finished
plan with them, and `explain` prices each alternative with them, so a term is written once.
`check.py` re-derives every term from the contract's words on purpose and does not import this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rebalancer.config import Weights
from rebalancer.model.rules import BoolArray, FloatArray, IntArray

DAYS_PER_MONTH = 30.4375


def unallocated(priority: pd.Series, w: Weights) -> FloatArray:
    # unallocated: each child left without a worker costs its priority's weight.
    return priority.map(lambda p: float(w.unallocated[p])).to_numpy(float)


def overload_steps(w: Weights) -> list[tuple[float, float]]:
    # overload: above utilisation u, each point costs `rate` more (the flat rate from 100%, then
    # each band's rise in multiplier times the flat rate), so the marginal cost only rises.
    steps = [(1.0, w.overload)]
    last = 1.0
    for util, multiplier in w.overload_bands:
        steps.append((util, w.overload * (multiplier - last)))
        last = multiplier
    return steps


def overload(load: FloatArray, capacity: FloatArray, w: Weights) -> FloatArray:
    # overload: per worker, the banded cost of the load above capacity.
    load, capacity = np.asarray(load, float), np.asarray(capacity, float)
    cost = np.zeros(len(load))
    for util, rate in overload_steps(w):
        cost += rate * np.maximum(load - util * capacity, 0.0)
    return cost


def months_with_worker(allocated_on: pd.Series, has_worker: BoolArray, plan_date: pd.Timestamp,
                       w: Weights) -> FloatArray:
    # moves: months since allocated_on (days / 30.4375), 0 when unknown or in the future, capped.
    dates = pd.to_datetime(allocated_on.astype(object), errors="coerce")
    days = (plan_date - dates).dt.days.to_numpy(float)
    months = np.clip(np.nan_to_num(days, nan=0.0) / DAYS_PER_MONTH, 0, w.move_months_cap)
    return np.where(has_worker, months, 0.0)


def recent_change_factor(changes: IntArray, w: Weights) -> FloatArray:
    # moves: each change of worker in the 12 months to the plan, up to the cap, adds 0.5 to x1.
    counted = np.minimum(np.asarray(changes, np.int64), w.recent_changes_cap)
    return 1.0 + w.move_factor_recent_change * counted


def move_factor(in_proceedings: BoolArray, looked_after: BoolArray, changes: IntArray,
                w: Weights) -> FloatArray:
    # moves: a move harms more in proceedings (x2), in care (x2) and after recent changes of
    # worker (x1.5 per change, up to 3); the factors multiply.
    return (np.where(in_proceedings, w.move_factor_proceedings, 1.0)
            * np.where(looked_after, w.move_factor_cla, 1.0)
            * recent_change_factor(changes, w))


def second_change_or_more(changes: IntArray, moved: BoolArray) -> BoolArray:
    # children_2plus_changes: the child's changes in 12 months, plus this plan's move, reach 2.
    return np.asarray(changes, np.int64) + np.asarray(moved, np.int64) >= 2


def move(months: FloatArray, factor: FloatArray, forced: BoolArray, w: Weights) -> FloatArray:
    # moves: (move + per month) x factor; a forced move costs only its months x factor.
    return (np.where(forced, 0.0, w.move) + w.move_per_month * np.asarray(months)) \
        * np.asarray(factor)


def peak(peak_utilisation: float, w: Weights) -> float:
    # peak: per percentage point of the highest utilisation over all workers.
    return w.peak * 100 * peak_utilisation


def travel(minutes: FloatArray, km: FloatArray, w: Weights) -> FloatArray:
    # travel: per minute from the travel table where given, else per great-circle km, else 0.
    return np.where(~np.isnan(minutes), w.travel_minute * minutes,
                    np.where(~np.isnan(km), w.travel_km * km, 0.0))


def split_family(n_split: int, w: Weights) -> float:
    # split families: per family whose siblings end with more than one worker.
    return w.split_family * n_split


def previous_change(n_changed: int, w: Weights) -> float:
    # previous plan: per child whose outcome (worker, or none) differs from the plan reviewed.
    return w.previous_change * n_changed


# --- the registry: every cost term declared once -------------------------------------------

NO_WORKER = -1  # a pair whose worker is -1 is the child left unallocated
NO_PREVIOUS = -2  # the child is not in the previous plan (or its worker no longer exists)


@dataclass(frozen=True)
class Pairs:
    """(child, worker) pairs for the per-pair terms, with what they need per pair. Worker -1 is
    "no worker", so one function prices a candidate, leaving a child out, and a finished plan."""

    worker: IntArray
    current: IntArray  # the child's worker before the plan (-1: unallocated)
    previous: IntArray  # the child's worker in the previous plan (NO_PREVIOUS: none)
    months: FloatArray
    factor: FloatArray
    forced: BoolArray
    priority: NDArray[Any]  # "high", "medium", "low"
    minutes: FloatArray  # NaN where the travel table lacks the pair (always for worker -1)
    km: FloatArray  # NaN where a coordinate is missing (always for worker -1)

    @property
    def moving(self) -> BoolArray:
        """The child had a worker and this pair gives it another one, or none."""
        return np.asarray((self.current >= 0) & (self.worker != self.current))


def unallocated_pairs(p: Pairs, w: Weights) -> FloatArray:
    # unallocated: leaving a child without a worker costs its priority's weight.
    return np.where(p.worker < 0, unallocated(pd.Series(p.priority), w), 0.0)


def move_pairs(p: Pairs, w: Weights) -> FloatArray:
    # moves: a pair that changes the child's worker costs the child's move.
    return move(p.months, p.factor, p.forced, w) * p.moving


def travel_pairs(p: Pairs, w: Weights) -> FloatArray:
    # travel: per minute or km between the worker's base and the child (0 without a worker).
    return travel(p.minutes, p.km, w)


def previous_pairs(p: Pairs, w: Weights) -> FloatArray:
    # previous plan: a pair that differs from the child's outcome in the plan reviewed.
    return w.previous_change * ((p.previous != NO_PREVIOUS) & (p.worker != p.previous))


def overload_total(load: FloatArray, capacity: FloatArray, w: Weights) -> float:
    # overload: the banded overload of every worker.
    return float(overload(load, capacity, w).sum())


def peak_of(load: FloatArray, capacity: FloatArray, w: Weights) -> float:
    # peak: the highest utilisation over all workers.
    util = np.asarray(load, float) / np.asarray(capacity, float)
    return peak(float(util.max()) if util.size else 0.0, w)


@dataclass(frozen=True)
class Term:
    """One cost term: its name in `objective_terms`, its label, the weights it reads, and how it
    is priced: per (child, worker) pair, from the workers' loads, or from split families. The
    model, `plan.objective_terms` and `explain` loop over `TERMS`; `check.py` re-derives each
    term from the contract's words and a test holds its names equal to these."""

    name: str
    label: str
    weights: tuple[str, ...]
    pair: Callable[[Pairs, Weights], FloatArray] | None = None
    load: Callable[[FloatArray, FloatArray, Weights], float] | None = None
    family: Callable[[int, Weights], float] | None = None
    needs_previous: bool = False  # only in the objective when a previous plan is in force


TERMS: tuple[Term, ...] = (
    Term("unallocated", "children left without a worker", ("unallocated",),
         pair=unallocated_pairs),
    Term("overload", "overload (banded)", ("overload", "overload_bands"), load=overload_total),
    Term("moves", "changes of worker", ("move", "move_per_month", "move_months_cap",
                                        "move_factor_proceedings", "move_factor_cla",
                                        "move_factor_recent_change", "recent_changes_cap"),
         pair=move_pairs),
    Term("peak", "peak utilisation", ("peak",), load=peak_of),
    Term("travel", "travel", ("travel_km", "travel_minute"), pair=travel_pairs),
    Term("split_family", "split families", ("split_family",), family=split_family),
    Term("previous_plan", "changes from the plan reviewed", ("previous_change",),
         pair=previous_pairs, needs_previous=True),
)
PAIR_TERMS = tuple(t for t in TERMS if t.pair is not None)
LOAD_TERMS = tuple(t for t in TERMS if t.load is not None)


def pair_cost(p: Pairs, w: Weights) -> FloatArray:
    """Every per-pair term of a pair, summed in the registry's order (the solver's pair cost)."""
    total: FloatArray | None = None
    for t in PAIR_TERMS:
        assert t.pair is not None
        cost = t.pair(p, w)
        total = cost if total is None else total + cost
    assert total is not None
    return total
