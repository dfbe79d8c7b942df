"""The command line: the names other tools script against (see the data contract)."""

from __future__ import annotations

import contextlib
import enum
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from rebalancer.config import load_config
from rebalancer.io.outputs import OutputError
from rebalancer.model.summary import Summary
from rebalancer.problems import InputRejected
from rebalancer.reports.terminal import check_text

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Rebalance children's social work caseloads with as few moves as possible.")


def _version(value: bool) -> None:
    if value:
        from rebalancer import __version__

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


def _reject(exc: InputRejected) -> typer.Exit:
    from rebalancer.reports.terminal import problems_text

    typer.echo(problems_text(exc.problems), err=True)
    return typer.Exit(1)


def _audit_key(path: Path | None) -> bytes | None:
    """The key from --audit-key or the environment; an unreadable key file is a usage error."""
    from rebalancer.signoff.audit import AuditError, load_key

    try:
        return load_key(path)
    except AuditError as exc:
        raise typer.BadParameter(str(exc), param_hint="--audit-key") from None


@contextlib.contextmanager
def _inputs_rejected() -> Iterator[None]:
    """Inputs that validation rejects: every problem listed, exit 1, nothing written."""
    try:
        yield
    except InputRejected as exc:
        raise _reject(exc) from None


@contextlib.contextmanager
def _plan_folder(hint: str | None = "--plan") -> Iterator[None]:
    """A plan folder that holds no complete, unchanged plan is a usage error (exit 2)."""
    from rebalancer.io.planfolder import PlanFolderError

    try:
        yield
    except PlanFolderError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from None


def _overrides(time_limit: float | None, max_moves: int | None, seed: int | None,
               threads: int | None, work: float | None = None) -> dict[str, Any]:
    """Flags over the configuration; a value out of range is a usage error (exit 2)."""
    import math

    from rebalancer import config as c

    ranges = (("--time-limit", time_limit, 0.0, c.MAX_TIME_LIMIT, True),
              ("--max-moves", max_moves, 0, c.MAX_COUNT, False),
              ("--seed", seed, 0, c.MAX_SEED, False),
              ("--threads", threads, 1, c.MAX_THREADS, False),
              ("--work", work, 0.0, c.MAX_TIME_LIMIT, True))
    for name, value, low, high, open_low in ranges:
        if value is None:
            continue
        if not math.isfinite(value) or value > high or value < low or (open_low and value == low):
            raise typer.BadParameter(f"must be {'>' if open_low else '>='} {low:g} and <= "
                                     f"{high:g} (got {value})", param_hint=name)
    pairs = {"solver.time_limit": time_limit, "rules.max_moves": max_moves,
             "solver.seed": seed, "solver.threads": threads, "solver.work": work}
    return {k: v for k, v in pairs.items() if v is not None}


def _run(config: Path | None, overrides: dict[str, Any], quiet: bool,
         go: Callable[[Any, Any], Any]) -> Summary:
    """Configuration, a progress line, and every outcome mapped to its exit code."""
    from rebalancer.progress import ProgressLine
    from rebalancer.signoff.audit import AuditError

    with _inputs_rejected():
        cfg = load_config(config, overrides)
    progress = None if quiet else ProgressLine()
    try:
        with terminate_as_interrupt(), _plan_folder(), _inputs_rejected():
            result = go(cfg, progress)
    except OutputError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    except AuditError as exc:
        raise typer.BadParameter(str(exc), param_hint="--audit") from None
    except KeyboardInterrupt:
        typer.echo("interrupted before any plan was found: nothing was written", err=True)
        raise typer.Exit(130) from None
    finally:
        if progress is not None:
            progress.close()
    summary: Summary = result.summary
    return summary


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


FormatOpt = Annotated[Format, typer.Option("--format", help="Format of the plan tables.")]
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
AuditOpt = Annotated[Path | None, typer.Option(
    "--audit", help="SQLite audit trail [default: rebalancer-audit.sqlite beside --out].")]
AuditKeyOpt = Annotated[Path | None, typer.Option(
    "--audit-key", help="A file holding the audit trail's key: every link becomes an HMAC that "
    "nobody without the key can recompute [default: the REBALANCER_AUDIT_KEY variable, if set].")]


