"""One cell of a comparison grid, or one sweep trial: a resolved config trained in a folder, its progress on stdout.

Both backends train every cell through :func:`run_cell`. The local backend starts a process per cell as this module
(``python -m agents.cells JOB``, see :func:`cell_command`), its output going to the cell's log; Ray Tune calls it in a
trial (:func:`agents.ray_backend.run_trial`). A cell prints a line per evaluation and one when it ends.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from agents.cli_args import EXIT_INTERRUPTED, EXIT_USAGE
from agents.errors import UsageError
from agents.presets import AgentConfig
from agents.training import TrainResult, train


def run_cell(
    config: AgentConfig,
    folder: Path,
    *,
    device: str,
    threads: int,
    command: Sequence[str],
    on_evaluation: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train ``config`` in a new run folder in ``folder`` on ``threads`` torch threads, printing each evaluation and
    the outcome; ``command`` (the grid's or sweep's command line) goes to the run's ``config.yaml``, and
    ``on_evaluation`` gets each evaluation (see :func:`agents.training.last_evaluation`)."""
    torch.set_num_threads(threads)

    def report(evaluation: dict[str, Any]) -> None:
        print(f"steps {evaluation['timesteps']:>9,} | eval return {evaluation['mean_return']:7.2f} ± "
              f"{evaluation['std_return']:5.2f}", flush=True)
        if on_evaluation is not None:
            on_evaluation(evaluation)

    result = train(config, folder, device=device, echo=False, on_evaluation=report, command=command)
    s = result.summary
    print(f"{result.status}: {s['timesteps']:,} steps, {s['train_seconds']:.0f} s training "
          f"({s['steps_per_second']:.0f} steps/s) -> {result.run_dir}", flush=True)
    return result


def cell_job(config: AgentConfig, folder: Path, device: str, threads: int, command: Sequence[str]) -> str:
    """The argument of ``python -m agents.cells``: :func:`run_cell`'s arguments as JSON."""
    return json.dumps({"config": config.to_dict(), "folder": str(folder), "device": device, "threads": threads,
                       "command": list(command)})


def cell_command(job: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a process that runs ``job``: this interpreter, this module, and the
    folder holding the ``agents`` package first on ``PYTHONPATH``, so that it runs this very code (from a
    checkout, or installed)."""
    root = str(Path(__file__).resolve().parents[1])
    python_path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return [sys.executable, "-m", __spec__.name, job], {**os.environ, "PYTHONPATH": python_path}


def main(argv: list[str] | None = None) -> int:
    """Run the cell of the JSON job in ``argv`` (:func:`cell_job`); exit 0 when it trained to the end (its budget or
    its time cap), 130 when interrupted (its model saved), 2 with one line on bad input."""
    (job,) = sys.argv[1:] if argv is None else argv
    spec = json.loads(job)
    try:
        result = run_cell(AgentConfig.from_dict(spec["config"]), Path(spec["folder"]), device=spec["device"],
                          threads=spec["threads"], command=spec["command"])
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # before or after training (during it, train() saves and returns)
        return EXIT_INTERRUPTED
    return EXIT_INTERRUPTED if result.status == "interrupted" else 0


if __name__ == "__main__":
    sys.exit(main())
