"""Writing outputs: atomically, never over an input, with spreadsheet formulas neutralised."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class OutputError(Exception):
    """The output folder cannot be used; raised before any solving is done."""


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe (CSV only)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            s = out[col].astype(object)
            text = s.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_START))
            out[col] = s.where(~text, "'" + s.astype(str))
    return out


def check_output_dir(out: Path, inputs: Iterable[Path], fmt: str) -> None:
    """Fail early, before a long solve, if the plan could not be written or would hit an input."""
    targets = {(out / f"{name}.{fmt}").resolve() for name in ("plan", "workers")}
    targets.add((out / "summary.json").resolve())
    for p in inputs:
        if p.resolve() in targets:
            raise OutputError(f"writing to {out} would overwrite the input {p}; "
                              "choose another --out folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise OutputError(f"cannot write to {out}: {exc.strerror or exc}; choose a folder you "
                          "can write to with --out") from None


def _atomic(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_table(df: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        safe = neutralise(df)
        _atomic(path, lambda p: safe.to_csv(p, index=False, lineterminator="\n"))
    else:
        schema = pa.Schema.from_pandas(df, preserve_index=False)
        fields = [pa.field(f.name, pa.string()) if df[f.name].dtype == object else f
                  for f in schema]
        table = pa.Table.from_pandas(df, schema=pa.schema(fields), preserve_index=False)
        table = table.replace_schema_metadata(None)
        _atomic(path, lambda p: pq.write_table(table, p))


def write_outputs(out: Path, fmt: str, tables: dict[str, pd.DataFrame],
                  summary: dict[str, Any]) -> dict[str, Path]:
    """Each file lands whole or not at all; summary.json is written last, so its presence means
    the plan and workers tables beside it are complete."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, df in tables.items():
        paths[name] = out / f"{name}.{fmt}"
        _write_table(df, paths[name], fmt)
    paths["summary"] = out / "summary.json"
    text = json.dumps(summary, indent=2, sort_keys=False, default=str, allow_nan=False)
    _atomic(paths["summary"], lambda p: p.write_text(text + "\n", encoding="utf-8"))
    return paths


def read_table_file(path: Path) -> pd.DataFrame:
    """Read one of our own outputs back, IDs as strings (used by check, explain and tests)."""
    if path.suffix == ".csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        for col in df.columns:
            df[col] = df[col].astype(object).map(
                lambda v: v[1:] if isinstance(v, str) and v.startswith("'") and len(v) > 1
                and v[1] in FORMULA_START else v)
        return df
    return pq.read_table(path).to_pandas()
