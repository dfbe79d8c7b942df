"""Writing outputs: atomically, never over an input, with spreadsheet formulas neutralised."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rebalancer.io.inputs import file_sha256
from rebalancer.problems import UsageError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A cell that starts with the apostrophe itself is escaped too, so our readers can take exactly
# one apostrophe off every escaped cell and get the original text back.
ESCAPED_START = (*FORMULA_START, "'")


class OutputError(UsageError):
    """The output folder cannot be used; raised before any solving is done."""

    option = "--out"


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe (CSV only);
    `unneutralise` undoes it exactly."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            s = out[col].astype(object)
            text = s.map(lambda v: isinstance(v, str) and v.startswith(ESCAPED_START))
            out[col] = s.where(~text, "'" + s.astype(str))
    return out


def unneutralise(v: object) -> object:
    """The exact inverse of `neutralise` for one cell."""
    if isinstance(v, str) and len(v) > 1 and v[0] == "'" and v[1:].startswith(ESCAPED_START):
        return v[1:]
    return v


def safe_file_name(prefix: str, label: str, suffix: str, taken: set[str]) -> str:
    """`prefix-label.suffix` safe on every system (ASCII letters, digits, '-', the label at most
    60 characters), unique among `taken` (case-insensitively), which it joins."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()[:60] or "team"
    name, k = f"{prefix}-{slug}{suffix}", 2
    while name.lower() in taken:
        name, k = f"{prefix}-{slug}-{k}{suffix}", k + 1
    taken.add(name.lower())
    return name


def refuse_overwrite(target: Path, protected: Iterable[Path], option: str = "--out") -> None:
    """A file no command may write over: an input, a file of a plan folder, the plan being
    reviewed. Raised before anything is written."""
    t = target.resolve()
    for p in protected:
        if t == p.resolve():
            raise OutputError(f"{option} {target} would overwrite {p}, an input or a file of a "
                              "plan folder; choose another path")


# what a plan folder may hold besides its tables: no input may sit there under these names
FOLDER_FILES = ("summary.json", "report.html", "decisions.csv")


def set_aside(path: Path) -> Path:
    """Move a file or folder out of the way, beside itself, under a name that says when:
    `plan` becomes `plan.replaced-20261201T093000` (never over another)."""
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    aside, k = path.with_name(f"{path.name}.replaced-{stamp}"), 2
    while aside.exists():
        aside, k = path.with_name(f"{path.name}.replaced-{stamp}-{k}"), k + 1
    path.rename(aside)
    return aside


def claim(path: Path, replace: bool, what: str, option: str = "--out") -> Path | None:
    """A file or folder a command is about to write: refused when something is there already
    (a plan, a workbook, a table: nothing is written over), unless `replace`, which moves the
    old one aside first and returns where it went."""
    there = path.is_file() or (path.is_dir() and any(path.iterdir()))
    if not there:
        return None
    if not replace:
        raise OutputError(f"{option} {path} already holds {what}; nothing is written over it: "
                          f"choose another path, or give --replace to move it aside "
                          f"(to {path.name}.replaced-DATE)", option)
    return set_aside(path)


def check_output_dir(out: Path, inputs: Iterable[Path], fmt: str) -> None:
    """Fail early, before a long solve, if the plan could not be written or would hit an input."""
    targets = {(out / f"{name}.{fmt}").resolve() for name in ("plan", "workers")}
    targets |= {(out / name).resolve() for name in FOLDER_FILES}
    for p in inputs:
        if p.resolve() in targets:
            raise OutputError(f"writing to {out} would overwrite the input {p}; "
                              "choose another --out folder")
    # nothing is created yet: inputs that validation rejects leave no empty folder behind
    existing = out
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(20, "not a folder")
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise OutputError(f"cannot write to {out}: {exc.strerror or exc}; choose a folder you "
                          "can write to with --out") from None


