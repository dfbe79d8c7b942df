"""bench/RESULTS.md and bench/scaling.png from bench/out/results.json and bench/out/gap.json."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _gap(obj: float | None, bound: float | None) -> float | None:
    if obj is None or bound is None or obj <= 0:
        return None
    return (obj - bound) / obj


def _first_within(timeline: list[list[float]] | None, bound: float, target: float
                  ) -> float | None:
    for t, obj in timeline or []:
        if obj > 0 and (obj - bound) / obj <= target:
            return float(t)
    return None


def _f(x: Any, fmt: str = "{:,.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def machine() -> str:
    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in
                   Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line)
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip()
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python "
            f"{platform.python_version()}, commit {commit}")


def rebalance_section(results: dict[str, Any]) -> list[str]:
    lines = ["## Rebalance: the tool against three baselines, same instances, same run", "",
             "Gap: (objective − LP bound) / objective, against the HiGHS LP relaxation of the "
             "same objective (with the same least MAX_NEW excess). Wall: from reading the inputs "
             "to the written plan. Build: loading and building the model. Memory: peak RSS of "
             "the method's own process. Excess: children above the MAX_NEW caps; the tool and "
             "the LP bound take the least excess that keeps every child who had a worker "
             "allocated, manual practice ignores the caps, so its objective is not comparable "
             "where its excess is larger (it breaks a hard rule to get there). Naive: no plan "
             "means CP-SAT found none within the time limit.", "",
             "| instance | children × workers | limit s | method | wall s | build s | peak MB "
             "| objective | gap to LP | time to 1% gap | excess | objective ÷ tool's |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        bound = r["lp"].get("bound")
        ours = r["rebalancer"].get("objective")
        for method in ("rebalancer", "manual", "naive", "lp"):
            m = r[method]
            if "error" in m:
                lines.append(f"| {name} | | | {method} | failed: {m['error']} | | | | | | | |")
                continue
            if method == "naive" and m.get("objective") is None:
                lines.append(f"| {name} | {r['children']:,} × {r['workers']:,} | "
                             f"{r['time_limit']} | naive | {_f(m.get('wall'))} | "
                             f"{_f(m.get('build'))} | {_f(m.get('peak_mb'), '{:,.0f}')} | "
                             "no plan | | | | |")
                continue
            obj = m.get("bound") if method == "lp" else m.get("objective")
            t1 = _first_within(m.get("timeline"), bound, 0.01) if bound else None
            ratio = obj / ours if obj and ours and method != "lp" else None
            lines.append(
                f"| {name} | {r['children']:,} × {r['workers']:,} | {r['time_limit']} | "
                f"{method} | {_f(m.get('wall'))} | {_f(m.get('build'))} | "
                f"{_f(m.get('peak_mb'), '{:,.0f}')} | {_f(obj, '{:,.0f}')} | "
                f"{_f(_gap(obj, bound) if method != 'lp' else None, '{:.2%}')} | "
                f"{_f(t1) if method in ('rebalancer', 'naive') else ''} | "
                f"{_f(m.get('excess', m.get('excess_cap')), '{:,}')} | "
                f"{_f(ratio, '{:.3f}')} |")
    lines += ["", "Ratios to the baselines, per instance (tool ÷ baseline; below 1 favours the "
              "tool):", "", "| instance | objective vs manual | objective vs naive CP-SAT | "
              "wall vs naive | time to 1% vs naive | build share of wall |",
              "|---|---|---|---|---|---|"]
    for name, r in results.items():
        o, man, nai = r["rebalancer"], r["manual"], r["naive"]
        bound = r["lp"].get("bound")
        t_o = _first_within(o.get("timeline"), bound, 0.01) if bound else None
        t_n = _first_within(nai.get("timeline"), bound, 0.01) if bound else None
        if nai.get("objective") is None:
            ratio_t = "naive: no plan"
        elif t_n is None and t_o is not None:
            ratio_t = "naive never within 1%"
        else:
            ratio_t = _f(t_o / t_n if t_o and t_n else None, "{:.3f}")
        lines.append(
            f"| {name} | {_f(_div(o.get('objective'), man.get('objective')), '{:.3f}')} | "
            f"{_f(_div(o.get('objective'), nai.get('objective')), '{:.3f}')} | "
            f"{_f(_div(o.get('wall'), nai.get('wall')), '{:.2f}')} | {ratio_t} | "
            f"{_f(_div(o.get('build'), o.get('wall')), '{:.1%}')} |")
    return lines


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def gap_section(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["## The solver core on Chu–Beasley GAP instances (`../shared/bench/gap`)", "",
             "Gap to the best known value; `solvers.solve` with 2 threads, the time limit "
             "per instance.", ""]
    limits = sorted({r["time_limit"] for r in rows})
    lines.append("| instance | " + " | ".join(f"gap at {t:g} s" for t in limits) + " |")
    lines.append("|---|" + "---|" * len(limits))
    by: dict[str, dict[float, Any]] = {}
    for r in rows:
        by.setdefault(r["instance"], {})[r["time_limit"]] = r["gap"]
    for name, gaps in by.items():
        lines.append(f"| {name} | " + " | ".join(_f(gaps.get(t), "{:.2%}") for t in limits)
                     + " |")
    lines += ["", "| type | " + " | ".join(f"mean gap at {t:g} s" for t in limits) + " |",
              "|---|" + "---|" * len(limits)]
    for typ in sorted({r["type"] for r in rows}):
        means = []
        for t in limits:
            g = [r["gap"] for r in rows if r["type"] == typ and r["time_limit"] == t
                 and r["gap"] is not None]
            means.append(_f(sum(g) / len(g) if g else None, "{:.2%}"))
        lines.append(f"| {typ.upper()} | " + " | ".join(means) + " |")
    return lines


def plot(results: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    pts = sorted((r["children"], r) for r in results.values() if r["scenario"] == "crisis")
    if not pts:
        return False
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for method, style in (("rebalancer", "o-"), ("naive", "s--"), ("manual", "^:")):
        xs = [n for n, r in pts if r[method].get("wall") is not None]
        a1.plot(xs, [r[method]["wall"] for n, r in pts if r[method].get("wall") is not None],
                style, label=method)
        g = [(n, v) for n, r in pts
             if (v := _gap(r[method].get("objective"), r["lp"].get("bound"))) is not None]
        a2.plot([n for n, _ in g], [100 * v for _, v in g], style, label=method)
    a1.plot([n for n, _ in pts], [r["time_limit"] for _, r in pts], "k-", lw=0.5,
            label="time limit")
    for ax, title in ((a1, "wall time (s)"), (a2, "gap to LP bound (%)")):
        ax.set_xscale("log")
        ax.set_xlabel("children")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    a2.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def write_report(out: Path) -> None:
    results = json.loads((out / "results.json").read_text()) if (
        out / "results.json").exists() else {}
    gap_rows = json.loads((out / "gap.json").read_text()) if (out / "gap.json").exists() else []
    lines = ["# Benchmark results", "", f"Machine: {machine()}.", "",
             "Reproduce: `python -m bench.run` (instances are generated with seed 2026) and "
             "`python -m bench.gap`; both write to `bench/out/` and rewrite this file.", ""]
    if results:
        lines += [*rebalance_section(results), ""]
        if plot(results, HERE / "scaling.png"):
            lines += ["![time and gap against size](scaling.png)", ""]
    if gap_rows:
        lines += [*gap_section(gap_rows), ""]
    notes = HERE / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text()]
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    write_report(HERE / "out")
