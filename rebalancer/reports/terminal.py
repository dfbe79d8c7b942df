"""What the terminal shows a person: the before/after table and the list of input problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rebalancer.model.summary import Summary
from rebalancer.problems import Problem, printable

MAX_SHOWN = 500


def problems_text(problems: list[Problem]) -> str:
    shown = problems[:MAX_SHOWN]
    lines = [f"The inputs were rejected: {len(problems)} problem(s). Nothing was written."]
    lines += [f"  - {p}" for p in shown]
    if len(problems) > MAX_SHOWN:
        lines.append(f"  ... and {len(problems) - MAX_SHOWN} more")
    return "\n".join(lines)


def before_after(summary: Summary) -> str:
    """The headline figures a workforce lead reads first."""
    from rebalancer.model.kpi import SIDE_BY_SIDE

    b, a = summary.kpis.before, summary.kpis.after
    width = max(len(k.label) for k in SIDE_BY_SIDE) + 2
    lines = [f"{'':<{width}}{'before':>10}{'after':>10}"]
    for k in SIDE_BY_SIDE:
        lines.append(f"{k.label:<{width}}{k.fmt(b.value(k.name)):>10}"
                     f"{k.fmt(a.value(k.name)):>10}")
    lines.append(f"{'changes of social worker':<{width}}{'':>10}{a.moves:>10,}"
                 f"   ({a.moves_forced} forced, {a.moves_discretionary} discretionary)")
    lines.append(f"{'children newly allocated':<{width}}{'':>10}{a.allocations:>10,}")
    lines.append("")
    lines += quality_lines(summary)
    lines += _caveats(summary)
    from rebalancer.model.shortfall import shortfall_text

    lines.append("")
    lines.append(shortfall_text(summary.shortfall))
    m = summary.max_new_yielded
    if m.excess_total:
        lines.append(f"MAX_NEW yielded: {m.excess_total} children above the new-case cap, at "
                     f"{len(m.workers)} worker(s), so that no child who had a worker is left "
                     "without one")
    if summary.conflicts:
        lines.append(f"{len(summary.conflicts)} decision(s) or pin(s) yielded to a hard rule "
                     "(see conflicts in summary.json)")
    return "\n".join(lines)


STAGE_WORDS = {"greedy": "greedy start", "excess": "least-excess", "lp": "LP bound",
               "lp_fix": "LP-guided CP-SAT", "cpsat": "CP-SAT", "lns": "neighbourhood search",
               "rescue": "rescue"}


def quality_lines(summary: Summary) -> list[str]:
    """How good the plan is, in words first (how close to the best possible plan, and whether
    the clock decided it), then the solver's own figures."""
    gap, solver = summary.gap, summary.solver
    if summary.status == "optimal" or gap == 0:
        words = "Plan quality: the best possible plan under these rules and weights (proven)."
    elif gap is not None:
        words = (f"Plan quality: within {gap:.1%} of the best possible plan (no plan can score "
                 "better than a proven bound; this one is that close to it).")
    elif summary.kpis.weeks and len(summary.kpis.weeks) > 1:
        words = ("Plan quality: not measured over the weeks of the look-ahead (no bound is "
                 "computed for them), so how close this plan is to the best possible is not "
                 "known.")
    else:
        words = ("Plan quality: not measured (no bound was proven in the time given), so how "
                 "close this plan is to the best possible is not known.")
    if solver.interrupted:
        words += " Interrupted: this is the best plan found so far."
    elif solver.reproducible:
        words += " The clock did not decide it: the same inputs and settings give this plan."
    else:
        words += " The time limit decided where the search stopped: a re-run may differ."
    figures = (f"({summary.status}, objective {summary.objective:,.0f}"
               + (f", bound {summary.best_bound:,.0f}" if summary.best_bound is not None else "")
               + f", {summary.wall_time:.1f}s)")
    return [words, figures]


def clock_line(summary: Summary) -> str:
    """One plain line when the clock or an interrupt, not the inputs, decided the plan."""
    solver = summary.solver
    if solver.reproducible:
        return ""
    stages = [s for s in solver.stage_seconds if s != "polish"]  # polish runs after the clock
    stage = STAGE_WORDS.get(stages[-1], stages[-1]) if stages else "first"
    if solver.interrupted:
        return (f"Interrupted (Ctrl-C or SIGTERM) during the {stage} stage: this is the best plan "
                "found so far, and a re-run may give a different one.")
    limit = summary.config.solver.time_limit
    return (f"The clock cut the {stage} stage short (time limit {limit:g}s): a re-run may give "
            "a different plan. Give --work (with a --time-limit above it) for identical "
            "re-runs, or a longer --time-limit.")


