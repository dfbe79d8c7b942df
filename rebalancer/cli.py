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


def _reload(plan: Path) -> tuple[Any, Any, Any]:
    """The case model, plan and workers table of a plan folder, from the inputs its summary
    names (refusing inputs that changed since the plan was made)."""
    import json

    from rebalancer.config import Config
    from rebalancer.inputs import file_sha256, load_inputs
    from rebalancer.model import build_case_model
    from rebalancer.outputs import read_table_file

    summary_file = plan / "summary.json"
    if not summary_file.is_file():
        raise typer.BadParameter(f"no summary.json in {plan}", param_hint="--plan")
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    files = {k: Path(v["path"]) for k, v in summary["inputs"].items()}
    for name, path in files.items():
        if not path.is_file() or file_sha256(path) != summary["inputs"][name]["sha256"]:
            raise typer.BadParameter(f"the {name} input {path} is missing or has changed since "
                                     "the plan was made; re-run the rebalance", param_hint="--plan")
    cfg = Config(summary["config"])
    inputs = load_inputs(files["workers"], files["children"], files.get("decisions"),
                         files.get("travel"), cfg)
    ext = "parquet" if (plan / "plan.parquet").is_file() else "csv"
    return (build_case_model(inputs, cfg), read_table_file(plan / f"plan.{ext}"),
            read_table_file(plan / f"workers.{ext}").astype({"load_after": float}))


@app.command()
def explain(
    plan: Annotated[Path, typer.Option("--plan", help="Folder of a plan (with summary.json).")],
    child_id: Annotated[str | None, typer.Argument(help="The child to explain.")] = None,
    worker: Annotated[str | None, typer.Option("--worker", help="Explain a worker instead.")
                      ] = None,
) -> None:
    """Why a child ended where it did: the best alternatives, term by term, and who was barred."""
    from rebalancer.explain import alternatives, worker_story

    try:
        cm, plan_df, workers_df = _reload(plan)
    except InputRejected as exc:
        raise _reject(exc) from None
    for col in ("load_before", "load_after", "utilisation_before", "utilisation_after",
                "capacity_points"):
        workers_df[col] = workers_df[col].astype(float)
    if worker is not None:
        if worker not in set(workers_df["worker_id"]):
            raise typer.BadParameter(f"no worker {worker!r} in the plan", param_hint="--worker")
        s = worker_story(cm, plan_df, workers_df, worker)
        typer.echo(f"{worker}: load {s['load'][0]:.1f} → {s['load'][1]:.1f} points of "
                   f"{s['capacity']:.1f} ({s['utilisation'][0]:.0%} → {s['utilisation'][1]:.0%})"
                   + (f"; {s['why_lost']}" if s["why_lost"] else ""))
        typer.echo(f"gained {len(s['gained'])}:")
        for cid, src, why in s["gained"]:
            typer.echo(f"  {cid} from {src or '(unallocated)'}: {why}")
        typer.echo(f"lost {len(s['lost'])}:")
        for cid, dst, why in s["lost"]:
            typer.echo(f"  {cid} to {dst or '(unallocated)'}: {why}")
        return
    if child_id is None or child_id not in set(plan_df["child_id"]):
        raise typer.BadParameter(f"give a CHILD_ID of the plan (got {child_id!r})")
    a = alternatives(cm, plan_df, workers_df, child_id)
    row = plan_df.loc[plan_df["child_id"] == child_id].iloc[0]
    typer.echo(f"{child_id}: {a['action']} {a['from'] or '(unallocated)'} → "
               f"{a['to'] or '(unallocated)'}   reasons: {a['reasons'] or '-'}")
    if "explanation" in plan_df.columns and row["explanation"]:
        typer.echo(f"  {row['explanation']}")
    if a["siblings_in_unit"]:
        typer.echo(f"  moves as one with siblings {', '.join(a['siblings_in_unit'])}: a worker "
                   "must suit all of them, and the costs below are for this child alone")
    typer.echo("cost of each eligible worker for this child alone (everything else as planned):")
    typer.echo(f"  {'worker':<10}{'total':>9}{'moves':>9}{'overload':>10}{'peak':>8}"
               f"{'travel':>8}  utilisation  new cases/cap")
    shown = ([("chosen", a["chosen"])] if a["chosen"] else []) + [
        ("", o) for o in a["alternatives"]]
    for tag, (total, wid, terms, util) in shown:
        typer.echo(f"  {wid:<10}{total:>9.0f}{terms['moves']:>9.0f}{terms['overload']:>10.0f}"
                   f"{terms['peak']:>8.0f}{terms['travel']:>8.0f}  {util:<12} "
                   f"{a['new_case_slots'][wid]:<7} {tag}")
    if not shown:
        typer.echo("  (none)")
    typer.echo(f"leaving the child unallocated would cost {a['unallocated_cost']:,.0f}")
    from rebalancer.explain import RULE_WORDS

    for code, ids in a["ineligible"].items():
        more = f" (+{len(ids) - 8} more)" if len(ids) > 8 else ""
        typer.echo(f"ineligible by {code} ({RULE_WORDS[code]}): {', '.join(ids[:8])}{more}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
