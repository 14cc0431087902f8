"""A run's folder: its unique name, the files in it, and reading them back.

``<logdir>/<env>__<core>__<seed>__<time>/`` holds ``config.yaml`` (the full config, written first), tensorboard
events and ``progress.csv``, ``evaluations.npz`` / ``evaluations.csv``, ``best_model.zip``, ``checkpoints/``, and at
the end ``model.zip`` and ``summary.json``. Folders are created exclusively: nothing is ever overwritten.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from agents.presets import AgentConfig, read_yaml

CONFIG_FILE = "config.yaml"
MODEL_FILE = "model.zip"
SUMMARY_FILE = "summary.json"
#: Statuses of a run that ended as configured: its budget in steps, or its ``max_train_seconds`` wall-clock cap.
FINISHED = ("completed", "time_capped")
EVAL_CSV = "evaluations.csv"
EVAL_NPZ = "evaluations.npz"  # the periodic evaluations, as SB3's EvalCallback writes them
BEST_MODEL_FILE = "best_model.zip"
CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_PREFIX = "model"  # checkpoints/model_<steps>_steps.zip, as SB3's CheckpointCallback names them


def timestamp() -> str:
    """The local time as ``YYYYmmdd-HHMMSS``, for folder names."""
    return time.strftime("%Y%m%d-%H%M%S")


def env_name(env_id: str) -> str:
    """The env id without its namespace, safe in a folder name: ``perceiver_rl/Skirmish-v0`` -> ``Skirmish-v0``."""
    return env_id.rsplit("/", 1)[-1].replace(":", "-")


def unique_path(parent: Path, name: str, suffix: str = "", *, directory: bool = False) -> Path:
    """Create ``parent/name+suffix`` exclusively (a folder or an empty file); on a clash try ``name-2``, ``-3``..."""
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 10_000):
        path = parent / (name + (f"-{attempt}" if attempt > 1 else "") + suffix)
        try:
            if directory:
                path.mkdir()
            else:
                path.touch(exist_ok=False)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free name for {name} in {parent}")


def create_run_dir(logdir: Path, config: AgentConfig) -> Path:
    """Create the run's own folder ``logdir/<env>__<core>__<seed>__<time>``."""
    name = f"{env_name(config.env_id)}__{config.core}__{config.seed}__{timestamp()}"
    return unique_path(logdir, name, directory=True)


def save_config(run_dir: Path, config: AgentConfig, meta: dict[str, Any]) -> Path:
    """Write the run's full config and ``meta`` (command, versions, parameter count...) to ``config.yaml``."""
    path = run_dir / CONFIG_FILE
    path.write_text(yaml.safe_dump({**config.to_dict(), "meta": meta}, sort_keys=False))
    return path


def find_run_config(model_path: Path) -> Path | None:
    """The ``config.yaml`` of the run a model belongs to (beside it, or one folder up for checkpoints), if any."""
    for folder in (model_path.parent, model_path.parent.parent):
        if (folder / CONFIG_FILE).is_file():
            return folder / CONFIG_FILE
    return None


def load_run(run_dir_or_config: Path) -> tuple[AgentConfig, dict[str, Any]]:
    """A saved run's config and its ``meta`` section."""
    path = run_dir_or_config / CONFIG_FILE if run_dir_or_config.is_dir() else run_dir_or_config
    data = read_yaml(path, "run config")
    return AgentConfig.from_dict(data), dict(data.get("meta") or {})


def find_runs(root: Path) -> list[Path]:
    """Every run folder under ``root`` (a folder holding ``config.yaml``), sorted by path."""
    return sorted(p.parent for p in root.rglob(CONFIG_FILE))


def json_text(data: dict[str, Any]) -> str:
    """``data`` as the indented JSON text every file of a run or report holds."""
    return json.dumps(data, indent=2) + "\n"


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON."""
    path.write_text(json_text(data))
