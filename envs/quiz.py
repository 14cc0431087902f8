"""The shared loop of the one-answer-per-round games: each step shows a fresh set of items and takes one answer."""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.base import EntityEnv, check_float, check_int, discrete_action


class QuizEnv(EntityEnv):
    """``rounds`` questions per episode; a step answers the current one (+1 reward if right) and shows the next.

    The episode terminates after the last round with ``info["is_success"]`` = (accuracy >= ``success_accuracy``).
    Subclasses set ``action_space`` and implement :meth:`_new_question` (which sets ``answer``) and :meth:`_obs`; a
    ``Discrete`` answer is graded as right or wrong, other action spaces override :meth:`_grade`.
    """

    def __init__(self, rounds: int, success_accuracy: float, render_mode: str | None):
        super().__init__(render_mode)
        self.rounds = check_int("rounds", rounds, 1)
        self.success_accuracy = check_float("success_accuracy", success_accuracy, 0.0, 1.0)
        self.answer = 0
        self._round = 0
        self._correct = 0

    def _new_question(self) -> None:
        """Draw a fresh item set from ``self.np_random`` and set ``self.answer``."""
        raise NotImplementedError

    def _obs(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Start a new episode with a fresh question."""
        super().reset(seed=seed)
        self._round = self._correct = 0
        self._new_question()
        return self._obs(), {}

    def _grade(self, action: Any) -> float:
        """The share of ``action`` that answers the current question right: 1.0 or 0.0 for one ``Discrete`` answer."""
        return float(discrete_action(action, int(self.action_space.n)) == self.answer)

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        """Score the answer to the current question (its :meth:`_grade`), then show the next one."""
        correct = self._grade(action)
        self._correct += correct
        self._round += 1
        terminated = self._round >= self.rounds
        info: dict[str, Any] = {}
        if terminated:
            info["is_success"] = self._correct >= self.success_accuracy * self.rounds
        else:
            self._new_question()
        return self._obs(), correct, terminated, False, info

    def heuristic_action(self) -> Any:
        """The right answer, read from the true state."""
        return self.answer
