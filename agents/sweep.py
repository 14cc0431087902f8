"""``sweep``: a hyperparameter search as Ray Tune trials, its table of trials, ``sweep.json`` and ``best.yaml``.

Every searched value is checked like ``--set`` before any trial starts. The trials, best final evaluation return
first, go to ``sweep.json`` in the sweep's folder ``<logdir>/sweep__<env>__<core>__<time>/``; the best values become
``best.yaml``, a ``--config`` file that ``train`` loads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from agents.cli_args import DEFAULT_CORE, DEFAULT_ENV, overrides_from
from agents.errors import UsageError
from agents.factory import make_env
from agents.hints import Hints
from agents.presets import SECTIONS, AgentConfig, parse_choices, resolve_config
from agents.ray_options import RayOptions
from agents.rundir import FINISHED, env_name, timestamp, unique_path, write_json


def cmd_sweep(args: argparse.Namespace, hints: Hints) -> int:
    """Search hyperparameters with Ray Tune, print every trial and write the best values as ``best.yaml``."""
    from agents import ray_backend  # a UsageError naming the extra to install if Ray is missing

    env_id, core = args.env or DEFAULT_ENV, args.core or DEFAULT_CORE
    overrides = overrides_from(args)
    base = resolve_config(env_id, core, args.seed, overrides, args.config, args.env_package)
    choices = dict(parse_choices(text) for text in args.search)
    for key, values in choices.items():
        if "." in key:
            raise UsageError(f"--search {key}: expected a plain key (a sweep has one core, --core {core})")
        for value in values:  # each value checked like --set, before any trial starts
            resolve_config(env_id, core, args.seed, {**overrides, key: value}, args.config, args.env_package,
                           source="--search")
    make_env(env_id, 1, 0, args.env_package, env_kwargs=base.env).close()
    with ray_backend.cluster(args.ray_address):
        folder = unique_path(args.logdir, f"sweep__{env_name(env_id)}__{core}__{timestamp()}", directory=True)
        print(f"sweeping {', '.join(choices)} of {core} on {env_id} as Ray Tune trials -> {folder}", flush=True)
        trials = ray_backend.sweep(base, choices, args.samples, folder, RayOptions.from_args(args))
    write_json(folder / "sweep.json", {"env_id": env_id, "core": core, "seed": args.seed, "search": choices,
                                       "samples": args.samples, "trials": trials})
    print(f"\n{'final return':>12}  {'status':<10} values")
    for t in trials:
        score = "" if t["mean_return"] is None else f"{t['mean_return']:.3f}"
        print(f"{score:>12}  {t['run_status'] or 'failed':<10} {t['hparams']}")
    completed = [t for t in trials if t["run_status"] in FINISHED]
    if not completed:
        print(f"no trial completed: see the logs in {folder}")
        return 1
    best, path = completed[0], folder / "best.yaml"
    train_line = hints.command("train", "--env", env_id, "--core", core, "--config", path)
    path.write_text(best_preset(base, best, [
        f"The best of {len(completed)} {core} configurations on {env_id} by the final deterministic evaluation "
        f"return ({best['mean_return']:.3f} at {best['timesteps']:,} steps, seed {args.seed}).",
        f"From: {' '.join(sys.argv)}",
        f"Use:  {train_line}",
    ]))
    print(f"best: {best['hparams']} -> {path}")
    print(f"train it: {train_line}")
    return 0 if len(completed) == len(trials) else 1


def best_preset(base: AgentConfig, best: dict[str, Any], header: Sequence[str]) -> str:
    """The searched keys at their ``best`` values as a ``--config`` file (run/algo/policy sections), after comments."""
    sections: dict[str, dict[str, Any]] = {}
    for key, value in best["hparams"].items():
        section = next(name for name in SECTIONS if key in getattr(base, name))
        sections.setdefault(section, {})[key] = value
    comments = "".join(f"# {line}\n" for line in header)
    return comments + yaml.safe_dump(sections, sort_keys=False)