def _caveats(summary: Summary) -> list[str]:
    """What the table alone would leave a workforce lead asking."""
    b, a = summary.kpis.before, summary.kpis.after
    out = []
    if a.asye_over_capacity:
        out.append(f"FLAG: {a.asye_over_capacity} newly qualified (ASYE) worker(s) over capacity "
                   "after the plan (see workers.csv, grade asye, utilisation_after above 1).")
    if (b.workers_over_capacity is not None and a.workers_over_capacity
            > b.workers_over_capacity and a.total_overload_points < b.total_overload_points):
        out.append(f"More workers are over capacity ({b.workers_over_capacity} → "
                   f"{a.workers_over_capacity}) while total overload falls: overload is spread "
                   "rather than piled on the busiest, and the "
                   f"{a.allocations:,} newly allocated children add load.")
    rising = summary.second_changes
    if a.children_2plus_changes > b.children_2plus_changes and rising is not None:
        out.append(f"FLAG: children with two or more changes of social worker this year rise "
                   f"from {b.children_2plus_changes:,} to {a.children_2plus_changes:,}: "
                   f"{rising.discretionary:,} of them are moved for balance (a manager may "
                   f"reject those moves) and {rising.forced:,} because their worker cannot "
                   "keep them (see reasons in plan.csv; weights.move_factor_recent_change "
                   "prices a second change).")
    line = clock_line(summary)
    if line:
        out.append(line)
    if summary.report_charts is False and not summary.solver.interrupted:
        out.append("report.html was written without its charts, to end within the time limit: "
                   "rebalancer report --plan DIR draws them.")
    return out


def against_reviewed(reviewed: Summary, now: Summary) -> str:
    """The re-plan against the plan the managers reviewed, KPI by KPI."""
    from rebalancer.model.kpi import KPIS

    width = max(len(k.label) for k in KPIS) + 2
    lines = ["", f"{'against the reviewed plan':<{width}}{'reviewed':>10}{'now':>10}"]
    for k in KPIS:
        lines.append(f"{k.label:<{width}}{k.fmt(reviewed.kpis.after.value(k.name)):>10}"
                     f"{k.fmt(now.kpis.after.value(k.name)):>10}")
    return "\n".join(lines)


def next_steps(out: Path, workers: Path, children: Path, config: Path | None,
               moves: int, scheduled: int = 0) -> str:
    """What a workforce lead does with a plan folder next, as commands to copy."""
    cfg = f" --config {config}" if config is not None else ""
    later = f" (and the {scheduled:,} scheduled for later weeks)" if scheduled else ""
    return ("\nNext steps:\n"
            f"  rebalancer explain --plan {out} CHILD_ID     why one child moved, and the "
            "alternatives\n"
            f"  rebalancer explain --plan {out} --worker W   why a worker gained or lost "
            "children\n"
            f"  rebalancer check --workers {workers} --children {children}{cfg} --plan {out}\n"
            f"  open {out}/report.html (rebalancer report --plan {out} rewrites it)\n"
            f"  rebalancer review --plan {out}   a workbook of the {moves:,} changes of worker"
            f"{later} to accept or reject, then rebalancer replan ... --review {out}/review.xlsx")


def check_text(report: Any, n_children: int) -> str:
    """What `check` prints: every violation and mismatch, what could not be checked, a verdict."""
    lines = [f"VIOLATION {v}" for v in report.violations]
    lines += [f"MISMATCH {m}" for m in report.mismatches]
    lines += [f"NOT CHECKED {n}" for n in report.unchecked]
    lines += [f"WARNING {x}" for x in report.warnings[:20]]
    if len(report.warnings) > 20:
        lines.append(f"WARNING ... and {len(report.warnings) - 20} more moves staying would beat")
    if not report.ok:
        lines.append(f"check failed: {len(report.violations)} rule violation(s), "
                     f"{len(report.mismatches)} mismatch(es) with the plan folder")
    else:
        lines.append(f"check passed: every hard rule holds for {n_children} children; every "
                     "column of the plan and workers tables, the KPIs and the objective "
                     f"({report.recomputed['objective']:,.1f}) match a recomputation")
    return "\n".join(lines)


