"""Minefield: the large-N game, cross a field of drifting mines to a goal; only the nearby mines matter."""

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
    scatter_slots,
)
from perceiver_rl import entity_space

MINE_FEATURES = 5
GLOBAL_FEATURES = 6
CLEAR_RADIUS = 0.25  # no mine starts this close to the agent or the goal
VIEW_HALF = 2.0  # a frame shows at most a (2 * VIEW_HALF)^2 window around the agent
MAX_MINES = 65536
MINE_SPEED = (0.005, 0.03)  # range of the mines' drift per step


class Minefield(EntityEnv):
    """Cross a minefield to a goal ``goal_distance`` away without touching a drifting mine.

    The arena is the square ``[-L, L]^2`` with ``L = max(1, sqrt(n_mines / density) / 2)``: the mine density stays
    the same at every size, so a larger field holds more mines but the agent's path meets the same few; most of the
    ``n_mines`` entities are far away and irrelevant at any moment. Mines drift at constant velocity and bounce off
    the walls. The agent moves by one of 9 fixed verbs (``Discrete(9)``: 0 = stay, 1..8 = east, north-east, ...,
    south-east) by ``speed`` per step.

    Observation: ``"mine"`` (n_mines, 5): offset to the agent (dx, dy) / ``view`` (clipped to [-1, 1]), velocity /
    0.03, and closeness ``max(0, 1 - gap / view)`` (gap = distance between the edges); ``"global"`` (6): goal offset
    (dx, dy) / goal_distance, agent x / L, y / L, step fraction, goal distance / goal_distance.
    Reward: ``progress_reward`` x (decrease of the distance to the goal) per step, ``+goal_bonus`` on reaching the
    goal (within 0.1; ``info["is_success"] = True``), ``-hit_penalty`` on touching a mine (the episode ends).

    Args:
        n_mines: mine slots, 1..65536 (default 16; the scaling benchmarks use 16..4096).
        min_mines: least mines drawn per episode (default 3/4 of ``n_mines``, rounded up).
        density: mines per unit area (default 2.0).
        mine_radius: default 0.06. agent_radius: default 0.03. speed: agent step length (default 0.06).
        goal_distance: start-goal distance (default 1.5). view: feature scale of offsets (default 1.0).
        progress_reward, goal_bonus, hit_penalty: reward scales (default 5.0, 5.0, 2.0).
        max_steps: step limit (default 80).
        render_mode: ``None`` or ``"rgb_array"``.
    """

    verb_names = MOVE_NAMES

    def __init__(
        self,
        n_mines: int = 16,
        min_mines: int | None = None,
        density: float = 2.0,
        mine_radius: float = 0.06,
        agent_radius: float = 0.03,
        speed: float = 0.06,
        goal_distance: float = 1.5,
        view: float = 1.0,
        progress_reward: float = 5.0,
        goal_bonus: float = 5.0,
        hit_penalty: float = 2.0,
        max_steps: int = 80,
        render_mode: str | None = None,
    ):
        super().__init__(render_mode)
        n_mines = check_int("n_mines", n_mines, 1, MAX_MINES)
        min_mines = -(-3 * n_mines // 4) if min_mines is None else min_mines
        self.min_mines, self.n_mines = check_count_range("min_mines", min_mines, "n_mines", n_mines, 0, MAX_MINES)
        self.density = check_float("density", density, 1e-3)
        self.mine_radius = check_float("mine_radius", mine_radius, 1e-3, 0.5)
        self.agent_radius = check_float("agent_radius", agent_radius, 1e-3, 0.5)
        self.speed = check_float("speed", speed, 1e-3, 1.0)
        self.goal_distance = check_float("goal_distance", goal_distance, 0.2, 10.0)
        self.view = check_float("view", view, 0.1)
        self.progress_reward = check_float("progress_reward", progress_reward, 0.0)
        self.goal_bonus = check_float("goal_bonus", goal_bonus, 0.0)
        self.hit_penalty = check_float("hit_penalty", hit_penalty, 0.0)
        self.max_steps = check_int("max_steps", max_steps, 1)
        self.half = max(1.0, float(np.sqrt(self.n_mines / self.density)) / 2)  # L
        self.action_space = spaces.Discrete(len(MOVES))
        self.observation_space = entity_space(
            {"mine": (self.n_mines, MINE_FEATURES)}, global_dim=GLOBAL_FEATURES, low=FEATURE_LOW, high=FEATURE_HIGH
        )
        self.agent = np.zeros(2)
        self.goal = np.zeros(2)
        self.mines = np.zeros((self.n_mines, 2))  # (M, 2) positions
        self.velocity = np.zeros((self.n_mines, 2))  # (M, 2)
        self.present = np.zeros(self.n_mines, dtype=bool)  # (M,)
        self._steps = 0
        self._goal_dist = 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Place the agent, the goal and a fresh draw of mines, and return the first observation."""
        super().reset(seed=seed)
        rng, inner = self.np_random, self.half - 0.1
        self.agent = rng.uniform(-inner, inner, 2)
        angle = rng.uniform(0, 2 * np.pi)
        self.goal = np.clip(self.agent + self.goal_distance * np.array([np.cos(angle), np.sin(angle)]), -inner, inner)
        self.present = scatter_slots(rng, int(rng.integers(self.min_mines, self.n_mines + 1)), self.n_mines)
        self.mines = rng.uniform(-self.half, self.half, (self.n_mines, 2))
        while (close := self._near_ends(self.mines)).any():
            self.mines[close] = rng.uniform(-self.half, self.half, (int(close.sum()), 2))
        heading = rng.uniform(0, 2 * np.pi, self.n_mines)
        drift = rng.uniform(*MINE_SPEED, self.n_mines)
        self.velocity = np.stack([np.cos(heading), np.sin(heading)], axis=1) * drift[:, None]
        self._steps = 0
        self._goal_dist = float(np.linalg.norm(self.goal - self.agent))
        return self._obs(), {}

    def _near_ends(self, points: np.ndarray) -> np.ndarray:
        """(n,) bool: points within CLEAR_RADIUS of the agent or the goal."""
        to_agent = ((points - self.agent) ** 2).sum(1)
        to_goal = ((points - self.goal) ** 2).sum(1)
        return np.minimum(to_agent, to_goal) < CLEAR_RADIUS**2

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        """Move the agent and the mines, then check for a hit or the goal; see the class docstring."""
        a = discrete_action(action, len(MOVES))
        half = self.half
        self.agent = np.clip(self.agent + MOVES[a] * self.speed, -half, half)
        moved = self.mines + self.velocity  # (M, 2)
        np.negative(self.velocity, out=self.velocity, where=np.abs(moved) > half)  # bounce off the walls
        self.mines = np.clip(moved, -half, half, out=moved)
        self._steps += 1
        d = self.mines - self.agent  # (M, 2)
        dist = np.sqrt(np.einsum("ij,ij->i", d, d))  # (M,)
        hit = bool(np.count_nonzero(self.present & (dist < self.mine_radius + self.agent_radius)))
        goal_dist = float(np.hypot(*(self.goal - self.agent)))
        reached = goal_dist < 0.1 and not hit
        progress = self.progress_reward * (self._goal_dist - goal_dist)
        reward = progress + self.goal_bonus * reached - self.hit_penalty * hit
        self._goal_dist = goal_dist
        terminated = hit or reached
        truncated = not terminated and self._steps >= self.max_steps
        info = {"is_success": reached} if terminated or truncated else {}
        return self._obs(d, dist), float(reward), terminated, truncated, info

    def _obs(self, d: np.ndarray | None = None, dist: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The observation; ``d`` (M, 2) and ``dist`` (M,): the mines' offsets from the agent, if already known."""
        if d is None or dist is None:
            d = self.mines - self.agent
            dist = np.sqrt(np.einsum("ij,ij->i", d, d))
        f = np.empty((self.n_mines, MINE_FEATURES), dtype=np.float32)
        np.multiply(d, 1.0 / self.view, out=f[:, 0:2], casting="same_kind")
        np.multiply(self.velocity, 1.0 / MINE_SPEED[1], out=f[:, 2:4], casting="same_kind")
        edge = 1.0 + (self.mine_radius + self.agent_radius) / self.view
        np.subtract(edge, dist * (1.0 / self.view), out=f[:, 4], casting="same_kind")  # 1 - gap / view
        np.maximum(f[:, 4], 0.0, out=f[:, 4])
        mine, mask = pack_entities(f, self.present)
        to_goal = (self.goal - self.agent) / self.goal_distance
        glob = np.array(
            [*to_goal, *(self.agent / self.half), self._steps / self.max_steps, self._goal_dist / self.goal_distance],
            dtype=np.float32,
        )
        return {"mine": mine, "mine_mask": mask, "global": np.clip(glob, -1.0, 1.0)}

    def heuristic_action(self) -> int:
        """The move that gets closest to the goal among those that keep a safety gap to every mine's next position."""
        after = np.clip(self.agent + MOVES * self.speed, -self.half, self.half)  # (9, 2)
        near = self.present & (np.abs(self.mines - self.agent).max(1) < 0.5)
        ahead = self.mines[near] + self.velocity[near]  # (k, 2) where the near mines will be
        gap = np.linalg.norm(after[:, None, :] - ahead[None, :, :], axis=2) - self.mine_radius - self.agent_radius
        closest = gap.min(1) if len(ahead) else np.full(len(MOVES), np.inf)  # (9,)
        cost = np.linalg.norm(self.goal - after, axis=1) + 100.0 * (closest < 0.03) + 0.5 * np.maximum(0.1 - closest, 0)
        return int(cost.argmin())

    def _view(self) -> tuple[float, float, float, float]:
        if self.half <= VIEW_HALF:
            return (-self.half, self.half, -self.half, self.half)
        cx, cy = np.clip(self.agent, -self.half + VIEW_HALF, self.half - VIEW_HALF)
        return (cx - VIEW_HALF, cx + VIEW_HALF, cy - VIEW_HALF, cy + VIEW_HALF)

    def _entity_positions(self) -> dict[str, np.ndarray]:
        return {"mine": self.mines.copy()}

    def _draw(self, canvas: render.Canvas) -> None:
        x0, x1, y0, y1 = canvas.bounds
        canvas.outline(-self.half, -self.half, self.half, self.half)
        pad = self.mine_radius
        shown = self.present & (self.mines[:, 0] > x0 - pad) & (self.mines[:, 0] < x1 + pad)
        shown &= (self.mines[:, 1] > y0 - pad) & (self.mines[:, 1] < y1 + pad)
        canvas.disks(self.mines[shown], canvas.pixels(self.mine_radius), render.RED)
        canvas.rings(self.goal[None], canvas.pixels(0.1), render.GREEN, width_px=2.0)
        canvas.disks(self.agent[None], max(canvas.pixels(self.agent_radius), 4.0), render.BLUE)
