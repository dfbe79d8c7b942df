"""Property: for generated instances of every scenario, rule setting and look-ahead, every plan
obeys every hard rule in every week (by the independent checker, which reads the schedule) and
its summary matches a recomputation."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rebalancer.check.independent import check_plan
from rebalancer.config import load_config
from rebalancer.io.inputs import load_inputs
from rebalancer.pipeline import InputPaths, rebalance
from rebalancer.synth.county import generate, write_scenario


@settings(max_examples=14, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    children=st.integers(5, 90),
    workers=st.integers(1, 12),
    seed=st.integers(0, 10_000),
    scenario=st.sampled_from(["crisis", "steady", "leavers", "edge"]),
    geography=st.sampled_from(["locality", "off", "km"]),
    max_moves=st.sampled_from([0, 0, 1, 5]),
    max_new=st.integers(0, 6),
    keep_families=st.booleans(),
    lookahead=st.sampled_from([0, 28, 91]),
)
# found by CI: with keep_families = false, four siblings of a leaver were handed over together
# to one worker in week 10, three over its max_new_cases of 1, while others had room
@example(children=25, workers=10, seed=0, scenario="crisis", geography="locality", max_moves=0,
         max_new=1, keep_families=False, lookahead=91)
def test_every_plan_obeys_every_hard_rule(children: int, workers: int, seed: int, scenario: str,
                                          geography: str, max_moves: int, max_new: int,
                                          keep_families: bool, lookahead: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = write_scenario(generate(children, workers, seed=seed, scenario=scenario),
                               root / "in", "csv")
        cfg_file = root / "config.toml"
        cfg_file.write_text(
            f"plan_date = 2026-12-01\nlookahead_days = {lookahead}\n[rules]\n"
            f'geography = "{geography}"\nmax_travel = 15\nmax_moves = {max_moves}\n'
            f"max_new_cases = {max_new}\nkeep_families = {str(keep_families).lower()}\n"
            "[solver]\ntime_limit = 3\n")
        cfg = load_config(cfg_file)
        rebalance(InputPaths(paths[0], paths[1], config=cfg_file), cfg, root / "out", "csv")
        summary = json.loads((root / "out" / "summary.json").read_text())
        from rebalancer.io.outputs import read_table_file

        plan = read_table_file(root / "out" / "plan.csv")
        sched = root / "out" / "schedule.csv"
        assert sched.exists() == (lookahead > 0)
        report = check_plan(load_inputs(paths[0], paths[1], None, None, cfg), cfg, plan, summary,
                            schedule=read_table_file(sched) if sched.exists() else None)
        assert report.ok, [str(v) for v in report.violations] + report.mismatches
        assert len(plan) == children
        assert set(plan["action"]) <= {"keep", "move", "allocate", "unallocated"}
        changed = plan[plan["action"] != "keep"]
        assert (changed["reasons"] != "").all()
