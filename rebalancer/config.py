"""Configuration: shipped defaults, a user's TOML over them, flags over both, typed once.

`load_config` merges the three, checks every key and value (all problems at once, each naming
the key, the value found and the range allowed), and returns frozen dataclasses: the rest of the
code reads `cfg.weights.move`, never `cfg["weights"]["move"]`, so mypy follows every key. The
effective configuration is recorded in summary.json in the same shape as the TOML
(`Config.to_dict`), so any plan can be re-scored with exactly the weights that produced it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rebalancer.configkeys import (
    CASE_TYPES,
    GEOGRAPHY_MODES,
    GRADES,
    KEY_BY_PATH,
    MAX_COUNT,
    MAX_FACTOR,
    MAX_SEED,
    MAX_THREADS,
    MAX_TIME_LIMIT,
    MAX_WEIGHT,
    MIN_GRADE_KEYS,
    PRIORITIES,
)
from rebalancer.paths import default_config_path
from rebalancer.problems import InputRejected, Problem
from rebalancer.tomlfile import read_toml

__all__ = ["CASE_TYPES", "GEOGRAPHY_MODES", "GRADES", "MAX_COUNT", "MAX_FACTOR", "MAX_SEED",
           "MAX_THREADS", "MAX_TIME_LIMIT", "MAX_WEIGHT", "PRIORITIES", "Config", "load_config"]


@dataclass(frozen=True)
class Points:
    """Case weight by case type, plus the addition for proceedings."""

    assessment: float
    cin: float
    cp: float
    cla: float
    in_proceedings: float

    def of(self, case_type: str) -> float:
        return float(getattr(self, case_type))


@dataclass(frozen=True)
class Capacity:
    points_per_fte: float
    grade_factor: Mapping[str, float]


@dataclass(frozen=True)
class Rules:
    min_grade: Mapping[str, str]  # case type or "in_proceedings" -> least grade
    geography: str
    max_travel: float
    max_new_cases: int
    max_moves: int  # 0: no budget
    keep_families: bool


@dataclass(frozen=True)
class Weights:
    unallocated: Mapping[str, float]  # by priority
    overload: float
    overload_bands: tuple[tuple[float, float], ...]  # (utilisation, multiplier), ascending
    move: float
    move_per_month: float
    move_months_cap: float
    move_factor_proceedings: float
    move_factor_cla: float
    move_factor_recent_change: float  # per change of worker in the 12 months to the plan
    recent_changes_cap: int  # changes counted at most
    peak: float
    travel_km: float
    travel_minute: float
    split_family: float
    previous_change: float  # only with a previous plan (replan, rebalance --previous)


@dataclass(frozen=True)
class SolverSettings:
    time_limit: float
    seed: int
    threads: int
    work: float = 0.0  # the solver's budgets in deterministic work; 0: from time_limit


@dataclass(frozen=True)
class Config:
    """The effective configuration, validated; `to_dict` gives the TOML shape for summary.json."""

    plan_date: dt.date
    horizon_days: int
    points: Points
    capacity: Capacity
    rules: Rules
    weights: Weights
    solver: SolverSettings
    lookahead_days: int = 0  # a plan folder written before the look-ahead: the plan date alone

    @property
    def weeks(self) -> int:
        """W = ceil(lookahead_days / 7), at least 1: week k starts on plan_date + 7k."""
        return max(1, -(-self.lookahead_days // 7))

    def to_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            if isinstance(v, Mapping):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, tuple):
                return [plain(x) for x in v]
            return v

        out: dict[str, Any] = {"plan_date": self.plan_date.isoformat(),
                               "horizon_days": self.horizon_days,
                               "lookahead_days": self.lookahead_days}
        for section in ("points", "capacity", "rules", "weights", "solver"):
            obj = getattr(self, section)
            out[section] = {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return out

    def with_overrides(self, overrides: Mapping[str, Any]) -> Config:
        """The same configuration with dotted keys replaced, validated like a file."""
        return config_from_tree(self.to_dict(), overrides, "configuration override")


def _defaults() -> dict[str, Any]:
    return read_toml(default_config_path(), "the installed package", "the shipped defaults")


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif not isinstance(out.get(key), dict):  # a table given as a value is reported apart
            out[key] = value
    return out


def _unknown_keys(user: Mapping[str, Any], shape: Mapping[str, Any], file: str,
                  prefix: str = "") -> list[Problem]:
    """A misspelt key would otherwise be ignored silently and the default used instead."""
    problems = []
    for key, value in user.items():
        path = f"{prefix}{key}"
        if key not in shape and not (prefix == "" and key == "plan_date"):
            close = difflib.get_close_matches(key, list(shape), n=1)
            hint = f"did you mean '{prefix}{close[0]}'?" if close else "remove it"
            problems.append(Problem(file, "-", path, f"unknown configuration key '{path}'", hint))
        elif isinstance(value, dict) and isinstance(shape.get(key), dict):
            problems += _unknown_keys(value, shape[key], file, prefix=f"{path}.")
        elif isinstance(shape.get(key), dict) and not isinstance(value, dict):
            problems.append(Problem(file, "-", path, f"'{path}' must be a table of keys, "
                                    f"not {_shown(value)}",
                                    f"write it as [{path}] with its keys, as in "
                                    "data/default_config.toml"))
    return problems


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


class _Reader:
    """Reads typed values out of the merged tree, recording a Problem for each bad one."""

    def __init__(self, tree: Mapping[str, Any], file: str) -> None:
        self.tree = tree
        self.file = file
        self.problems: list[Problem] = []

    def _get(self, path: str) -> Any:
        node: Any = self.tree
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node

    def bad(self, path: str, message: str, fix: str) -> None:
        self.problems.append(Problem(self.file, "-", path, message, fix))

    def number(self, path: str, low: float, high: float, *, low_open: bool = False,
               integer: bool = False) -> float:
        value = self._get(path)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            ok = math.isfinite(value) and (value > low if low_open else value >= low) \
                and value <= high
            if ok and integer:
                ok = float(value).is_integer()
        if not ok:
            kind = "a whole number" if integer else "a number"
            rng = f"{'>' if low_open else '>='} {low:g} and <= {high:g}"
            self.bad(path, f"{_shown(value)} is not {kind} {rng}", f"set {path} to {kind} {rng}")
            return low if not low_open else high
        return float(value)

    def integer(self, path: str, low: int, high: int) -> int:
        return int(self.number(path, low, high, integer=True))

    def read(self, path: str) -> Any:
        """A key's value, checked as its declaration (configkeys.KEYS) says."""
        k = KEY_BY_PATH[path]
        if k.kind == "number":
            return self.number(path, k.low, k.high, low_open=k.low_open)
        if k.kind == "whole":
            return self.integer(path, int(k.low), int(k.high))
        if k.kind == "choice":
            return self.choice(path, k.choices)
        if k.kind == "bool":
            return self.boolean(path)
        raise ValueError(f"{path} is read by its own function")

    def choice(self, path: str, choices: tuple[str, ...]) -> str:
        value = self._get(path)
        if not isinstance(value, str) or value not in choices:
            self.bad(path, f"{_shown(value)} is not one of {', '.join(choices)}",
                     f"set {path} to one of {', '.join(choices)}")
            return choices[0]
        return value

    def boolean(self, path: str) -> bool:
        value = self._get(path)
        if not isinstance(value, bool):
            self.bad(path, f"{_shown(value)} is not true or false",
                     f"set {path} = true or false")
            return True
        return value

    def table(self, path: str) -> Mapping[str, Any]:
        value = self._get(path)
        if not isinstance(value, Mapping):
            self.bad(path, f"{_shown(value)} is not a table of keys",
                     f"write {path} as {{ key = value, ... }}, as in data/default_config.toml")
            return {}
        return value


