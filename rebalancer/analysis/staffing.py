"""Staffing what-ifs: the extra FTE that bring every worker within a target utilisation."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rebalancer.analysis.scenarios import Scenario, apply_what_ifs
from rebalancer.config import Config
from rebalancer.io.inputs import load_inputs
from rebalancer.pipeline import InputPaths, plan, write_plan_folder


def staffing(paths: InputPaths, base: Config, out: Path, fmt: str, target: float = 1.0,
             rounds: int = 4, echo: Any = print) -> dict[str, Any]:
    """Extra FTE by locality and grade that bring every worker within `target` utilisation and
    allocate every child: start from the plan's shortfall, add those virtual workers, re-plan,
    and add what is still short, until a re-plan confirms it (or the rounds run out)."""
    import math

    inputs = load_inputs(paths.workers, paths.children, paths.decisions, paths.travel, base,
                         paths.config)
    if target != 1.0:  # utilisation against a target: every capacity scaled by it
        from rebalancer.model.build import worker_capacity

        w = inputs.workers.copy()
        w["capacity_points"] = worker_capacity(w, base.capacity) * target
        inputs = dataclasses.replace(inputs, workers=w)
    added: dict[tuple[str, str], float] = {}
    history = []
    result = plan(inputs, base)
    for rnd in range(rounds + 1):
        k = result.summary["kpis"]["after"]
        history.append({"round": rnd, "fte_added": round(sum(added.values()), 2),
                        "unallocated": k["unallocated"],
                        "total_overload_points": k["total_overload_points"]})
        echo(f"round {rnd}: {sum(added.values()):.1f} FTE added; {k['unallocated']} "
             f"unallocated, {k['total_overload_points']:,.1f} points over")
        need = result.summary["shortfall"]["after"]["by_locality_and_grade"]
        if (k["unallocated"] == 0 and k["total_overload_points"] <= 1e-6) or rnd == rounds:
            break
        for r in need:  # in tenths of an FTE, rounded up
            key = (r["locality"], r["grade"])
            added[key] = added.get(key, 0.0) + math.ceil(r["fte"] * 10) / 10
        spec = []
        for (loc, grade), fte in added.items():
            whole, part = int(fte), round(fte - int(fte), 1)
            if whole:
                spec.append({"locality": loc, "grade": grade, "fte": 1.0, "count": whole})
            if part > 0:
                spec.append({"locality": loc, "grade": grade, "fte": part, "count": 1})
        result = plan(apply_what_ifs(inputs, Scenario("staffing", add_workers=tuple(spec))),
                      base)
    write_plan_folder(out, fmt, result)
    k = result.summary["kpis"]["after"]
    confirmed = k["unallocated"] == 0 and k["total_overload_points"] <= 1e-6
    rec = {"target_utilisation": target, "confirmed": confirmed,
           "total_fte": round(sum(added.values()), 2),
           "by_locality_and_grade": [{"locality": loc, "grade": g, "fte": round(f, 2)}
                                     for (loc, g), f in sorted(added.items())],
           "rounds": history, "plan_folder": str(out)}
    import json

    from rebalancer.io.outputs import atomic_write

    atomic_write(out / "staffing.json",
                 lambda p: p.write_text(json.dumps(rec, indent=2), encoding="utf-8"))
    return rec
