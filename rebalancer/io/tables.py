"""Reading a table from CSV or Parquet into strings, then parsing it against its declared spec.

Everything is read as text first so that CSV and Parquet go through one parser: identifiers stay
strings ("007" stays "007"), and every unparseable cell becomes a Problem instead of an exception.
"""

from __future__ import annotations

import csv
import dataclasses
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rebalancer.io.schema import MAX_ID_LENGTH, MAX_TEXT_LENGTH, Column, TableSpec
from rebalancer.problems import CONTROL, MAX_SHOWN, REFUSED, Problem, shown

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
MAX_PROBLEMS_PER_COLUMN = 200  # past this, a line counts the rest: a million bad rows stay readable


def _cell_text(values: pa.ChunkedArray) -> pd.Series:
    """A Parquet column rendered as the text a CSV export of it would hold."""
    t = values.type
    if pa.types.is_boolean(t):
        s = pd.Series(values.to_pylist(), dtype=object).map(
            lambda v: "" if v is None else ("true" if v else "false"))
    elif pa.types.is_date(t) or pa.types.is_timestamp(t):
        s = pd.Series(values.to_pylist(), dtype=object).map(
            lambda v: "" if v is None else v.isoformat()[:10])
    elif pa.types.is_integer(t):
        s = pd.Series(values.to_pylist(), dtype=object).map(lambda v: "" if v is None else str(v))
    elif pa.types.is_floating(t):
        s = pd.Series(values.to_pylist(), dtype=object).map(
            lambda v: "" if v is None or v != v else repr(float(v)))
    else:
        s = pd.Series(values.cast(pa.string()).to_pylist(), dtype=object).map(
            lambda v: "" if v is None else v)
    return s.astype(object)


