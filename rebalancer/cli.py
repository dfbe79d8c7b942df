"""The command line: the names other tools script against (see the data contract).

Each command parses its options and makes one call into the package that does the work; what
it prints comes from `reports.terminal`. Every outcome maps to one exit code: 0 done, 1 inputs
rejected (every problem listed), 2 a usage error (the option at fault named), 130 interrupted
before any plan existed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from rebalancer import __version__, allocation, pipeline
from rebalancer.analysis.compare import compare_and_write
from rebalancer.analysis.frontier import frontier
from rebalancer.analysis.staffing import staffing
from rebalancer.analysis.sweep import SweepSpec
from rebalancer.analysis.sweep import run as run_sweep
from rebalancer.check.folder import check_folder
from rebalancer.clock import count_from_now, count_from_process_start
from rebalancer.config import Config, load_config
from rebalancer.configkeys import KEY_BY_PATH
from rebalancer.io.inputs import InputPaths, load_inputs
from rebalancer.io.ssd import import_to
from rebalancer.model import explain as explaining
from rebalancer.model.summary import Summary
from rebalancer.paths import data_dir
from rebalancer.planfolder import read_plan_folder, reload_model
from rebalancer.problems import INTERRUPTED, InputRejected, UsageError
from rebalancer.progress import ProgressLine
from rebalancer.reports import terminal
from rebalancer.reports.plan_page import write_report
from rebalancer.reports.team_page import write_team_reports
from rebalancer.signoff import audit as trail
from rebalancer.signoff import replan as replanning
from rebalancer.signoff.replan import Replan, review_workbook, team_workbooks
from rebalancer.synth.county import generate as generate_county
from rebalancer.synth.county import write_scenario
from rebalancer.synth.ssd import write_ssd
from solvers.stopping import wait_for_engines

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Rebalance children's social work caseloads with as few moves as possible.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"caseload-rebalancer {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Rebalance children's social work caseloads with as few moves as possible."""


class Format(enum.StrEnum):
    parquet = "parquet"
    csv = "csv"


class GenerateFormat(enum.StrEnum):
    csv = "csv"
    parquet = "parquet"
    ssd = "ssd"


class Scenario(enum.StrEnum):
    crisis = "crisis"
    steady = "steady"
    leavers = "leavers"
    edge = "edge"


WorkersOpt = Annotated[Path, typer.Option("--workers", help="Workers table (.csv or .parquet).")]
ChildrenOpt = Annotated[Path, typer.Option("--children", help="Children table (.csv or .parquet).")]
DecisionsOpt = Annotated[Path | None, typer.Option("--decisions", help="Managers' decisions.")]
TravelOpt = Annotated[Path | None, typer.Option("--travel", help="Travel minutes per pair.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML configuration.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No live progress line.")]
PlanOpt = Annotated[Path, typer.Option("--plan", help="A plan folder (with summary.json).")]
FormatOpt = Annotated[Format, typer.Option(
    "--format", help="Format of the plan tables: csv (opens in Excel or LibreOffice) or parquet.")]
TimeLimitOpt = Annotated[float | None, typer.Option(
    "--time-limit", help="Seconds for the whole run [default: solver.time_limit, 60].")]
WorkOpt = Annotated[float | None, typer.Option(
    "--work", help="The solver's budgets in deterministic work (about seconds of a 2-core "
    "machine): the same inputs, seed, threads and work give the same plan on any machine; "
    "--time-limit then only guards [default: solver.work, 0: from the time limit].")]
MaxMovesOpt = Annotated[int | None, typer.Option(
    "--max-moves", help="Budget of discretionary moves; 0: none [default: rules.max_moves, 0].")]
SeedOpt = Annotated[int | None, typer.Option(
    "--seed", help="Random seed of the search: the same inputs, seed and threads give the same "
    "plan [default: solver.seed, 0].")]
ThreadsOpt = Annotated[int | None, typer.Option(
    "--threads", help="Solver threads, 1 to 64 [default: solver.threads, 2].")]
ReplaceOpt = Annotated[bool, typer.Option(
    "--replace", help="When --out already holds files, move them aside (to NAME.replaced-DATE) "
    "instead of refusing: nothing is ever written over.")]
AuditOpt = Annotated[Path | None, typer.Option(
    "--audit", help="SQLite audit trail [default: REBALANCER_AUDIT_DB, else "
    "caseload-rebalancer/audit.sqlite in the user's data folder (~/.local/share)].")]