def alternatives_text(a: dict[str, Any], explanation: str) -> str:
    """`explain CHILD`: staying put, the chosen worker and the best others, term by term."""
    out = [f"{a['child_id']}: {a['action']} {a['from'] or '(unallocated)'} → "
           f"{a['to'] or '(unallocated)'}   reasons: {a['reasons'] or '-'}"]
    if explanation:
        out.append(f"  {explanation}")
    if a["siblings_in_unit"]:
        out.append(f"  moves as one with siblings {', '.join(a['siblings_in_unit'][:10])}: a "
                   "worker must suit all of them; the costs below are for this child alone")
    mf = a.get("move_factor")
    if mf is not None and a["from"]:
        why = ": " + ", ".join(mf["parts"]) if mf["parts"] else " (no factor applies)"
        out.append(f"  moving this child costs ×{mf['factor']:g} the base move cost{why}")
    out.append("change in the plan's objective if this child alone went to each eligible "
               "worker instead (everything else as planned)"
               + (", priced for the plan date (week 0; the later weeks are in schedule)"
                  if a.get("weeks", 1) > 1 else "") + ":")
    options = [o for o in (a["chosen"], (a["stay"] or {}).get("option"), *a["alternatives"])
               if o is not None]
    names = list(options[0][2]) if options else []
    width = {n: max(len(n), 7) + 2 for n in names}
    out.append(f"  {'worker':<10}{'total':>9}" + "".join(f"{n:>{width[n]}}" for n in names)
               + "  utilisation  new cases/cap")

    def line(o: tuple[Any, ...], tag: str) -> str:
        total, wid, terms, util, why = o
        note = "; ".join(x for x in (tag, why) if x)
        cols = "".join(f"{terms[n]:>+{width[n]}.0f}" for n in names)
        return (f"  {wid:<10}{total:>+9.0f}{cols}  {util:<12} "
                f"{a['new_case_slots'][wid]:<7} {note}".rstrip())

    if a["chosen"]:
        out.append(line(a["chosen"], "chosen"))
    stay = a["stay"]
    if stay is not None and stay["option"] is not None:
        tag = "stay with the current worker"
        if mf is not None and mf["recent_changes"]:
            tag += f" (saves a move at ×{mf['factor']:g})"
        out.append(line(stay["option"], tag))
    for o in a["alternatives"]:
        out.append(line(o, ""))
    if not a["chosen"] and not a["alternatives"] and not (stay and stay["option"]):
        out.append("  (none)")
    if stay is not None and stay["option"] is None:
        why = ", ".join(stay["rules"]) or "not a candidate"
        out.append(f"staying with {stay['worker_id']} is not allowed: {why}")
    out.append(f"leaving the child unallocated would cost {a['unallocated_cost']:,.0f}")
    from rebalancer.model.rules import RULE_WORDS

    for code, ids in a["ineligible"].items():
        more = f" (+{len(ids) - 8} more)" if len(ids) > 8 else ""
        out.append(f"ineligible by {code} ({RULE_WORDS[code]}): {', '.join(ids[:8])}{more}")
    return "\n".join(out)


def worker_story_text(s: dict[str, Any]) -> str:
    """`explain --worker W`: load before and after, and each child gained or lost, with why."""
    out = [f"{s['worker_id']}: load {s['load'][0]:.1f} → {s['load'][1]:.1f} points of "
           f"{s['capacity']:.1f} ({s['utilisation'][0]:.0%} → {s['utilisation'][1]:.0%})"
           + (f"; {s['why_lost']}" if s["why_lost"] else "")]
    out.append(f"gained {len(s['gained'])}:")
    out += [f"  {cid} from {src or '(unallocated)'}: {why}" for cid, src, why in s["gained"]]
    out.append(f"lost {len(s['lost'])}:")
    out += [f"  {cid} to {dst or '(unallocated)'}: {why}" for cid, dst, why in s["lost"]]
    return "\n".join(out)


