"""The report as Markdown: the final-return table, the improvement table, the time-to-reach table, the curves and
the notes, from the data of ``report.json``."""

from __future__ import annotations

from typing import Any


def _fmt(point: float, interval: Any) -> str:
    """``point [low, high]`` with two decimals."""
    return f"{float(point):.2f} [{float(interval[0]):.2f}, {float(interval[1]):.2f}]"


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
