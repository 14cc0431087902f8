"""How fast each core learns each skill: the skills suite (``envs/skills.py``), both cores, several seeds.

Every cell trains one core on one game with one seed, as a new user would: SB3's ``PPO`` with
``perceiver_rl.PerceiverPolicy`` at the policy defaults (``CoreConfig``; ``--policy-set key=value`` changes a size
or switch for every cell), the PPO settings of ``agents/presets/default.yaml`` (8 envs x 128 steps, batch 256,
4 epochs, entropy 0.01, constant rate 3e-4), one torch thread. Every ``--eval-every`` env steps a deterministic
evaluation on 256 fresh questions (32 episodes of 8, a separate env seeded ``10_000 + seed``) gives the accuracy;
a cell has *solved* its game at the first evaluation that reaches the game's ``success_accuracy`` (0.9) and stops
there (``--full`` trains on to ``--steps``). Cells run in fresh processes, ``--workers`` at once.

The table gives, per game and core: seeds solved, the median steps to solve (an unsolved seed counts as ``--steps``,
marked ``>``), the mean final accuracy, the minutes per cell, and the Perceiver's median steps over the
Transformer's. Writes every cell and the table to ``benchmarks/results/learning_speed.json`` (``--out``) after
every cell (``complete`` false until the last).

Run: ``python benchmarks/learning_speed.py [--games Xor Count] [--seeds 0 1 2] [--steps 100000]
[--policy-set dim=32] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import statistics
import time
from pathlib import Path
from typing import Any

import yaml

from agents.provenance import code_version, cpu_name

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "learning_speed.json"
CORES = ("perceiver", "transformer")
EVAL_EPISODES = 32  # x 8 rounds = 256 questions per evaluation


def ppo_settings() -> tuple[int, dict[str, Any]]:
    """(n_envs, PPO keyword arguments) from ``agents/presets/default.yaml``'s ``common`` section."""
    common = yaml.safe_load((ROOT / "agents" / "presets" / "default.yaml").read_text())["common"]
    algo = dict(common["algo"])
    if algo.pop("lr_schedule") != "constant":
        raise ValueError("agents/presets/default.yaml: this benchmark expects a constant learning rate")
    return int(common["run"]["n_envs"]), algo


def run_cell(game: str, core: str, seed: int, steps: int, eval_every: int, full: bool,
             policy_set: dict[str, Any]) -> dict[str, Any]:
    """Train one cell in this process; return its evaluations, steps to solve (None if unsolved) and wall time."""
    import gymnasium as gym
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    import envs
    from perceiver_rl import PerceiverPolicy

    torch.set_num_threads(1)
    env_id = f"perceiver_rl/{game}-v0"
    game_cls = envs.SKILLS[env_id]
    n_envs, algo = ppo_settings()
    make = functools.partial(gym.make, env_id)  # a callable: SB3 would ask an env id for rgb_array rendering
    env = make_vec_env(make, n_envs=n_envs, seed=seed)
    eval_env = make_vec_env(make, n_envs=8, seed=10_000 + seed)
    kwargs = dict(core=core, **game_cls.action_roles, **policy_set)
    model = PPO(PerceiverPolicy, env, seed=seed, device="cpu", policy_kwargs=kwargs, **algo)
    probe = gym.make(env_id).unwrapped
    threshold, rounds = probe.success_accuracy, probe.rounds
    start, curve, solved_at = time.perf_counter(), [], None
    while model.num_timesteps < steps:
        model.learn(eval_every, reset_num_timesteps=False)
        mean_return, _ = evaluate_policy(model, eval_env, n_eval_episodes=EVAL_EPISODES, deterministic=True)
        accuracy = float(mean_return) / rounds
        curve.append([model.num_timesteps, accuracy])
        if solved_at is None and accuracy >= threshold:
            solved_at = model.num_timesteps
            if not full:
                break
    env.close()
    eval_env.close()
    return {"game": game, "core": core, "seed": seed, "solved_at": solved_at, "final": curve[-1][1], "curve": curve,
            "seconds": time.perf_counter() - start, "params": sum(p.numel() for p in model.policy.parameters())}


def _cell(args: tuple) -> dict[str, Any]:
    return run_cell(*args)


