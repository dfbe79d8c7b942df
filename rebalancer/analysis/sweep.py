"""Scenario sweeps on a Dask cluster.

Each scenario is one `pipeline.plan` call on a Dask worker, with CP-SAT threads set to that
worker's threads; its plan folder is written as `rebalance` writes one, so it passes `check`
and is byte-identical to a single `rebalance` with the same configuration.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rebalancer.analysis.scenarios import (
    KPI_COLUMNS,
    MAX_SCENARIOS,
    Scenario,
    apply_what_ifs,
    load_scenarios,
    parse_grid,
    repeated,
    scenarios,
)
from rebalancer.config import Config, unknown_dotted_keys
from rebalancer.io.inputs import load_inputs
from rebalancer.io.outputs import claim
from rebalancer.io.whatifs import check_what_ifs
from rebalancer.model.kpi import COUNT_KPIS
from rebalancer.model.summary import LOOKAHEAD_COLUMNS, lookahead_values
from rebalancer.pipeline import InputPaths, plan, write_plan_folder
from rebalancer.problems import InputRejected, Problem, UsageError
from rebalancer.signoff.audit import Trail

CANCELLED = "cancelled"  # a scenario stopped by Ctrl-C on its sweep: no row, no folder


class _Cancel:
    """A local stop set when the sweep's Dask Event is set (Ctrl-C on the sweep): polled by a
    thread beside the scenario, so a solve on any worker of any cluster stops within a second."""

    def __init__(self, name: str | None) -> None:
        self.stop = threading.Event()
        self.done = threading.Event()
        self.thread: threading.Thread | None = None
        if name is None:
            return
        from distributed import Event

        event = Event(name)
        _ = event.client  # bound here, on the task's thread, where the worker's client is known
        self.thread = threading.Thread(target=self._poll, args=(event,), daemon=True)
        self.thread.start()

    def _poll(self, event: Any) -> None:
        while not self.done.is_set():
            try:
                if event.wait(timeout=0.5):
                    self.stop.set()
                    return
            except Exception:  # the scheduler is gone: the sweep's own end closes the worker
                return

    def close(self) -> None:
        self.done.set()
        if self.thread is not None:
            self.thread.join(timeout=5)


def run_scenario(paths: InputPaths, base: Config, s: Scenario, out: Path, fmt: str,
                 time_limit: float | None, threads: int | None = None,
                 expected: dict[str, str] | None = None, cancel: str | None = None
                 ) -> dict[str, Any]:
    """One row of the results; a scenario that fails has its error in its row. When the
    sweep's `cancel` Event is set, the scenario stops and writes nothing (status cancelled)."""
    import socket

    host = socket.gethostname()
    try:
        from distributed import get_worker

        worker = get_worker()
        host, threads = worker.address, threads or worker.state.nthreads
    except (ImportError, ValueError):
        pass
    row: dict[str, Any] = {"scenario": s.name, **s.grid}
    watch = _Cancel(cancel)
    try:
        overrides = dict(s.overrides)
        if time_limit is not None:
            overrides["solver.time_limit"] = time_limit
        if threads is not None:
            overrides["solver.threads"] = threads
        cfg = base.with_overrides(overrides)
        _same_files_here(expected or {})
        inputs = load_inputs(paths.workers, paths.children, paths.decisions, paths.travel, cfg,
                             paths.config)
        result = plan(apply_what_ifs(inputs, s), cfg, stop=watch.stop)
        if watch.stop.is_set():  # its plan is not the scenario's: nothing lands
            row.update(status=CANCELLED, host=host)
            return row
        if s.what_ifs:  # recorded, so explain, check and review work on the folder
            result.summary = dataclasses.replace(result.summary,
                                                 what_ifs=s.what_ifs)
        folder = out / s.name
        write_plan_folder(folder, fmt, result, Trail.at().hook())
        summary = result.summary
        row.update(status=summary.status, objective=summary.objective,
                   gap=summary.gap, **{k: summary.kpis.after.value(k) for k in KPI_COLUMNS},
                   **lookahead_values(summary.kpis),
                   reproducible=summary.solver.reproducible, work=summary.solver.work,
                   plan_sha256=summary.plan_file.sha256,
                   wall_time=summary.wall_time, threads=cfg.solver.threads, host=host,
                   folder=str(folder), error="")
    except InputRejected as exc:
        row.update(status="error", host=host, error="; ".join(str(p) for p in exc.problems)[:500])
    except KeyboardInterrupt:  # stopped before any plan existed
        row.update(status=CANCELLED, host=host)
    except Exception as exc:  # a scenario's failure must not stop the others
        row.update(status="error", host=host, error=f"{type(exc).__name__}: {exc}"[:500])
    finally:
        watch.close()
    return row


