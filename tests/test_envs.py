"""Tests of the game suite in ``envs/``: the gym contract, the entity convention, determinism and the game rules."""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs.base import FRAME_SIZE
from envs.skirmish import N_VERBS, Skirmish
from perceiver_rl import action_layout, parse_entity_space

IDS = list(envs.GAMES)


def make(env_id: str, **kwargs) -> gym.Env:
    """The raw env (no wrappers) of a registered id."""
    return gym.make(env_id, **kwargs).unwrapped


def rollout(env: gym.Env, seed: int, steps: int) -> list:
    """(obs, reward, terminated, truncated) of ``steps`` seeded random steps, resetting at episode ends."""
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        out.append((obs, reward, terminated, truncated))
        if terminated or truncated:
            out.append(env.reset()[0])
    return out


def assert_same(a, b) -> None:
    """Recursive equality of nested tuples/lists/dicts of arrays and scalars."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        np.testing.assert_array_equal(a, b)


def play(env: gym.Env, policy: str, episodes: int, seed: int = 0) -> tuple[float, float]:
    """(mean return, success rate) of ``policy`` ('random' or 'heuristic') over ``episodes`` seeded episodes."""
    env.action_space.seed(seed)
    returns, wins = [], []
    for ep in range(episodes):
        env.reset(seed=seed + ep)
        total, done, info = 0.0, False, {}
        while not done:
            action = env.heuristic_action() if policy == "heuristic" else env.action_space.sample()
            _, reward, terminated, truncated, info = env.step(action)
            total += reward
            done = terminated or truncated
        returns.append(total)
        wins.append(info["is_success"])
    return float(np.mean(returns)), float(np.mean(wins))


# ------------------------------------------------------------------------------------------------ registration
def test_all_games_registered_and_makeable_by_module_prefix():
    assert len(IDS) >= 5
    for env_id in IDS:
        assert env_id.startswith("perceiver_rl/") and env_id.endswith("-v0")
        assert env_id in gym.registry
    env = gym.make("envs:perceiver_rl/Skirmish-v0")
    assert isinstance(env.unwrapped, Skirmish)


# -------------------------------------------------------------------------------------------------- gym contract
@pytest.mark.parametrize("env_id", IDS)
def test_env_checkers_pass_without_warnings(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning from either checker fails the test, except:
        # SB3 notes that (max_T, F_T) entity boxes are not images nor vectors: the entity convention, by design.
        warnings.filterwarnings("ignore", message=".*unconventional shape.*", category=UserWarning)
        gym_check_env(make(env_id))
        sb3_check_env(make(env_id), warn=True)


@pytest.mark.parametrize("env_id", IDS)
def test_observation_follows_entity_convention(env_id):
    env = make(env_id)
    spec = parse_entity_space(env.observation_space)
    anywhere = False
    for seed in range(8):
        obs = rollout(env, seed, 3)[-1][0]
        assert env.observation_space.contains(obs)
        for t in spec.types:
            mask = obs[t.mask_key]
            assert mask.dtype == np.int8 and obs[t.name].dtype == np.float32
            assert not obs[t.name][mask == 0].any(), "absent rows must be all zeros"
            present = np.flatnonzero(mask)
            anywhere |= len(present) > 0 and present[-1] >= len(present)  # a gap before a present row
    assert anywhere, "present rows should sit anywhere, not only first"


@pytest.mark.parametrize("env_id", IDS)
def test_action_roles_match_the_query_decoder_layout(env_id):
    env = make(env_id)
    spec = parse_entity_space(env.observation_space)
    layout = action_layout(env.action_space, spec, **env.action_roles)
    if env.action_roles["targets"] is not None:  # fixed verbs first, then one choice per target slot
        assert layout.num_targets == spec[env.action_roles["targets"]].max_count
    expected = {"perceiver_rl/Skirmish-v0": (9,) * 8, "perceiver_rl/Nearest-v0": (0,)}
    assert layout.verbs == expected.get(env_id, layout.choices)


@pytest.mark.parametrize("env_id", IDS)
def test_entity_counts_vary_between_episodes(env_id):
    env = make(env_id)
    counts = set()
    for seed in range(10):
        obs, _ = env.reset(seed=seed)
        counts.add(tuple(int(v.sum()) for k, v in sorted(obs.items()) if k.endswith("_mask")))
    assert len(counts) > 1


@pytest.mark.parametrize("env_id", IDS)
def test_seeded_reset_gives_identical_rollouts(env_id):
    assert_same(rollout(make(env_id), 7, 60), rollout(make(env_id), 7, 60))
    first, other = rollout(make(env_id), 7, 0)[0], rollout(make(env_id), 8, 0)[0]
    assert any(not np.array_equal(first[k], other[k]) for k in first)


@pytest.mark.parametrize("env_id", IDS)
def test_pickle_round_trip_continues_identically(env_id):
    env = make(env_id)
    rollout(env, 3, 5)
    clone = pickle.loads(pickle.dumps(env))
    actions = [env.action_space.sample() for _ in range(20)]
    for action in actions:
        a, b = env.step(action), clone.step(action)
        assert_same(a[:4], b[:4])
        if a[2] or a[3]:
            break


@pytest.mark.parametrize("env_id", IDS)
def test_render_draws_entities_where_entity_pixels_says(env_id):
    env = make(env_id, render_mode="rgb_array")
    obs, _ = env.reset(seed=1)
    frame = env.render()
    assert frame.shape == (FRAME_SIZE, FRAME_SIZE, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) >= 3, "frame looks blank"
    pixels = env.entity_pixels()
    spec = parse_entity_space(env.observation_space)
    assert set(pixels) == set(spec.names)
    background = frame[0, FRAME_SIZE // 2]
    for t in spec.types:
        assert pixels[t.name].shape == (t.max_count, 2)
        xy = np.rint(pixels[t.name][obs[t.mask_key] == 1]).astype(int)
        xy = xy[((xy >= 0) & (xy < FRAME_SIZE)).all(1)]
        assert len(xy) > 0
        drawn = (frame[xy[:, 1], xy[:, 0]] != background).any(1)
        assert drawn.mean() > 0.8, f"{t.name}: entities not drawn at entity_pixels()"
    assert make(env_id).render() is None


# ------------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("env_id", IDS)
def test_actions_outside_the_space_raise_value_error(env_id):
    env = make(env_id)
    env.reset(seed=0)
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete):
        bad = [int(space.n), -1, 2.5, np.array([0, 1])]
    else:
        good = space.sample()
        too_big, negative = good.copy(), good.copy()
        too_big[-1] = space.nvec[-1]
        negative[0] = -1
        bad = [too_big, negative, good[:-1], good.astype(np.float64)]
    for action in bad:
        with pytest.raises(ValueError, match="action"):
            env.step(action)


@pytest.mark.parametrize(
    ("env_id", "kwargs", "name"),
    [
        ("perceiver_rl/Skirmish-v0", {"min_allies": 5, "max_allies": 3}, "min_allies"),
        ("perceiver_rl/Skirmish-v0", {"min_enemies": -1}, "min_enemies"),
        ("perceiver_rl/Skirmish-v0", {"opponent": "bogus"}, "opponent"),
        ("perceiver_rl/Skirmish-v0", {"max_steps": 0}, "max_steps"),
        ("perceiver_rl/Foraging-v0", {"min_food": 9, "max_food": 4}, "min_food"),
        ("perceiver_rl/Foraging-v0", {"max_bonus": -2}, "max_bonus"),
        ("perceiver_rl/Nearest-v0", {"min_items": 20, "max_items": 10}, "min_items"),
        ("perceiver_rl/Nearest-v0", {"rounds": 0}, "rounds"),
        ("perceiver_rl/Majority-v0", {"n_colors": 1}, "n_colors"),
        ("perceiver_rl/Majority-v0", {"max_items": 2.5}, "max_items"),
        ("perceiver_rl/Minefield-v0", {"n_mines": 0}, "n_mines"),
        ("perceiver_rl/Minefield-v0", {"n_mines": 16, "min_mines": 32}, "min_mines"),
        ("perceiver_rl/Minefield-v0", {"render_mode": "human"}, "render_mode"),
    ],
)
def test_contradictory_constructor_args_raise_value_error(env_id, kwargs, name):
    with pytest.raises(ValueError, match=name):
        envs.GAMES[env_id](**kwargs)


# ------------------------------------------------------------------------------------------------ baselines
@pytest.mark.parametrize("env_id", IDS)
def test_heuristic_is_valid_and_beats_random(env_id):
    env = make(env_id)
    env.reset(seed=0)
    assert env.action_space.contains(env.heuristic_action())
    random_return, random_success = play(env, "random", 8)
    heuristic_return, heuristic_success = play(env, "heuristic", 8)
    assert heuristic_return > random_return
    assert heuristic_success >= 0.5 > random_success


@pytest.mark.parametrize("env_id", IDS)
def test_final_info_reports_success(env_id):
    env = make(env_id)
    env.reset(seed=0)
    done, info = False, {}
    while not done:
        _, _, terminated, truncated, info = env.step(env.heuristic_action())
        done = terminated or truncated
    assert isinstance(info["is_success"], bool)
    if env_id == "perceiver_rl/Skirmish-v0":
        assert info["win"] == info["is_success"]


# ---------------------------------------------------------------------------------------------------- skirmish
def duel(**kwargs: Any) -> Skirmish:
    """A 2-vs-2 Skirmish (in 3 + 4 slots) with ally 0 in range of enemy 0 only, and ally 1 in range of nothing."""
    env = Skirmish(min_allies=2, max_allies=3, min_enemies=2, max_enemies=4, melee_prob=1.0, **kwargs)
    env.reset(seed=0)
    u = env.units
    u.alive[:] = False
    u.alive[[0, 1, 3, 4]] = True  # allies 0, 1; enemies 0, 1 (rows 3, 4)
    u.hp = np.where(u.alive, u.max_hp, 0.0)
    u.pos[:] = [[0.0, 0.0], [-0.9, 0.9], [0.0, 0.0], [0.1, 0.0], [0.9, -0.9], [0.0, 0.0], [0.0, 0.0]]
    u.update_geometry()
    return env


def test_skirmish_action_masks_layout_and_semantics():
    env = duel()
    mask = env.action_masks()
    n = N_VERBS + 4
    assert mask.dtype == bool and mask.shape == (3 * n,)
    rows = mask.reshape(3, n)
    assert rows[0, :N_VERBS].all() and rows[0, N_VERBS:].tolist() == [True, False, False, False]
    assert rows[1, :N_VERBS].all() and not rows[1, N_VERBS:].any()
    assert rows[2].tolist() == [True] + [False] * (n - 1), "an absent ally may only stay"
    env.units.cooldown[0] = 1
    assert not env.action_masks().reshape(3, n)[0, N_VERBS:].any(), "no attack while the weapon cools down"


def test_skirmish_attacks_hit_only_what_the_mask_allows():
    env = duel()
    hp = env.units.hp.copy()
    env.step(np.array([N_VERBS + 1, N_VERBS + 0, 0]))  # ally 0 -> enemy 1 (out of range), ally 1 -> enemy 0 (far)
    assert env.units.hp[3] == hp[3] and env.units.hp[4] == hp[4]
    env = duel()
    _, reward, *_ = env.step(np.array([N_VERBS + 0, 0, 0]))  # ally 0 -> enemy 0, in range and masked in
    assert env.units.hp[3] < hp[3]
    assert env.units.cooldown[0] > 0
    assert reward != 0.0


def test_skirmish_reward_only_positive_drops_damage_taken_and_the_loss_penalty():
    action = np.array([N_VERBS + 0, 0, 0])  # ally 0 and enemy 0 shoot each other (the nearest script)
    _, zero_sum, *_ = duel().step(action)
    env = duel(reward_only_positive=True)
    hp = env.units.hp.copy()
    _, positive, *_ = env.step(action)
    lost = hp - env.units.hp
    dealt, taken = lost[env.units.enemies].sum() / env._enemy_total, lost[env.units.allies].sum() / env._ally_total
    assert dealt > 0 and taken > 0, "both sides hit in this duel"
    assert positive == pytest.approx(env.damage_reward * dealt)
    assert zero_sum == pytest.approx(env.damage_reward * (dealt - taken))
    env = duel(reward_only_positive=True)
    env.units.hp[:2] = 1e-6  # enemy 0 kills ally 0; ally 1 is out of everyone's range and dies by fiat
    env.units.alive[1] = False
    _, reward, terminated, _, info = env.step(np.zeros(3, dtype=np.int64))
    assert terminated and not info["win"] and reward == 0.0, "a loss costs nothing under this reward"
    with pytest.raises(ValueError, match="reward_only_positive"):
        Skirmish(reward_only_positive="yes")


def test_skirmish_scripted_actions_play_the_enemy_scripts_for_the_allies():
    env = duel()
    se = N_VERBS + 0, 8  # ally 0 shoots enemy 0 (in range); ally 1 walks south-east, to enemy 0 (the nearest)
    assert env.scripted_action("hold").tolist() == [N_VERBS + 0, 0, 0], "hold shoots what is in range, never walks"
    assert env.scripted_action("nearest").tolist() == [*se, 0]
    assert env.scripted_action("focus").tolist() == env.heuristic_action().tolist()
    with pytest.raises(ValueError, match="style"):
        env.scripted_action("kite")


def test_skirmish_opponent_difficulty_orders_heuristic_win_rate():
    easy = play(Skirmish(opponent="hold"), "heuristic", 10)[1]
    hard = play(Skirmish(opponent="focus", enemy_strength=1.2), "heuristic", 10)[1]
    assert easy > hard


def test_skirmish_works_with_maskable_ppo_helpers():
    from sb3_contrib.common.maskable.utils import get_action_masks
    from stable_baselines3.common.vec_env import DummyVecEnv

    vec = DummyVecEnv([lambda: gym.make("perceiver_rl/Skirmish-v0")] * 2)
    vec.reset()
    masks = get_action_masks(vec)
    assert masks.shape == (2, 8 * (N_VERBS + 10))


# --------------------------------------------------------------------------------------------------- large N
def test_minefield_constructs_and_steps_at_4096():
    env = gym.make("perceiver_rl/Minefield-v0", n_mines=4096)
    obs, _ = env.reset(seed=0)
    assert obs["mine"].shape == (4096, 5)
    assert 3072 <= obs["mine_mask"].sum() <= 4096
    obs, *_ = env.step(env.unwrapped.heuristic_action())
    assert env.observation_space.contains(obs)


# -------------------------------------------------------------------------------------------- tools around envs
def test_skirmish_masks_through_subproc_vec_env():
    from stable_baselines3.common.vec_env import SubprocVecEnv

    vec = SubprocVecEnv([lambda: gym.make("envs:perceiver_rl/Skirmish-v0")] * 2)  # a fresh process imports envs
    try:
        vec.seed(0)
        vec.reset()
        masks = np.stack(vec.env_method("action_masks"))
        assert masks.shape == (2, 8 * (N_VERBS + 10)) and masks.dtype == bool
    finally:
        vec.close()


def test_baselines_cli_writes_json(tmp_path):
    from envs.baselines import main

    out = tmp_path / "baselines.json"
    rows = main(["--episodes", "2", "--games", "perceiver_rl/Nearest-v0", "--json", str(out)])
    assert [r["policy"] for r in rows] == ["random", "random-masked", "heuristic"]
    assert rows[-1]["success_rate"] == 1.0
    assert out.exists() and '"rows"' in out.read_text()
