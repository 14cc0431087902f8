"""Where a result came from (``agents/provenance.py``): the code's commit and the CPU, as runs and benchmarks record
them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from agents.provenance import REPO_ROOT, code_version, cpu_name

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=root,
                          capture_output=True, text=True, check=True).stdout.strip()


@needs_git
def test_a_checkout_gives_its_commit_and_whether_it_is_modified(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    git(tmp_path, "add", "a.py")
    git(tmp_path, "commit", "-q", "-m", "first")
    commit = git(tmp_path, "rev-parse", "--short", "HEAD")
    (tmp_path / "notes.txt").write_text("untracked files do not count\n")
    assert code_version(tmp_path) == commit
    (tmp_path / "a.py").write_text("x = 2\n")
    assert code_version(tmp_path) == f"{commit} (modified)"


@needs_git
def test_outside_a_checkout_of_this_code_there_is_no_commit(tmp_path: Path) -> None:
    assert code_version(tmp_path) is None  # not a git tree: an installed wheel
    git(tmp_path, "init", "-q")
    (tmp_path / "site-packages").mkdir()
    assert code_version(tmp_path / "site-packages") is None  # inside another repository, not its top level


@needs_git
def test_this_checkout_is_recorded() -> None:
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("the tests run from a copy that is not a git checkout")
    version = code_version()
    assert re.fullmatch(r"[0-9a-f]{7,40}( \(modified\))?", version)
    assert version.split()[0] == git(REPO_ROOT, "rev-parse", "--short", "HEAD")


def test_cpu_name_has_a_model_and_the_core_count() -> None:
    name, _, cores = cpu_name().rpartition(", ")
    assert name.strip() and cores == f"{os.cpu_count()} cores"
