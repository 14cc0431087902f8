"""End-to-end PPO env steps per second: PerceiverPolicy vs the Transformer core vs SB3's MLP policy, and (with
``--ref COMMIT``) this code against another commit's, side by side in one run.

Run: ``python benchmarks/ppo_throughput.py`` (``--quick`` for a short check). Tasks:

- ``skirmish``: the flagship game with its shipped preset (``agents.make_agent``: per-actor queries, pointers,
  action masks, MaskablePPO, the preset's sizes and PPO settings), ``--skirmish-steps`` env steps, no evaluations;
- ``minefield16`` and ``minefield128``: Minefield at 16 and 128 mines with SB3's default PPO settings (n_steps 2048,
  batch 64, 10 epochs), n_envs=8, one rollout + update, each policy at its default sizes (``CoreConfig()``).

Every cell runs in a fresh process with one torch thread (SB3 issue #90) unless ``--threads`` says otherwise.
``--policy-variants "dim=32" "dim=64 num_latents=16"`` runs the Perceiver and Transformer cells once per variant (its
``key=value`` pairs are policy keyword arguments on Minefield, preset overrides on Skirmish; the MLP runs once), all
interleaved, so that policy sizes compare side by side in one run too.
``--ref COMMIT`` checks that commit out in a temporary git worktree and runs every cell with its code too (this
script's cell runner with the commit's ``perceiver_rl``, ``agents`` and ``envs`` first on ``PYTHONPATH``), the two
interleaved cell by cell and ``--repeats`` times, so that the machine's load hits both alike; the table gives the
median and the range, and ``new / ref`` ratios. Writes ``benchmarks/results/ppo_throughput.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "ppo_throughput.json"
POLICIES = ("mlp", "perceiver", "transformer")
TASKS = ("skirmish", "minefield16", "minefield128")
NEW = "new"


def run_cell(task: str, policy: str, steps: int, threads: int, device: str, config: Path | None = None,
             variant: dict | None = None) -> dict:
    """Train ``steps`` env steps of ``policy`` on ``task`` in this process; return steps/s and the policy's size.

    ``variant`` (policy keyword arguments) changes the Perceiver or Transformer policy; the MLP takes none.

    Imports here, not at module level: a ``--ref`` cell must take ``perceiver_rl``, ``agents`` and ``envs`` from the
    commit put first on ``PYTHONPATH``.
    """
    import torch

    torch.set_num_threads(threads)
    variant = variant or {}
    if variant and policy == "mlp":
        raise ValueError(f"variant: SB3's MLP policy takes no policy variant, got {variant}")
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    import agents
    import envs
    from agents import presets
    from perceiver_rl import PerceiverPolicy

    if task == "skirmish":
        overrides = presets.config_file_overrides(config) if config else {}
        model = agents.make_agent("perceiver_rl/Skirmish-v0", core=policy, seed=0, device=device,
                                  **{**overrides, **variant})
    else:
        n_mines = int(task.removeprefix("minefield"))
        env = make_vec_env(envs.Minefield, n_envs=8, seed=0, env_kwargs=dict(n_mines=n_mines))
        n_steps = steps // 8
        if policy == "mlp":
            model = PPO("MultiInputPolicy", env, n_steps=n_steps, seed=0, device=device)
        else:
            model = PPO(PerceiverPolicy, env, n_steps=n_steps, seed=0, device=device,
                        policy_kwargs=dict(core=policy, **variant))
    start = time.perf_counter()
    model.learn(steps)
    elapsed = time.perf_counter() - start
    model.env.close()
    params = sum(p.numel() for p in model.policy.parameters() if p.requires_grad)
    return {"steps_per_s": model.num_timesteps / elapsed, "params": params, "steps": model.num_timesteps,
            "code_root": str(Path(agents.__file__).resolve().parents[1])}


def cell_in_subprocess(code_root: Path, task: str, policy: str, steps: int, threads: int, device: str,
                       config: Path | None = None, variant: dict | None = None) -> dict:
    """:func:`run_cell` in a fresh process whose ``perceiver_rl``, ``agents`` and ``envs`` come from ``code_root``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(code_root), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, __file__, "--cell", task, policy, "--steps", str(steps), "--threads", str(threads),
               "--device", device, *(["--skirmish-config", str(config.resolve())] if config else []),
               "--cell-variant", json.dumps(variant or {})]
    done = subprocess.run(command, env=env, cwd=code_root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"cell {task} {policy} ({code_root}) failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(result["code_root"]) != code_root.resolve():  # the cell must have run the code it was given
        raise RuntimeError(f"cell {task} {policy} imported its code from {result['code_root']}, not {code_root}")
    return result


def git(*args: str) -> str:
    """Run git in the repository; return its stdout."""
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


@contextmanager
def worktree(commit: str) -> Iterator[Path]:
    """A temporary detached git worktree of ``commit``, removed afterwards."""
    sha = git("rev-parse", "--verify", f"{commit}^{{commit}}")
    path = Path(tempfile.mkdtemp(prefix=f"ppo_ref_{sha[:8]}_"))
    git("worktree", "add", "--detach", str(path), sha)
    try:
        yield path
    finally:
        git("worktree", "remove", "--force", str(path))


def cell_steps(task: str, args: argparse.Namespace) -> int:
    """Env steps of one cell: one Minefield rollout (8 envs x n_steps), or ``--skirmish-steps``."""
    if task == "skirmish":
        return args.skirmish_steps
    return 8 * (256 if args.quick else 2048)


def parse_variants(texts: list[str]) -> dict[str, dict]:
    """``--policy-variants`` strings (space-separated ``key=value`` pairs, values read as YAML) -> {label: kwargs}.

    No strings means one variant, the policy defaults, labelled ``""``.
    """
    from agents.presets import UsageError, parse_assignment

    try:
        return {text: dict(parse_assignment(pair, f"--policy-variants {text!r}") for pair in text.split())
                for text in texts or [""]}
    except UsageError as e:
        raise SystemExit(str(e)) from e


def variants_of(policy: str, variants: dict[str, dict]) -> dict[str, dict]:
    """The variants a policy runs: all of them for the attention cores, only the defaults (``""``) for the MLP."""
    return {"": {}} if policy == "mlp" else variants


def summarise(rows: list[dict], has_ref: bool) -> dict[str, float]:
    """The ratios the targets read: Perceiver over MLP and over the Transformer (per variant), and new over ref."""
    by = {(r["task"], r["policy"], r["code"], r["variant"]): r["steps_per_s"] for r in rows}
    variants = sorted({r["variant"] for r in rows if r["policy"] == "perceiver"})
    checks = {}
    for variant in variants:
        for task, policy in (("skirmish", "mlp"), ("minefield16", "mlp"), ("minefield128", "transformer")):
            other = (task, policy, NEW, "" if policy == "mlp" else variant)
            if (task, "perceiver", NEW, variant) in by and other in by:
                checks[f"{task}: perceiver / {policy}{_tag(variant)}"] = by[task, "perceiver", NEW, variant] / by[other]
    if has_ref:
        for (task, policy, code, variant), value in by.items():
            if code == NEW and (task, policy, "ref", variant) in by:
                checks[f"{task}: {policy} new / ref{_tag(variant)}"] = value / by[task, policy, "ref", variant]
    return checks


def _tag(variant: str) -> str:
    """`` [variant]`` after a ratio's name, nothing for the defaults."""
    return f" [{variant}]" if variant else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="Minefield n_steps 256 instead of SB3's 2048")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--policies", nargs="+", choices=POLICIES, default=list(POLICIES))
    parser.add_argument("--skirmish-steps", type=int, default=8192, help="env steps of a Skirmish cell")
    parser.add_argument("--skirmish-config", type=Path, help="a --config file applied on top of the Skirmish preset")
    parser.add_argument("--ref", metavar="COMMIT", help="also run every cell with this commit's code, interleaved")
    parser.add_argument("--repeats", type=int, default=1, help="runs of every cell (median and range reported)")
    parser.add_argument("--policy-variants", nargs="+", default=[], metavar="'KEY=VALUE ...'",
                        help="run the attention cores once per variant, e.g. 'dim=32' 'dim=64'")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--cell", nargs=2, metavar=("TASK", "POLICY"), help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cell-variant", type=json.loads, default={}, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:  # a child process: one measurement, printed as one JSON line
        print(json.dumps(run_cell(*args.cell, args.steps, args.threads, args.device, args.skirmish_config,
                                  args.cell_variant)))
        return
    variants = parse_variants(args.policy_variants)
    with worktree(args.ref) if args.ref else _no_ref() as ref_root:
        codes = {NEW: ROOT, **({"ref": ref_root} if ref_root else {})}
        samples: dict[tuple[str, str, str, str], list[dict]] = {}
        for repeat in range(args.repeats):
            for task in args.tasks:
                for policy in args.policies:
                    for label, variant in variants_of(policy, variants).items():
                        for code, root in codes.items():
                            result = cell_in_subprocess(root, task, policy, cell_steps(task, args), args.threads,
                                                        args.device, args.skirmish_config, variant)
                            samples.setdefault((task, policy, code, label), []).append(result)
                            print(f"  [{repeat + 1}/{args.repeats}] {task:12s} {policy:11s} {code:3s} {label:16s} "
                                  f"{result['steps_per_s']:8.0f} steps/s", flush=True)
    rows = []
    for (task, policy, code, label), results in samples.items():
        speeds = [r["steps_per_s"] for r in results]
        rows.append({"task": task, "policy": policy, "code": code, "variant": label,
                     "steps_per_s": statistics.median(speeds), "min": min(speeds), "max": max(speeds),
                     "runs": len(speeds), "params": results[0]["params"], "steps": results[0]["steps"]})
    checks = summarise(rows, bool(args.ref))
    from agents.provenance import code_version  # here: a --ref cell imports this file with that commit's agents

    head = code_version() or "unknown"
    print(f"\nPPO env steps/s, {args.device}, {args.threads} thread(s), {args.repeats} run(s) per cell (median "
          f"[min, max]); new = {head}" + (f", ref = {args.ref}" if args.ref else ""))
    print(f"{'task':12s} {'policy':11s} {'code':4s} {'variant':16s} {'steps/s':>8s} {'range':>15s} {'params':>8s}")
    for r in rows:
        spread = f"[{r['min']:.0f}, {r['max']:.0f}]"
        print(f"{r['task']:12s} {r['policy']:11s} {r['code']:4s} {r['variant']:16s} {r['steps_per_s']:8.0f} "
              f"{spread:>15s} {r['params']:8d}")
    print()
    for key, value in checks.items():
        print(f"{key:40s} {value:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": _machine(args.device), "device": args.device, "threads": args.threads,
            "skirmish_config": str(args.skirmish_config) if args.skirmish_config else None,
            "policy_variants": variants, "repeats": args.repeats, "new": head, "ref": args.ref,
            "python": platform.python_version(),
            "command": " ".join(["python", *sys.argv])}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows, "checks": checks}, indent=2) + "\n")
    print(f"\nwrote {args.out}")


@contextmanager
def _no_ref() -> Iterator[None]:
    yield None


def _machine(device: str) -> str:
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name()
    from agents.provenance import cpu_name  # here: a --ref cell imports this file with that commit's agents

    return cpu_name()


if __name__ == "__main__":
    main()
