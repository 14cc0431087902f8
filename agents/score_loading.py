"""Loading a comparison's scores: every evaluated run under a folder of run folders, or a scores file."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO

from agents.compare import GRID_FILE
from agents.continuations import join_continuations
from agents.errors import UsageError
from agents.rundir import EVAL_CSV, MODEL_FILE, find_runs, load_run
from agents.scores import RunScores, read_scores_file
from perceiver_rl.cost import policy_flops


def _flops_per_step(run_dir: Path, meta: dict[str, Any]) -> int | None:
    """The policy's forward FLOPs per env step, as training recorded it, else counted on the saved model (None if
    there is none, or it no longer loads)."""
    if meta.get("flops_per_step") is not None:
        return int(meta["flops_per_step"])
    model_path = run_dir / MODEL_FILE
    if not model_path.is_file():
        return None
    algo = MaskablePPO if meta.get("algorithm") == "MaskablePPO" else PPO
    try:
        return policy_flops(algo.load(model_path, device="cpu").policy)
    except (zipfile.BadZipFile, ValueError, KeyError, AssertionError, TypeError, RuntimeError):
        return None  # made by another version of the policy: the report says n/a


def load_scores(root: Path) -> tuple[str, list[RunScores], list[str]]:
    """The env id and the scores of every evaluated run under ``root``, plus notes on the runs left out.

    ``root`` is a folder of run folders, or a scores file written by the report. A run continued with ``--resume``
    and its continuations count as one run (see :func:`agents.continuations.join_continuations`).
    """
    if root.is_file():
        return read_scores_file(root)
    notes, env_ids = [], set()
    pieces: dict[str, tuple[RunScores, dict[str, Any]]] = {}  # run folder (relative to root): its scores and meta
    for run_dir in find_runs(root):
        config, meta = load_run(run_dir)
        env_ids.add(config.env_id)
        name = run_dir.relative_to(root)
        csv_path = run_dir / EVAL_CSV
        table = np.genfromtxt(csv_path, delimiter=",", names=True, ndmin=1) if csv_path.is_file() else None
        if table is None or table.size == 0:
            notes.append(f"{name}: no evaluation yet, left out")
            continue
        pieces[str(name)] = (RunScores(
            config.core, config.seed, str(name), table["timesteps"], table["train_seconds"],
            table["mean_return"], table["success_rate"], meta.get("parameters"), _flops_per_step(run_dir, meta),
        ), meta)
    runs = join_continuations(pieces, notes)
    seen: dict[tuple[str, int], str] = {}  # (core, seed): the run (or joined runs) holding it
    for run in runs:
        key = (run.core, run.seed)
        if key in seen:
            raise UsageError(f"{seen[key]} and {run.run} are both {run.core} seed {run.seed}; a report counts each "
                             f"seed once: move one of them out of {root}")
        seen[key] = run.run
    if len(env_ids) > 1:
        raise UsageError(f"{root} holds runs of several envs {sorted(env_ids)}; point at one comparison's folder")
    if not runs:
        raise UsageError(f"{root}: no evaluated runs found (folders with config.yaml and {EVAL_CSV})")
    grid = root / GRID_FILE
    if grid.is_file():
        cells = json.loads(grid.read_text())["cells"]
        notes += [f"{c['core']} seed {c['seed']}: {c['outcome']}" + (f" (log: {c['log']})" if c["returncode"] else "")
                  for c in cells if c["returncode"] != 0]
    return env_ids.pop(), runs, notes
