"""The report's statistics: interquartile means (IQM) with 95% stratified-bootstrap CIs (Agarwal et al. 2021,
``rliable``) of learning curves and final returns, probabilities of improvement, and times to reach a return.

Every interval is reproducible: each call draws its resamples from a freshly seeded generator (see
:func:`bootstrap_interval`) and leaves numpy's global one as it found it.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.stats
from rliable import library, metrics

from agents.scores import RunScores

BOOTSTRAP_REPS = 2000
CURVE_POINTS = 25  # points of the wall-clock curves


def _iqm_per_point(scores: np.ndarray) -> np.ndarray:
    """(runs, tasks, points) -> the IQM over runs and tasks at each point (rliable's aggregate_iqm, vectorised)."""
    return scipy.stats.trim_mean(scores.reshape(-1, scores.shape[-1]), proportiontocut=0.25, axis=0)


def bootstrap_interval(scores: Any, func: Callable[..., np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Point estimate and 95% stratified-bootstrap CI (2, ...) of ``func`` on one score array (or a pair).

    Reproducible: rliable's stratified bootstrap draws its resamples from numpy's global generator (its
    ``random_state`` seeds only arch's), so that generator is seeded for the call and restored afterwards.
    """
    global_state = np.random.get_state()  # noqa: NPY002 (the legacy global generator is what rliable draws from)
    np.random.seed(0)  # noqa: NPY002
    try:
        with warnings.catch_warnings():  # arch deprecates the RandomState that rliable passes on
            warnings.simplefilter("ignore", FutureWarning)
            point, interval = library.get_interval_estimates(
                {"x": scores}, func, reps=BOOTSTRAP_REPS, random_state=np.random.RandomState(0)
            )
    finally:
        np.random.set_state(global_state)  # noqa: NPY002
    return point["x"], interval["x"]


def steps_curve(runs: list[RunScores]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """IQM return and CI at the evaluation steps that every run reached; None if they share none (runs stopped by
    a wall-clock cap at different steps, or evaluated at different ``eval_freq``), whose returns cannot be averaged
    step by step."""
    steps = np.array(sorted(set.intersection(*(set(r.timesteps.tolist()) for r in runs))))
    if steps.size == 0:
        return None
    scores = np.stack([r.returns[np.isin(r.timesteps, steps)] for r in runs])[:, None, :]
    point, interval = bootstrap_interval(scores, _iqm_per_point)
    return steps, point, interval


def _on_time_grid(runs: list[RunScores], points: int) -> tuple[np.ndarray, np.ndarray]:
    """``points`` training seconds spanning the time every run covers, and each run's return there (runs, points),
    interpolated linearly between its evaluations."""
    start, end = max(r.train_seconds[0] for r in runs), min(r.train_seconds[-1] for r in runs)
    seconds = np.linspace(start, end, points) if end > start else np.array([end])
    return seconds, np.stack([np.interp(seconds, r.train_seconds, r.returns) for r in runs])


def time_curve(runs: list[RunScores]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IQM return and CI against training seconds, each run interpolated on a grid that every run covers."""
    seconds, scores = _on_time_grid(runs, CURVE_POINTS)
    point, interval = bootstrap_interval(scores[:, None, :], _iqm_per_point)
    return seconds, point, interval


def first_time_at(runs: list[RunScores], target: float, points: int = 500) -> float | None:
    """The first training second at which the IQM over ``runs`` of their returns (each run interpolated linearly
    between its evaluations) reaches ``target``, within the span every run covers; None if it never does."""
    seconds, scores = _on_time_grid(runs, points)
    iqm = _iqm_per_point(scores[:, None, :])  # (points,)
    reached = np.flatnonzero(iqm >= target - 1e-9)
    return float(seconds[reached[0]]) if reached.size else None


def time_to_reach(by_core: dict[str, list[RunScores]], cores: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """For each core Y: how many training seconds every core's IQM-by-time curve takes to reach Y's final-return IQM.

    Y's own time is its curve's first crossing too (a core that plateaus early is credited with the early time), or
    the end of its curve if the curve never reaches the final IQM (runs that stopped at different times).
    """
    result = {}
    for owner, summary in cores.items():
        seconds = {core: first_time_at(runs, summary["iqm"]) for core, runs in by_core.items()}
        if seconds[owner] is None:
            seconds[owner] = float(min(r.train_seconds[-1] for r in by_core[owner]))
        result[owner] = {"target": summary["iqm"], "seconds": seconds}
    return result


def summarize_core(runs: list[RunScores]) -> dict[str, Any]:
    """The final-return statistics, success, throughput and size of one core's runs."""
    finals = np.array([[r.returns[-1]] for r in runs])  # (runs, 1 task)
    iqm, ci = bootstrap_interval(finals, lambda s: np.array([metrics.aggregate_iqm(s)]))
    success = np.array([r.success[-1] for r in runs])
    steps_per_second = np.array([r.steps_per_second for r in runs])
    return {
        "runs": [r.run for r in runs], "final_returns": finals[:, 0].tolist(),
        "final_steps": sorted({int(r.timesteps[-1]) for r in runs}), "iqm": float(iqm[0]),
        "iqm_ci95": ci[:, 0].tolist(), "mean": float(finals.mean()), "std": float(finals.std()),
        "success_rate": None if np.isnan(success).all() else float(np.nanmean(success)),
        "steps_per_second": float(steps_per_second.mean()), "steps_per_second_std": float(steps_per_second.std()),
        "parameters": runs[0].parameters, "flops_per_step": runs[0].flops_per_step,
    }


def probabilities_of_improvement(cores: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """P(X > Y) of the final returns with its 95% CI, for every ordered pair of cores."""
    result = {}
    for x, y in itertools.permutations(cores, 2):
        scores = [np.array(cores[c]["final_returns"])[:, None] for c in (x, y)]
        p, ci = bootstrap_interval(scores, lambda a, b: np.array([metrics.probability_of_improvement(a, b)]))
        result[f"{x} > {y}"] = {"p": float(p[0]), "ci95": ci[:, 0].tolist()}
    return result
