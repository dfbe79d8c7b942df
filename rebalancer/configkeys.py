"""Every configuration key, declared once: its name, default, what it accepts, and its meaning.

Validation (`rebalancer.config`), the shipped `data/default_config.toml` and the table in
`docs/configuration.md` all follow from `KEYS` (tests hold the two files equal to what
`default_toml()` and `docs_table()` render), in the spirit of pandera's `Field(ge=, le=)`.
A new weight is one line here, its field in `config.Weights`, and its term in
`model/terms.py` and `check/independent.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GRADES = ("asye", "sw", "senior", "advanced")
CASE_TYPES = ("assessment", "cin", "cp", "cla")
PRIORITIES = ("high", "medium", "low")
GEOGRAPHY_MODES = ("locality", "km", "minutes", "off")
MIN_GRADE_KEYS = (*CASE_TYPES, "in_proceedings")

# The largest values accepted. They keep every integer the solver builds far inside 64 bits for
# counties of up to a million children (the solver still proves it, see solvers.problem), and
# are far above any value that makes sense for a caseload.
MAX_WEIGHT = 1e6  # any one weight, in objective units
MAX_POINTS = 1000.0  # a case weight, a capacity, points_per_fte
MAX_RECENT_CAP = 366  # recent changes of worker counted at most (worker_changes_12m's own bound)
MAX_FACTOR = 100.0  # grade factors, move factors, overload band multipliers and utilisations
MAX_HORIZON_DAYS = 3660
MAX_LOOKAHEAD_DAYS = 364  # 52 weeks
MAX_TIME_LIMIT = 7 * 86400.0
MAX_SEED = 2**30  # CP-SAT takes a 32-bit seed; components add their index to it
MAX_THREADS = 64
MAX_COUNT = 10**7  # max_new_cases, max_moves, move_months_cap
MAX_TRAVEL = 1e5


@dataclass(frozen=True)
class Key:
    """One configuration key. `kind`: "number", "whole", "choice", "bool", "date", "bands"
    (overload bands) or "grades" (least grade by case kind). Numbers lie in [low, high], or
    (low, high] when `low_open`. `comment` is the shipped file's, `meaning` the docs'."""

    path: str
    default: Any
    kind: str = "number"
    low: float = 0.0
    high: float = MAX_WEIGHT
    low_open: bool = False
    choices: tuple[str, ...] = ()
    comment: str = ""
    meaning: str = ""

    @property
    def section(self) -> str:
        return self.path.split(".")[0] if "." in self.path else ""

    @property
    def table(self) -> str:
        """The inline table a leaf belongs to (`weights.unallocated`), else ''."""
        parts = self.path.split(".")
        return ".".join(parts[:2]) if len(parts) == 3 else ""

    def accepted(self) -> str:
        """What the key accepts, in words (docs and messages)."""
        if self.kind in ("number", "whole"):
            low = f"above {self.low:g}," if self.low_open else f"{_num(self.low)}"
            what = "whole, " if self.kind == "whole" else ""
            return f"{what}{low} to {_num(self.high)}"
        if self.kind == "choice":
            return ", ".join(f"`{c}`" for c in self.choices)
        return {"bool": "true/false", "date": "a date, `2026-12-01` (no quotes)",
                "grades": "a grade for any of " + ", ".join(MIN_GRADE_KEYS),
                "bands": "pairs [utilisation, multiplier], utilisations ascending in (1, 100], "
                         "multipliers rising, 1 to 100; `[]` flat"}[self.kind]


def _num(x: float) -> str:
    if x == MAX_TIME_LIMIT:
        return "a week"
    if x == MAX_SEED:
        return "2^30"
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


def _w(name: str, default: Any, meaning: str, comment: str = "", high: float = MAX_WEIGHT,
       kind: str = "number") -> Key:
    return Key(f"weights.{name}", default, kind, high=high, comment=comment, meaning=meaning)


KEYS: tuple[Key, ...] = (
    Key("plan_date", "today", "date", meaning="the day the plan is for; `import-ssd` writes it "
        "beside the tables"),
    Key("horizon_days", 14, "whole", high=MAX_HORIZON_DAYS,
        meaning="a worker leaving within this many days holds no children after the plan"),
    Key("lookahead_days", 91, "whole", high=MAX_LOOKAHEAD_DAYS,
        comment="0: a plan for the plan date alone",
        meaning="the weeks a plan looks ahead over (known departures, absences, starters)"),
    Key("points.assessment", 4, high=MAX_POINTS, meaning="case weight"),
    Key("points.cin", 5, high=MAX_POINTS, meaning="case weight"),
    Key("points.cp", 7, high=MAX_POINTS, meaning="case weight"),
    Key("points.cla", 6, high=MAX_POINTS, meaning="case weight"),
    Key("points.in_proceedings", 3, high=MAX_POINTS, comment="added",
        meaning="added for a child in proceedings"),
    Key("capacity.points_per_fte", 85, high=MAX_POINTS, low_open=True,
        meaning="100 less 15 held back for supervision, training and duty"),
    *(Key(f"capacity.grade_factor.{g}", f, high=MAX_FACTOR, low_open=True,
          meaning="a grade's share of points_per_fte (capacity = points_per_fte × this × fte)")
      for g, f in zip(GRADES, (0.9, 1.0, 1.0, 0.8), strict=True)),
    Key("rules.min_grade", {"cp": "sw", "in_proceedings": "senior"}, "grades",
        meaning="the least grade a case needs"),
    Key("rules.geography", "locality", "choice", choices=GEOGRAPHY_MODES,
        comment='"locality", "km", "minutes" or "off"',
        meaning="where a worker may take a child"),
    Key("rules.max_travel", 0, high=MAX_TRAVEL, comment='the limit in the "km" and "minutes" '
        "modes", meaning="the limit in the `km` and `minutes` modes"),
    Key("rules.max_new_cases", 6, "whole", high=MAX_COUNT,
        meaning="new children per worker per plan"),
    Key("rules.max_moves", 0, "whole", high=MAX_COUNT, comment="0: no budget",
        meaning="discretionary moves; 0 means no budget"),
    Key("rules.keep_families", True, "bool", meaning="FAMILY as a hard rule"),
    *(_w(f"unallocated.{p}", d, "per child left without a worker, by priority")
      for p, d in zip(PRIORITIES, (20000, 14000, 10000), strict=True)),
    _w("overload", 400, "per point above capacity", "per point above 100% of capacity"),
    _w("overload_bands", [[1.10, 1.5], [1.25, 2.0]], "dearer overload as utilisation climbs",
       "[utilisation, multiplier of overload above it]; [] = flat", kind="bands"),
    _w("move", 300, "per discretionary move"),
    _w("move_per_month", 10, "per month with the current worker"),
    _w("move_months_cap", 24, "months counted at most", high=1200),
    _w("move_factor_proceedings", 2, "× for a child in proceedings", high=MAX_FACTOR),
    _w("move_factor_cla", 2, "× for a child looked after", high=MAX_FACTOR),
    _w("move_factor_recent_change", 0.5, "× (1 + this × changes) for a child with recent "
       "changes of worker; 0 turns it off", "per change of worker in the last 12 months "
       "(worker_changes_12m)", high=MAX_FACTOR),
    _w("recent_changes_cap", 3, "changes counted at most", "changes counted at most",
       high=MAX_RECENT_CAP, kind="whole"),
    _w("peak", 50, "per percentage point of the highest utilisation"),
    _w("travel_km", 2, "per km"),
    _w("travel_minute", 1, "per minute (travel table)"),
    _w("split_family", 500, "per family split"),
    _w("previous_change", 2000, "per child whose outcome differs from a previous plan "
       "(`replan`, `--previous`)", "per child whose outcome differs from a previous plan "
       "(replan, --previous)"),
    Key("solver.time_limit", 60, high=MAX_TIME_LIMIT, low_open=True,
        meaning="seconds for the whole run: from the process's start (the command line) to its "
                "exit with every output written (`--time-limit`)"),
    Key("solver.seed", 0, "whole", high=MAX_SEED, meaning="the search's random seed "
        "(`--seed`)"),
    Key("solver.threads", 2, "whole", low=1, high=MAX_THREADS, meaning="solver threads "
        "(`--threads`)"),
    Key("solver.work", 0, high=MAX_TIME_LIMIT, comment="budgets in deterministic work (about "
        "seconds of a 2-core machine); 0: from time_limit",
        meaning="the budgets in deterministic work (about seconds of a 2-core machine), apart "
                "from the clock: the same inputs, seed, threads and work give the same plan "
                "anywhere, and `time_limit` only guards; 0: from `time_limit` (`--work`)"),
)
KEY_BY_PATH = {k.path: k for k in KEYS}
SECTIONS = ("points", "capacity", "rules", "weights", "solver")
SECTION_COMMENTS = {"points": "case weight"}


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


def _line(text: str, comment: str) -> str:
    return f"{text:<31} # {comment}" if comment else text


def default_toml() -> str:
    """The shipped data/default_config.toml, rendered from KEYS."""
    lines = ["# Default configuration of caseload-rebalancer (generated from",
             "# rebalancer/configkeys.py; see docs/configuration.md for every key).",
             "# Every key may be overridden by a user's --config file; flags override both.",
             "# plan_date defaults to today when not set."]
    for k in KEYS:
        if not k.section and k.kind != "date":
            lines.append(_line(f"{k.path} = {_toml_value(k.default)}", k.comment))
    for section in SECTIONS:
        lines += ["", _line(f"[{section}]", SECTION_COMMENTS.get(section, ""))]
        done: set[str] = set()
        for k in KEYS:
            if k.section != section or k.table in done:
                continue
            if k.table:
                done.add(k.table)
                leaves = {x.path.split(".")[-1]: x.default for x in KEYS if x.table == k.table}
                lines.append(_line(f"{k.table.split('.')[1]} = {_toml_value(leaves)}",
                                   k.comment))
            else:
                name = k.path.split(".", 1)[1]
                lines.append(_line(f"{name} = {_toml_value(k.default)}", k.comment))
    return "\n".join(lines) + "\n"


def docs_table() -> str:
    """The key table of docs/configuration.md, rendered from KEYS."""
    rows = ["| key | default | accepted | meaning |", "|---|---|---|---|"]
    done: set[str] = set()
    for k in KEYS:
        if k.table in done:
            continue
        key, default = k.path, _doc_value(k.default)
        if k.table:
            done.add(k.table)
            leaves = [x for x in KEYS if x.table == k.table]
            key = k.table + ".{" + ",".join(x.path.split(".")[-1] for x in leaves) + "}"
            default = ", ".join(_doc_value(x.default) for x in leaves)
        rows.append(f"| `{key}` | {default} | {k.accepted()} | {k.meaning} |")
    return "\n".join(rows) + "\n"


def _doc_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v if v == "today" else f"`{v}`"
    if isinstance(v, dict):
        return ", ".join(f"{k} `{x}`" for k, x in v.items())
    if isinstance(v, list):
        return f"`{_toml_value(v)}`"
    return f"{v:,}" if isinstance(v, int) else repr(v)
