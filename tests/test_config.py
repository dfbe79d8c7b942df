"""Configuration: typed once, every bad key and value reported at once with its range."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rebalancer.config import MAX_WEIGHT, Config, load_config
from rebalancer.problems import InputRejected
from tests.conftest import generated, rebalance

runner = CliRunner()


def problems(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(InputRejected) as exc:
        load_config(path)
    return {p.column: p.message + " / " + p.fix for p in exc.value.problems}


def test_defaults_are_typed_and_round_trip(tmp_path: Path) -> None:
    cfg = load_config(None)
    assert isinstance(cfg, Config)
    assert cfg.weights.unallocated == {"high": 20000, "medium": 14000, "low": 10000}
    assert cfg.weights.overload_bands == ((1.10, 1.5), (1.25, 2.0))
    assert cfg.rules.max_new_cases == 6 and cfg.solver.threads == 2
    again = cfg.with_overrides({"weights.move": 100})
    assert again.weights.move == 100 and again.to_dict()["weights"]["move"] == 100
    assert again.to_dict()["points"] == cfg.to_dict()["points"]


def test_every_bad_value_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(tmp_path, (
        "horizon_days = 1e8\n[rules]\nmin_grade = 'sw'\nmax_new_cases = -1\n"
        "[weights]\nunallocated = { high = 1e17, medium = 1, low = 1 }\noverload = 1e300\n"
        "overload_bands = [[1.25, 2.0], [1.10, 1.5]]\n[solver]\ntime_limit = inf\n"
        "seed = 4294967296\nthreads = 65\n"))
    assert set(found) >= {"horizon_days", "rules.min_grade", "rules.max_new_cases",
                          "weights.unallocated.high", "weights.overload",
                          "weights.overload_bands", "solver.time_limit", "solver.seed",
                          "solver.threads"}
    assert f"<= {MAX_WEIGHT:g}" in found["weights.overload"]
    assert "ascending" in found["weights.overload_bands"]


def test_a_section_of_the_wrong_shape_is_a_clear_problem(tmp_path: Path) -> None:
    found = problems(tmp_path, "rules = 5\n")
    assert "must be a table" in found["rules"]


def test_a_misspelt_key_gets_a_suggestion(tmp_path: Path) -> None:
    found = problems(tmp_path, "[weights]\noverload_band = []\n")
    assert "did you mean 'weights.overload_bands'" in found["weights.overload_band"]


def test_bands_must_rise(tmp_path: Path) -> None:
    found = problems(tmp_path, "[weights]\noverload_bands = [[1.1, 0.5]]\n")
    assert "weights.overload_bands" in found


def test_the_shipped_defaults_and_the_docs_follow_the_declarations() -> None:
    # every key is declared once (rebalancer/configkeys.py); the shipped TOML and the docs'
    # table are rendered from the declarations, and the loaded defaults are the declared ones
    from rebalancer.configkeys import KEYS, default_toml, docs_table
    from rebalancer.paths import default_config_path

    root = Path(__file__).resolve().parent.parent
    assert default_config_path().read_text(encoding="utf-8") == default_toml()
    docs = (root / "docs" / "configuration.md").read_text(encoding="utf-8")
    start = docs.index("| key |")
    assert docs[start:docs.index("<!-- /keys -->")] == docs_table()
    tree = load_config(None).to_dict()
    for k in KEYS:
        if k.kind == "date":
            continue
        node = tree
        for part in k.path.split("."):
            node = node[part]
        expected = [list(b) for b in node] if k.kind == "bands" else node
        assert expected == k.default, k.path


def test_a_value_outside_its_declared_range_names_that_range(tmp_path: Path) -> None:
    found = problems(tmp_path, "[weights]\nmove_months_cap = 1201\n[solver]\nthreads = 0\n")
    assert ">= 0 and <= 1200" in found["weights.move_months_cap"]
    assert ">= 1 and <= 64" in found["solver.threads"]


def test_huge_weights_are_refused_not_solved_wrongly(tmp_path: Path) -> None:
    inp = generated(tmp_path, children=20, workers=3)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[weights]\nunallocated = { high = 1e17, medium = 1e17, low = 1e17 }\n"
                   "split_family = 1e18\npeak = 1e15\n[capacity]\npoints_per_fte = 1e17\n")
    r = rebalance(inp, tmp_path / "out", "--config", str(cfg))
    assert r.exit_code == 1
    for key in ("weights.unallocated.high", "weights.split_family", "weights.peak",
                "capacity.points_per_fte"):
        assert key in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("text,words", [
    ("x = " + "[" * 30_000 + "]" * 30_000 + "\n", "nested more than 20 levels"),
    ("[" + ".".join(["a"] * 3000) + "]\n", "nested more than 20 levels"),
    ("x = [" + ", ".join(["1"] * 150_000) + "]\n", "more than 100,000 values"),
    ("# " + "x" * 1_000_001 + "\n", "larger than 1,000,000 bytes"),
])
def test_a_toml_file_too_deep_or_too_large_is_refused_before_parsing(
        tmp_path: Path, text: str, words: str) -> None:
    found = problems(tmp_path, text)
    assert any(words in message for message in found.values()), found


def test_a_device_that_never_ends_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputRejected) as exc:
        load_config(Path("/dev/zero"))
    assert "larger than" in str(exc.value.problems[0])
