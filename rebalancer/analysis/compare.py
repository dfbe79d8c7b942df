"""Comparing two plans: KPI deltas and every child whose outcome differs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rebalancer.analysis.scenarios import KPI_COLUMNS


def compare(a: Path, b: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """KPI deltas side by side, and every child whose outcome differs, with both explanations."""
    from rebalancer.io.planfolder import read_plan_folder

    pa, pb = read_plan_folder(a), read_plan_folder(b)
    sa, sb = pa.summary, pb.summary
    rows = [("objective", sa.objective, sb.objective)]
    rows += [(k, sa.kpis.after.value(k), sb.kpis.after.value(k)) for k in KPI_COLUMNS]
    kpis = pd.DataFrame(rows, columns=["kpi", "a", "b"], dtype=object)  # counts stay ints
    kpis["delta"] = [None if x is None or y is None else y - x
                     for x, y in zip(kpis["a"], kpis["b"], strict=True)]
    m = pa.plan.merge(pb.plan, on="child_id", how="outer", suffixes=("_a", "_b"))
    diff = m[m["to_worker_id_a"].fillna("") != m["to_worker_id_b"].fillna("")]
    cols = ["child_id", "from_worker_id_a", "to_worker_id_a", "to_worker_id_b", "reasons_a",
            "reasons_b", "explanation_a", "explanation_b"]
    return kpis, diff.reindex(columns=cols).reset_index(drop=True)