def replan_text(reviewed: Summary, summary: Summary, out: Path) -> str:
    """What a re-plan says: before and after, against the reviewed plan, the decisions by team,
    the disagreements and every other child changed."""
    lines = [before_after(summary), against_reviewed(reviewed, summary)]
    r = summary.review
    if r is not None:
        c = r.counts
        lines.append(f"review: {c.accepted} accepted, {c.rejected} rejected, {c.undecided} "
                     f"undecided, from {len(r.workbooks)} workbook(s)")
        if r.scheduled is not None:
            k = r.scheduled
            lines.append(f"  of the changes scheduled for later weeks: {k.accepted} accepted, "
                         f"{k.rejected} rejected (the child is not given that worker in any "
                         f"week), {k.undecided} undecided")
        lines += [f"  read {Path(w.file).name}" + (f" ({w.team[:40]})" if w.team else "")
                  for w in r.workbooks]
        lines += [f"  skipped {s}" for s in r.skipped]
        if r.no_effect:
            lines.append(f"WARNING: {len(r.no_effect)} reject(s) change nothing: the plan "
                         "leaves these children without a worker, as they were ("
                         + ", ".join(r.no_effect[:10]) + (", …" if len(r.no_effect) > 10
                                                           else "")
                         + "); they are recorded as rejections with no effect")
        for team, t in sorted(r.by_team.items()):
            lines.append(f"  {team[:40]:<40} {t.accepted:>4} accepted {t.rejected:>4} rejected "
                         f"{t.undecided:>4} undecided")
        for d in r.disagreements:
            lines.append(f"disagreement on {d.child_id}: accepted by {', '.join(d.accepted_by)}, "
                         f"rejected by {', '.join(d.rejected_by)}: the reject wins")
        lines.append(f"against the reviewed plan: {r.changed_beyond_rejected} other child(ren) "
                     "changed, each with a reason and why (review.changed in summary.json):")
        for ch in r.changed[:20]:
            lines.append(f"  {ch.child_id}: {ch.reviewed_worker_id or '(none)'} → "
                         f"{ch.worker_id or '(none)'} [{ch.reasons}] {ch.why[:100]}")
    lines.append(f"outputs written to {out}/ (with decisions.csv and report.html)")
    lines += trail_line(summary)
    return "\n".join(lines)


def trail_line(summary: Summary) -> list[str]:
    """Where the plan's audit entries went, so nobody has to guess where the trail is."""
    a = summary.audit
    if a is None or not a.entries:
        return []
    seqs = [e.seq for e in a.entries]
    span = f"entry {seqs[0]}" if len(seqs) == 1 else f"entries {seqs[0]}–{seqs[-1]}"
    return [f"audit trail: {a.db} ({span}{', keyed' if a.keyed else ''})"]


def import_text(report: dict[str, Any], paths: tuple[Path, Path, Path], day: str) -> str:
    """What import-ssd says: its report, what it wrote, and the next commands."""
    from rebalancer.io.ssd import report_text

    w, c, cfg = paths
    return (f"{report_text(report)}\n"
            f"wrote {w}, {c}, {cfg} (plan_date = {day}) and import-report.json\n"
            "the SSD holds no leaving, start or absence dates: add the calendar from HR to "
            f"{w} (leaving_on, starts_on, away_from, away_until) so the plan can look ahead\n"
            "next:\n"
            f"  rebalancer validate --workers {w} --children {c} --config {cfg}\n"
            f"  rebalancer rebalance --workers {w} --children {c} --config {cfg} "
            "--out PLAN_FOLDER")


def audit_lines(entries: list[Any]) -> str:
    """The audit trail, an entry a line (IDs, hashes and words only)."""
    lines = []
    for e in entries:
        p = e.payload
        if e.kind == "plan":
            what = (f"plan {str(p.get('plan_sha256', ''))[:12]} {p.get('status')} objective "
                    f"{p.get('objective')} in {p.get('folder')}")
        else:
            who = p.get("reviewer") or "?"
            what = (f"{p.get('decision')} {p.get('child_id')} → "
                    f"{p.get('proposed_worker_id') or '-'} by {who}"
                    + (f" ({p['team']})" if p.get("team") and f"({p['team']})" not in who
                       else "")
                    + (" [no effect]" if p.get("effect") == "none" else "")
                    + f" on plan {str(p.get('plan_sha256', ''))[:12]}")
        lines.append(f"{e.seq:>6} {e.at} {e.kind:<9} {what}")
    return "\n".join(lines)


def audit_verdict(v: Any, plans: int, keyed: bool) -> str:
    """What `audit --verify` found, in one line."""
    if v.broken:
        return f"audit trail broken: {v.broken}"
    return (f"audit trail intact: {v.entries} entries"
            + (f"; the {v.recorded} entries {plans} plan folder(s) recorded are there, "
               "unchanged" if v.recorded else "")
            + ("; links are HMACs checked with the key" if keyed else ""))


