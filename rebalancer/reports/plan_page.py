"""report.html: one self-contained page a team manager can read in a locked-down browser.

Charts are drawn by matplotlib as inline SVG with text as paths, so the page makes no request at
all (no scripts, fonts or images from anywhere). Everything from the tables is escaped.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from rebalancer.model.summary import ReviewReport, Summary, to_plain
from rebalancer.reports.page import need_table, page, pyplot, svg, table
from rebalancer.reports.terminal import quality_lines

BANDS = (("under 100%", "#4c9a2a"), ("100–110%", "#e0a000"), ("over 110%", "#c0392b"))
MAX_ROWS_PER_TEAM = 400  # beyond this a team's table says how many more are in the workbook

def _band(u: pd.Series) -> pd.Series:
    return pd.cut(u, [-1, 1.0, 1.1, float("inf")], labels=[b for b, _ in BANDS], right=True)


def utilisation_chart(workers: pd.DataFrame) -> str:
    """Every worker's utilisation before and after, sorted, coloured by band.

    Drawn as one filled step outline per band, not one bar per worker: sorted utilisation makes
    each band a contiguous run, so the picture is the same and its cost does not grow with the
    workforce (a bar per worker took 0.9 s at 385 workers, and would take ten at 4,000)."""
    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), sharey=True)
    for ax, side in zip(axes, ("before", "after"), strict=True):
        u = 100 * workers[f"utilisation_{side}"].astype(float).sort_values(ascending=False)
        u = u.reset_index(drop=True)
        bands = _band(u / 100)
        for name, colour in BANDS:
            at = np.flatnonzero((bands == name).to_numpy())
            if at.size:
                ax.stairs(u.to_numpy()[at], np.arange(at[0], at[-1] + 2), fill=True,
                          color=colour, linewidth=0)
        ax.set_xlim(0, max(len(u), 1))
        ax.axhline(100, color="#333", lw=0.8)
        ax.axhline(110, color="#333", lw=0.6, ls="--")
        counts = bands.value_counts()
        ax.set_title(f"{side}: " + ", ".join(f"{counts.get(b, 0)} {b}" for b, _ in BANDS),
                     fontsize=9)
        ax.set_xlabel("workers, busiest first")
    axes[0].set_ylabel("utilisation (%)")
    return svg(fig)


def bar_chart(labels: list[str], values: list[float], title: str, xlabel: str,
              second: list[float] | None = None, legend: tuple[str, str] = ("", "")) -> str:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(5.4, 0.35 * max(len(labels), 3) + 1.0))
    pos = list(range(len(labels)))
    if second is None:
        ax.barh(pos, values, color="#3a6ea5")
    else:
        ax.barh([p - 0.2 for p in pos], values, height=0.4, color="#3a6ea5", label=legend[0])
        ax.barh([p + 0.2 for p in pos], second, height=0.4, color="#c0392b", label=legend[1])
        # above the bars, never over them
        ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2,
                  frameon=False)
    ax.set_yticks(pos, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10, pad=22 if second is not None else 6)
    ax.set_xlabel(xlabel)
    return svg(fig)


def _kpis(summary: Summary) -> str:
    from rebalancer.model.kpi import KPIS

    b, a = summary.kpis.before, summary.kpis.after
    rows = [(k.label, "" if k.after_only else k.fmt(b.value(k.name)).replace("-", "–"),
             k.fmt(a.value(k.name)).replace("-", "–")) for k in KPIS]
    return table(pd.DataFrame(rows, columns=["", "before", "after"]), cls="kpi")


def _shortfall(summary: Summary) -> list[str]:
    need = summary.shortfall.after
    if not need.by_locality_and_grade:
        return ["<h2>Shortfall</h2>",
                "<p>Every worker is within capacity and every child has a worker.</p>"]
    return ["<h2>Shortfall</h2>",
            f"<p>{need.total_fte:.1f} more FTE would bring every worker within capacity and "
            "allocate every child:</p>", need_table(need.by_locality_and_grade)]


def weeks_chart(summary: Summary, schedule: pd.DataFrame | None) -> str:
    """The coming weeks side by side: overload points, unallocated children and changes of
    worker scheduled, week by week."""
    plt = pyplot()

    weeks = summary.kpis.weeks or []
    k = [w.week for w in weeks]
    changes = [0] * len(k)
    if schedule is not None and len(schedule):
        for week, n in schedule["week"].astype(int).value_counts().items():
            changes[int(week)] = int(n)
    changes[0] = summary.kpis.after.moves
    fig, axes = plt.subplots(1, 3, figsize=(11, 2.6))
    series = (([w.overload_points for w in weeks], "points over capacity", "#c0392b"),
              ([w.unallocated for w in weeks], "children without a worker", "#e0a000"),
              (changes, "changes of worker (week 0: now)", "#3a6ea5"))
    for ax, (values, title, colour) in zip(axes, series, strict=True):
        ax.bar(k, values, color=colour)
        ax.set_xticks(k[::2] if len(k) > 8 else k)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("week")
    return svg(fig)


def _coming_weeks(summary: Summary, schedule: pd.DataFrame | None, charts_drawn: bool
                  ) -> list[str]:
    """The weeks after week 0: their chart and the schedule of changes, with reasons."""
    weeks = summary.kpis.weeks
    if not weeks or len(weeks) < 2:
        return []
    parts = ["<h2>The coming weeks</h2>",
             f"<p class=note>{len(weeks)} weeks from {html.escape(weeks[0].starts_on)}: the "
             "plan above is week 0 (the changes to make now); the schedule below holds the "
             "changes of the weeks after, each with its date and reason.</p>"]
    if charts_drawn:
        parts += ["<div class=charts><figure>", weeks_chart(summary, schedule),
                  "</figure></div>"]
    if schedule is None or not len(schedule):
        parts.append("<p>No change is scheduled after week 0.</p>")
        return parts
    cols = ["child_id", "effective_on", "from_worker_id", "to_worker_id", "action", "forced",
            "reasons", "explanation"]
    shown_rows = schedule.sort_values(["week", "child_id"], kind="stable")[cols]
    more = len(shown_rows) - MAX_ROWS_PER_TEAM
    parts.append(f"<details><summary>Schedule: {len(schedule)} change(s) after week 0"
                 "</summary>" + table(shown_rows.head(MAX_ROWS_PER_TEAM))
                 + (f"<p class=note>… and {more} more in schedule.csv</p>" if more > 0 else "")
                 + "</details>")
    return parts


def render(plan: pd.DataFrame, workers: pd.DataFrame, summary: Summary,
           children_locality: pd.Series | None = None, charts_drawn: bool = True,
           schedule: pd.DataFrame | None = None) -> str:
    """The whole page as one string. Without charts (an interrupted run stops within half a
    second, and drawing them takes longer) the page says how to draw them. With the look-ahead
    (`schedule`, the weekly KPIs) the coming weeks follow the plan's charts."""
    day = summary.config.plan_date.isoformat()
    allocation = summary.kind == "allocate"
    title = "Today's referrals: allocation" if allocation else "Caseload rebalance: plan"
    parts = [f"<h1>{title} of {day}</h1>",
             "".join(f"<p class=note>{html.escape(line)}</p>"
                     for line in quality_lines(summary)),
             "<h2>Before and after</h2>", _kpis(summary)]
    if charts_drawn:
        parts += ["<h2>Utilisation per worker</h2>", "<div class=charts><figure>",
                  utilisation_chart(workers), "</figure></div>"]
    elif allocation:
        parts.append("<p class=note>An allocation is written without charts, to be quick: "
                     "<code>rebalancer report --plan DIR</code> draws them.</p>")
    else:
        parts.append("<p class=note>Charts were left out so that the run could end in time "
                     "(it was interrupted, or its time limit was near): <code>rebalancer report "
                     "--plan DIR</code> draws them.</p>")
    dc = [r for r in summary.shortfall.before.demand_and_capacity
          if r.grade_band == "any"] if charts_drawn else []
    charts = []
    if dc:
        charts.append(bar_chart([r.locality for r in dc], [r.demand_points for r in dc],
                                "Demand against capacity per locality (points)", "points",
                                [r.capacity_points for r in dc], ("demand", "capacity")))
    reasons = plan.loc[plan["action"] == "move", "reasons"].str.split(";").explode()
    reasons = reasons[reasons.fillna("") != ""].value_counts()
    if len(reasons) and charts_drawn:
        charts.append(bar_chart(list(reasons.index), [float(x) for x in reasons.to_numpy()],
                                "Changes of worker by reason", "children"))
    if charts:
        parts += ["<h2>Demand, capacity and reasons</h2>", "<div class=charts>"]
        parts += [f"<figure>{c}</figure>" for c in charts]
        parts.append("</div>")
    parts += _coming_weeks(summary, schedule, charts_drawn)
    if summary.review:
        parts += _against_reviewed(summary.review)
    if not allocation:  # an allocation does not estimate the staff a county needs
        parts += _shortfall(summary)
    parts.append("<h2>Proposed changes by team</h2>")
    parts.append("<p class=note>Each team lists the children who leave it and those who join "
                 "it: a move between two teams is under both.</p>")
    from rebalancer.model.plan import changes_with_teams
    from rebalancer.reports.team_page import CHANGE_COLUMNS

    changed = changes_with_teams(plan, workers)
    cols = [c for c in CHANGE_COLUMNS if c in changed.columns]
    teams = sorted((set(changed["from_team"]) | set(changed["to_team"])) - {""})
    for name in teams:
        rows = changed[(changed["from_team"] == name) | (changed["to_team"] == name)]
        shown_rows = rows.sort_values(["family_id", "child_id"])[cols]
        more = len(shown_rows) - MAX_ROWS_PER_TEAM
        parts.append(f"<details><summary>{html.escape(str(name))}: {len(rows)} change(s)"
                     "</summary>" + table(shown_rows.head(MAX_ROWS_PER_TEAM))
                     + (f"<p class=note>… and {more} more in the team's workbook</p>"
                        if more > 0 else "") + "</details>")
    unplaced = changed[(changed["from_team"] == "") & (changed["to_team"] == "")]
    if len(unplaced):
        parts.append(f"<details><summary>(no team: unallocated before and after): "
                     f"{len(unplaced)} child(ren)</summary>" + table(unplaced[cols])
                     + "</details>")
    body = "\n".join(parts)
    return page(f"Caseload rebalance {day}", body)


