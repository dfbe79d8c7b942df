"""Shared helpers: small hand-made instances written as the CSVs a user would give."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from rebalancer import pipeline
from rebalancer.check.independent import check_plan
from rebalancer.cli import app
from rebalancer.config import load_config
from rebalancer.io.inputs import load_inputs
from rebalancer.io.outputs import read_table_file
from rebalancer.pipeline import InputPaths, Result
from rebalancer.signoff.audit import DB_ENV, Trail

PLAN_DATE = "2026-12-01"


def pytest_configure(config: pytest.Config) -> None:
    # every plan a test writes goes into a trail of its own, never the user's default one
    os.environ[DB_ENV] = str(Path(tempfile.mkdtemp(prefix="rebalancer-tests-")) / "audit.sqlite")
    # the compiled local search is compiled once per install (about 10 s) and loaded from disk
    # after: compiled here, so that no test with a short time limit is the one that pays it
    from solvers.local import compiled

    compiled()
runner = CliRunner()


def worker(worker_id: str, locality: str = "North", grade: str = "sw", fte: float = 1.0,
           **extra: Any) -> dict[str, Any]:
    return {"worker_id": worker_id, "team": f"{locality} team", "locality": locality,
            "grade": grade, "fte": fte, **extra}


def child(child_id: str, case_type: str = "cin", locality: str = "North",
          current: str = "", **extra: Any) -> dict[str, Any]:
    return {"child_id": child_id, "case_type": case_type, "locality": locality,
            "current_worker_id": current, **extra}


class Case:
    """One instance in a temporary folder: write tables, rebalance, and check the plan."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.base_config = ""  # written before each run's own configuration

    def write(self, name: str, rows: list[dict[str, Any]], columns: list[str] | None = None
              ) -> Path:
        path = self.root / f"{name}.csv"
        df = pd.DataFrame(rows, columns=columns)
        df.to_csv(path, index=False)
        return path

    def run(self, workers: list[dict[str, Any]], children: list[dict[str, Any]],
            decisions: list[dict[str, Any]] | None = None, config: str = "",
            travel: list[dict[str, Any]] | None = None, time_limit: float = 10,
            fmt: str = "csv", **overrides: Any) -> Result:
        w = self.write("workers", workers)
        c = self.write("children", children)
        d = (self.write("decisions", decisions, ["child_id", "decision", "worker_id", "note"])
             if decisions is not None else None)
        t = self.write("travel", travel) if travel is not None else None
        cfg_path = self.root / "config.toml"
        cfg_path.write_text(f"plan_date = {PLAN_DATE}\n{self.base_config}{config}\n")
        cfg = load_config(cfg_path, {"solver.time_limit": time_limit, **overrides})
        out = self.root / "out"
        # a test that runs twice replaces its first plan on purpose
        result = pipeline.rebalance(InputPaths(w, c, d, t, cfg_path), cfg, out, fmt,
                                    Trail.at().hook(), replace=True)
        # every test that solves also checks its plan independently
        inputs = load_inputs(w, c, d, t, cfg, cfg_path)
        summary = json.loads((self.root / "out" / "summary.json").read_text())
        sched = self.root / "out" / f"schedule.{fmt}"
        report = check_plan(inputs, cfg, result.plan, summary, result.workers,
                            schedule=read_table_file(sched) if sched.exists() else None)
        assert report.ok, [str(v) for v in report.violations] + report.mismatches
        return result


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path)


SINGLE_DATE = "lookahead_days = 0\n"  # the plan for the plan date alone


def to(result: Result, child_id: str) -> str:
    row = result.plan.loc[result.plan["child_id"] == child_id].iloc[0]
    return str(row["to_worker_id"])


def row(result: Result, child_id: str) -> pd.Series:
    return result.plan.loc[result.plan["child_id"] == child_id].iloc[0]


def plan_date() -> dt.date:
    return dt.date.fromisoformat(PLAN_DATE)


def check_cli(inp: Path, out: Path) -> object:
    return runner.invoke(app, ["check", "--workers", str(inp / "workers.csv"), "--children",
                               str(inp / "children.csv"), "--plan", str(out)])


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("planned")
    inp = generated(root, children=80, workers=8, seed=4)
    r = rebalance(inp, root / "out")
    assert r.exit_code == 0, r.output
    return inp, root / "out"


def tampered(planned: tuple[Path, Path], tmp_path: Path) -> Path:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(planned[1], out)
    return out


def small_county(case: Case) -> tuple[list[str], Path]:
    case.run([worker("A", leaving_on="2026-12-05"), worker("B")],
             [child("K", current="A"), child("L")])
    c = case.root
    return ["--workers", str(c / "workers.csv"), "--children", str(c / "children.csv"),
            "--config", str(c / "config.toml")], c / "out"


def decide(book: Path, child_id: str, decision: str, note: str = "") -> None:
    from openpyxl import load_workbook

    wb = load_workbook(book)
    ws = wb["moves"]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        if row[header.index("child_id")].value == child_id:
            row[header.index("decision")].value = decision
            row[header.index("note")].value = note
    wb.save(book)


def filler(worker_id: str, points: float, n: int = 1, locality: str = "North"
           ) -> list[dict[str, Any]]:
    """Pinned load on a worker, so the worker is busy but the test child is the only choice."""
    return [child(f"fill-{worker_id}-{i}", locality=locality, current=worker_id, points=points,
                  pinned="true", allocated_on="2026-01-01") for i in range(n)]


def generated(tmp_path: Path, children: int = 60, workers: int = 8, seed: int = 3,
              scenario: str = "crisis", fmt: str = "csv") -> Path:
    out = tmp_path / "in"
    r = runner.invoke(app, ["generate", "--children", str(children), "--workers", str(workers),
                            "--seed", str(seed), "--out", str(out), "--scenario", scenario,
                            "--format", fmt])
    assert r.exit_code == 0, r.output
    return out


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def rebalance(inp: Path, out: Path, *extra: str, fmt: str = "csv") -> object:
    ext = "parquet" if (inp / "workers.parquet").exists() else "csv"
    return runner.invoke(app, ["rebalance", "--workers", str(inp / f"workers.{ext}"),
                               "--children", str(inp / f"children.{ext}"), "--out", str(out),
                               "--format", fmt, "--time-limit", "5", "--quiet", *extra])
