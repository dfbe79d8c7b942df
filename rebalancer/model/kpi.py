"""The headline figures, declared once: name (the summary's key), label and format.

`plan.kpis` computes them, `check` recomputes them; the terminal table, `report.html`, the review
workbook, sweeps, the frontier and `compare` all read their names, labels and formats from here,
so a new KPI is one line in `KPIS` plus its computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["int", "num", "pct"]


@dataclass(frozen=True)
class Kpi:
    name: str
    label: str
    kind: Kind
    after_only: bool = False  # a property of the change (moves), with no "before"

    def fmt(self, value: Any) -> str:
        """The value as a person reads it: counts with thousands, utilisation as a percentage."""
        if value is None:
            return "-"
        if self.kind == "pct":
            return f"{float(value):.0%}"
        if self.kind == "num":
            return f"{float(value):,.1f}"
        return f"{int(value):,}"


KPIS: tuple[Kpi, ...] = (
    Kpi("unallocated", "children without a worker", "int"),
    Kpi("workers_over_capacity", "workers over capacity", "int"),
    Kpi("workers_above_110pct", "… above 110% of capacity", "int"),
    Kpi("workers_above_125pct", "… above 125% of capacity", "int"),
    Kpi("asye_over_capacity", "newly qualified (ASYE) over capacity", "int"),
    Kpi("total_overload_points", "points over capacity (total)", "num"),
    Kpi("peak_utilisation", "peak utilisation", "pct"),
    Kpi("families_split", "families split between workers", "int"),
    Kpi("mean_travel", "mean travel", "num"),
    Kpi("children_2plus_changes", "children with 2+ changes of worker in 12 months", "int"),
    Kpi("moves", "changes of social worker", "int", after_only=True),
    Kpi("moves_forced", "… forced", "int", after_only=True),
    Kpi("moves_discretionary", "… discretionary", "int", after_only=True),
    Kpi("allocations", "children newly allocated", "int", after_only=True),
)
KPI_BY_NAME = {k.name: k for k in KPIS}
KPI_NAMES = [k.name for k in KPIS]
COUNT_KPIS = [k.name for k in KPIS if k.kind == "int"]
SIDE_BY_SIDE = [k for k in KPIS if not k.after_only]  # shown before and after
