"""The report's figures: one IQM learning curve with its 95% CI band per core, written as a PNG.

Drawn with matplotlib's object API (a ``Figure`` of its own, saved by the Agg renderer): no pyplot state and no
backend to select, so importing or plotting changes nothing for the caller.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from rliable import plot_utils


def plot_curves(
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], xlabel: str, title: str, path: Path
) -> None:
    """Save to ``path`` one IQM curve ``(x, point, interval)`` with its 95% CI band per core (with no curve at all, a
    figure that says so: the report's notes say why)."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    colors = dict(zip(curves, matplotlib.colormaps["tab10"].colors, strict=False))
    for core, (x, point, interval) in curves.items():
        plot_utils.plot_sample_efficiency_curve(
            x, {core: point}, {core: interval}, algorithms=[core], colors=colors, ax=ax, xlabel=xlabel,
            ylabel="eval return (IQM, 95% CI)", labelsize="large", ticklabelsize="medium", marker=".",
        )
    ax.set_title(title)
    if curves:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no curve: see the report's notes", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
