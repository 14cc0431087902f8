"""Tiny one-step entity tasks for the policy tests: each needs a different decoding path to be solved.

- :class:`PointerTask`: pick the item with the largest value (``Discrete(max_items)``, ``targets="item"``).
- :class:`PerActorTask`: each present unit must answer its own feature's sign (``actor="unit"``).
- :class:`MajorityTask`: say which colour most present dots have (two fixed verbs, whole set).

Rewards are 1 for a right answer (per unit, averaged, for :class:`PerActorTask`); ``info["is_success"]`` says whether
the whole answer was right. Present rows sit at random slots, padded rows hold noise, so nothing can be read off a
fixed position or off the padding.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from perceiver_rl import entity_space

TINY = dict(dim=16, num_latents=4, num_layers=1, num_heads=2)  # policy sizes that build and run fast in tests


class _OneStepTask(gym.Env):
    """A one-step episode: observe a random set, act once, get a reward."""

    def __init__(self, types: dict[str, tuple[int, int]], global_dim: int = 0) -> None:
        self.observation_space = entity_space(types, global_dim=global_dim, low=-3.0, high=3.0)
        self._obs: dict[str, np.ndarray] = {}

    def _present(self, max_count: int, low: int) -> np.ndarray:
        """A random 0/1 mask with between ``low`` and ``max_count`` present slots, anywhere."""
        count = self.np_random.integers(low, max_count + 1)
        mask = np.zeros(max_count, dtype=np.int8)
        mask[self.np_random.choice(max_count, count, replace=False)] = 1
        return mask

    def _features(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Entity rows (max, F) with padded rows filled with noise that must be ignored."""
        noise = self.np_random.uniform(-3, 3, size=values.shape).astype(np.float32)
        return np.where(mask[:, None] == 1, values, noise).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._obs = self._sample()
        return self._obs, {}

    def step(self, action):
        reward, success = self._score(action)
        return self._obs, float(reward), True, False, {"is_success": bool(success)}

    def _sample(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _score(self, action) -> tuple[float, bool]:
        raise NotImplementedError


class PointerTask(_OneStepTask):
    """Pick the present item with the largest value."""

    def __init__(self, max_items: int = 8) -> None:
        super().__init__({"item": (max_items, 1)})
        self.action_space = spaces.Discrete(max_items)

    def _sample(self):
        mask = self._present(self.action_space.n, 2)
        values = self.np_random.uniform(-1, 1, size=(self.action_space.n, 1))
        return {"item": self._features(values, mask), "item_mask": mask}

    def _score(self, action):
        values = np.where(self._obs["item_mask"] == 1, self._obs["item"][:, 0], -np.inf)
        right = int(action) == int(np.argmax(values))
        return float(right), right


class PerActorTask(_OneStepTask):
    """Each present unit answers 1 if its own first feature is positive, else 0."""

    def __init__(self, max_units: int = 4) -> None:
        super().__init__({"unit": (max_units, 2)})
        self.action_space = spaces.MultiDiscrete([2] * max_units)

    def _sample(self):
        n = self.action_space.shape[0]
        mask = self._present(n, 1)
        values = self.np_random.uniform(-1, 1, size=(n, 2))
        values[:, 0] = self.np_random.choice([-1, 1], size=n) * self.np_random.uniform(0.2, 1, size=n)  # a margin
        return {"unit": self._features(values, mask), "unit_mask": mask}

    def _score(self, action):
        present = self._obs["unit_mask"] == 1
        right = (np.asarray(action) == (self._obs["unit"][:, 0] > 0))[present]
        return float(right.mean()), bool(right.all())


class MajorityTask(_OneStepTask):
    """Answer 0 if more present dots are red, 1 if more are blue; the counts differ by at least 2."""

    def __init__(self, max_dots: int = 8) -> None:
        super().__init__({"dot": (max_dots, 3)}, global_dim=1)
        self.action_space = spaces.Discrete(2)

    def _sample(self):
        n = self.observation_space["dot"].shape[0]
        few = self.np_random.integers(0, n // 2 - 1)  # the minority count
        many = self.np_random.integers(few + 2, n - few + 1)  # the majority count, at least 2 more
        blue_wins = self.np_random.integers(0, 2)
        slots = self.np_random.permutation(n)
        mask = np.zeros(n, dtype=np.int8)
        mask[slots[: few + many]] = 1
        blue = np.zeros(n, dtype=np.int64)
        blue[slots[:many] if blue_wins else slots[many : many + few]] = 1
        features = np.stack([1 - blue, blue, self.np_random.uniform(-1, 1, size=n)], axis=1)
        return {"dot": self._features(features, mask), "dot_mask": mask, "global": np.zeros(1, np.float32)}

    def _score(self, action):
        present = self._obs["dot_mask"] == 1
        majority_blue = int(self._obs["dot"][present, 1].sum() * 2 > present.sum())
        right = int(action) == majority_blue
        return float(right), right
