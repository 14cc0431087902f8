"""Playing whole episodes: the one evaluation loop, behind a saved agent's ``eval``, a training run's evaluations and
the scripted baselines.

:func:`play_episodes` steps one env, or several side by side with one batched decision per step, by the rules of
stable-baselines3's ``evaluate_policy`` (how episodes are split between envs, seeded and counted), so that an agent's
evaluations here match what SB3 would report for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

#: A policy over envs played side by side: the envs and their current observations -> an action for each.
Act = Callable[[Sequence[gym.Env], list[Any]], Sequence[Any]]


@dataclass
class Episodes:
    """The episodes played, in the order they ended: each one's return and length, and its success where the env
    reports ``is_success`` at the end of an episode."""

    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    successes: list[bool] = field(default_factory=list)

    @property
    def success_rate(self) -> float | None:
        """The fraction of episodes won, or None if the env reports no ``is_success``."""
        return float(np.mean(self.successes)) if self.successes else None


def each_env(policy: Callable[[gym.Env, Any], Any]) -> Act:
    """An :data:`Act` that asks ``policy(env, observation)`` env by env (a scripted policy that reads its env)."""
    return lambda envs, observations: [policy(env, obs) for env, obs in zip(envs, observations, strict=True)]


def stack(observations: list[Any]) -> Any:
    """Observations of several envs as one batch: an array, or a dict of arrays for ``Dict`` observations."""
    if isinstance(observations[0], dict):
        return {key: np.stack([obs[key] for obs in observations]) for key in observations[0]}
    return np.stack(observations)


def play_episodes(envs: Sequence[gym.Env], act: Act, episodes: int, seed: int, *, reseed: bool = True) -> Episodes:
    """Play ``episodes`` whole episodes on ``envs`` side by side, ``act`` choosing every env's action at each step.

    Env ``i`` plays ``(episodes + i) // len(envs)`` of them, as SB3 splits them (envs whose episodes are short do
    not get more of them); every env steps until all have played their share, and an env is reset when its episode
    ends. Env ``i``'s first episode is seeded ``seed + i``; with ``reseed`` its ``j``-th is seeded
    ``seed + i + j * len(envs)`` (one env: ``seed``, ``seed + 1``, ...), without it the later episodes go on with the
    env's own random stream (as a VecEnv's automatic reset does). An episode's return and length are those its
    ``Monitor`` recorded if the env has one (SB3's rule), else counted here.
    """
    n = len(envs)
    targets = [(episodes + i) // n for i in range(n)]
    started, played = [1] * n, [0] * n  # episodes begun and episodes counted, per env
    totals, lengths = [0.0] * n, [0] * n
    observations = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    out = Episodes()
    while any(count < target for count, target in zip(played, targets, strict=True)):
        actions = act(envs, observations)
        for i, env in enumerate(envs):
            observations[i], reward, terminated, truncated, info = env.step(actions[i])
            totals[i], lengths[i] = totals[i] + float(reward), lengths[i] + 1
            if not (terminated or truncated):
                continue
            if played[i] < targets[i]:
                monitored = info.get("episode")
                out.returns.append(float(monitored["r"]) if monitored else totals[i])
                out.lengths.append(int(monitored["l"]) if monitored else lengths[i])
                if "is_success" in info:
                    out.successes.append(bool(info["is_success"]))
                played[i] += 1
            totals[i], lengths[i] = 0.0, 0
            observations[i] = env.reset(seed=seed + i + started[i] * n if reseed else None)[0]
            started[i] += 1
    return out
