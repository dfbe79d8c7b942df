"""What the terminal shows a person: the before/after table and the list of input problems."""

from __future__ import annotations

from typing import Any

from rebalancer.problems import Problem

MAX_SHOWN = 500


def problems_text(problems: list[Problem]) -> str:
    shown = problems[:MAX_SHOWN]
    lines = [f"The inputs were rejected: {len(problems)} problem(s). Nothing was written."]
    lines += [f"  - {p}" for p in shown]
    if len(problems) > MAX_SHOWN:
        lines.append(f"  ... and {len(problems) - MAX_SHOWN} more")
    return "\n".join(lines)


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "pct":
        return f"{value:.0%}"
    if kind == "num":
        return f"{value:,.1f}"
    return f"{value:,}"


def before_after(summary: dict[str, Any]) -> str:
    """The headline figures a workforce lead reads first."""
    b, a = summary["kpis"]["before"], summary["kpis"]["after"]
    rows = [
        ("children without a worker", "unallocated", "int"),
        ("workers over capacity", "workers_over_capacity", "int"),
        ("points over capacity (total)", "total_overload_points", "num"),
        ("peak utilisation", "peak_utilisation", "pct"),
        ("families split between workers", "families_split", "int"),
        ("mean travel", "mean_travel", "num"),
    ]
    width = max(len(r[0]) for r in rows) + 2
    lines = [f"{'':<{width}}{'before':>10}{'after':>10}"]
    for label, key, kind in rows:
        lines.append(f"{label:<{width}}{_fmt(b[key], kind):>10}{_fmt(a[key], kind):>10}")
    lines.append(f"{'changes of social worker':<{width}}{'':>10}{a['moves']:>10,}"
                 f"   ({a['moves_forced']} forced, {a['moves_discretionary']} discretionary)")
    lines.append(f"{'children newly allocated':<{width}}{'':>10}{a['allocations']:>10,}")
    gap = summary["gap"]
    lines.append("")
    lines.append(f"plan: {summary['status']}, objective {summary['objective']:,.0f}"
                 + (f", gap to bound {gap:.2%}" if gap is not None else "")
                 + f", {summary['wall_time']:.1f}s"
                 + (" (interrupted: best plan so far)" if summary["solver"]["interrupted"]
                    else ""))
    from rebalancer.shortfall import shortfall_text

    lines.append("")
    lines.append(shortfall_text(summary["shortfall"]))
    if summary["max_new_yielded"]["excess_total"]:
        m = summary["max_new_yielded"]
        lines.append(f"MAX_NEW yielded: {m['excess_total']} children above the new-case cap, at "
                     f"{len(m['workers'])} worker(s), so that no child who had a worker is left "
                     "without one")
    if summary["conflicts"]:
        lines.append(f"{len(summary['conflicts'])} decision(s) or pin(s) yielded to a hard rule "
                     "(see conflicts in summary.json)")
    return "\n".join(lines)
