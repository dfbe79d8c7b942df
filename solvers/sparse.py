"""The one sparse index the stages share: entries grouped by a key, in CSR layout."""

from __future__ import annotations

import numpy as np

from solvers.problem import IntArray


def csr(keys: IntArray, n: int) -> tuple[IntArray, IntArray]:
    """Entry indices sorted by key (stable, so ties keep their order) and each key's start
    offset into them: key k's entries are order[starts[k]:starts[k + 1]]."""
    order = np.argsort(keys, kind="stable").astype(np.int64)
    starts = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=starts[1:])
    return order, starts