def _same_files_here(expected: dict[str, str]) -> None:
    """The inputs this worker reads are the ones the sweep was started with (by sha256)."""
    from rebalancer.io.inputs import file_sha256

    for path, sha in expected.items():
        p = Path(path)
        if not p.is_file() or file_sha256(p) != sha:
            raise InputRejected([Problem(path, "-", "-", "is missing or differs on this Dask "
                                         "worker from the file the sweep was started with",
                                         "give the workers the same files, at the same "
                                         "absolute paths")])


def _remove_stale(out: Path, names: set[str]) -> None:
    """A reused output folder keeps no scenario of an earlier sweep: plan folders its
    results.csv lists and this sweep does not plan are removed."""
    import shutil

    old = out / "results.csv"
    if not old.is_file():
        return
    try:
        listed = pd.read_csv(old, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, ValueError):
        return
    for name in set(listed.get("scenario", pd.Series(dtype=str))) - names:
        folder = out / str(name)
        if folder.parent == out and (folder / "summary.json").is_file():
            shutil.rmtree(folder)


def _finished_on_disk(out: Path, todo: list[Scenario], have: set[str], base: Config
                      ) -> list[dict[str, Any]]:
    """Scenarios whose plan folders landed before an interrupt, though their rows had not
    come back: kept, from their own summary.json."""
    import json

    from rebalancer.model.summary import Summary

    rows = []
    for s in todo:
        summary_file = out / s.name / "summary.json"
        if s.name in have or not summary_file.is_file():
            continue
        summary = Summary.from_json(json.loads(summary_file.read_text(encoding="utf-8")))
        rows.append({"scenario": s.name, **s.grid, "status": summary.status,
                     "objective": summary.objective, "gap": summary.gap,
                     **{k: summary.kpis.after.value(k) for k in KPI_COLUMNS},
                     **lookahead_values(summary.kpis),
                     "reproducible": summary.solver.reproducible, "work": summary.solver.work,
                     "plan_sha256": summary.plan_file.sha256, "wall_time": summary.wall_time,
                     "threads": base.solver.threads, "host": "", "folder": str(out / s.name),
                     "error": ""})
    return rows


def write_results(out: Path, rows: list[dict[str, Any]], grid_keys: list[str]) -> pd.DataFrame:
    from rebalancer.io.outputs import atomic_write, write_table

    cols = ["scenario", *grid_keys, "status", "reproducible", "objective", "gap", *KPI_COLUMNS,
            *LOOKAHEAD_COLUMNS, "work", "wall_time", "threads", "host", "plan_sha256",
            "folder", "error"]
    df = pd.DataFrame(rows).reindex(columns=cols)
    df = df.sort_values("scenario", kind="stable").reset_index(drop=True)
    for col in (*COUNT_KPIS, *LOOKAHEAD_COLUMNS, "threads"):
        df[col] = df[col].astype("Int64")  # counts stay whole numbers beside failed rows
    df["reproducible"] = df["reproducible"].astype("boolean")
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

    from rebalancer.io.inputs import file_sha256

    # a Dask worker may run elsewhere: absolute paths, and the inputs' sha256 checked there
    out = out.resolve()
    def absolute(p: Path | None) -> Path | None:
        return None if p is None else p.resolve()

    paths = InputPaths(paths.workers.resolve(), paths.children.resolve(),
                       absolute(paths.decisions), absolute(paths.travel), absolute(paths.config))
    expected = {str(p): file_sha256(p) for p in paths.all()}
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale(out, {s.name for s in todo})
    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="20s")
    else:
        import os

        cores = max(1, os.cpu_count() or 1)
        cluster = LocalCluster(n_workers=cores, threads_per_worker=1, processes=True,
                               dashboard_address=":0")  # any free port: never 8787's warning
        client = Client(cluster)
    rows: list[dict[str, Any]] = []
    interrupted = False
    cancel = f"rebalancer-sweep-cancel-{uuid.uuid4().hex}"
    try:
        futures = [client.submit(run_scenario, paths, base, s, out, fmt, time_limit,
                                 None, expected, cancel, key=f"scenario-{s.name}", pure=False)
                   for s in todo]
        try:
            for fut in as_completed(futures):
                _take(fut.result(), rows, out, grid_keys, echo)
        except KeyboardInterrupt:
            interrupted = True
            rows += _stop_all(client, cancel, [f for f in futures if not f.done()])
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if interrupted:
        # once every worker has stopped: each folder that landed whole is a row of the table,
        # and a folder a stopped scenario left half-written (no summary.json) is removed
        rows += _finished_on_disk(out, todo, {r["scenario"] for r in rows}, base)
        _remove_unfinished(out, todo, {r["scenario"] for r in rows})
        echo(f"interrupted: {len(rows)} of {len(todo)} scenarios finished and kept")
    return write_results(out, rows, grid_keys)


