"""The look-ahead's targets, measured as users run `rebalance` (process wall, peak memory).

    python -m bench.lookahead targets   # 2,000- and 5,000-child counties: changes, churn, work
    python -m bench.lookahead scale     # 50,000 children, the default look-ahead, 180 s limit
    python -m bench.lookahead rolling   # 13 weekly re-plans, look-ahead off and on

Counties are generated with their calendar (known departures within 13 weeks, long absences,
starters). For each: the single-date plan (`lookahead_days = 0`) and the plan over the weeks
(the default 91 days) at the same work, and the plan over the weeks at ten times the work.

- `moved_onto_short`: children the single-date plan moves or allocates onto a worker who cannot
  hold children through the 13 weeks (who leaves, goes away), moves only;
- `twice_in_window`: children with two or more changes of worker in the plan and its weeks
  (the single-date plan's weeks are what it leaves for later: its week 0 kept, each child
  handed over when its worker must let it go, placed exactly as the look-ahead places them);
- `changes_window`: every change of worker in the plan and its weeks.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent / "out" / "lookahead"
CLI = str(Path(sys.executable).parent / "rebalancer")
PLAN_DATE = "2026-12-01"
# (name, children, workers, seed, scenario, work, and whether to measure ten times the work)
COUNTIES = [("2k-a", 2000, 172, 1, "crisis", 8.0, True),
            ("2k-b", 2000, 172, 2, "leavers", 8.0, False),
            ("5k-a", 5000, 430, 4, "crisis", 20.0, False)]


def _timed(args: list[str]) -> tuple[float, float]:
    """Run the console script under /usr/bin/time: (wall seconds, peak GB)."""
    r = subprocess.run(["/usr/bin/time", "-v", CLI, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stdout[-2000:] + r.stderr[-2000:])
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", r.stderr)
    assert wall is not None
    h, m, s = wall.groups()
    seconds = int(h or 0) * 3600 + int(m) * 60 + float(s)
    kb = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    assert kb is not None
    return seconds, int(kb.group(1)) / 1e6


def _county(name: str, children: int, workers: int, seed: int, scenario: str) -> Path:
    d = ROOT / name / "in"
    if not (d / "children.csv").is_file():
        subprocess.run([CLI, "generate", "--children", str(children), "--workers", str(workers),
                        "--seed", str(seed), "--scenario", scenario, "--out", str(d)],
                       check=True, stdout=subprocess.DEVNULL)
    for days in (0, 91):
        (d / f"c{days}.toml").write_text(f"plan_date = {PLAN_DATE}\nlookahead_days = {days}\n")
    return d


def _rebalance(d: Path, out: Path, days: int, work: float | None,
               limit: float | None = None) -> dict[str, float]:
    args = ["rebalance", "--workers", str(d / "workers.csv"), "--children",
            str(d / "children.csv"), "--config", str(d / f"c{days}.toml"), "--out", str(out),
            "--quiet", "--replace"]
    if work is not None:
        args += ["--work", str(work), "--time-limit", "3600"]
    elif limit is not None:
        args += ["--time-limit", str(limit)]
    wall, gb = _timed(args)
    s = json.loads((out / "summary.json").read_text())
    return {"wall": wall, "gb": gb, "objective": s["objective"]}


def window(d: Path, out: Path) -> dict[str, float]:
    """A plan folder's changes over the 13 weeks (see the module's docstring)."""
    from rebalancer.config import load_config
    from rebalancer.io.inputs import load_inputs
    from rebalancer.model import lookahead, weekly
    from solvers import SolveContext

    cfg = load_config(d / "c91.toml")
    inputs = load_inputs(d / "workers.csv", d / "children.csv", None, None, cfg)
    cy = weekly.county(inputs, cfg)
    plan = pd.read_csv(out / "plan.csv", dtype=str, keep_default_na=False,
                       encoding="utf-8-sig")
    to = plan.set_index("child_id")["to_worker_id"].reindex(cy.frame.children["child_id"])
    week0 = to.map(lambda w: cy.frame.worker_index.get(w, -1) if w else -1).to_numpy(np.int64)
    stays = np.asarray(cy.cal.can_hold.all(axis=1))
    moved = (week0 >= 0) & (week0 != cy.current) & (cy.current >= 0)
    short = int((moved & ~stays[np.maximum(week0, 0)]).sum())
    weeks = lookahead.plan_weeks(inputs, cfg, week0,
                                 SolveContext.start(30.0, wall=600, threads=2))
    made = np.zeros(len(week0), np.int64)
    for c in weeks.changes:
        if c.src >= 0:
            made[c.child] += 1
    return {"moved_onto_short": short, "twice_in_window": int((made >= 2).sum()),
            "changes_window": int(made.sum()),
            "changes_later": int(sum(1 for c in weeks.changes if c.src >= 0 and c.week > 0)),
            "objective_weeks": round(sum(weeks.terms.values()), 2)}


def targets() -> None:
    rows = []
    for name, n, m, seed, scenario, work, tenfold in COUNTIES:
        d = _county(name, n, m, seed, scenario)
        row: dict[str, object] = {"county": name, "children": n, "scenario": scenario}
        single = _rebalance(d, ROOT / name / "single", 0, work)
        ahead = _rebalance(d, ROOT / name / "ahead", 91, work)
        ten = _rebalance(d, ROOT / name / "ahead10", 91, work * 10) if tenfold else \
            {"objective": float("nan")}
        default = _rebalance(d, ROOT / name / "default", 91, None)
        s_win, a_win = window(d, ROOT / name / "single"), window(d, ROOT / name / "ahead")
        row.update({f"single_{k}": v for k, v in s_win.items()})
        row.update({f"ahead_{k}": v for k, v in a_win.items()})
        row.update({"work": work, "ahead_objective": ahead["objective"],
                    "ahead10_objective": ten["objective"],
                    "vs_10x": round(ahead["objective"] / ten["objective"] - 1, 5),
                    "default_wall": round(default["wall"], 1),
                    "default_gb": round(default["gb"], 2),
                    "default_objective": default["objective"],
                    "single_wall": round(single["wall"], 1),
                    "ahead_wall": round(ahead["wall"], 1)})
        print(json.dumps(row), flush=True)
        rows.append(row)
    (ROOT / "targets.json").write_text(json.dumps(rows, indent=1))


def scale() -> None:
    d = _county("50k", 50000, 4300, 7, "crisis")
    for run in (1, 2):
        got = _rebalance(d, ROOT / "50k" / f"default{run}", 91, None, 180.0)
        s = json.loads((ROOT / "50k" / f"default{run}" / "summary.json").read_text())
        print(json.dumps({"run": run, **got, "changes_lookahead": s["kpis"]["changes_lookahead"],
                          "timings": s["solver"].get("timings")}), flush=True)


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "targets"
    if what == "targets":
        targets()
    elif what == "scale":
        scale()
    elif what == "rolling":
        from bench.rolling import rolling

        rolling()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
