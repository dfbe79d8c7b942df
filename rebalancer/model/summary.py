"""summary.json as types: built once by the pipeline, read back by every command.

Frozen dataclasses all the way down, so a step that adds to a summary (the previous plan, a
review, the output files) makes a new one with `dataclasses.replace`, and readers use attributes
that mypy follows instead of string keys. `to_json` gives the file's shape (the data contract's
names, fields in declaration order) and `from_json` reads it back; both go through one cattrs
converter, so each nested type is declared once and never parsed by hand. The independent check
reads summary.json as plain JSON on purpose: it trusts nothing this module builds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cattrs
import cattrs.gen

from rebalancer.config import Config, config_from_tree
from rebalancer.io.whatifs import WhatIfs
from rebalancer.model.build import Conflict
from rebalancer.model.kpi import KPI_NAMES
from solvers import Termination


@dataclass(frozen=True)
class KpiValues:
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
    # with the look-ahead: every change in the plan and its schedule, and each week's figures
    changes_lookahead: ChangeCounts | None = None
    weeks: list[WeekKpi] | None = None


@dataclass(frozen=True)
class ChangeCounts:
    total: int
    forced: int
    discretionary: int


LOOKAHEAD_COLUMNS = ("changes_lookahead", "changes_lookahead_forced",
                     "changes_lookahead_discretionary")


def lookahead_values(kpis: Kpis) -> dict[str, int | None]:
    """The changes over the look-ahead as flat columns (a sweep's, frontier's or compare's
    row); None for a plan of the plan date alone."""
    c = kpis.changes_lookahead
    values = (None, None, None) if c is None else (c.total, c.forced, c.discretionary)
    return dict(zip(LOOKAHEAD_COLUMNS, values, strict=True))


@dataclass(frozen=True)
class WeekKpi:
    week: int
    starts_on: str
    unallocated: int
    workers_over_capacity: int
    overload_points: float
    peak_utilisation: float


@dataclass(frozen=True)
class Allocation:
    """What `allocate` placed: the children it gave a worker (or could not), those it handed
    on in a later week, the options offered per child, and the plan in force it kept."""

    allocated: list[str]
    unallocated: list[str]
    handed_over: list[str]
    top: int
    plan_in_force: str | None = None


@dataclass(frozen=True)
class SolverReport:
    """How the plan was found; objective values in the contract's units, never solver units."""

    source: str
    termination: Termination  # why the solve stopped
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
    weeks: LaterWeeks | None = None  # with the look-ahead: how the weeks after week 0 were placed
    # week 0's objective as its search scored it (the single-date objective, which lp_bound
    # bounds); with the look-ahead the plan's `objective` is over the weeks
    week0_objective: float | None = None

    @property
    def interrupted(self) -> bool:
        """Ctrl-C, SIGTERM or a stop ended the solve: the plan is the best found so far."""
        return self.termination is Termination.INTERRUPTED or (
            self.weeks is not None and self.weeks.termination is Termination.INTERRUPTED)

    @property
    def reproducible(self) -> bool:
        """The same inputs, seed, threads and work give this plan again."""
        return self.termination.reproducible and (
            self.weeks is None or self.weeks.termination.reproducible)


@dataclass(frozen=True)
class LaterWeeks:
    """The weeks after week 0: how many groups of children were placed, by what ("search":
    CP-SAT on the options model; "rule": the handover rule, where the search found nothing
    better within its work; "none": nothing to place), why the search stopped, and the work it
    used."""

    units: int
    placed_by: str
    termination: Termination
    work_used: float


@dataclass(frozen=True)
class DemandRow:
    """Demand against the capacity of staying workers, in one locality and grade band."""

    locality: str
    grade_band: str  # "any", "sw+", "senior+", "advanced"
    demand_points: float
    capacity_points: float
    ratio: float | None  # None: no staff in the band


@dataclass(frozen=True)
class ShortfallBefore:
    """What is wrong with the situation before any plan: the facts a lead should see first."""

    over_demand: list[DemandRow]
    demand_and_capacity: list[DemandRow]
    families_with_no_common_worker: list[str]
    pins_on_leaving_or_absent_workers: list[str]
    decisions_contradicting_rules: list[Conflict]


@dataclass(frozen=True)
class NeedRow:
    """Extra FTE of one grade in one locality that would absorb what the plan could not."""

    locality: str
    grade: str
    fte: float
    overload_points: float
    unallocated_points: float
    skills: list[str]  # skills no worker in the area has, which new workers need


@dataclass(frozen=True)
class ShortfallAfter:
    total_fte: float
    by_locality_and_grade: list[NeedRow]


@dataclass(frozen=True)
class Shortfall:
    before: ShortfallBefore
    after: ShortfallAfter


@dataclass(frozen=True)
class MaxNewYielded:
    """Where a MAX_NEW cap was exceeded (it yields to ONE_WORKER), by how much, declared."""

    excess_total: int
    workers: dict[str, int]


@dataclass(frozen=True)
class SecondChanges:
    """Children for whom this plan's change of worker is their second (or more) this year, by
    why they change: their worker cannot keep them (forced), or for balance (discretionary)."""

    forced: int
    discretionary: int


@dataclass(frozen=True)
class PreviousPlan:
    """The plan a run stayed close to (a re-plan's reviewed plan, or --previous)."""

    folder: str
    plan_file: str
    plan_sha256: str
    changed: int | None = None  # children whose outcome differs from it


@dataclass(frozen=True)
class ReviewCounts:
    accepted: int
    rejected: int
    undecided: int


@dataclass(frozen=True)
class ReviewWorkbook:
    """A returned workbook a re-plan read."""

    file: str
    team: str
    reviewer: str
    sha256: str


