"""Any Gym observation space: generic tokenizers, Box actions, and the ValueError for unsupported spaces."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from entity_tasks import TINY
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.preprocessing import preprocess_obs

from perceiver_rl import (
    CORES,
    CoreConfig,
    ImageTokenizer,
    MaskablePerceiverPolicy,
    ObservationEncoder,
    PerceiverExtractor,
    PerceiverPolicy,
    entity_space,
    explain,
    parse_entity_space,
    parse_observation_space,
)
from perceiver_rl.image import fourier_positions, patch_size


def tokens_of(space: spaces.Space, n: int = 3, core: str = "perceiver", seed: int = 0):
    """Tokens and encoding of ``n`` sampled observations of ``space``, preprocessed as the policies do."""
    torch.manual_seed(seed)
    encoder = ObservationEncoder(space, CoreConfig(core=core, **TINY))
    space.seed(seed)
    samples = [space.sample() for _ in range(n)]
    if isinstance(space, spaces.Dict):
        obs = {k: torch.as_tensor(np.stack([s[k] for s in samples])) for k in space.spaces}
    else:
        obs = torch.as_tensor(np.stack(samples))
    return encoder(preprocess_obs(obs, space, normalize_images=False))


@pytest.mark.parametrize(
    ("space", "count"),
    [
        (spaces.Box(-1, 1, (5,)), 5),
        (spaces.Discrete(4), 1),
        (spaces.MultiDiscrete([3, 2, 5]), 3),
        (spaces.MultiBinary(6), 6),
        (spaces.Box(0, 255, (7, 7, 3), np.uint8), 49),  # MiniGrid: one token per cell
        (spaces.Box(0, 255, (64, 64, 3), np.uint8), 64),  # 8x8 patches of 8x8 pixels
        (spaces.Box(0.0, 1.0, (3, 84, 84), np.float32), 64),  # 11x11 patches, padded
    ],
)
@pytest.mark.parametrize("core", CORES)
def test_each_space_kind_token_count(space, count, core):
    tokens, encoding = tokens_of(space, core=core)
    assert tokens.tokens.shape == (3, count, 16)
    assert tokens.mask.shape == (3, count) and bool(tokens.mask.all())
    assert tokens.slices == {"obs": slice(0, count)}
    assert torch.isfinite(encoding.tokens).all()


def test_patch_size_and_fourier_features():
    assert [patch_size(7, 7), patch_size(64, 64), patch_size(84, 84), patch_size(8, 9)] == [1, 8, 11, 2]
    pos = fourier_positions(4, 5, num_bands=3)
    assert pos.shape == (20, 2 * (1 + 2 * 3))
    assert pos[0, 0] == -1 and pos[-1, 0] == 1 and pos[4, 7] == 1  # row position, then column position


def test_dict_mixing_entities_box_categories_and_image():
    space = entity_space({"unit": (4, 3)}, global_dim=2)
    space = spaces.Dict({**space.spaces, "speed": spaces.Box(-1, 1, (3,)), "mode": spaces.Discrete(3),
                         "view": spaces.Box(0, 255, (5, 5, 2), np.uint8)})
    spec = parse_observation_space(space)
    assert spec.entities.names == ("unit",) and spec.entities.global_dim == 2
    assert [(s.key, s.kind) for s in spec.sources] == [("mode", "categorical"), ("speed", "features"),
                                                       ("view", "image")]
    tokens, _ = tokens_of(space, n=4)
    assert tokens.tokens.shape == (4, 4 + 1 + 1 + 3 + 25, 16)
    assert tokens.slices == {"unit": slice(0, 4), "global": slice(4, 5), "mode": slice(5, 6),
                             "speed": slice(6, 9), "view": slice(9, 34)}
    unit, unit_mask = tokens.of("unit")
    assert unit.shape == (4, 4, 16) and bool(tokens.mask[:, 4:].all())


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_channel_first_and_last_give_the_same_tokens(dtype):
    last = spaces.Box(0, 255, (6, 5, 3), dtype)
    first = spaces.Box(0, 255, (3, 6, 5), dtype)
    assert not parse_observation_space(last).sources[0].channels_first
    assert parse_observation_space(first).sources[0].channels_first
    image = torch.randint(0, 256, (2, 6, 5, 3)).float()
    torch.manual_seed(0)
    a = ObservationEncoder(last, CoreConfig(**TINY)).tokenizer(image).tokens
    torch.manual_seed(0)
    b = ObservationEncoder(first, CoreConfig(**TINY)).tokenizer(image.permute(0, 3, 1, 2)).tokens
    torch.testing.assert_close(a, b)


def test_byte_pixels_are_embedded_as_categories_and_byte_scale_matches_normalized_input():
    torch.manual_seed(0)
    raw = ImageTokenizer((7, 7, 3), 8, byte_values=True)
    assert raw.value_embedding is not None
    torch.manual_seed(0)
    scaled = ImageTokenizer((7, 7, 3), 8, byte_values=True, byte_scale=255.0)
    image = torch.randint(0, 11, (2, 7, 7, 3)).float()  # MiniGrid-like object / colour / state indices
    torch.testing.assert_close(raw(image), scaled(image / 255))
    assert ImageTokenizer((64, 64, 3), 8, byte_values=True).value_embedding is None  # patches: linear only


UNSUPPORTED = [
    (spaces.Graph(spaces.Box(-1, 1, (3,)), None), "Graph spaces are not supported"),
    (spaces.Sequence(spaces.Box(-1, 1, (3,))), "Sequence spaces are not supported"),
    (spaces.Text(10), "Text spaces are not supported"),
    (spaces.Tuple([spaces.Discrete(2)]), "Tuple spaces are not supported"),
    (spaces.Dict({"a": spaces.Dict({"b": spaces.Discrete(2)})}), r"observation_space\['a'\]: nested Dict"),
    (spaces.Dict({"a": spaces.Discrete(2), "t": spaces.Text(5)}), r"observation_space\['t'\]: Text"),
    (spaces.Box(-1, 1, (2, 2, 2, 2)), r"expected a 1-D, 2-D \(entity set\) or 3-D \(image\) Box, got a 4-D"),
]


@pytest.mark.parametrize(("space", "pattern"), UNSUPPORTED)
def test_unsupported_spaces_say_what_is_supported_and_how_to_convert(space, pattern):
    with pytest.raises(ValueError, match=pattern) as info:
        parse_observation_space(space)
    assert "supported observation spaces: a 1-D Box" in str(info.value)
    assert "pad variable-size sets (Sequence, Graph nodes) to the entity convention" in str(info.value)


@pytest.mark.parametrize("space", [spaces.Graph(spaces.Box(-1, 1, (3,)), None),
                                   spaces.Sequence(spaces.Box(-1, 1, (3,)))])
def test_the_policy_gives_the_same_advice_for_unsupported_spaces(space):
    """The policy builds no SB3 features extractor first, whose flattening error would come instead."""
    with pytest.raises(ValueError, match="pad variable-size sets"):
        PerceiverPolicy(space, spaces.Discrete(2), lambda _: 1e-3, **TINY)


class ContinuousEnv(gym.Env):
    """Box observation, Box action: reward for an action close to the observation."""

    observation_space = spaces.Box(-1, 1, (3,), np.float32)
    action_space = spaces.Box(-2, 2, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        self._obs = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        return self._obs, {}

    def step(self, action):
        self._t += 1
        reward = -float(np.sum((np.asarray(action) - self._obs[:2]) ** 2))
        self._obs = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        return self._obs, reward, self._t >= 8, False, {}


@pytest.mark.parametrize("core", CORES)
def test_box_actions_gaussian_head_learns_runs_and_round_trips(core, tmp_path):
    model = PPO(PerceiverPolicy, ContinuousEnv(), n_steps=32, batch_size=16, n_epochs=2, seed=0, device="cpu",
                policy_kwargs=dict(core=core, log_std_init=-0.5, **TINY))
    assert model.policy.heads.log_std.shape == (2,)
    torch.testing.assert_close(model.policy.heads.log_std.detach(), torch.full((2,), -0.5))
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(64)
    assert any(not torch.equal(a, p) for a, p in zip(before, model.policy.parameters(), strict=True))
    obs = np.stack([ContinuousEnv.observation_space.sample() for _ in range(5)])
    actions, _ = model.predict(obs, deterministic=True)
    assert actions.shape == (5, 2) and np.all(np.abs(actions) <= 2)
    model.save(tmp_path / "m.zip")
    loaded = PPO.load(tmp_path / "m.zip", device="cpu")
    np.testing.assert_allclose(loaded.predict(obs, deterministic=True)[0], actions, atol=1e-6)
    ex = explain(model, obs)
    assert ex.relevance.shape == (5, 3, 3) and ex.query_names == ["value", "dim0", "dim1"]
    np.testing.assert_allclose(ex.relevance.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(ex.for_actions(actions)[:, 1], ex.relevance[:, 2])


def test_box_actions_refused_by_the_maskable_policy_and_with_sde():
    with pytest.raises(ValueError, match="MaskablePerceiverPolicy expects Discrete or MultiDiscrete actions"):
        MaskablePerceiverPolicy(ContinuousEnv.observation_space, ContinuousEnv.action_space, lambda _: 1e-3, **TINY)
    with pytest.raises(ValueError, match="use_sde: expected False"):
        PPO(PerceiverPolicy, ContinuousEnv(), use_sde=True, policy_kwargs=TINY)


def test_actor_and_targets_must_be_entity_types():
    with pytest.raises(ValueError, match=r"actor=.obs. is not an entity type of the observation space"):
        PPO(PerceiverPolicy, "CartPole-v1", policy_kwargs=dict(actor="obs", **TINY))
    with pytest.raises(ValueError, match="a Box action space takes no actor or targets"):
        PPO(PerceiverPolicy, ContinuousEnv(), policy_kwargs=dict(targets="obs", **TINY))


@pytest.mark.parametrize("core", CORES)
def test_discrete_observation_and_image_with_ppo_and_extractor(core):
    class GridEnv(gym.Env):
        observation_space = spaces.Dict({"image": spaces.Box(0, 255, (5, 5, 3), np.uint8),
                                         "direction": spaces.Discrete(4)})
        action_space = spaces.Discrete(3)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.observation_space.seed(int(self.np_random.integers(2**31)))
            return self.observation_space.sample(), {}

        def step(self, action):
            return self.observation_space.sample(), float(action == 1), bool(self.np_random.random() < 0.2), False, {}

    model = PPO(PerceiverPolicy, GridEnv(), n_steps=16, batch_size=8, n_epochs=1, seed=0, device="cpu",
                policy_kwargs=dict(core=core, **TINY))
    assert model.observation_space["image"].shape == (3, 5, 5)  # SB3 transposed it to channel-first
    model.learn(32)
    model = PPO("MultiInputPolicy", GridEnv(), n_steps=16, batch_size=8, n_epochs=1, seed=0, device="cpu",
                policy_kwargs=dict(features_extractor_class=PerceiverExtractor,
                                   features_extractor_kwargs=dict(core=core, features_dim=8, **TINY)))
    model.learn(32)
    assert model.policy.features_extractor.encoder.tokenizer.sources[1].byte_scale == 255.0


def test_minigrid_without_mission_builds_a_policy():
    pytest.importorskip("minigrid")
    import envs.wrappers  # noqa: F401 (registers NoMission/<MiniGrid id>)

    with pytest.raises(ValueError, match="MissionSpace spaces are not supported"):
        parse_observation_space(gym.make("MiniGrid-Empty-5x5-v0").observation_space)
    model = PPO(PerceiverPolicy, "NoMission/MiniGrid-Empty-5x5-v0", n_steps=16, batch_size=8, n_epochs=1,
                device="cpu", policy_kwargs=TINY)
    assert model.policy.encoder.tokenizer.slices == {"direction": slice(0, 1), "image": slice(1, 50)}
    model.learn(16)


class RowsEnv(gym.Env):
    """One (5, 5) array a row per entity, as highway-env's Kinematics observes, no mask key: pick the row with the
    largest first feature (Discrete(5))."""

    observation_space = spaces.Box(-np.inf, np.inf, (5, 5), np.float32)
    action_space = spaces.Discrete(5)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._obs = self.np_random.normal(size=(5, 5)).astype(np.float32)
        return self._obs, {}

    def step(self, action):
        right = int(action) == int(np.argmax(self._obs[:, 0]))
        return self._obs, float(right), True, False, {"is_success": right}


def test_a_2d_box_without_a_mask_key_is_a_set_of_present_entities():
    spec = parse_observation_space(RowsEnv.observation_space)
    assert spec.single and spec.sources == ()
    assert [(t.name, t.max_count, t.feature_dim, t.masked) for t in spec.entities.types] == [("obs", 5, 5, False)]
    # in a Dict too, beside a masked type; the convention itself still requires the mask
    mixed = spaces.Dict({"cars": spaces.Box(-1, 1, (3, 4)), "lanes": spaces.Box(-1, 1, (2, 2)),
                         "lanes_mask": spaces.MultiBinary(2)})
    assert [(t.name, t.masked) for t in parse_observation_space(mixed).entities.types] == [("cars", False),
                                                                                          ("lanes", True)]
    with pytest.raises(ValueError, match="entity key 'cars' has no mask key 'cars_mask'"):
        parse_entity_space(mixed)


@pytest.mark.parametrize("core", CORES)
def test_policy_on_a_2d_box_reads_every_row_and_points_at_rows(core):
    model = PPO(PerceiverPolicy, RowsEnv(), n_steps=16, batch_size=16, seed=0,
                policy_kwargs=dict(core=core, targets="obs", **TINY))  # Discrete(5): the 5 choices point at rows
    tokens = model.policy.tokens(model.policy.obs_to_tensor(RowsEnv.observation_space.sample())[0])
    assert tokens.tokens.shape[:2] == (1, 5) and bool(tokens.mask.all())
    model.learn(32)
    action, _ = model.predict(RowsEnv.observation_space.sample(), deterministic=True)
    assert 0 <= int(action) < 5
    assert explain(model, RowsEnv.observation_space.sample()).relevance.shape == (1, 2, 5)
