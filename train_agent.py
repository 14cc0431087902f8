"""Train, evaluate and compare Perceiver IO agents: ``python train_agent.py --help``.

The command line itself is :mod:`agents.cli` (installed, also the ``perceiver-rl`` console script); this file starts
it from a checkout, and names itself in the commands it prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

from agents import cli


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: this process's arguments) as ``train_agent.py``."""
    return cli.main(argv, script=Path(__file__))


if __name__ == "__main__":
    sys.exit(main())
