"""Analysts: scenario sweeps on a Dask cluster, the frontier of moves against overload,
staffing what-ifs, and comparing plans.

Each scenario is one `pipeline.plan` call on a Dask worker, with CP-SAT threads set to that
worker's threads; its plan folder is written as `rebalance` writes one, so it passes `check`
and is byte-identical to a single `rebalance` with the same configuration.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rebalancer.config import Config
from rebalancer.inputs import Inputs, load_inputs
from rebalancer.kpi import COUNT_KPIS, KPI_NAMES
from rebalancer.pipeline import InputPaths, Result, plan, write_plan_folder
from rebalancer.problems import InputRejected, Problem, shown

KPI_COLUMNS = KPI_NAMES
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=-]{0,63}$")
WHAT_IFS = {"overrides", "add_workers", "remove_team", "cancel_leaver"}


@dataclass(frozen=True)
class Scenario:
    """One configuration and staffing what-if to plan."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, Any] = field(default_factory=dict)
    add_workers: tuple[dict[str, Any], ...] = ()
    remove_team: tuple[str, ...] = ()
    cancel_leaver: tuple[str, ...] = ()


def _value(text: str) -> Any:
    """A grid value as TOML reads it: 300 -> int, 1.5 -> float, true -> bool, else text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"{item!r}: write KEY=V1,V2,... e.g. weights.move=100,300")
        key, values = item.split("=", 1)
        grid[key.strip()] = [_value(v.strip()) for v in values.split(",") if v.strip()]
    return grid


def load_scenarios(path: Path) -> list[Scenario]:
    """[scenario.NAME] tables: overrides = {dotted key = value}, add_workers = [{locality, grade,
    fte, count}], remove_team = [...], cancel_leaver = [...]."""
    file = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputRejected([Problem(file, "-", "-", f"cannot be read ({type(exc).__name__})",
                                     "give a TOML file of [scenario.NAME] tables")]) from None
    problems = []
    out = []
    for name, spec in raw.get("scenario", {}).items():
        if not SAFE_NAME.match(name):
            problems.append(Problem(file, "-", f"scenario.{shown(name)[1:-1]}", "not a usable "
                                    "name", "use letters, digits, '-', '_' (it names a folder)"))
            continue
        bad = set(spec) - WHAT_IFS
        if bad:
            problems.append(Problem(file, "-", f"scenario.{name}", "unknown key(s) "
                                    f"{', '.join(sorted(bad))}",
                                    f"use {', '.join(sorted(WHAT_IFS))}"))
            continue
        out.append(Scenario(name, dict(spec.get("overrides", {})), {},
                            tuple(spec.get("add_workers", [])),
                            tuple(spec.get("remove_team", [])),
                            tuple(spec.get("cancel_leaver", []))))
    extra = set(raw) - {"scenario"}
    if extra:
        problems.append(Problem(file, "-", ", ".join(sorted(extra)), "unknown section",
                                "put each scenario under [scenario.NAME]"))
    if problems:
        raise InputRejected(problems)
    return out


def scenarios(grid: dict[str, list[Any]], named: list[Scenario]) -> list[Scenario]:
    """Every named scenario (or a base one) crossed with the product of the grid."""
    bases = named or [Scenario("base")]
    keys = list(grid)
    combos = list(itertools.product(*grid.values())) if keys else [()]
    out = []
    for base in bases:
        for i, combo in enumerate(combos, start=1):
            values = dict(zip(keys, combo, strict=True))
            name = base.name if not keys else f"{base.name}-{i:03d}"
            out.append(dataclasses.replace(base, name=name, grid=values,
                                           overrides={**base.overrides, **values}))
    return out


def apply_what_ifs(inputs: Inputs, s: Scenario) -> Inputs:
    """Staffing what-ifs on the tables in memory: virtual workers, a team removed, a leaver
    who stays."""
    w = inputs.workers.copy()
    c = inputs.children.copy()
    if s.cancel_leaver:
        unknown = set(s.cancel_leaver) - set(w["worker_id"])
        if unknown:
            raise InputRejected([Problem("scenario " + s.name, "-", "cancel_leaver",
                                         f"unknown worker(s) {', '.join(sorted(unknown))}",
                                         "name workers of the workers table")])
        w.loc[w["worker_id"].isin(s.cancel_leaver), "leaving_on"] = None
    if s.remove_team:
        gone = w["team"].isin(s.remove_team)
        c.loc[c["current_worker_id"].isin(set(w.loc[gone, "worker_id"])),
              ["current_worker_id", "allocated_on"]] = ["", None]
        c.loc[c["pinned"] & (c["current_worker_id"] == ""), "pinned"] = False
        w = w[~gone]
    rows = []
    for j, spec in enumerate(s.add_workers):
        for k in range(int(spec.get("count", 1))):
            rows.append({"worker_id": f"NEW-{j + 1}-{k + 1}",
                         "team": spec.get("team", f"{spec['locality']} (new)"),
                         "locality": spec["locality"], "grade": spec.get("grade", "sw"),
                         "fte": float(spec.get("fte", 1.0)), "agency": False,
                         "capacity_points": float("nan"), "reduction_pct": 0.0,
                         "available": True, "leaving_on": None, "base_lat": float("nan"),
                         "base_lon": float("nan"), "skills": tuple(spec.get("skills", ())),
                         "max_new_cases": float("nan"), "_row": f"virtual worker {j + 1}"})
    if rows:
        w = pd.concat([w, pd.DataFrame(rows)], ignore_index=True)
    return dataclasses.replace(inputs, workers=w.reset_index(drop=True),
                               children=c.reset_index(drop=True))


def run_scenario(paths: InputPaths, base: Config, s: Scenario, out: Path, fmt: str,
                 time_limit: float | None, threads: int | None = None) -> dict[str, Any]:
    """One row of the results; a scenario that fails has its error in its row."""
    import socket

    host = socket.gethostname()
    try:
        from distributed import get_worker

        worker = get_worker()
        host, threads = worker.address, threads or worker.state.nthreads
    except (ImportError, ValueError):
        pass
    row: dict[str, Any] = {"scenario": s.name, **s.grid}
    try:
        overrides = dict(s.overrides)
        if time_limit is not None:
            overrides["solver.time_limit"] = time_limit
        if threads is not None:
            overrides["solver.threads"] = threads
        cfg = base.with_overrides(overrides)
        inputs = load_inputs(paths.workers, paths.children, paths.decisions, paths.travel, cfg,
                             paths.config)
        result = plan(apply_what_ifs(inputs, s), cfg)
        folder = out / s.name
        write_plan_folder(folder, fmt, result)
        summary = result.summary
        row.update(status=summary["status"], objective=summary["objective"],
                   gap=summary["gap"], **{k: summary["kpis"]["after"][k] for k in KPI_COLUMNS},
                   wall_time=summary["wall_time"], threads=cfg.solver.threads, host=host,
                   folder=str(folder), error="")
    except InputRejected as exc:
        row.update(status="error", host=host, error="; ".join(str(p) for p in exc.problems)[:500])
    except Exception as exc:  # a scenario's failure must not stop the others
        row.update(status="error", host=host, error=f"{type(exc).__name__}: {exc}"[:500])
    return row


def write_results(out: Path, rows: list[dict[str, Any]], grid_keys: list[str]) -> pd.DataFrame:
    from rebalancer.outputs import atomic_write, write_table

    cols = ["scenario", *grid_keys, "status", "objective", "gap", *KPI_COLUMNS, "wall_time",
            "threads", "host", "folder", "error"]
    df = pd.DataFrame(rows).reindex(columns=cols)
    df = df.sort_values("scenario", kind="stable").reset_index(drop=True)
    for col in (*COUNT_KPIS, "threads"):
        df[col] = df[col].astype("Int64")  # counts stay whole numbers beside failed rows
    write_table(df.astype({k: object for k in grid_keys}), out / "results.csv", "csv")
    pq_df = df.copy()
    for k in grid_keys:
        pq_df[k] = pq_df[k].astype(str)
    write_table(pq_df, out / "results.parquet", "parquet")
    atomic_write(out / "sweep.html", lambda p: p.write_text(sweep_page(df, grid_keys),
                                                            encoding="utf-8"))
    return df


def sweep(paths: InputPaths, base: Config, todo: list[Scenario], out: Path, fmt: str,
          time_limit: float | None, scheduler: str | None, grid_keys: list[str],
          echo: Any = print) -> pd.DataFrame:
    """Run every scenario on a Dask cluster (a LocalCluster sized to the machine unless a
    scheduler address is given); rows are written as they finish, so Ctrl-C keeps them."""
    from distributed import Client, LocalCluster, as_completed

    out.mkdir(parents=True, exist_ok=True)
    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="20s")
    else:
        import os

        cores = max(1, os.cpu_count() or 1)
        cluster = LocalCluster(n_workers=cores, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    rows: list[dict[str, Any]] = []
    try:
        futures = [client.submit(run_scenario, paths, base, s, out, fmt, time_limit,
                                 key=f"scenario-{s.name}", pure=False) for s in todo]
        try:
            for fut in as_completed(futures):
                row = fut.result()
                rows.append(row)
                write_results(out, rows, grid_keys)
                echo(f"{row['scenario']}: {row['status']}"
                     + (f", objective {row['objective']:,.0f}" if row.get("objective") == row.get(
                         "objective") and row.get("objective") is not None else "")
                     + (f" ({row['error'][:120]})" if row.get("error") else ""))
        except KeyboardInterrupt:
            client.cancel(futures)
            echo(f"interrupted: {len(rows)} of {len(todo)} scenarios finished and kept")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return write_results(out, rows, grid_keys)


def sweep_page(df: pd.DataFrame, grid_keys: list[str]) -> str:
    """sweep.html: the results table and, per grid key, each KPI against its values."""
    import html

    from rebalancer.htmlreport import CSS, _svg, _table

    charts = []
    ok = df[df["status"] != "error"]
    if len(ok) and grid_keys:
        import matplotlib

        matplotlib.use("Agg")
        matplotlib.rcParams["svg.fonttype"] = "path"
        matplotlib.rcParams["svg.hashsalt"] = "rebalancer"
        import matplotlib.pyplot as plt

        for key in grid_keys:
            fig, axes = plt.subplots(1, 3, figsize=(11, 2.8))
            for ax, kpi in zip(axes, ("objective", "total_overload_points",
                                      "moves_discretionary"), strict=True):
                for other, g in ok.groupby([k for k in grid_keys if k != key] or
                                           (lambda _: ""), sort=True):
                    g = g.sort_values(key)
                    ax.plot(g[key].astype(str), g[kpi].astype(float), marker="o",
                            label=str(other))
                ax.set_title(kpi, fontsize=9)
                ax.set_xlabel(key, fontsize=8)
            charts.append(_svg(fig))
    body = ("<h1>Scenario sweep</h1>" + _table(df.drop(columns=["folder"]), set(KPI_COLUMNS))
            + "".join(f"<figure>{c}</figure>" for c in charts))
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; "
            "style-src 'unsafe-inline'\">"
            f"<title>{html.escape('Scenario sweep')}</title><style>{CSS}</style></head>"
            f"<body>{body}</body></html>")


def frontier(paths: InputPaths, base: Config, out: Path, fmt: str, points: int = 6,
             echo: Any = print) -> pd.DataFrame:
    """The Pareto front of discretionary moves against overload by an epsilon-constraint on
    max_moves: from no discretionary move up to what the unconstrained plan uses, each point
    started from its neighbour's plan (feasible for it), and a point that came out worse than
    its neighbour replaced by it, so overload and objective never rise with the budget."""
    out.mkdir(parents=True, exist_ok=True)
    inputs = load_inputs(paths.workers, paths.children, paths.decisions, paths.travel, base,
                         paths.config)
    free = plan(inputs, base.with_overrides({"rules.max_moves": 0}))
    top = int(free.summary["kpis"]["after"]["moves_discretionary"])
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
        write_plan_folder(folder, fmt, r)
        k = r.summary["kpis"]["after"]
        rows.append({"max_moves": b, "moves_discretionary": k["moves_discretionary"],
                     "total_overload_points": k["total_overload_points"],
                     "workers_over_capacity": k["workers_over_capacity"],
                     "peak_utilisation": k["peak_utilisation"],
                     "objective": r.summary["objective"],
                     "children_2plus_changes": k["children_2plus_changes"],
                     "folder": str(folder)})
        echo(f"max_moves {b}: {k['moves_discretionary']} discretionary, overload "
             f"{k['total_overload_points']:,.1f}, objective {r.summary['objective']:,.0f}")
        last = r
    df = pd.DataFrame(rows)
    from rebalancer.outputs import atomic_write, write_table

    write_table(df, out / "frontier.csv", "csv")
    atomic_write(out / "frontier.png", lambda p: _frontier_png(df, p))
    return df


def _key(r: Result) -> tuple[float, float]:
    return (float(r.summary["kpis"]["after"]["total_overload_points"]),
            float(r.summary["objective"]))


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


def staffing(paths: InputPaths, base: Config, out: Path, fmt: str, target: float = 1.0,
             rounds: int = 4, echo: Any = print) -> dict[str, Any]:
    """Extra FTE by locality and grade that bring every worker within `target` utilisation and
    allocate every child: start from the plan's shortfall, add those virtual workers, re-plan,
    and add what is still short, until a re-plan confirms it (or the rounds run out)."""
    import math

    inputs = load_inputs(paths.workers, paths.children, paths.decisions, paths.travel, base,
                         paths.config)
    if target != 1.0:  # utilisation against a target: every capacity scaled by it
        from rebalancer.model import worker_capacity

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

    from rebalancer.outputs import atomic_write

    atomic_write(out / "staffing.json",
                 lambda p: p.write_text(json.dumps(rec, indent=2), encoding="utf-8"))
    return rec


def compare(a: Path, b: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """KPI deltas side by side, and every child whose outcome differs, with both explanations."""
    from rebalancer.planfolder import read_plan_folder

    pa, pb = read_plan_folder(a), read_plan_folder(b)
    ka, kb = pa.summary["kpis"]["after"], pb.summary["kpis"]["after"]
    rows = [("objective", pa.summary["objective"], pb.summary["objective"])]
    rows += [(k, ka.get(k), kb.get(k)) for k in KPI_COLUMNS]
    kpis = pd.DataFrame(rows, columns=["kpi", "a", "b"], dtype=object)  # counts stay ints
    kpis["delta"] = [None if x is None or y is None else y - x
                     for x, y in zip(kpis["a"], kpis["b"], strict=True)]
    m = pa.plan.merge(pb.plan, on="child_id", how="outer", suffixes=("_a", "_b"))
    diff = m[m["to_worker_id_a"].fillna("") != m["to_worker_id_b"].fillna("")]
    cols = ["child_id", "from_worker_id_a", "to_worker_id_a", "to_worker_id_b", "reasons_a",
            "reasons_b", "explanation_a", "explanation_b"]
    return kpis, diff.reindex(columns=cols).reset_index(drop=True)
