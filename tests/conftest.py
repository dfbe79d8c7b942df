"""Shared helpers: small hand-made instances written as the CSVs a user would give."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rebalancer.check.independent import check_plan
from rebalancer.config import load_config
from rebalancer.io.inputs import load_inputs
from rebalancer.pipeline import InputPaths, Result, rebalance
from rebalancer.signoff.audit import Trail

PLAN_DATE = "2026-12-01"


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
        cfg_path.write_text(f"plan_date = {PLAN_DATE}\n{config}\n")
        cfg = load_config(cfg_path, {"solver.time_limit": time_limit, **overrides})
        out = self.root / "out"
        result = rebalance(InputPaths(w, c, d, t, cfg_path), cfg, out, fmt,
                           Trail.beside(out).hook())
        # every test that solves also checks its plan independently
        inputs = load_inputs(w, c, d, t, cfg, cfg_path)
        summary = json.loads((self.root / "out" / "summary.json").read_text())
        report = check_plan(inputs, cfg, result.plan, summary, result.workers)
        assert report.ok, [str(v) for v in report.violations] + report.mismatches
        return result


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path)


def to(result: Result, child_id: str) -> str:
    row = result.plan.loc[result.plan["child_id"] == child_id].iloc[0]
    return str(row["to_worker_id"])


def row(result: Result, child_id: str) -> pd.Series:
    return result.plan.loc[result.plan["child_id"] == child_id].iloc[0]


def plan_date() -> dt.date:
    return dt.date.fromisoformat(PLAN_DATE)