def _points(r: _Reader) -> Points:
    return Points(**{k: r.read(f"points.{k}") for k in (*CASE_TYPES, "in_proceedings")})


def _capacity(r: _Reader) -> Capacity:
    factors = {g: r.read(f"capacity.grade_factor.{g}") for g in GRADES}
    return Capacity(r.read("capacity.points_per_fte"), factors)


def _rules(r: _Reader) -> Rules:
    min_grade = {}
    for key in r.table("rules.min_grade"):
        if key not in MIN_GRADE_KEYS:
            r.bad(f"rules.min_grade.{key}", f"unknown case kind {_shown(key)}",
                  f"use one of {', '.join(MIN_GRADE_KEYS)}")
        else:
            min_grade[key] = r.choice(f"rules.min_grade.{key}", GRADES)
    return Rules(
        min_grade=min_grade,
        geography=r.read("rules.geography"),
        max_travel=r.read("rules.max_travel"),
        max_new_cases=r.read("rules.max_new_cases"),
        max_moves=r.read("rules.max_moves"),
        keep_families=r.read("rules.keep_families"),
    )


def _bands(r: _Reader) -> tuple[tuple[float, float], ...]:
    # overload bands: ascending utilisations above 1, with multipliers that never fall, so the
    # marginal cost of overload rises with utilisation (a convex cost the LP can take exactly)
    path = "weights.overload_bands"
    value = r._get(path)
    fix = (f"write {path} as a list of [utilisation, multiplier] pairs with utilisation "
           f"ascending in (1, {MAX_FACTOR:g}] and multipliers rising from 1 to at most "
           f"{MAX_FACTOR:g}, e.g. [[1.10, 1.5], [1.25, 2.0]], or [] for a flat rate")
    if not isinstance(value, list):
        r.bad(path, f"{_shown(value)} is not a list", fix)
        return ()
    bands: list[tuple[float, float]] = []
    for band in value:
        nums = isinstance(band, list) and len(band) == 2 and all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
            for x in band)
        if not nums:
            r.bad(path, f"{_shown(band)} is not a pair [utilisation, multiplier]", fix)
            return ()
        bands.append((float(band[0]), float(band[1])))
    last_u, last_m = 1.0, 1.0
    for u, m in bands:
        if not (last_u < u <= MAX_FACTOR and last_m <= m <= MAX_FACTOR):
            r.bad(path, f"[{u:g}, {m:g}] breaks the order (utilisations ascending above "
                  f"{last_u:g}, multipliers at least {last_m:g})", fix)
            return ()
        last_u, last_m = u, m
    return tuple(bands)