def _take(row: dict[str, Any], rows: list[dict[str, Any]], out: Path, grid_keys: list[str],
          echo: Any) -> None:
    """A scenario's row, written to the table at once (so Ctrl-C keeps it) and said."""
    rows.append(row)
    write_results(out, rows, grid_keys)
    echo(f"{row['scenario']}: {row['status']}"
         + (f", objective {row['objective']:,.0f}" if row.get("objective") == row.get(
             "objective") and row.get("objective") is not None else "")
         + (f" ({row['error'][:120]})" if row.get("error") else ""))


STOP_WAIT = 60.0  # seconds the scenarios have to stop after Ctrl-C (a solve stops in one)


def _stop_all(client: Any, cancel: str, running: list[Any]) -> list[dict[str, Any]]:
    """Ctrl-C: tell every scenario to stop (a Dask Event they watch, on any cluster), then wait
    for them: one that finished its folder meanwhile is a row; a stopped one wrote nothing. A
    second Ctrl-C, or a scenario that does not stop in time, is cancelled as it stands."""
    from distributed import Event, wait

    Event(cancel, client=client).set()
    rows: list[dict[str, Any]] = []
    with contextlib.suppress(KeyboardInterrupt, TimeoutError):
        wait(running, timeout=STOP_WAIT)
    for fut in running:
        if fut.done() and fut.status == "finished":
            row = fut.result()
            if row.get("status") != CANCELLED:
                rows.append(row)
    client.cancel([f for f in running if not f.done()])
    return rows


def _remove_unfinished(out: Path, todo: list[Scenario], kept: set[str]) -> None:
    """The folders of scenarios that did not finish: never a plan without its summary."""
    import shutil

    for s in todo:
        folder = out / s.name
        if s.name not in kept and folder.is_dir() and not (folder / "summary.json").is_file():
            shutil.rmtree(folder)


# what the page's table shows (results.csv has every column): the scenario's name carries its
# grid values, so the page fits a 1280-pixel screen
PAGE_COLUMNS = ["scenario", "status", "reproducible", "objective", "gap", "unallocated",
                "workers_over_capacity", "total_overload_points", "peak_utilisation",
                "children_2plus_changes", "moves", "moves_discretionary", "wall_time"]


SHORT = {"scenario": "scenario", "status": "status", "reproducible": "reproducible",
         "objective": "objective", "gap": "gap", "unallocated": "unallocated",
         "workers_over_capacity": "over capacity", "total_overload_points": "overload pts",
         "peak_utilisation": "peak", "children_2plus_changes": "2+ changes", "moves": "moves",
         "moves_discretionary": "discretionary", "wall_time": "wall", "error": "error"}


def sweep_page(df: pd.DataFrame, grid_keys: list[str]) -> str:
    """sweep.html: the results a person can read at 1280 pixels (numbers formatted, rows the
    clock decided marked), the spread of repeated scenarios, and each KPI against each grid key
    with the axis from zero and the gap as a band on the objective."""
    from rebalancer.reports.page import page, pyplot, svg, table

    df = _in_grid_order(df, grid_keys)
    ok = df[df["status"] != "error"]
    parts = ["<h1>Scenario sweep</h1>",
             "<p class=note>Rows marked <b>NO</b> under reproducible were cut by the clock: a "
             "re-run may differ. Give <code>--work</code> for rows that re-run identically."
             "</p>", *_gap_warning(ok),
             "<div style='overflow-x:auto'>",
             table(_readable(df, grid_keys)[PAGE_COLUMNS + (["error"] if df["error"].fillna("")
                                                              .astype(bool).any() else [])]
                   .rename(columns=SHORT), {SHORT[c] for c in PAGE_COLUMNS[3:]}, cls="sweep"),
             "</div>"]
    spread = _spread(ok)
    if spread is not None:
        parts += ["<h2>Spread across repeats</h2>", table(spread, set(spread.columns) - {
            "scenario"})]
    if len(ok) and grid_keys:
        plt = pyplot()
        for key in grid_keys:
            parts.append(f"<h2>Against {key}</h2><figure class=wide>"
                         f"{svg(_charts(plt, ok, key, grid_keys))}</figure>")
    return page("Scenario sweep", "".join(parts))


