"""Scenarios: grids of configuration values, named what-ifs from a TOML file, and what-ifs
applied to the inputs (virtual workers, a team removed, a leaver cancelled)."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rebalancer.config import unknown_dotted_keys
from rebalancer.io.inputs import Inputs
from rebalancer.io.whatifs import WhatIfs, read_what_ifs
from rebalancer.io.whatifs import apply_what_ifs as apply
from rebalancer.model.kpi import KPI_NAMES
from rebalancer.problems import InputRejected, Problem, shown
from rebalancer.tomlfile import read_toml

KPI_COLUMNS = KPI_NAMES
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=-]{0,63}$")
WHAT_IFS = {"overrides", "add_workers", "remove_team", "cancel_leaver"}


@dataclass(frozen=True)
class Scenario:
    """One configuration and staffing what-if to plan."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, Any] = field(default_factory=dict)
    add_workers: tuple[dict[str, Any], ...] = ()
    remove_team: tuple[str, ...] = ()
    cancel_leaver: tuple[str, ...] = ()

    @property
    def what_ifs(self) -> WhatIfs:
        return WhatIfs(self.add_workers, self.remove_team, self.cancel_leaver)


def _value(text: str) -> Any:
    """A grid value as TOML reads it: 300 -> int, 1.5 -> float, true -> bool, else text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"{item!r}: write KEY=V1,V2,... e.g. weights.move=100,300")
        key, values = item.split("=", 1)
        key = key.strip()
        if key == "solver.threads":  # each scenario runs with its Dask worker's threads
            raise ValueError("solver.threads cannot be swept: each scenario uses its Dask "
                             "worker's threads (start workers with --nthreads)")
        parsed = [_value(v.strip()) for v in values.split(",") if v.strip()]
        if not parsed:
            raise ValueError(f"{item!r} gives {key} no values: write {key}=V1,V2,...")
        # one scenario per value: 100, 1e2 and 100.0 are one value, run once
        grid[key] = [v for j, v in enumerate(parsed)
                     if not any(_same(v, w) for w in parsed[:j])]
    size = math.prod(len(v) for v in grid.values()) if grid else 0
    if size > MAX_SCENARIOS:
        raise ValueError(f"the grid makes {size:,} scenarios, more than the {MAX_SCENARIOS:,} a "
                         "sweep runs: give fewer values (or split the sweep)")
    return grid


# A sweep of this many plans takes a day on a few machines at a minute each: more is a typo.
MAX_SCENARIOS = 2000


def _same(a: Any, b: Any) -> bool:
    """Grid values that configure the same thing (a number in any spelling)."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return float(a) == float(b)
    return bool(type(a) is type(b) and a == b)


def load_scenarios(path: Path) -> list[Scenario]:
    """[scenario.NAME] tables: overrides = {dotted key = value}, add_workers = [{locality, grade,
    fte, count}], remove_team = [...], cancel_leaver = [...]."""
    file = str(path)
    raw = read_toml(path, "--scenarios", "a TOML file of [scenario.NAME] tables")
    problems = []
    out = []
    for name, spec in raw.get("scenario", {}).items():
        if not SAFE_NAME.match(name):
            problems.append(Problem(file, "-", f"scenario.{shown(name)[1:-1]}", "not a usable "
                                    "name", "use letters, digits, '-', '_' (it names a folder)"))
            continue
        if not isinstance(spec, dict):
            problems.append(Problem(file, "-", f"scenario.{name}", "is not a table",
                                    f"write [scenario.{name}]"))
            continue
        bad = set(spec) - WHAT_IFS
        if bad:
            problems.append(Problem(file, "-", f"scenario.{name}", "unknown key(s) "
                                    f"{', '.join(sorted(bad))}",
                                    f"use {', '.join(sorted(WHAT_IFS))}"))
            continue
        overrides = spec.get("overrides", {})
        if not isinstance(overrides, dict):
            problems.append(Problem(file, "-", f"scenario.{name}.overrides",
                                    f"{shown(overrides)} is not a table of dotted keys",
                                    'write overrides = { "weights.move" = 100 }'))
            overrides = {}
        problems += unknown_dotted_keys(list(overrides), file)
        what_ifs, found = read_what_ifs(spec, file, f"scenario.{name}")
        problems += found
        out.append(Scenario(name, dict(overrides), {}, what_ifs.add_workers,
                            what_ifs.remove_team, what_ifs.cancel_leaver))
    extra = set(raw) - {"scenario"}
    if extra:
        problems.append(Problem(file, "-", ", ".join(sorted(extra)), "unknown section",
                                "put each scenario under [scenario.NAME]"))
    if problems:
        raise InputRejected(problems)
    return out


def scenario_name(base: Scenario, values: dict[str, Any]) -> str:
    """A name a person reads: the grid's values by their last key part (`move=100,
    max_moves=15`), after a named scenario's own name; safe as a folder name anywhere."""
    last = [k.rsplit(".", 1)[-1] for k in values]
    # a last part two keys share (rules.x and weights.x) keeps its full key
    labels = [t if last.count(t) == 1 else k for k, t in zip(values, last, strict=True)]
    shown = ",".join(f"{label}={_text(v)}"
                     for label, v in zip(labels, values.values(), strict=True))
    name = shown if base.name == "base" else f"{base.name}-{shown}"
    return re.sub(r"[^A-Za-z0-9_.=,+-]", "_", name)


def _text(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)


def scenarios(grid: dict[str, list[Any]], named: list[Scenario]) -> list[Scenario]:
    """Every named scenario (or a base one) crossed with the product of the grid."""
    bases = named or [Scenario("base")]
    keys = list(grid)
    combos = list(itertools.product(*grid.values())) if keys else [()]
    out = []
    for base in bases:
        for combo in combos:
            values = dict(zip(keys, combo, strict=True))
            name = base.name if not keys else scenario_name(base, values)
            out.append(dataclasses.replace(base, name=name, grid=values,
                                           overrides={**base.overrides, **values}))
    return out


def apply_what_ifs(inputs: Inputs, s: Scenario) -> Inputs:
    """The scenario's staffing what-ifs on the tables in memory (see io.whatifs)."""
    return apply(inputs, s.what_ifs, f"scenario {s.name}")


def repeated(todo: list[Scenario], repeats: int) -> list[Scenario]:
    """Each scenario `repeats` times (`name~2`, `name~3`, …), to show the spread of the same
    command: with --work the runs agree; cut by the clock they may not."""
    if repeats <= 1:
        return todo
    return [s if k == 1 else dataclasses.replace(s, name=f"{s.name}~{k}")
            for s in todo for k in range(1, repeats + 1)]
