"""The skills suite: six small set-reasoning games, each needing one skill, to measure how fast a core learns it.

Every game is a quiz (:class:`~envs.quiz.QuizEnv`): each step shows a fresh set at random slots and takes one answer
(per actor, for the per-actor games), reward = the share answered right. Padded rows are zero and masked out, so
nothing can be read off a fixed slot. Every game has a ``"global"`` vector (the round fraction), whose token also
lets attention tell a count from a proportion.

==============  ===============================  ===================================================================
game            skill                            rule
==============  ===============================  ===================================================================
:class:`Xor`    a relation between two entities  the XOR of the bits of the two marked items
:class:`Count`  counting                         how many items are red
:class:`ArgmaxSum`  aggregation                  the channel whose items' values sum highest
:class:`Select` selection (a pointer)            point at the item with the largest value
:class:`Orders` per-actor decisions              each unit names the quadrant of its own two features
:class:`Focus`  a target that depends on others  every unit points at the target nearest to the units' centroid
==============  ===============================  ===================================================================

``benchmarks/learning_speed.py`` trains each core on each game and reports the steps to reach
``success_accuracy``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from envs.base import (
    FEATURE_HIGH,
    FEATURE_LOW,
    check_count_range,
    check_float,
    check_int,
    multidiscrete_action,
    pack_entities,
    scatter_slots,
)
from envs.quiz import QuizEnv
from perceiver_rl import entity_space


class SkillGame(QuizEnv):
    """A quiz over entity sets with one ``global`` feature (the round fraction) and no rendering.

    Subclasses set ``action_space``, ``observation_space`` (through :meth:`_space`), implement
    :meth:`_new_question` and :meth:`_features` (entity type -> (features, presence)).
    """

    metadata = {"render_modes": [], "render_fps": 10}

    def __init__(self, rounds: int, success_accuracy: float) -> None:
        super().__init__(rounds, success_accuracy, render_mode=None)

    @staticmethod
    def _space(types: dict[str, tuple[int, int]]) -> spaces.Dict:
        return entity_space(types, global_dim=1, low=FEATURE_LOW, high=FEATURE_HIGH)

    def _features(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Entity type -> (features (max_T, F) in [-1, 1], presence (max_T,) bool) of the current question."""
        raise NotImplementedError

    def _obs(self) -> dict[str, np.ndarray]:
        obs: dict[str, np.ndarray] = {}
        for name, (features, present) in self._features().items():
            obs[name], obs[f"{name}_mask"] = pack_entities(features, present)
        obs["global"] = np.array([self._round / self.rounds], dtype=np.float32)
        return obs


