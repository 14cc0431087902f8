"""``compare``: a grid of cores x seeds, trained locally (:mod:`agents.compare`) or on Ray (:mod:`agents.ray_backend`),
then its report; or a report rebuilt from runs or scores files already there (``--report-only``).

Every core's config and the env are checked before any cell starts; options of one backend are refused with the
other, and a resumed Ray grid keeps its own settings.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agents.cli_args import DEFAULT_ENV, DEFAULT_SEEDS, DEFAULT_WORKERS, EXIT_INTERRUPTED, given_flags, overrides_from
from agents.compare import Cell, create_compare_dir, run_grid
from agents.errors import UsageError
from agents.factory import make_env
from agents.hints import Hints, tensorboard_line
from agents.presets import AGENT_CORES, AgentConfig, resolve_config
from agents.ray_options import RayOptions

RAY_ONLY = ["--ray-address", "--cpus-per-run", "--gpus-per-run", "--max-failures", "--resume"]
#: What a resumed Ray grid takes from its saved state, not from the command line.
GRID_SETTINGS = ["--env", "--cores", "--seeds", "--timesteps", "--n-envs", "--config", "--set"]


def cmd_compare(args: argparse.Namespace, hints: Hints) -> int:
    """Run the cores x seeds grid (a process per cell, or Ray Tune trials), then write the report."""
    from agents.report import build_report  # matplotlib and rliable take seconds to import: only compare needs them

    if args.report_only is not None:
        report = build_report(report_source(args))
        print(f"report: {report}")
        return 0
    merge_only = given_flags(args, ["--into", "--labels"])
    if merge_only:
        raise UsageError(f"{', '.join(merge_only)}: only with --report-only")
    ray_only = given_flags(args, RAY_ONLY)
    if args.backend == "local" and ray_only:
        raise UsageError(f"{', '.join(ray_only)}: only with --backend ray")
    if args.backend == "ray":
        compare_dir, cells = compare_on_ray(args)
    else:
        compare_dir, cells = compare_locally(args)
    report = build_report(compare_dir)
    print(f"report: {report}")
    print(f"tensorboard: {tensorboard_line(compare_dir)}")
    if args.backend == "ray" and any(cell.returncode is None for cell in cells):
        print(f"continue:    {hints.command('compare', '--backend', 'ray', '--resume', compare_dir)}")
        return EXIT_INTERRUPTED
    return 1 if any(cell.returncode != 0 for cell in cells) else 0


def report_source(args: argparse.Namespace) -> Path:
    """What ``--report-only`` reports on: the one folder or scores file given, or several merged into ``--into``."""
    from agents.score_merging import merge_scores

    sources = args.report_only
    missing = [str(source) for source in sources if not source.exists()]
    if missing:
        raise UsageError(f"--report-only {' '.join(missing)}: no such folder or scores file")
    if args.into is not None and args.into.suffix != ".json":
        raise UsageError(f"--into {args.into}: expected a file ending in .json")
    if len(sources) == 1 and args.labels is None and args.into is None:
        return sources[0]
    if args.into is None:
        given = f"with {len(sources)} sources" if len(sources) > 1 else "with --labels"
        raise UsageError(f"--report-only {given}: name the merged scores file with --into FILE.json")
    return merge_scores(sources, args.labels, args.into)


def grid_configs(args: argparse.Namespace) -> dict[str, AgentConfig]:
    """Each core's config (seed 0), checked (keys, values, the env and its observations) before any run."""
    env_id = args.env or DEFAULT_ENV
    overrides = overrides_from(args)
    configs = {core: resolve_config(env_id, core, 0, overrides, args.config, args.env_package)
               for core in args.cores or AGENT_CORES}
    for config in configs.values():
        make_env(env_id, 1, 0, args.env_package, env_kwargs=config.env).close()
    return configs


def compare_on_ray(args: argparse.Namespace) -> tuple[Path, list[Cell]]:
    """Run (or with ``--resume`` continue) the grid as Ray Tune trials; returns the folder and the cells."""
    from agents import ray_backend  # a UsageError naming the extra to install if Ray is missing

    if args.resume is not None:
        fixed = given_flags(args, GRID_SETTINGS)
        if fixed:
            raise UsageError(f"--resume continues the grid's own settings; drop {', '.join(fixed)}")
        ray_backend.check_resumable(args.resume)
        with ray_backend.cluster(args.ray_address):
            cells, _ = ray_backend.run_grid(None, 0, args.resume, RayOptions.from_args(args), resume=True)
        return args.resume, cells
    configs = grid_configs(args)
    env_id, seeds = next(iter(configs.values())).env_id, args.seeds or DEFAULT_SEEDS
    with ray_backend.cluster(args.ray_address):
        compare_dir = create_compare_dir(args.logdir, env_id)
        print(f"comparing {list(configs)} x {seeds} seeds on {env_id} as Ray Tune trials -> {compare_dir}",
              flush=True)
        cells, _ = ray_backend.run_grid(configs, seeds, compare_dir, RayOptions.from_args(args))
    return compare_dir, cells


def compare_locally(args: argparse.Namespace) -> tuple[Path, list[Cell]]:
    """Run the grid with a process per cell; returns the folder and the cells that did not complete."""
    return run_grid(grid_configs(args), args.seeds or DEFAULT_SEEDS, args.workers or DEFAULT_WORKERS, args.logdir,
                    args.device, args.threads)
