"""Majority: an aggregation game, name the colour group with the most members (or the largest total size)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from envs import render
from envs.base import FEATURE_HIGH, FEATURE_LOW, check_count_range, check_int, pack_entities, scatter_slots
from envs.quiz import QuizEnv
from perceiver_rl import entity_space

ARENA = 1.0  # items lie in [-ARENA, ARENA]^2


class Majority(QuizEnv):
    """Aggregation game: answer which colour group is the largest; the answer depends on the whole set.

    Each step shows a fresh set of ``min_items..max_items`` items (slots drawn at random), each with a colour out of
    ``n_colors``, a size in [0.2, 1] and a position; the action (``Discrete(n_colors)``, fixed verbs "colour k")
    names the colour with the most items (``weighted=True``: the largest total size). Groups are redrawn until the
    largest leads the runner-up by at least one item (0.2 of size when weighted). Positions (and, unweighted, sizes)
    are distractors.

    Observation: ``"item"`` (max_items, 3 + n_colors): x, y, size and the colour one-hot; ``"global"`` (1): the round
    fraction. Reward: +1 per right answer; an episode is ``rounds`` questions and succeeds when accuracy >=
    ``success_accuracy``.

    Args:
        min_items, max_items: item count drawn per question (default 6..20).
        n_colors: the colours, i.e. actions (default 3).
        weighted: compare total sizes instead of counts (default False).
        rounds: questions per episode (default 10). success_accuracy: default 0.8.
        render_mode: ``None`` or ``"rgb_array"``.
    """

    def __init__(
        self,
        min_items: int = 6,
        max_items: int = 20,
        n_colors: int = 3,
        weighted: bool = False,
        rounds: int = 10,
        success_accuracy: float = 0.8,
        render_mode: str | None = None,
    ):
        super().__init__(rounds, success_accuracy, render_mode)
        self.min_items, self.max_items = check_count_range("min_items", min_items, "max_items", max_items, 1)
        self.n_colors = check_int("n_colors", n_colors, 2, len(render.PALETTE))
        self.verb_names = render.PALETTE_NAMES[: self.n_colors]
        self.weighted = bool(weighted)
        self.action_space = spaces.Discrete(self.n_colors)
        self.observation_space = entity_space(
            {"item": (self.max_items, 3 + self.n_colors)}, global_dim=1, low=FEATURE_LOW, high=FEATURE_HIGH
        )
        self.pos = np.zeros((self.max_items, 2))  # (I, 2)
        self.size = np.zeros(self.max_items)  # (I,)
        self.color = np.zeros(self.max_items, dtype=np.int64)  # (I,)
        self.present = np.zeros(self.max_items, dtype=bool)  # (I,)

    def _new_question(self) -> None:
        rng = self.np_random
        lead = 0.2 if self.weighted else 1.0
        while True:  # redraw (rarely) until one group clearly leads
            n = int(rng.integers(self.min_items, self.max_items + 1))
            self.present = scatter_slots(rng, n, self.max_items)
            self.color = rng.integers(0, self.n_colors, self.max_items)
            self.size = rng.uniform(0.2, 1.0, self.max_items)
            weight = self.present * (self.size if self.weighted else 1.0)
            totals = np.bincount(self.color, weights=weight, minlength=self.n_colors)  # (n_colors,)
            top = np.sort(totals)[-2:]
            if top[1] - top[0] >= lead - 1e-9:
                break
        self.pos = rng.uniform(-ARENA, ARENA, (self.max_items, 2))
        self.answer = int(totals.argmax())

    def _obs(self) -> dict[str, np.ndarray]:
        f = np.concatenate([self.pos, self.size[:, None], np.eye(self.n_colors)[self.color]], axis=1)
        item, mask = pack_entities(f, self.present)
        return {"item": item, "item_mask": mask, "global": np.array([self._round / self.rounds], dtype=np.float32)}

    def _view(self) -> tuple[float, float, float, float]:
        return (-ARENA, ARENA, -ARENA, ARENA)

    def _entity_positions(self) -> dict[str, np.ndarray]:
        return {"item": self.pos.copy()}

    def _draw(self, canvas: render.Canvas) -> None:
        palette = np.array(render.PALETTE, dtype=np.uint8)
        size_class = np.rint((self.size - 0.2) / 0.4)  # (I,) in {0, 1, 2}
        for k in range(3):  # one vectorised call per size class
            show = self.present & (size_class == k)
            canvas.disks(self.pos[show], 3.0 + 2.0 * k, palette[self.color[show]])
