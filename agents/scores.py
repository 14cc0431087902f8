"""The scores model: each run's evaluations as a :class:`RunScores`, and the scores file that holds a comparison's.

A scores file (``scores.json``) is what the report is built from: the env id, notes on runs left out, and every run's
evaluations; one alone rebuilds the same report, and several comparisons' merge into one (:mod:`agents.score_merging`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.errors import UsageError

SCORES_FILE = "scores.json"
_ARRAYS = ("timesteps", "train_seconds", "returns", "success")


@dataclass
class RunScores:
    """One run's evaluations: env steps, training seconds and mean deterministic return at each evaluation.

    ``run`` is the run folder's path relative to the comparison folder.
    """

    core: str
    seed: int
    run: str
    timesteps: np.ndarray
    train_seconds: np.ndarray
    returns: np.ndarray
    success: np.ndarray
    parameters: int | None
    flops_per_step: int | None

    @property
    def steps_per_second(self) -> float:
        """Training throughput up to the last evaluation."""
        return float(self.timesteps[-1] / self.train_seconds[-1])

    def to_json(self) -> dict[str, Any]:
        """The scores as plain JSON values (NaN success, for envs without one, as null)."""
        arrays = {k: [None if np.isnan(v) else float(v) for v in getattr(self, k)] for k in _ARRAYS}
        return {"core": self.core, "seed": self.seed, "run": self.run, "parameters": self.parameters,
                "flops_per_step": self.flops_per_step, **arrays}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunScores:
        """The inverse of :meth:`to_json`."""
        arrays = {k: np.array([np.nan if v is None else v for v in data[k]], dtype=float) for k in _ARRAYS}
        return cls(data["core"], int(data["seed"]), data["run"], parameters=data["parameters"],
                   flops_per_step=data["flops_per_step"], **arrays)


def scores_data(env_id: str, notes: list[str], runs: list[RunScores]) -> dict[str, Any]:
    """The content of a scores file: what :func:`read_scores_file` reads back."""
    return {"env_id": env_id, "notes": notes, "runs": [r.to_json() for r in runs]}


def read_scores_file(path: Path) -> tuple[str, list[RunScores], list[str]]:
    """The env id, runs and notes of a scores file, or a UsageError if ``path`` is not one."""
    try:
        data = json.loads(path.read_text())
        return data["env_id"], [RunScores.from_json(r) for r in data["runs"]], list(data["notes"])
    except (ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{path}: expected a {SCORES_FILE} written by compare's report, could not read it "
                         f"({type(e).__name__}: {e})") from None