def _weights(r: _Reader) -> Weights:
    plain = {f.name: r.read(f"weights.{f.name}") for f in dataclasses.fields(Weights)
             if f.name not in ("unallocated", "overload_bands")}
    return Weights(unallocated={p: r.read(f"weights.unallocated.{p}") for p in PRIORITIES},
                   overload_bands=_bands(r), **plain)


def _solver(r: _Reader) -> SolverSettings:
    return SolverSettings(**{f.name: r.read(f"solver.{f.name}")
                             for f in dataclasses.fields(SolverSettings)})


def _plan_date(tree: dict[str, Any], today: dt.date, r: _Reader) -> dt.date:
    value = tree.get("plan_date", today)
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = dt.date.fromisoformat(value)
    if not isinstance(value, dt.date):
        r.bad("plan_date", f"{_shown(value)} is not a date",
              "write plan_date = 2026-12-01 (no quotes)")
        return today
    return value


def config_from_tree(tree: Mapping[str, Any], overrides: Mapping[str, Any] | None,
                     file: str, today: dt.date | None = None,
                     problems: list[Problem] | None = None) -> Config:
    """The typed configuration of a merged tree with dotted-key overrides; all problems at once."""
    merged = copy.deepcopy(dict(tree))
    problems = list(problems or [])
    defaults = _defaults()
    bad = unknown_dotted_keys(list(overrides or {}), file, defaults)
    problems += bad
    refused = {p.column for p in bad}
    for dotted, value in (overrides or {}).items():
        if dotted in refused:
            continue
        node: Any = merged
        *parents, leaf = dotted.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[leaf] = value
    r = _Reader(merged, file)
    r.problems = problems
    cfg = Config(
        plan_date=_plan_date(merged, today or dt.date.today(), r),
        horizon_days=r.read("horizon_days"),
        lookahead_days=r.read("lookahead_days"),
        points=_points(r), capacity=_capacity(r), rules=_rules(r), weights=_weights(r),
        solver=_solver(r),
    )
    if r.problems:
        raise InputRejected(r.problems)
    return cfg


def unknown_dotted_keys(keys: list[str], file: str,
                        defaults: Mapping[str, Any] | None = None) -> list[Problem]:
    """Dotted configuration keys (overrides, sweep grids) that name no key of the
    configuration, each with the nearest known key suggested."""
    shape_root = defaults if defaults is not None else _defaults()
    problems = []
    for dotted in keys:
        shape: Any = shape_root
        for part in dotted.split("."):
            shape = shape.get(part) if isinstance(shape, Mapping) else None
        if shape is None and dotted != "plan_date":
            close = difflib.get_close_matches(dotted, _dotted_keys(shape_root), n=1)
            problems.append(Problem(file, "-", dotted, f"unknown configuration key '{dotted}'",
                                    f"did you mean '{close[0]}'?" if close else "remove it"))
    return problems


def _dotted_keys(tree: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in tree.items():
        out += _dotted_keys(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"{prefix}{k}"]
    return out


def load_config(path: Path | None = None, overrides: Mapping[str, Any] | None = None,
                today: dt.date | None = None) -> Config:
    """Merge defaults, the user's file and flag overrides, and reject every bad key at once."""
    defaults = _defaults()
    merged = defaults
    file = str(path) if path is not None else "default configuration"
    problems: list[Problem] = []
    if path is not None:
        user = read_toml(path, "--config", "a configuration file")
        problems += _unknown_keys(user, defaults, file)
        merged = _merge(defaults, user)
    return config_from_tree(merged, overrides, file, today, problems)
