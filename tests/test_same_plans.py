"""The plans of the demo and three generated counties, at a fixed work budget, are the same
byte for byte as the ones recorded in tests/fixtures/reference_plans.json: every column of
plan.csv but the explanation (words, which may be improved without changing a plan), all of
workers.csv, and the objective, with the look-ahead off (`lookahead_days = 0`).

A change to the solver's plumbing (how budgets, stops and summaries travel) must not change a
plan. A change meant to change plans re-records the references on purpose and says why in its
commit: `python -m tests.test_same_plans` (on a quiet machine; each run is checked
reproducible). The references hold for the solver versions they were recorded with: CP-SAT's
and HiGHS's search paths differ between releases, so other versions skip with the reason.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rebalancer.cli import app
from rebalancer.paths import data_dir

runner = CliRunner()
REFERENCES = Path(__file__).parent / "fixtures" / "reference_plans.json"
# (name, children, workers, seed, scenario, work); "demo" is the shipped county, whose LP
# bound needs a larger budget to finish within its share
COUNTIES = [("demo", 0, 0, 0, "", 12), ("crisis", 1200, 80, 1, "crisis", 3),
            ("steady", 1200, 90, 2, "steady", 3), ("leavers", 1200, 90, 3, "leavers", 3)]
County = tuple[str, int, int, int, str, int]
# the plan for the plan date alone: with the look-ahead off, the 0.4 plan byte for byte
SINGLE_DATE = "lookahead_days = 0\n"


def _engines() -> dict[str, str]:
    return {name: version(name) for name in ("ortools", "highspy")}


def _inputs(root: Path, name: str, children: int, workers: int, seed: int, scenario: str
            ) -> tuple[Path, Path, Path]:
    if name == "demo":
        d = data_dir() / "demo"
        config = root / "demo.toml"
        config.write_text(SINGLE_DATE + (d / "config.toml").read_text())
        # the demo's workers before they had a calendar (0.4 read no such columns)
        return Path(__file__).parent / "fixtures" / "demo-workers-0.4.csv", \
            d / "children.csv", config
    out = root / f"in-{name}"
    r = runner.invoke(app, ["generate", "--children", str(children), "--workers", str(workers),
                            "--seed", str(seed), "--scenario", scenario, "--out", str(out),
                            "--format", "csv", "--no-calendar"])
    assert r.exit_code == 0, r.output
    (root / "c.toml").write_text(f"plan_date = 2026-12-01\n{SINGLE_DATE}")
    return out / "workers.csv", out / "children.csv", root / "c.toml"


def plan_of(root: Path, county: County) -> dict[str, object]:
    """One county's plan at its fixed work: the tables' hashes and the objective."""
    name, work = county[0], county[-1]
    workers, children, config = _inputs(root, *county[:-1])
    out = root / f"out-{name}"
    r = runner.invoke(app, ["rebalance", "--workers", str(workers), "--children", str(children),
                            "--config", str(config), "--out", str(out), "--format", "csv",
                            "--work", str(work), "--time-limit", "900", "--quiet"])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["solver"]["reproducible"] is True, summary["solver"]
    return {"plan.csv": _sha_without_explanation(out / "plan.csv"),
            "workers.csv": hashlib.sha256((out / "workers.csv").read_bytes()).hexdigest(),
            "objective": summary["objective"]}


def _sha_without_explanation(path: Path) -> str:
    """The plan file's bytes with its explanation column left out (the rows as written)."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    drop = rows[0].index("explanation") if "explanation" in rows[0] else None
    text = "\n".join(",".join(c for j, c in enumerate(r) if j != drop) for r in rows)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("county", COUNTIES, ids=[c[0] for c in COUNTIES])
def test_the_plan_is_the_recorded_one(tmp_path: Path, county: County) -> None:
    refs = json.loads(REFERENCES.read_text())
    if refs["engines"] != _engines():
        pytest.skip(f"references recorded with {refs['engines']}, this is {_engines()}")
    got = plan_of(tmp_path, county)
    assert got == refs["plans"][county[0]]


def record(root: Path) -> None:
    plans = {c[0]: plan_of(root, c) for c in COUNTIES}
    REFERENCES.write_text(json.dumps({"engines": _engines(),
                                      "plans": plans}, indent=2) + "\n")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        record(Path(tmp))
    print(REFERENCES.read_text(), file=sys.stderr)
