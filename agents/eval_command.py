"""``eval``: a saved agent's deterministic episodes, as text on stdout and JSON in a file."""

from __future__ import annotations

import argparse

import torch

from agents.errors import UsageError
from agents.evaluation import eval_env_id, evaluate
from agents.hints import Hints
from agents.rundir import unique_path, write_json


def cmd_eval(args: argparse.Namespace, hints: Hints) -> int:
    """Evaluate a saved agent: text on stdout, JSON in a file (``hints`` unused: eval prints no command)."""
    torch.set_num_threads(1)
    if args.still_step is not None and args.still is None:
        raise UsageError("--still-step: pass --still FILE.png too")
    env_id, env_packages, env_kwargs = eval_env_id(args.model, args.env, args.env_package)
    results = evaluate(args.model, env_id, args.episodes, args.video, env_packages, args.device,
                       attention=args.attention, still=args.still, still_step=args.still_step or 0, seed=args.seed,
                       env_kwargs=env_kwargs)
    json_path = args.json or unique_path(args.model.parent, f"{args.model.stem}.eval", ".json")
    write_json(json_path, results)
    print(f"{results['env_id']}, {results['episodes']} deterministic episodes of {args.model}")
    low, high = results["return_ci95"]
    print(f"return:  {results['mean_return']:.3f} ± {results['std_return']:.3f} (mean ± std; the mean's 95% CI "
          f"{low:.3f} to {high:.3f})")
    if results["success_rate"] is None:
        print("success: n/a (the env reports no is_success)")
    else:
        low, high = results["success_ci95"]
        print(f"success: {results['success_rate']:.1%} (95% CI {low:.1%} to {high:.1%}, Wilson)")
    if args.video:
        print(f"video:   {args.video}")
    if args.still:
        print(f"still:   {args.still}")
    print(f"json:    {json_path}")
    return 0
