"""The one episode loop (envs.rollout.play_episodes): seeding, splitting episodes between envs, and agreement with
stable-baselines3's evaluate_policy, which training runs' evaluations used to call."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.evaluation import evaluate_policy
from test_cli import MaskedPickEnv

from agents.factory import deterministic_actions, make_env
from envs.rollout import each_env, play_episodes


class SeedEcho(gym.Env):
    """Episodes of ``1 + seed % 3`` steps, each rewarding the episode's seed; won when the seed is even."""

    observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self) -> None:
        self.seeds: list[int | None] = []
        self.seed, self.left = 0, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.seeds.append(seed)
        self.seed = seed if seed is not None else int(self.np_random.integers(100, 200))
        self.left = 1 + self.seed % 3
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.left -= 1
        done = self.left == 0
        info = {"is_success": self.seed % 2 == 0} if done else {}
        return np.zeros(1, np.float32), float(self.seed), done, False, info


def test_one_env_seeds_every_episode_and_counts_returns_lengths_and_successes() -> None:
    env = SeedEcho()
    played = play_episodes([env], each_env(lambda e, obs: 0), 3, 10)
    assert env.seeds[:3] == [10, 11, 12]
    assert played.returns == [20.0, 33.0, 12.0] and played.lengths == [2, 3, 1]
    assert played.successes == [True, False, True] and played.success_rate == 2 / 3


def test_side_by_side_envs_split_episodes_as_sb3_and_seed_only_their_first() -> None:
    envs = [SeedEcho(), SeedEcho()]
    played = play_episodes(envs, each_env(lambda e, obs: 0), 3, 10, reseed=False)
    assert len(played.returns) == 3  # env 0 plays 1 episode, env 1 plays 2: (3 + i) // 2
    assert [e.seeds[0] for e in envs] == [10, 11] and envs[1].seeds[1] is None
    assert sorted(played.returns[:2]) == [20.0, 33.0]  # both first episodes (2 and 3 steps) end before the third


def test_an_agents_evaluation_matches_sb3s_evaluate_policy() -> None:
    """Three envs and seven episodes (an uneven split), an untrained MaskablePPO: the same episodes as SB3 plays."""
    vec_env = make_env("test_cli/MaskedPick-v0", 3, 0, ["test_cli"])
    assert isinstance(vec_env.envs[0].unwrapped, MaskedPickEnv)
    model = MaskablePPO("MultiInputPolicy", vec_env, n_steps=16, batch_size=16, seed=0, device="cpu")
    successes: list[bool] = []

    def record_success(local: dict, _: dict) -> None:
        if local["done"]:
            successes.append(bool(local["info"]["is_success"]))

    vec_env.seed(7)
    returns, lengths = evaluate_policy(model, vec_env, n_eval_episodes=7, return_episode_rewards=True, warn=False,
                                       callback=record_success)
    played = play_episodes(vec_env.envs, deterministic_actions(model), 7, 7, reseed=False)
    assert (played.returns, played.lengths, played.successes) == (returns, lengths, successes)
    assert len(set(returns)) > 1 and len(returns) == 7
    vec_env.close()
