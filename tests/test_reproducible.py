"""The same inputs, seed and threads give a byte-identical plan, even on a busy machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from rebalancer.cli import app
from tests.conftest import generated

runner = CliRunner()


def test_same_plan_beside_three_cpu_bound_processes(tmp_path: Path) -> None:
    # the same --work on an idle machine and beside two CPU-bound processes: the same plan,
    # byte for byte, and both runs say so; the time limit only guards
    inp = generated(tmp_path, children=900, workers=60, seed=2)
    (tmp_path / "c.toml").write_text("plan_date = 2026-12-01\n")

    def run(name: str) -> None:
        r = runner.invoke(app, ["rebalance", "--workers", str(inp / "workers.csv"),
                                "--children", str(inp / "children.csv"), "--config",
                                str(tmp_path / "c.toml"), "--out", str(tmp_path / name),
                                "--format", "csv", "--work", "6", "--time-limit", "120",
                                "--quiet"])
        assert r.exit_code == 0, r.output

    run("idle")
    # three CPU-bound processes on a 2-core machine (a load of four): the solve gets about
    # two fifths of it, and only the user's --time-limit may cut a stage
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    try:
        run("busy")
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    import json

    for name in ("idle", "busy"):
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        assert summary["solver"]["reproducible"] is True
        assert summary["solver"]["work"] == 6
    used = [json.loads((tmp_path / n / "summary.json").read_text())["solver"]["work_used"]
            for n in ("idle", "busy")]
    assert used[0] == used[1] > 0  # the work used is counted, not timed
    for table in ("plan.csv", "workers.csv"):
        assert (tmp_path / "idle" / table).read_bytes() == \
            (tmp_path / "busy" / table).read_bytes(), table
