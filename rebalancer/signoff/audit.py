"""The audit trail: an append-only, hash-chained log in SQLite of every plan and every decision.

Each entry's link covers its own content and the previous entry's link, so editing or deleting a
row inside the chain breaks it from that row on. That alone proves nothing against someone who
holds the file: they can delete the last entries, or edit one and recompute every link after it.
Two things close that gap. Every plan folder's summary.json records the entries its run wrote
(sequence number and link), so `audit --verify --plan DIR` finds them missing or changed; and
with a key (`--audit-key FILE` or REBALANCER_AUDIT_KEY) every link is an HMAC, which nobody
without the key can recompute. Triggers refuse UPDATE and DELETE through SQLite itself. Entries
hold IDs, hashes, counts and settings: no child data beyond IDs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cattrs

from rebalancer.model.summary import AuditLink, AuditRecord, Summary, to_plain
from rebalancer.pipeline import ExtraFile, FolderHook, Result
from rebalancer.problems import UsageError

GENESIS = "0" * 64
DEFAULT_NAME = "audit.sqlite"
DB_ENV = "REBALANCER_AUDIT_DB"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS meta_no_update BEFORE UPDATE ON meta
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS meta_no_delete BEFORE DELETE ON meta
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""


@dataclass(frozen=True)
class Entry:
    seq: int
    at: str
    kind: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


KEY_ENV = "REBALANCER_AUDIT_KEY"
SQLITE_HEADER = b"SQLite format 3\x00"


class AuditError(UsageError):
    """The audit trail cannot be used (not SQLite, a folder, locked, keyed differently)."""

    option = "--audit"


def entry_hash(prev_hash: str, seq: int, at: str, kind: str, payload: str,
               key: bytes | None = None) -> str:
    """The link: the previous link, then this entry's fields, unambiguously separated; an HMAC
    of them when the trail is keyed."""
    message = b"".join(part.encode("utf-8") + b"\x1f"
                       for part in (prev_hash, str(seq), at, kind, payload))
    if key is not None:
        return hmac.new(key, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def load_key(key_file: Path | None) -> bytes | None:
    """The audit key: a file's bytes (surrounding whitespace removed), else the environment
    variable's; None when neither is given."""
    if key_file is not None:
        try:
            key = key_file.read_bytes().strip()
        except OSError as exc:
            raise AuditError(f"cannot read the audit key {key_file}: {exc.strerror or exc}",
                             "--audit-key") from None
        if not key:
            raise AuditError(f"the audit key file {key_file} is empty", "--audit-key")
        return key
    value = os.environ.get(KEY_ENV, "").strip()
    return value.encode("utf-8") if value else None


def check_usable(path: Path, key: bytes | None = None) -> None:
    """Refuse, before any solving, a trail that could not be written: a folder, a file that is
    not SQLite (or empty), a read-only or locked database, or one keyed otherwise than `key`."""
    if path.is_dir():
        raise AuditError(f"{path} is a folder, not an audit trail; give a file path")
    if not path.exists():  # created on the first entry; nothing is made before then
        parent = next((p for p in path.resolve().parents if p.exists()), None)
        if parent is None or not os.access(parent, os.W_OK):
            raise AuditError(f"the audit trail {path} cannot be created there; give another "
                             "path")
        return
    _readable_sqlite(path)
    # read-only by the system's say, or marked so by its owner (no write bit: root could still
    # write it, but a file someone made read-only is not ours to change)
    if not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222:
        raise AuditError(f"the audit trail {path} is read-only; make it writable or give "
                         "another path")
    mode = _links(path)
    if mode is not None and (mode == HMAC) != (key is not None):
        raise AuditError(_mismatch(path, mode == HMAC))
    try:
        with closing(sqlite3.connect(path, timeout=1, isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise AuditError(f"the audit trail {path} cannot be written ({exc}); is another "
                         "program holding it?") from None


HMAC = "hmac-sha256"


def _mismatch(path: Path, keyed: bool) -> str:
    return (f"the audit trail {path} is {'' if keyed else 'not '}keyed; give "
            f"{'its key (--audit-key or ' + KEY_ENV + ')' if keyed else 'no key'}, or another "
            "trail")


def _readable_sqlite(path: Path) -> None:
    """An existing trail must be an SQLite file with a trail in it: an empty file (a trail
    truncated to 0 bytes) or another file is unusable, never an empty trail."""
    with path.open("rb") as f:
        head = f.read(len(SQLITE_HEADER))
    if not head:
        raise AuditError(f"the audit trail {path} is empty (0 bytes): it holds no trail, and "
                         "if it held one it was truncated; give the trail's file")
    if head != SQLITE_HEADER:
        raise AuditError(f"{path} is not an SQLite audit trail; give another path")


def _links(path: Path) -> str | None:
    """How an existing trail's links are made (its meta row; 'sha256' for a trail with entries
    and no row), read without writing; None for a trail with no entries yet."""
    with _read_only(path) as db:
        return _mode(db)


@contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """The trail opened for reading only: listing and verifying never write to it."""
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                     timeout=30)) as db:
            yield db
    except sqlite3.DatabaseError as exc:
        raise AuditError(f"{path} cannot be used as an audit trail ({exc})") from None


