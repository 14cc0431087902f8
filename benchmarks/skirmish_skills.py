"""Which skills decide Skirmish, and which of them a trained agent has: a diagnostic for the flagship game.

Every controller plays the same deterministic Skirmish episodes (default opponent and strength, seeds ``--seed``,
``--seed + 1``, ...). The scripted ones are the enemy's scripts played for the allies (``Skirmish.scripted_action``)
and two ablations of focus fire, so the table shows what each skill is worth: ``focus, random target`` keeps its
walking and replaces its choice of target by a random enemy in range; ``focus, walk east`` keeps its targets and
replaces all its walking (and standing) by walking east. ``--models`` adds saved agents (their deterministic actions).

For every controller it measures the share of episodes won and of those that end at the step limit with both squads
alive (``timeouts``, lost too), and per allied unit and step:

- ``attacks when able``: how often it attacks when the mask allows an attack;
- ``focus target``: how often its attack hits focus fire's target (the weakest enemy in range), when it attacks and
  has more than one enemy in range;
- ``walks like nearest`` / ``walks like focus``: how often it walks within 45 degrees of the ``nearest`` script (to
  its nearest enemy) / the ``focus`` script (to the squad's focus target), when it has no enemy in range (both
  scripts then walk); ``walks away``: how often it then walks 135 degrees or more off the ``nearest`` script's
  heading (away from its nearest enemy); ``stays out of range``: how often it then stays put instead.

Run: ``python benchmarks/skirmish_skills.py [--episodes 100] [--models runs/<run>/model.zip ...]``.
Writes ``benchmarks/results/skirmish_skills.json`` (``--json`` elsewhere).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout: `agents` is a top-level package
from agents.factory import deterministic_action, load_agent, make_env  # noqa: E402
from envs.skirmish import N_VERBS, Skirmish  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "skirmish_skills.json"
ENV_ID = "perceiver_rl/Skirmish-v0"
EAST = 1  # the move verb east (verbs: 0 stay, 1..8 = E, NE, N, ..., SE)
Controller = Callable[[Skirmish, dict], np.ndarray]  # (env, observation) -> action (max_allies,)


def random_target(rng: np.random.Generator) -> Controller:
    """Focus fire's walking, with each attack aimed at a random enemy in range instead of the weakest."""

    def act(env: Skirmish, obs: dict) -> np.ndarray:
        action = env.scripted_action("focus")
        allowed = env.action_masks().reshape(env.max_allies, -1)[:, N_VERBS:]  # (A, E) attacks the mask allows
        for unit in np.flatnonzero(action >= N_VERBS):
            action[unit] = N_VERBS + rng.choice(np.flatnonzero(allowed[unit]))
        return action

    return act


def walk_east(env: Skirmish, obs: dict) -> np.ndarray:
    """Focus fire's attacks; every other living unit walks east."""
    action = env.scripted_action("focus")
    alive = env.units.alive[env.units.allies]
    return np.where(alive & (action < N_VERBS), EAST, action)


def scripted(style: str) -> Controller:
    """One of the enemy's scripts (hold, nearest, focus) played for the allies."""
    return lambda env, obs: env.scripted_action(style)


def trained(model_path: Path) -> Controller:
    """A saved agent's deterministic actions."""
    model = load_agent(model_path, make_env(ENV_ID, 1, 0, []), device="cpu")
    return lambda env, obs: deterministic_action(model, env, obs)


def headings_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many 45-degree steps move verbs ``a`` and ``b`` (1..8) are apart (0..4); -1 where ``a`` is no move."""
    apart = (a - b) % 8
    return np.where((a >= 1) & (a < N_VERBS), np.minimum(apart, 8 - apart), -1)


def play(controller: Controller, episodes: int, seed: int) -> dict[str, float]:
    """Win rate and skill rates (see the module docstring) of ``controller`` over ``episodes`` episodes."""
    env = Skirmish()
    wins = timeouts = 0
    names = ["able", "attacks", "choose", "focus", "walkers", "nearest", "focus_walk", "away", "stays"]
    counts = dict.fromkeys(names, 0)
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done, info = False, {}
        while not done:
            action = np.asarray(controller(env, obs))
            allowed = env.action_masks().reshape(env.max_allies, -1)[:, N_VERBS:]  # (A, E)
            focus, nearest = env.scripted_action("focus"), env.scripted_action("nearest")
            able, attacks = allowed.any(1), action >= N_VERBS
            choose = attacks & (allowed.sum(1) > 1)
            reach = env.units.reach[env.units.allies, env.units.enemies].any(1)  # in range, weapon ready or not
            walkers = env.units.alive[env.units.allies] & ~reach  # both scripts walk (to different goals)
            counts["able"] += able.sum()
            counts["attacks"] += (able & attacks).sum()
            counts["choose"] += choose.sum()
            counts["focus"] += (choose & (action == focus)).sum()
            counts["walkers"] += walkers.sum()
            off_nearest = headings_apart(action, nearest)
            counts["nearest"] += (walkers & np.isin(off_nearest, (0, 1))).sum()
            counts["focus_walk"] += (walkers & np.isin(headings_apart(action, focus), (0, 1))).sum()
            counts["away"] += (walkers & (off_nearest >= 3)).sum()
            counts["stays"] += (walkers & (action == 0)).sum()
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        wins += bool(info["win"])
        timeouts += truncated

    def rate(part: str, whole: str) -> float:
        return float(counts[part] / counts[whole]) if counts[whole] else float("nan")

    return {
        "win_rate": wins / episodes,
        "timeout_rate": timeouts / episodes,
        "attacks_when_able": rate("attacks", "able"),
        "focus_target": rate("focus", "choose"),
        "walks_like_nearest": rate("nearest", "walkers"),
        "walks_like_focus": rate("focus_walk", "walkers"),
        "walks_away": rate("away", "walkers"),
        "stays_out_of_range": rate("stays", "walkers"),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    """Play every controller, print the table, write the JSON; return the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100, help="episodes per controller (default 100)")
    parser.add_argument("--seed", type=int, default=3000, help="seed of the first episode (default 3000)")
    parser.add_argument("--models", type=Path, nargs="*", default=[], help="saved Skirmish agents (model.zip)")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write the rows (default {RESULTS})")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes: expected a positive count, got {args.episodes}")
    if len(set(args.models)) < len(args.models):
        parser.error(f"--models: expected distinct paths, got {[str(path) for path in args.models]}")
    torch.set_num_threads(1)
    controllers: dict[str, Controller] = {
        "script: focus (the heuristic)": scripted("focus"),
        "script: nearest": scripted("nearest"),
        "script: hold": scripted("hold"),
        "focus, random target": random_target(np.random.default_rng(args.seed)),
        "focus, walk east": walk_east,
    }
    controllers.update({f"model: {path}": trained(path) for path in args.models})  # the path as given: unique
    rows = [{"controller": name, **play(act, args.episodes, args.seed)} for name, act in controllers.items()]
    columns = [key for key in rows[0] if key != "controller"]
    print(f"Skirmish-v0, {args.episodes} deterministic episodes from seed {args.seed}")
    print("| controller | " + " | ".join(c.replace("_", " ") for c in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for row in rows:
        print(f"| {row['controller']} | " + " | ".join(f"{100 * row[c]:.0f}%" for c in columns) + " |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"episodes": args.episodes, "seed": args.seed, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.json}")
    return rows


if __name__ == "__main__":
    main()
