"""PresenceMask: an entity array with a presence column (highway-env's Kinematics layout) to the entity convention."""

import gymnasium as gym
import numpy as np
import pytest
from entity_tasks import TINY
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from stable_baselines3 import PPO

from perceiver_rl import PerceiverPolicy, PresenceMask, parse_observation_space


class Vehicles(gym.Env):
    """Rows ``presence, x, y, vx`` of up to 6 vehicles, absent rows zero: pick the present one with the largest x."""

    observation_space = spaces.Box(-np.inf, np.inf, (6, 4), np.float32)
    action_space = spaces.Discrete(6)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        rows = self.np_random.normal(size=(6, 4)).astype(np.float32)
        present = self.np_random.permutation(6) < self.np_random.integers(1, 7)
        rows[:, 0] = present * self.np_random.uniform(0.6, 1.0, size=6)  # float flags, as a normalised presence
        rows[~present] = 0.0
        self._rows = rows
        return rows, {}

    def step(self, action):
        x = np.where(self._rows[:, 0] > 0.5, self._rows[:, 1], -np.inf)
        right = int(action) == int(np.argmax(x))
        return self._rows, float(right), True, False, {"is_success": right}


def test_rows_become_an_entity_type_and_its_mask():
    env = PresenceMask(Vehicles(), name="vehicle")
    assert set(env.observation_space.spaces) == {"vehicle", "vehicle_mask"}
    assert env.observation_space["vehicle"].shape == (6, 3)
    obs, _ = env.reset(seed=3)
    raw = env.unwrapped._rows
    np.testing.assert_array_equal(obs["vehicle_mask"], (raw[:, 0] > 0.5).astype(np.int8))
    np.testing.assert_array_equal(obs["vehicle"], raw[:, 1:])
    assert [(t.name, t.masked) for t in parse_observation_space(env.observation_space).entities.types] == [
        ("vehicle", True)]
    check_env(env, skip_render_check=True)


def test_a_dict_key_and_a_flag_in_another_column():
    class Mixed(gym.Env):
        observation_space = spaces.Dict({"cars": spaces.Box(-1, 1, (3, 3)), "speed": spaces.Box(-1, 1, (1,))})
        action_space = spaces.Discrete(2)

    env = PresenceMask(Mixed(), key="cars", presence=-1, threshold=0.0)
    assert set(env.observation_space.spaces) == {"cars", "cars_mask", "speed"}
    obs = env.observation({"cars": np.array([[1, 2, 0.5], [3, 4, -0.5], [5, 6, 0.0]]), "speed": np.array([0.1])})
    np.testing.assert_array_equal(obs["cars_mask"], [1, 0, 0])
    np.testing.assert_array_equal(obs["cars"], [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(obs["speed"], [0.1])


@pytest.mark.parametrize(("kwargs", "pattern"), [
    (dict(presence=4), r"presence: expected a column index in \[-4, 4\) of observation_space's 4 features"),
    (dict(key="cars"), r"key: the observation is a Box, not a Dict; expected None, got 'cars'"),
])
def test_bad_arguments_say_what_was_expected(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        PresenceMask(Vehicles(), **kwargs)


def test_bad_dict_keys_say_what_was_expected():
    class Mixed(gym.Env):
        observation_space = spaces.Dict({"cars": spaces.Box(-1, 1, (3,)), "cars_mask": spaces.MultiBinary(3),
                                         "lanes": spaces.Box(-1, 1, (2, 2))})
        action_space = spaces.Discrete(2)

    with pytest.raises(ValueError, match=r"key: expected one of the observation's keys \['cars', 'cars_mask', 'lanes'"):
        PresenceMask(Mixed(), key="trucks")
    with pytest.raises(ValueError, match=r"observation_space\['cars'\]: expected a 2-D Box \(rows, features\), got"):
        PresenceMask(Mixed(), key="cars")
    with pytest.raises(ValueError, match=r"name: 'cars' would overwrite the observation's key\(s\) \['cars'"):
        PresenceMask(Mixed(), key="lanes", name="cars")


def test_the_policy_trains_on_the_wrapped_env():
    env = PresenceMask(Vehicles(), name="vehicle")
    model = PPO(PerceiverPolicy, env, n_steps=16, batch_size=16, seed=0,
                policy_kwargs=dict(targets="vehicle", **TINY))  # the 6 choices point at vehicle rows
    model.learn(32)
    obs, _ = env.reset(seed=5)
    action, _ = model.predict(obs, deterministic=True)
    assert obs["vehicle_mask"][int(action)] == 1  # absent rows are never picked
