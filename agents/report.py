"""The comparison report: learning curves and final returns across seeds, with rliable's robust statistics.

Scores are each run's deterministic evaluation returns (``evaluations.csv``). Aggregates are interquartile means
(IQM) with 95% stratified-bootstrap confidence intervals (Agarwal et al. 2021, ``rliable``). Writes ``report/`` in the
folder: ``report.md``, ``report.json``, ``curves_steps.png``, ``curves_time.png`` and ``scores.json``, every run's
evaluations; a scores file alone rebuilds the same report (into a folder named after it, beside it), and several
comparisons' scores merge into one file to be reported side by side.
"""

from __future__ import annotations

import itertools
import json
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import scipy.stats
from rliable import library, metrics, plot_utils
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO

from agents.compare import GRID_FILE
from agents.errors import UsageError
from agents.rundir import EVAL_CSV, MODEL_FILE, find_runs, json_text, load_run, write_json
from perceiver_rl.cost import policy_flops

matplotlib.use("Agg")  # files only, no display

BOOTSTRAP_REPS = 2000
CURVE_POINTS = 25  # points of the wall-clock curves
REPORT_DIR = "report"


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

    ``root`` is a folder of run folders, or a scores file written by :func:`build_report`. A run continued with
    ``--resume`` and its continuations count as one run (see :func:`_join_continuations`).
    """
    if root.is_file():
        try:
            data = json.loads(root.read_text())
            return data["env_id"], [RunScores.from_json(r) for r in data["runs"]], list(data["notes"])
        except (ValueError, KeyError, TypeError) as e:
            raise UsageError(f"{root}: expected a {SCORES_FILE} written by compare's report, could not read it "
                             f"({type(e).__name__}: {e})") from None
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
    runs = _join_continuations(pieces, notes)
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


def _join_continuations(pieces: dict[str, tuple[RunScores, dict[str, Any]]], notes: list[str]) -> list[RunScores]:
    """The runs of ``pieces``, each run continued with ``--resume`` joined with its continuations into one curve.

    A continuation names the model it resumed (``resumed_from``, found by its run folder's name, so folders may move)
    and the step it resumed at; one whose first run is not among ``pieces`` stays alone, with a note.
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


def scores_data(env_id: str, notes: list[str], runs: list[RunScores]) -> dict[str, Any]:
    """The content of a scores file: what :func:`load_scores` reads back."""
    return {"env_id": env_id, "notes": notes, "runs": [r.to_json() for r in runs]}


def merge_scores(sources: list[Path], labels: list[str] | None, into: Path) -> Path:
    """Write the runs of several comparisons of one env (folders or scores files) as one scores file ``into``.

    With ``labels`` (one per source) each run's core becomes ``"<core>, <label>"``, so two settings of one core are
    reported side by side; without, the sources' runs of a core join (seeds run apart). ``into`` is rewritten only
    when it holds the same merge already: nothing else is overwritten. Returns ``into``.
    """
    if labels is not None and len(labels) != len(sources):
        raise UsageError(f"--labels: expected {len(sources)}, one per --report-only source, got {len(labels)}")
    env_id: str | None = None
    runs: list[RunScores] = []
    notes: list[str] = []
    merged_from: list[str] = []
    owner: dict[tuple[str, int], Path] = {}  # (core, seed): the source holding that run
    for i, source in enumerate(sources):
        source_env, source_runs, source_notes = load_scores(source)
        if env_id is not None and source_env != env_id:
            raise UsageError(f"{source} holds runs of {source_env}, {sources[0]} of {env_id}; merge one env's runs")
        env_id = source_env
        for run in source_runs:
            if labels is not None:
                run = replace(run, core=f"{run.core}, {labels[i]}")
            key = (run.core, run.seed)
            if key in owner:
                raise UsageError(f"{owner[key]} and {source} both hold {run.core} seed {run.seed}; tell them apart "
                                 "with --labels")
            owner[key] = source
            runs.append(run)
        notes += [f"{source}: {note}" for note in source_notes]
        merged_from.append(str(source) if labels is None else f"{source} (label '{labels[i]}')")
    text = json_text(scores_data(env_id, [f"merged from {', '.join(merged_from)}", *notes], runs))
    if into.exists() and (not into.is_file() or into.read_text() != text):
        raise UsageError(f"--into {into}: exists and holds other runs; remove it or name another file")
    into.write_text(text)
    return into


def _iqm_per_point(scores: np.ndarray) -> np.ndarray:
    """(runs, tasks, points) -> the IQM over runs and tasks at each point (rliable's aggregate_iqm, vectorised)."""
    return scipy.stats.trim_mean(scores.reshape(-1, scores.shape[-1]), proportiontocut=0.25, axis=0)


def _interval(scores: Any, func: Callable[..., np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
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


def steps_curve(runs: list[RunScores]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IQM return and CI at the evaluation steps that every run reached."""
    steps = np.array(sorted(set.intersection(*(set(r.timesteps.tolist()) for r in runs))))
    if steps.size == 0:
        raise UsageError(f"the {runs[0].core} runs share no evaluation step ({', '.join(r.run for r in runs)}): "
                         "their curves cannot be averaged; evaluate every seed at the same steps (eval_freq)")
    scores = np.stack([r.returns[np.isin(r.timesteps, steps)] for r in runs])[:, None, :]
    point, interval = _interval(scores, _iqm_per_point)
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
    point, interval = _interval(scores[:, None, :], _iqm_per_point)
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


def plot_curves(
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], xlabel: str, title: str, path: Path
) -> None:
    """One IQM curve with its 95% CI band per core."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = dict(zip(curves, plt.get_cmap("tab10").colors, strict=False))
    for core, (x, point, interval) in curves.items():
        plot_utils.plot_sample_efficiency_curve(
            x, {core: point}, {core: interval}, algorithms=[core], colors=colors, ax=ax, xlabel=xlabel,
            ylabel="eval return (IQM, 95% CI)", labelsize="large", ticklabelsize="medium", marker=".",
        )
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _fmt(point: float, interval: Any) -> str:
    """``point [low, high]`` with two decimals."""
    return f"{float(point):.2f} [{float(interval[0]):.2f}, {float(interval[1]):.2f}]"


def summarize_core(runs: list[RunScores]) -> dict[str, Any]:
    """The final-return statistics, success, throughput and size of one core's runs."""
    finals = np.array([[r.returns[-1]] for r in runs])  # (runs, 1 task)
    iqm, ci = _interval(finals, lambda s: np.array([metrics.aggregate_iqm(s)]))
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
        p, ci = _interval(scores, lambda a, b: np.array([metrics.probability_of_improvement(a, b)]))
        result[f"{x} > {y}"] = {"p": float(p[0]), "ci95": ci[:, 0].tolist()}
    return result


def _count(n: int | None) -> str:
    """A count as ``12.3k`` / ``4.56M``, or ``n/a``."""
    if n is None:
        return "n/a"
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def markdown(source: str, data: dict[str, Any]) -> str:
    """The report as Markdown: the final-return table, the improvement table, the curves and the notes."""
    lines = [
        f"# Comparison on {data['env_id']}",
        "",
        f"Runs in `{source}`. Final return: each run's last deterministic evaluation. IQM and 95% CIs: rliable "
        f"stratified bootstrap over runs ({data['bootstrap_reps']} resamples). Steps/s: env steps per second of "
        "training (evaluations excluded), mean ± std over runs. FLOPs: the policy's forward pass for one env step.",
        "",
        "| core | runs | steps | final return IQM [95% CI] | mean ± std | success | steps/s | parameters | "
        "FLOPs/step |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for core, d in data["cores"].items():
        low, high = d["final_steps"][0], d["final_steps"][-1]
        steps = f"{low:,}" if low == high else f"{low:,}-{high:,}"
        success = "n/a" if d["success_rate"] is None else f"{d['success_rate']:.0%}"
        lines.append(
            f"| {core} | {len(d['runs'])} | {steps} | {_fmt(d['iqm'], d['iqm_ci95'])} | {d['mean']:.2f} ± "
            f"{d['std']:.2f} | {success} | {d['steps_per_second']:.0f} ± {d['steps_per_second_std']:.0f} "
            f"| {d['parameters'] or 0:,} | {_count(d['flops_per_step'])} |"
        )
    improvements = data["probability_of_improvement"]
    if improvements:
        lines += ["", "Probability of improvement (final return, P(X > Y), 95% CI):", "", "| comparison | P [95% CI] |",
                  "|---|---|"]
        lines += [f"| P({pair}) | {_fmt(p['p'], p['ci95'])} |" for pair, p in improvements.items()]
    reach = data["time_to_reach"]
    if len(reach) > 1:
        names = list(reach)
        lines += ["", "Training seconds until a core's IQM-by-time curve first reaches each core's final-return IQM "
                  "(runs interpolated between evaluations; - never within the time every run covers):", "",
                  "| final IQM of | target | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        for owner, row in reach.items():
            cells = ["-" if row["seconds"][c] is None else f"{row['seconds'][c]:.0f}" for c in names]
            lines.append(f"| {owner} | {row['target']:.2f} | " + " | ".join(cells) + " |")
    lines += ["", "![learning curves by env steps](curves_steps.png)", "",
              "![learning curves by wall-clock time](curves_time.png)", ""]
    if data["notes"]:
        lines += ["Notes:", "", *[f"- {note}" for note in data["notes"]], ""]
    return "\n".join(lines)


def build_report(root: Path) -> Path:
    """Write the report of the runs under ``root`` (regenerated each time) and return its ``report.md``.

    ``root`` is a comparison folder (the report goes to ``root/report/``) or a scores file ``X.json`` (the report goes
    to the folder ``X/`` beside it).
    """
    env_id, runs, notes = load_scores(root)
    by_core: dict[str, list[RunScores]] = {}
    for run in sorted(runs, key=lambda r: r.seed):
        by_core.setdefault(run.core, []).append(run)
    by_steps = {c: steps_curve(r) for c, r in by_core.items()}  # before any file is written: it may refuse the runs
    out = root.with_suffix("") if root.is_file() else root / REPORT_DIR
    out.mkdir(exist_ok=True)
    plot_curves(by_steps, "env steps", env_id, out / "curves_steps.png")
    plot_curves({c: time_curve(r) for c, r in by_core.items()}, "training wall-clock time (s)", env_id,
                out / "curves_time.png")
    cores = {core: summarize_core(rs) for core, rs in by_core.items()}
    data = {"env_id": env_id, "bootstrap_reps": BOOTSTRAP_REPS, "cores": cores,
            "probability_of_improvement": probabilities_of_improvement(cores),
            "time_to_reach": time_to_reach(by_core, cores), "notes": notes}
    (out / "report.md").write_text(markdown(root.name if root.is_file() else f"{root.name}/", data))
    write_json(out / "report.json", data)
    if not root.is_file():
        write_json(out / SCORES_FILE, scores_data(env_id, notes, runs))
    return out / "report.md"