AuditKeyOpt = Annotated[Path | None, typer.Option(
    "--audit-key", help="A file holding the audit trail's key: every link becomes an HMAC that "
    "nobody without the key can recompute [default: the REBALANCER_AUDIT_KEY variable, if set].")]


@contextlib.contextmanager
def _outcomes() -> Iterator[None]:
    """Rejected inputs: every problem listed, exit 1, nothing written. A usage error: exit 2,
    naming the option at fault."""
    try:
        yield
    except InputRejected as exc:
        typer.echo(terminal.problems_text(exc.problems), err=True)
        raise typer.Exit(1) from None
    except UsageError as exc:
        raise typer.BadParameter(str(exc), param_hint=exc.option) from None


def _audit_key(path: Path | None) -> bytes | None:
    """The key from --audit-key or the environment."""
    with _outcomes():
        return trail.load_key(path)


def _overrides(time_limit: float | None, max_moves: int | None, seed: int | None,
               threads: int | None, work: float | None = None) -> dict[str, Any]:
    """Flags over the configuration; a value out of range is a usage error (exit 2)."""
    flags = (("--time-limit", "solver.time_limit", time_limit),
             ("--max-moves", "rules.max_moves", max_moves), ("--seed", "solver.seed", seed),
             ("--threads", "solver.threads", threads), ("--work", "solver.work", work))
    for name, path, value in flags:
        if value is None:
            continue
        k = KEY_BY_PATH[path]
        open_low = k.low_open or name == "--work"  # --work 0 would mean no --work
        low, high = k.low, k.high
        if not math.isfinite(value) or value > high or value < low or (open_low and value == low):
            raise typer.BadParameter(f"must be {'>' if open_low else '>='} {low:g} and <= "
                                     f"{high:g} (got {value})", param_hint=name)
    return {path: value for _, path, value in flags if value is not None}


def _config(config: Path | None, overrides: dict[str, Any] | None = None) -> Config:
    with _outcomes():
        return load_config(config, overrides)


def _run(config: Path | None, overrides: dict[str, Any], quiet: bool,
         go: Callable[[Config, ProgressLine | None], pipeline.Result]) -> Summary:
    """Configuration, a progress line, and every outcome mapped to its exit code."""
    return _run_result(config, overrides, quiet, go).summary


def _run_result(config: Path | None, overrides: dict[str, Any], quiet: bool,
                go: Callable[[Config, ProgressLine | None], pipeline.Result]
                ) -> pipeline.Result:
    cfg = _config(config, overrides)
    progress = None if quiet else ProgressLine()
    try:
        with terminate_as_interrupt(), _outcomes():
            result = go(cfg, progress)
    except KeyboardInterrupt:
        typer.echo(INTERRUPTED, err=True)
        raise typer.Exit(130) from None
    finally:
        if progress is not None:
            progress.close()
    return result


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (what `timeout` or a scheduler sends) is handled like Ctrl-C: the best plan so far
    is written."""
    def raise_interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    saved = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, saved)


@app.command()
def rebalance(
    workers: WorkersOpt,
    children: ChildrenOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for plan, workers, summary.json.")],
    decisions: DecisionsOpt = None,
    travel: TravelOpt = None,
    config: ConfigOpt = None,
    format: FormatOpt = Format.csv,
    time_limit: TimeLimitOpt = None,
    work: WorkOpt = None,
    max_moves: MaxMovesOpt = None,
    seed: SeedOpt = None,
    threads: ThreadsOpt = None,
    previous: Annotated[Path | None, typer.Option(
        "--previous", help="A plan folder to stay close to (e.g. last week's plan): each child "
        "whose outcome differs from it costs weights.previous_change.")] = None,
    audit: AuditOpt = None,
    audit_key: AuditKeyOpt = None,
    replace: ReplaceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write a minimal-disruption plan with a reason for every change."""
    overrides = _overrides(time_limit, max_moves, seed, threads, work)
    paths = InputPaths(workers, children, decisions, travel, config, previous)
    key = _audit_key(audit_key)
    result = _run_result(config, overrides, quiet, lambda cfg, progress: pipeline.rebalance(
        paths, cfg, out, format.value, trail.Trail.at(audit, key).hook(), progress,
        replace=replace))
    typer.echo(terminal.rebalance_text(result.summary, paths, out, result.tables))


