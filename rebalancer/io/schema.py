"""The input tables of the data contract, declared once: names, kinds, ranges and examples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rebalancer.config import CASE_TYPES, GRADES, PRIORITIES

Kind = Literal["id", "text", "enum", "number", "integer", "bool", "date", "idlist", "taglist"]

MAX_ID_LENGTH = 64
MAX_TEXT_LENGTH = 200
MAX_CHANGES_12M = 366  # changes of worker in a year: at most one a day


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    example: str = ""

    def range_text(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return " and ".join(parts)


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: tuple[str, ...]  # the columns that name a row in messages
    columns: tuple[Column, ...]
    max_rows: int
    may_be_empty: bool = False

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


WORKERS = TableSpec(
    name="workers",
    key=("worker_id",),
    max_rows=20_000,
    columns=(
        Column("worker_id", "id", required=True, example="W0012"),
        Column("team", "text", required=True, example="Northampton Safeguarding 2"),
        Column("locality", "text", required=True, example="Northampton"),
        Column("grade", "enum", required=True, choices=GRADES),
        Column("fte", "number", required=True, low=0, high=1, low_open=True, example="0.8"),
        Column("agency", "bool"),
        Column("capacity_points", "number", low=0, low_open=True, high=1000, example="70"),
        Column("reduction_pct", "number", low=0, high=100, high_open=True, example="20"),
        Column("available", "bool"),
        Column("leaving_on", "date", example="2026-12-05"),
        Column("starts_on", "date", example="2027-01-11"),
        Column("away_from", "date", example="2027-02-01"),
        Column("away_until", "date", example="2027-06-30"),
        Column("base_lat", "number", low=-90, high=90, example="52.24"),
        Column("base_lon", "number", low=-180, high=180, example="-0.90"),
        Column("skills", "taglist", example="disability;bsl"),
        Column("max_new_cases", "integer", low=0, high=10000, example="6"),
    ),
)

CHILDREN = TableSpec(
    name="children",
    key=("child_id",),
    max_rows=200_000,
    columns=(
        Column("child_id", "id", required=True, example="C000123"),
        Column("family_id", "id", example="F00042"),
        Column("case_type", "enum", required=True, choices=CASE_TYPES),
        Column("in_proceedings", "bool"),
        Column("locality", "text", required=True, example="Northampton"),
        Column("lat", "number", low=-90, high=90, example="52.24"),
        Column("lon", "number", low=-180, high=180, example="-0.90"),
        Column("current_worker_id", "id", example="W0012"),
        Column("allocated_on", "date", example="2026-03-14"),
        Column("priority", "enum", choices=PRIORITIES),
        Column("points", "number", low=0, high=100, example="7"),
        Column("min_grade", "enum", choices=GRADES),
        Column("required_skills", "taglist", example="disability"),
        Column("excluded_worker_ids", "idlist", example="W0003;W0017"),
        Column("pinned", "bool"),
        Column("worker_changes_12m", "integer", low=0, high=MAX_CHANGES_12M, example="2"),
    ),
)

DECISIONS = TableSpec(
    name="decisions",
    key=("child_id",),
    max_rows=200_000,
    may_be_empty=True,
    columns=(
        Column("child_id", "id", required=True, example="C000123"),
        Column("decision", "enum", required=True, choices=("keep", "assign", "forbid")),
        Column("worker_id", "id", example="W0012"),
        Column("note", "text"),
    ),
)

TRAVEL = TableSpec(
    name="travel",
    key=("worker_id", "child_id"),
    max_rows=20_000_000,
    may_be_empty=True,
    columns=(
        Column("worker_id", "id", required=True, example="W0012"),
        Column("child_id", "id", required=True, example="C000123"),
        Column("minutes", "number", required=True, low=0, high=1440, example="25"),
    ),
)
