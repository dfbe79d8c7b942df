"""Ctrl-C during a solve writes the best plan found so far, marked as interrupted."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from rebalancer.cli import app


def test_ctrl_c_writes_the_best_plan_so_far(tmp_path: Path) -> None:
    inp = tmp_path / "in"
    r = CliRunner().invoke(app, ["generate", "--children", "1500", "--workers", "100",
                                 "--seed", "1", "--out", str(inp)])
    assert r.exit_code == 0
    cmd = [sys.executable, "-m", "rebalancer.cli", "rebalance", "--workers",
           str(inp / "workers.csv"), "--children", str(inp / "children.csv"), "--out",
           str(tmp_path / "out"), "--format", "csv", "--time-limit", "120"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    line = ""
    while time.monotonic() < deadline:  # wait until the solver reports a plan
        line = proc.stderr.readline() if proc.stderr else ""
        if "best" in line:
            break
    assert "best" in line, "the solver never reported a plan"
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 20
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["solver"]["interrupted"] is True
    assert summary["solver"]["reproducible"] is False
    assert "interrupted: best plan so far" in out
    check = CliRunner().invoke(app, ["check", "--workers", str(inp / "workers.csv"),
                                     "--children", str(inp / "children.csv"),
                                     "--plan", str(tmp_path / "out")])
    assert check.exit_code == 0, check.output
