"""End-to-end PPO env-steps per second: PerceiverPolicy vs the Transformer core vs SB3's MultiInputPolicy (MLP).

Run: ``python benchmarks/ppo_throughput.py`` (``--quick`` for a short check). The task is the shipped Minefield game
at 16 and 128 mines (entities); n_envs=8 (DummyVecEnv) and SB3's default PPO settings (n_steps=2048, batch 64,
10 epochs), so each run is one full rollout of 16,384 steps plus its update. Policies use their default sizes.
One run per cell, side by side in one process, one torch thread each (SB3 issue #90). Writes
``benchmarks/results/ppo_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from envs import Minefield
from perceiver_rl import PerceiverPolicy, count_params

RESULTS = Path(__file__).parent / "results" / "ppo_throughput.json"
POLICIES = ("mlp", "perceiver", "transformer")


def steps_per_second(policy: str, n_mines: int, n_steps: int, device: str = "cpu", seed: int = 0) -> tuple[float, int]:
    """Train one PPO iteration (8 envs x ``n_steps``) and return env steps per second and the policy's params."""
    env = make_vec_env(Minefield, n_envs=8, seed=seed, env_kwargs=dict(n_mines=n_mines))
    if policy == "mlp":
        model = PPO("MultiInputPolicy", env, n_steps=n_steps, seed=seed, device=device)
    else:
        model = PPO(PerceiverPolicy, env, n_steps=n_steps, seed=seed, device=device, policy_kwargs=dict(core=policy))
    start = time.perf_counter()
    model.learn(n_steps * 8)
    elapsed = time.perf_counter() - start
    env.close()
    return model.num_timesteps / elapsed, count_params(model.policy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="n_steps=256 instead of SB3's default 2048")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n_steps = 256 if args.quick else 2048
    rows = []
    for n_mines in (16, 128):
        for policy in POLICIES:
            fps, params = steps_per_second(policy, n_mines, n_steps, args.device)
            rows.append({"entities": n_mines, "policy": policy, "steps_per_s": fps, "params": params})
            print(f"  measured {policy:12s} N={n_mines:4d}: {fps:8.0f} steps/s", flush=True)
    by = {(r["entities"], r["policy"]): r["steps_per_s"] for r in rows}
    checks = {
        "perceiver_over_mlp_n16": by[(16, "perceiver")] / by[(16, "mlp")],
        "perceiver_over_transformer_n128": by[(128, "perceiver")] / by[(128, "transformer")],
        "perceiver_over_transformer_n16": by[(16, "perceiver")] / by[(16, "transformer")],
    }
    print(f"\nPPO (n_envs=8, n_steps={n_steps}, batch 64, 10 epochs), {args.device}, {args.threads} thread(s)")
    print(f"{'entities':>8s} {'policy':12s} {'steps/s':>8s} {'params':>8s}")
    for r in rows:
        print(f"{r['entities']:8d} {r['policy']:12s} {r['steps_per_s']:8.0f} {r['params']:8d}")
    print()
    for key, value in checks.items():
        print(f"{key:36s} {value:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or platform.machine()
    meta = {"machine": machine, "device": args.device, "threads": args.threads, "n_steps": n_steps,
            "torch": torch.__version__, "command": " ".join(["python", *sys.argv])}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows, "checks": checks}, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
