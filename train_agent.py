"""Train, evaluate and compare Perceiver IO agents on games with many entities.

``python`` below is the interpreter with this project installed (after the README's set-up: ``.venv/bin/python``).

    python train_agent.py                      # the main job: Perceiver PPO on Skirmish at the preset's budget
    python train_agent.py train --env ID --core perceiver --timesteps N --seed S --n-envs K --logdir DIR \\
        [--config FILE] [--set key=value ...] [--device auto] [--resume CHECKPOINT] [--env-package NAME]
    python train_agent.py eval --model PATH --episodes N [--seed S] [--video FILE.gif|.mp4] [--attention] \\
        [--still FILE.png --still-step K]
    python train_agent.py compare --env ID --cores perceiver transformer mlp --seeds 5 --timesteps N --workers K \\
        --logdir DIR
    python train_agent.py compare --report-only DIR|SCORES.json [more ... --labels L ... --into MERGED.json]
    python train_agent.py compare ... --backend ray [--ray-address ADDRESS] [--cpus-per-run C] [--gpus-per-run G] \\
        [--max-failures N]
    python train_agent.py compare --backend ray --resume DIR    # continue an interrupted Ray grid
    python train_agent.py sweep --env ID --core C --search key=v1,v2,... [--samples K] --backend ray

Bad input (an unknown env id, core or key, a bad number, a missing model) prints one line and exits with code 2.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from agents.compare import Cell, create_compare_dir, run_grid
from agents.errors import UsageError
from agents.evaluation import EVAL_SEED, eval_env_id, evaluate
from agents.factory import make_env
from agents.presets import AGENT_CORES, AgentConfig, parse_assignment, parse_choices, resolve_config
from agents.rundir import FINISHED, env_name, find_run_config, load_run, timestamp, unique_path, write_json
from agents.training import TrainResult, train

if TYPE_CHECKING:
    from agents.ray_backend import RayOptions  # imported at run time only with --backend ray: Ray is optional

DEFAULT_ENV = "perceiver_rl/Skirmish-v0"
DEFAULT_CORE = "perceiver"
DEFAULT_SEEDS, DEFAULT_WORKERS, DEFAULT_MAX_FAILURES = 5, 2, 2
EXIT_USAGE, EXIT_INTERRUPTED = 2, 130


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (plus a pointer to --help) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def runnable_path(path: Path, *, executable: bool = False) -> str:
    """``path`` as a shell word that works from the current folder: relative below it, else absolute; quoted."""
    absolute = Path(os.path.abspath(path))  # not resolved: a venv's python is a link that must stay the venv's
    try:
        relative = absolute.relative_to(Path.cwd())
    except ValueError:
        return shlex.quote(str(absolute))
    # a bare command name is looked up on PATH: an executable in this very folder needs ./
    return shlex.quote(f".{os.sep}{relative}" if executable and len(relative.parts) == 1 else str(relative))


def command_line(*args: str | Path) -> str:
    """A ``train_agent.py`` command line that runs as printed: the interpreter running now (a bare ``python`` may be
    another one, without torch), this script, then ``args`` quoted for the shell."""
    words = [runnable_path(Path(sys.executable), executable=True), runnable_path(Path(__file__))]
    return " ".join(words + [shlex.quote(str(arg)) for arg in args])


def tensorboard_line(logdir: Path) -> str:
    """The tensorboard command for ``logdir`` that runs as printed: the ``tensorboard`` installed beside the running
    interpreter (in its venv), or ``python -m tensorboard.main``."""
    script = Path(sys.executable).parent / "tensorboard"
    python = runnable_path(Path(sys.executable), executable=True)
    start = runnable_path(script, executable=True) if script.is_file() else f"{python} -m tensorboard.main"
    return f"{start} --logdir {shlex.quote(str(logdir))}"


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    return parse


positive_int, seed_int = int_at_least(1), int_at_least(0)


def nonnegative_float(text: str) -> float:
    """An argparse type: a number >= 0 (a fraction of a GPU shares it between runs)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def device_name(text: str) -> str:
    """An argparse type: ``auto`` or a torch device (``cpu``, ``cuda``, ``cuda:1``)."""
    if text != "auto":
        try:
            torch.device(text)
        except RuntimeError:
            raise argparse.ArgumentTypeError(f"expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {text!r}") from None
    return text


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``train`` and ``compare``: budget, hyperparameters, device and env packages."""
    p.add_argument("--env", help=f"gymnasium env id following the entity convention (default {DEFAULT_ENV})")
    p.add_argument("--timesteps", type=positive_int, help="total env steps (default: the preset's total_timesteps)")
    p.add_argument("--n-envs", type=positive_int, help="parallel envs (default: the preset's n_envs)")
    p.add_argument("--logdir", type=Path, default=Path("runs"), help="parent folder of the run folders (default runs)")
    p.add_argument("--config", type=Path, help="YAML with run/algo/policy sections over the presets")
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="override preset keys, e.g. --set learning_rate=1e-3 perceiver.dim=32")
    p.add_argument("--device", type=device_name, default="auto", help="torch device (default auto)")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="torch CPU threads per run (default 1: fastest for small models on CPU)")
    p.add_argument("--env-package", action="append", default=[], metavar="NAME",
                   help="import this module first (it registers more env ids); repeatable")


def add_ray_options(p: argparse.ArgumentParser, backends: list[str]) -> None:
    """Options shared by ``compare`` and ``sweep``: the backend, the Ray cluster and what each run needs from it."""
    p.add_argument("--backend", choices=backends, default=backends[0],
                   help=f"where the runs train (default {backends[0]}; ray: one Ray Tune trial per run)")
    p.add_argument("--ray-address", metavar="ADDRESS",
                   help="Ray cluster to join: 'auto' or HOST:PORT of the head (default: a local Ray instance)")
    p.add_argument("--cpus-per-run", type=nonnegative_float, help="CPUs Ray reserves for each run (default 1)")
    p.add_argument("--gpus-per-run", type=nonnegative_float,
                   help="GPUs Ray reserves for each run, e.g. 0.5 (default 0: the run trains on CPU)")
    p.add_argument("--max-failures", type=seed_int,
                   help=f"retries of a run whose worker dies (default {DEFAULT_MAX_FAILURES})")


def build_parser() -> Parser:
    """The CLI: ``train``, ``eval``, ``compare`` and ``sweep``."""
    parser = Parser(prog="train_agent.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,eval,compare,sweep}")

    p = commands.add_parser("train", help="train one agent in its own run folder")
    add_run_options(p)
    p.add_argument("--core", choices=AGENT_CORES, help=f"the policy's core (default {DEFAULT_CORE})")
    p.add_argument("--seed", type=seed_int, default=None, help="random seed (default 0)")
    p.add_argument("--resume", type=Path, metavar="CHECKPOINT",
                   help="continue a saved model (model.zip or a checkpoint) with its run's config, in a new folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no evaluation lines")

    p = commands.add_parser("eval", help="evaluate a saved agent, optionally filming an episode")
    p.add_argument("--model", type=Path, required=True, help="a saved agent (.zip)")
    p.add_argument("--episodes", type=positive_int, default=10, help="deterministic episodes (default 10)")
    p.add_argument("--seed", type=seed_int, default=EVAL_SEED,
                   help=f"seed of the first episode, the filmed one; episode i gets seed + i (default {EVAL_SEED})")
    p.add_argument("--video", type=Path, help="film the first episode to this .gif or .mp4")
    p.add_argument("--attention", action="store_true",
                   help="draw what each decision attended to over the filmed frames (attention cores only)")
    p.add_argument("--still", type=Path, metavar="FILE.png", help="save one frame of the filmed episode as a PNG")
    p.add_argument("--still-step", type=int_at_least(0), metavar="K",
                   help="the frame --still saves (default 0, the first state)")
    p.add_argument("--env", help="env id (default: from the run's config.yaml beside the model)")
    p.add_argument("--env-package", action="append", default=[], metavar="NAME", help="import this module first")
    p.add_argument("--json", type=Path, help="write the results here (default: <model>.eval.json beside the model)")
    p.add_argument("--device", type=device_name, default="auto", help="torch device (default auto)")

    p = commands.add_parser("compare", help="train a grid of cores x seeds in parallel, then report")
    add_run_options(p)
    p.add_argument("--cores", nargs="+", choices=AGENT_CORES, help="cores to compare (default all)")
    p.add_argument("--seeds", type=positive_int, help=f"seeds 0..N-1 per core (default {DEFAULT_SEEDS})")
    p.add_argument("--workers", type=positive_int,
                   help=f"runs trained at once (default {DEFAULT_WORKERS}; ray: as many as the cluster fits)")
    p.add_argument("--report-only", type=Path, nargs="+", metavar="DIR|SCORES",
                   help="rebuild the report of the runs under DIR, or from a report's scores.json (into a folder "
                        "beside it named after it); several: merged into --into, reported side by side")
    p.add_argument("--labels", nargs="+", metavar="LABEL",
                   help="one per --report-only source: its runs' cores become 'CORE, LABEL' (two settings of a core)")
    p.add_argument("--into", type=Path, metavar="FILE.json",
                   help="the merged scores file of several --report-only sources (its report: the folder FILE/)")
    add_ray_options(p, ["local", "ray"])
    p.add_argument("--resume", type=Path, metavar="DIR",
                   help="continue the Ray grid in DIR: runs not finished train again, finished ones do not")

    p = commands.add_parser("sweep", help="search hyperparameters with Ray Tune; writes the best as a --config file")
    add_run_options(p)
    p.add_argument("--core", choices=AGENT_CORES, help=f"the policy's core (default {DEFAULT_CORE})")
    p.add_argument("--seed", type=seed_int, default=0, help="random seed of every trial (default 0)")
    p.add_argument("--search", nargs="+", action="extend", required=True, metavar="KEY=V1,V2,...",
                   help="values to try per key, e.g. --search learning_rate=1e-3,3e-4 net_arch=[64],[128,128]")
    p.add_argument("--samples", type=positive_int,
                   help="try K random combinations (Tune's random search) instead of the full grid")
    p.add_argument("--workers", type=positive_int, help="trials at once (default: as many as the cluster fits)")
    add_ray_options(p, ["ray"])
    return parser


def overrides_from(args: argparse.Namespace) -> dict[str, object]:
    """The flat overrides of ``--set``, ``--timesteps`` and ``--n-envs``."""
    overrides = dict(parse_assignment(text) for text in args.set)
    if args.timesteps is not None:
        overrides["total_timesteps"] = args.timesteps
    if args.n_envs is not None:
        overrides["n_envs"] = args.n_envs
    return overrides


def cmd_train(args: argparse.Namespace) -> int:
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
    print_train_result(result, args.logdir)
    return EXIT_INTERRUPTED if result.status == "interrupted" else 0


def resume_config(args: argparse.Namespace) -> AgentConfig:
    """The config of the run that ``--resume`` continues; only ``--timesteps`` (the new total) may change."""
    changed = [flag for flag, value in (("--set", args.set), ("--config", args.config), ("--n-envs", args.n_envs),
                                        ("--seed", args.seed)) if value not in (None, [])]
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


def print_train_result(result: TrainResult, logdir: Path) -> None:
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
    evaluate = command_line("eval", "--model", result.model_path, "--episodes", "100", "--video", "episode.gif")
    print(f"evaluate:    {evaluate}")
    if result.status == "interrupted":
        print(f"continue:    {command_line('train', '--resume', result.model_path, '--logdir', logdir)}")


def interval_text(stats: dict) -> str:
    """An evaluation's mean return and success rate with their 95% intervals, in one line's worth of text."""
    low, high = stats["return_ci95"]
    text = f"return {stats['mean_return']:.2f} (95% CI {low:.2f} to {high:.2f}; std {stats['std_return']:.2f})"
    if stats["success_rate"] is not None:
        low, high = stats["success_ci95"]
        text += f", success {stats['success_rate']:.0%} (95% CI {low:.0%} to {high:.0%})"
    return text


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a saved agent: text on stdout, JSON in a file."""
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


