"""How PPO's updates went in finished runs: policy entropy, approximate KL and clip fraction through training.

For every run folder found under the given paths (a folder holding ``progress.csv``, as ``train_agent.py`` writes),
it reads SB3's ``train/*`` rows and prints, at 10%, 25%, 50% and 90% of the run's updates: the policy's entropy
(``-train/entropy_loss``; summed over the action's dimensions), ``train/approx_kl`` and ``train/clip_fraction``. A
policy whose entropy has collapsed and whose updates no longer move it (KL and clip fraction near 0) has stopped
exploring, whatever its budget left.

Run: ``python benchmarks/ppo_diagnostics.py DIR [DIR ...] [--out FILE.json]``
(writes ``benchmarks/results/ppo_diagnostics.json`` by default).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "ppo_diagnostics.json"
FRACTIONS = (0.1, 0.25, 0.5, 0.9)
COLUMNS = {"entropy": "train/entropy_loss", "approx_kl": "train/approx_kl", "clip_fraction": "train/clip_fraction"}


def update_rows(progress: Path) -> list[dict[str, str]]:
    """The rows of ``progress`` written after an update (those with a ``train/entropy_loss`` value)."""
    with open(progress, newline="") as f:
        return [row for row in csv.DictReader(f) if row.get(COLUMNS["entropy"])]


def run_diagnostics(run_dir: Path) -> dict:
    """Entropy, approx. KL and clip fraction of one run at each of :data:`FRACTIONS` of its updates."""
    rows = update_rows(run_dir / "progress.csv")
    if not rows:
        raise ValueError(f"{run_dir / 'progress.csv'}: expected rows with {COLUMNS['entropy']}, found none")
    picked = [rows[min(len(rows) - 1, int(fraction * len(rows)))] for fraction in FRACTIONS]
    out = {name: [float(row[column]) for row in picked] for name, column in COLUMNS.items()}
    out["entropy"] = [-value for value in out["entropy"]]  # SB3 logs the entropy's loss term, -entropy
    return {"run": run_dir.name, "updates": len(rows), **out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="folders holding run folders (or run folders)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON file (default {RESULTS})")
    args = parser.parse_args(argv)
    runs = sorted({p.parent for path in args.paths for p in path.rglob("progress.csv")})
    if not runs:
        parser.error(f"paths: expected folders holding run folders with progress.csv, found none in {args.paths}")
    results = [run_diagnostics(run) for run in runs]
    print("each column at " + ", ".join(f"{f:.0%}" for f in FRACTIONS) + " of a run's updates")
    print(f"{'run':<48} {'entropy':<24} {'approx KL':<30} clip fraction")
    for r in results:
        cells = [" ".join(f"{v:.2f}" for v in r["entropy"]), " ".join(f"{v:.4f}" for v in r["approx_kl"]),
                 " ".join(f"{v:.3f}" for v in r["clip_fraction"])]
        print(f"{r['run']:<48} {cells[0]:<24} {cells[1]:<30} {cells[2]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": sys.argv, "fractions": FRACTIONS, "runs": results}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