def _against_reviewed(review: ReviewReport) -> list[str]:
    """A re-plan against the plan the managers reviewed: their decisions by team, the
    disagreements and how they were settled, and every other child whose outcome changed."""
    parts = ["<h2>Against the reviewed plan</h2>"]
    if review.by_team:
        parts.append(table(pd.DataFrame([{"team": t, **to_plain(c)}
                                         for t, c in sorted(review.by_team.items())]),
                           {"accepted", "rejected", "undecided"}))
    if review.disagreements:
        dis = pd.DataFrame([{"child_id": d.child_id, "accepted by": ", ".join(d.accepted_by),
                             "rejected by": ", ".join(d.rejected_by),
                             "outcome": d.outcome} for d in review.disagreements])
        parts += ["<p>Disagreements (a reject from either team wins):</p>", table(dis)]
    changed = review.changed
    parts.append(f"<p>{len(changed)} other child(ren) changed from the reviewed plan "
                 "(not rejected), each with its reason:</p>")
    if changed:
        parts.append(table(pd.DataFrame([to_plain(c) for c in changed])))
    return parts


def write_report(folder: Path, plan: pd.DataFrame, workers: pd.DataFrame,
                 summary: Summary, schedule: pd.DataFrame | None = None) -> Path:
    from rebalancer.io.outputs import atomic_write

    path = folder / "report.html"
    text = render(plan, workers, summary, schedule=schedule)
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    return path
