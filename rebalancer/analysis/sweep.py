"""Scenario sweeps on a Dask cluster.

Each scenario is one `pipeline.plan` call on a Dask worker, with CP-SAT threads set to that
worker's threads; its plan folder is written as `rebalance` writes one, so it passes `check`
and is byte-identical to a single `rebalance` with the same configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rebalancer.analysis.scenarios import KPI_COLUMNS, Scenario, apply_what_ifs
from rebalancer.config import Config
from rebalancer.io.inputs import load_inputs
from rebalancer.model.kpi import COUNT_KPIS
from rebalancer.pipeline import InputPaths, plan, write_plan_folder
from rebalancer.problems import InputRejected


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
        row.update(status=summary.status, objective=summary.objective,
                   gap=summary.gap, **{k: summary.kpis.after.value(k) for k in KPI_COLUMNS},
                   wall_time=summary.wall_time, threads=cfg.solver.threads, host=host,
                   folder=str(folder), error="")
    except InputRejected as exc:
        row.update(status="error", host=host, error="; ".join(str(p) for p in exc.problems)[:500])
    except Exception as exc:  # a scenario's failure must not stop the others
        row.update(status="error", host=host, error=f"{type(exc).__name__}: {exc}"[:500])
    return row


def write_results(out: Path, rows: list[dict[str, Any]], grid_keys: list[str]) -> pd.DataFrame:
    from rebalancer.io.outputs import atomic_write, write_table

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
    from rebalancer.reports.page import page, pyplot, svg, table

    charts = []
    ok = df[df["status"] != "error"]
    if len(ok) and grid_keys:
        plt = pyplot()
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
            charts.append(svg(fig))
    body = ("<h1>Scenario sweep</h1>" + table(df.drop(columns=["folder"]), set(KPI_COLUMNS))
            + "".join(f"<figure>{c}</figure>" for c in charts))
    return page("Scenario sweep", body)
