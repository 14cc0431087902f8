"""Tests of the PPO diagnostics (``benchmarks/ppo_diagnostics.py``): it reads what SB3 logged, at the stated points."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from scripts import load_script

diagnostics = load_script("benchmarks/ppo_diagnostics.py")


def write_progress(run_dir: Path, updates: int) -> None:
    """A progress.csv as SB3 writes it: a first row before any update (no train/ values), then one per update."""
    run_dir.mkdir(parents=True)
    fields = ["time/total_timesteps", "train/entropy_loss", "train/approx_kl", "train/clip_fraction"]
    with open(run_dir / "progress.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerow({"time/total_timesteps": 0})
        for i in range(updates):
            writer.writerow({"time/total_timesteps": 1000 * (i + 1), "train/entropy_loss": -(10 - i / 10),
                             "train/approx_kl": i / 1000, "train/clip_fraction": i / 100})


def test_reads_entropy_kl_and_clip_at_fractions_of_the_updates(tmp_path: Path) -> None:
    write_progress(tmp_path / "grid" / "run_a", updates=100)
    out = tmp_path / "diag.json"
    assert diagnostics.main([str(tmp_path / "grid"), "--out", str(out)]) == 0
    (run,) = json.loads(out.read_text())["runs"]
    assert run["run"] == "run_a" and run["updates"] == 100
    # update i (0-based) at 10%, 25%, 50%, 90% of 100 updates: 10, 25, 50, 90; entropy is -entropy_loss
    assert run["entropy"] == pytest.approx([9.0, 7.5, 5.0, 1.0])
    assert run["approx_kl"] == pytest.approx([0.010, 0.025, 0.050, 0.090])
    assert run["clip_fraction"] == pytest.approx([0.10, 0.25, 0.50, 0.90])


def test_a_run_without_updates_is_named_in_the_error(tmp_path: Path) -> None:
    write_progress(tmp_path / "run_b", updates=0)
    with pytest.raises(ValueError, match="run_b.*train/entropy_loss"):
        diagnostics.run_diagnostics(tmp_path / "run_b")


def test_paths_without_runs_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        diagnostics.main([str(tmp_path)])
    assert "paths: expected folders holding run folders with progress.csv" in capsys.readouterr().err


def test_epochs_per_update_and_kl_summary_within_a_window(tmp_path: Path) -> None:
    # Five updates of 10, 10, 1, 3 and 10 epochs (train/n_updates is SB3's running count), at 1k..5k env steps.
    epochs, kls = [10, 10, 1, 3, 10], [0.01, 0.02, 0.09, 0.05, 0.03]
    run = tmp_path / "run_kl"
    run.mkdir()
    fields = ["time/total_timesteps", "train/entropy_loss", "train/approx_kl", "train/clip_fraction", "train/n_updates"]
    with open(run / "progress.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerow({"time/total_timesteps": 0})
        for i, kl in enumerate(kls):
            writer.writerow({"time/total_timesteps": 1000 * (i + 1), "train/entropy_loss": -5.0, "train/approx_kl": kl,
                             "train/clip_fraction": 0.1, "train/n_updates": sum(epochs[: i + 1])})
    whole = diagnostics.run_diagnostics(run)["summary"]
    assert whole["updates"] == 5 and whole["epochs_mean"] == pytest.approx(34 / 5)
    assert whole["first_epoch_stops"] == 1
    assert whole["approx_kl_median"] == pytest.approx(0.03) and whole["approx_kl_max"] == pytest.approx(0.09)
    # the updates logged at env steps [2000, 4000): the second and the third
    window = diagnostics.run_diagnostics(run, between=(2000, 4000))["summary"]
    assert window["updates"] == 2 and window["epochs_mean"] == pytest.approx(5.5)
    assert window["first_epoch_stops"] == 1 and window["approx_kl_max"] == pytest.approx(0.09)
    assert diagnostics.run_diagnostics(run, between=(9000, 10000))["summary"] == {"updates": 0}


def test_a_window_must_be_ordered(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_progress(tmp_path / "grid" / "run_c", updates=3)
    with pytest.raises(SystemExit):
        diagnostics.main([str(tmp_path / "grid"), "--between", "5000", "1000"])
    assert "--between: expected 0 <= START < END env steps, got 5000 1000" in capsys.readouterr().err
