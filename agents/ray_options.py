"""What the Ray backend needs from ``compare`` and ``sweep``: the cluster, each run's resources, retries, concurrency
and device. Importing it needs no Ray (only :mod:`agents.ray_backend` does)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from agents.cli_args import DEFAULT_MAX_FAILURES


@dataclass
class RayOptions:
    """Where and how the trials run: cluster address (None: a local instance), resources and retries per run."""

    address: str | None = None
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    max_failures: int = DEFAULT_MAX_FAILURES
    max_concurrent: int | None = None  # None: as many as the cluster's resources fit
    device: str = "auto"
    threads: int = 1

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RayOptions:
        """The options given to ``compare`` or ``sweep`` (``--ray-address``, ``--cpus-per-run``...), defaults filled."""
        gpus = args.gpus_per_run or 0.0
        # Ray 2.60 leaves the GPUs visible to runs that reserve none: ``auto`` must not train on a GPU it did not
        # reserve
        device = "cpu" if args.device == "auto" and gpus == 0 else args.device
        return cls(
            args.ray_address, 1.0 if args.cpus_per_run is None else args.cpus_per_run, gpus,
            DEFAULT_MAX_FAILURES if args.max_failures is None else args.max_failures, args.workers, device,
            args.threads,
        )
