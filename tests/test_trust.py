"""Trust under attack and accident (issue 18): each test reproduces a reported defect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rebalancer.cli import app
from rebalancer.signoff.audit import Trail
from solvers import Termination
from tests.conftest import Case, child, worker

runner = CliRunner()


def _off_county(case: Case) -> tuple[list[str], Path]:
    # geography "off": K (South) goes to A (North), which the default rules forbid
    case.run([worker("A", locality="North"), worker("S", locality="South", fte=0.1)],
             [child("K", locality="South"), child("L", locality="South"),
              child("M", locality="South")],
             config='[rules]\ngeography = "off"\n')
    c = case.root
    return ["--workers", str(c / "workers.csv"), "--children", str(c / "children.csv")], \
        c / "out"


def test_check_does_not_trust_the_configuration_in_the_folder(case: Case) -> None:
    args, out = _off_county(case)
    default_cfg = case.root / "default.toml"
    default_cfg.write_text("plan_date = 2026-12-01\n")
    # the repro: summary.json edited to name the default configuration
    summary = json.loads((out / "summary.json").read_text())
    summary["config"]["rules"]["geography"] = "locality"
    (out / "summary.json").write_text(json.dumps(summary))
    r = runner.invoke(app, ["check", *args, "--config", str(default_cfg), "--plan", str(out)])
    assert r.exit_code == 1 and "VIOLATION GEOGRAPHY" in r.output, r.output


def test_a_recorded_configuration_that_differs_is_a_violation(case: Case) -> None:
    args, out = _off_county(case)
    default_cfg = case.root / "default.toml"
    default_cfg.write_text("plan_date = 2026-12-01\n")
    r = runner.invoke(app, ["check", *args, "--config", str(default_cfg), "--plan", str(out)])
    assert r.exit_code == 1
    assert ("VIOLATION CONFIG_MISMATCH: rules.geography: the plan records 'off', it is checked "
            "against 'locality'") in r.output
    ok = runner.invoke(app, ["check", *args, "--config", str(case.root / "config.toml"),
                             "--plan", str(out)])
    assert ok.exit_code == 0, ok.output
    trusted = runner.invoke(app, ["check", *args, "--plan", str(out), "--trust-plan-config"])
    assert trusted.exit_code == 0, trusted.output
    assert "NOT CHECKED configuration taken from the plan" in trusted.output


def test_a_postcode_cell_holding_a_name_and_address_is_never_echoed(tmp_path: Path) -> None:
    import shutil

    import pandas as pd

    from rebalancer.synth.county import generate
    from rebalancer.synth.ssd import write_ssd

    # an unallocated child: its locality comes from its postcode, so a bad cell is reported
    tables = generate(120, 10, seed=2, scenario="crisis")
    write_ssd(tables, tmp_path / "x", seed=2)
    folder = tmp_path / "ssd"
    shutil.copytree(tmp_path / "x", folder)
    kids = tables["children"]
    kid = kids.loc[kids["current_worker_id"] == "", "child_id"].iloc[-1]
    ad = pd.read_csv(folder / "ssd_address.csv", dtype=str, keep_default_na=False)
    at = ad.index[(ad["addr_person_id"] == kid) & (ad["addr_address_end_date"] == "")][0]
    ad.loc[at, "addr_address_postcode"] = "Jane Doe, 14 Acacia Avenue"
    ad.to_csv(folder / "ssd_address.csv", index=False)
    out = tmp_path / "imp"
    r = runner.invoke(app, ["import-ssd", "--ssd", str(folder), "--mapping",
                            str(folder / "mapping.toml"), "--plan-date", "2026-12-01",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    texts = [r.output] + [p.read_text(errors="ignore") for p in out.iterdir()
                          if p.suffix in (".json", ".csv", ".toml")]
    assert not any("Acacia" in t or "Jane" in t or "JANEDOE" in t for t in texts)
    report = json.loads((out / "import-report.json").read_text())
    rows = report["postcodes_not_recognised"]
    assert len(rows) == 1 and rows[0]["row"].startswith(f"row {at + 2} ")
    assert kid in {x["child_id"] for x in report["children_left_out"]["no_locality"]}
    assert "postcode cells that are not a postcode" in r.output


def _county(case: Case) -> tuple[list[str], Path]:
    case.run([worker("A", leaving_on="2026-12-05"), worker("B")],
             [child("K", current="A"), child("L")])
    c = case.root
    return ["--workers", str(c / "workers.csv"), "--children", str(c / "children.csv"),
            "--config", str(c / "config.toml")], c / "out"


def test_no_command_writes_over_an_input_or_a_plan(case: Case) -> None:
    args, out = _county(case)
    before = {p: p.read_bytes() for p in [*case.root.glob("*.csv"), *out.iterdir()]}
    r = runner.invoke(app, ["review", "--plan", str(out), "--out",
                            str(case.root / "children.csv")])
    assert r.exit_code == 2 and ".xlsx" in r.output
    r = runner.invoke(app, ["review", "--plan", str(out), "--out",
                            str(case.root / "children.xlsx")])
    assert r.exit_code == 0, r.output  # a new file is fine
    r = runner.invoke(app, ["compare", str(out), str(out), "--out", str(out / "plan.csv")])
    assert r.exit_code == 2 and "would overwrite" in r.output
    r = runner.invoke(app, ["compare", str(out), str(out), "--out",
                            str(case.root / "workers.csv")])
    assert r.exit_code == 2 and "would overwrite" in r.output
    assert runner.invoke(app, ["review", "--plan", str(out)]).exit_code == 0
    r = runner.invoke(app, ["replan", *args, "--plan", str(out), "--review",
                            str(out / "review.xlsx"), "--out", str(out), "--quiet"])
    assert r.exit_code == 2 and "the plan being reviewed" in r.output
    for p, data in before.items():
        assert p.read_bytes() == data, p


def _decide(book: Path, child_id: str, decision: str, note: str = "") -> None:
    from openpyxl import load_workbook

    wb = load_workbook(book)
    ws = wb["moves"]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        if row[header.index("child_id")].value == child_id:
            row[header.index("decision")].value = decision
            row[header.index("note")].value = note
    wb.save(book)


def test_replan_refuses_inputs_other_than_the_reviewed_plans(case: Case) -> None:
    args, out = _county(case)
    assert runner.invoke(app, ["review", "--plan", str(out)]).exit_code == 0
    other = case.root / "other.csv"
    other.write_text((case.root / "children.csv").read_text() + "Z,cin,North,,,\n")
    a = list(args)
    a[a.index(str(case.root / "children.csv"))] = str(other)
    r = runner.invoke(app, ["replan", *a, "--plan", str(out), "--review",
                            str(out / "review.xlsx"), "--out", str(case.root / "p2"), "--quiet"])
    assert r.exit_code == 1
    assert f"{other}: the children input differs from the one the reviewed plan" in r.output
    assert not (case.root / "p2").exists()


def test_review_chains_keep_their_decisions_and_check_finds_them(case: Case) -> None:
    args, out = _county(case)
    assert runner.invoke(app, ["review", "--plan", str(out)]).exit_code == 0
    book = out / "review.xlsx"
    _decide(book, "K", "reject", "x" * 1001)  # too long for decisions.csv: refused here
    p2 = case.root / "p2"
    r = runner.invoke(app, ["replan", *args, "--plan", str(out), "--review", str(book),
                            "--out", str(p2), "--quiet"])
    assert r.exit_code == 1 and "note (cell" in r.output and "1,001 characters" in r.output
    _decide(book, "K", "accept", "stays with B")
    r = runner.invoke(app, ["replan", *args, "--plan", str(out), "--review", str(book),
                            "--out", str(p2), "--quiet"])
    assert r.exit_code == 0, r.output
    summary = json.loads((p2 / "summary.json").read_text())
    assert summary["inputs"]["decisions"]["path"] == str((p2 / "decisions.csv").resolve())
    c = runner.invoke(app, ["check", *args, "--plan", str(p2)])  # no --decisions needed
    assert c.exit_code == 0 and "decisions in force:" in c.output, c.output
    # a second review of the re-plan, with nothing decided: review 1's assign stays hard
    assert runner.invoke(app, ["review", "--plan", str(p2)]).exit_code == 0
    p3 = case.root / "p3"
    r = runner.invoke(app, ["replan", *args, "--plan", str(p2), "--review",
                            str(p2 / "review.xlsx"), "--out", str(p3), "--quiet"])
    assert r.exit_code == 0, r.output
    kept = (p3 / "decisions.csv").read_text(encoding="utf-8-sig")
    assert "K,assign,B,stays with B" in kept
    c = runner.invoke(app, ["check", *args, "--plan", str(p3)])
    assert c.exit_code == 0, c.output


def _tamper(db: Path, *sql: str) -> None:
    import sqlite3

    with sqlite3.connect(db) as con:
        con.execute("DROP TRIGGER IF EXISTS entries_no_update")
        con.execute("DROP TRIGGER IF EXISTS entries_no_delete")
        for statement in sql:
            con.execute(statement)


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


def _trail(case: Case, key: Path | None = None) -> tuple[Path, list[Path]]:
    """Three runs on one trail: a plan, a re-plan with a rejection (plan + decision entries),
    and another plan; returns the trail and the three plan folders."""
    args, _ = _county(case)  # the first plan is on its own trail, beside its folder
    extra = ["--audit-key", str(key)] if key is not None else []
    db = case.root / "trail.sqlite"
    r = runner.invoke(app, ["rebalance", *args, "--out", str(case.root / "p1"), "--audit",
                            str(db), "--quiet", *extra])
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["review", "--plan", str(case.root / "p1")]).exit_code == 0
    _decide(case.root / "p1" / "review.xlsx", "K", "reject", "no")
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
    assert [[e["seq"] for e in r["entries"]] for r in recorded] == [[1], [2, 3], [4]]
    ok = _verify(db, plans)
    assert ok.exit_code == 0 and "the 4 entries 3 plan folder(s) recorded" in ok.output


def test_deletions_and_rechained_edits_are_found_by_the_plans_records(case: Case) -> None:
    import shutil

    db, plans = _trail(case)
    attacks = {
        "last entry deleted": ["DELETE FROM entries WHERE seq = 4"],
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


def _county_args(case: Case) -> list[str]:
    c = case.root
    return ["--workers", str(c / "workers.csv"), "--children", str(c / "children.csv"),
            "--config", str(c / "config.toml")]


def test_an_unusable_audit_trail_is_refused_before_solving(case: Case) -> None:
    _county(case)
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
    assert v.exit_code == 2 and "cannot be used as an audit trail" in v.output
    assert "Traceback" not in v.output


def _extract(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    import shutil

    from rebalancer.synth.county import generate
    from rebalancer.synth.ssd import write_ssd

    tables = generate(150, 12, seed=6, scenario="steady")
    write_ssd(tables, tmp_path / "x", seed=6)
    shutil.copytree(tmp_path / "x", tmp_path / "ssd")
    return tmp_path / "ssd", tables


def _import(folder: Path, out: Path) -> object:
    return runner.invoke(app, ["import-ssd", "--ssd", str(folder), "--mapping",
                               str(folder / "mapping.toml"), "--plan-date", "2026-12-01",
                               "--out", str(out)])


def test_the_ssd_import_drops_no_child_silently(tmp_path: Path) -> None:
    import pandas as pd

    from rebalancer.io.outputs import read_table_file

    folder, tables = _extract(tmp_path)
    kids = tables["children"]  # type: ignore[index]
    held = kids[kids["current_worker_id"] != ""]
    gone, blank, twice = (str(x) for x in held["child_id"].iloc[:3])
    person = pd.read_csv(folder / "ssd_person.csv", dtype=str, keep_default_na=False)
    person[person["pers_person_id"] != gone].to_csv(folder / "ssd_person.csv", index=False)
    inv = pd.read_csv(folder / "ssd_involvements.csv", dtype=str, keep_default_na=False)
    open_rows = (inv["invo_person_id"] == blank) & inv["invo_involvement_end_date"].isin(
        ["", "1900-01-01"])
    inv.loc[open_rows, "invo_involvement_start_date"] = ""
    inv.to_csv(folder / "ssd_involvements.csv", index=False)
    fam = pd.read_csv(folder / "ssd_family.csv", dtype=str, keep_default_na=False)
    fam = pd.concat([fam, pd.DataFrame([{"fami_table_id": "x", "fami_family_id": "F-OTHER",
                                         "fami_person_id": twice}])], ignore_index=True)
    fam.to_csv(folder / "ssd_family.csv", index=False)
    prof = pd.read_csv(folder / "ssd_professionals.csv", dtype=str, keep_default_na=False)
    pd.concat([prof, prof.iloc[[0]]]).to_csv(folder / "ssd_professionals.csv", index=False)
    r = _import(folder, tmp_path / "imp")
    assert r.exit_code == 0, r.output
    c = read_table_file(tmp_path / "imp" / "children.csv").set_index("child_id")
    w = held.set_index("child_id")
    assert c.at[gone, "current_worker_id"] == w.at[gone, "current_worker_id"]
    assert c.at[blank, "current_worker_id"] == w.at[blank, "current_worker_id"]
    assert c.at[blank, "allocated_on"] == ""
    rep = json.loads((tmp_path / "imp" / "import-report.json").read_text())
    assert rep["children_without_person_row"] == [gone]
    assert len(rep["involvements_without_start_date"]) >= 1
    assert [x["child_id"] for x in rep["children_in_two_families"]] == [twice]
    assert [x["professional_id"] for x in rep["professionals_repeated"]] == [
        prof["prof_professional_id"].iat[0]]
    for text in (gone, twice, "children in two families", "no start date"):
        assert text in r.output
    # a repeated professional whose rows disagree is refused, naming it
    prof2 = pd.concat([prof, prof.iloc[[0]].assign(prof_full_time_equivalency="0.5")])
    prof2.to_csv(folder / "ssd_professionals.csv", index=False)
    r = _import(folder, tmp_path / "imp2")
    assert r.exit_code == 1 and "appears on 2 rows with different values" in r.output
    assert not (tmp_path / "imp2").exists()


def test_a_catastrophic_pattern_cannot_hang_the_import(tmp_path: Path) -> None:
    folder, _ = _extract(tmp_path)
    text = (folder / "mapping.toml").read_text().replace(
        'sw = ["social worker"]', 'sw = ["(a+)+$", "social worker"]')
    (folder / "mapping.toml").write_text(text)
    import pandas as pd

    prof = pd.read_csv(folder / "ssd_professionals.csv", dtype=str, keep_default_na=False)
    prof.loc[len(prof)] = ["X1", "a" * 5000 + "!", prof.iat[0, 2], "1", "N", "", ""]
    prof.to_csv(folder / "ssd_professionals.csv", index=False)
    r = _import(folder, tmp_path / "imp")  # a backtracking engine would never finish this
    assert r.exit_code == 0, r.output
    assert "X1: " in r.output  # the title matched nothing, and was reported
    back = (folder / "mapping.toml").read_text().replace('"(a+)+$", ', '"(a)\\\\1", ')
    (folder / "mapping.toml").write_text(back)
    r = _import(folder, tmp_path / "imp2")
    assert r.exit_code == 1 and "is not a valid pattern" in r.output


def test_an_interrupt_before_any_plan_leaves_no_folder(case: Case,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import rebalancer.pipeline as pipeline
    from rebalancer.config import load_config

    _county(case)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "plan", interrupted)
    out = case.root / "never"
    cfg = load_config(case.root / "config.toml")
    paths = pipeline.InputPaths(case.root / "workers.csv", case.root / "children.csv",
                                config=case.root / "config.toml")
    with pytest.raises(KeyboardInterrupt):
        pipeline.rebalance(paths, cfg, out, "csv",
                           Trail.beside(out, case.root / "t.sqlite").hook())
    assert not out.exists() and not (case.root / "t.sqlite").exists()


def test_an_interrupted_plan_is_written_without_waiting_for_charts(case: Case) -> None:
    import dataclasses

    from rebalancer.reports.plan_page import render

    r = case.run([worker("A"), worker("B")], [child("K"), child("L")])
    s = dataclasses.replace(r.summary, solver=dataclasses.replace(r.summary.solver,
                                                                  termination=Termination.INTERRUPTED))
    page = render(r.plan, r.workers, s, charts_drawn=not s.solver.interrupted)
    assert "<svg" not in page and "rebalancer report --plan DIR" in page
    assert "interrupted: best plan so far" in page
    assert "<svg" in render(r.plan, r.workers, r.summary)


def test_bad_grids_and_scenario_files_are_refused_before_anything_runs(case: Case) -> None:
    args, _ = _county(case)
    out = case.root / "sweep"
    r = runner.invoke(app, ["sweep", *args, "--grid", "solver.threads=1,2", "--out", str(out)])
    assert r.exit_code == 2 and "Dask worker's threads" in r.output
    r = runner.invoke(app, ["sweep", *args, "--grid", "weights.move=", "--out", str(out)])
    assert r.exit_code == 2 and "no values" in r.output
    bad = case.root / "s.toml"
    bad.write_text(
        '[scenario.a]\nadd_workers = [{ locality = "North", fte = 7.5, count = -3 }]\n'
        'remove_team = ["No Such Team"]\n'
        '[scenario.b]\nadd_workers = [{ grade = "boss" }]\noverrides = "weights.move=1"\n')
    r = runner.invoke(app, ["sweep", *args, "--scenarios", str(bad), "--out", str(out)])
    assert r.exit_code == 1 and "Traceback" not in r.output
    for text in ("add_workers[0].fte", "add_workers[0].count", "add_workers[0].grade",
                 "add_workers[0].locality", "scenario.b.overrides"):
        assert text in r.output, text
    assert not out.exists()
    # the teams and localities a what-if names are checked against the county, too
    bad.write_text('[scenario.a]\nremove_team = ["No Such Team"]\n'
                   'add_workers = [{ locality = "Atlantis" }]\n')
    r = runner.invoke(app, ["sweep", *args, "--scenarios", str(bad), "--out", str(out)])
    assert r.exit_code == 1
    assert "'No Such Team' is not a team" in r.output and "'Atlantis' is no locality" in r.output


def test_a_scenario_reads_the_files_it_was_started_with(case: Case) -> None:
    from rebalancer.analysis.scenarios import Scenario
    from rebalancer.analysis.sweep import run_scenario
    from rebalancer.config import load_config
    from rebalancer.pipeline import InputPaths

    _county(case)
    c = case.root
    paths = InputPaths(c / "workers.csv", c / "children.csv", config=c / "config.toml")
    expected = {str(c / "workers.csv"): "0" * 64}  # what another machine's file hashed to
    row = run_scenario(paths, load_config(c / "config.toml"), Scenario("x"), c / "sw", "csv",
                       4.0, 1, expected)
    assert row["status"] == "error" and "differs on this Dask worker" in row["error"]


def test_what_if_folders_work_with_every_command(case: Case) -> None:
    # staffing adds NEW- workers (with the skill nobody had): check, explain and review work
    # on its folder because it records them
    case.write("workers", [worker("A")])
    case.write("children", [child("K", required_skills="bsl"), child("L")])
    (case.root / "c.toml").write_text("plan_date = 2026-12-01\n")
    a = ["--workers", str(case.root / "workers.csv"), "--children",
         str(case.root / "children.csv"), "--config", str(case.root / "c.toml")]
    st = case.root / "st"
    r = runner.invoke(app, ["staffing", *a, "--out", str(st), "--time-limit", "4", "--target",
                            "0.9", "--format", "csv"])
    assert r.exit_code == 0, r.output
    summary = json.loads((st / "summary.json").read_text())
    assert summary["what_ifs"]["add_workers"] and summary["what_ifs"]["capacity_points"]
    c = runner.invoke(app, ["check", *a, "--plan", str(st)])
    assert c.exit_code == 0 and "what-ifs applied" in c.output, c.output
    e = runner.invoke(app, ["explain", "--plan", str(st), "K"])
    assert e.exit_code == 0 and "NEW-" in e.output, e.output
    assert runner.invoke(app, ["review", "--plan", str(st)]).exit_code == 0


def test_a_reused_sweep_folder_keeps_no_stale_scenario(tmp_path: Path) -> None:
    import pandas as pd

    from rebalancer.analysis.sweep import _remove_stale

    out = tmp_path / "sweep"
    for name in ("move=100", "move=300", "notes"):
        (out / name).mkdir(parents=True)
    (out / "move=100" / "summary.json").write_text("{}")
    (out / "move=300" / "summary.json").write_text("{}")
    pd.DataFrame({"scenario": ["move=100", "move=300"]}).to_csv(out / "results.csv",
                                                                index=False)
    _remove_stale(out, {"move=300"})
    assert sorted(p.name for p in out.iterdir()) == ["move=300", "notes", "results.csv"]


def test_check_warns_about_a_move_staying_would_beat(case: Case) -> None:
    # K moved from A (idle) to B for no reason: staying saves its move cost (300 + months) and
    # nothing else changes much; check warns, and the plan still keeps every rule.
    import pandas as pd

    case.run([worker("A"), worker("B")], [child("K", current="A", allocated_on="2026-06-01")],
             fmt="csv")
    plan = pd.read_csv(case.root / "out" / "plan.csv", dtype=str, keep_default_na=False,
                       encoding="utf-8-sig")
    assert plan.loc[0, "to_worker_id"] == "A"  # the solver kept it
    from rebalancer.check.independent import _World, staying_would_beat
    from rebalancer.config import load_config
    from rebalancer.io.inputs import load_inputs

    cfg = load_config(case.root / "config.toml")
    inputs = load_inputs(case.root / "workers.csv", case.root / "children.csv", None, None, cfg)
    world = _World(inputs, cfg)
    warned = staying_would_beat(world, {"K": "A"}, {"K": "B"}, set(), lambda _: ["A", "B"])
    assert len(warned) == 1 and warned[0].startswith("K: staying with A instead of moving to B")
    assert staying_would_beat(world, {"K": "A"}, {"K": "A"}, set(), lambda _: ["A", "B"]) == []
