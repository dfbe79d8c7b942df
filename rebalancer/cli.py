"""The command line: the names other tools script against (see the data contract)."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rebalancer.config import load_config
from rebalancer.outputs import OutputError
from rebalancer.problems import InputRejected

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Rebalance children's social work caseloads with as few moves as possible.")


class Format(enum.StrEnum):
    parquet = "parquet"
    csv = "csv"


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


def _reject(exc: InputRejected) -> typer.Exit:
    from rebalancer.report import problems_text

    typer.echo(problems_text(exc.problems), err=True)
    return typer.Exit(1)


def _overrides(time_limit: float | None, max_moves: int | None, seed: int | None,
               threads: int | None) -> dict[str, Any]:
    for name, value, low in (("--time-limit", time_limit, 0.0), ("--max-moves", max_moves, 0),
                             ("--seed", seed, 0), ("--threads", threads, 1)):
        if value is not None and (value < low or (name == "--time-limit" and value == 0)):
            need = "> 0" if name == "--time-limit" else f">= {low}"
            raise typer.BadParameter(f"{name} must be {need}", param_hint=name)
    pairs = {"solver.time_limit": time_limit, "rules.max_moves": max_moves,
             "solver.seed": seed, "solver.threads": threads}
    return {k: v for k, v in pairs.items() if v is not None}


def _run(paths: Any, config: Path | None, overrides: dict[str, Any], out: Path, fmt: str,
         quiet: bool) -> dict[str, Any]:
    from rebalancer.pipeline import rebalance
    from rebalancer.progress import ProgressLine

    try:
        cfg = load_config(config, overrides)
    except InputRejected as exc:
        raise _reject(exc) from None
    progress = None if quiet else ProgressLine()
    try:
        result = rebalance(paths, cfg, out, fmt, progress=progress)
    except InputRejected as exc:
        raise _reject(exc) from None
    except OutputError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    finally:
        if progress is not None:
            progress.close()
    return result.summary


@app.command()
def rebalance(
    workers: WorkersOpt,
    children: ChildrenOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for plan, workers, summary.json.")],
    decisions: DecisionsOpt = None,
    travel: TravelOpt = None,
    config: ConfigOpt = None,
    format: Annotated[Format, typer.Option("--format")] = Format.parquet,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="Seconds.")] = None,
    max_moves: Annotated[int | None, typer.Option("--max-moves", help="0: no budget.")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    threads: Annotated[int | None, typer.Option("--threads")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Write a minimal-disruption plan with a reason for every change."""
    from rebalancer.pipeline import InputPaths
    from rebalancer.report import before_after

    overrides = _overrides(time_limit, max_moves, seed, threads)
    summary = _run(InputPaths(workers, children, decisions, travel, config), config, overrides,
                   out, format.value, quiet)
    typer.echo(before_after(summary))
    typer.echo(f"outputs written to {out}/")


@app.command()
def validate(
    workers: WorkersOpt,
    children: ChildrenOpt,
    decisions: DecisionsOpt = None,
    travel: TravelOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Check the inputs and list every problem at once (exit 1 if there is any)."""
    from rebalancer.inputs import load_inputs

    try:
        cfg = load_config(config)
        inputs = load_inputs(workers, children, decisions, travel, cfg, config)
    except InputRejected as exc:
        raise _reject(exc) from None
    typer.echo(f"ok: {len(inputs.workers)} workers, {len(inputs.children)} children"
               + (f", {len(inputs.decisions)} decisions" if decisions else "")
               + (f", {len(inputs.travel)} travel rows" if inputs.travel is not None else ""))


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Where to write the demo's outputs.")] = Path(
        "rebalancer-demo"),
    quiet: QuietOpt = False,
) -> None:
    """Rebalance the embedded county-in-crisis scenario and show it before and after."""
    from rebalancer.paths import data_dir
    from rebalancer.pipeline import InputPaths
    from rebalancer.report import before_after

    d = data_dir() / "demo"
    typer.echo(f"Demo: {d / 'workers.csv'} and {d / 'children.csv'} "
               "(a generated county in crisis)")
    paths = InputPaths(d / "workers.csv", d / "children.csv", config=d / "config.toml")
    summary = _run(paths, d / "config.toml", {}, out, "csv", quiet)
    typer.echo(before_after(summary))
    typer.echo(f"outputs written to {out}/ (plan.csv, workers.csv, summary.json)")


@app.command()
def generate(
    children: Annotated[int, typer.Option("--children", min=1, help="How many children.")],
    workers: Annotated[int, typer.Option("--workers", min=1, help="How many workers.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for workers and children tables.")],
    seed: Annotated[int, typer.Option("--seed")] = 0,
    scenario: Annotated[Scenario, typer.Option("--scenario")] = Scenario.crisis,
    format: Annotated[Format, typer.Option("--format")] = Format.csv,
) -> None:
    """Write a synthetic, realistic county: workers and children tables."""
    from rebalancer.generate import generate as gen
    from rebalancer.generate import write_scenario

    tables = gen(children, workers, seed=seed, scenario=scenario.value)
    paths = write_scenario(tables, out, format.value)
    typer.echo("wrote " + ", ".join(str(p) for p in paths))


@app.command()
def check(
    workers: WorkersOpt,
    children: ChildrenOpt,
    plan: Annotated[Path, typer.Option("--plan", help="Folder holding plan.* and summary.json.")],
    decisions: DecisionsOpt = None,
    travel: TravelOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Re-verify a plan against the inputs, independently of the model (exit 1 on violation)."""
    import json

    from rebalancer.check import check_plan
    from rebalancer.inputs import load_inputs
    from rebalancer.outputs import read_table_file

    plan_file = next((plan / f"plan.{ext}" for ext in ("parquet", "csv")
                      if (plan / f"plan.{ext}").is_file()), None)
    if plan_file is None:
        raise typer.BadParameter(f"no plan.parquet or plan.csv in {plan}", param_hint="--plan")
    summary = None
    if (plan / "summary.json").is_file():
        summary = json.loads((plan / "summary.json").read_text(encoding="utf-8"))
    try:
        overrides = {}
        if summary is not None and config is None:  # re-check with the plan's own settings
            overrides = {"plan_date": summary["config"]["plan_date"]}
        cfg = load_config(config, overrides)
        if summary is not None and config is None:
            from rebalancer.config import Config

            cfg = Config(summary["config"])
        inputs = load_inputs(workers, children, decisions, travel, cfg, config)
    except InputRejected as exc:
        raise _reject(exc) from None
    report = check_plan(inputs, cfg, read_table_file(plan_file), summary)
    for v in report.violations:
        typer.echo(f"VIOLATION {v}")
    for m in report.mismatches:
        typer.echo(f"MISMATCH {m}")
    if not report.ok:
        typer.echo(f"check failed: {len(report.violations)} rule violation(s), "
                   f"{len(report.mismatches)} mismatch(es) with summary.json")
        raise typer.Exit(1)
    typer.echo(f"check passed: every hard rule holds for {len(inputs.children)} children; "
               f"objective {report.recomputed['objective']:,.1f} and KPIs match summary.json")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
