"""How PPO's updates went in finished runs: policy entropy, approximate KL and clip fraction through training.

For every run folder found under the given paths (a folder holding ``progress.csv``, as ``train_agent.py`` writes),
it reads SB3's ``train/*`` rows and prints, at 10%, 25%, 50% and 90% of the run's updates: the policy's entropy
(``-train/entropy_loss``; summed over the action's dimensions), ``train/approx_kl`` and ``train/clip_fraction``. A
policy whose entropy has collapsed and whose updates no longer move it (KL and clip fraction near 0) has stopped
exploring, whatever its budget left. Over all updates, or those whose row falls in ``--between START END`` env steps,
it also gives the median and largest approximate KL, and from ``train/n_updates`` (SB3 counts epochs) the epochs each
update ran: a ``target_kl`` ends an update's epochs early, and ``first_epoch_stops`` counts the updates it ended
inside their first epoch.

Run: ``python benchmarks/ppo_diagnostics.py DIR [DIR ...] [--between START END] [--out FILE.json]``
(writes ``benchmarks/results/ppo_diagnostics.json`` by default).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from itertools import pairwise
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "ppo_diagnostics.json"
FRACTIONS = (0.1, 0.25, 0.5, 0.9)
COLUMNS = {"entropy": "train/entropy_loss", "approx_kl": "train/approx_kl", "clip_fraction": "train/clip_fraction"}
STEPS, EPOCHS_DONE = "time/total_timesteps", "train/n_updates"  # SB3's n_updates: epochs run so far


def update_rows(progress: Path) -> list[dict[str, str]]:
    """The rows of ``progress`` written after an update (those with a ``train/entropy_loss`` value)."""
    with open(progress, newline="") as f:
        return [row for row in csv.DictReader(f) if row.get(COLUMNS["entropy"])]


def update_summary(rows: list[dict[str, str]], between: tuple[int, int] | None) -> dict:
    """Median and largest approx. KL of the updates in ``rows`` (those logged at env steps in ``[start, end)`` when
    ``between`` is given) and, where ``train/n_updates`` is logged, the epochs each of them ran."""
    epochs = [None] * len(rows)
    if all(row.get(EPOCHS_DONE) for row in rows):
        done = [0] + [int(float(row[EPOCHS_DONE])) for row in rows]
        epochs = [after - before for before, after in pairwise(done)]
    picked = [(row, n) for row, n in zip(rows, epochs, strict=True)
              if between is None or between[0] <= int(float(row[STEPS])) < between[1]]
    if not picked:
        return {"updates": 0}
    kl = sorted(float(row[COLUMNS["approx_kl"]]) for row, _ in picked)
    out = {"updates": len(picked), "approx_kl_median": kl[len(kl) // 2], "approx_kl_max": kl[-1]}
    if epochs[0] is not None:
        counts = [n for _, n in picked]
        out |= {"epochs_mean": sum(counts) / len(counts), "first_epoch_stops": sum(n == 1 for n in counts)}
    return out


def run_diagnostics(run_dir: Path, between: tuple[int, int] | None = None) -> dict:
    """Entropy, approx. KL and clip fraction of one run at each of :data:`FRACTIONS` of its updates, and the
    :func:`update_summary` of its updates (those in ``between``, env steps, when given)."""
    rows = update_rows(run_dir / "progress.csv")
    if not rows:
        raise ValueError(f"{run_dir / 'progress.csv'}: expected rows with {COLUMNS['entropy']}, found none")
    picked = [rows[min(len(rows) - 1, int(fraction * len(rows)))] for fraction in FRACTIONS]
    out = {name: [float(row[column]) for row in picked] for name, column in COLUMNS.items()}
    out["entropy"] = [-value for value in out["entropy"]]  # SB3 logs the entropy's loss term, -entropy
    return {"run": run_dir.name, "updates": len(rows), **out, "summary": update_summary(rows, between)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="folders holding run folders (or run folders)")
    parser.add_argument("--between", type=int, nargs=2, metavar=("START", "END"),
                        help="summarise only the updates logged at env steps in [START, END)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON file (default {RESULTS})")
    args = parser.parse_args(argv)
    if args.between and not 0 <= args.between[0] < args.between[1]:
        parser.error(f"--between: expected 0 <= START < END env steps, got {args.between[0]} {args.between[1]}")
    runs = sorted({p.parent for path in args.paths for p in path.rglob("progress.csv")})
    if not runs:
        parser.error(f"paths: expected folders holding run folders with progress.csv, found none in {args.paths}")
    between = tuple(args.between) if args.between else None
    results = [run_diagnostics(run, between) for run in runs]
    print("each column at " + ", ".join(f"{f:.0%}" for f in FRACTIONS) + " of a run's updates")
    print(f"{'run':<48} {'entropy':<24} {'approx KL':<30} clip fraction")
    for r in results:
        cells = [" ".join(f"{v:.2f}" for v in r["entropy"]), " ".join(f"{v:.4f}" for v in r["approx_kl"]),
                 " ".join(f"{v:.3f}" for v in r["clip_fraction"])]
        print(f"{r['run']:<48} {cells[0]:<24} {cells[1]:<30} {cells[2]}")
    window = "all updates" if between is None else f"updates logged at env steps [{between[0]:,}, {between[1]:,})"
    print(f"\n{window}:\n{'run':<48} {'updates':>7} {'KL median':>10} {'KL max':>8} {'epochs/update':>14} "
          f"{'first-epoch stops':>18}")
    for r in results:
        s = r["summary"]
        kl = f"{s['approx_kl_median']:>10.4f} {s['approx_kl_max']:>8.4f}" if s["updates"] else f"{'-':>10} {'-':>8}"
        has_epochs = "epochs_mean" in s
        epochs = f"{s['epochs_mean']:>14.2f} {s['first_epoch_stops']:>18}" if has_epochs else f"{'-':>14} {'-':>18}"
        print(f"{r['run']:<48} {s['updates']:>7} {kl} {epochs}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"command": sys.argv, "fractions": FRACTIONS, "between": between, "runs": results}
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
