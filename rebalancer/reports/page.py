"""The shell every HTML page shares, and the one chart set-up every chart uses.

Pages are self-contained: inline CSS, inline SVG charts with text as paths, and a
content-security policy that forbids any request, so they open in a locked-down browser. Charts
are drawn with a fixed hash salt, so the same data gives the same bytes.
"""

from __future__ import annotations

import html
import io
from typing import Any

import pandas as pd

from rebalancer.model.summary import NeedRow, to_plain

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:2rem;
color:#1d1d1d;max-width:1200px}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right}
.kpi td:nth-child(2),.kpi td:nth-child(3){text-align:right}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.charts figure{margin:0}
figure svg{max-width:100%;height:auto}figure.wide{margin:0}figure.wide svg{width:100%}
td.w{min-width:18rem}th{overflow-wrap:anywhere}td{overflow-wrap:break-word}
details{margin:.4rem 0}summary{cursor:pointer;font-weight:600}
.note{color:#555;font-size:.9rem}
.sweep{font-size:.8rem}.sweep td:first-child{max-width:16rem;overflow-wrap:anywhere}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def pyplot() -> Any:
    """matplotlib's pyplot, headless, with SVG text as paths and a fixed hash salt."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "path"
    matplotlib.rcParams["svg.hashsalt"] = "rebalancer"  # the same page for the same plan
    import matplotlib.pyplot as plt

    return plt


def svg(fig: Any) -> str:
    """The figure as inline SVG (no date, so the same chart gives the same bytes)."""
    plt = pyplot()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def table(df: pd.DataFrame, numeric: set[str] | None = None, cls: str = "",
          wide: frozenset[str] = frozenset({"explanation"})) -> str:
    """An HTML table with every cell escaped; numeric columns right-aligned, `wide` ones (the
    explanations) given room to read in a few lines."""
    numeric = numeric or set()
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for rec in df.itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, rec, strict=True):
            text = "" if v is None or (isinstance(v, float) and v != v) else str(v)
            if c == "reasons":  # SKILLS;FAMILY may break after its ';' in a narrow column
                text = text.replace(";", ";\u200b")
            klass = ' class="n"' if c in numeric else ' class="w"' if c in wide else ""
            cells.append(f"<td{klass}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><tr>{head}</tr>{''.join(body)}</table>"


def page(title: str, body: str) -> str:
    """A whole self-contained page around `body` (already HTML); `title` is escaped."""
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<meta http-equiv=Content-Security-Policy content=\"{CSP}\">"
            f"<title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>")


MIN_FTE_SHOWN = 0.05  # a line is worth a manager's attention from a twentieth of a post
NEED_HEADINGS = {"locality": "locality", "grade": "grade", "fte": "FTE needed",
                 "overload_points": "points over capacity",
                 "unallocated_points": "points of unallocated children",
                 "skills": "skills new workers need"}


def need_table(rows: list[NeedRow]) -> str:
    """The shortfall rows a manager can act on (FTE by locality and grade, with the skills new
    workers need), largest first, in words, one decimal; needs under a twentieth of a post are
    counted in a note instead of shown as 0.0."""
    shown = sorted((r for r in rows if r.fte >= MIN_FTE_SHOWN), key=lambda r: -r.fte)
    small = len(rows) - len(shown)
    note = (f"<p class=note>… and {small} locality and grade band(s) needing under "
            f"{MIN_FTE_SHOWN} FTE each.</p>" if small else "")
    if not shown:
        return note
    sf = pd.DataFrame([to_plain(r) for r in shown])
    sf["skills"] = sf["skills"].map(lambda xs: ", ".join(xs) if xs else "")
    for col in ("fte", "overload_points", "unallocated_points"):
        sf[col] = sf[col].map(lambda x: f"{x:,.1f}")
    sf = sf[list(NEED_HEADINGS)].rename(columns=NEED_HEADINGS)
    return table(sf, {NEED_HEADINGS[c] for c in ("fte", "overload_points",
                                                 "unallocated_points")}) + note
