"""The benchmark harness: generate instances, measure the tool and three baselines on each, in
the same run, and write bench/RESULTS.md and bench/scaling.png.

    python -m bench.run            # everything (about 25 minutes on 2 cores)
    python -m bench.run --quick    # 1,000 and 5,000 children only

Baselines, all on the same objective: manual practice (keep valid assignments, then the
least-utilised eligible worker, highest priority first); naive CP-SAT (the whole model, no hint,
default parameters); the LP relaxation bound (HiGHS), against which every gap is measured.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FULL = [  # name, children, workers, scenario, time limit (s)
    ("crisis-1k", 1_000, 60, "crisis", 10),
    ("crisis-2k", 2_000, 120, "crisis", 10),
    ("crisis-5k", 5_000, 300, "crisis", 20),
    ("steady-5k", 5_000, 300, "steady", 20),
    ("leavers-5k", 5_000, 300, "leavers", 20),
    ("crisis-10k", 10_000, 600, "crisis", 40),
    ("crisis-20k", 20_000, 1_200, "crisis", 60),
    ("crisis-50k", 50_000, 3_000, "crisis", 180),
]
QUICK = [FULL[0], FULL[2]]
METHODS = ["lp", "rebalancer", "manual", "naive"]


def measure(method: str, inst: Path, limit: float, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.measure", method, str(inst), str(limit), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent,
                          timeout=limit * 4 + 1200)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--only", nargs="*", help="instance names to run")
    ap.add_argument("--methods", nargs="*", default=METHODS,
                    help="re-measure only these methods; the others' results are kept")
    args = ap.parse_args()
    specs = QUICK if args.quick else FULL
    if args.only:
        specs = [s for s in specs if s[0] in args.only]
    results_file = args.out / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for name, n, m, scenario, limit in specs:
        inst = args.out / "instances" / name
        if not (inst / "children.csv").exists():
            subprocess.run([sys.executable, "-m", "rebalancer.cli", "generate", "--children",
                            str(n), "--workers", str(m), "--seed", "2026", "--scenario",
                            scenario, "--out", str(inst)], check=True, cwd=HERE.parent,
                           capture_output=True)
        row: dict[str, Any] = results.get(name, {})
        row.update(children=n, workers=m, scenario=scenario, time_limit=limit)
        for method in args.methods:
            row[method] = measure(method, inst, limit, args.out / "plans" / name / method)
            print(name, method, {k: v for k, v in row[method].items() if k != "timeline"},
                  flush=True)
        results[name] = row
        results_file.parent.mkdir(parents=True, exist_ok=True)
        results_file.write_text(json.dumps(results, indent=1))
    from bench.report import write_report

    write_report(args.out)


if __name__ == "__main__":
    main()