def summarise(cells: list[dict[str, Any]], steps: int) -> list[dict[str, Any]]:
    """One row per (game, core): seeds solved, median steps to solve (unsolved = ``steps``), final accuracy."""
    rows = []
    for game in dict.fromkeys(c["game"] for c in cells):
        for core in dict.fromkeys(c["core"] for c in cells):
            mine = [c for c in cells if c["game"] == game and c["core"] == core]
            if not mine:
                continue
            to_solve = [c["solved_at"] if c["solved_at"] is not None else steps for c in mine]
            rows.append({"game": game, "core": core, "seeds": len(mine),
                         "solved": sum(c["solved_at"] is not None for c in mine),
                         "median_steps": statistics.median(to_solve),
                         "median_unsolved": statistics.median(to_solve) >= steps and
                         sum(c["solved_at"] is None for c in mine) * 2 >= len(mine),
                         "final": statistics.mean(c["final"] for c in mine),
                         "minutes": statistics.mean(c["seconds"] for c in mine) / 60})
    return rows


def ratio_rows(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Per game: the Perceiver's median steps to solve over the Transformer's."""
    by = {(r["game"], r["core"]): r for r in rows}
    return {game: by[game, "perceiver"]["median_steps"] / by[game, "transformer"]["median_steps"]
            for game, core in by if core == "perceiver" and (game, "transformer") in by}


def print_table(rows: list[dict[str, Any]], ratios: dict[str, float]) -> None:
    """The table the docs copy."""
    print(f"{'game':<10} {'core':<12} {'solved':>7} {'median steps':>13} {'final acc':>9} {'min/cell':>8}")
    for r in rows:
        median = (">" if r["median_unsolved"] else "") + f"{r['median_steps']:,.0f}"
        print(f"{r['game']:<10} {r['core']:<12} {r['solved']:>3}/{r['seeds']:<3} {median:>13} {r['final']:>9.3f} "
              f"{r['minutes']:>8.1f}")
    for game, value in ratios.items():
        print(f"{game}: perceiver / transformer median steps = {value:.2f}")


def parse_set(items: list[str]) -> dict[str, Any]:
    """``--policy-set`` ``key=value`` pairs (values read as YAML, as ``--set`` reads them) -> a dict, or an error."""
    from agents.presets import UsageError, parse_assignment

    try:
        return dict(parse_assignment(item, "--policy-set") for item in items)
    except UsageError as e:
        raise SystemExit(str(e)) from e


def main() -> None:
    import envs

    games = [env_id.split("/")[1].removesuffix("-v0") for env_id in envs.SKILLS]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", nargs="+", choices=games, default=games)
    parser.add_argument("--cores", nargs="+", choices=CORES, default=list(CORES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100_000, help="env steps per cell at most")
    parser.add_argument("--eval-every", type=int, default=5120, help="env steps between evaluations")
    parser.add_argument("--full", action="store_true", help="train on to --steps after solving")
    parser.add_argument("--policy-set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="policy_kwargs for every cell, e.g. num_latents=16")
    parser.add_argument("--workers", type=int, default=2, help="cells run at once, each in its own process")
    parser.add_argument("--label", default="defaults", help="what this run tries, stored in the JSON")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.steps < args.eval_every or args.eval_every < 1:
        raise SystemExit(f"--steps ({args.steps}) must be >= --eval-every ({args.eval_every}) >= 1")
    policy_set = parse_set(args.policy_set)
    jobs = [(g, c, s, args.steps, args.eval_every, args.full, policy_set)
            for g in args.games for s in args.seeds for c in args.cores]
    start = time.perf_counter()
    header = {"label": args.label, "policy_set": policy_set, "steps": args.steps, "eval_every": args.eval_every,
              "full": args.full, "seeds": args.seeds, "commit": code_version(),
              "machine": cpu_name()}
    order = {(g, c, s): i for i, (g, c, s, *_) in enumerate(jobs)}
    cells: list[dict[str, Any]] = []

    def write(complete: bool) -> list[dict[str, Any]]:
        """Write what has run so far (after every cell: an interrupted run keeps its finished cells)."""
        cells.sort(key=lambda c: order[c["game"], c["core"], c["seed"]])
        rows = summarise(cells, args.steps)
        result = {**header, "complete": complete, "wall_minutes": (time.perf_counter() - start) / 60, "rows": rows,
                  "perceiver_over_transformer": ratio_rows(rows), "cells": cells}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
        return rows

    with multiprocessing.get_context("spawn").Pool(args.workers, maxtasksperchild=1) as pool:
        for cell in pool.imap_unordered(_cell, jobs):
            cells.append(cell)
            at = cell["solved_at"]
            print(f"{cell['game']} {cell['core']} seed {cell['seed']}: "
                  f"{'solved at ' + format(at, ',') if at else 'unsolved'}, final {cell['final']:.3f}, "
                  f"{cell['seconds'] / 60:.1f} min", flush=True)
            write(complete=False)
    rows = write(complete=True)
    print_table(rows, ratio_rows(rows))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