def default_path() -> Path:
    """The one default trail of this user: REBALANCER_AUDIT_DB if set, else audit.sqlite in the
    user's data folder ($XDG_DATA_HOME or ~/.local/share, %LOCALAPPDATA% on Windows), under
    caseload-rebalancer/. Every plan and decision of every county goes there unless --audit
    names another."""
    given = os.environ.get(DB_ENV, "").strip()
    if given:
        return Path(given)
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "caseload-rebalancer" / DEFAULT_NAME


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    """The trail opened for appending, created (readable by its owner alone, as plans are)
    when it does not exist yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    try:
        with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as db:
            db.executescript(_SCHEMA)
            yield db
    except sqlite3.DatabaseError as exc:
        raise AuditError(f"{path} cannot be used as an audit trail ({exc})") from None


def _mode(db: sqlite3.Connection) -> str | None:
    """The trail's link mode by its meta row; 'sha256' for entries with no row (a trail from
    before keys existed); None while it holds no entry (or no tables yet)."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "entries" not in tables:
        return None
    row = db.execute("SELECT value FROM meta WHERE name = 'links'").fetchone() \
        if "meta" in tables else None
    if row is not None:
        return str(row[0])
    return "sha256" if db.execute("SELECT 1 FROM entries LIMIT 1").fetchone() else None


def append(path: Path, kind: str, payloads: list[dict[str, Any]],
           now: dt.datetime | None = None, key: bytes | None = None) -> list[Entry]:
    """Append entries in one transaction (all or none), each chained to the one before. A trail
    is keyed or not from its first entry on; mixing is refused."""
    at = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    out = []
    want = HMAC if key is not None else "sha256"
    with _connect(path) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            mode = _mode(db)
            if mode is None:
                db.execute("INSERT INTO meta (name, value) VALUES ('links', ?)", (want,))
            elif mode != want:
                raise AuditError(_mismatch(path, mode == HMAC))
            last = db.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (last[0], last[1]) if last else (0, GENESIS)
            for payload in payloads:
                seq += 1
                text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
                h = entry_hash(prev, seq, at, kind, text, key)
                db.execute("INSERT INTO entries (seq, at, kind, payload, prev_hash, hash) "
                           "VALUES (?, ?, ?, ?, ?, ?)", (seq, at, kind, text, prev, h))
                out.append(Entry(seq, at, kind, payload, prev, h))
                prev = h
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return out


