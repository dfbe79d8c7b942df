"""The audit trail: every plan and decision recorded, and an edit, a deletion or a rechained
entry found (by the plans' own records, and by the key's HMAC links)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rebalancer.cli import app
from tests.conftest import Case, decide, small_county

runner = CliRunner()


def _county_args(case: Case) -> list[str]:
    c = case.root
    return ["--workers", str(c / "workers.csv"), "--children", str(c / "children.csv"),
            "--config", str(c / "config.toml")]


def _rechain(db: Path) -> None:
    """What an attacker with the file does after an edit: recompute every (unkeyed) link."""
    import sqlite3

    from rebalancer.signoff.audit import GENESIS, entry_hash

    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT seq, at, kind, payload FROM entries ORDER BY seq").fetchall()
        prev = GENESIS
        for new_seq, (seq, at, kind, payload) in enumerate(rows, start=1):
            h = entry_hash(prev, new_seq, at, kind, payload)
            con.execute("UPDATE entries SET seq = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                        (new_seq, prev, h, seq))
            prev = h


def _tamper(db: Path, *sql: str) -> None:
    import sqlite3

    with sqlite3.connect(db) as con:
        con.execute("DROP TRIGGER IF EXISTS entries_no_update")
        con.execute("DROP TRIGGER IF EXISTS entries_no_delete")
        for statement in sql:
            con.execute(statement)


def _trail(case: Case, key: Path | None = None) -> tuple[Path, list[Path]]:
    """Three runs on one trail: a plan, a re-plan with a rejection (plan + decision entries),
    and another plan; returns the trail and the three plan folders."""
    args, _ = small_county(case)  # the first plan is on its own trail, beside its folder
    extra = ["--audit-key", str(key)] if key is not None else []
    db = case.root / "trail.sqlite"
    r = runner.invoke(app, ["rebalance", *args, "--out", str(case.root / "p1"), "--audit",
                            str(db), "--quiet", *extra])
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["review", "--plan", str(case.root / "p1")]).exit_code == 0
    decide(case.root / "p1" / "review.xlsx", "K", "reject", "no")
    r = runner.invoke(app, ["replan", *args, "--plan", str(case.root / "p1"), "--review",
                            str(case.root / "p1" / "review.xlsx"), "--out",
                            str(case.root / "p2"), "--audit", str(db), "--quiet", *extra])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["rebalance", *args, "--out", str(case.root / "p3"), "--audit",
                            str(db), "--quiet", *extra])
    assert r.exit_code == 0, r.output
    return db, [case.root / p for p in ("p1", "p2", "p3")]


def _verify(db: Path, plans: list[Path], *extra: str) -> object:
    return runner.invoke(app, ["audit", "--db", str(db), "--verify",
                               *[x for p in plans for x in ("--plan", str(p))], *extra])


def test_each_plan_folder_records_its_audit_entries(case: Case) -> None:
    db, plans = _trail(case)
    recorded = [json.loads((p / "summary.json").read_text())["audit"] for p in plans]
    # the re-plan: its plan, the decision as the workbook said it, the decision in force
    assert [[e["seq"] for e in r["entries"]] for r in recorded] == [[1], [2, 3, 4], [5]]
    ok = _verify(db, plans)
    assert ok.exit_code == 0 and "the 5 entries 3 plan folder(s) recorded" in ok.output


def test_deletions_and_rechained_edits_are_found_by_the_plans_records(case: Case) -> None:
    import shutil

    db, plans = _trail(case)
    attacks = {
        "last entry deleted": ["DELETE FROM entries WHERE seq = 5"],
        "everything after entry 2 deleted": ["DELETE FROM entries WHERE seq > 2"],
        "a reject flipped to an accept": [
            "UPDATE entries SET payload = replace(payload, '\"reject\"', '\"accept\"') "
            "WHERE seq = 3"],
        "a plan entry removed": ["DELETE FROM entries WHERE seq = 1"],
    }
    for name, sql in attacks.items():
        copy = case.root / f"{name}.sqlite"
        shutil.copy(db, copy)
        _tamper(copy, *sql)
        _rechain(copy)  # the chain alone now looks intact ...
        assert runner.invoke(app, ["audit", "--db", str(copy), "--verify"]).exit_code == 0
        recorded = [(p / "summary.json") for p in plans]
        for s in recorded:  # ... the plan folders name this copy as their trail
            data = json.loads(s.read_text())
            data["audit"]["db"] = str(copy.resolve())
            s.write_text(json.dumps(data))
        r = _verify(copy, plans)  # ... but not to what the plan folders recorded
        assert r.exit_code == 1 and "audit trail broken: entry" in r.output, (name, r.output)


def test_a_keyed_trail_cannot_be_rechained_without_the_key(case: Case) -> None:
    import shutil

    key = case.root / "audit.key"
    key.write_text("a secret only the workforce lead's service account holds\n")
    db, plans = _trail(case, key)
    assert _verify(db, plans, "--audit-key", str(key)).exit_code == 0
    no_key = runner.invoke(app, ["audit", "--db", str(db), "--verify"])
    assert no_key.exit_code == 2 and "is keyed" in no_key.output
    copy = case.root / "flipped.sqlite"
    shutil.copy(db, copy)
    _tamper(copy, "UPDATE entries SET payload = replace(payload, '\"reject\"', '\"accept\"') "
                  "WHERE seq = 3")
    _rechain(copy)  # without the key: plain sha256 links
    r = runner.invoke(app, ["audit", "--db", str(copy), "--verify", "--audit-key", str(key)])
    assert r.exit_code == 1 and "entry 1" in r.output  # no link matches an HMAC
    r = runner.invoke(app, ["rebalance", *_county_args(case), "--out", str(case.root / "p4"),
                            "--audit", str(db), "--quiet"])  # a keyed trail needs its key
    assert r.exit_code == 2 and "keyed" in r.output


def test_an_unusable_audit_trail_is_refused_before_solving(case: Case) -> None:
    small_county(case)
    bad = case.root / "notes.txt"
    bad.write_text("not a database\n")
    folder = case.root / "adir"
    folder.mkdir()
    for target in (bad, folder):
        out = case.root / f"p-{target.name}"
        r = runner.invoke(app, ["rebalance", *_county_args(case), "--out", str(out), "--audit",
                                str(target), "--quiet"])
        assert r.exit_code == 2 and "--audit" in r.output, r.output
        assert not out.exists()
    assert bad.read_text() == "not a database\n"
    v = runner.invoke(app, ["audit", "--db", str(bad), "--verify"])
    assert v.exit_code == 2 and "not an SQLite audit trail" in v.output and "--db" in v.output
    assert "Traceback" not in v.output


def test_a_keyed_trail_cannot_be_downgraded_to_plain_links(case: Case) -> None:
    # the attack: remove the row that says links are HMACs, edit an entry, re-chain every link
    # with plain SHA-256. Given the key, verify accepts only HMAC links, so it is found.
    import shutil

    key = case.root / "audit.key"
    key.write_text("the lead's secret\n")
    db, _ = _trail(case, key)
    copy = case.root / "downgraded.sqlite"
    shutil.copy(db, copy)
    _tamper(copy, "DROP TRIGGER IF EXISTS meta_no_delete", "DELETE FROM meta",
            "UPDATE entries SET payload = replace(payload, '\"reject\"', '\"accept\"') "
            "WHERE seq = 3")
    _rechain(copy)
    r = runner.invoke(app, ["audit", "--db", str(copy), "--verify", "--audit-key", str(key)])
    assert r.exit_code == 1 and "audit trail broken" in r.output and "intact" not in r.output
    # and the row cannot be deleted through SQLite itself
    import sqlite3

    with sqlite3.connect(db) as con, contextlib.suppress(sqlite3.DatabaseError):
        con.execute("DELETE FROM meta")
    assert runner.invoke(app, ["audit", "--db", str(db), "--verify", "--audit-key",
                               str(key)]).exit_code == 0


def test_verify_never_writes_and_an_emptied_trail_is_unusable(case: Case) -> None:
    db, _ = _trail(case)
    before = db.read_bytes()
    assert runner.invoke(app, ["audit", "--db", str(db), "--verify"]).exit_code == 0
    assert runner.invoke(app, ["audit", "--db", str(db)]).exit_code == 0
    assert db.read_bytes() == before
    db.write_bytes(b"")  # truncated to 0 bytes
    r = runner.invoke(app, ["audit", "--db", str(db), "--verify"])
    assert r.exit_code == 2 and "empty (0 bytes)" in r.output and "intact" not in r.output
    assert db.read_bytes() == b""


def test_a_trail_that_cannot_take_the_plan_is_refused_before_reading_inputs(
        case: Case) -> None:
    import os

    db, _ = _trail(case)
    args = _county_args(case)
    os.chmod(db, 0o444)
    try:
        r = runner.invoke(app, ["rebalance", *args, "--out", str(case.root / "ro"), "--audit",
                                str(db), "--quiet"])
    finally:
        os.chmod(db, 0o600)
    assert r.exit_code == 2 and "read-only" in r.output and not (case.root / "ro").exists()
    key = case.root / "k"
    key.write_text("k\n")
    r = runner.invoke(app, ["rebalance", *args, "--out", str(case.root / "mismatch"),
                            "--audit", str(db), "--audit-key", str(key), "--quiet"])
    assert r.exit_code == 2 and "is not keyed" in r.output
    assert not (case.root / "mismatch").exists()


def test_the_trail_is_where_the_docs_say_private_and_named_with_every_plan(
        case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REBALANCER_AUDIT_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    small_county(case)
    r = runner.invoke(app, ["rebalance", *_county_args(case), "--out", str(case.root / "pd"),
                            "--quiet"])
    assert r.exit_code == 0, r.output
    db = tmp_path / "data" / "caseload-rebalancer" / "audit.sqlite"
    assert db.is_file() and (db.stat().st_mode & 0o777) == 0o600
    assert f"audit trail: {db.resolve()} (entry 2)" in r.output  # the county's own plan: 1
