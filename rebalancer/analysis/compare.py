"""Comparing two plans: KPI deltas and every child whose outcome differs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rebalancer.analysis.scenarios import KPI_COLUMNS
from rebalancer.model.summary import Summary, lookahead_values


def protected(a: Path, b: Path) -> set[Path]:
    """The files of both plan folders and their inputs: compare --out writes none of them."""
    from rebalancer.planfolder import read_plan_folder

    return read_plan_folder(a).protected() | read_plan_folder(b).protected()


def compare(a: Path, b: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """KPI deltas side by side, every child whose outcome differs (with both explanations), and
    warnings when the two plans were not made from the same county."""
    from rebalancer.planfolder import read_plan_folder

    pa, pb = read_plan_folder(a), read_plan_folder(b)
    sa, sb = pa.summary, pb.summary
    rows: list[tuple[str, Any, Any]] = [("objective", sa.objective, sb.objective)]
    rows += [(k, sa.kpis.after.value(k), sb.kpis.after.value(k)) for k in KPI_COLUMNS]
    la, lb = lookahead_values(sa.kpis), lookahead_values(sb.kpis)
    rows += [(k, la[k], lb[k]) for k in la if la[k] is not None or lb[k] is not None]
    kpis = pd.DataFrame(rows, columns=["kpi", "a", "b"], dtype=object)  # counts stay ints
    kpis["delta"] = [None if x is None or y is None else y - x
                     for x, y in zip(kpis["a"], kpis["b"], strict=True)]
    m = pa.plan.merge(pb.plan, on="child_id", how="outer", suffixes=("_a", "_b"),
                      indicator=True)
    # a child in one plan only is said so, never shown as a missing value
    m.loc[m["_merge"] == "right_only", "to_worker_id_a"] = "(not in A)"
    m.loc[m["_merge"] == "left_only", "to_worker_id_b"] = "(not in B)"
    m = m.drop(columns="_merge").astype(object).where(m.notna(), "")
    diff = m[m["to_worker_id_a"] != m["to_worker_id_b"]]
    cols = ["child_id", "from_worker_id_a", "to_worker_id_a", "to_worker_id_b", "reasons_a",
            "reasons_b", "explanation_a", "explanation_b"]
    return kpis, diff.reindex(columns=cols).reset_index(drop=True), different_inputs(sa, sb)


def different_inputs(a: Summary, b: Summary) -> list[str]:
    """A difference between two plans should come from the scenario: say when the inputs (the
    county itself) differ, by their sha256, or when the plan dates do."""
    out = []
    for name in sorted(set(a.inputs) | set(b.inputs)):
        ha = a.inputs[name].sha256 if name in a.inputs else ""
        hb = b.inputs[name].sha256 if name in b.inputs else ""
        if name in ("workers", "children", "decisions", "travel") and ha != hb:
            out.append(f"the {name} inputs differ (A {ha[:12] or 'none'}…, B {hb[:12] or 'none'}…):"
                       " these are plans of different data, not only different scenarios")
    if a.config.plan_date != b.config.plan_date:
        out.append(f"the plan dates differ (A {a.config.plan_date}, B {b.config.plan_date})")
    return out


def compare_and_write(a: Path, b: Path, out: Path | None
                      ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """`rebalancer compare`: `compare`, and the differing children written to `out` as CSV
    (never over either plan's files or inputs: OutputError)."""
    from rebalancer.io.outputs import claim, refuse_overwrite, write_table

    kpis, diff, warnings = compare(a, b)
    if out is not None:
        refuse_overwrite(out, protected(a, b))
        claim(out, False, "a file")
        write_table(diff, out, "csv")
    return kpis, diff, warnings
