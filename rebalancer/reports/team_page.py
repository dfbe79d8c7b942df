"""report-<team>.html: one page per team, with only that team's workers and children.

A team manager answers for the children who leave the team and those who join it, and for the
team's own workers: the page shows those, their explanations, and the team's part of the
shortfall. No other team's child appears on it (data minimisation).
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from rebalancer.model.plan import changes_with_teams
from rebalancer.model.summary import Summary
from rebalancer.reports.page import need_table, page, table

CHANGE_COLUMNS = ["child_id", "family_id", "from_worker_id", "from_team", "to_worker_id",
                  "to_team", "action", "reasons", "explanation"]


def render_team(plan: pd.DataFrame, workers: pd.DataFrame, summary: Summary, team: str) -> str:
    """The team's page: its workers before and after, outgoing and incoming children, and its
    localities' part of the shortfall."""
    changed = changes_with_teams(plan, workers)
    mine = workers[workers["team"] == team]
    cols = [c for c in CHANGE_COLUMNS if c in changed.columns]
    out_rows = changed[(changed["from_team"] == team) & (changed["to_team"] != team)][cols]
    in_rows = changed[(changed["to_team"] == team) & (changed["from_team"] != team)][cols]
    within = changed[(changed["to_team"] == team) & (changed["from_team"] == team)][cols]
    w = mine[["worker_id", "grade", "fte", "capacity_points", "children_before",
              "children_after", "utilisation_before", "utilisation_after", "new_children",
              "moved_out"]].copy()
    for c in ("utilisation_before", "utilisation_after"):
        w[c] = w[c].map(lambda u: f"{100 * float(u):.0f}%")
    localities = set(mine["locality"])
    need = [r for r in summary.shortfall.after.by_locality_and_grade if r.locality in localities]
    day = summary.config.plan_date.isoformat()
    parts = [f"<h1>{html.escape(team)}: plan of {day}</h1>",
             "<p class=note>Only this team's workers and the children who leave or join it. "
             "Decide each change in this team's workbook (rebalancer review --by-team).</p>",
             "<h2>Workers before and after</h2>",
             table(w, {"fte", "capacity_points", "children_before", "children_after",
                       "utilisation_before", "utilisation_after", "new_children",
                       "moved_out"}),
             f"<h2>Children leaving the team ({len(out_rows)})</h2>", table(out_rows),
             f"<h2>Children joining the team ({len(in_rows)})</h2>", table(in_rows),
             f"<h2>Changes within the team ({len(within)})</h2>", table(within),
             "<h2>Shortfall in the team's localities</h2>"]
    if need:
        parts.append(need_table(need))
    else:
        parts.append("<p>None: every worker there is within capacity and every child has a "
                     "worker.</p>")
    return page(f"{team}: caseload rebalance {day}", "".join(parts))


def write_team_reports(folder: Path, plan: pd.DataFrame, workers: pd.DataFrame,
                       summary: Summary) -> list[Path]:
    """report-<team>.html for every team, in the plan folder (file names safe anywhere)."""
    from rebalancer.io.outputs import atomic_write, safe_file_name

    taken: set[str] = set()
    paths = []
    for team in sorted(set(workers["team"])):
        path = folder / safe_file_name("report", team, ".html", taken)
        text = render_team(plan, workers, summary, team)
        atomic_write(path, lambda p, t=text: p.write_text(t, encoding="utf-8"))
        paths.append(path)
    return paths