@app.command()
def replan(
    workers: WorkersOpt,
    children: ChildrenOpt,
    plan: Annotated[Path, typer.Option("--plan", help="The plan folder that was reviewed.")],
    review: Annotated[list[Path], typer.Option(
        "--review", metavar="<path>", help="A review workbook (xlsx), or a folder of them "
        "(every team's); repeatable.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the new plan.")],
    decisions: DecisionsOpt = None,
    travel: TravelOpt = None,
    config: ConfigOpt = None,
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who reviewed (for the audit "
                                          "trail).")] = "",
    audit: AuditOpt = None,
    audit_key: AuditKeyOpt = None,
    format: FormatOpt = Format.csv,
    time_limit: TimeLimitOpt = None,
    work: WorkOpt = None,
    max_moves: MaxMovesOpt = None,
    seed: SeedOpt = None,
    threads: ThreadsOpt = None,
    replace: ReplaceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Re-plan around a manager's review, changing as little as possible of what was not
    rejected."""
    overrides = _overrides(time_limit, max_moves, seed, threads, work)
    paths = InputPaths(workers, children, decisions, travel, config)
    key = _audit_key(audit_key)
    summary = _run(config, overrides, quiet, lambda cfg, progress: replanning.replan(
        paths, cfg, plan, review, out,
        Replan(format.value, reviewer[:64], audit, key, progress, replace)))
    typer.echo(terminal.replan_text(read_plan_folder(plan).summary, summary, out))


@app.command("review")
def review_cmd(
    plan: PlanOpt,
    out: Annotated[Path | None, typer.Option("--out", help="The workbook to write "
                                             "[default: DIR/review.xlsx]; with --by-team, "
                                             "the folder [default: DIR/review/].")] = None,
    by_team: Annotated[bool, typer.Option(
        "--by-team", help="One workbook per team, each with only the children leaving or "
        "joining that team, and index.csv.")] = False,
    replace: ReplaceOpt = False,
) -> None:
    """Write the review workbook: one row per proposed change (today's, and those the plan
    schedules for later weeks), with accept/reject and a note."""
    try:
        with _outcomes():
            if by_team:
                folder, index = team_workbooks(plan, out, replace)
                typer.echo(terminal.review_text(index, folder, 0))
                return
            path, n = review_workbook(plan, out, replace)
    except OSError as exc:
        raise typer.BadParameter(f"cannot write {out}: {exc.strerror or exc}",
                                 param_hint="--out") from None
    typer.echo(terminal.review_text(None, path, n))


@app.command("report")
def report_cmd(
    plan: PlanOpt,
    by_team: Annotated[bool, typer.Option(
        "--by-team", help="Also a page per team (report-<team>.html) with only that team's "
        "workers and the children leaving or joining it.")] = False,
) -> None:
    """Rewrite the plan folder's report.html (with its charts)."""
    with _outcomes():
        pf = read_plan_folder(plan)
        page = write_report(plan, pf.plan, pf.workers, pf.summary, pf.schedule())
        typer.echo(f"wrote {page}")
        if by_team:
            pages = write_team_reports(plan, pf.plan, pf.workers, pf.summary)
            typer.echo(f"wrote {len(pages)} team page(s) in {plan}: report-<team>.html")


@app.command("audit")
def audit_cmd(
    db: Annotated[Path, typer.Option("--db", help="The SQLite audit trail.")],
    verify: Annotated[bool, typer.Option("--verify", help="Check the chain, and the entries "
                                         "each --plan folder recorded; exit 1 at the first "
                                         "problem.")] = False,
    plans: Annotated[list[Path] | None, typer.Option(
        "--plan", metavar="<path>", help="A plan folder whose recorded audit entries must be "
        "in the trail, unchanged (repeatable).")] = None,
    audit_key: AuditKeyOpt = None,
) -> None:
    """List the audit trail's entries, or verify it (see the README for what each mode
    detects)."""
    key = _audit_key(audit_key)
    with _outcomes(), trail.named_by("--db"):
        if not (verify or plans):
            if not db.is_file():
                raise UsageError(f"no audit trail at {db}", "--db")
            typer.echo(terminal.audit_lines(trail.entries(db)))
            return
        verdict = trail.inspect(db, key, plans or [])
    typer.echo(terminal.audit_verdict(verdict, len(plans or []), key is not None))
    if verdict.broken:
        raise typer.Exit(1)


