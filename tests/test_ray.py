"""The Ray Tune backend: ``compare --backend ray``, ``sweep``, retries of a dead worker and resuming a grid.

One Ray node (``ray start --head --block`` on 127.0.0.1, 2 CPUs, its own temp dir, no dashboard, no usage stats) serves
the module; the CLI joins it with ``--ray-address`` (the sweep starts a local instance of its own instead). Its workers
import this module (``--env-package test_ray``), which registers ``test_ray/Pick-v0``: test_cli's Pick whose reset with
the seed written in the file ``$TEST_RAY_KILL_FILE`` deletes that file and kills its own process (a worker dying once).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import pytest
import yaml
from test_cli import TINY, PickEnv, cli, cli_env, only_run, start, train_agent

import agents

KILL_FILE_VAR = "TEST_RAY_KILL_FILE"


class OnceDyingPick(PickEnv):
    """Pick, whose reset with the seed in ``$TEST_RAY_KILL_FILE`` removes the file and SIGKILLs its process."""

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        kill_file = Path(os.environ.get(KILL_FILE_VAR, "/nonexistent"))
        if seed is not None and kill_file.is_file() and kill_file.read_text().strip() == str(seed):
            kill_file.unlink()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().reset(seed=seed, options=options)


gym.register("test_ray/Pick-v0", entry_point=OnceDyingPick)


def grid_args(logdir: str, *cores: str, seeds: int = 1) -> list[str]:
    """A tiny compare grid on test_ray/Pick-v0."""
    return ["compare", "--env", "test_ray/Pick-v0", "--env-package", "test_ray", "--cores", *cores, "--seeds",
            str(seeds), "--timesteps", "512", "--logdir", logdir, *TINY]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def kill_file() -> Iterator[Path]:
    """The file whose content (an env seed) makes the next reset with that seed kill its worker."""
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder) / "kill"


@pytest.fixture(scope="module")
def ray_env() -> dict[str, str]:
    """The environment of the cluster and of the CLI: no usage reporting, token authentication with a fresh token."""
    pytest.importorskip("ray")
    from ray_nodes import private_cluster_env

    return private_cluster_env()


@pytest.fixture(scope="module")
def cluster(ray_env: dict[str, str], kill_file: Path) -> Iterator[str]:
    """One Ray head node for the module (2 CPUs, loopback); yields its address and stops every process it started."""
    from ray_nodes import start_node, stop_node

    with tempfile.TemporaryDirectory(prefix="rt", dir="/tmp") as temp_dir:  # short: Ray's socket paths are limited
        port = free_port()
        node = start_node(Path(temp_dir), 2, port=port, env=cli_env(**ray_env, **{KILL_FILE_VAR: str(kill_file)}))
        try:
            yield f"127.0.0.1:{port}"
        finally:
            stop_node(node)


def report_files(compare_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(compare_dir)) for p in (compare_dir / "report").iterdir())


def run_files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if not p.name.startswith("events.out"))


def test_a_ray_grid_with_a_killed_worker_gives_the_local_report(
    cluster: str, ray_env: dict[str, str], kill_file: Path, tmp_path: Path
) -> None:
    """Both cores evaluate on env seeds 10000-10001: whichever resets 10001 first dies once, and Tune retries it."""
    kill_file.write_text("10001")
    ray_run = start(*grid_args("ray", "mlp", "perceiver"), "--backend", "ray", "--ray-address", cluster,
                    "--max-failures", "1", cwd=tmp_path, **ray_env)
    local = cli(*grid_args("local", "mlp", "perceiver"), "--workers", "2", cwd=tmp_path)
    stdout, stderr = ray_run.communicate(timeout=300)
    assert local.returncode == 0, local.stderr
    assert ray_run.returncode == 0, stdout + stderr
    assert not kill_file.exists(), "no worker died"
    assert "its worker failed (The actor died" in stdout and "retry 1 of 1" in stdout
    assert "steps, eval return" in stdout  # progress per evaluation

    ray_dir, local_dir = only_run(tmp_path / "ray"), only_run(tmp_path / "local")
    assert report_files(ray_dir) == report_files(local_dir) == sorted(
        ["report/curves_steps.png", "report/curves_time.png", "report/report.json", "report/report.md",
         "report/scores.json"])
    ray_report, local_report = (json.loads((d / "report/report.json").read_text()) for d in (ray_dir, local_dir))
    for core in ("mlp", "perceiver"):  # the same training code and seeds: the same returns
        for key in ("runs", "final_returns", "final_steps", "parameters", "flops_per_step"):
            ray_value, local_value = ray_report["cores"][core][key], local_report["cores"][core][key]
            if key == "runs":
                ray_value, local_value = ([r.rsplit("__", 1)[0] for r in v] for v in (ray_value, local_value))
            assert ray_value == local_value, (core, key)
    assert ray_report["notes"] == local_report["notes"] == []

    ray_runs, local_runs = (sorted(d.glob("Pick-v0__*")) for d in (ray_dir, local_dir))
    assert len(ray_runs) == len(local_runs) == 2  # the dead attempt's unfinished run was removed
    for ray_run_dir, local_run_dir in zip(ray_runs, local_runs, strict=True):
        assert run_files(ray_run_dir) == run_files(local_run_dir)
    assert sorted(p.name for p in (ray_dir / "logs").iterdir()) == ["mlp__0.log", "perceiver__0.log"]
    grid = json.loads((ray_dir / "grid.json").read_text())
    outcomes = sorted(cell["outcome"] for cell in grid["cells"])
    assert outcomes == ["completed", "completed on attempt 2"], outcomes
    retried = next(t for t in grid["trials"] if t["attempt"] == 2)
    log = (ray_dir / "logs" / f"{retried['core']}__0.log").read_text()
    assert "attempt 1:" in log and "attempt 2:" in log and "the unfinished run of an earlier attempt" in log


def test_resume_reruns_only_the_unfinished_trials(
    cluster: str, ray_env: dict[str, str], kill_file: Path, tmp_path: Path
) -> None:
    """Seed 1's evaluation env 10002 kills its worker with no retries left; --resume trains seed 1 only."""
    kill_file.write_text("10002")
    args = [*grid_args("cmp", "mlp", seeds=2), "--backend", "ray", "--ray-address", cluster]
    first = cli(*args, "--max-failures", "0", cwd=tmp_path, **ray_env)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "mlp seed 1: failed after 1 attempts" in first.stdout
    compare_dir = only_run(tmp_path / "cmp")
    (seed_0,) = compare_dir.glob("Pick-v0__mlp__0__*")
    seed_0_files = {p: p.stat().st_mtime_ns for p in seed_0.rglob("*")}

    resumed = cli("compare", "--backend", "ray", "--ray-address", cluster, "--resume", str(compare_dir), cwd=tmp_path,
                  **ray_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "mlp seed 0" not in resumed.stdout.split("report:")[0]  # no progress of the finished trial
    assert {p: p.stat().st_mtime_ns for p in seed_0.rglob("*")} == seed_0_files
    assert len(list(compare_dir.glob("Pick-v0__mlp__*"))) == 2
    cells = json.loads((compare_dir / "grid.json").read_text())["cells"]
    assert [(c["seed"], c["outcome"]) for c in cells] == [(0, "completed"), (1, "completed on attempt 2")]
    report = json.loads((compare_dir / "report" / "report.json").read_text())
    assert len(report["cores"]["mlp"]["runs"]) == 2 and report["notes"] == []


def test_sweep_writes_a_preset_that_config_loads(ray_env: dict[str, str], tmp_path: Path) -> None:
    """A 2 x 1 grid on a local Ray instance the CLI starts itself."""
    result = cli("sweep", "--env", "test_ray/Pick-v0", "--env-package", "test_ray", "--core", "mlp", "--timesteps",
                 "512", "--logdir", "sweeps", *TINY, "--search", "learning_rate=1e-3,3e-3", "n_epochs=2",
                 cwd=tmp_path, **ray_env)
    assert result.returncode == 0, result.stdout + result.stderr
    folder = only_run(tmp_path / "sweeps")
    trials = json.loads((folder / "sweep.json").read_text())["trials"]
    assert sorted(t["hparams"]["learning_rate"] for t in trials) == [1e-3, 3e-3]
    assert all(t["run_status"] == "completed" for t in trials)
    assert trials[0]["mean_return"] == max(t["mean_return"] for t in trials)
    best = yaml.safe_load((folder / "best.yaml").read_text())
    assert best == {"algo": {"learning_rate": trials[0]["hparams"]["learning_rate"], "n_epochs": 2}}
    from agents.presets import resolve_config  # what --config does with the file

    config = resolve_config("test_ray/Pick-v0", "mlp", 0, config_file=folder / "best.yaml")
    assert config.algo["learning_rate"] == best["algo"]["learning_rate"]
    assert f"--config {folder.relative_to(tmp_path) / 'best.yaml'}" in result.stdout


PICK = ["--env", "test_cli/Pick-v0", "--env-package", "test_cli"]
RAY_BAD_INPUT = {  # name: (arguments after ``compare --backend ray``, what the one error line must say)
    "unreachable address": ([*PICK, "--ray-address", "127.0.0.1:{port}"], "no Ray cluster answers there"),
    "malformed address": ([*PICK, "--ray-address", "nowhere"], "--ray-address: expected 'auto' or HOST:PORT"),
    "resume without state": (["--resume", "."], "no Ray Tune state in it"),
    "resume with other settings": (["--resume", ".", "--seeds", "2"], "--resume continues the grid's own settings"),
    "negative GPUs": ([*PICK, "--gpus-per-run", "-1"], "--gpus-per-run: expected a number >= 0, got -1.0"),
}


@pytest.mark.parametrize("name", RAY_BAD_INPUT)
def test_bad_ray_input_exits_2_with_one_line(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    pytest.importorskip("ray")
    monkeypatch.chdir(tmp_path)
    args, message = RAY_BAD_INPUT[name]
    args = [a.format(port=free_port()) for a in args]
    code = main(["compare", "--backend", "ray", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.iterdir())  # no folder made


SWEEP_BAD_INPUT = {
    "unknown key": (["--search", "learnin_rate=1,2"], "--search: unknown key 'learnin_rate'; valid keys:"),
    "bad value": (["--search", "learning_rate=fast,1e-3"], "--search: learning_rate expects a number, got 'fast'"),
    "no values": (["--search", "learning_rate="], "--search expects key=v1,v2,..., got 'learning_rate='"),
    "below minimum": (["--search", "batch_size=1,64"], "batch_size must be an integer >= 2, got 1"),
    "qualified key": (["--search", "mlp.net_arch=[8]"], "--search mlp.net_arch: expected a plain key"),
}


@pytest.mark.parametrize("name", SWEEP_BAD_INPUT)
def test_bad_sweep_input_exits_2_with_one_line(name: str, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("ray")
    args, message = SWEEP_BAD_INPUT[name]
    code = main(["sweep", *PICK, "--core", "mlp", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_without_ray_the_backend_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails as if it were not installed
    monkeypatch.delitem(sys.modules, "agents.ray_backend", raising=False)
    monkeypatch.delattr(agents, "ray_backend", raising=False)  # else ``from agents import ray_backend`` reuses it
    code = main(["compare", *PICK, "--backend", "ray"])
    err = capsys.readouterr().err
    assert code == 2 and "pip install perceiver-rl[ray]" in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_local_backend_refuses_ray_options(capsys: pytest.CaptureFixture) -> None:
    code = main(["compare", "--ray-address", "auto", "--cpus-per-run", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "--ray-address, --cpus-per-run: only with --backend ray" in err, err


def main(argv: list[str]) -> int:
    """``train_agent.main(argv)``, with argparse's exits as return codes."""
    try:
        return train_agent().main(argv)
    except SystemExit as e:
        return int(e.code)
