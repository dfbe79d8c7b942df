"""`check`: the plan re-verified from the inputs alone, by rules and weights the user gives, so a
forged or edited plan fails with the violation named."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rebalancer.cli import app
from rebalancer.io.outputs import read_table_file
from tests.conftest import Case, check_cli, child, tampered, worker

runner = CliRunner()


def _edit_plan(out: Path, edit: object) -> None:
    plan = read_table_file(out / "plan.csv")
    edit(plan)  # type: ignore[operator]
    plan.to_csv(out / "plan.csv", index=False)


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


def test_check_fails_a_move_relabelled_keep(tmp_path: Path, planned: tuple[Path, Path]) -> None:
    out = tampered(planned, tmp_path)

    def relabel(plan: pd.DataFrame) -> None:
        moved = plan["action"] == "move"
        assert moved.any()
        plan.loc[moved, "from_worker_id"] = plan.loc[moved, "to_worker_id"]
        plan.loc[moved, "action"] = "keep"

    _edit_plan(out, relabel)
    c = check_cli(planned[0], out)
    assert c.exit_code == 1 and "plan.from_worker_id" in c.output


def test_check_fails_changed_points(tmp_path: Path, planned: tuple[Path, Path]) -> None:
    out = tampered(planned, tmp_path)
    _edit_plan(out, lambda p: p.__setitem__("points", "1"))
    c = check_cli(planned[0], out)
    assert c.exit_code == 1 and "plan.points" in c.output


def test_check_fails_a_zeroed_workers_file(tmp_path: Path, planned: tuple[Path, Path]) -> None:
    out = tampered(planned, tmp_path)
    w = read_table_file(out / "workers.csv")
    for col in ("load_after", "utilisation_after", "children_after"):
        w[col] = 0
    w.to_csv(out / "workers.csv", index=False)
    c = check_cli(planned[0], out)
    assert c.exit_code == 1 and "workers.load_after" in c.output


@pytest.mark.parametrize("claim", ["excess", "optimal"])
def test_check_fails_false_claims_in_the_summary(tmp_path: Path, planned: tuple[Path, Path],
                                                 claim: str) -> None:
    out = tampered(planned, tmp_path)
    s = json.loads((out / "summary.json").read_text())
    if claim == "excess":
        s["max_new_yielded"]["excess_total"] += 1
    else:
        s["status"], s["gap"] = "optimal", 0.0
        s["best_bound"] = round(s["objective"] * 0.9, 4)
    (out / "summary.json").write_text(json.dumps(s))
    c = check_cli(planned[0], out)
    assert c.exit_code == 1, c.output
    expect = "max_new_yielded" if claim == "excess" else "status"
    assert expect.split("_")[0].upper() in c.output.upper(), c.output


def test_check_compares_input_hashes(tmp_path: Path, planned: tuple[Path, Path]) -> None:
    import shutil

    inp = tmp_path / "in"
    shutil.copytree(planned[0], inp)
    kids = pd.read_csv(inp / "children.csv", dtype=str, keep_default_na=False)
    kids.to_csv(inp / "children.csv", index=False, lineterminator="\r\n")  # same rows, new bytes
    c = check_cli(inp, planned[1])
    assert c.exit_code == 1 and "inputs.children" in c.output


def test_check_fails_a_rule_reason_rewritten(tmp_path: Path, planned: tuple[Path, Path]) -> None:
    out = tampered(planned, tmp_path)

    def rewrite(plan: pd.DataFrame) -> None:
        ruled = plan["reasons"].str.contains("LEAVING|ABSENT|SKILLS|GRADE")
        ruled &= plan["action"] == "move"
        assert ruled.any()
        plan.loc[ruled, "reasons"] = "BALANCE"

    _edit_plan(out, rewrite)
    c = check_cli(planned[0], out)
    assert c.exit_code == 1 and "plan.reasons" in c.output


def test_a_plan_above_the_least_excess_fails_naming_the_worker(case: Case) -> None:
    # B and C each take 6 new children at most; 7 new children arrive, none of whom had a
    # worker, so no excess is ever needed. A forged plan gives B a seventh and declares the
    # excess: the check finds the least excess itself (0 here) and fails the plan, naming B.
    import json

    from rebalancer.check.independent import check_plan
    from rebalancer.config import load_config
    from rebalancer.io.inputs import load_inputs

    r = case.run([worker("B"), worker("C")], [child(f"U{i}") for i in range(7)])
    plan = r.plan.copy()
    on_c = plan.index[plan["to_worker_id"] == "C"]
    plan.loc[on_c, "to_worker_id"] = "B"  # every new child to B: 7 above a cap of 6
    summary = json.loads((case.root / "out" / "summary.json").read_text())
    summary["max_new_yielded"] = {"excess_total": 1, "workers": {"B": 1}}
    cfg = load_config(case.root / "config.toml")
    inputs = load_inputs(case.root / "workers.csv", case.root / "children.csv", None, None,
                         cfg, case.root / "config.toml")
    report = check_plan(inputs, cfg, plan, summary, None)
    least = [v for v in report.violations if "least that places every child" in v.message]
    assert len(least) == 1 and least[0].rule == "MAX_NEW" and "B" in least[0].worker_ids
    assert "1 new child(ren) above the caps where 0 is the least" in least[0].message
    # a run that says it was interrupted may have stopped before it found the least: said,
    # not failed (an interrupted plan is the best found so far)
    summary["solver"]["termination"] = "interrupted"
    cut = check_plan(inputs, cfg, plan, summary, None)
    assert not [v for v in cut.violations if "least that places" in v.message]
    assert any("the run says it was interrupted" in u for u in cut.unchecked)


def test_an_excess_the_caps_need_passes(case: Case) -> None:
    # A leaves with 4 children; B, the only other worker, takes 2 new at most: placing all 4
    # needs an excess of 2, which the tool's plan declares and the check's own model agrees
    kids = [child(f"K{i}", current="A") for i in range(4)]
    r = case.run([worker("A", leaving_on="2026-12-02"), worker("B", max_new_cases=2)], kids)
    assert r.summary.max_new_yielded.excess_total == 2  # Case.run has already checked it
