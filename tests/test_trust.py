"""Trust under attack and accident (issue 18): each test reproduces a reported defect."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rebalancer.cli import app
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
