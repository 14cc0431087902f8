"""Reference returns on highway-fast-v0 for docs/EXAMPLES.md: uniform random actions and each constant action.

``python benchmarks/highway_baselines.py --episodes 20`` (needs the ``highway`` extra) plays each policy on the env
as the preset builds it (``agents/presets/highway.yaml``), episodes seeded ``--seed``, ``--seed + 1``, ..., and prints
the mean return with its 95% interval, the standard deviation and the mean episode length (30 steps at most: an
episode ends early on a crash). A constant action is what an untrained deterministic policy often plays.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's agents package, from anywhere

from agents import resolve_config  # noqa: E402
from agents.intervals import mean_interval  # noqa: E402

HIGHWAY = "highway-fast-v0"
#: highway-env's DiscreteMetaAction choices.
ACTIONS = ("LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER")


def play(env: gym.Env, action: int | None, episodes: int, seed: int) -> tuple[list[float], list[int]]:
    """The returns and lengths of ``episodes`` episodes of a constant ``action`` (None: uniform random)."""
    returns, lengths = [], []
    env.action_space.seed(seed)
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        total, steps, done = 0.0, 0, False
        while not done:
            chosen = env.action_space.sample() if action is None else action
            _, reward, terminated, truncated, _ = env.step(chosen)
            total, steps, done = total + float(reward), steps + 1, terminated or truncated
        returns.append(total)
        lengths.append(steps)
    return returns, lengths


def main(argv: list[str] | None = None) -> int:
    """Play every reference policy and print (and with ``--json``, save) one row each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=123456)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    import highway_env  # noqa: F401  (registers the ids)

    env_kwargs = dict(resolve_config(HIGHWAY, "mlp").env)
    env_kwargs.pop("wrappers")  # the policies here do not read observations
    env = gym.make(HIGHWAY, **env_kwargs)
    rows = []
    print(f"{'policy':<12} {'return':>7} {'95% CI':>16} {'std':>6} {'length':>7}   ({args.episodes} episodes each)")
    for action in (None, *range(len(ACTIONS))):
        start = time.perf_counter()
        returns, lengths = play(env, action, args.episodes, args.seed)
        low, high = mean_interval(returns)
        name = "random" if action is None else ACTIONS[action]
        rows.append({"policy": name, "mean_return": float(np.mean(returns)), "return_ci95": [low, high],
                     "std_return": float(np.std(returns)), "mean_length": float(np.mean(lengths)),
                     "episodes": args.episodes, "seconds": round(time.perf_counter() - start, 1)})
        print(f"{name:<12} {np.mean(returns):7.2f} [{low:6.2f}, {high:6.2f}] {np.std(returns):6.2f} "
              f"{np.mean(lengths):7.1f}", flush=True)
    env.close()
    if args.json:
        args.json.write_text(json.dumps({"env_id": HIGHWAY, "env_kwargs": env_kwargs, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
