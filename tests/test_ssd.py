"""Importing a Standard Safeguarding Dataset extract: round trip, quirks, refusals, privacy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rebalancer.cli import app
from rebalancer.io.outputs import read_table_file
from rebalancer.synth.county import generate
from rebalancer.synth.ssd import FAKE, write_ssd

runner = CliRunner()
SEED = 4


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pd.DataFrame]]:
    root = tmp_path_factory.mktemp("ssd")
    tables = generate(300, 24, seed=SEED, scenario="steady")
    write_ssd(tables, root / "ssd", seed=SEED)
    return root, tables


def import_(folder: Path, out: Path, *extra: str) -> object:
    return runner.invoke(app, ["import-ssd", "--ssd", str(folder), "--mapping",
                               str(folder / "mapping.toml"), "--out", str(out), "--plan-date",
                               "2026-12-01", *extra])


def test_round_trip_gives_back_the_county(extract: tuple[Path, dict[str, pd.DataFrame]],
                                          tmp_path: Path) -> None:
    root, tables = extract
    r = import_(root / "ssd", tmp_path / "imp")
    assert r.exit_code == 0, r.output
    assert "the SSD holds no leaving, start or absence dates: add the calendar from HR" in \
        r.output
    w = read_table_file(tmp_path / "imp" / "workers.csv").set_index("worker_id")
    c = read_table_file(tmp_path / "imp" / "children.csv").set_index("child_id")
    gw = tables["workers"].set_index("worker_id")
    gc = tables["children"].set_index("child_id")
    assert sorted(w.index) == sorted(gw.index)
    for col in ("team", "locality", "grade"):
        assert (w[col] == gw.loc[w.index, col]).all(), col
    assert (w["fte"].astype(float) == gw.loc[w.index, "fte"].astype(float)).all()
    assert (w["agency"] == gw.loc[w.index, "agency"].astype(str).str.lower()).all()
    assert sorted(c.index) == sorted(gc.index)
    for col in ("family_id", "case_type", "in_proceedings", "locality", "current_worker_id",
                "allocated_on"):
        assert (c[col].astype(str) == gc.loc[c.index, col].astype(str)).all(), col


def test_import_report_names_the_quirks(extract: tuple[Path, dict[str, pd.DataFrame]],
                                        tmp_path: Path) -> None:
    import json

    root, _ = extract
    r = import_(root / "ssd", tmp_path / "imp")
    assert r.exit_code == 0
    rep = json.loads((tmp_path / "imp" / "import-report.json").read_text())
    assert rep["rows_read"]["ssd_person"] > 300
    assert rep["children_left_out"]["no_open_case"] > 0
    assert [x["worker_id"] for x in rep["job_titles_unmatched"]] == ["M001", "M002", "M003"]
    assert len(rep["children_with_two_open_workers"]) == 1
    assert rep["involvements_naming_unknown_professionals"][0]["professional_id"] == "P99999"
    assert rep["workers_with_no_fte"]
    assert "Team Manager" in r.output and "add a pattern under [grades]" in r.output


def test_imported_county_rebalances_and_passes_the_check(
        extract: tuple[Path, dict[str, pd.DataFrame]], tmp_path: Path) -> None:
    root, _ = extract
    assert import_(root / "ssd", tmp_path / "imp").exit_code == 0
    cfg = tmp_path / "c.toml"
    cfg.write_text("plan_date = 2026-12-01\n")
    args = ["--workers", str(tmp_path / "imp/workers.csv"), "--children",
            str(tmp_path / "imp/children.csv")]
    assert runner.invoke(app, ["validate", *args]).exit_code == 0
    r = runner.invoke(app, ["rebalance", *args, "--config", str(cfg), "--out",
                            str(tmp_path / "plan"), "--time-limit", "8", "--quiet"])
    assert r.exit_code == 0, r.output
    c = runner.invoke(app, ["check", *args, "--config", str(cfg), "--plan",
                            str(tmp_path / "plan")])
    assert c.exit_code == 0, c.output
    # no personal field reaches any output or message
    texts = [r.output, c.output] + [p.read_text(errors="ignore") for p in
                                    (tmp_path / "imp").iterdir()]
    texts += [p.read_bytes().decode("latin-1") for p in (tmp_path / "plan").iterdir()]
    assert not any(FAKE in t for t in texts)


@pytest.mark.parametrize("damage,expect", [
    ("missing_table", "the required table ssd_cp_plans is missing"),
    ("missing_column", "prof_professional_job_title"),
    ("bad_date", "is not a date"),
    ("mapping_key", "unknown mapping section"),
    ("mapping_pattern", "is not a valid pattern"),
])
def test_bad_extracts_are_refused_with_nothing_written(
        extract: tuple[Path, dict[str, pd.DataFrame]], tmp_path: Path, damage: str,
        expect: str) -> None:
    root, _ = extract
    folder = tmp_path / "ssd"
    shutil.copytree(root / "ssd", folder)
    if damage == "missing_table":
        (folder / "ssd_cp_plans.csv").unlink()
    elif damage == "missing_column":
        df = pd.read_csv(folder / "ssd_professionals.csv", dtype=str, keep_default_na=False)
        df.drop(columns=["prof_professional_job_title"]).to_csv(
            folder / "ssd_professionals.csv", index=False)
    elif damage == "bad_date":
        df = pd.read_csv(folder / "ssd_cp_plans.csv", dtype=str, keep_default_na=False)
        df.loc[0, "cppl_cp_plan_start_date"] = "31/31/2026"
        df.to_csv(folder / "ssd_cp_plans.csv", index=False)
    elif damage == "mapping_key":
        with (folder / "mapping.toml").open("a") as f:
            f.write("\n[grade_patterns]\nx = 1\n")
    elif damage == "mapping_pattern":
        text = (folder / "mapping.toml").read_text()
        (folder / "mapping.toml").write_text(text.replace('sw = ["social worker"]',
                                                          'sw = ["social worker("]'))
    r = import_(folder, tmp_path / "imp")
    assert r.exit_code == 1, r.output
    assert expect in r.output
    assert not (tmp_path / "imp").exists()


def test_an_unmapped_title_is_reported_and_its_children_kept_unallocated(
        extract: tuple[Path, dict[str, pd.DataFrame]], tmp_path: Path) -> None:
    root, tables = extract
    folder = tmp_path / "ssd"
    shutil.copytree(root / "ssd", folder)
    prof = pd.read_csv(folder / "ssd_professionals.csv", dtype=str, keep_default_na=False)
    held = tables["children"]["current_worker_id"].value_counts()
    wid = held.index[0]
    prof.loc[prof["prof_professional_id"] == wid, "prof_professional_job_title"] = "Practice Lead"
    prof.to_csv(folder / "ssd_professionals.csv", index=False)
    r = import_(folder, tmp_path / "imp")
    assert r.exit_code == 0
    assert f"{wid}: 'Practice Lead' (add a pattern under [grades])" in r.output
    c = read_table_file(tmp_path / "imp" / "children.csv")
    assert wid not in set(c["current_worker_id"])
    assert "children whose worker was left out (now unallocated)" in r.output


def test_worker_changes_are_derived_from_a_hand_made_involvement_history(
        extract: tuple[Path, dict[str, pd.DataFrame]], tmp_path: Path) -> None:
    # Plan date 2026-12-01: the 12 months start on 2025-12-01. X's history, worked by hand:
    #   B 2025-06-01..2025-11-01  first allocation (and before the window): not a change
    #   C 2026-01-10..2026-03-01  change 1 (B -> C)
    #   C 2026-03-01..2026-05-01  same professional, new involvement: not a change
    #   B 2026-05-01..2026-09-01  change 2: a return to B is a change of worker
    #   D 2026-06-01 (role IRO)   not an allocated-worker role: ignored
    #   B 2026-09-01 open         same professional again: not a change
    #   A 2026-10-01 open         handover, two open involvements: change 3, counted once
    #   -1 2026-10-15 open        no worker: ignored
    # Y: A from 2026-07-01 only: a first allocation, 0. Z: B 2024, C 2025-06 (before the
    # window), A 2026-02-01: 1.
    root, tables = extract
    folder = tmp_path / "ssd"
    shutil.copytree(root / "ssd", folder)
    kids = tables["children"]
    held = kids[kids["current_worker_id"] != ""]
    (x, a), (y, ay), (z, az) = [tuple(r) for r in
                                held[["child_id", "current_worker_id"]].head(3).to_numpy()]
    others = [w for w in tables["workers"]["worker_id"] if w not in (a, ay, az)]
    b, c, d = others[:3]
    inv = pd.read_csv(folder / "ssd_involvements.csv", dtype=str, keep_default_na=False)
    inv = inv[~inv["invo_person_id"].isin([x, y, z])]
    rows = [(b, "CW", x, "2025-06-01", "2025-11-01"), (c, "CW", x, "2026-01-10", "2026-03-01"),
            (c, "SW", x, "2026-03-01", "2026-05-01"), (b, "CW", x, "2026-05-01", "2026-09-01"),
            (d, "IRO", x, "2026-06-01", ""), (b, "CW", x, "2026-09-01", "1900-01-01"),
            (a, "CW", x, "2026-10-01", ""), ("-1", "CW", x, "2026-10-15", ""),
            (ay, "CW", y, "2026-07-01", ""),
            (b, "CW", z, "2024-03-01", "2025-06-01"), (c, "SW", z, "2025-06-01", "2026-02-01"),
            (az, "CW", z, "2026-02-01", "")]
    team = inv["invo_professional_team"].iat[0]
    hand = pd.DataFrame([{"invo_involvements_id": f"H{i:03d}", "invo_professional_id": p,
                          "invo_professional_role_id": role, "invo_professional_team": team,
                          "invo_person_id": person, "invo_involvement_start_date": s,
                          "invo_involvement_end_date": e}
                         for i, (p, role, person, s, e) in enumerate(rows)])
    pd.concat([inv, hand]).to_csv(folder / "ssd_involvements.csv", index=False)
    r = import_(folder, tmp_path / "imp")
    assert r.exit_code == 0, r.output
    c_out = read_table_file(tmp_path / "imp" / "children.csv").set_index("child_id")
    assert c_out.loc[[x, y, z], "worker_changes_12m"].astype(int).tolist() == [3, 0, 1]
    assert c_out.loc[[x, y, z], "current_worker_id"].tolist() == [a, ay, az]
    assert c_out.at[x, "allocated_on"] == "2026-10-01"
    import json

    rep = json.loads((tmp_path / "imp" / "import-report.json").read_text())
    counts = c_out["worker_changes_12m"].astype(int)
    assert rep["children_by_worker_changes_12m"] == {
        "1": int((counts == 1).sum()), "2": int((counts == 2).sum()),
        "3+": int((counts >= 3).sum())}
    assert rep["children_by_worker_changes_12m"]["3+"] >= 1
    assert (f"changes of social worker in the 12 months to the plan: "
            f"{rep['children_by_worker_changes_12m']['1']} children with 1") in r.output
    assert any(h["child_id"] == x and h["kept"] == a
               for h in rep["children_with_two_open_workers"])


def test_generated_counts_survive_the_ssd_round_trip(
        extract: tuple[Path, dict[str, pd.DataFrame]], tmp_path: Path) -> None:
    # generate --format ssd writes the involvement history the counts come from (handovers,
    # returns to a worker, reopened involvements, other roles), so the import gives them back.
    root, tables = extract
    assert import_(root / "ssd", tmp_path / "imp").exit_code == 0
    c = read_table_file(tmp_path / "imp" / "children.csv").set_index("child_id")
    given = tables["children"].set_index("child_id")["worker_changes_12m"]
    assert (c["worker_changes_12m"].astype(int) == given.loc[c.index].astype(int)).all()
    assert (given >= 2).sum() > 0


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


def test_numbered_involvements_are_ordered_as_numbers_and_the_year_is_365_days() -> None:
    # P's two involvements start on the same day: 99 (worker A) then 100 (worker B), so B is
    # the later one and A -> B one change. As text "100" sorts before "99", which would make A
    # the later worker. Q's change on 2025-12-01, exactly a year before the plan date, is
    # outside the 365 days up to and including it; R's on 2025-12-02 is inside.
    import datetime as dt

    from rebalancer.io.ssd import id_order, worker_changes_12m

    day = dt.date.fromisoformat
    person = pd.Series(["P", "P", "Q", "Q", "R", "R"])
    start = pd.Series([day("2026-05-01"), day("2026-05-01"), day("2025-01-01"),
                       day("2025-12-01"), day("2025-01-01"), day("2025-12-02")])
    involvement = pd.Series(["100", "99", "1", "2", "3", "4"])  # listed out of order
    worker = pd.Series(["B", "A", "A", "B", "A", "B"])
    assert worker_changes_12m(person, worker, start, involvement, day("2026-12-01")) == {
        "P": 1, "Q": 0, "R": 1}
    ids = pd.Series(["100", "99", "7"], name="invo_involvements_id")
    assert ids.iloc[np.argsort(id_order(ids).to_numpy())].tolist() == ["7", "99", "100"]
    mixed = pd.Series(["H2", "10", "9"], name="invo_involvements_id")
    assert sorted(id_order(mixed)) == ["10", "9", "H2"]  # not all numbers: text