@app.command()
def rebalance(
    workers: WorkersOpt,
    children: ChildrenOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for plan, workers, summary.json.")],
    decisions: DecisionsOpt = None,
    travel: TravelOpt = None,
    config: ConfigOpt = None,
    format: FormatOpt = Format.parquet,
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
    quiet: QuietOpt = False,
) -> None:
    """Write a minimal-disruption plan with a reason for every change."""
    from rebalancer import pipeline
    from rebalancer.reports.terminal import before_after, next_steps

    overrides = _overrides(time_limit, max_moves, seed, threads, work)
    paths = pipeline.InputPaths(workers, children, decisions, travel, config)
    summary = _run(config, overrides, quiet, lambda cfg, progress: pipeline.rebalance(
        paths, cfg, out, format.value, progress=progress, previous=previous, audit_db=audit,
        audit_key=_audit_key(audit_key)))
    typer.echo(before_after(summary))
    typer.echo(f"outputs written to {out}/ (with report.html)")
    typer.echo(next_steps(out, workers, children, config, summary.kpis.after.moves))


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
    format: FormatOpt = Format.parquet,
    time_limit: TimeLimitOpt = None,
    work: WorkOpt = None,
    max_moves: MaxMovesOpt = None,
    seed: SeedOpt = None,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Re-plan around a manager's review, changing as little as possible of what was not
    rejected."""
    from rebalancer import pipeline
    from rebalancer.reports.terminal import before_after
    from rebalancer.signoff.replan import replan

    overrides = _overrides(time_limit, max_moves, seed, threads, work)
    paths = pipeline.InputPaths(workers, children, decisions, travel, config)
    summary = _run(config, overrides, quiet, lambda cfg, progress: replan(
        paths, cfg, plan, review, out, format.value, reviewer[:64], audit, progress,
        _audit_key(audit_key)))
    typer.echo(before_after(summary))
    from rebalancer.io.planfolder import read_plan_folder
    from rebalancer.reports.terminal import against_reviewed

    typer.echo(against_reviewed(read_plan_folder(plan).summary, summary))
    r = summary.review or {}
    c = r["counts"]
    typer.echo(f"review: {c['accepted']} accepted, {c['rejected']} rejected, {c['undecided']} "
               f"undecided, from {len(r.get('workbooks', []))} workbook(s)")
    for team, t in sorted(r.get("by_team", {}).items()):
        typer.echo(f"  {team[:40]:<40} {t['accepted']:>4} accepted {t['rejected']:>4} rejected "
                   f"{t['undecided']:>4} undecided")
    for d in r.get("disagreements", []):
        typer.echo(f"disagreement on {d['child_id']}: accepted by {', '.join(d['accepted_by'])}, "
                   f"rejected by {', '.join(d['rejected_by'])}: the reject wins")
    typer.echo(f"against the reviewed plan: {r['changed_beyond_rejected']} other child(ren) "
               "changed, each with a reason and why (review.changed in summary.json):")
    for ch in r.get("changed", [])[:20]:
        typer.echo(f"  {ch['child_id']}: {ch['reviewed_worker_id'] or '(none)'} → "
                   f"{ch['worker_id'] or '(none)'} [{ch['reasons']}] {ch['why'][:100]}")
    typer.echo(f"outputs written to {out}/ (with decisions.csv and report.html)")


@app.command("review")
def review_cmd(
    plan: Annotated[Path, typer.Option("--plan", help="A plan folder (with summary.json).")],
    out: Annotated[Path | None, typer.Option("--out", help="The workbook to write "
                                             "[default: DIR/review.xlsx]; with --by-team, "
                                             "the folder [default: DIR/review/].")] = None,
    by_team: Annotated[bool, typer.Option(
        "--by-team", help="One workbook per team, each with only the children leaving or "
        "joining that team, and index.csv.")] = False,
) -> None:
    """Write the review workbook: one row per proposed change, with accept/reject and a note."""
    from rebalancer.signoff.replan import review_workbook, team_workbooks

    try:
        with _plan_folder(), _inputs_rejected():
            if by_team:
                folder, index = team_workbooks(plan, out)
                typer.echo(f"wrote {len(index)} team workbook(s) and index.csv to {folder}:")
                for x in index:
                    typer.echo(f"  {x['file']:<50} {x['rows']:>5} row(s)  {x['team'][:40]}")
                return
            path, n = review_workbook(plan, out)
    except OutputError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    except OSError as exc:
        raise typer.BadParameter(f"cannot write {out}: {exc.strerror or exc}",
                                 param_hint="--out") from None
    typer.echo(f"wrote {path}: {n} proposed change(s) to accept or reject")


@app.command("report")
def report_cmd(
    plan: Annotated[Path, typer.Option("--plan", help="A plan folder (with summary.json).")],
    by_team: Annotated[bool, typer.Option(
        "--by-team", help="Also a page per team (report-<team>.html) with only that team's "
        "workers and the children leaving or joining it.")] = False,
) -> None:
    """Rewrite the plan folder's report.html (with its charts)."""
    from rebalancer.io.planfolder import read_plan_folder
    from rebalancer.reports.plan_page import write_report

    with _plan_folder():
        pf = read_plan_folder(plan)
    typer.echo(f"wrote {write_report(plan, pf.plan, pf.workers, pf.summary)}")
    if by_team:
        from rebalancer.reports.team_page import write_team_reports

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
    import json

    from rebalancer.signoff import audit as trail

    if not db.is_file():
        raise typer.BadParameter(f"no audit trail at {db}", param_hint="--db")
    key = _audit_key(audit_key)
    recorded: list[tuple[str, int, str]] = []
    for folder in plans or []:
        try:
            info = json.loads((folder / "summary.json").read_text(encoding="utf-8")).get("audit")
        except (OSError, ValueError):
            raise typer.BadParameter(f"{folder} has no readable summary.json",
                                     param_hint="--plan") from None
        if not isinstance(info, dict) or not info.get("entries"):
            raise typer.BadParameter(f"{folder} records no audit entries (made before 0.3?)",
                                     param_hint="--plan")
        if Path(str(info.get("db"))).resolve() != db.resolve():
            typer.echo(f"audit trail broken: the plan in {folder} was recorded in "
                       f"{info.get('db')}, not in {db}")
            raise typer.Exit(1)
        recorded += [(str(folder), int(e["seq"]), str(e["hash"])) for e in info["entries"]]
    try:
        if verify or recorded:
            broken = trail.verify(db, key, recorded)
            if broken:
                typer.echo(f"audit trail broken: {broken}")
                raise typer.Exit(1)
            typer.echo(f"audit trail intact: {len(trail.entries(db))} entries"
                       + (f"; the {len(recorded)} entries {len(plans or [])} plan folder(s) "
                          "recorded are there, unchanged" if recorded else "")
                       + ("; links are HMACs checked with the key" if key else ""))
            return
        shown_entries = trail.entries(db)
    except trail.AuditError as exc:
        raise typer.BadParameter(str(exc), param_hint="--db") from None
    for e in shown_entries:
        p = e.payload
        if e.kind == "plan":
            what = (f"plan {str(p.get('plan_sha256', ''))[:12]} {p.get('status')} objective "
                    f"{p.get('objective')} in {p.get('folder')}")
        else:
            who = p.get("reviewer") or "?"
            what = (f"{p.get('decision')} {p.get('child_id')} → "
                    f"{p.get('proposed_worker_id') or '-'} by {who} on plan "
                    f"{str(p.get('plan_sha256', ''))[:12]}")
        typer.echo(f"{e.seq:>6} {e.at} {e.kind:<9} {what}")


