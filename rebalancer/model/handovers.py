"""Handovers the baseline lacks, scheduled by a rule before today's children are placed.

A child whose worker leaves or goes away within the look-ahead, and whose baseline (the plan in
force, or today's caseloads) does not hand it over, must change worker in that week. Planning
those handovers well is the monthly rebalance's work; an allocation only needs them made, so
that every rule holds in every week, and it makes them by a rule rather than a search: unit by
unit (siblings sharing the worker together), in week order, each goes to the eligible worker
who can hold children to the end of the look-ahead and whose load it raises least in overload
cost and travel (MAX_NEW per week respected where any such worker has room), or, where none
can, to none. Today's children are then placed exactly on top (`allocate.placement`).
"""

from __future__ import annotations

import numpy as np

from rebalancer.io.inputs import Inputs
from rebalancer.model import rules, terms
from rebalancer.model.allocate import Unit, units_to_place, without
from rebalancer.model.rules import IntArray
from rebalancer.model.weekly import County


def split(cy: County, inputs: Inputs, base: IntArray) -> tuple[list[Unit], list[Unit]]:
    """The units to place: today's (new children, and children whose worker cannot keep them
    now), and the later handovers of children who are not new."""
    units = units_to_place(cy, inputs, base)
    later = [u for u in units if u.start > 0 and u.prev >= 0]
    return [u for u in units if not (u.start > 0 and u.prev >= 0)], later


def scheduled(cy: County, base: IntArray, units: list[Unit]) -> tuple[IntArray, list[int]]:
    """The baseline with every later handover made, and the children handed over."""
    if not units:
        return base, []
    course, load, room = without(cy, base, units)
    handed: list[int] = []
    for u in sorted(units, key=lambda u: (u.start, u.members[0])):
        w = _choose(cy, u, load, room)
        course[u.members, u.start:] = w
        if w >= 0:
            load[w, u.start:] += float(cy.points[u.members].sum())
            room[w, u.start] -= len(u.members)
        handed += u.members
    return course, handed


def _choose(cy: County, u: Unit, load: np.ndarray, room: IntArray) -> int:
    """The eligible worker who holds children from the unit's week to the end and adds least
    (overload cost over those weeks, then travel), within MAX_NEW if any can be; -1: none."""
    s = u.start
    can = cy.cal.can_hold[u.eligible, s:].all(axis=1)
    cands = u.eligible[can]
    if not len(cands):
        return -1
    within = cands[room[cands, s] >= len(u.members)]
    if len(within):
        cands = within
    elif u.prev < 0:  # an allocation waits rather than go over MAX_NEW
        return -1
    pts = float(cy.points[u.members].sum())
    w = cy.cfg.weights
    cap = cy.capacity[cands][:, None]
    now = load[cands, s:]
    added = (terms.overload((now + pts).ravel(), np.repeat(cap, now.shape[1], axis=1).ravel(), w)
             - terms.overload(now.ravel(), np.repeat(cap, now.shape[1], axis=1).ravel(), w))
    cost = added.reshape(now.shape).sum(axis=1)
    m = np.array(u.members)
    minutes, km = rules.travel(cy.frame, np.repeat(m, len(cands)), np.tile(cands, len(m)))
    travel = terms.travel(minutes, km, w).reshape(len(m), len(cands)).sum(axis=0)
    cost = cost + travel * now.shape[1]
    order = np.lexsort((cands, now[:, 0] / cap[:, 0], cost))
    return int(cands[order[0]])
