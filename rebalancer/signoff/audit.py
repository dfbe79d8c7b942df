"""The audit trail: an append-only, hash-chained log in SQLite of every plan and every decision.

Each entry's hash covers its own content and the previous entry's hash, so editing or deleting
any row breaks the chain from that row on, and `rebalancer audit --verify` names the first broken
link. Triggers refuse UPDATE and DELETE through SQLite itself; the chain catches what goes around
them (another tool, a copied file). Entries hold IDs, hashes, counts and settings: no child data
beyond IDs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rebalancer.model.summary import Summary

GENESIS = "0" * 64
DEFAULT_NAME = "rebalancer-audit.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
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


def entry_hash(prev_hash: str, seq: int, at: str, kind: str, payload: str) -> str:
    """The link: the previous hash, then this entry's fields, unambiguously separated."""
    h = hashlib.sha256()
    for part in (prev_hash, str(seq), at, kind, payload):
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


def default_path(out: Path) -> Path:
    """Beside the output folder, so every plan written there shares one trail."""
    return out.resolve().parent / DEFAULT_NAME


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as db:
        db.executescript(_SCHEMA)
        yield db


def append(path: Path, kind: str, payloads: list[dict[str, Any]],
           now: dt.datetime | None = None) -> list[Entry]:
    """Append entries in one transaction (all or none), each chained to the one before."""
    at = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    out = []
    with _connect(path) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            last = db.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (last[0], last[1]) if last else (0, GENESIS)
            for payload in payloads:
                seq += 1
                text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
                h = entry_hash(prev, seq, at, kind, text)
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
    with _connect(path) as db:
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


def verify(path: Path) -> str | None:
    """None when the chain holds; else what is wrong at the first broken link."""
    with _connect(path) as db:
        rows = db.execute("SELECT seq, at, kind, payload, prev_hash, hash FROM entries "
                          "ORDER BY seq").fetchall()
    prev, expected_seq = GENESIS, 1
    for seq, at, kind, payload, prev_hash, h in rows:
        if seq != expected_seq:
            return f"entry {expected_seq} is missing (deleted): the next entry is {seq}"
        if prev_hash != prev:
            return f"entry {seq}: its link to entry {seq - 1} is broken (an entry was changed " \
                   "or removed)"
        if entry_hash(prev_hash, seq, at, kind, payload) != h:
            return f"entry {seq}: its content does not match its hash (it was edited)"
        prev, expected_seq = h, seq + 1
    return None


def plan_payload(summary: Summary, plan_sha256: str, folder: Path) -> dict[str, Any]:
    """A plan produced: its hash, the inputs' hashes, the configuration, the KPIs."""
    return {"plan_sha256": plan_sha256, "folder": str(folder),
            "inputs": {k: v["sha256"] for k, v in summary.inputs.items()},
            "config": summary.config, "status": summary.status,
            "objective": summary.objective, "kpis": summary.kpis.to_json(),
            "review": (summary.review or {}).get("counts")}


def decision_payloads(rows: Any, reviewer: str, plan_sha256: str) -> list[dict[str, Any]]:
    """One entry per manager decision read from a workbook (undecided rows are not decisions)."""
    return [{"child_id": r.child_id, "proposed_worker_id": r.to_worker_id,
             "from_worker_id": r.from_worker_id, "decision": r.decision, "note": r.note,
             "reviewer": reviewer, "plan_sha256": plan_sha256}
            for r in rows.itertuples(index=False) if r.decision]