def review_text(index: list[dict[str, Any]] | None, folder: Path, rows: int) -> str:
    """What review says: the team workbooks written (with --by-team), or the one workbook."""
    if index is None:
        return f"wrote {folder}: {rows} proposed change(s) to accept or reject"
    lines = [f"wrote {len(index)} team workbook(s) and index.csv to {folder}:"]
    lines += [f"  {x['file']:<50} {x['rows']:>5} row(s)  {x['team'][:40]}" for x in index]
    return "\n".join(lines)


def staffing_text(rec: dict[str, Any], out: Path) -> str:
    """The extra FTE a staffing run recommends, and whether a re-plan confirmed it."""
    lines = [f"{rec['total_fte']:.1f} FTE "
             + ("confirmed by a re-plan" if rec["confirmed"] else "NOT enough after "
                f"{len(rec['rounds']) - 1} rounds") + ":"]
    for r in rec["by_locality_and_grade"]:
        tags = f"  with {', '.join(r['skills'])}" if r.get("skills") else ""
        lines.append(f"  {r['locality'][:24]:<24}{r['grade']:<10}{r['fte']:>6.1f} FTE{tags}")
    lines.append(f"wrote {out}/staffing.json")
    return "\n".join(lines)


def compare_text(kpis: Any, diff: Any, warnings: list[str]) -> str:
    """Two plans side by side: KPI deltas, then the children whose outcome differs."""
    from rebalancer.model.kpi import KPI_BY_NAME, Kpi

    lines = [f"WARNING: {w}" for w in warnings]
    lines.append(f"{'':<24}{'A':>14}{'B':>14}{'B - A':>14}")
    for r in kpis.itertuples(index=False):
        kpi = KPI_BY_NAME.get(str(r.kpi), Kpi(str(r.kpi), "", "num"))
        if r.kpi == "objective":
            kpi = Kpi("objective", "", "int")

        def f(v: Any, kpi: Kpi = kpi) -> str:
            if v is None or v != v:
                return "-"
            return kpi.fmt(round(v) if kpi.kind == "int" else v)

        lines.append(f"{r.kpi:<24}{f(r.a):>14}{f(r.b):>14}{f(r.delta):>14}")
    lines.append(f"{len(diff)} child(ren) end with a different worker")
    for r in diff.head(20).itertuples(index=False):
        lines.append(f"  {r.child_id}: A {r.to_worker_id_a or '(none)'}  B "
                     f"{r.to_worker_id_b or '(none)'}")
    return "\n".join(lines)


def sweep_text(df: Any, out: Path) -> str:
    """The last line of a sweep: rows written, and how many scenarios failed."""
    failed = int((df["status"] == "error").sum())
    return (f"{len(df)} row(s) written to {out}/results.csv, results.parquet and sweep.html"
            + (f"; {failed} scenario(s) failed (see the error column)" if failed else ""))


def explained_text(e: Any, kind: str = "rebalance") -> str:
    """`rebalancer explain`: a worker's story, or a child's alternatives."""
    if e.story is not None:
        return worker_story_text(e.story)
    text = alternatives_text(e.alternatives, e.explanation)
    if kind == "allocate":
        text += ("\nthis folder is an allocation: the prices above are for the plan date alone; "
                 "options.csv ranks the workers over the coming weeks, as allocate chose")
    return text


def rebalance_text(summary: Summary, paths: Any, out: Path,
                   tables: dict[str, Any] | None = None) -> str:
    """What rebalance (and the demo) says: before and after, the coming weeks, where the plan
    is, what next."""
    tables = tables or {}
    later = ", schedule, weeks" if "schedule" in tables else ""
    return "\n".join([*(f"WARNING {w}" for w in summary.input_warnings or []),
                      before_after(summary),
                      *coming_weeks(summary, tables.get("schedule"), tables.get("weeks")),
                      f"outputs written to {out}/ (plan{later}, workers, summary.json, "
                      "report.html)",
                      *trail_line(summary),
                      next_steps(out, paths.workers, paths.children, paths.config,
                                 summary.kpis.after.moves, _rows(tables.get("schedule")))])


def _rows(table: Any) -> int:
    return 0 if table is None else len(table)


