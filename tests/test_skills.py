"""The skills suite (envs/skills.py): each game's rule, its answer's grading, its spaces and its argument checks."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.skills import SKILLS, ArgmaxSum, Count, Focus, Orders, Select, Xor

IDS = list(SKILLS)


def accuracy(env, policy, episodes=40):
    """Mean reward per question over ``episodes`` episodes."""
    env.reset(seed=0)
    rewards = []
    for _ in range(episodes):
        env.reset()
        done = False
        while not done:
            _, reward, terminated, truncated, info = env.step(policy(env))
            rewards.append(reward)
            done = terminated or truncated
    return float(np.mean(rewards)), info


@pytest.mark.parametrize("env_id", IDS)
def test_registered_and_passes_the_env_checker(env_id):
    env = gym.make(env_id).unwrapped
    assert isinstance(env, SKILLS[env_id]) and env_id in envs.SKILLS
    check_env(env, skip_render_check=True)


@pytest.mark.parametrize("env_id", IDS)
def test_the_right_answer_scores_one_and_random_play_does_not_solve(env_id):
    env = gym.make(env_id).unwrapped
    right, info = accuracy(env, lambda e: e.heuristic_action())
    assert right == 1.0 and info["is_success"]
    chance, _ = accuracy(env, lambda e: e.action_space.sample())
    assert chance < 0.6 < env.success_accuracy


@pytest.mark.parametrize("env_id", IDS)
def test_padded_rows_are_zero_and_masked(env_id):
    env = gym.make(env_id).unwrapped
    obs, _ = env.reset(seed=3)
    for key in env.observation_space:
        if key.endswith("_mask"):
            features = obs[key.removesuffix("_mask")]
            assert np.all(features[obs[key] == 0] == 0) and obs[key].any()
    assert obs["global"].shape == (1,)


def test_xor_needs_both_marked_items():
    env = Xor()
    env.reset(seed=1)
    for _ in range(50):
        f = env.features
        (a,), (b,) = np.flatnonzero(f[:, 1]), np.flatnonzero(f[:, 2])
        assert a != b and env.present[a] and env.present[b]
        assert env.answer == int(f[a, 0] != f[b, 0])
        env.step(env.answer)


def test_count_counts_present_red_items_only():
    env = Count()
    env.reset(seed=2)
    obs = env._obs()
    assert env.answer == int(((obs["item"][:, 0] > 0) & (obs["item_mask"] == 1)).sum())
    assert env.action_space.n == env.max_items + 1


def test_argmax_sum_and_select_answers():
    env = ArgmaxSum()
    env.reset(seed=4)
    obs = env._obs()
    sums = (obs["item"][:, :4] * obs["item"][:, 4:]).sum(0)
    assert env.answer == int(sums.argmax())
    pick = Select()
    pick.reset(seed=5)
    obs = pick._obs()
    assert pick.answer == int(np.where(obs["item_mask"] == 1, obs["item"][:, 0], -2).argmax())
    assert pick.action_masks()[pick.answer]


def test_per_actor_games_grade_present_units_only():
    env = Orders()
    env.reset(seed=6)
    answer = env.answer.copy()
    wrong_padded = np.where(env.units, answer, 3)  # padded slots' answers are not graded
    assert env._grade(wrong_padded) == 1.0
    first = np.flatnonzero(env.units)[0]
    half = answer.copy()
    half[first] = (answer[first] + 1) % 4
    assert env._grade(half) == pytest.approx(1 - 1 / env.units.sum())
    masks = env.action_masks().reshape(env.max_units, 4)
    assert masks[env.units].all() and not masks[~env.units, 1:].any()


def test_focus_points_at_the_target_nearest_to_the_units_centroid():
    env = Focus()
    env.reset(seed=7)
    centroid = env.unit_pos[env.units].mean(0)
    dist = np.where(env.targets, np.linalg.norm(env.target_pos - centroid, axis=1), np.inf)
    assert np.all(env.answer[env.units] == dist.argmin())
    masks = env.action_masks().reshape(env.max_units, env.max_targets)
    assert np.array_equal(masks[env.units], np.broadcast_to(env.targets, masks[env.units].shape))


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: Xor(min_items=1), r"min_items: expected an integer >= 2, got 1"),
        (lambda: Count(min_items=5, max_items=3), r"min_items: expected <= max_items \(3\), got 5"),
        (lambda: ArgmaxSum(channels=1), r"channels: expected an integer >= 2, got 1"),
        (lambda: Select(margin=2.0), r"margin: expected a number in \[0.0, 0.5\], got 2.0"),
        (lambda: Focus(max_targets=1), r"max_targets: expected an integer >= 2, got 1"),
        (lambda: Orders(rounds=0), r"rounds: expected an integer >= 1, got 0"),
    ],
)
def test_bad_arguments(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_a_wrong_action_is_refused():
    env = Orders()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action: expected an integer array of shape \(6,\)"):
        env.step(np.zeros(3, dtype=np.int64))
