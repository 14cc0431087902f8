"""Does ``torch.compile`` pay for the Skirmish policy on this machine? Compile time, and eager vs compiled time of one
PPO minibatch (forward, log-probabilities, entropy, backward), interleaved in one process.

Run: ``python benchmarks/compile_speed.py`` (``--batch``, ``--repeats``). The policy is the shipped Skirmish
preset's (``agents.make_agent``); the compiled function is the network (``logits_and_values``), compiled for one
static shape, as PPO's full minibatches have, from a cold cache unless ``--warm-cache``. Rollouts (batch
``n_envs``), the last minibatch and evaluations (batch 1) are other shapes, each compiled again. Writes
``benchmarks/results/compile_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if "--warm-cache" not in sys.argv:  # a cold compile, as a user's first run pays it: inductor's cache in a new folder
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor_")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import envs  # noqa: E402, F401  (registers the games)
from agents import make_agent  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "compile_speed.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256, help="minibatch size (the Skirmish preset's)")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of (eager, compiled) timings")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warm-cache", action="store_true", help="reuse inductor's cache (default: a cold compile)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    policy = make_agent("perceiver_rl/Skirmish-v0", core="perceiver", seed=0, device="cpu", n_envs=1).policy
    space = policy.observation_space
    samples = [space.sample() for _ in range(args.batch)]
    obs, _ = policy.obs_to_tensor({k: np.stack([s[k] for s in samples]) for k in samples[0]})
    actions = torch.as_tensor(np.stack([policy.action_space.sample() for _ in range(args.batch)]))
    masks = torch.ones(args.batch, int(policy.action_space.nvec.sum()), dtype=torch.bool)

    def minibatch() -> None:
        values, log_prob, entropy = policy.evaluate_actions(obs, actions, action_masks=masks)
        (log_prob.mean() + entropy.mean() + values.mean()).backward()

    eager = policy.logits_and_values
    compiled = torch.compile(eager, dynamic=False)
    start = time.perf_counter()
    policy.logits_and_values = compiled
    minibatch()  # compiles the forward and the backward graphs
    compile_seconds = time.perf_counter() - start
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    for _ in range(args.repeats):
        for name, fn in (("eager", eager), ("compiled", compiled)):
            policy.logits_and_values = fn
            minibatch()
            t0 = time.perf_counter()
            for _ in range(5):
                minibatch()
            times[name].append((time.perf_counter() - t0) / 5 * 1000)
    eager_ms, compiled_ms = (statistics.median(times[k]) for k in ("eager", "compiled"))
    speedup = eager_ms / compiled_ms
    # minibatches after which the compile time is paid back (each saves eager - compiled)
    break_even = compile_seconds * 1000 / max(eager_ms - compiled_ms, 1e-9)
    print(f"batch {args.batch}, {args.threads} thread(s): compile + first minibatch {compile_seconds:.1f} s; "
          f"minibatch eager {eager_ms:.1f} ms, compiled {compiled_ms:.1f} ms ({speedup:.2f}x); "
          f"paid back after {break_even:,.0f} minibatches")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "meta": {"batch": args.batch, "threads": args.threads, "torch": torch.__version__,
                 "cold_compile": not args.warm_cache,
                 "command": " ".join(["python", *sys.argv])},
        "compile_seconds": compile_seconds, "eager_ms": eager_ms, "compiled_ms": compiled_ms, "speedup": speedup,
        "break_even_minibatches": break_even, "times_ms": times,
    }, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