def input_warnings(inputs: Any) -> list[str]:
    """What the inputs ask for that looks like a mistake, applied as given."""
    return [f"WARNING {printable(str(p))}" for p in inputs.warnings]


def validated_text(inputs: Any) -> str:
    """validate's line when every input is sound, after any warnings."""
    return "\n".join([*input_warnings(inputs),
                      f"ok: {len(inputs.workers)} workers, {len(inputs.children)} children"
                      + (f", {len(inputs.decisions)} decisions" if len(inputs.decisions) else "")
                      + (f", {len(inputs.travel)} travel rows" if inputs.travel is not None
                         else "")])


def allocate_text(result: Any, paths: Any, out: Path) -> str:
    """What allocate says: each new child's worker and its ranked options, the coming weeks,
    where the folder is, and what next."""
    s = result.summary
    a = s.allocation
    lines = [*(f"WARNING {w}" for w in s.input_warnings or [])]
    lines.append(f"{len(a.allocated)} child(ren) allocated, {len(a.unallocated)} left without a "
                 f"worker, {len(a.handed_over)} handed over as their worker leaves or is away "
                 f"({s.status}, objective {s.objective:,.1f})")
    options = result.tables["options"]
    for cid, rows in options.groupby("child_id", sort=False):
        chosen = rows[rows["chosen"] == "true"]
        head = f"{printable(str(cid))}: " + (
            f"allocated to {printable(str(chosen['worker_id'].iat[0]))}" if len(chosen)
            else "no worker")
        lines.append(head)
        for r in rows.itertuples(index=False):
            if not r.worker_id:
                lines.append(f"    {printable(str(r.why))[:160]}")
                continue
            lines.append(f"  {r.rank}. {printable(str(r.worker_id)):<10} "
                         f"{printable(str(r.team))[:28]:<28} {printable(str(r.why))[:150]}")
    lines += coming_weeks(s, result.tables.get("schedule"), result.tables.get("weeks"))
    lines.append(f"outputs written to {out}/ (plan, schedule, options, workers, weeks, "
                 "summary.json, report.html)")
    lines += trail_line(s)
    lines.append(f"\nNext: rebalancer review --plan {out} (accept or reject each allocation), "
                 f"rebalancer check --workers {paths.workers} --children {paths.children} "
                 f"--plan {out}")
    return "\n".join(lines)


def coming_weeks(summary: Summary, schedule: Any, per_worker: Any = None) -> list[str]:
    """The look-ahead in a few lines: changes scheduled per week, workers who stop or start
    holding children (leaving, going away, starting, coming back), unallocated child-weeks."""
    weeks = summary.kpis.weeks
    if not weeks or len(weeks) < 2:
        return []
    counts = schedule["week"].astype(int).value_counts().sort_index() \
        if schedule is not None and len(schedule) else {}
    lines = [f"coming weeks ({len(weeks)}, from {weeks[0].starts_on}):"]
    busy = [f"week {k} ({weeks[k].starts_on}): {n}" for k, n in dict(counts).items()]
    lines.append("  changes scheduled: " + (", ".join(busy) if busy else "none"))
    if per_worker is not None and len(per_worker):
        stop, start = _holding_changes(per_worker)
        lines.append(f"  workers who stop holding children (leaving or away): {stop or 'none'}")
        lines.append(f"  workers who start holding children (starting or back): "
                     f"{start or 'none'}")
    lines.append(f"  unallocated child-weeks: {sum(w.unallocated for w in weeks):,}; peak "
                 f"utilisation {max(w.peak_utilisation for w in weeks):.0%} at most")
    return lines


def _holding_changes(per_worker: Any) -> tuple[str, str]:
    """From the weeks table: per week, how many workers stop and start holding children."""
    t = per_worker.assign(week=per_worker["week"].astype(int),
                          can=per_worker["can_hold"].astype(str) == "true")
    t = t.sort_values(["worker_id", "week"], kind="stable")
    was = t.groupby("worker_id")["can"].shift(1)
    first = was.isna()
    stopped = t[~first & (was == True) & ~t["can"]]  # noqa: E712 (a column of objects)
    started = t[~first & (was == False) & t["can"]]  # noqa: E712

    def words(rows: Any) -> str:
        return ", ".join(f"week {k}: {n}" for k, n in
                         rows["week"].value_counts().sort_index().items())
    return words(stopped), words(started)