class _ItemGame(SkillGame):
    """A skill game over one ``item`` type with ``min_items..max_items`` present per question; subclasses set
    ``features`` (max_items, F) in :meth:`_new_question`."""

    def __init__(self, min_items: int, max_items: int, least: int, rounds: int, success_accuracy: float) -> None:
        super().__init__(rounds, success_accuracy)
        self.min_items, self.max_items = check_count_range("min_items", min_items, "max_items", max_items, least)
        self.present = np.zeros(self.max_items, dtype=bool)  # (I,)

    def _features(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {"item": (self.features.copy(), self.present)}

    def _draw_present(self) -> np.ndarray:
        """A fresh presence mask (I,) with a random count of items at random slots; also kept in ``present``."""
        rng = self.np_random
        self.present = scatter_slots(rng, int(rng.integers(self.min_items, self.max_items + 1)), self.max_items)
        return self.present


class Xor(_ItemGame):
    """Relation: answer the XOR of the bits of the two marked items (``Discrete(2)``); the others are distractors.

    Item features: the bit (+-1), marked A, marked B, a noise value in [-1, 1]. One bit alone says nothing (each
    answer is equally likely given it), so the answer needs both marked items read together.
    """

    def __init__(self, min_items: int = 4, max_items: int = 8, rounds: int = 8, success_accuracy: float = 0.9) -> None:
        super().__init__(min_items, max_items, 2, rounds, success_accuracy)
        self.action_space = spaces.Discrete(2)
        self.observation_space = self._space({"item": (self.max_items, 4)})
        self.features = np.zeros((self.max_items, 4))

    def _new_question(self) -> None:
        rng = self.np_random
        slots = np.flatnonzero(self._draw_present())
        a, b = rng.choice(slots, 2, replace=False)
        bits = rng.integers(0, 2, self.max_items)
        self.features = np.stack([2.0 * bits - 1, np.arange(self.max_items) == a, np.arange(self.max_items) == b,
                                  rng.uniform(-1, 1, self.max_items)], axis=1)
        self.answer = int(bits[a] != bits[b])


class Count(_ItemGame):
    """Counting: answer how many items are red (``Discrete(max_items + 1)``).

    Item features: red (+1) or blue (-1), two noise values. Counts, not proportions: three red of four and six of
    eight differ.
    """

    def __init__(self, min_items: int = 1, max_items: int = 6, rounds: int = 8, success_accuracy: float = 0.9) -> None:
        super().__init__(min_items, max_items, 1, rounds, success_accuracy)
        self.action_space = spaces.Discrete(self.max_items + 1)
        self.observation_space = self._space({"item": (self.max_items, 3)})
        self.features = np.zeros((self.max_items, 3))

    def _new_question(self) -> None:
        rng = self.np_random
        present = self._draw_present()
        red = rng.random(self.max_items) < 0.5
        self.features = np.concatenate([np.where(red, 1.0, -1.0)[:, None], rng.uniform(-1, 1, (self.max_items, 2))],
                                       axis=1)
        self.answer = int((red & present).sum())


class ArgmaxSum(_ItemGame):
    """Aggregation: answer the channel whose items' values sum highest (``Discrete(channels)``).

    Item features: the channel one-hot and a value in [0, 1]. Sets are redrawn until the best sum leads the
    runner-up by ``margin``, so the answer is clear.
    """

    def __init__(self, min_items: int = 3, max_items: int = 10, channels: int = 4, margin: float = 0.3,
                 rounds: int = 8, success_accuracy: float = 0.9) -> None:
        super().__init__(min_items, max_items, 1, rounds, success_accuracy)
        self.channels = check_int("channels", channels, 2)
        self.margin = check_float("margin", margin, 0.0, 1.0)
        self.action_space = spaces.Discrete(channels)
        self.observation_space = self._space({"item": (self.max_items, channels + 1)})
        self.features = np.zeros((self.max_items, channels + 1))

    def _new_question(self) -> None:
        rng = self.np_random
        while True:  # redraw (rarely) until one channel clearly leads
            present = self._draw_present()
            channel = rng.integers(0, self.channels, self.max_items)
            value = rng.random(self.max_items)
            sums = np.bincount(channel, weights=value * present, minlength=self.channels)  # (channels,)
            top = np.sort(sums)[-2:]
            if top[1] - top[0] >= self.margin:
                break
        self.features = np.concatenate([np.eye(self.channels)[channel], value[:, None]], axis=1)
        self.answer = int(sums.argmax())


class Select(_ItemGame):
    """Selection: point at the item with the largest value (``Discrete(max_items)``, a pointer over ``item``).

    Item features: the value in [-1, 1] and two noise values; the largest value leads the next by ``margin``.
    """

    action_roles: ClassVar[dict[str, str | None]] = {"actor": None, "targets": "item"}

    def __init__(self, min_items: int = 3, max_items: int = 10, margin: float = 0.1, rounds: int = 8,
                 success_accuracy: float = 0.9) -> None:
        super().__init__(min_items, max_items, 2, rounds, success_accuracy)
        self.margin = check_float("margin", margin, 0.0, 0.5)
        self.action_space = spaces.Discrete(self.max_items)
        self.observation_space = self._space({"item": (self.max_items, 3)})
        self.features = np.zeros((self.max_items, 3))

    def _new_question(self) -> None:
        rng = self.np_random
        while True:  # redraw (rarely) until the largest value is clear
            present = self._draw_present()
            self.features = rng.uniform(-1, 1, (self.max_items, 3))
            value = np.where(present, self.features[:, 0], -np.inf)
            top = np.sort(value)[-2:]
            if top[1] - top[0] >= self.margin:
                break
        self.answer = int(value.argmax())

    def action_masks(self) -> np.ndarray:
        """Bool (max_items,): the present item slots."""
        return self.present.copy()


class _UnitGame(SkillGame):
    """A per-actor skill game: one answer per ``unit`` slot (``MultiDiscrete``); padded slots must answer 0.

    The reward is the share of present units that answer right.
    """

    action_roles: ClassVar[dict[str, str | None]] = {"actor": "unit", "targets": None}

    def __init__(self, min_units: int, max_units: int, choices: int, rounds: int, success_accuracy: float) -> None:
        super().__init__(rounds, success_accuracy)
        self.min_units, self.max_units = check_count_range("min_units", min_units, "max_units", max_units, 1)
        self.action_space = spaces.MultiDiscrete(np.full(self.max_units, choices))
        self.units = np.zeros(self.max_units, dtype=bool)  # (U,)
        self.answer = np.zeros(self.max_units, dtype=np.int64)

    def _draw_units(self) -> np.ndarray:
        rng = self.np_random
        self.units = scatter_slots(rng, int(rng.integers(self.min_units, self.max_units + 1)), self.max_units)
        return self.units

    def _grade(self, action: Any) -> float:
        """The share of present units whose answer is right."""
        right = multidiscrete_action(action, self.action_space.nvec) == self.answer  # (U,)
        return float(right[self.units].mean())

    def action_masks(self) -> np.ndarray:
        """Bool (U * choices,): every choice of a present unit, choice 0 alone for a padded slot."""
        masks = np.zeros(self.action_space.nvec.shape + (int(self.action_space.nvec[0]),), dtype=bool)
        masks[self.units] = True
        masks[~self.units, 0] = True
        return masks.reshape(-1)


class Orders(_UnitGame):
    """Per-actor decisions: each unit names the quadrant of its own two features, ``2 * (a > 0) + (b > 0)``.

    Unit features: a, b in [-1, 1] (at least ``margin`` from 0) and a noise value. ``MultiDiscrete([4] * max_units)``.
    """

    def __init__(self, min_units: int = 1, max_units: int = 6, margin: float = 0.1, rounds: int = 8,
                 success_accuracy: float = 0.9) -> None:
        super().__init__(min_units, max_units, 4, rounds, success_accuracy)
        self.margin = check_float("margin", margin, 0.0, 0.5)
        self.observation_space = self._space({"unit": (self.max_units, 3)})
        self.features = np.zeros((self.max_units, 3))

    def _new_question(self) -> None:
        rng = self.np_random
        units = self._draw_units()
        sign = rng.choice([-1.0, 1.0], (self.max_units, 2))
        a_b = sign * rng.uniform(self.margin, 1.0, (self.max_units, 2))
        self.features = np.concatenate([a_b, rng.uniform(-1, 1, (self.max_units, 1))], axis=1)
        self.answer = np.where(units, 2 * (a_b[:, 0] > 0) + (a_b[:, 1] > 0), 0).astype(np.int64)

    def _features(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {"unit": (self.features.copy(), self.units)}


class Focus(_UnitGame):
    """A target that depends on other entities: every unit points at the target nearest to the units' centroid.

    Units and targets lie in [-1, 1]^2 (features x, y); no unit's own position decides its answer, the squad's does.
    The nearest target leads the next by ``margin`` in distance. ``MultiDiscrete([max_targets] * max_units)``,
    each a pointer over ``target``.
    """

    action_roles: ClassVar[dict[str, str | None]] = {"actor": "unit", "targets": "target"}

    def __init__(self, min_units: int = 2, max_units: int = 4, min_targets: int = 2, max_targets: int = 6,
                 margin: float = 0.1, rounds: int = 8, success_accuracy: float = 0.9) -> None:
        self.min_targets, self.max_targets = check_count_range("min_targets", min_targets, "max_targets",
                                                               max_targets, 2)
        super().__init__(min_units, max_units, self.max_targets, rounds, success_accuracy)
        self.margin = check_float("margin", margin, 0.0, 0.5)
        self.observation_space = self._space({"unit": (self.max_units, 2), "target": (self.max_targets, 2)})
        self.unit_pos = np.zeros((self.max_units, 2))
        self.target_pos = np.zeros((self.max_targets, 2))
        self.targets = np.zeros(self.max_targets, dtype=bool)

    def _new_question(self) -> None:
        rng = self.np_random
        while True:  # redraw (rarely) until the nearest target is clear
            units = self._draw_units()
            self.targets = scatter_slots(rng, int(rng.integers(self.min_targets, self.max_targets + 1)),
                                         self.max_targets)
            self.unit_pos = rng.uniform(-1, 1, (self.max_units, 2))
            self.target_pos = rng.uniform(-1, 1, (self.max_targets, 2))
            centroid = self.unit_pos[units].mean(0)  # (2,)
            dist = np.where(self.targets, np.linalg.norm(self.target_pos - centroid, axis=1), np.inf)  # (T,)
            two = np.sort(dist)[:2]
            if two[1] - two[0] >= self.margin:
                break
        self.answer = np.where(units, int(dist.argmin()), 0).astype(np.int64)

    def _features(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {"unit": (self.unit_pos.copy(), self.units), "target": (self.target_pos.copy(), self.targets)}

    def action_masks(self) -> np.ndarray:
        """Bool (U * T,): a present unit may point at any present target; a padded slot at slot 0 alone."""
        masks = np.zeros((self.max_units, self.max_targets), dtype=bool)
        masks[self.units] = self.targets
        masks[~self.units, 0] = True
        return masks.reshape(-1)


#: Registered id -> skill game, in the order of the table above.
SKILLS: dict[str, type[SkillGame]] = {
    "perceiver_rl/Xor-v0": Xor,
    "perceiver_rl/Count-v0": Count,
    "perceiver_rl/ArgmaxSum-v0": ArgmaxSum,
    "perceiver_rl/Select-v0": Select,
    "perceiver_rl/Orders-v0": Orders,
    "perceiver_rl/Focus-v0": Focus,
}
