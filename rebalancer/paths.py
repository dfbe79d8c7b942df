"""Where the shipped data lives, in a source checkout and in an installed wheel alike."""

from __future__ import annotations

from pathlib import Path


def data_dir() -> Path:
    """The wheel ships data/ as rebalancer/_data; a checkout or editable install has data/."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data", here.parent / "data"):
        if (candidate / "default_config.toml").is_file():
            return candidate
    raise FileNotFoundError("the shipped data folder is missing; reinstall caseload-rebalancer")


def default_config_path() -> Path:
    return data_dir() / "default_config.toml"
