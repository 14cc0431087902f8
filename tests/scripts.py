"""The repository's scripts (``train_agent.py``, ``benchmarks/*.py``) imported as modules: they are not in a package."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_script(relative_path: str) -> ModuleType:
    """Import the script at ``relative_path`` from the repository root, e.g. ``"benchmarks/ppo_diagnostics.py"``."""
    path = REPO / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
