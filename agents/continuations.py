"""Joining a run continued with ``--resume`` and its continuations into one run's scores: one curve, one clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agents.scores import RunScores


def join_continuations(pieces: dict[str, tuple[RunScores, dict[str, Any]]], notes: list[str]) -> list[RunScores]:
    """The runs of ``pieces`` (run folder: its scores and meta), each continued run joined with its continuations.

    A continuation names the model it resumed (``resumed_from``, found by its run folder's name, so folders may move)
    and the step it resumed at; one whose first run is not among ``pieces`` stays alone, with a note in ``notes``.
    """
    parent: dict[str, tuple[str, int]] = {}  # continuation: (the run it continues, the step it resumed at)
    for name, (run, meta) in pieces.items():
        if meta.get("resumed_from") is None or meta.get("resumed_at_step") is None:
            continue
        source_parts = Path(meta["resumed_from"]).parts
        found = [other for other in pieces if Path(other).name in source_parts and other != name]
        if len(found) == 1 and pieces[found[0]][0].core == run.core and pieces[found[0]][0].seed == run.seed:
            parent[name] = (found[0], int(meta["resumed_at_step"]))
        else:
            notes.append(f"{name}: continues {meta['resumed_from']}, not in this folder: its curve starts at step "
                         f"{meta['resumed_at_step']} and its clock at 0")

    def joined(name: str) -> RunScores:
        run = pieces[name][0]
        return _continued(joined(parent[name][0]), run, parent[name][1]) if name in parent else run

    continued = {first for first, _ in parent.values()}
    return [joined(name) for name in pieces if name not in continued]


def _continued(first: RunScores, then: RunScores, step: int) -> RunScores:
    """``first``'s evaluations up to ``step``, then those of ``then``, resumed from there, on ``first``'s clock.

    The clock at ``step`` is interpolated between ``first``'s evaluations (extrapolated at its throughput past them).
    """
    keep = first.timesteps <= step
    steps, seconds = np.r_[0.0, first.timesteps], np.r_[0.0, first.train_seconds]
    clock = float(np.interp(step, steps, seconds)) + max(0.0, step - steps[-1]) / first.steps_per_second
    return RunScores(
        then.core, then.seed, f"{first.run} + {then.run}", np.r_[first.timesteps[keep], then.timesteps],
        np.r_[first.train_seconds[keep], then.train_seconds + clock], np.r_[first.returns[keep], then.returns],
        np.r_[first.success[keep], then.success], then.parameters, then.flops_per_step,
    )
