"""Staffing what-ifs: the extra FTE that bring every worker within a target utilisation."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rebalancer.analysis.scenarios import Scenario, apply_what_ifs
from rebalancer.config import Config
from rebalancer.io.inputs import load_inputs
from rebalancer.io.outputs import claim
from rebalancer.io.whatifs import WhatIfs
from rebalancer.pipeline import InputPaths, Result, plan, write_plan_folder
from rebalancer.signoff.audit import Trail

ROUNDS = 4  # re-plans at most


def staffing(paths: InputPaths, base: Config, out: Path, fmt: str, target: float = 1.0,
             echo: Any = print, replace: bool = False) -> dict[str, Any]:
    """Extra FTE by locality and grade that bring every worker within `target` utilisation and
    allocate every child: start from the plan's shortfall, add those virtual workers, re-plan,
    and add what is still short, until a re-plan confirms it (or the rounds run out)."""
    import math

    rounds = ROUNDS
    claim(out, replace, "files (an earlier staffing run?)")
    inputs = load_inputs(paths.workers, paths.children, paths.decisions, paths.travel, base,
                         paths.config)
    scaled: tuple[tuple[str, float], ...] = ()
    if target != 1.0:  # utilisation against a target: every capacity scaled by it
        from rebalancer.model.build import worker_capacity

        w = inputs.workers.copy()
        w["capacity_points"] = worker_capacity(w, base.capacity) * target
        inputs = dataclasses.replace(inputs, workers=w)
        scaled = tuple(zip(w["worker_id"], w["capacity_points"].astype(float), strict=True))
    added: dict[tuple[str, str], float] = {}
    skills: dict[tuple[str, str], set[str]] = {}
    history = []
    result = plan(inputs, base)
    first = result
    for line in _skills_lines(_skills_missing(first)):
        echo(line)
    for rnd in range(rounds + 1):
        k = result.summary.kpis.after
        history.append({"round": rnd, "fte_added": round(sum(added.values()), 2),
                        "unallocated": k.unallocated,
                        "total_overload_points": k.total_overload_points})
        echo(f"round {rnd}: {sum(added.values()):.1f} FTE added; {k.unallocated} "
             f"unallocated, {k.total_overload_points:,.1f} points over")
        need = result.summary.shortfall.after.by_locality_and_grade
        if (k.unallocated == 0 and k.total_overload_points <= 1e-6) or rnd == rounds:
            break
        for r in need:  # in tenths of an FTE, rounded up
            key = (r.locality, r.grade)
            added[key] = added.get(key, 0.0) + math.ceil(r.fte * 10) / 10
            skills.setdefault(key, set()).update(r.skills)
        spec = []
        for (loc, grade), fte in added.items():
            whole, part = int(fte), round(fte - int(fte), 1)
            tags = tuple(sorted(skills.get((loc, grade), set())))
            if whole:
                spec.append({"locality": loc, "grade": grade, "fte": 1.0, "count": whole,
                             "skills": tags})
            if part > 0:
                spec.append({"locality": loc, "grade": grade, "fte": part, "count": 1,
                             "skills": tags})
        staff = Scenario("staffing", add_workers=tuple(spec))
        result = plan(apply_what_ifs(inputs, staff), base)
        recorded = dataclasses.replace(staff.what_ifs, capacity_points=scaled)
        result.summary = dataclasses.replace(result.summary, what_ifs=recorded)
    if scaled and result.summary.what_ifs is None:  # no worker added: the target still holds
        result.summary = dataclasses.replace(
            result.summary, what_ifs=WhatIfs(capacity_points=scaled))
    write_plan_folder(out, fmt, result, Trail.at().hook())
    k = result.summary.kpis.after
    confirmed = k.unallocated == 0 and k.total_overload_points <= 1e-6
    rec = {"target_utilisation": target, "confirmed": confirmed,
           "total_fte": round(sum(added.values()), 2),
           "by_locality_and_grade": [{"locality": loc, "grade": g, "fte": round(f, 2),
                                      "skills": sorted(skills.get((loc, g), set()))}
                                     for (loc, g), f in sorted(added.items())],
           "skills_no_worker_has": _skills_missing(first),
           "rounds": history, "plan_folder": str(out)}
    import json

    from rebalancer.io.outputs import atomic_write

    atomic_write(out / "staffing.json",
                 lambda p: p.write_text(json.dumps(rec, indent=2), encoding="utf-8"))
    return rec


def _skills_missing(result: Result) -> list[dict[str, Any]]:
    """Children no added FTE of the usual kind can take: they need skills no worker in their
    area has (each with its locality and the skills), so the workers proposed carry them."""
    cm = result.model
    assert cm is not None  # a rebalance's result always has its model
    ch = cm.frame.children
    rule = cm.empty_rule.to_numpy(object)
    return [{"child_id": str(ch["child_id"].iat[i]), "locality": str(ch["locality"].iat[i]),
             "skills": sorted(ch["required_skills"].iat[i])}
            for i in range(len(ch)) if rule[i] == "SKILLS"]


def _skills_lines(missing: list[dict[str, Any]]) -> list[str]:
    if not missing:
        return []
    lines = [f"{len(missing)} child(ren) need skills no worker in their area has; the workers "
             "proposed carry them:"]
    lines += [f"  {m['child_id']} in {m['locality'][:24]}: {', '.join(m['skills'])}"
              for m in missing[:20]]
    if len(missing) > 20:
        lines.append(f"  ... and {len(missing) - 20} more in staffing.json")
    return lines