@app.command()
def validate(
    workers: WorkersOpt,
    children: ChildrenOpt,
    decisions: DecisionsOpt = None,
    travel: TravelOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Check the inputs and list every problem at once (exit 1 if there is any)."""
    from rebalancer.io.inputs import load_inputs

    with _inputs_rejected():
        cfg = load_config(config)
        inputs = load_inputs(workers, children, decisions, travel, cfg, config)
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
    from rebalancer import pipeline
    from rebalancer.paths import data_dir
    from rebalancer.pipeline import InputPaths
    from rebalancer.reports.terminal import before_after, next_steps

    d = data_dir() / "demo"
    typer.echo(f"Demo: {d / 'workers.csv'} and {d / 'children.csv'} "
               "(a generated county in crisis)")
    paths = InputPaths(d / "workers.csv", d / "children.csv", config=d / "config.toml")
    summary = _run(d / "config.toml", {}, quiet, lambda cfg, progress: pipeline.rebalance(
        paths, cfg, out, "csv", progress=progress))
    typer.echo(before_after(summary))
    typer.echo(f"outputs written to {out}/ (plan.csv, workers.csv, report.html, summary.json)")
    typer.echo(next_steps(out, d / "workers.csv", d / "children.csv", d / "config.toml",
                          summary.kpis.after.moves))


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
) -> None:
    """Write a synthetic, realistic county: workers and children tables (or an SSD extract)."""
    from rebalancer.synth.county import generate as gen
    from rebalancer.synth.county import write_scenario

    tables = gen(children, workers, seed=seed, scenario=scenario.value)
    if format is GenerateFormat.ssd:
        from rebalancer.synth.ssd import write_ssd

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
) -> None:
    """Turn a Standard Safeguarding Dataset extract into workers and children tables."""
    import datetime as dt
    import json

    from rebalancer.io.outputs import atomic_write, check_output_dir, write_table
    from rebalancer.io.ssd import import_ssd, load_mapping, report_text

    try:
        day = dt.date.fromisoformat(plan_date) if plan_date else dt.date.today()
    except ValueError:
        raise typer.BadParameter("write the date as YYYY-MM-DD", param_hint="--plan-date") \
            from None
    try:
        check_output_dir(out, [], format.value)
        with _inputs_rejected():
            result = import_ssd(ssd, load_mapping(mapping), day)
    except OutputError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    out.mkdir(parents=True, exist_ok=True)
    write_table(result.workers, out / f"workers.{format.value}", format.value)
    write_table(result.children, out / f"children.{format.value}", format.value)
    text = json.dumps(result.report, indent=2)
    atomic_write(out / "import-report.json", lambda p: p.write_text(text, encoding="utf-8"))
    # the plan date travels with the tables: validate and rebalance read it from here
    atomic_write(out / "config.toml", lambda p: p.write_text(
        f"# written by import-ssd: the plan date the extract was imported for\n"
        f"plan_date = {day.isoformat()}\n", encoding="utf-8"))
    typer.echo(report_text(result.report))
    w, c, cfg = (out / f"workers.{format.value}", out / f"children.{format.value}",
                 out / "config.toml")
    typer.echo(f"wrote {w}, {c}, {cfg} (plan_date = {day.isoformat()}) and "
               f"import-report.json\nnext:\n  rebalancer validate --workers {w} --children {c} "
               f"--config {cfg}\n  rebalancer rebalance --workers {w} --children {c} --config "
               f"{cfg} --out PLAN_FOLDER")


@app.command()
def check(
    workers: WorkersOpt,
    children: ChildrenOpt,
    plan: Annotated[Path, typer.Option("--plan", help="A plan folder (with summary.json).")],
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
    from rebalancer.check.independent import check_plan
    from rebalancer.io.inputs import load_inputs
    from rebalancer.io.planfolder import read_plan_folder

    with _plan_folder():
        folder = read_plan_folder(plan, verify=False)
    in_force = folder.raw.get("outputs", {}).get("decisions")
    if decisions is None and isinstance(in_force, dict):  # a re-plan's decisions in force
        decisions = plan / str(in_force["file"])
        typer.echo(f"decisions in force: {decisions} (the re-plan's own; --decisions overrides)")
    # the user's configuration or the shipped defaults: a folder is not trusted to say by which
    # rules it should be judged, unless the user says so
    with _inputs_rejected():
        cfg = folder.config() if trust_plan_config else load_config(config)
        inputs = load_inputs(workers, children, decisions, travel, cfg, config)
        if folder.raw.get("what_ifs"):
            from rebalancer.io.planfolder import with_recorded_what_ifs

            inputs = with_recorded_what_ifs(inputs, folder)
            typer.echo("what-ifs applied as the plan records them (summary.json what_ifs)")
    report = check_plan(inputs, cfg, folder.plan, folder.raw, folder.workers)
    report.mismatches[:0] = folder.changed
    if isinstance(in_force, dict) and decisions == plan / str(in_force["file"]):
        from rebalancer.io.inputs import file_sha256

        if file_sha256(decisions) != in_force.get("sha256"):
            report.mismatches.insert(0, f"{decisions}: differs from the decisions in force the "
                                        "plan folder names (sha256)")
    if trust_plan_config:
        report.unchecked.insert(0, "configuration taken from the plan (--trust-plan-config): "
                                   "its rules and weights were not checked against yours")
    typer.echo(check_text(report, len(inputs.children)))
    if not report.ok:
        raise typer.Exit(1)


def _reload(plan: Path) -> tuple[Any, Any, Any]:
    """The case model, plan and workers table of a plan folder."""
    from rebalancer.io.planfolder import read_plan_folder, reload_inputs
    from rebalancer.model.build import build_case_model

    with _plan_folder():
        folder = read_plan_folder(plan)
        inputs, cfg = reload_inputs(folder)
    return build_case_model(inputs, cfg), folder.plan, folder.workers


@app.command()
def explain(
    plan: Annotated[Path, typer.Option("--plan", help="Folder of a plan (with summary.json).")],
    child_id: Annotated[str | None, typer.Argument(help="The child to explain.")] = None,
    worker: Annotated[str | None, typer.Option("--worker", help="Explain a worker instead.")
                      ] = None,
) -> None:
    """Why a child ended where it did: staying put, the best alternatives term by term, and who
    was barred."""
    from rebalancer.model.explain import alternatives, worker_story
    from rebalancer.reports.terminal import alternatives_text, worker_story_text

    with _inputs_rejected():
        cm, plan_df, workers_df = _reload(plan)
    if worker is not None:
        if worker not in set(workers_df["worker_id"]):
            raise typer.BadParameter(f"no worker {worker[:40]!r} in the plan",
                                     param_hint="--worker")
        typer.echo(worker_story_text(worker_story(cm, plan_df, workers_df, worker)))
        return
    if child_id is None or child_id not in set(plan_df["child_id"]):
        raise typer.BadParameter(f"give a CHILD_ID of the plan (got {str(child_id)[:40]!r})")
    row = plan_df.loc[plan_df["child_id"] == child_id].iloc[0]
    typer.echo(alternatives_text(alternatives(cm, plan_df, workers_df, child_id),
                                 str(row.get("explanation", ""))))


GridOpt = Annotated[list[str] | None, typer.Option(
    "--grid", help="KEY=V1,V2,... over any dotted configuration key, e.g. weights.move=100,300; "
    "several --grid form their product.")]
ScenariosOpt = Annotated[Path | None, typer.Option(
    "--scenarios", help="TOML of [scenario.NAME] tables: overrides, add_workers, remove_team, "
    "cancel_leaver.")]
SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", help="Address of a running Dask scheduler, e.g. tcp://127.0.0.1:8786 "
    "[default: a LocalCluster sized to this machine].")]


def _analysis_setup(workers: Path, children: Path, decisions: Path | None, travel: Path | None,
                    config: Path | None, time_limit: float | None,
                    work: float | None = None) -> tuple[Any, Any]:
    from rebalancer.pipeline import InputPaths

    overrides = _overrides(time_limit, None, None, None, work)
    with _inputs_rejected():
        cfg = load_config(config, overrides)
    return InputPaths(workers, children, decisions, travel, config), cfg


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
    format: FormatOpt = Format.parquet,
) -> None:
    """Plan every scenario (grid product x named what-ifs) in parallel on a Dask cluster."""
    from rebalancer.analysis.scenarios import load_scenarios, parse_grid, repeated
    from rebalancer.analysis.scenarios import scenarios as plan_of
    from rebalancer.analysis.sweep import sweep as run_sweep

    paths, cfg = _analysis_setup(workers, children, decisions, travel, config, time_limit,
                                 work)
    try:
        g = parse_grid(grid or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--grid") from None
    from rebalancer.config import unknown_dotted_keys

    bad_key = unknown_dotted_keys(list(g), "--grid")  # a usage error before anything runs
    if bad_key:
        raise typer.BadParameter(f"{bad_key[0].message}; {bad_key[0].fix}", param_hint="--grid")
    with _inputs_rejected():
        named = load_scenarios(scenarios) if scenarios else []
        if named:  # what each what-if names must exist: every problem before anything runs
            from rebalancer.io.inputs import load_inputs
            from rebalancer.io.whatifs import check_what_ifs
            from rebalancer.problems import InputRejected

            county = load_inputs(workers, children, decisions, travel, cfg, config)
            problems = [p for s in named for p in check_what_ifs(
                county, s.what_ifs, f"{scenarios} [scenario.{s.name}]")]
            if problems:
                raise InputRejected(problems)
    todo = repeated(plan_of(g, named), repeats)
    typer.echo(f"{len(todo)} scenario(s) on "
               + (scheduler or "a local Dask cluster") + f"; results in {out}/results.csv")
    df = run_sweep(paths, cfg, todo, out, format.value, time_limit, scheduler, list(g),
                        echo=typer.echo)
    failed = int((df["status"] == "error").sum())
    typer.echo(f"{len(df)} row(s) written to {out}/results.csv, results.parquet and sweep.html"
               + (f"; {failed} scenario(s) failed (see the error column)" if failed else ""))


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
    format: FormatOpt = Format.parquet,
) -> None:
    """The trade-off between discretionary moves and overload (epsilon-constraint on
    max_moves, each point warm-started from its neighbour)."""
    from rebalancer.analysis.frontier import frontier

    paths, cfg = _analysis_setup(workers, children, decisions, travel, config, time_limit,
                                 work)
    with _inputs_rejected():
        frontier(paths, cfg, out, format.value, points, echo=typer.echo)
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
    format: FormatOpt = Format.parquet,
) -> None:
    """The extra FTE by locality and grade that brings every worker within capacity and
    allocates every child, checked by re-planning with those workers added."""
    from rebalancer.analysis.staffing import staffing

    paths, cfg = _analysis_setup(workers, children, decisions, travel, config, time_limit,
                                 work)
    with _inputs_rejected():
        rec = staffing(paths, cfg, out, format.value, target, echo=typer.echo)
    typer.echo(f"{rec['total_fte']:.1f} FTE "
               + ("confirmed by a re-plan" if rec["confirmed"] else "NOT enough after "
                  f"{len(rec['rounds']) - 1} rounds")
               + ":")
    for r in rec["by_locality_and_grade"]:
        tags = f"  with {', '.join(r['skills'])}" if r.get("skills") else ""
        typer.echo(f"  {r['locality'][:24]:<24}{r['grade']:<10}{r['fte']:>6.1f} FTE{tags}")
    typer.echo(f"wrote {out}/staffing.json")


@app.command("compare")
def compare_cmd(
    plan_a: Annotated[Path, typer.Argument(help="A plan folder.")],
    plan_b: Annotated[Path, typer.Argument(help="Another plan folder.")],
    out: Annotated[Path | None, typer.Option("--out", help="CSV of the children whose "
                                             "outcome differs.")] = None,
) -> None:
    """KPI deltas side by side, and the children whose outcome differs."""
    from rebalancer.analysis.compare import compare, protected
    from rebalancer.io.outputs import refuse_overwrite
    from rebalancer.model.kpi import KPI_BY_NAME, Kpi

    with _plan_folder(hint=None):
        kpis, diff, warnings = compare(plan_a, plan_b)
        if out is not None:
            try:
                refuse_overwrite(out, protected(plan_a, plan_b))
            except OutputError as exc:
                raise typer.BadParameter(str(exc), param_hint="--out") from None
    for w in warnings:
        typer.echo(f"WARNING: {w}")
    typer.echo(f"{'':<24}{'A':>14}{'B':>14}{'B - A':>14}")
    for r in kpis.itertuples(index=False):
        kpi = KPI_BY_NAME.get(str(r.kpi), Kpi(str(r.kpi), "", "num"))
        if r.kpi == "objective":
            kpi = Kpi("objective", "", "int")
        def f(v: Any, kpi: Kpi = kpi) -> str:
            if v is None or v != v:
                return "-"
            return kpi.fmt(round(v) if kpi.kind == "int" else v)
        typer.echo(f"{r.kpi:<24}{f(r.a):>14}{f(r.b):>14}{f(r.delta):>14}")
    typer.echo(f"{len(diff)} child(ren) end with a different worker")
    for r in diff.head(20).itertuples(index=False):
        typer.echo(f"  {r.child_id}: A {r.to_worker_id_a or '(none)'}  B "
                   f"{r.to_worker_id_b or '(none)'}")
    if out is not None:
        from rebalancer.io.outputs import write_table

        write_table(diff, out, "csv")
        typer.echo(f"wrote {out}")


def main() -> None:
    """The console script: the time limit counts from the process's start (imports included),
    and the process exits only once the solver's engines have stopped (an engine still running
    in C++ at exit aborts the process, after the plan was written)."""
    from rebalancer.clock import count_from_process_start
    from solvers.stopping import wait_for_engines

    count_from_process_start()
    try:
        app()
    finally:
        wait_for_engines(ENGINE_STOP_WAIT)


ENGINE_STOP_WAIT = 10.0  # seconds; a halted engine ends within milliseconds


if __name__ == "__main__":
    main()
