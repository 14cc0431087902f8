"""Running a comparison grid (cores x seeds) locally: every cell in its own process (:mod:`agents.cells`).

A crashed or killed cell is reported and the rest of the grid still runs; each cell's output goes to
``logs/<core>__<seed>.log`` and the outcome of every cell to ``grid.json`` in the comparison's own folder
``<logdir>/compare__<env>__<time>/``. While the cells train, each new evaluation of a cell (read from its run folder's
``evaluations.csv``) is printed as one line, and a finished cell's line gives its steps and final evaluation. Ctrl-C
reaches the running cells too: each saves its model, then the grid stops.
"""

from __future__ import annotations

import csv
import json
import math
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from agents.cells import cell_command, cell_job
from agents.presets import AgentConfig
from agents.rundir import EVAL_CSV, SUMMARY_FILE, env_name, timestamp, unique_path, write_json

GRID_FILE = "grid.json"
LOG_DIR = "logs"
POLL_SECONDS = 0.5


@dataclass
class Cell:
    """One run of the grid and, once it has ended, its exit code and outcome."""

    core: str
    seed: int
    log: str  # relative to the comparison's folder
    returncode: int | None = None
    outcome: str = "not started"


def describe(returncode: int) -> str:
    """A process's exit code in words."""
    if returncode == 0:
        return "completed"
    if returncode == 130:
        return "interrupted (model saved)"
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"failed with exit code {returncode}"


def create_compare_dir(logdir: Path, env_id: str) -> Path:
    """Create the comparison's own folder ``<logdir>/compare__<env>__<time>/`` and its ``logs/``."""
    compare_dir = unique_path(logdir, f"compare__{env_name(env_id)}__{timestamp()}", directory=True)
    (compare_dir / LOG_DIR).mkdir()
    return compare_dir


def cell_log(core: str, seed: int) -> str:
    """A cell's log file, relative to the comparison's folder: ``logs/<core>__<seed>.log``."""
    return f"{LOG_DIR}/{core}__{seed}.log"


def grid_cells(cores: Sequence[str], seeds: int) -> list[Cell]:
    """Every (core, seed) of the grid, seed by seed."""
    return [Cell(core, seed, cell_log(core, seed)) for seed in range(seeds) for core in cores]


def finish_grid(compare_dir: Path, record: dict[str, Any], cells: list[Cell]) -> list[Cell]:
    """Write ``grid.json`` (``record`` plus every cell) and print the cells that did not complete; returns them."""
    write_json(compare_dir / GRID_FILE, {**record, "cells": [asdict(c) for c in cells]})
    failed = [c for c in cells if c.returncode != 0]
    for cell in failed:
        log = f" (log: {compare_dir / cell.log})" if cell.returncode is not None else ""
        print(f"{cell.core} seed {cell.seed}: {cell.outcome}{log}", flush=True)
    return failed


def cell_run_dir(compare_dir: Path, env_id: str, cell: Cell) -> Path | None:
    """The run folder a cell's ``train`` created in the comparison's folder, or None before it exists."""
    found = sorted(compare_dir.glob(f"{env_name(env_id)}__{cell.core}__{cell.seed}__*"))
    return found[-1] if found else None


def evaluation_rows(run_dir: Path | None) -> list[dict[str, str]]:
    """The rows of a run's ``evaluations.csv`` so far (none if it is missing; ``train`` replaces the file whole, and
    a row with an empty field is left out all the same)."""
    path = run_dir / EVAL_CSV if run_dir is not None else None
    if path is None or not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [row for row in rows if all(value not in (None, "") for value in row.values())]


def evaluation_text(row: dict[str, str]) -> str:
    """One evaluation row as text: steps, mean ± std return, success rate and how many episodes it played."""
    success = float(row["success_rate"])
    success_text = "" if math.isnan(success) else f" | success {success:4.0%}"
    return (f"steps {int(float(row['timesteps'])):>9,} | eval return {float(row['mean_return']):7.2f} ± "
            f"{float(row['std_return']):5.2f}{success_text} ({int(float(row['episodes']))} episodes)")


def outcome_text(run_dir: Path | None) -> str:
    """A finished cell's steps and final evaluation from its ``summary.json``, or "" if it wrote none."""
    path = run_dir / SUMMARY_FILE if run_dir is not None else None
    if path is None or not path.is_file():
        return ""
    summary = json.loads(path.read_text())
    final = summary.get("final_eval") or {}
    text = f", {summary['timesteps']:,} steps"
    if final:
        text += f", final return {final['mean_return']:.2f}"
        text += "" if final.get("success_rate") is None else f", success {final['success_rate']:.0%}"
        text += f" ({final['episodes']} episodes)"
    return text


def run_grid(
    configs: dict[str, AgentConfig], seeds: int, workers: int, logdir: Path, device: str, threads: int
) -> tuple[Path, list[Cell]]:
    """Train every (core, seed) of ``configs`` (each core's resolved config) with at most ``workers`` cells at once,
    each on ``device`` with ``threads`` torch threads; returns the comparison folder and the failed cells."""
    env_id = next(iter(configs.values())).env_id
    compare_dir = create_compare_dir(logdir, env_id)
    cells = grid_cells(list(configs), seeds)
    pending, running = list(cells), {}
    printed: dict[tuple[str, int], list[dict[str, str]]] = {}  # the evaluation rows of each cell already shown
    print(f"comparing {list(configs)} x {seeds} seeds on {env_id}, {workers} at a time -> {compare_dir}", flush=True)
    try:
        while pending or running:
            while pending and len(running) < workers:
                cell = pending.pop(0)
                config = replace(configs[cell.core], seed=cell.seed)
                command, env = cell_command(cell_job(config, compare_dir, device, threads, sys.argv))
                with open(compare_dir / cell.log, "w") as log:
                    running[subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)] = cell
                cell.outcome = "running"
            time.sleep(POLL_SECONDS)
            for cell in running.values():
                shown = printed.setdefault((cell.core, cell.seed), [])
                for row in evaluation_rows(cell_run_dir(compare_dir, env_id, cell)):
                    if row not in shown:  # a new evaluation, or the final one replacing the last at its step
                        shown.append(row)
                        print(f"{cell.core} seed {cell.seed}: {evaluation_text(row)}", flush=True)
            for process in [p for p in running if p.poll() is not None]:
                cell = running.pop(process)
                cell.returncode, cell.outcome = process.returncode, describe(process.returncode)
                done = sum(c.returncode is not None for c in cells)
                outcome = outcome_text(cell_run_dir(compare_dir, env_id, cell))
                print(f"[{done}/{len(cells)}] {cell.core} seed {cell.seed}: {cell.outcome}{outcome}", flush=True)
    except KeyboardInterrupt:
        print("interrupted: the running cells save their models; waiting for them", flush=True)
        for process, cell in running.items():
            cell.returncode = process.wait()
            cell.outcome = describe(cell.returncode)
    failed = finish_grid(compare_dir, {"env_id": env_id, "command": list(sys.argv)}, cells)
    return compare_dir, failed