@dataclass(frozen=True)
class Disagreement:
    """Two teams' workbooks that decided one child differently, and what was done."""

    child_id: str
    outcome: str
    accepted_by: list[str]
    rejected_by: list[str]


@dataclass(frozen=True)
class ChangedChild:
    """A child whose outcome differs from the reviewed plan though nobody rejected it."""

    child_id: str
    reviewed_worker_id: str
    worker_id: str
    reasons: str
    why: str


@dataclass(frozen=True)
class ReviewReport:
    """A re-plan's decisions: who decided what, the counts, and every other child changed."""

    workbooks: list[ReviewWorkbook]
    reviewer: str
    plan_sha256: str
    by_team: dict[str, ReviewCounts]
    disagreements: list[Disagreement]
    counts: ReviewCounts
    changed_beyond_rejected: int
    changed: list[ChangedChild]
    skipped: list[str] = field(default_factory=list)  # files passed over, and why
    no_effect: list[str] = field(default_factory=list)  # rejects that change nothing
    # the decisions on changes the reviewed plan scheduled for later weeks (None: it had none)
    scheduled: ReviewCounts | None = None


@dataclass(frozen=True)
class AuditLink:
    seq: int
    hash: str


@dataclass(frozen=True)
class AuditRecord:
    """The trail a run wrote to and the entries it wrote."""

    db: str
    keyed: bool
    entries: list[AuditLink]


@dataclass(frozen=True)
class OutputFile:
    """A file of the plan folder's set: readers use exactly these, hashes checked."""

    file: str
    sha256: str


@dataclass(frozen=True)
class InputFile:
    path: str
    sha256: str


@dataclass(frozen=True)
class Summary:
    tool: str
    version: str
    inputs: dict[str, InputFile]
    config: Config  # the effective configuration (written in the TOML's shape)
    status: str
    objective: float
    best_bound: float | None
    gap: float | None
    wall_time: float
    solver: SolverReport
    objective_terms: dict[str, float]
    kpis: Kpis
    conflicts: list[Conflict]
    max_new_yielded: MaxNewYielded
    shortfall: Shortfall
    no_eligible_worker: dict[str, int]  # by the rule that emptied a child's list
    second_changes: SecondChanges | None = None
    report_charts: bool | None = None  # False: report.html was written without its charts
    previous_plan: PreviousPlan | None = None
    review: ReviewReport | None = None
    what_ifs: WhatIfs | None = None  # staffing what-ifs the plan was made with
    audit: AuditRecord | None = None
    outputs: dict[str, OutputFile] | None = None  # the set, once written
    # what the inputs asked for that looks like a mistake, applied as given (IDs, never text)
    input_warnings: list[str] | None = None
    kind: str = "rebalance"  # "rebalance" or "allocate"
    allocation: Allocation | None = None

    @property
    def plan_file(self) -> OutputFile:
        """The plan table of a written folder."""
        if self.outputs is None or "plan" not in self.outputs:
            raise KeyError("plan")
        return self.outputs["plan"]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = _converter.unstructure(self)
        return {k: v for k, v in out.items() if v is not None or k not in OPTIONAL}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Summary:
        """A summary.json as read from a plan folder (already known to be a JSON object)."""
        summary: Summary = _converter.structure(d, cls)
        return summary


OPTIONAL = ("second_changes", "report_charts", "previous_plan", "review", "what_ifs", "audit",
            "outputs", "input_warnings", "allocation")


def _converter_for_summaries() -> cattrs.Converter:
    """One converter: dataclasses field by field; the configuration, what-ifs and the solver's
    report through their own shapes."""
    c = cattrs.Converter()
    c.register_unstructure_hook(Config, lambda cfg: cfg.to_dict())
    c.register_structure_hook(
        Config, lambda d, _: config_from_tree(d, None, "summary.json (config)"))
    c.register_unstructure_hook(WhatIfs, lambda w: w.to_json())
    c.register_structure_hook(WhatIfs, lambda d, _: WhatIfs.from_json(d))
    report_out = cattrs.gen.make_dict_unstructure_fn(SolverReport, c)

    def unstructure_report(r: SolverReport) -> dict[str, Any]:
        d = report_out(r)
        if r.timings is None:
            d.pop("timings")
        # readers of summary.json (scripts, the independent check) get the two flags too
        return {"source": d.pop("source"), "termination": d.pop("termination"),
                "interrupted": r.interrupted, "reproducible": r.reproducible, **d}

    report_in = cattrs.gen.make_dict_structure_fn(SolverReport, c)

    def structure_report(d: dict[str, Any], _: Any) -> SolverReport:
        flags = {k: d.get(k) for k in ("interrupted", "reproducible")}
        d = {k: v for k, v in d.items() if k not in flags}
        if d.get("termination") is None:  # a folder that recorded only the two flags
            d["termination"] = (Termination.INTERRUPTED if flags["interrupted"] else
                                Termination.WORK_SPENT if flags["reproducible"] else
                                Termination.DEADLINE).value
        return report_in(d, SolverReport)

    kpis_out = cattrs.gen.make_dict_unstructure_fn(Kpis, c)

    def unstructure_kpis(k: Kpis) -> dict[str, Any]:
        return {name: v for name, v in kpis_out(k).items() if v is not None}

    c.register_unstructure_hook(Kpis, unstructure_kpis)
    c.register_unstructure_hook(SolverReport, unstructure_report)
    c.register_structure_hook(SolverReport, structure_report)
    return c


_converter = _converter_for_summaries()


def to_plain(value: Any) -> Any:
    """Any summary part in its JSON shape (for the audit payloads and the pages)."""
    return _converter.unstructure(value)
