"""The objective, one function per cost term, in the contract's units.

The model turns these into the solver's integer costs, `plan.objective_terms` scores a finished
plan with them, and `explain` prices each alternative with them, so a term is written once.
`check.py` re-derives every term from the contract's words on purpose and does not import this.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rebalancer.config import Weights
from rebalancer.rules import BoolArray, FloatArray, IntArray

DAYS_PER_MONTH = 30.4375
TERMS = ("unallocated", "overload", "moves", "peak", "travel", "split_family")


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