def entries(path: Path) -> list[Entry]:
    _readable_sqlite(path)
    if _links(path) is None:
        return []
    with _read_only(path) as db:
        rows = db.execute("SELECT seq, at, kind, payload, prev_hash, hash FROM entries "
                          "ORDER BY seq").fetchall()
    return [Entry(r[0], r[1], r[2], json.loads(r[3]) if _is_json(r[3]) else {"raw": r[3]},
                  r[4], r[5]) for r in rows]


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def verify(path: Path, key: bytes | None = None,
           recorded: list[tuple[str, int, str]] | None = None) -> str | None:
    """None when the chain holds; else what is wrong at the first broken link. `recorded` are
    (plan folder, seq, link) the plan folders wrote down: each must be in the trail unchanged.
    A keyed trail needs its key; given a key, every link must be an HMAC under it (a trail
    whose key mode was removed and whose links were rebuilt without the key is broken)."""
    _readable_sqlite(path)
    mode = _links(path)
    if mode is None:
        return None
    with _read_only(path) as db:
        rows = db.execute("SELECT seq, at, kind, payload, prev_hash, hash FROM entries "
                          "ORDER BY seq").fetchall()
    if mode == HMAC and key is None:
        raise AuditError(_mismatch(path, True), "--audit-key")
    if key is not None and mode != HMAC:
        return ("the trail says its links are not HMACs, but a key was given: its key mode was "
                "removed, or it was never keyed (verify it without --audit-key, or find the "
                "keyed trail)")
    links = {r[0]: r[5] for r in rows}
    for folder, seq, link in recorded or []:
        if seq not in links:
            return f"entry {seq}, which the plan in {folder} recorded, is missing (deleted)"
        if links[seq] != link:
            return (f"entry {seq} differs from the one the plan in {folder} recorded (edited, "
                    "or the chain was rebuilt)")
    prev, expected_seq = GENESIS, 1
    for seq, at, kind, payload, prev_hash, h in rows:
        if seq != expected_seq:
            return f"entry {expected_seq} is missing (deleted): the next entry is {seq}"
        if prev_hash != prev:
            return f"entry {seq}: its link to entry {seq - 1} is broken (an entry was changed " \
                   "or removed)"
        if entry_hash(prev_hash, seq, at, kind, payload, key) != h:
            return f"entry {seq}: its content does not match its hash (it was edited)"
        prev, expected_seq = h, seq + 1
    return None


def plan_payload(summary: Summary, plan_sha256: str, folder: Path) -> dict[str, Any]:
    """A plan produced: its hash, the inputs' hashes, the configuration, the KPIs."""
    return {"plan_sha256": plan_sha256, "folder": str(folder),
            "inputs": {k: v.sha256 for k, v in summary.inputs.items()},
            "config": summary.config.to_dict(), "status": summary.status,
            "objective": summary.objective, "kpis": to_plain(summary.kpis),
            "review": None if summary.review is None else to_plain(summary.review.counts)}


@dataclass(frozen=True)
class Trail:
    """Where a run's plan is recorded: the trail, its key, and entries to add after the plan's
    own (a re-plan's decisions, by kind)."""

    db: Path
    key: bytes | None = None
    extra: tuple[tuple[str, tuple[dict[str, Any], ...]], ...] = ()

    @classmethod
    def at(cls, db: Path | None = None, key: bytes | None = None,
           extra: tuple[tuple[str, tuple[dict[str, Any], ...]], ...] = ()) -> Trail:
        """The trail given, else the default one (`default_path`), checked usable with this key
        before anything is read or solved (AuditError)."""
        trail = cls(db if db is not None else default_path(), key, extra)
        check_usable(trail.db, key)
        return trail

    def record(self, summary: Summary, out: Path) -> AuditRecord:
        """Every plan produced goes into the trail, with what its run decided."""
        plan_sha = summary.plan_file.sha256
        entries = append(self.db, "plan", [plan_payload(summary, plan_sha, out)], key=self.key)
        for kind, payloads in self.extra:
            if payloads:
                entries += append(self.db, kind, list(payloads), key=self.key)
        return AuditRecord(str(self.db.resolve()), self.key is not None,
                           [AuditLink(e.seq, e.hash) for e in entries])

    def hook(self, finish: Callable[[Result], dict[str, ExtraFile]] | None = None
             ) -> FolderHook:
        """The plan folder's hook that records into this trail (and finishes, when given)."""
        return FolderHook(finish=finish, record=self.record)