def given_flags(args: argparse.Namespace, flags: list[str]) -> list[str]:
    """The ``flags`` (``--ray-address``...) the user gave: those whose value is neither None nor empty."""
    return [flag for flag in flags if getattr(args, flag[2:].replace("-", "_")) not in (None, [])]


def ray_options(args: argparse.Namespace) -> RayOptions:
    """What the Ray backend needs from ``compare`` or ``sweep``: cluster, resources, retries, concurrency, device."""
    from agents.ray_backend import RayOptions

    gpus = args.gpus_per_run or 0.0
    # Ray 2.60 leaves the GPUs visible to runs that reserve none: ``auto`` must not train on a GPU it did not reserve
    device = "cpu" if args.device == "auto" and gpus == 0 else args.device
    return RayOptions(
        args.ray_address, 1.0 if args.cpus_per_run is None else args.cpus_per_run, gpus,
        DEFAULT_MAX_FAILURES if args.max_failures is None else args.max_failures, args.workers, device, args.threads,
    )


def cmd_compare(args: argparse.Namespace) -> int:
    """Run the cores x seeds grid (parallel ``train`` subprocesses, or Ray Tune trials), then write the report."""
    from agents.report import build_report  # matplotlib and rliable take seconds to import: only compare needs them

    if args.report_only is not None:
        report = build_report(report_source(args))
        print(f"report: {report}")
        return 0
    merge_only = given_flags(args, ["--into", "--labels"])
    if merge_only:
        raise UsageError(f"{', '.join(merge_only)}: only with --report-only")
    ray_only = given_flags(args, ["--ray-address", "--cpus-per-run", "--gpus-per-run", "--max-failures", "--resume"])
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
        print(f"continue:    {command_line('compare', '--backend', 'ray', '--resume', compare_dir)}")
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


