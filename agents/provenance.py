"""Where a result came from: the commit of the code that made it and the CPU it ran on. Every run's ``config.yaml``
records both (``meta.code``, ``meta.cpu``), and the benchmarks write them into their JSON, so that a figure in the
docs can be traced to its code and machine."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

#: The checkout that holds ``agents/`` and ``perceiver_rl/`` (in an installed wheel, site-packages: not a git tree).
REPO_ROOT = Path(__file__).resolve().parents[1]


def code_version(root: Path = REPO_ROOT) -> str | None:
    """The short commit of the git checkout at ``root``, with `` (modified)`` when its tracked files differ from that
    commit; None outside a git checkout (an installed wheel) or without git."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True,
                              timeout=10).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != root.resolve():
            return None  # root is inside some other repository, not a checkout of this code
        commit = git("rev-parse", "--short", "HEAD")
        modified = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + (" (modified)" if modified else "")


def cpu_name() -> str:
    """The CPU's model name and core count (``Intel(R) Xeon(R) Processor, 2 cores``): ``/proc/cpuinfo`` on Linux,
    ``platform.processor()`` elsewhere."""
    cpuinfo = Path("/proc/cpuinfo")
    text = cpuinfo.read_text() if cpuinfo.exists() else ""
    models = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")]
    name = models[0] if models else (platform.processor() or platform.machine() or "unknown CPU")
    return f"{name}, {os.cpu_count()} cores"
