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


def test_the_readme_points_only_inside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "../shared" not in readme
    for link in re.findall(r"\]\(([^)#]+)\)", readme):
        if not link.startswith("http"):
            assert (ROOT / link).exists(), link
