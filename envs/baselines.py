"""Random and heuristic baselines on every game: ``python -m envs.baselines --episodes 100 [--json PATH]``.

Prints one row per (game, policy) with the mean return, its standard deviation, the success rate and the mean
episode length. ``random`` samples the action space uniformly; ``random-masked`` (games with ``action_masks``)
samples uniformly among the choices the mask allows; ``heuristic`` is the env's ``heuristic_action``.
:data:`SOLVED` holds the success rate a trained agent must reach for a game to count as solved (see docs/ENVS.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

from envs import GAMES
from envs.rollout import each_env, play_episodes

#: Success rate (``info["is_success"]`` over evaluation episodes) that counts as solving each game.
SOLVED: dict[str, float] = {
    "perceiver_rl/Skirmish-v0": 0.7,
    "perceiver_rl/Foraging-v0": 0.7,
    "perceiver_rl/Nearest-v0": 0.8,
    "perceiver_rl/Majority-v0": 0.8,
    "perceiver_rl/Minefield-v0": 0.8,
}

Policy = Callable[[gym.Env], object]


def masked_random(rng: np.random.Generator) -> Policy:
    """A policy that picks uniformly among the choices ``env.action_masks()`` allows (per sub-action)."""

    def act(env: gym.Env) -> object:
        mask = env.action_masks()
        if isinstance(env.action_space, gym.spaces.MultiDiscrete):
            rows = mask.reshape(len(env.action_space.nvec), -1)  # (sub-actions, choices)
            return np.where(rows, rng.random(rows.shape), -1.0).argmax(1)
        return int(np.where(mask, rng.random(mask.shape), -1.0).argmax())

    return act


def policies(env: gym.Env, seed: int) -> dict[str, Policy]:
    """The baselines that apply to ``env``: random, random-masked (if it has action masks), heuristic."""
    env.action_space.seed(seed)
    out: dict[str, Policy] = {"random": lambda e: e.action_space.sample()}
    if hasattr(env, "action_masks"):
        out["random-masked"] = masked_random(np.random.default_rng(seed))
    out["heuristic"] = lambda e: e.heuristic_action()
    return out


def evaluate(env: gym.Env, policy: Policy, episodes: int, seed: int) -> dict[str, float]:
    """Mean/std return, success rate and mean length of ``policy`` over ``episodes`` episodes seeded seed, seed+1..."""
    played = play_episodes([env], each_env(lambda e, obs: policy(e)), episodes, seed)
    return {
        "mean_return": float(np.mean(played.returns)),
        "std_return": float(np.std(played.returns)),
        "success_rate": float(np.mean(played.successes)),
        "mean_length": float(np.mean(played.lengths)),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    """Evaluate every baseline on every game, print the table, optionally write JSON; return the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100, help="episodes per (game, policy)")
    parser.add_argument("--seed", type=int, default=0, help="first episode seed")
    parser.add_argument("--games", nargs="*", default=list(GAMES), help="registered ids (default: all)")
    parser.add_argument("--json", type=Path, default=None, help="write the rows to this JSON file")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes: expected >= 1, got {args.episodes}")
    rows = []
    print(f"{'game':28s} {'policy':14s} {'return':>8s} {'std':>6s} {'success':>8s} {'length':>7s} {'solved at':>9s}")
    for game in args.games:
        env = gym.make(game).unwrapped
        for name, policy in policies(env, args.seed).items():
            row = {"game": game, "policy": name, **evaluate(env, policy, args.episodes, args.seed)}
            rows.append(row)
            print(
                f"{game:28s} {name:14s} {row['mean_return']:8.2f} {row['std_return']:6.2f} "
                f"{row['success_rate']:8.2f} {row['mean_length']:7.1f} {SOLVED.get(game, float('nan')):9.2f}"
            )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "command": " ".join(["python -m envs.baselines", *sys.argv[1:]]),
            "episodes": args.episodes,
            "seed": args.seed,
            "solved_success_rate": SOLVED,
            "rows": rows,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
