"""Configuration: shipped defaults, a user's TOML over them, flags over both.

The effective configuration is recorded in summary.json in the same shape as the TOML, so any
plan can be re-scored with exactly the weights that produced it.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rebalancer.paths import default_config_path
from rebalancer.problems import InputRejected, Problem

GRADES = ("asye", "sw", "senior", "advanced")
CASE_TYPES = ("assessment", "cin", "cp", "cla")
PRIORITIES = ("high", "medium", "low")
GEOGRAPHY_MODES = ("locality", "km", "minutes", "off")


def _load_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return tomllib.load(f)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _unknown_keys(
    user: dict[str, Any], shape: dict[str, Any], file: str, prefix: str = ""
) -> list[Problem]:
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
    return problems


@dataclass(frozen=True)
class Config:
    """The effective configuration; `raw` is the merged TOML tree recorded in summary.json."""

    raw: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    @property
    def plan_date(self) -> dt.date:
        return dt.date.fromisoformat(self.raw["plan_date"])

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.raw)


def _check_number(
    problems: list[Problem], file: str, tree: dict[str, Any], path: str, *, low: float,
    high: float = float("inf"), integer: bool = False, low_open: bool = False,
) -> None:
    node: Any = tree
    for part in path.split("."):
        node = node[part]
    ok = isinstance(node, int | float) and not isinstance(node, bool)
    if ok:
        ok = (node > low if low_open else node >= low) and node <= high
        if integer and ok:
            ok = float(node).is_integer()
    if not ok:
        kind = "a whole number" if integer else "a number"
        lo = f"> {low}" if low_open else f">= {low}"
        rng = f"{lo}" + (f" and <= {high}" if high != float("inf") else "")
        problems.append(Problem(file, "-", path, f"{node!r} is not {kind} {rng}",
                                f"set {path} to {kind} {rng}"))


def _check_values(raw: dict[str, Any], file: str) -> list[Problem]:
    """Every configured number is range-checked: a negative weight would reward what it punishes."""
    problems: list[Problem] = []
    num = _check_number
    num(problems, file, raw, "horizon_days", low=0, integer=True)
    for key in (*CASE_TYPES, "in_proceedings"):
        num(problems, file, raw, f"points.{key}", low=0)
    num(problems, file, raw, "capacity.points_per_fte", low=0, low_open=True)
    for g in GRADES:
        num(problems, file, raw, f"capacity.grade_factor.{g}", low=0, low_open=True)
    rules = raw["rules"]
    for key, grade in rules["min_grade"].items():
        if key not in ("cp", "cla", "cin", "assessment", "in_proceedings"):
            problems.append(Problem(file, "-", f"rules.min_grade.{key}",
                                    f"unknown case kind '{key}'",
                                    "use one of assessment, cin, cp, cla, in_proceedings"))
        elif grade not in GRADES:
            problems.append(Problem(file, "-", f"rules.min_grade.{key}",
                                    f"unknown grade '{grade}'", f"use one of {', '.join(GRADES)}"))
    if rules["geography"] not in GEOGRAPHY_MODES:
        problems.append(Problem(file, "-", "rules.geography",
                                f"unknown geography mode {rules['geography']!r}",
                                f"use one of {', '.join(GEOGRAPHY_MODES)}"))
    num(problems, file, raw, "rules.max_travel", low=0)
    num(problems, file, raw, "rules.max_new_cases", low=0, integer=True)
    num(problems, file, raw, "rules.max_moves", low=0, integer=True)
    if not isinstance(rules["keep_families"], bool):
        problems.append(Problem(file, "-", "rules.keep_families", "not true or false",
                                "set rules.keep_families = true or false"))
    w = raw["weights"]
    for p in PRIORITIES:
        num(problems, file, raw, f"weights.unallocated.{p}", low=0)
    for key in w:
        if key != "unallocated":
            num(problems, file, raw, f"weights.{key}", low=0)
    num(problems, file, raw, "solver.time_limit", low=0, low_open=True)
    num(problems, file, raw, "solver.seed", low=0, integer=True)
    num(problems, file, raw, "solver.threads", low=1, high=64, integer=True)
    return problems


def load_config(
    path: Path | None = None, overrides: dict[str, Any] | None = None, today: dt.date | None = None
) -> Config:
    """Merge defaults, the user's file and flag overrides, and reject every bad key at once."""
    defaults = _load_toml(default_config_path())
    merged = defaults
    file = str(path) if path is not None else "default configuration"
    problems: list[Problem] = []
    if path is not None:
        try:
            user = _load_toml(path)
        except FileNotFoundError:
            raise InputRejected([Problem(file, "-", "-", "file not found",
                                         "check the path given to --config")]) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputRejected([Problem(file, "-", "-", f"not valid TOML ({exc})",
                                         "fix the TOML syntax")]) from None
        problems += _unknown_keys(user, defaults, file)
        merged = _merge(defaults, user)
    for dotted, value in (overrides or {}).items():
        node = merged
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    plan_date = merged.get("plan_date", today or dt.date.today())
    if isinstance(plan_date, dt.datetime):
        plan_date = plan_date.date()
    if isinstance(plan_date, str):
        try:
            plan_date = dt.date.fromisoformat(plan_date)
        except ValueError:
            problems.append(Problem(file, "-", "plan_date", f"{plan_date!r} is not a date",
                                    "write plan_date = 2026-12-01 (no quotes)"))
    if isinstance(plan_date, dt.date):
        merged["plan_date"] = plan_date.isoformat()
    elif not problems:
        problems.append(Problem(file, "-", "plan_date", f"{plan_date!r} is not a date",
                                "write plan_date = 2026-12-01 (no quotes)"))
    if not problems:
        try:
            problems += _check_values(merged, file)
        except (KeyError, TypeError) as exc:
            problems.append(Problem(file, "-", str(exc), "has the wrong shape",
                                    "compare with data/default_config.toml"))
    if problems:
        raise InputRejected(problems)
    return Config(merged)
