"""The project documents itself: every input column and configuration key the code accepts is in
docs/, and nothing a user reads points outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

from rebalancer.config import load_config
from rebalancer.io.schema import CHILDREN, DECISIONS, TRAVEL, WORKERS
from rebalancer.io.ssd import TABLES
from rebalancer.model.kpi import KPI_NAMES

ROOT = Path(__file__).resolve().parent.parent


def _flat(tree: dict[str, object], prefix: str = "") -> list[str]:
    out = []
    for k, v in tree.items():
        if isinstance(v, dict) and k not in ("unallocated", "grade_factor", "min_grade"):
            out += _flat(v, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}")
    return out


def test_every_input_column_and_kpi_is_in_the_data_contract() -> None:
    text = (ROOT / "docs" / "data-contract.md").read_text()
    for spec in (WORKERS, CHILDREN, DECISIONS, TRAVEL):
        for col in spec.columns:
            assert col.name in text, col.name
    for name in KPI_NAMES:
        assert f"`{name}`" in text, name


def test_every_configuration_key_is_documented_with_its_range() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    keys = _flat(load_config(None).to_dict())
    assert "weights.recent_changes_cap" in keys
    for key in keys:
        assert f"`{key}" in text, key


def test_every_ssd_column_read_is_in_the_import_doc() -> None:
    text = (ROOT / "docs" / "ssd-import.md").read_text()
    for table, (_, columns) in TABLES.items():
        assert f"`{table}`" in text, table
        for col in columns:
            assert col in text, col


def test_the_docs_point_only_inside_the_repository() -> None:
    for page in [ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")]:
        text = page.read_text()
        assert "../shared" not in text, page.name
        for link in re.findall(r"\]\(([^)#]+)\)", text):
            if not link.startswith("http"):
                assert (page.parent / link).exists(), (page.name, link)


def test_the_readme_is_for_users() -> None:
    # what it does, the two set-up commands with their times, then a section per user; no
    # release notes (CHANGELOG.md) and no word of the project's own history
    readme = (ROOT / "README.md").read_text()
    headings = re.findall(r"^## (.+)$", readme, flags=re.M)
    assert headings[0].startswith("Set-up")
    assert [h.split(":")[0] for h in headings[1:4]] == ["Workforce leads", "Team managers",
                                                        "Analysts"]
    setup = readme[readme.index("## Set-up"):readme.index("## Workforce")]
    assert setup.count("```sh") == 2 and setup.count("minutes") == 2
    for word in ("What changed", "turn 2", "LP-guided", "yields to ONE_WORKER", "0.4", "0.3"):
        assert word not in readme, word
    assert len(readme.split()) < 1800
