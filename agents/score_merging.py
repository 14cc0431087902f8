"""Merging several comparisons' scores of one env into one scores file, to be reported side by side."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from agents.errors import UsageError
from agents.rundir import json_text
from agents.score_loading import load_scores
from agents.scores import RunScores, scores_data


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
