"""The comparison report: learning curves and final returns across seeds, with rliable's robust statistics.

Scores are each run's deterministic evaluation returns (``evaluations.csv``). Aggregates are interquartile means
(IQM) with 95% stratified-bootstrap confidence intervals (Agarwal et al. 2021, ``rliable``). Writes ``report/`` in the
folder: ``report.md``, ``report.json``, ``curves_steps.png``, ``curves_time.png`` and ``scores.json``, every run's
evaluations; a scores file alone rebuilds the same report (into a folder named after it, beside it), and several
comparisons' scores merge into one file to be reported side by side (:mod:`agents.score_merging`).

This module only puts the report together: loading (:mod:`agents.score_loading`), statistics
(:mod:`agents.report_stats`), figures (:mod:`agents.report_plots`) and Markdown (:mod:`agents.report_markdown`)
each live in their own.
"""

from __future__ import annotations

from pathlib import Path

from agents.report_markdown import markdown
from agents.report_plots import plot_curves
from agents.report_stats import (
    BOOTSTRAP_REPS,
    probabilities_of_improvement,
    steps_curve,
    summarize_core,
    time_curve,
    time_to_reach,
)
from agents.rundir import write_json
from agents.score_loading import load_scores
from agents.scores import SCORES_FILE, RunScores, scores_data

REPORT_DIR = "report"


def build_report(root: Path) -> Path:
    """Write the report of the runs under ``root`` (regenerated each time) and return its ``report.md``.

    ``root`` is a comparison folder (the report goes to ``root/report/``) or a scores file ``X.json`` (the report goes
    to the folder ``X/`` beside it).
    """
    env_id, runs, notes = load_scores(root)
    by_core: dict[str, list[RunScores]] = {}
    for run in sorted(runs, key=lambda r: r.seed):
        by_core.setdefault(run.core, []).append(run)
    by_steps, report_notes = {}, list(notes)
    for core, core_runs in by_core.items():
        curve = steps_curve(core_runs)
        if curve is None:
            ends = ", ".join(f"{int(r.timesteps[-1]):,}" for r in core_runs)
            report_notes.append(f"{core}: no curve by env steps: its runs share no evaluation step "
                                f"({', '.join(r.run for r in core_runs)} end at {ends} steps); final returns and "
                                "curves by time compare as usual")
        else:
            by_steps[core] = curve
    out = root.with_suffix("") if root.is_file() else root / REPORT_DIR
    out.mkdir(exist_ok=True)
    plot_curves(by_steps, "env steps", env_id, out / "curves_steps.png")
    plot_curves({c: time_curve(r) for c, r in by_core.items()}, "training wall-clock time (s)", env_id,
                out / "curves_time.png")
    cores = {core: summarize_core(rs) for core, rs in by_core.items()}
    data = {"env_id": env_id, "bootstrap_reps": BOOTSTRAP_REPS, "cores": cores,
            "probability_of_improvement": probabilities_of_improvement(cores),
            "time_to_reach": time_to_reach(by_core, cores), "notes": report_notes}
    (out / "report.md").write_text(markdown(root.name if root.is_file() else f"{root.name}/", data))
    write_json(out / "report.json", data)
    if not root.is_file():
        write_json(out / SCORES_FILE, scores_data(env_id, notes, runs))
    return out / "report.md"
