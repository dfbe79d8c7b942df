"""Every page a person opens, rendered by a real headless browser (Debian's chromium) at 1280
pixels: no horizontal scrollbar, no text running out of its box, and no chart without marks.

The page is loaded as written but for its content-security policy, which forbids the one
script the check adds (it measures the page after layout and writes what it found into the
DOM that chromium dumps). CI installs chromium (.ci/run); elsewhere the test says how.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from rebalancer.analysis.sweep import sweep_page
from rebalancer.reports.team_page import write_team_reports
from tests.conftest import Case, child, filler, generated, rebalance, worker

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PROBE = """<script>
window.addEventListener('load', () => {
  const r = {scroll: document.documentElement.scrollWidth > window.innerWidth,
             overflow: [], charts: []};
  for (const el of document.querySelectorAll('td,th,p,h1,h2,summary')) {
    if (el.scrollWidth > el.clientWidth + 2) r.overflow.push(el.textContent.slice(0, 60));
  }
  for (const svg of document.querySelectorAll('svg')) {
    const axes = svg.querySelectorAll('g[id^="axes_"]').length;
    const patches = svg.querySelectorAll('g[id^="patch_"]').length;
    const lines = [...svg.querySelectorAll('g[id^="line2d_"] path')]
      .filter(p => /L/.test(p.getAttribute('d') || '')).length;
    const marks = svg.querySelectorAll('g[id^="PathCollection_"]').length;
    r.charts.push(patches - 1 - 5 * axes + lines + marks);
  }
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify(r);
  document.body.appendChild(out);
});
</script>"""


def _browser() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs it")
        pytest.skip("no chromium here: apt-get install chromium")
    return CHROMIUM


def inspect(page: Path, tmp: Path) -> dict[str, object]:
    """What chromium finds on `page` at 1280 x 900."""
    text = re.sub(r"<meta http-equiv=Content-Security-Policy[^>]*>", "",
                  page.read_text(encoding="utf-8"))
    probe = tmp / f"probe-{page.name}"
    probe.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = subprocess.run(
        [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1280,900", f"--user-data-dir={tmp / 'profile'}",
         "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, flags=re.S)
    assert found, done.stderr[-2000:]
    result: dict[str, object] = json.loads(found.group(1).replace("&quot;", '"')
                                           .replace("&amp;", "&"))
    return result


def assert_readable(page: Path, tmp: Path, charts: int) -> None:
    r = inspect(page, tmp)
    assert r["scroll"] is False, f"{page.name} scrolls sideways at 1280 px"
    assert r["overflow"] == [], f"{page.name}: text out of its box: {r['overflow']}"
    marks = r["charts"]
    assert isinstance(marks, list) and len(marks) == charts, (page.name, marks)
    assert all(m > 0 for m in marks), f"{page.name}: a chart with no marks: {marks}"


def _county(case: Case) -> Path:
    # two teams in two localities, overload, a leaver, an unallocated child with a skill no
    # worker has, long explanations: every part of the pages has something to show
    workers = [worker("A"), worker("B", leaving_on="2026-12-03"), worker("C"),
               {**worker("D", locality="South"), "team": "South Assessment and Intervention"},
               {**worker("E", locality="South"), "team": "South Assessment and Intervention"}]
    children = [*filler("A", 50, n=2), *filler("D", 60, n=2),
                *(child(f"K{i}", current="B", family_id="F1" if i < 2 else "")
                  for i in range(4)),
                *(child(f"S{i}", locality="South") for i in range(5)),
                child("X", locality="South", required_skills="bsl")]
    case.run(workers, children)
    return case.root / "out"


def test_the_plan_page_and_team_pages_read_at_1280_pixels(case: Case, tmp_path: Path) -> None:
    out = _county(case)
    from rebalancer.planfolder import read_plan_folder

    pf = read_plan_folder(out)
    pages = write_team_reports(out, pf.plan, pf.workers, pf.summary)
    assert len(pages) == 2
    # utilisation per worker, demand against capacity, changes by reason, the coming weeks
    assert_readable(out / "report.html", tmp_path, charts=4)
    assert "<h2>The coming weeks</h2>" in (out / "report.html").read_text(encoding="utf-8")
    for page in pages:
        assert_readable(page, tmp_path, charts=0)


def test_a_busy_team_s_page_reads_at_1280_pixels(tmp_path: Path) -> None:
    # a generated county in crisis: long team names, reasons such as SKILLS;FAMILY, and
    # explanations of several lines, in the busiest team's page
    from rebalancer.planfolder import read_plan_folder

    inp = generated(tmp_path, children=400, workers=30, seed=5)
    assert rebalance(inp, tmp_path / "out").exit_code == 0
    pf = read_plan_folder(tmp_path / "out")
    pages = write_team_reports(tmp_path / "out", pf.plan, pf.workers, pf.summary)
    busiest = max(pages, key=lambda p: p.stat().st_size)
    assert_readable(busiest, tmp_path, charts=0)


def test_the_sweep_page_reads_at_1280_pixels(tmp_path: Path) -> None:
    rows = []
    for i, (move, moves, gap) in enumerate(((100, 40, 0.0), (300, 31, 0.01), (1000, 12, 0.19))):
        rows.append({"scenario": f"move={move}", "weights.move": move, "status": "feasible",
                     "reproducible": True, "objective": 250_000 - 1000 * i, "gap": gap,
                     "unallocated": 3, "workers_over_capacity": 10 - i,
                     "workers_above_110pct": 5, "workers_above_125pct": 2,
                     "asye_over_capacity": 1, "total_overload_points": 300.0 - 20 * i,
                     "peak_utilisation": 1.4, "families_split": 3, "mean_travel": 5.1,
                     "children_2plus_changes": 80 + i, "moves": moves + 30,
                     "moves_forced": 30, "moves_discretionary": moves, "allocations": 10,
                     "work": 5.0, "wall_time": 7.2, "threads": 1, "host": "tcp://127.0.0.1",
                     "plan_sha256": f"{i}" * 64, "folder": f"move={move}", "error": ""})
    page = tmp_path / "sweep.html"
    page.write_text(sweep_page(pd.DataFrame(rows), ["weights.move"]), encoding="utf-8")
    text = page.read_text()
    # rows in the grid's numeric order, and the wide gap said beside the figures
    rows_html = text[text.index("<table"):]
    assert rows_html.index("move=100<") < rows_html.index("move=300<") \
        < rows_html.index("move=1000<")
    assert "Read small differences with care" in text and "move=1000 (19.0%)" in text
    assert "move=300 (1.0%)" not in text
    assert_readable(page, tmp_path, charts=1)
