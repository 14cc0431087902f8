"""Single-env random-action speed of every game, raw and as ``gym.make`` wraps it.

Run: ``python benchmarks/env_speed.py`` (``--steps 2000 --repeats 1`` for a short check). Actions are sampled before
the clock starts, so the time is the env's ``step`` (and the ``reset`` at each episode end) only. Each cell runs
``--repeats`` times; the table gives the best and the median wall-clock steps/s (this 2-core machine is shared and
noisy: the best run is the least disturbed one) and the best steps per CPU second of the process. Skirmish also runs
at its largest size, 8 allies vs 10 enemies; Minefield runs at N = 16, 256, 1024 and 4096 mines.
Writes ``benchmarks/results/env_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout: `envs` is a top-level package
import envs  # noqa: E402, F401  (registers the games)
from agents.provenance import cpu_name  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "env_speed.json"
#: (label, registered id, constructor kwargs, target steps/s from the issue, or None for no target)
CASES: list[tuple[str, str, dict, int | None]] = [
    ("Skirmish (default 2-8 vs 2-10)", "perceiver_rl/Skirmish-v0", {}, None),
    ("Skirmish 8 vs 10", "perceiver_rl/Skirmish-v0", {"min_allies": 8, "min_enemies": 10}, 10_000),
    ("Foraging", "perceiver_rl/Foraging-v0", {}, 20_000),
    ("Nearest", "perceiver_rl/Nearest-v0", {}, 20_000),
    ("Majority", "perceiver_rl/Majority-v0", {}, 20_000),
    ("Minefield N=16 (default)", "perceiver_rl/Minefield-v0", {}, 20_000),
    *[(f"Minefield N={n}", "perceiver_rl/Minefield-v0", {"n_mines": n}, None) for n in (256, 1024, 4096)],
]


def steps_per_second(env: gym.Env, actions: list, seed: int) -> tuple[float, float]:
    """Step ``env`` through the pre-sampled ``actions`` (resetting at episode ends): (steps per wall-clock second,
    steps per CPU second of this process; the latter is less disturbed by other processes on a shared machine)."""
    env.reset(seed=seed)
    wall, cpu = time.perf_counter(), time.process_time()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return len(actions) / (time.perf_counter() - wall), len(actions) / (time.process_time() - cpu)


def machine() -> dict:
    """Where the numbers come from."""
    return {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "gymnasium": gym.__version__,
        "load_average_at_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> dict:
    """Measure every case, print the table and write the JSON; return the JSON payload."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="timed steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per cell")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    info = machine()
    print(f"machine: {info['cpu']} ({info['cpu_count']} cores), load average {info['load_average_at_start']}")
    header = f"{'case':32s} {'variant':8s} {'best steps/s':>13s} {'median':>9s} {'per CPU s':>10s} {'target':>7s}"
    print(header)
    rows = []
    for label, env_id, kwargs, target in CASES:
        for variant in ("raw", "gym.make"):
            env = gym.make(env_id, **kwargs)
            env = env.unwrapped if variant == "raw" else env
            env.action_space.seed(0)
            actions = [env.action_space.sample() for _ in range(args.steps)]
            wall, cpu = zip(*[steps_per_second(env, actions, seed) for seed in range(args.repeats)], strict=True)
            row = {
                "case": label,
                "id": env_id,
                "kwargs": kwargs,
                "variant": variant,
                "best": max(wall),
                "median": statistics.median(wall),
                "best_per_cpu_second": max(cpu),
                "runs": list(wall),
                "target": target,
                "meets_target": None if target is None else max(wall) >= target,
            }
            rows.append(row)
            shown_target = "-" if target is None else f"{target:,}"
            print(
                f"{label:32s} {variant:8s} {row['best']:13,.0f} {row['median']:9,.0f} "
                f"{row['best_per_cpu_second']:10,.0f} {shown_target:>7s}"
            )
    payload = {
        "command": " ".join(["python benchmarks/env_speed.py", *(sys.argv[1:] if argv is None else argv)]),
        "steps": args.steps,
        "repeats": args.repeats,
        "machine": info,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    return payload


if __name__ == "__main__":
    main()
