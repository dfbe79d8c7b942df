"""Hostile input: whatever the files hold, the tool answers with exit 0 or a clear exit 1, writes
nothing when it refuses, and never changes an input."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from rebalancer.cli import app
from rebalancer.config import load_config
from rebalancer.io.inputs import load_inputs
from rebalancer.io.schema import CHILDREN, WORKERS
from rebalancer.problems import InputRejected

runner = CliRunner()
NASTY = ["", " ", "nan", "NaN", "inf", "-inf", "1e309", "-1", "0", "0.5", "1", "2", "abc",
         "true", "TRUE", "no", "2026-01-01", "31/12/2026", "2026-13-40", "=cmd|' /C calc'!A0",
         "+1", "@SUM(A1)", "W1", "W2", "C1", "sw", "senior", "boss", "cp", "cla", "North",
         "W1;W2", "a;b", "x" * 300, "☃", ",", '"', "\t", "007", "1,5", "-0", "1e-300"]
cells = st.sampled_from(NASTY) | st.text(max_size=12)


@st.composite
def table(draw: st.DrawFn, known: list[str]) -> pd.DataFrame:
    cols = draw(st.lists(st.sampled_from(known), min_size=0, max_size=len(known), unique=True))
    if draw(st.booleans()):
        cols.append(draw(st.sampled_from(["extra", "Worker ID", "fte_pct", ""])))
    n = draw(st.integers(0, 6))
    return pd.DataFrame({c: [draw(cells) for _ in range(n)] for c in cols}, columns=cols)


def _digest(paths: list[Path]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(workers=table([c.name for c in WORKERS.columns]),
       children=table([c.name for c in CHILDREN.columns]))
def test_loader_accepts_or_explains(workers: pd.DataFrame, children: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        w, c = Path(tmp) / "w.csv", Path(tmp) / "c.csv"
        workers.to_csv(w, index=False)
        children.to_csv(c, index=False)
        try:
            load_inputs(w, c, None, None, load_config(None))
        except InputRejected as exc:
            assert exc.problems
            for p in exc.problems:
                assert p.file in (str(w), str(c), "default configuration")
                assert p.message and p.fix
                assert p.row == "-" or p.row.startswith("row ")


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(workers=table([c.name for c in WORKERS.columns]),
       children=table([c.name for c in CHILDREN.columns]))
def test_cli_never_crashes_and_never_writes_on_refusal(workers: pd.DataFrame,
                                                       children: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        w, c, out = Path(tmp) / "w.csv", Path(tmp) / "c.csv", Path(tmp) / "out"
        workers.to_csv(w, index=False)
        children.to_csv(c, index=False)
        before = _digest([w, c])
        r = runner.invoke(app, ["rebalance", "--workers", str(w), "--children", str(c),
                                "--out", str(out), "--format", "csv", "--time-limit", "2",
                                "--quiet"])
        assert r.exit_code in (0, 1), (r.exit_code, r.output, r.exception)
        if r.exit_code == 1:
            assert "The inputs were rejected" in r.output
            assert not (out / "plan.csv").exists() and not (out / "summary.json").exists()
        else:
            assert (out / "summary.json").exists()
        assert _digest([w, c]) == before


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_refused_cleanly(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        w, c = Path(tmp) / "w.csv", Path(tmp) / "c.csv"
        w.write_bytes(data)
        c.write_text("child_id,case_type,locality\nC1,cin,North\n")
        try:
            load_inputs(w, c, None, None, load_config(None))
        except InputRejected as exc:
            assert all(p.message for p in exc.problems)


def test_parquet_that_is_not_parquet(tmp_path: Path) -> None:
    w = tmp_path / "w.parquet"
    w.write_text("worker_id\nW1\n")
    c = tmp_path / "c.csv"
    c.write_text("child_id,case_type,locality\nC1,cin,North\n")
    r = runner.invoke(app, ["validate", "--workers", str(w), "--children", str(c)])
    assert r.exit_code == 1 and "Parquet file cannot be read" in r.output


def test_a_million_rows_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    c = tmp_path / "c.csv"
    with c.open("w") as f:
        f.write("child_id,case_type,locality\n")
        f.writelines(f"C{i},cin,North\n" for i in range(1_000_000))
    w = tmp_path / "w.csv"
    w.write_text("worker_id,team,locality,grade,fte\nW1,T,North,sw,1\n")
    r = runner.invoke(app, ["validate", "--workers", str(w), "--children", str(c)])
    assert r.exit_code == 1
    assert "1,000,000 rows is more than the 200,000 this tool accepts" in r.output


def test_unknown_file_type_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "w.xlsx").write_text("x")
    r = runner.invoke(app, ["validate", "--workers", str(tmp_path / "w.xlsx"), "--children",
                            str(tmp_path / "nope.csv")])
    assert r.exit_code == 1
    assert "unknown file type '.xlsx'" in r.output and "file not found" in r.output
