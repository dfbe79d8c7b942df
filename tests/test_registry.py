"""The registries and the independent check agree: the same rule codes in the same order, the
same cost terms, and each term priced the same way everywhere it is used."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rebalancer.check.independent import _World
from rebalancer.config import load_config
from rebalancer.io.inputs import load_inputs
from rebalancer.model import terms
from rebalancer.model.rules import RULE_ORDER
from tests.conftest import Case, child, filler, worker


def test_check_reports_exactly_the_registered_pair_rules_in_order(tmp_path: Path) -> None:
    # One pair that breaks every pairwise rule at once: another locality, leaving, asye for a cp
    # case, no bsl, excluded, and forbidden by a decision.
    (tmp_path / "w.csv").write_text(
        "worker_id,team,locality,grade,fte,leaving_on\nW,T,South,asye,1,2026-12-02\n"
        "V,T,North,sw,1,\n")
    (tmp_path / "c.csv").write_text(
        "child_id,case_type,locality,required_skills,excluded_worker_ids\nK,cp,North,bsl,W\n")
    (tmp_path / "d.csv").write_text("child_id,decision,worker_id,note\nK,forbid,W,\n")
    cfg_path = tmp_path / "c.toml"
    cfg_path.write_text("plan_date = 2026-12-01\n")
    cfg = load_config(cfg_path)
    inputs = load_inputs(tmp_path / "w.csv", tmp_path / "c.csv", tmp_path / "d.csv", None, cfg,
                         cfg_path)
    assert tuple(_World(inputs, cfg).broken("K", "W")) == RULE_ORDER


def test_objective_terms_are_the_registry_and_match_the_check(case: Case) -> None:
    # Case.run checks every plan independently; here the term names must be the registry's too,
    # and a replan with a previous plan adds the registry's previous_plan term.
    kids = [child("P", current="A", allocated_on="2026-06-01"), *filler("A", 84)]
    r = case.run([worker("A"), worker("B", base_lat=52.2, base_lon=-0.9)], kids)
    names = [t.name for t in terms.TERMS if not t.needs_previous]
    assert list(r.summary.objective_terms) == names
    assert sum(r.summary.objective_terms.values()) == pytest.approx(r.summary.objective,
                                                                       rel=1e-6)


def test_the_skip_is_priced_as_the_pair_with_no_worker(case: Case) -> None:
    # A child left unallocated costs what the registry's per-pair terms say of (child, -1):
    # its priority's weight plus its move (it had a worker who leaves, and nobody covers it).
    r = case.run([worker("A", leaving_on="2026-12-05"), worker("S", locality="South")],
                 [child("K", current="A", allocated_on="2026-06-01", priority="high")])
    cm = r.model
    p = cm.pairs_at(np.array([0]), np.array([terms.NO_WORKER]))
    costs = {t.name: float(t.pair(p, cm.cfg.weights)[0]) for t in terms.PAIR_TERMS
             if t.pair is not None}
    assert costs["unallocated"] == 20000
    assert costs["moves"] == pytest.approx(10 * 183 / 30.4375, rel=1e-6)  # forced: months only
    assert costs["travel"] == 0 and costs["previous_plan"] == 0
    summary = json.loads((case.root / "out" / "summary.json").read_text())
    assert summary["objective_terms"]["unallocated"] == 20000
    assert summary["objective_terms"]["moves"] == pytest.approx(costs["moves"], rel=1e-6)


def test_every_weight_a_term_names_is_configurable() -> None:
    cfg = load_config(None)
    declared = {k for t in terms.TERMS for k in t.weights}
    assert declared <= set(cfg.to_dict()["weights"])
    assert len({t.name for t in terms.TERMS}) == len(terms.TERMS)


def test_the_summary_is_typed_and_round_trips(case: Case) -> None:
    # summary.json is the typed Summary's to_json, field for field, and reads back equal; the
    # KPI fields are the KPIs declared once, in their order.
    import dataclasses

    from rebalancer.model.kpi import KPI_NAMES
    from rebalancer.model.summary import KpiValues, Summary

    assert [f.name for f in dataclasses.fields(KpiValues)] == KPI_NAMES
    r = case.run([worker("A"), worker("B")], [child("K"), *filler("A", 84)])
    written = json.loads((case.root / "out" / "summary.json").read_text())
    assert written == json.loads(json.dumps(r.summary.to_json()))
    assert Summary.from_json(written) == r.summary
    assert list(written["kpis"]["after"]) == KPI_NAMES
    assert r.summary.plan_file.file == "plan.csv"
