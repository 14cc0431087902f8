"""The statistics of an evaluation (95% intervals) and the step count a PPO budget rounds up to."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from agents.intervals import mean_interval, wilson_interval
from agents.training import rollout_target


def test_wilson_interval_matches_known_values_and_stays_in_0_1() -> None:
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)  # not empty at 0 successes
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    low, high = wilson_interval(38, 100)
    assert high - low < 0.2  # 100 episodes: within about +-10 points
    with pytest.raises(ValueError, match="expected 0 <= successes <= trials"):
        wilson_interval(3, 2)


def test_mean_interval_is_the_normal_approximation() -> None:
    low, high = mean_interval([1.0, 2.0, 3.0, 4.0])  # mean 2.5, sample std 1.29: 2.5 +- 1.96 * 1.29 / 2
    assert (low + high) / 2 == pytest.approx(2.5) and high - low == pytest.approx(2 * 1.96 * 1.2910 / 2, abs=1e-3)
    assert mean_interval([7.0]) == (7.0, 7.0)


@pytest.mark.parametrize(("start", "total", "target"), [(0, 40_000, 40_960), (0, 40_960, 40_960),
                                                        (20_480, 40_000, 40_960), (1_000, 40_000, 40_936)])
def test_rollout_target_rounds_the_steps_left_up_to_whole_rollouts(start: int, total: int, target: int) -> None:
    model = SimpleNamespace(n_steps=128, n_envs=8, num_timesteps=start)
    assert rollout_target(model, total) == target
