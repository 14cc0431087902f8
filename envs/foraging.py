"""Foraging: one agent collects the good items of an arena and avoids the harmful ones."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from envs import render
from envs.base import (
    FEATURE_HIGH,
    FEATURE_LOW,
    MOVE_NAMES,
    MOVES,
    EntityEnv,
    check_count_range,
    check_float,
    check_int,
    discrete_action,
    pack_entities,
)
from perceiver_rl import entity_space

ARENA = 1.0  # the arena is the square [-ARENA, ARENA]^2
FOOD, BONUS, POISON = 0, 1, 2
KIND_VALUE = np.array([1.0, 2.0, -1.0])  # reward for eating an item of each kind
KIND_COLORS = np.array([render.GREEN, render.YELLOW, render.PURPLE], dtype=np.uint8)
ITEM_FEATURES = 6
GLOBAL_FEATURES = 4


class Foraging(EntityEnv):
    """Forage in the arena ``[-1, 1]^2``: eat every good item (food +1, bonus +2) while avoiding poison (-1).

    The agent moves by one of 9 fixed verbs (``Discrete(9)``: 0 = stay, 1..8 = east, north-east, ..., south-east)
    by ``speed`` per step and eats every item within ``eat_radius`` (the item's slot becomes absent). The episode
    ends when no good item is left (success, ``info["is_success"] = True``) or after ``max_steps`` (truncated).

    Observation: ``"item"`` (max_items, 6) with the offset to the agent (dx, dy) / 2, distance / 2 and the kind
    one-hot (food, bonus, poison); ``"global"`` (4): agent x, y, step fraction, fraction of good items left.
    Reward: the value of each item eaten (+1 food, +2 bonus, -1 poison), plus ``approach_reward`` x (decrease of
    the distance to the good item that was nearest before the step).

    Args:
        min_food, max_food: food count drawn per episode (default 3..8).
        max_bonus: bonus count drawn per episode in 0..max_bonus (default 2).
        min_poison, max_poison: poison count drawn per episode (default 3..8).
        speed: distance moved per step (default 0.07). eat_radius: eating distance (default 0.1).
        max_steps: step limit (default 150). approach_reward: shaping weight (default 1.0; 0 = item values only).
        render_mode: ``None`` or ``"rgb_array"``.
    """

    verb_names = MOVE_NAMES

    def __init__(
        self,
        min_food: int = 3,
        max_food: int = 8,
        max_bonus: int = 2,
        min_poison: int = 3,
        max_poison: int = 8,
        speed: float = 0.07,
        eat_radius: float = 0.1,
        max_steps: int = 150,
        approach_reward: float = 1.0,
        render_mode: str | None = None,
    ):
        super().__init__(render_mode)
        self.min_food, self.max_food = check_count_range("min_food", min_food, "max_food", max_food, 1)
        self.max_bonus = check_int("max_bonus", max_bonus, 0)
        self.min_poison, self.max_poison = check_count_range("min_poison", min_poison, "max_poison", max_poison, 0)
        self.speed = check_float("speed", speed, 1e-3, ARENA)
        self.eat_radius = check_float("eat_radius", eat_radius, 1e-3, ARENA)
        self.max_steps = check_int("max_steps", max_steps, 1)
        self.approach_reward = check_float("approach_reward", approach_reward, 0.0)
        self.max_items = self.max_food + self.max_bonus + self.max_poison
        self.action_space = spaces.Discrete(len(MOVES))
        self.observation_space = entity_space(
            {"item": (self.max_items, ITEM_FEATURES)}, global_dim=GLOBAL_FEATURES, low=FEATURE_LOW, high=FEATURE_HIGH
        )
        self.agent = np.zeros(2)
        self.items = np.zeros((self.max_items, 2))  # (I, 2) positions
        self.kind = np.zeros(self.max_items, dtype=np.int64)  # (I,)
        self.present = np.zeros(self.max_items, dtype=bool)  # (I,)
        self.kind_onehot = np.zeros((self.max_items, 3))
        self._good_total = 1
        self._dist = np.zeros(self.max_items)  # (I,) distances from the agent at the last observation
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Draw the item counts, scatter the items and the agent, and return the first observation."""
        super().reset(seed=seed)
        rng = self.np_random
        counts = [
            int(rng.integers(self.min_food, self.max_food + 1)),
            int(rng.integers(0, self.max_bonus + 1)),
            int(rng.integers(self.min_poison, self.max_poison + 1)),
        ]
        kinds = np.repeat(np.arange(3), counts)  # (n,)
        slots = rng.permutation(self.max_items)[: len(kinds)]  # present rows sit anywhere
        self.present = np.zeros(self.max_items, dtype=bool)
        self.present[slots] = True
        self.kind = np.full(self.max_items, FOOD)
        self.kind[slots] = kinds
        self.kind_onehot = np.eye(3)[self.kind]
        self.agent = rng.uniform(-0.5 * ARENA, 0.5 * ARENA, 2)
        self.items = rng.uniform(-0.95 * ARENA, 0.95 * ARENA, (self.max_items, 2))
        while (close := np.linalg.norm(self.items - self.agent, axis=1) < 2 * self.eat_radius).any():
            self.items[close] = rng.uniform(-0.95 * ARENA, 0.95 * ARENA, (int(close.sum()), 2))  # none starts eaten
        self._good_total = counts[FOOD] + counts[BONUS]
        self._steps = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        """Move the agent, eat what it reaches; see the class docstring for the rules."""
        a = discrete_action(action, len(MOVES))
        good = self.present & (self.kind != POISON)  # (I,)
        target = int(np.where(good, self._dist, np.inf).argmin())  # the nearest good item before the move
        self.agent = np.clip(self.agent + MOVES[a] * self.speed, -ARENA, ARENA)
        d = self.items - self.agent  # (I, 2)
        dist = np.sqrt(np.einsum("ij,ij->i", d, d))  # (I,)
        reward = self.approach_reward * (self._dist[target] - dist[target])
        eaten = self.present & (dist <= self.eat_radius)
        self.present &= ~eaten
        reward += float(KIND_VALUE[self.kind[eaten]].sum())
        self._steps += 1
        terminated = self._good_left() == 0
        truncated = not terminated and self._steps >= self.max_steps
        info = {"is_success": terminated} if terminated or truncated else {}
        return self._obs(d, dist), reward, terminated, truncated, info

    def _good_left(self) -> int:
        return int(np.count_nonzero(self.present & (self.kind != POISON)))

    def _obs(self, d: np.ndarray | None = None, dist: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The observation; ``d`` (I, 2) and ``dist`` (I,): the items' offsets from the agent, if already known."""
        if d is None or dist is None:
            d = self.items - self.agent
            dist = np.sqrt(np.einsum("ij,ij->i", d, d))
        self._dist = dist
        f = np.empty((self.max_items, ITEM_FEATURES))
        f[:, 0:2] = d * 0.5
        f[:, 2] = dist * 0.5
        f[:, 3:6] = self.kind_onehot
        item, mask = pack_entities(f, self.present)
        glob = np.array(
            [*self.agent, self._steps / self.max_steps, self._good_left() / self._good_total], dtype=np.float32
        )
        return {"item": item, "item_mask": mask, "global": glob}

    def heuristic_action(self) -> int:
        """Greedy: the move that brings the agent closest to a good item without stepping next to poison."""
        after = np.clip(self.agent + MOVES[1:] * self.speed, -ARENA, ARENA)  # (8, 2) positions after each move
        d = np.linalg.norm(after[:, None, :] - self.items[None, :, :], axis=2)  # (8, I)
        good = self.present & (self.kind != POISON)
        poison = self.present & (self.kind == POISON)
        cost = np.where(good[None, :], d, np.inf).min(1)
        cost = cost + 10.0 * (np.where(poison[None, :], d, np.inf).min(1) <= self.eat_radius + 0.02)
        return int(1 + cost.argmin())

    def _view(self) -> tuple[float, float, float, float]:
        return (-ARENA, ARENA, -ARENA, ARENA)

    def _entity_positions(self) -> dict[str, np.ndarray]:
        return {"item": self.items.copy()}

    def _draw(self, canvas: render.Canvas) -> None:
        canvas.outline(-ARENA, -ARENA, ARENA, ARENA)
        canvas.disks(self.items[self.present], 5.0, KIND_COLORS[self.kind[self.present]])
        canvas.disks(self.agent[None], 7.0, render.BLUE)
        canvas.rings(self.agent[None], canvas.pixels(self.eat_radius), render.GREY, width_px=1.0)