# A row this far from the best possible plan may differ from its neighbours by the search
# rather than by the scenario.
GAP_WARNING = 0.02


CHART_TITLES = {"objective": "objective (band: the gap)",
                "moves_discretionary": "discretionary changes of worker",
                "children_2plus_changes": "children with 2+ changes in 12 months"}


def _in_grid_order(df: pd.DataFrame, grid_keys: list[str]) -> pd.DataFrame:
    """Rows by their grid values as numbers where they are numbers (100 before 300 before
    1000), then by name."""
    def key(col: pd.Series) -> pd.Series:
        if col.name in grid_keys:
            num = pd.to_numeric(col, errors="coerce")
            return num if num.notna().all() else col.astype(str)
        return col.astype(str)

    return df.sort_values([*grid_keys, "scenario"], key=key, kind="stable") \
        .reset_index(drop=True)


def _gap_warning(ok: pd.DataFrame) -> list[str]:
    """When rows are far enough from the best possible plan that their differences may be the
    search's and not the scenario's, say so, naming them."""
    gap = pd.to_numeric(ok["gap"], errors="coerce")
    wide = ok[gap > GAP_WARNING]
    if wide.empty:
        return []
    names = ", ".join(f"{s} ({100 * g:.1f}%)" for s, g in zip(wide["scenario"], gap[wide.index],
                                                               strict=True))
    return ["<p class=note><b>Read small differences with care.</b> Each row's gap (how far "
            "its plan may be from the best possible) is beside its figures; in these rows it "
            f"is above {100 * GAP_WARNING:.0f}%: {html.escape(names)}. A difference between two "
            "rows smaller than their gaps may come from the search, not from the scenario: "
            "give more <code>--work</code> to narrow it.</p>"]


def _readable(df: pd.DataFrame, grid_keys: list[str]) -> pd.DataFrame:
    """Numbers as a person reads them: thousands, percentages, utilisation as %."""
    from rebalancer.model.kpi import KPI_BY_NAME

    out = df.copy().astype(object)
    for col in out.columns:
        kpi = KPI_BY_NAME.get(col)
        if kpi is not None:
            out[col] = [kpi.fmt(v) if _present(v) else "" for v in df[col]]
    out["objective"] = [f"{v:,.0f}" if _present(v) else "" for v in df["objective"]]
    out["gap"] = [f"{100 * v:.2f}%" if _present(v) else "" for v in df["gap"]]
    out["wall_time"] = [f"{v:.1f} s" if _present(v) else "" for v in df["wall_time"]]
    out["reproducible"] = ["" if not _present(v) else ("yes" if v else "NO")
                           for v in df["reproducible"]]
    return out


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and v != v) and v is not pd.NA


def _spread(ok: pd.DataFrame) -> pd.DataFrame | None:
    """With --repeats: per scenario, how far the same command's runs fell apart."""
    base = ok["scenario"].str.replace(r"~\d+$", "", regex=True)
    if (base == ok["scenario"]).all():
        return None
    rows = []
    for name, g in ok.groupby(base, sort=True):
        rows.append({"scenario": name, "runs": len(g),
                     "distinct plans": int(g["plan_sha256"].nunique()),
                     "objective min": f"{g['objective'].min():,.0f}",
                     "objective max": f"{g['objective'].max():,.0f}",
                     "overload min": f"{g['total_overload_points'].min():,.1f}",
                     "overload max": f"{g['total_overload_points'].max():,.1f}",
                     "reproducible": f"{int(g['reproducible'].astype(bool).sum())}/{len(g)}"})
    return pd.DataFrame(rows)


