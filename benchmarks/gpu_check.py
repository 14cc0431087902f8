"""CUDA paths end to end: training, saving, loading on the CPU, explain(), and the cores' GPU timings.

Run on a machine with a GPU: ``python benchmarks/gpu_check.py`` (exits 1 if any check fails). For each core it trains
MaskablePPO on Skirmish and PPO on Minefield with ``device="auto"`` (which must pick CUDA), checks that no NaN or
inf appears (``VecCheckNan``), saves the model, loads it on the CPU and compares the deterministic actions and values
of the same observations, and checks ``explain()``'s weights on the GPU. It then times forward+backward of both
cores at paper sizes (128 wide, 3 layers, 32 latents, batch 64) for N = 256 to 16384 entities, side by side in one
run. Writes ``benchmarks/results/gpu_check.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecCheckNan

from envs import Minefield, Skirmish
from perceiver_rl import CORES, MaskablePerceiverPolicy, PerceiverIO, PerceiverPolicy, TransformerCore, explain

RESULTS = Path(__file__).parent / "results" / "gpu_check.json"
ENTITY_COUNTS = (256, 1024, 4096, 16384)


def check_training(core: str, steps: int) -> dict:
    """Train on CUDA, save, load on the CPU; return the largest action/value differences and explain()'s checks."""
    results = {}
    for name, algo, policy, env_cls, kwargs in (
        ("skirmish_maskable", MaskablePPO, MaskablePerceiverPolicy, Skirmish, dict(actor="ally", targets="enemy")),
        ("minefield_ppo", PPO, PerceiverPolicy, Minefield, {}),
    ):
        env = VecCheckNan(make_vec_env(env_cls, n_envs=4, seed=0), raise_exception=True)
        model = algo(policy, env, n_steps=128, batch_size=128, seed=0, device="auto",
                     policy_kwargs=dict(core=core, **kwargs))
        assert model.device.type == "cuda", f"device='auto' picked {model.device} on a machine with a GPU"
        start = time.perf_counter()
        model.learn(steps)
        seconds = time.perf_counter() - start
        obs = env.reset()  # a batch of 4 observations
        with tempfile.TemporaryDirectory() as tmp:
            model.save(Path(tmp) / "model.zip")
            cpu_model = algo.load(Path(tmp) / "model.zip", device="cpu")
        gpu_obs, _ = model.policy.obs_to_tensor(obs)
        cpu_obs, _ = cpu_model.policy.obs_to_tensor(obs)
        with torch.no_grad():
            gpu_logits, gpu_values = model.policy.logits_and_values(gpu_obs)
            cpu_logits, cpu_values = cpu_model.policy.logits_and_values(cpu_obs)
        finite = gpu_logits > -1e7  # leave out the large negative logits of absent choices
        logit_diff = (gpu_logits.cpu() - cpu_logits)[finite.cpu()].abs().max().item()
        value_diff = (gpu_values.cpu() - cpu_values).abs().max().item()
        gpu_actions = model.predict(obs, deterministic=True)[0]
        cpu_actions = cpu_model.predict(obs, deterministic=True)[0]
        explanation = explain(model, obs)
        sums = explanation.relevance.sum(-1)
        results[name] = {
            "train_seconds": seconds, "steps": steps, "max_logit_diff_gpu_vs_cpu": logit_diff,
            "max_value_diff_gpu_vs_cpu": value_diff,
            "same_deterministic_actions": bool(np.array_equal(gpu_actions, cpu_actions)),
            "explain_rows_sum_to_1": bool(np.allclose(sums[sums > 0], 1.0, atol=1e-4)),
            "explain_nonnegative": bool((explanation.relevance >= 0).all()),
        }
        env.close()
    return results


def core_timings(min_time: float) -> list[dict]:
    """Forward+backward seconds of both cores at paper sizes on the GPU, side by side, for each N."""
    device = torch.device("cuda")
    cores = {"perceiver": PerceiverIO(128, 128, 128), "transformer": TransformerCore(128, 128, 128)}
    cores = {name: core.to(device) for name, core in cores.items()}
    queries = torch.randn(16, 128, device=device)
    rows = []
    for n in ENTITY_COUNTS:
        x = torch.randn(64, n, 128, device=device)
        mask = torch.rand(64, n, device=device) < 0.9
        row = {"n": n}
        for name, core in cores.items():
            try:
                core(x, mask, queries).sum().backward()  # warm-up
                torch.cuda.synchronize()
                times = []
                start = time.perf_counter()
                while len(times) < 5 or time.perf_counter() - start < min_time:
                    t0 = time.perf_counter()
                    core(x, mask, queries).sum().backward()
                    torch.cuda.synchronize()
                    times.append(time.perf_counter() - t0)
                row[name] = float(np.median(times))
            except torch.OutOfMemoryError:
                row[name] = None
                torch.cuda.empty_cache()
        rows.append(row)
    return rows


def _ms(seconds: float | None) -> str:
    return f"{seconds * 1e3:.2f}" if seconds is not None else "OOM"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2048, help="training steps per (core, game)")
    parser.add_argument("--min-time", type=float, default=1.0, help="seconds of timing per core-timing cell")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device (torch.cuda.is_available() is False)")
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "training": {}}
    for core in CORES:
        report["training"][core] = check_training(core, args.steps)
    report["core_timings_s"] = core_timings(args.min_time)
    failures = [
        f"{core}/{game}: {key}"
        for core, games in report["training"].items() for game, r in games.items()
        for key in ("same_deterministic_actions", "explain_rows_sum_to_1", "explain_nonnegative") if not r[key]
    ] + [
        f"{core}/{game}: GPU and CPU outputs differ by {r['max_logit_diff_gpu_vs_cpu']:.2e}"
        for core, games in report["training"].items() for game, r in games.items()
        if max(r["max_logit_diff_gpu_vs_cpu"], r["max_value_diff_gpu_vs_cpu"]) > 1e-3
    ]
    report["failures"] = failures
    print(f"device: {report['device']}, torch {report['torch']}")
    for core, games in report["training"].items():
        for game, r in games.items():
            explain_ok = r["explain_rows_sum_to_1"] and r["explain_nonnegative"]
            print(f"{core:11s} {game:18s} {r['steps']} steps in {r['train_seconds']:.1f} s; |GPU-CPU| logits "
                  f"{r['max_logit_diff_gpu_vs_cpu']:.1e} values {r['max_value_diff_gpu_vs_cpu']:.1e}; same actions "
                  f"{r['same_deterministic_actions']}; explain ok {explain_ok}")
    print(f"\n{'N':>6s} {'perceiver ms':>13s} {'transformer ms':>15s} {'ratio':>6s}   (fwd+bwd, batch 64, 128 wide)")
    for row in report["core_timings_s"]:
        p, t = row["perceiver"], row["transformer"]
        ratio = f"{t / p:.1f}x" if p and t else "-"
        print(f"{row['n']:6d} {_ms(p):>13s} {_ms(t):>15s} {ratio:>6s}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.out}")
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))


if __name__ == "__main__":
    main()
