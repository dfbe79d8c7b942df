"""The calendar of the look-ahead: the weeks of a plan, and who can hold children in each.

Week k (k = 0 … W−1) starts on plan_date + 7k, W = ceil(lookahead_days / 7) (at least 1). A
worker can hold children in week k, starting s, when `available` is not false, `starts_on` is
empty or on or before s, `leaving_on` is empty or after s + horizon_days, and no day from s to
s + horizon_days lies between `away_from` and `away_until` (a handover needs notice). In week 0
this is the AVAILABLE rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rebalancer.config import Config

BoolArray = NDArray[np.bool_]

NEVER = dt.date.max


def week_starts(cfg: Config) -> list[dt.date]:
    return [cfg.plan_date + dt.timedelta(days=7 * k) for k in range(cfg.weeks)]


def _dates(series: pd.Series, empty: dt.date) -> list[dt.date]:
    return [empty if d is None or d != d else d for d in series]


@dataclass(frozen=True)
class Calendar:
    """Per worker and week: may hold children, and if not, why (LEAVING, ABSENT, STARTS)."""

    starts: list[dt.date]
    leaving: BoolArray  # (workers, weeks): leaving within the horizon of the week's start
    absent: BoolArray  # not available, or away within the horizon
    not_started: BoolArray  # starts after the week's start

    @property
    def can_hold(self) -> BoolArray:
        return ~(self.leaving | self.absent | self.not_started)

    @property
    def weeks(self) -> int:
        return len(self.starts)

    def first_blocked(self) -> np.ndarray:
        """Per worker, the first week they cannot hold children (W when none)."""
        blocked = ~self.can_hold
        return np.where(blocked.any(axis=1), blocked.argmax(axis=1), self.weeks)

    def why(self, worker: int, week: int) -> str:
        if self.leaving[worker, week]:
            return "LEAVING"
        if self.not_started[worker, week]:
            return "STARTS"
        return "ABSENT" if self.absent[worker, week] else ""


def calendar(workers: pd.DataFrame, cfg: Config) -> Calendar:
    starts = week_starts(cfg)
    horizon = dt.timedelta(days=cfg.horizon_days)
    n = len(workers)
    leaving_on = _dates(workers["leaving_on"], NEVER)
    starts_on = _dates(workers["starts_on"], dt.date.min)
    away_from = _dates(workers["away_from"], NEVER)
    away_until = _dates(workers["away_until"], NEVER)
    available = workers["available"].to_numpy(bool)
    leaving = np.zeros((n, len(starts)), bool)
    absent = np.zeros((n, len(starts)), bool)
    not_started = np.zeros((n, len(starts)), bool)
    for k, s in enumerate(starts):
        end = s + horizon
        leaving[:, k] = [d <= end for d in leaving_on]
        not_started[:, k] = [d > s for d in starts_on]
        away = [a <= end and u >= s for a, u in zip(away_from, away_until, strict=True)]
        absent[:, k] = ~available | np.asarray(away, bool)
    return Calendar(starts, leaving, absent, not_started)
