"""summary.json as types: built once by the pipeline, read back by every command.

Frozen dataclasses, so a step that adds to a summary (the previous plan, a review, the output
files) makes a new one with `dataclasses.replace`; `to_json` gives the file's shape (the data
contract's names, in a fixed order) and `from_json` reads it back, so readers use attributes
that mypy follows instead of string keys. The independent check reads summary.json as plain
JSON on purpose: it trusts nothing this module builds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

from rebalancer.model.kpi import KPI_NAMES
from solvers import Termination


class _Flat:
    """A dataclass of plain fields: to and from JSON field by field; a field the JSON lacks
    (a plan folder written before it existed) reads as None."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Any:
        return cls(**{f.name: d.get(f.name) for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class KpiValues(_Flat):
    """One side (before or after) of the headline figures; field order is `kpi.KPIS` order."""

    unallocated: int
    workers_over_capacity: int
    workers_above_110pct: int
    workers_above_125pct: int
    asye_over_capacity: int  # newly qualified workers over capacity: flagged, they need it least
    total_overload_points: float
    peak_utilisation: float
    families_split: int
    mean_travel: float | None
    children_2plus_changes: int
    moves: int
    moves_forced: int
    moves_discretionary: int
    allocations: int

    def value(self, name: str) -> Any:
        """A KPI by its declared name (renderers loop over `kpi.KPIS`)."""
        if name not in KPI_NAMES:
            raise KeyError(name)
        return getattr(self, name)



@dataclass(frozen=True)
class Kpis:
    before: KpiValues
    after: KpiValues

    def to_json(self) -> dict[str, Any]:
        return {"before": self.before.to_json(), "after": self.after.to_json()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Kpis:
        return cls(KpiValues.from_json(d["before"]), KpiValues.from_json(d["after"]))


@dataclass(frozen=True)
class SolverReport(_Flat):
    """How the plan was found; objective values in the contract's units, never solver units."""

    source: str
    termination: str  # why the solve stopped: solvers.Termination's value
    candidate_pairs: int
    decision_units: int
    lp_bound: float | None
    stage_objectives: dict[str, float]
    stage_seconds: dict[str, float]
    excess_cap: int
    work: float = 0.0  # the budget the stages' shares came from (--work, or from the limit)
    # what the budgeted stages used of it, counted deterministically (CP-SAT's deterministic
    # time, LNS's counted steps): the same for the same inputs, seed, threads and work
    work_used: float = 0.0
    timings: dict[str, float] | None = None  # load, build and solve seconds of the run

    @property
    def interrupted(self) -> bool:
        """Ctrl-C, SIGTERM or a stop ended the solve: the plan is the best found so far."""
        return self.termination == Termination.INTERRUPTED.value

    @property
    def reproducible(self) -> bool:
        """The same inputs, seed, threads and work give this plan again."""
        return self.termination in (Termination.FINISHED.value, Termination.WORK_SPENT.value)

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if self.timings is None:
            d.pop("timings")
        # readers of summary.json (scripts, the independent check) get the two flags too
        return {"source": d.pop("source"), "termination": d.pop("termination"),
                "interrupted": self.interrupted, "reproducible": self.reproducible, **d}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SolverReport:
        d = dict(d)
        if d.get("termination") is None:  # a folder that recorded only the two flags
            d["termination"] = (Termination.INTERRUPTED if d.get("interrupted") else
                                Termination.WORK_SPENT if d.get("reproducible") else
                                Termination.DEADLINE).value
        report: SolverReport = super().from_json(d)
        return report


@dataclass(frozen=True)
class OutputFile:
    """A file of the plan folder's set: readers use exactly these, hashes checked."""

    file: str
    sha256: str


@dataclass(frozen=True)
class Summary:
    tool: str
    version: str
    inputs: dict[str, dict[str, str]]  # name -> path and sha256
    config: dict[str, Any]  # the effective configuration, the TOML's shape
    status: str
    objective: float
    best_bound: float | None
    gap: float | None
    wall_time: float
    solver: SolverReport
    objective_terms: dict[str, float]
    kpis: Kpis
    conflicts: list[dict[str, Any]]
    max_new_yielded: dict[str, Any]  # excess_total, and the excess per worker
    shortfall: dict[str, Any]  # before solving and after the plan
    no_eligible_worker: dict[str, int]  # by the rule that emptied a child's list
    previous_plan: dict[str, Any] | None = None  # a re-plan's reviewed plan, or --previous
    review: dict[str, Any] | None = None  # a re-plan's decisions: counts and changed children
    what_ifs: dict[str, Any] | None = None  # staffing what-ifs the plan was made with
    audit: dict[str, Any] | None = None  # the trail and the entries this run wrote (seq, hash)
    outputs: dict[str, OutputFile] | None = None  # the set, once written

    @property
    def plan_file(self) -> OutputFile:
        """The plan table of a written folder."""
        if self.outputs is None or "plan" not in self.outputs:
            raise KeyError("plan")
        return self.outputs["plan"]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None and f.name in ("previous_plan", "review", "what_ifs", "audit",
                                        "outputs"):
                continue
            if f.name == "outputs":
                v = {k: dataclasses.asdict(o) for k, o in v.items()}
            elif hasattr(v, "to_json"):
                v = v.to_json()
            out[f.name] = v
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Summary:
        """A summary.json as read from a plan folder (already known to be a JSON object)."""
        values: dict[str, Any] = {f.name: d.get(f.name) for f in fields(cls)}
        values["solver"] = SolverReport.from_json(d.get("solver") or {})
        values["kpis"] = Kpis.from_json(d["kpis"])
        if isinstance(d.get("outputs"), dict):
            values["outputs"] = {k: OutputFile(str(v["file"]), str(v["sha256"]))
                                 for k, v in d["outputs"].items()}
        return cls(**values)
