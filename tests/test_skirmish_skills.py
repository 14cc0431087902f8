"""Tests of the Skirmish skills diagnostic (``benchmarks/skirmish_skills.py``): its rates mean what its table says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scripts import load_script

skills = load_script("benchmarks/skirmish_skills.py")


def test_headings_apart_counts_45_degree_steps_and_flags_non_moves() -> None:
    east, north, west, southeast = 1, 3, 5, 8
    a = np.array([east, east, north, west, southeast, 0, 9])  # 0 = stay, 9 = an attack
    b = np.full(7, east)
    assert skills.headings_apart(a, b).tolist() == [0, 0, 2, 4, 1, -1, -1]


@pytest.fixture(scope="module")
def scripted_rows() -> dict[str, dict[str, float]]:
    """Three episodes of each scripted controller."""
    return {style: skills.play(skills.scripted(style), episodes=3, seed=3000) for style in ("nearest", "hold")}


def test_the_nearest_script_walks_like_itself_and_never_away(scripted_rows: dict) -> None:
    row = scripted_rows["nearest"]
    assert row["walks_like_nearest"] == 1.0
    assert row["walks_away"] == 0.0
    assert row["stays_out_of_range"] == 0.0
    assert row["attacks_when_able"] == 1.0


def test_the_hold_script_stays_out_of_range(scripted_rows: dict) -> None:
    row = scripted_rows["hold"]
    assert row["stays_out_of_range"] == 1.0
    assert row["walks_like_nearest"] == row["walks_away"] == 0.0
    assert 0.0 <= row["win_rate"] <= 1.0 and 0.0 <= row["timeout_rate"] <= 1.0


def test_repeated_model_paths_are_refused_naming_the_argument(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        skills.main(["--models", "a/model.zip", "a/model.zip", "--json", str(tmp_path / "rows.json")])
    assert "--models: expected distinct paths" in capsys.readouterr().err
    assert not (tmp_path / "rows.json").exists()