def decision_payloads(rows: Any, reviewer: str, plan_sha256: str) -> list[dict[str, Any]]:
    """One entry per decision in force after merging every workbook (undecided rows are not
    decisions); a reject that changes nothing (a child the plan leaves without a worker, who
    had none) is recorded as such."""
    return [{"child_id": r.child_id, "proposed_worker_id": r.to_worker_id,
             "from_worker_id": r.from_worker_id, "decision": r.decision, "note": r.note,
             "reviewer": getattr(r, "reviewer", "") or reviewer,
             "workbook_sha256": getattr(r, "workbook_sha256", ""), "plan_sha256": plan_sha256,
             "effect": "none" if no_effect(r) else "applied", **_scheduled_for(r)}
            for r in rows.itertuples(index=False) if r.decision]


def _scheduled_for(row: Any) -> dict[str, str]:
    """A decision on a change scheduled for a later week names its date; today's none."""
    day = getattr(row, "effective_on", "")
    return {"effective_on": str(day)} if day else {}


def submitted_payloads(reviews: list[Any], reviewer: str, plan_sha256: str
                       ) -> list[dict[str, Any]]:
    """One entry per decision as each workbook said it, before merging: when two teams
    disagree the trail keeps both words, who said them and in which workbook."""
    return [{"child_id": r.child_id, "proposed_worker_id": r.to_worker_id,
             "from_worker_id": r.from_worker_id, "decision": r.decision, "note": r.note,
             "reviewer": rv.reviewer or reviewer, "team": rv.team or "(every team)",
             "workbook_sha256": rv.sha256, "plan_sha256": plan_sha256, **_scheduled_for(r)}
            for rv in reviews for rows in (rv.rows, rv.scheduled)
            for r in rows.itertuples(index=False) if r.decision]


def no_effect(row: Any) -> bool:
    """A reject of a row that changes nothing: unallocated before and after, or a scheduled
    change that leaves the child without a worker (no worker to forbid; the calendar makes
    it)."""
    return bool(row.decision == "reject" and not row.to_worker_id
                and (not row.from_worker_id or getattr(row, "effective_on", "")))


@dataclass(frozen=True)
class Verdict:
    """What `audit --verify` found: why the trail is broken (None: intact), how many entries it
    holds, and how many of them plan folders recorded."""

    broken: str | None
    entries: int
    recorded: int


def inspect(db: Path, key: bytes | None, plans: list[Path]) -> Verdict:
    """The chain verified, and the entries each plan folder recorded found in it unchanged."""
    from rebalancer.planfolder import PlanFolderError, read_summary

    if not db.is_file():
        raise AuditError(f"no audit trail at {db}", "--db")
    recorded: list[tuple[str, int, str]] = []
    for folder in plans:
        try:
            record = Summary.from_json(read_summary(folder)).audit
        except (PlanFolderError, ValueError, TypeError, KeyError, cattrs.BaseValidationError):
            raise AuditError(f"{folder} has no readable summary.json", "--plan") from None
        if record is None or not record.entries:
            raise AuditError(f"{folder} records no audit entries", "--plan")
        if Path(record.db).resolve() != db.resolve():
            return Verdict(f"the plan in {folder} was recorded in {record.db}, not in {db}",
                           0, 0)
        recorded += [(str(folder), e.seq, e.hash) for e in record.entries]
    broken = verify(db, key, recorded)
    return Verdict(broken, len(entries(db)), len(recorded))


@contextmanager
def named_by(option: str) -> Iterator[None]:
    """Trail problems named by the option that gave the trail here (`audit --db`)."""
    try:
        yield
    except AuditError as exc:
        if exc.option == AuditError.option:
            exc.option = option
        raise