def _charts(plt: Any, ok: pd.DataFrame, key: str, grid_keys: list[str]) -> Any:
    """Objective (unless the key is a weight: objectives under other weights are not
    comparable), overload and discretionary moves against one grid key; axes from zero; the
    gap as a band below each objective (the optimum lies in it); hollow markers for rows the
    clock decided."""
    panels = ["total_overload_points", "moves_discretionary", "children_2plus_changes"]
    if not key.startswith("weights."):
        panels.insert(0, "objective")
    from rebalancer.model.kpi import KPI_BY_NAME

    fig, axes = plt.subplots(1, len(panels), figsize=(3.9 * len(panels), 3.2))
    others = [k for k in grid_keys if k != key]
    numeric = pd.to_numeric(ok[key], errors="coerce").notna().all()
    for ax, kpi in zip(list(axes), panels, strict=True):
        top = 0.0
        for label, g in (ok.groupby(others, sort=True) if others else [("", ok)]):
            if numeric:  # numbers on a number axis, in their order
                g = g.assign(**{key: pd.to_numeric(g[key])}).sort_values(key)
                x = g[key].astype(float).to_numpy()
            else:
                g = g.sort_values(key)
                x = g[key].astype(str).to_numpy()
            y = g[kpi].astype(float).to_numpy()
            top = max(top, float(y.max()) if y.size else 0.0)
            values = label if isinstance(label, tuple) else (label,)
            name = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}"
                             for k, v in zip(others, values, strict=True)) if others else ""
            line = ax.plot(x, y, marker="o", label=name)[0]
            clock = ~g["reproducible"].astype(bool).to_numpy()
            ax.scatter(x[clock], y[clock], s=60, facecolors="white",
                       edgecolors=line.get_color(), zorder=3)
            if kpi == "objective":
                gap = g["gap"].astype(float).fillna(0).to_numpy()
                ax.fill_between(x, y * (1 - gap), y, alpha=0.2, color=line.get_color())
        ax.set_ylim(0, top * 1.15 if top > 0 else 1)  # markers at the top stay whole
        ax.set_title(CHART_TITLES.get(kpi) or KPI_BY_NAME[kpi].label, fontsize=9)
        ax.set_xlabel(key.rsplit(".", 1)[-1], fontsize=8)
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.tick_params(labelsize=7)
    if others:
        axes[0].legend(fontsize=7, framealpha=0.8)
    if key.startswith("weights."):
        fig.suptitle("objective not drawn: under different weights it is not comparable",
                     fontsize=8)
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep runs: --grid items (KEY=V1,V2,...), a scenarios file, repeats, the seconds
    per scenario, where the Dask scheduler is (None: a local cluster), the tables' format."""

    grid: tuple[str, ...] = ()
    scenarios: Path | None = None
    repeats: int = 1
    time_limit: float | None = None
    scheduler: str | None = None
    fmt: str = "csv"
    replace: bool = False  # an --out that holds files is moved aside, not refused


def run(paths: InputPaths, cfg: Config, spec: SweepSpec, out: Path,
        echo: Any = print) -> pd.DataFrame:
    """`rebalancer sweep`: the grid and the scenario file checked (a bad grid key is a
    UsageError, every what-if problem an InputRejected, before anything runs), then every
    scenario planned (see `sweep`)."""
    try:
        grid = parse_grid(list(spec.grid))
    except ValueError as exc:
        raise UsageError(str(exc), "--grid") from None
    bad_key = unknown_dotted_keys(list(grid), "--grid")
    if bad_key:
        raise UsageError(f"{bad_key[0].message}; {bad_key[0].fix}", "--grid")
    named = load_scenarios(spec.scenarios) if spec.scenarios else []
    if named:  # what each what-if names must exist: every problem before anything runs
        county = load_inputs(paths.workers, paths.children, paths.decisions, paths.travel, cfg,
                             paths.config)
        problems = [p for s in named for p in check_what_ifs(
            county, s.what_ifs, f"{spec.scenarios} [scenario.{s.name}]")]
        if problems:
            raise InputRejected(problems)
    todo = repeated(scenarios(grid, named), spec.repeats)
    if len(todo) > MAX_SCENARIOS:
        raise UsageError(f"{len(todo):,} scenarios (grid x named scenarios x repeats) is more "
                         f"than the {MAX_SCENARIOS:,} a sweep runs: give fewer", "--grid")
    claim(out, spec.replace, "files (an earlier sweep?)")
    echo(f"{len(todo)} scenario(s) on " + (spec.scheduler or "a local Dask cluster")
         + f"; results in {out}/results.csv")
    return sweep(paths, cfg, todo, out, spec.fmt, spec.time_limit, spec.scheduler, list(grid),
                 echo=echo)
