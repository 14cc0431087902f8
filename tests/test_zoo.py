"""rl_zoo3 trains a shipped game with PerceiverPolicy from the command docs/TRAINING.md documents (the zoo extra)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from stable_baselines3 import PPO

from perceiver_rl import PerceiverPolicy

pytest.importorskip("rl_zoo3")
REPO = Path(__file__).resolve().parents[1]


def documented_command() -> list[str]:
    """The rl_zoo3 training command of docs/TRAINING.md, its interpreter this one and ``zoo/ppo.yml`` this repo's."""
    (line,) = re.findall(r"^\.venv/bin/python -m rl_zoo3\.train .*$", (REPO / "docs" / "TRAINING.md").read_text(), re.M)
    words = shlex.split(line)
    words[words.index("--conf-file") + 1] = str(REPO / "zoo" / "ppo.yml")
    return [sys.executable, *words[1:]]


@pytest.mark.slow
def test_rl_zoo3_trains_skirmish_with_the_perceiver_policy(tmp_path: Path) -> None:
    small = ["-n", "256", "--eval-freq", "-1", "-f", "logs", "--seed", "0",
             "-params", "n_envs:2", "n_steps:64", "batch_size:64", "n_epochs:1"]  # 256 steps in 64-step rollouts
    result = subprocess.run([*documented_command(), *small], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    model = PPO.load(tmp_path / "logs" / "ppo" / "perceiver_rl-Skirmish-v0_1" / "perceiver_rl-Skirmish-v0.zip")
    assert isinstance(model.policy, PerceiverPolicy) and model.num_timesteps == 256
    assert model.policy_kwargs["actor"] == "ally" and model.policy_kwargs["targets"] == "enemy"
