"""Train, evaluate and compare Perceiver IO agents on games with many entities.

``python`` below is the interpreter with this project installed (after the README's set-up: ``.venv/bin/python``);
``perceiver-rl`` (the console script that installing the project adds) is the same command: ``perceiver-rl train ...``.

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
import sys
from collections.abc import Callable
from pathlib import Path

from agents.cli_args import (
    DEFAULT_CORE,
    DEFAULT_ENV,
    DEFAULT_MAX_FAILURES,
    DEFAULT_SEEDS,
    DEFAULT_WORKERS,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    device_name,
    int_at_least,
    nonnegative_float,
    positive_int,
    seed_int,
)
from agents.compare_command import cmd_compare
from agents.errors import UsageError
from agents.eval_command import cmd_eval
from agents.evaluation import EVAL_SEED
from agents.hints import CONSOLE_SCRIPT, Hints
from agents.presets import AGENT_CORES
from agents.sweep import cmd_sweep
from agents.train_command import cmd_train

#: Each command: its arguments and how to print commands that start this CLI again -> the exit code.
COMMANDS: dict[str, Callable[[argparse.Namespace, Hints], int]] = {
    "train": cmd_train, "eval": cmd_eval, "compare": cmd_compare, "sweep": cmd_sweep,
}


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (plus a pointer to --help) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``train`` and ``compare``: budget, hyperparameters, device and env packages."""
    p.add_argument("--env", help=f"gymnasium env id following the entity convention (default {DEFAULT_ENV})")
    p.add_argument("--timesteps", type=positive_int, help="total env steps (default: the preset's total_timesteps)")
    p.add_argument("--n-envs", type=positive_int, help="parallel envs (default: the preset's n_envs)")
    p.add_argument("--logdir", type=Path, default=Path("runs"), help="parent folder of the run folders (default runs)")
    p.add_argument("--config", type=Path, help="YAML with run/algo/policy/env sections over the presets")
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


def build_parser(prog: str) -> Parser:
    """The CLI, named ``prog`` in its messages: ``train``, ``eval``, ``compare`` and ``sweep``."""
    parser = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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


def main(argv: list[str] | None = None, *, script: Path | None = None) -> int:
    """Parse the command line (no arguments: ``train`` with the defaults) and run the command.

    ``script`` is the file the CLI was started as (``train_agent.py``): messages and printed commands name it. None:
    the console script (``perceiver-rl``).
    """
    argv = sys.argv[1:] if argv is None else argv
    prog = CONSOLE_SCRIPT if script is None else script.name
    args = build_parser(prog).parse_args(argv or ["train"])
    try:
        return COMMANDS[args.command](args, Hints.started_as(script))
    except UsageError as e:
        print(f"{prog} {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # before or after training (during it, train() saves and returns)
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
