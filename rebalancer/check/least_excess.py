"""The least total excess over the new-case caps that places every child who had a worker,
found by a small model of the check's own (HiGHS's MIP), so that a plan that says it had to
exceed the caps by more can be caught.

MAX_NEW yields to ONE_WORKER only as far as it must: when the children of leaving or absent
workers outnumber the new-case slots of the workers allowed to take them. A child whose own
worker may keep it never needs a new worker (a move only ever adds new children), so only the
others take part: each must go to one allowed worker (with the siblings who share its worker,
when keep_families binds them and a worker suits them all), and the excess at each worker is
what it receives above its cap. Nothing here is shared with the tool's model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from solvers.lp import quiet_highs

SECONDS = 60.0  # far beyond what these models take; past it the excess is left unchecked


def units_to_place(children: Mapping[str, Mapping[str, Any]], before: Mapping[str, str],
                   allowed: Callable[[str], list[str]], keep_families: bool
                   ) -> list[tuple[int, list[str], str]]:
    """(children in the unit, the workers allowed for all of them, their old worker) for every
    child who had a worker that may not keep it (with its bound siblings)."""
    by_family: dict[tuple[str, str], list[str]] = {}
    for cid, c in children.items():
        if c["family_id"] and before[cid]:
            by_family.setdefault((c["family_id"], before[cid]), []).append(cid)
    units, placed = [], set()
    for cid, old in before.items():
        ok = allowed(cid)
        if not old or cid in placed or not ok or old in ok:
            continue
        group = [cid]
        family = children[cid]["family_id"]
        if keep_families and family:
            siblings = by_family[(family, old)]
            common = set.intersection(*(set(allowed(s)) for s in siblings))
            if common:
                group, ok = siblings, sorted(common)
        placed.update(group)
        units.append((len(group), ok, old))
    return units


def least_excess(units: list[tuple[int, list[str], str]], caps: Mapping[str, int]) -> int | None:
    """The least total excess; None when HiGHS could not prove it in SECONDS."""
    if not units:
        return 0
    import highspy

    workers = sorted({w for _, ok, _ in units for w in ok})
    index = {w: j for j, w in enumerate(workers)}
    h = quiet_highs(highspy)  # an engine that prints nothing: the check's output is the user's
    h.setOptionValue("time_limit", SECONDS)
    h.setOptionValue("threads", 1)
    inf = highspy.kHighsInf
    # one binary per (unit, allowed worker), then one excess per worker
    cols: list[tuple[int, int, int]] = [(u, index[w], n if w != old else 0)
                                        for u, (n, ok, old) in enumerate(units) for w in ok]
    n_x, n_e = len(cols), len(workers)
    cost = np.concatenate([np.zeros(n_x), np.ones(n_e)])
    lower = np.zeros(n_x + n_e)
    upper = np.concatenate([np.ones(n_x), np.full(n_e, inf)])
    h.addVars(n_x + n_e, lower, upper)
    h.changeColsCost(n_x + n_e, np.arange(n_x + n_e, dtype=np.int32), cost)
    h.changeColsIntegrality(n_x, np.arange(n_x, dtype=np.int32),
                            np.full(n_x, highspy.HighsVarType.kInteger))
    by_unit: dict[int, list[int]] = {}
    by_worker: dict[int, list[int]] = {}
    for k, (u, j, _) in enumerate(cols):
        by_unit.setdefault(u, []).append(k)
        by_worker.setdefault(j, []).append(k)
    for ks in by_unit.values():  # each unit goes to one allowed worker
        h.addRow(1.0, 1.0, len(ks), np.array(ks, np.int32), np.ones(len(ks)))
    for w, j in index.items():  # new children at w, less its excess, within its cap
        ks = by_worker[j]
        h.addRow(-inf, float(caps[w]), len(ks) + 1, np.array([*ks, n_x + j], np.int32),
                 np.array([*(float(cols[k][2]) for k in ks), -1.0]))
    h.run()
    if h.modelStatusToString(h.getModelStatus()) != "Optimal":
        return None
    return round(h.getInfo().objective_function_value)
