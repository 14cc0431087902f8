"""``train``: one agent in its own run folder, or a saved one continued (``--resume``), and the lines that end it."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from agents.cli_args import DEFAULT_CORE, DEFAULT_ENV, EXIT_INTERRUPTED, given_flags, overrides_from
from agents.errors import UsageError
from agents.hints import Hints, tensorboard_line
from agents.presets import AgentConfig, resolve_config
from agents.rundir import find_run_config, load_run
from agents.training import TrainResult, train


def cmd_train(args: argparse.Namespace, hints: Hints) -> int:
    """Train one agent (or continue one with ``--resume``) and print where everything is."""
    torch.set_num_threads(args.threads)
    if args.resume is None:
        config = resolve_config(
            args.env or DEFAULT_ENV, args.core or DEFAULT_CORE, args.seed or 0, overrides_from(args), args.config,
            args.env_package,
        )
    else:
        config = resume_config(args)
    result = train(config, args.logdir, device=args.device, resume=args.resume, echo=not args.quiet)
    print_train_result(result, args.logdir, hints)
    return EXIT_INTERRUPTED if result.status == "interrupted" else 0


def resume_config(args: argparse.Namespace) -> AgentConfig:
    """The config of the run that ``--resume`` continues; only ``--timesteps`` (the new total) may change."""
    changed = given_flags(args, ["--set", "--config", "--n-envs", "--seed"])
    if changed:
        raise UsageError(f"--resume continues the checkpoint's own run config; drop {', '.join(changed)}")
    config_path = find_run_config(args.resume) if args.resume.is_file() else None
    if config_path is None:
        raise UsageError(f"--resume {args.resume}: not a model or checkpoint inside a run folder (no config.yaml)")
    config, _ = load_run(config_path)
    for flag, given, saved in (("--env", args.env, config.env_id), ("--core", args.core, config.core)):
        if given is not None and given != saved:
            raise UsageError(f"--resume {args.resume}: the run used {flag} {saved}, not {given}")
    if args.timesteps is not None:
        config.run["total_timesteps"] = args.timesteps
    config.env_packages = list(dict.fromkeys(config.env_packages + args.env_package))
    return config


def print_train_result(result: TrainResult, logdir: Path, hints: Hints) -> None:
    """The end of a run: what it reached, and where the model, logs and tensorboard are."""
    s, final = result.summary, result.summary["final_eval"]
    status = "stopped at the max_train_seconds cap" if result.status == "time_capped" else result.status
    print(f"\n{status}: {s['timesteps']:,} steps, {s['train_seconds']:.0f} s training "
          f"({s['steps_per_second']:.0f} steps/s), {s['eval_seconds']:.0f} s evaluating")
    if final:
        print(f"{'final' if final['final'] else 'last'} evaluation at {final['timesteps']:,} steps "
              f"({final['episodes']} deterministic episodes): {interval_text(final)}")
    print(f"run folder:  {result.run_dir}")
    print(f"model:       {result.model_path}")
    print(f"tensorboard: {tensorboard_line(logdir)}")
    evaluate = hints.command("eval", "--model", result.model_path, "--episodes", "100", "--video", "episode.gif")
    print(f"evaluate:    {evaluate}")
    if result.status == "interrupted":
        print(f"continue:    {hints.command('train', '--resume', result.model_path, '--logdir', logdir)}")


def interval_text(stats: dict) -> str:
    """An evaluation's mean return and success rate with their 95% intervals, in one line's worth of text."""
    low, high = stats["return_ci95"]
    text = f"return {stats['mean_return']:.2f} (95% CI {low:.2f} to {high:.2f}; std {stats['std_return']:.2f})"
    if stats["success_rate"] is not None:
        low, high = stats["success_ci95"]
        text += f", success {stats['success_rate']:.0%} (95% CI {low:.0%} to {high:.0%})"
    return text