def grid_configs(args: argparse.Namespace) -> tuple[str, dict[str, AgentConfig]]:
    """The env id and each core's config, checked (keys, values, the env and its observations) before any run."""
    env_id = args.env or DEFAULT_ENV
    overrides = overrides_from(args)
    configs = {core: resolve_config(env_id, core, 0, overrides, args.config, args.env_package)
               for core in args.cores or AGENT_CORES}
    for config in configs.values():
        make_env(env_id, 1, 0, args.env_package, env_kwargs=config.env).close()
    return env_id, configs


def compare_on_ray(args: argparse.Namespace) -> tuple[Path, list[Cell]]:
    """Run (or with ``--resume`` continue) the grid as Ray Tune trials; returns the folder and the cells."""
    from agents import ray_backend  # a UsageError naming the extra to install if Ray is missing

    if args.resume is not None:
        fixed = given_flags(args, ["--env", "--cores", "--seeds", "--timesteps", "--n-envs", "--config", "--set"])
        if fixed:
            raise UsageError(f"--resume continues the grid's own settings; drop {', '.join(fixed)}")
        ray_backend.check_resumable(args.resume)
        with ray_backend.cluster(args.ray_address):
            cells, _ = ray_backend.run_grid(None, 0, args.resume, ray_options(args), resume=True)
        return args.resume, cells
    env_id, configs = grid_configs(args)
    seeds = args.seeds or DEFAULT_SEEDS
    with ray_backend.cluster(args.ray_address):
        compare_dir = create_compare_dir(args.logdir, env_id)
        print(f"comparing {list(configs)} x {seeds} seeds on {env_id} as Ray Tune trials -> {compare_dir}",
              flush=True)
        cells, _ = ray_backend.run_grid(configs, seeds, compare_dir, ray_options(args))
    return compare_dir, cells