@app.command()
def allocate(
    workers: WorkersOpt,
    children: ChildrenOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for the allocation's plan folder.")],
    decisions: DecisionsOpt = None,
    travel: TravelOpt = None,
    config: ConfigOpt = None,
    plan: Annotated[Path | None, typer.Option(
        "--plan", help="A plan folder in force: its worker for each child, week by week, is "
        "kept (default: each child's current worker).")] = None,
    top: Annotated[int, typer.Option("--top", min=1, max=20,
                                     help="Options shown for each new child.")] = 3,
    format: FormatOpt = Format.csv,
    time_limit: TimeLimitOpt = None,
    work: WorkOpt = None,
    seed: SeedOpt = None,
    threads: ThreadsOpt = None,
    audit: AuditOpt = None,
    audit_key: AuditKeyOpt = None,
    replace: ReplaceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Give a worker to every child without one, moving nobody else, with ranked options."""
    overrides = _overrides(time_limit, None, seed, threads, work)
    paths = InputPaths(workers, children, decisions, travel, config)
    key = _audit_key(audit_key)
    result = _run_result(config, overrides, quiet, lambda cfg, progress: allocation.allocate(
        paths, cfg, out, format.value, trail.Trail.at(audit, key).hook(),
        allocation.Request(plan, top), progress, replace=replace))
    typer.echo(terminal.allocate_text(result, paths, out))


@app.command()
def validate(
    workers: WorkersOpt,
    children: ChildrenOpt,
    decisions: DecisionsOpt = None,
    travel: TravelOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Check the inputs and list every problem at once (exit 1 if there is any)."""
    with _outcomes():
        inputs = load_inputs(workers, children, decisions, travel, load_config(config), config)
    typer.echo(terminal.validated_text(inputs))


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Where to write the demo's outputs.")] = Path(
        "rebalancer-demo"),
    replace: ReplaceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Rebalance the embedded county-in-crisis scenario and show it before and after."""
    d = data_dir() / "demo"
    typer.echo(f"Demo: {d / 'workers.csv'} and {d / 'children.csv'} "
               "(a generated county in crisis)")
    paths = InputPaths(d / "workers.csv", d / "children.csv", config=d / "config.toml")
    # the search is compiled once after installing (about half a minute): before the demo's
    # minute starts, so that the first demo plans as every later one does
    from solvers.local import compiled

    began = time.perf_counter()
    compiled()
    if time.perf_counter() - began > 2:
        if not quiet:
            typer.echo(f"Compiled the search in {time.perf_counter() - began:.0f} s (once after "
                       "installing); the demo's minute starts now.")
        count_from_now()
    result = _run_result(d / "config.toml", {}, quiet, lambda cfg, progress: pipeline.rebalance(
        paths, cfg, out, "csv", trail.Trail.at().hook(), progress, replace=replace))
    typer.echo(terminal.rebalance_text(result.summary, paths, out, result.tables))


@app.command()
def generate(
    children: Annotated[int, typer.Option("--children", min=1, help="How many children.")],
    workers: Annotated[int, typer.Option("--workers", min=1, help="How many workers.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for workers and children tables.")],
    seed: Annotated[int, typer.Option("--seed", help="The same seed gives the same county.")] = 0,
    scenario: Annotated[Scenario, typer.Option("--scenario")] = Scenario.crisis,
    format: Annotated[GenerateFormat, typer.Option(
        "--format", help="csv or parquet tables of the contract, or ssd: a synthetic SSD "
        "extract with its mapping.toml")] = GenerateFormat.csv,
    calendar: Annotated[bool, typer.Option(
        "--calendar/--no-calendar", help="Known departures, long absences and starters in the "
        "coming 13 weeks (starters are added to --workers).")] = True,
) -> None:
    """Write a synthetic, realistic county: workers and children tables (or an SSD extract)."""
    tables = generate_county(children, workers, seed=seed, scenario=scenario.value,
                             with_calendar=calendar)
    if format is GenerateFormat.ssd:
        paths = write_ssd(tables, out, seed=seed)
        typer.echo(f"wrote a synthetic SSD extract ({len(paths) - 1} tables) and "
                   f"{out / 'mapping.toml'}; import it with: rebalancer import-ssd --ssd {out} "
                   f"--mapping {out / 'mapping.toml'} --plan-date 2026-12-01 --out DIR")
        return
    paths = write_scenario(tables, out, format.value)
    typer.echo("wrote " + ", ".join(str(p) for p in paths))


@app.command("import-ssd")
def import_ssd_cmd(
    ssd: Annotated[Path, typer.Option("--ssd", help="Folder of the SSD extract (one CSV or "
                                      "Parquet file per table).")],
    mapping: Annotated[Path, typer.Option("--mapping", help="Mapping file (TOML): roles, grades, "
                                          "localities, postcodes, proceedings, defaults.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for workers and children tables.")],
    plan_date: Annotated[str | None, typer.Option(
        "--plan-date", help="YYYY-MM-DD: which cases are open [default: today].")] = None,
    format: FormatOpt = Format.csv,
    replace: ReplaceOpt = False,
) -> None:
    """Turn a Standard Safeguarding Dataset extract into workers and children tables."""
    try:
        day = dt.date.fromisoformat(plan_date) if plan_date else dt.date.today()
    except ValueError:
        raise typer.BadParameter("write the date as YYYY-MM-DD", param_hint="--plan-date") \
            from None
    with _outcomes():
        result, paths = import_to(ssd, mapping, out, day, format.value, replace)
    typer.echo(terminal.import_text(result.report, paths, day.isoformat()))


@app.command()
def check(
    workers: WorkersOpt,
    children: ChildrenOpt,
    plan: PlanOpt,
    decisions: DecisionsOpt = None,
    travel: TravelOpt = None,
    config: ConfigOpt = None,
    trust_plan_config: Annotated[bool, typer.Option(
        "--trust-plan-config", help="Check against the configuration the plan folder records "
        "instead of --config or the shipped defaults (the output then says so).")] = False,
) -> None:
    """Re-verify a plan against the inputs, independently of the model (exit 1 on violation).

    The rules and weights come from --config (or the shipped defaults), never from the folder
    being checked: a plan whose recorded configuration differs fails with CONFIG_MISMATCH."""
    with _outcomes():
        done = check_folder(InputPaths(workers, children, decisions, travel, config), plan,
                            trust_plan_config)
    typer.echo("\n".join([*done.notes, terminal.check_text(done.report, done.children)]))
    if not done.report.ok:
        raise typer.Exit(1)


@app.command()
def explain(
    plan: Annotated[Path, typer.Option("--plan", help="Folder of a plan (with summary.json).")],
    child_id: Annotated[str | None, typer.Argument(help="The child to explain.")] = None,
    worker: Annotated[str | None, typer.Option("--worker", help="Explain a worker instead.")
                      ] = None,
) -> None:
    """Why a child ended where it did: staying put, the best alternatives term by term, and who
    was barred."""
    with _outcomes():
        typer.echo(terminal.explained_text(explaining.explain(*reload_model(plan), child_id,
                                                                   worker),
                                           read_plan_folder(plan).summary.kind))


GridOpt = Annotated[list[str] | None, typer.Option(
    "--grid", help="KEY=V1,V2,... over any dotted configuration key, e.g. weights.move=100,300; "
    "several --grid form their product.")]
ScenariosOpt = Annotated[Path | None, typer.Option(
    "--scenarios", help="TOML of [scenario.NAME] tables: overrides, add_workers, remove_team, "
    "cancel_leaver.")]
SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", help="Address of a running Dask scheduler, e.g. tcp://127.0.0.1:8786 "
    "[default: a LocalCluster sized to this machine].")]


def _analysis_config(config: Path | None, time_limit: float | None, work: float | None
                     ) -> Config:
    return _config(config, _overrides(time_limit, None, None, None, work))


@app.command()
def sweep(
    workers: WorkersOpt,
    children: ChildrenOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for results and one plan folder "
                                      "per scenario.")],
    decisions: DecisionsOpt = None,
    travel: TravelOpt = None,
    config: ConfigOpt = None,
    grid: GridOpt = None,
    scenarios: ScenariosOpt = None,
    repeats: Annotated[int, typer.Option(
        "--repeats", min=1, max=20, help="Run each scenario this many times and show the "
        "spread (the same command, the same plan with --work).")] = 1,
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", help="Seconds per scenario.")] = None,
    work: WorkOpt = None,
    scheduler: SchedulerOpt = None,
    format: FormatOpt = Format.csv,
    replace: ReplaceOpt = False,
) -> None:
    """Plan every scenario (grid product x named what-ifs) in parallel on a Dask cluster."""
    cfg = _analysis_config(config, time_limit, work)
    spec = SweepSpec(tuple(grid or ()), scenarios, repeats, time_limit, scheduler, format.value,
                     replace)
    with _outcomes():
        df = run_sweep(InputPaths(workers, children, decisions, travel, config), cfg, spec, out,
                       echo=typer.echo)
    typer.echo(terminal.sweep_text(df, out))


@app.command("frontier")
def frontier_cmd(
    workers: WorkersOpt,
    children: ChildrenOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for frontier.csv, frontier.png "
                                      "and the plan of each point.")],
    decisions: DecisionsOpt = None,
    travel: TravelOpt = None,
    config: ConfigOpt = None,
    points: Annotated[int, typer.Option("--points", min=2, max=50,
                                        help="How many budgets, from 0 to unconstrained.")] = 6,
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", help="Seconds per point.")] = None,
    work: WorkOpt = None,
    format: FormatOpt = Format.csv,
    replace: ReplaceOpt = False,
) -> None:
    """The trade-off between discretionary moves and overload (epsilon-constraint on
    max_moves, each point warm-started from its neighbour)."""
    cfg = _analysis_config(config, time_limit, work)
    with _outcomes():
        frontier(InputPaths(workers, children, decisions, travel, config), cfg, out,
                 format.value, points, echo=typer.echo, replace=replace)
    typer.echo(f"wrote {out}/frontier.csv and {out}/frontier.png")


@app.command("staffing")
def staffing_cmd(
    workers: WorkersOpt,
    children: ChildrenOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for staffing.json and the plan "
                                      "with the recommended workers added.")],
    decisions: DecisionsOpt = None,
    travel: TravelOpt = None,
    config: ConfigOpt = None,
    target: Annotated[float, typer.Option("--target", min=0.5, max=1.0, help="Utilisation "
                                          "every worker should be within.")] = 1.0,
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", help="Seconds per re-plan.")] = None,
    work: WorkOpt = None,
    format: FormatOpt = Format.csv,
    replace: ReplaceOpt = False,
) -> None:
    """The extra FTE by locality and grade that brings every worker within capacity and
    allocates every child, checked by re-planning with those workers added."""
    cfg = _analysis_config(config, time_limit, work)
    with _outcomes():
        rec = staffing(InputPaths(workers, children, decisions, travel, config), cfg, out,
                       format.value, target, echo=typer.echo, replace=replace)
    typer.echo(terminal.staffing_text(rec, out))


@app.command("compare")
def compare_cmd(
    plan_a: Annotated[Path, typer.Argument(help="A plan folder.")],
    plan_b: Annotated[Path, typer.Argument(help="Another plan folder.")],
    out: Annotated[Path | None, typer.Option("--out", help="CSV of the children whose "
                                             "outcome differs.")] = None,
) -> None:
    """KPI deltas side by side, and the children whose outcome differs."""
    try:
        kpis, diff, warnings = compare_and_write(plan_a, plan_b, out)
    except UsageError as exc:  # a plan folder is an argument here, not --plan
        hint = exc.option if exc.option == "--out" else None
        raise typer.BadParameter(str(exc), param_hint=hint) from None
    typer.echo(terminal.compare_text(kpis, diff, warnings))
    if out is not None:
        typer.echo(f"wrote {out}")


def main() -> None:
    """The console script: the time limit counts from the process's start (imports included),
    and the process exits only once the solver's engines have stopped (an engine still running
    in C++ at exit aborts the process, after the plan was written).

    Every file is written and closed before a command returns, so once the output is flushed
    the process ends at once: Python's unloading of its modules (0.2 s on a quiet machine, half
    a second beside busy processes) would come after the time limit's last output."""
    count_from_process_start()
    code: int = 0
    try:
        app()
    except SystemExit as end:
        code = _exit_code(end)
    finally:
        wait_for_engines(ENGINE_STOP_WAIT)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def _exit_code(end: SystemExit) -> int:
    """SystemExit's code as the process's (None is 0; a message is printed, then 1)."""
    if end.code is None or isinstance(end.code, int):
        return end.code or 0
    print(end.code, file=sys.stderr)
    return 1


ENGINE_STOP_WAIT = 10.0  # seconds; a halted engine ends within milliseconds


if __name__ == "__main__":
    main()
