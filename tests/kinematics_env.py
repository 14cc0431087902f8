"""A stand-in for highway-env with its observation layout, so the preset and wrapper plumbing is tested without it.

``Convoy`` takes highway-env's ``config`` dict (``gym.make(id, config={"observation": {...}})``) and observes one
2-D ``Box`` (vehicles_count, features), a row per vehicle, the ego vehicle first, column ``presence`` 1 for present
vehicles and 0 on padded rows (zeros), like highway-env's Kinematics. Reward 1 per step for action 1, 5 steps.
Importing this module registers it as ``perceiver_rl_test/Convoy-v0`` (``--env-package kinematics_env``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

CONVOY = "perceiver_rl_test/Convoy-v0"
DEFAULT_OBSERVATION = {"type": "Kinematics", "vehicles_count": 5, "features": ["presence", "x", "y", "vx", "vy"]}


class Convoy(gym.Env):
    """Up to ``vehicles_count`` vehicles in highway-env's Kinematics layout; any number but the ego may be absent."""

    metadata = {"render_modes": []}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = {"observation": dict(DEFAULT_OBSERVATION), "duration": 5, **(config or {})}
        observation = self.config["observation"]
        if observation.get("type") != "Kinematics":
            raise ValueError(f"config['observation']['type']: expected 'Kinematics', got {observation.get('type')!r}")
        self.features = list(observation.get("features", DEFAULT_OBSERVATION["features"]))
        self.vehicles = int(observation.get("vehicles_count", DEFAULT_OBSERVATION["vehicles_count"]))
        self.observation_space = spaces.Box(-np.inf, np.inf, (self.vehicles, len(self.features)), np.float32)
        self.action_space = spaces.Discrete(5)
        self._t = 0

    def _observe(self) -> np.ndarray:
        rows = self.np_random.uniform(-1, 1, size=self.observation_space.shape).astype(np.float32)
        present = np.arange(self.vehicles) < self.np_random.integers(1, self.vehicles + 1)  # the ego always
        rows[~present] = 0.0
        if "presence" in self.features:
            rows[:, self.features.index("presence")] = present
        return rows

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        return self._observe(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._t += 1
        return self._observe(), float(int(action) == 1), False, self._t >= self.config["duration"], {}


if CONVOY not in gym.registry:
    gym.register(CONVOY, entry_point=Convoy)