def compare_locally(args: argparse.Namespace) -> tuple[Path, list[Cell]]:
    """Run the grid as parallel ``train`` subprocesses; returns the folder and the cells that did not complete."""
    env_id, configs = grid_configs(args)
    train_args = ["--env", env_id, "--device", args.device, "--threads", str(args.threads)]
    for flag, value in (("--timesteps", args.timesteps), ("--n-envs", args.n_envs), ("--config", args.config)):
        train_args += [flag, str(value)] if value is not None else []
    train_args += ["--set", *args.set] if args.set else []
    for package in args.env_package:
        train_args += ["--env-package", package]
    return run_grid(
        [sys.executable, str(Path(__file__).resolve()), "train", *train_args], env_id, list(configs),
        args.seeds or DEFAULT_SEEDS, args.workers or DEFAULT_WORKERS, args.logdir,
    )


def cmd_sweep(args: argparse.Namespace) -> int:
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
        trials = ray_backend.sweep(base, choices, args.samples, folder, ray_options(args))
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
    path.write_text(ray_backend.best_preset(base, best, [
        f"The best of {len(completed)} {core} configurations on {env_id} by the final deterministic evaluation "
        f"return ({best['mean_return']:.3f} at {best['timesteps']:,} steps, seed {args.seed}).",
        f"From: {' '.join(sys.argv)}",
        f"Use:  {command_line('train', '--env', env_id, '--core', core, '--config', path)}",
    ]))
    print(f"best: {best['hparams']} -> {path}")
    print(f"train it: {command_line('train', '--env', env_id, '--core', core, '--config', path)}")
    return 0 if len(completed) == len(trials) else 1


def main(argv: list[str] | None = None) -> int:
    """Parse the command line (no arguments: ``train`` with the defaults) and run the command."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv or ["train"])
    command = {"train": cmd_train, "eval": cmd_eval, "compare": cmd_compare, "sweep": cmd_sweep}[args.command]
    try:
        return command(args)
    except UsageError as e:
        print(f"train_agent.py {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # before or after training (during it, train() saves and returns)
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
