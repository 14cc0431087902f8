"""Nearest: a pointer game, pick the item of the asked colour that lies nearest to a target point."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from gymnasium import spaces

from envs import render
from envs.base import FEATURE_HIGH, FEATURE_LOW, check_count_range, check_float, check_int, pack_entities, scatter_slots
from envs.quiz import QuizEnv
from perceiver_rl import entity_space

ARENA = 1.0  # items and the target lie in [-ARENA, ARENA]^2


class Nearest(QuizEnv):
    """Pointer game. Rule: the answer is the item, among those of the target colour, nearest to the target point.

    The answer depends on every candidate's position relative to the others (an argmin over the set), so no fixed
    threshold on one item's features finds it. Each step shows a fresh set of ``min_items..max_items`` items in
    ``[-1, 1]^2`` (slots drawn at random) and a target point and colour; the action (``Discrete(max_items)``) points
    at an item slot. Nearest distances differ from the runner-up's by at least ``margin``, so the answer is clear.

    Observation: ``"item"`` (max_items, 2 + n_colors): x, y and the colour one-hot; ``"global"`` (3 + n_colors):
    target x, y, the target colour one-hot and the round fraction. Reward: +1 per right answer; an episode is
    ``rounds`` questions and succeeds when accuracy >= ``success_accuracy``. :meth:`action_masks` lists the present
    slots (for MaskablePPO).

    Args:
        min_items, max_items: item count drawn per question (default 8..16).
        n_colors: item colours (default 1: pure nearest-to-target; more colours add a filter, harder).
        margin: least gap between the nearest and the second-nearest distance (default 0.05).
        rounds: questions per episode (default 10). success_accuracy: default 0.8.
        render_mode: ``None`` or ``"rgb_array"``.
    """

    action_roles: ClassVar[dict[str, str | None]] = {"actor": None, "targets": "item"}

    def __init__(
        self,
        min_items: int = 8,
        max_items: int = 16,
        n_colors: int = 1,
        margin: float = 0.05,
        rounds: int = 10,
        success_accuracy: float = 0.8,
        render_mode: str | None = None,
    ):
        super().__init__(rounds, success_accuracy, render_mode)
        self.min_items, self.max_items = check_count_range("min_items", min_items, "max_items", max_items, 2)
        self.n_colors = check_int("n_colors", n_colors, 1, len(render.PALETTE))
        self.margin = check_float("margin", margin, 0.0, 0.5)
        self.action_space = spaces.Discrete(self.max_items)
        self.observation_space = entity_space(
            {"item": (self.max_items, 2 + self.n_colors)},
            global_dim=3 + self.n_colors,
            low=FEATURE_LOW,
            high=FEATURE_HIGH,
        )
        self.pos = np.zeros((self.max_items, 2))  # (I, 2)
        self.color = np.zeros(self.max_items, dtype=np.int64)  # (I,)
        self.present = np.zeros(self.max_items, dtype=bool)  # (I,)
        self.target = np.zeros(2)
        self.target_color = 0
        self._eye = np.eye(self.n_colors)

    def _new_question(self) -> None:
        rng, slots = self.np_random, self.max_items
        self.present = scatter_slots(rng, int(rng.integers(self.min_items, slots + 1)), slots)
        present = np.flatnonzero(self.present)
        while True:  # redraw (rarely) until the nearest candidate is clear by `margin`
            u = rng.random(3 * slots + 3)  # one draw: positions, colours, target, the item giving the target colour
            self.pos = u[: 2 * slots].reshape(slots, 2) * (2 * ARENA) - ARENA
            self.color = (u[2 * slots : 3 * slots] * self.n_colors).astype(np.int64)
            self.target = u[3 * slots : 3 * slots + 2] * (2 * ARENA) - ARENA
            self.target_color = int(self.color[present[int(u[-1] * len(present))]])
            d = self.pos - self.target  # (I, 2)
            candidate = self.present & (self.color == self.target_color)
            dist = np.where(candidate, np.hypot(d[:, 0], d[:, 1]), np.inf)  # (I,)
            two = np.partition(dist, 1)[:2]
            if two[1] - two[0] >= self.margin:
                break
        self.answer = int(dist.argmin())

    def _obs(self) -> dict[str, np.ndarray]:
        f = np.empty((self.max_items, 2 + self.n_colors), dtype=np.float32)
        f[:, :2] = self.pos
        f[:, 2:] = self._eye[self.color]
        item, mask = pack_entities(f, self.present)
        glob = np.empty(3 + self.n_colors, dtype=np.float32)
        glob[:2] = self.target
        glob[2:-1] = self._eye[self.target_color]
        glob[-1] = self._round / self.rounds
        return {"item": item, "item_mask": mask, "global": glob}

    def action_masks(self) -> np.ndarray:
        """Bool (max_items,): the present item slots."""
        return self.present.copy()

    def _view(self) -> tuple[float, float, float, float]:
        return (-ARENA, ARENA, -ARENA, ARENA)

    def _entity_positions(self) -> dict[str, np.ndarray]:
        return {"item": self.pos.copy()}

    def _draw(self, canvas: render.Canvas) -> None:
        palette = np.array(render.PALETTE, dtype=np.uint8)
        canvas.disks(self.pos[self.present], 6.0, palette[self.color[self.present]])
        canvas.rings(self.target[None], 9.0, palette[self.target_color], width_px=2.0)
        canvas.disks(self.target[None], 2.0, render.WHITE)
