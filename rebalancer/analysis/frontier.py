"""The frontier of discretionary moves against overload, by an epsilon-constraint on max_moves."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from rebalancer.config import Config
from rebalancer.io.inputs import Inputs, load_inputs
from rebalancer.io.outputs import claim
from rebalancer.model.summary import lookahead_values
from rebalancer.pipeline import InputPaths, Result, plan, write_plan_folder
from rebalancer.signoff.audit import Trail


def frontier(paths: InputPaths, base: Config, out: Path, fmt: str, points: int = 6,
             echo: Any = print, replace: bool = False) -> pd.DataFrame:
    """The Pareto front of discretionary moves against overload by an epsilon-constraint on
    max_moves: from no discretionary move up to what the unconstrained plan uses, each point
    started from its neighbour's plan (feasible for it), and a point that came out worse than
    its neighbour replaced by it, so overload and objective never rise with the budget."""
    claim(out, replace, "files (an earlier frontier?)")
    out.mkdir(parents=True, exist_ok=True)
    inputs = load_inputs(paths.workers, paths.children, paths.decisions, paths.travel, base,
                         paths.config)
    free = plan(inputs, base.with_overrides({"rules.max_moves": 0}))
    top = int(free.summary.kpis.after.moves_discretionary)
    budgets = sorted({round(top * i / max(points - 1, 1)) for i in range(points)})
    rows = []
    last: Result | None = None
    for b in budgets:
        # max_moves 0 means "no budget"; the point with no discretionary move is the frontier's
        # own: it forbids them by giving every discretionary move a budget of zero
        cfg = base.with_overrides({"rules.max_moves": b if b > 0 else 0})
        warm = None if last is None else pd.Series(
            last.plan["to_worker_id"].to_numpy(object), index=last.plan["child_id"])
        r = _budget_plan(inputs, cfg, b, warm) if b < top else free
        if last is not None and _key(r) > _key(last):
            r = _budget_plan(inputs, cfg, b, warm, keep=last)
        if last is not None and _key(r) > _key(last):  # the neighbour's plan fits this budget
            r = last
        folder = out / f"max_moves-{b}"
        write_plan_folder(folder, fmt, r, Trail.at().hook())
        k = r.summary.kpis.after
        rows.append({"max_moves": b, "moves_discretionary": k.moves_discretionary,
                     "total_overload_points": k.total_overload_points,
                     "workers_over_capacity": k.workers_over_capacity,
                     "peak_utilisation": k.peak_utilisation,
                     "objective": r.summary.objective,
                     "children_2plus_changes": k.children_2plus_changes,
                     **lookahead_values(r.summary.kpis),
                     "folder": str(folder)})
        echo(f"max_moves {b}: {k.moves_discretionary} discretionary, overload "
             f"{k.total_overload_points:,.1f}, objective {r.summary.objective:,.0f}")
        last = r
    df = pd.DataFrame(rows)
    from rebalancer.io.outputs import atomic_write, write_table

    write_table(df, out / "frontier.csv", "csv")
    atomic_write(out / "frontier.png", lambda p: _frontier_png(df, p))
    return df


def _key(r: Result) -> tuple[float, float]:
    return (float(r.summary.kpis.after.total_overload_points), float(r.summary.objective))


def _budget_plan(inputs: Inputs, cfg: Config, budget: int, warm: pd.Series | None,
                 keep: Result | None = None) -> Result:
    """A plan within `budget` discretionary moves (0: none at all), from a warm start; with
    `keep`, the neighbour's plan itself, re-scored under this point's configuration."""
    if budget == 0:
        cfg = cfg.with_overrides({"weights.move": 1e6})  # no discretionary move pays
    start = warm
    if keep is not None:
        start = pd.Series(keep.plan["to_worker_id"].to_numpy(object),
                          index=keep.plan["child_id"])
        cfg = cfg.with_overrides({"solver.time_limit": max(cfg.solver.time_limit / 10, 1.0)})
    return plan(dataclasses.replace(inputs, start=start), cfg)


def _frontier_png(df: pd.DataFrame, path: Path) -> None:
    from rebalancer.reports.page import pyplot

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(df["moves_discretionary"], df["total_overload_points"], marker="o")
    for r in df.itertuples(index=False):
        ax.annotate(str(r.max_moves), (r.moves_discretionary, r.total_overload_points),
                    fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("discretionary changes of social worker")
    ax.set_ylabel("points over capacity (total)")
    ax.set_title("Moves against overload (labels: max_moves)")
    fig.savefig(path, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