def atomic_write(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(df: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        safe = neutralise(df)
        # with a byte-order mark, so that a spreadsheet reads "→" as UTF-8
        atomic_write(path, lambda p: safe.to_csv(p, index=False, lineterminator="\n",
                                            encoding="utf-8-sig"))
    else:
        schema = pa.Schema.from_pandas(df, preserve_index=False)
        fields = [pa.field(f.name, pa.string()) if df[f.name].dtype == object else f
                  for f in schema]
        table = pa.Table.from_pandas(df, schema=pa.schema(fields), preserve_index=False)
        table = table.replace_schema_metadata(None)
        atomic_write(path, lambda p: pq.write_table(table, p))


SUMMARY = "summary.json"


@contextlib.contextmanager
def deferred_interrupts(stop: threading.Event | None = None) -> Iterator[list[int]]:
    """Ctrl-C or SIGTERM while a plan is solved or its folder written sets `stop` (the solve
    then hands back its best plan) and is otherwise held until the folder is written, so an
    interrupt never loses a plan that exists nor leaves a folder without its summary. Yields
    the signals received."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def held(signum: int, frame: object) -> None:
        received.append(signum)
        if stop is not None:
            stop.set()

    for sig in saved:
        signal.signal(sig, held)
    try:
        yield received
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _try_lock(out: Path) -> Callable[[], None] | None:
    """Lock the folder for this process; the release function, or None when another run holds
    it. POSIX locks the folder itself (no file left behind); Windows, which cannot open a
    folder, locks a hidden file in it and removes that file on release."""
    if sys.platform == "win32":
        import msvcrt

        path = out / ".rebalancer.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            os.close(fd)
            return None

        def release_windows() -> None:
            with contextlib.suppress(OSError):
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()

        return release_windows
    import fcntl  # POSIX only: imported here so that the CLI starts on Windows

    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return lambda: os.close(fd)


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """One run at a time writes a plan folder: a second run into it stops before solving. The
    lock dies with the process."""
    out.mkdir(parents=True, exist_ok=True)
    release = _try_lock(out)
    if release is None:
        raise OutputError(f"another run is writing to {out}; wait for it or choose another "
                          "--out folder")
    try:
        yield
    finally:
        release()


def write_outputs(out: Path, fmt: str, tables: dict[str, pd.DataFrame],
                  summary: Callable[[dict[str, dict[str, str]]], dict[str, Any]],
                  extras: dict[str, tuple[str, Callable[[Path], None]]] | None = None
                  ) -> tuple[dict[str, Path], dict[str, dict[str, str]]]:
    """The set is all old or all new: the old summary.json goes first (so the folder reads as
    unfinished while it is rewritten), each table lands whole by rename, and the new
    summary.json, naming every file of the set with its sha256, lands last."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        old = json.loads((out / SUMMARY).read_text(encoding="utf-8"))
        old_files = [v["file"] for v in old.get("outputs", {}).values()]
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        old_files = []
    paths: dict[str, Path] = {}
    try:
        (out / SUMMARY).unlink(missing_ok=True)
        for name, df in tables.items():
            paths[name] = out / f"{name}.{fmt}"
            write_table(df, paths[name], fmt)
        for name, (file, writer) in (extras or {}).items():
            paths[name] = out / file
            atomic_write(paths[name], writer)
        for stale in set(old_files) - {p.name for p in paths.values()}:
            if "/" not in stale and stale.split(".")[0] in tables:
                (out / stale).unlink(missing_ok=True)
        outputs = {name: {"file": p.name, "sha256": file_sha256(p)} for name, p in paths.items()}
        paths["summary"] = out / SUMMARY
        text = json.dumps(summary(outputs), indent=2, sort_keys=False, default=str,
                          allow_nan=False)
        atomic_write(paths["summary"], lambda p: p.write_text(text + "\n", encoding="utf-8"))
    except OSError as exc:
        raise OutputError(f"could not write the plan to {out}: {exc.strerror or exc} (is the disk "
                          "full?); the folder holds no complete plan; free space or choose "
                          "another --out folder and run again") from None
    return paths, outputs


def read_table_file(path: Path) -> pd.DataFrame:
    """Read one of our own outputs back, IDs as strings (used by check, explain and tests)."""
    if path.suffix == ".csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        for col in df.columns:
            df[col] = df[col].astype(object).map(unneutralise)
        return df
    return pq.read_table(path).to_pandas()
