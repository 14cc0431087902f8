"""The commands the CLI prints for the user to paste (``evaluate:``, ``tensorboard:``, ``continue:``): each runs as
printed, in the folder the CLI ran in, with the interpreter (or console script) that is running now."""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

#: The console script that ``pip install`` puts beside the interpreter (``[project.scripts]`` in pyproject.toml).
CONSOLE_SCRIPT = "perceiver-rl"


def runnable_path(path: Path, *, executable: bool = False) -> str:
    """``path`` as a shell word that works from the current folder: relative below it, else absolute; quoted."""
    absolute = Path(os.path.abspath(path))  # not resolved: a venv's python is a link that must stay the venv's
    try:
        relative = absolute.relative_to(Path.cwd())
    except ValueError:
        return shlex.quote(str(absolute))
    # a bare command name is looked up on PATH: an executable in this very folder needs ./
    return shlex.quote(f".{os.sep}{relative}" if executable and len(relative.parts) == 1 else str(relative))


def python_word() -> str:
    """The running interpreter as a shell word (a bare ``python`` may be another one, without torch)."""
    return runnable_path(Path(sys.executable), executable=True)


@dataclass(frozen=True)
class Hints:
    """Printed command lines that start the CLI the way it was started: ``program`` is its first shell words."""

    program: str

    @classmethod
    def started_as(cls, script: Path | None) -> Hints:
        """Hints for a CLI started as the file ``script`` (``python train_agent.py``), or else as the console script:
        the one running now, or the one installed beside the interpreter, or ``python -m agents.cli`` if neither."""
        if script is not None:
            return cls(f"{python_word()} {runnable_path(script)}")
        running = Path(sys.argv[0])
        console = running if running.name == CONSOLE_SCRIPT else Path(sys.executable).parent / CONSOLE_SCRIPT
        return cls(runnable_path(console, executable=True) if console.is_file() else f"{python_word()} -m agents.cli")

    def command(self, *args: str | Path) -> str:
        """The CLI with ``args``, quoted for the shell."""
        return " ".join([self.program] + [shlex.quote(str(arg)) for arg in args])


def tensorboard_line(logdir: Path) -> str:
    """The tensorboard command for ``logdir`` that runs as printed: the ``tensorboard`` installed beside the running
    interpreter (in its venv), or ``python -m tensorboard.main``."""
    script = Path(sys.executable).parent / "tensorboard"
    start = runnable_path(script, executable=True) if script.is_file() else f"{python_word()} -m tensorboard.main"
    return f"{start} --logdir {shlex.quote(str(logdir))}"