def _repeated_header(path: Path) -> list[str]:
    """Column names that appear more than once in a CSV's header row (pandas would rename the
    second 'points' to 'points.1')."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(f), [])
    names = [n.strip() for n in header]
    return sorted({n for n in names if names.count(n) > 1})


def read_text_table(path: Path, spec: TableSpec) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read CSV or Parquet (by extension) as text; refuse what cannot be read, with the fix."""
    file = str(path)
    fail = lambda msg, fix: (None, [Problem(file, "-", "-", msg, fix)])  # noqa: E731
    suffix = path.suffix.lower()
    if not path.is_file():
        return fail("file not found", f"check the path given for the {spec.name} table")
    if suffix not in (".csv", ".parquet", ".pq"):
        return fail(f"unknown file type '{suffix}'", "give a .csv or .parquet file")
    if path.stat().st_size == 0:
        return fail("the file is empty", f"export the {spec.name} table with its header row")
    try:
        if suffix == ".csv":
            dupes = _repeated_header(path)
            if dupes:
                return fail(f"column(s) {', '.join(shown(n) for n in dupes)} appear more than "
                            "once in the header", "keep one column of each name and re-export")
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                             skipinitialspace=False)
            df = df.astype(object)
        else:
            schema = pq.read_schema(path)
            names = [str(n) for n in schema.names]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                return fail(f"column(s) {', '.join(shown(n) for n in dupes)} appear more than "
                            "once", "keep one column of each name and re-export")
            nested = [f.name for f in schema if pa.types.is_nested(f.type)]
            if nested:
                return fail(f"column(s) {', '.join(shown(n) for n in nested)} hold lists, maps "
                            "or structures", "export plain values (a list as text separated "
                            "by ';')")
            table = pq.read_table(path)
            df = pd.DataFrame({name: _cell_text(table.column(name)) for name in table.column_names})
    except UnicodeDecodeError as exc:
        return fail(f"the file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                    f"{exc.start}; it looks like Latin-1 or Windows-1252)",
                    "save it as 'CSV UTF-8' (Excel: Save As > CSV UTF-8)")
    except pd.errors.EmptyDataError:
        return fail("the file has no header row", f"export the {spec.name} table with its header")
    except pd.errors.ParserError as exc:
        return fail(f"the CSV cannot be parsed ({str(exc).strip()})",
                    "check quoting: a cell holding a comma must be in double quotes")
    except (pa.ArrowInvalid, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return fail(f"the Parquet file cannot be read ({first[:80]})", "re-export the table")
    df.columns = [str(c).strip() for c in df.columns]
    return df, []


def _label_rows(df: pd.DataFrame, spec: TableSpec, csv: bool) -> pd.Series:
    """How a row is named in messages: its spreadsheet row number and its ID where it has one."""
    offset = 2 if csv else 1  # a spreadsheet shows the CSV header as row 1
    numbers = pd.Series(np.arange(len(df)) + offset, index=df.index).astype(str)
    label = "row " + numbers
    keys = [k for k in spec.key if k in df.columns]
    if keys:
        ident = df[keys[0]].astype(str).str.strip().str.slice(0, MAX_SHOWN)
        for k in keys[1:]:
            ident = ident + "/" + df[k].astype(str).str.strip().str.slice(0, MAX_SHOWN)
        has = ident.str.strip("/") != ""
        label = label.where(~has, label + " (" + "/".join(keys) + " " + ident + ")")
    return label


class _Collector:
    """Collects problems per column, counting (not listing) repeats past a limit."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.overflow: Counter[str] = Counter()

    def rows(self, mask: pd.Series, labels: pd.Series, column: str, message: pd.Series | str,
             fix: str) -> None:
        idx = np.flatnonzero(mask.to_numpy())
        if idx.size == 0:
            return
        shown = idx[:MAX_PROBLEMS_PER_COLUMN]
        msgs = (message.iloc[shown].tolist() if isinstance(message, pd.Series)
                else [message] * len(shown))
        for i, m in zip(shown, msgs, strict=True):
            self.problems.append(Problem(self.file, labels.iloc[i], column, m, fix))
        if idx.size > len(shown):
            self.overflow[column] += idx.size - len(shown)

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    def finish(self) -> list[Problem]:
        for column, n in self.overflow.items():
            self.problems.append(Problem(self.file, "-", column,
                                         f"{n} more row(s) with problems in this column",
                                         "fix the rows above and validate again to see the rest"))
        return self.problems


def _quoted(s: pd.Series) -> pd.Series:
    cut = s.str.slice(0, 40).str.replace(CONTROL, lambda m: f"\\x{ord(m.group()):02x}",
                                         regex=True)
    return "'" + cut + np.where(s.str.len() > 40, "…'", "'")


# an ISO date, alone or with a valid time of day (as spreadsheets export dates)
ISO_DATE = r"(\d{4}-\d{2}-\d{2})(?:[T ]([01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?)?"
UK_DATE = r"\d{1,2}/\d{1,2}/\d{4}"


def _parse_column(col: Column, raw: pd.Series, labels: pd.Series, out: _Collector) -> pd.Series:
    s = raw.astype(str).str.strip()
    present = s != ""
    if col.required:
        out.rows(~present, labels, col.name, "empty, but this column is required",
                 f"fill in {col.name}" + (f" (e.g. {col.example})" if col.example else ""))
    q = _quoted(s)
    if col.kind in ("id", "text", "idlist", "taglist"):
        limit = MAX_ID_LENGTH if col.kind == "id" else MAX_TEXT_LENGTH * 5
        too_long = s.str.len() > limit
        out.rows(too_long, labels, col.name, "is " + s.str.len().astype(str) +
                 f" characters long, more than the {limit} allowed", "shorten it")
        if col.kind == "id":
            bad = present & ~too_long & s.str.contains(r"[;\x00-\x1f\x7f-\x9f]", regex=True)
            out.rows(bad, labels, col.name, q + " holds ';' or a control character",
                     "identifiers may not contain ';' (it separates lists) or control characters")
        else:
            bad = present & ~too_long & s.str.contains(REFUSED, regex=True)
            out.rows(bad, labels, col.name, q + " holds a control character (shown as \\x..)",
                     "remove it: text may hold letters, digits, punctuation, tabs and line "
                     "breaks, not control characters such as ESC")
        if col.kind in ("idlist", "taglist"):
            parts = s.str.split(";")
            return parts.map(lambda xs: tuple(sorted({x.strip() for x in xs if x.strip()})))
        return s.where(~too_long, "")
    if col.kind == "enum":
        low = s.str.lower()
        bad = present & ~low.isin(col.choices)
        out.rows(bad, labels, col.name, q + " is not an allowed value",
                 f"use one of {', '.join(col.choices)}")
        return low.where(present & ~bad, "")
    if col.kind == "bool":
        low = s.str.lower()
        is_true, is_false = low.isin(TRUE_WORDS), low.isin(FALSE_WORDS)
        bad = present & ~is_true & ~is_false
        out.rows(bad, labels, col.name, q + " is not true or false", "write true or false")
        parsed = pd.Series(None, index=s.index, dtype=object)
        parsed[is_true] = True
        parsed[is_false] = False
        return parsed
    if col.kind in ("number", "integer"):
        v = pd.to_numeric(s.where(present), errors="coerce").astype(float)
        not_number = present & (v.isna() | ~np.isfinite(v.fillna(0)))
        what = "a whole number" if col.kind == "integer" else "a number"
        out.rows(not_number, labels, col.name, q + " is not a finite number",
                 f"write {what} {col.range_text()}".rstrip() +
                 (f", e.g. {col.example}" if col.example else ""))
        ok = present & ~not_number
        if col.kind == "integer":
            frac = ok & (v != np.floor(v.fillna(0)))
            out.rows(frac, labels, col.name, q + " is not a whole number",
                     f"write a whole number {col.range_text()}".rstrip())
            ok &= ~frac
        out_of_range = pd.Series(False, index=s.index)
        if col.low is not None:
            out_of_range |= ok & ((v <= col.low) if col.low_open else (v < col.low))
        if col.high is not None:
            out_of_range |= ok & ((v >= col.high) if col.high_open else (v > col.high))
        out.rows(out_of_range, labels, col.name, q + f" is out of range ({col.range_text()})",
                 f"write {what} {col.range_text()}")
        return v.where(ok & ~out_of_range)
    if col.kind == "date":
        # the whole cell must be a date: '2026-01-15garbage' or '2026-11-30T99:99' is not one
        day = s.str.extract(f"^{ISO_DATE}$")[0]
        iso = pd.to_datetime(day.where(present), format="%Y-%m-%d", errors="coerce")
        uk_text = s.where(present & iso.isna() & s.str.fullmatch(UK_DATE))
        uk = pd.to_datetime(uk_text, format="%d/%m/%Y", errors="coerce")
        d = iso.fillna(uk)
        bad = present & d.isna()
        out.rows(bad, labels, col.name, q + " is not a date",
                 "write dates as YYYY-MM-DD (e.g. 2026-12-05) or DD/MM/YYYY")
        return pd.Series([None if pd.isna(x) else x.date() for x in d], index=s.index,
                         dtype=object)
    raise AssertionError(col.kind)


def parse_table(df: pd.DataFrame, spec: TableSpec, file: str, csv: bool
                ) -> tuple[pd.DataFrame, list[Problem]]:
    """Check columns and cells against the spec, collecting every problem; never repairs a cell."""
    out = _Collector(file)
    known = {c.name for c in spec.columns}
    for name in df.columns:
        if name not in known:
            import difflib
            close = difflib.get_close_matches(name, sorted(known), n=1)
            out.add(Problem(file, "-", shown(name)[1:-1] if name else "(blank)",
                            f"is not a column of the {spec.name} table (a file without its "
                            "header row reads its first row as the header)",
                            f"rename it to '{close[0]}'" if close else "remove the column, or "
                            "add the header row"))
    dupes = [n for n, k in Counter(df.columns).items() if k > 1]
    for name in dupes:
        out.add(Problem(file, "-", name, "appears more than once in the header",
                        "keep one column of that name"))
    for col in spec.columns:
        if col.required and col.name not in df.columns:
            out.add(Problem(file, "-", col.name, "required column is missing",
                            f"add a column named {col.name}"))
    if len(df) == 0 and not spec.may_be_empty:
        out.add(Problem(file, "-", "-", "the table has a header but no rows",
                        f"export the {spec.name} table with its rows"))
    if len(df) > spec.max_rows:
        out.add(Problem(file, "-", "-", f"{len(df):,} rows is more than the {spec.max_rows:,} "
                        "this tool accepts",
                        "split the data (e.g. by locality) and plan each part"))
        return pd.DataFrame(), out.finish()
    if dupes:
        return pd.DataFrame(), out.finish()
    # cells are still checked when a column is missing or unknown, so one pass lists everything;
    # a missing required column was reported once above, not once per row
    labels = _label_rows(df, spec, csv)
    parsed = {}
    for col in spec.columns:
        present = col.name in df.columns
        raw = df[col.name] if present else pd.Series("", index=df.index)
        use = col if present or not col.required else dataclasses.replace(col, required=False)
        parsed[col.name] = _parse_column(use, raw, labels, out)
    typed = pd.DataFrame(parsed, index=df.index)
    typed["_row"] = labels
    return typed.reset_index(drop=True), out.finish()


def read_table(path: Path, spec: TableSpec) -> tuple[pd.DataFrame, list[Problem]]:
    df, problems = read_text_table(path, spec)
    if df is None:
        return pd.DataFrame(), problems
    return parse_table(df, spec, str(path), csv=path.suffix.lower() == ".csv")


