"""An entity array with a presence column, as many envs return one, turned into the entity convention.

Envs with entities often observe one 2-D array, a row per entity and one column a presence flag (highway-env's
Kinematics: ``presence, x, y, vx, vy``). :class:`PresenceMask` turns it into ``{name: rows without the flag,
name_mask: flag > threshold}``, so that padded rows are masked out rather than read as entities.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from perceiver_rl.entities import MASK_SUFFIX


class PresenceMask(gym.ObservationWrapper):
    """Split the presence column off an entity array: the env's ``Box`` (N, F), or the Dict key ``key`` holding one.

    Args:
        env: the env to wrap.
        name: the entity type name of the rows (its mask key is ``name + "_mask"``); defaults to ``key``, or
            ``"obs"`` for a ``Box`` observation.
        presence: the column that holds the presence flag (negative counts from the end).
        threshold: a row is present where its flag is above this (0.5 for 0/1 flags; float flags too).
        key: with a ``Dict`` observation, the key holding the array; the other keys stay as they are.
    """

    def __init__(self, env: gym.Env, name: str | None = None, presence: int = 0, threshold: float = 0.5,
                 key: str | None = None) -> None:
        super().__init__(env)
        space = env.observation_space
        if isinstance(space, spaces.Dict):
            if key not in space.spaces:
                raise ValueError(f"key: expected one of the observation's keys {list(space.spaces)}, got {key!r}")
            rows, others = space.spaces[key], {k: s for k, s in space.spaces.items() if k != key}
            where = f"observation_space[{key!r}]"
        elif key is not None:
            raise ValueError(f"key: the observation is a {type(space).__name__}, not a Dict; expected None, "
                             f"got {key!r}")
        else:
            rows, others, where = space, {}, "observation_space"
        if not isinstance(rows, spaces.Box) or len(rows.shape) != 2:
            raise ValueError(f"{where}: expected a 2-D Box (rows, features), got {rows}")
        features = rows.shape[1]
        if not -features <= presence < features or features < 2:
            raise ValueError(f"presence: expected a column index in [{-features}, {features}) of {where}'s "
                             f"{features} features, leaving at least one, got {presence}")
        self.name = name or key or "obs"
        self.key, self.threshold = key, float(threshold)
        self.presence = presence % features
        self.keep = np.array([c for c in range(features) if c != self.presence])  # the feature columns
        taken = set(others) & {self.name, self.name + MASK_SUFFIX}
        if taken:
            raise ValueError(f"name: {self.name!r} would overwrite the observation's key(s) {sorted(taken)}")
        entity = spaces.Box(rows.low[:, self.keep], rows.high[:, self.keep], dtype=rows.dtype)
        self.observation_space = spaces.Dict(
            {**others, self.name: entity, self.name + MASK_SUFFIX: spaces.MultiBinary(rows.shape[0])}
        )

    def observation(self, observation: Any) -> dict[str, np.ndarray]:
        """The wrapped env's observation in the entity convention."""
        others = dict(observation) if self.key is not None else {}
        rows = np.asarray(others.pop(self.key) if self.key is not None else observation)  # (N, F)
        mask = (rows[:, self.presence] > self.threshold).astype(np.int8)  # (N,)
        return {**others, self.name: rows[:, self.keep], self.name + MASK_SUFFIX: mask}
