"""CLI smoke tests of train_agent.py, through subprocesses with tiny budgets, on tiny envs defined here.

The subprocesses import this module with ``--env-package test_cli`` (``tests/`` on PYTHONPATH), which registers
``test_cli/Pick-v0`` (plain PPO) and ``test_cli/MaskedPick-v0`` (``action_masks()``: MaskablePPO).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import gymnasium as gym
import imageio.v2 as imageio
import numpy as np
import pytest
import yaml
from gymnasium import spaces
from scripts import REPO, load_script
from stable_baselines3 import PPO
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.provenance import code_version, cpu_name
from perceiver_rl import entity_space

CRASH_SEED_VAR = "TEST_CLI_KILL_ON_SEED"  # an env reset with this seed kills its own process (a dying worker)
EPISODE_STEPS = 8


class PickEnv(gym.Env):
    """Each step, pick the present enemy whose first feature is the largest: +1 if right. 8 steps per episode."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    max_enemies = 4

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode
        self.observation_space = entity_space({"enemy": (self.max_enemies, 2)}, global_dim=1, low=-1.0, high=1.0)
        self.action_space = spaces.Discrete(self.max_enemies)
        self.mask = np.zeros(self.max_enemies, dtype=np.int8)
        self.features = np.zeros((self.max_enemies, 2), dtype=np.float32)
        self.t, self.score = 0, 0

    def _draw(self) -> None:
        count = self.np_random.integers(2, self.max_enemies + 1)
        self.mask = np.zeros(self.max_enemies, dtype=np.int8)
        self.mask[self.np_random.choice(self.max_enemies, count, replace=False)] = 1
        self.features = (self.np_random.uniform(-1, 1, (self.max_enemies, 2)) * self.mask[:, None]).astype(np.float32)

    def _obs(self) -> dict[str, np.ndarray]:
        step = np.array([self.t / EPISODE_STEPS], dtype=np.float32)
        return {"enemy": self.features, "enemy_mask": self.mask, "global": step}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None and str(seed) == os.environ.get(CRASH_SEED_VAR):
            os.kill(os.getpid(), signal.SIGKILL)
        super().reset(seed=seed)
        self.t, self.score = 0, 0
        self._draw()
        return self._obs(), {}

    def step(self, action):
        best = int(np.argmax(np.where(self.mask == 1, self.features[:, 0], -np.inf)))
        reward = float(int(action) == best)
        self.t, self.score = self.t + 1, self.score + reward
        terminated = self.t >= EPISODE_STEPS
        info = {"is_success": self.score >= EPISODE_STEPS - 2} if terminated else {}
        self._draw()
        return self._obs(), reward, terminated, False, info

    def render(self) -> np.ndarray:
        frame = np.zeros((16, 16 * self.max_enemies, 3), dtype=np.uint8)
        for i in np.flatnonzero(self.mask):
            frame[:, 16 * i : 16 * (i + 1), 0] = int(127 + 127 * self.features[i, 0])
        return frame


class MaskedPickEnv(PickEnv):
    """PickEnv whose absent enemies are masked out of the action choices."""

    def action_masks(self) -> np.ndarray:
        return self.mask.astype(bool)


class BadMaskEnv(PickEnv):
    """PickEnv whose observation breaks the entity convention: an ``enemy_mask`` of one slot fewer than the enemies
    (without any mask key the enemies would be a set of present entities, which the policies read)."""

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(render_mode)
        enemy = self.observation_space["enemy"]
        self.observation_space = spaces.Dict({"enemy": enemy, "enemy_mask": spaces.MultiBinary(enemy.shape[0] - 1)})

    def _obs(self) -> dict[str, np.ndarray]:
        return {"enemy": self.features, "enemy_mask": np.ones(self.max_enemies - 1, dtype=np.int8)}


gym.register("test_cli/Pick-v0", entry_point=PickEnv)
gym.register("test_cli/MaskedPick-v0", entry_point=MaskedPickEnv)
gym.register("test_cli/BadMask-v0", entry_point=BadMaskEnv)


# ------------------------------------------------------------------------------------------------------------ helpers
#: Tiny budgets and models; core-qualified keys (``mlp.net_arch``) apply to that core only.
TINY = ["--n-envs", "2", "--set", "n_steps=64", "batch_size=64", "n_epochs=2", "eval_freq=256", "eval_episodes=4",
        "checkpoint_freq=512", "mlp.net_arch=[16]", "perceiver.num_latents=4", "perceiver.dim=16",
        "perceiver.num_layers=1", "perceiver.num_heads=2"]


def cli_env(**extra: str) -> dict[str, str]:
    """The subprocess environment: this folder importable (for --env-package test_cli), plus ``extra``."""
    paths = [str(Path(__file__).parent), str(REPO), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), **extra}


def start(*args: str, cwd: Path, **extra: str) -> subprocess.Popen:
    """Start ``train_agent.py args`` in ``cwd``, capturing its output.

    The child gets the default Ctrl-C behaviour even when pytest itself was started with SIGINT ignored (a shell
    starts background jobs so, and an ignored signal stays ignored across exec), as a user's terminal would give it.
    """
    return subprocess.Popen(
        [sys.executable, str(REPO / "train_agent.py"), *args], cwd=cwd, env=cli_env(**extra),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def cli(*args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    """Run ``train_agent.py args`` to the end."""
    process = start(*args, cwd=cwd, **extra)
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def train_args(env: str, logdir: str, timesteps: int, core: str = "mlp") -> list[str]:
    return ["train", "--env", env, "--env-package", "test_cli", "--core", core, "--timesteps", str(timesteps),
            "--logdir", logdir, *TINY]


def only_run(logdir: Path) -> Path:
    (run,) = [p for p in logdir.iterdir() if p.is_dir()]
    return run


def train_agent() -> ModuleType:
    """The CLI module, imported from the repository root (it is a script, not part of a package)."""
    return load_script("train_agent.py")


# -------------------------------------------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 1024-step MaskablePPO run on MaskedPick; returns its folder."""
    cwd = tmp_path_factory.mktemp("trained")
    result = cli(*train_args("test_cli/MaskedPick-v0", "runs", 1024), cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "final evaluation at 1,024 steps (100 deterministic episodes): return" in result.stdout
    assert "(4 episodes, short)" in result.stdout and "(100 episodes, final)" in result.stdout
    assert re.search(r"success \d+% \(95% CI \d+% to \d+%\)", result.stdout), result.stdout
    (cwd / "train.out").write_text(result.stdout)  # the hints it printed, for test_printed_hints_run_as_printed
    return only_run(cwd / "runs")


def hint(stdout: str, name: str) -> str:
    """The command after ``name:`` in the output of ``train`` (``evaluate``, ``tensorboard``, ``continue``)."""
    (line,) = [line for line in stdout.splitlines() if line.startswith(f"{name}:")]
    return line.partition(":")[2].strip()


def test_train_writes_the_run_folder(trained: Path) -> None:
    assert trained.name.startswith("MaskedPick-v0__mlp__0__")
    for name in ("model.zip", "best_model.zip", "config.yaml", "evaluations.npz", "evaluations.csv", "summary.json"):
        assert (trained / name).is_file(), name
    checkpoints = sorted(p.name for p in (trained / "checkpoints").iterdir())
    assert checkpoints == ["model_1024_steps.zip", "model_512_steps.zip"]
    config = yaml.safe_load((trained / "config.yaml").read_text())
    assert config["algo"]["n_steps"] == 64 and config["policy"]["net_arch"] == [16]
    assert config["meta"]["algorithm"] == "MaskablePPO"
    assert config["meta"]["code"] == code_version() and config["meta"]["cpu"] == cpu_name()  # where it came from
    summary = json.loads((trained / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["timesteps"] == 1024
    # the final evaluation: 100 episodes (not the 4 of the periodic ones), with 95% intervals around its estimates
    final = summary["final_eval"]
    assert final["episodes"] == 100 and final["final"] and final["timesteps"] == 1024
    assert final["success_ci95"][0] <= final["success_rate"] <= final["success_ci95"][1]
    assert final["return_ci95"][0] <= final["mean_return"] <= final["return_ci95"][1]
    evaluations = np.load(trained / "evaluations.npz")  # SB3's file: the periodic evaluations, 4 episodes each
    assert evaluations["timesteps"].tolist() == [256, 512, 768, 1024] and evaluations["results"].shape == (4, 4)
    table = np.genfromtxt(trained / "evaluations.csv", delimiter=",", names=True)
    assert table["timesteps"].tolist() == [256, 512, 768, 1024] and table["episodes"].tolist() == [4, 4, 4, 100]
    (events,) = trained.glob("events.out.tfevents.*")
    logged = EventAccumulator(str(events), size_guidance={"scalars": 0}).Reload()
    assert {"time/fps", "time/steps_per_second", "eval/mean_reward", "train/loss"} <= set(logged.Tags()["scalars"])
    assert "_hparams_/experiment" in logged.PluginTagToContent("hparams")


def test_resume_continues_in_a_new_folder(trained: Path, tmp_path: Path) -> None:
    logdir = trained.parent
    model_bytes = (trained / "model.zip").read_bytes()
    checkpoint = trained / "checkpoints" / "model_512_steps.zip"
    result = cli("train", "--resume", str(checkpoint), "--timesteps", "1500", "--logdir", str(logdir), cwd=logdir)
    assert result.returncode == 0, result.stderr
    assert (f"Resuming mlp MaskablePPO on test_cli/MaskedPick-v0 (533 parameters, seed 0) from {checkpoint} at 512 "
            "steps, to 1,536 steps (--timesteps 1,500 rounded up to whole rollouts of 128)") in result.stdout
    (resumed,) = [p for p in logdir.iterdir() if p.is_dir() and p != trained]
    summary = json.loads((resumed / "summary.json").read_text())
    assert summary["timesteps"] == 1536  # from 512 steps to the total of 1500, rounded up to whole rollouts
    meta = yaml.safe_load((resumed / "config.yaml").read_text())["meta"]
    assert meta["resumed_from"] == str(checkpoint) and meta["resumed_at_step"] == 512
    assert (trained / "model.zip").read_bytes() == model_bytes  # nothing overwritten
    # a report over both runs, moved elsewhere, draws one seed: the first run's curve up to 512 steps, then the second's
    moved = tmp_path / "moved"
    for run in (trained, resumed):
        shutil.copytree(run, moved / run.name)
    result = cli("compare", "--report-only", str(moved), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (joined,) = json.loads((moved / "report" / "scores.json").read_text())["runs"]
    assert joined["run"] == f"{trained.name} + {resumed.name}"
    assert joined["timesteps"] == [256, 512, 768, 1024, 1280, 1536]
    assert np.all(np.diff(joined["train_seconds"]) > 0)


def test_printed_hints_run_as_printed(trained: Path) -> None:
    """The evaluate and tensorboard lines start with this interpreter's own programs (a bare ``python`` may be one
    without torch) and run, pasted into a shell in the folder the run was started from."""
    cwd = trained.parent.parent
    stdout = (cwd / "train.out").read_text()
    evaluate = hint(stdout, "evaluate")
    assert shlex.split(evaluate)[0] == sys.executable, evaluate
    result = subprocess.run(evaluate, shell=True, cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "100 deterministic episodes" in result.stdout and (cwd / "episode.gif").is_file()
    tensorboard = hint(stdout, "tensorboard")
    assert tensorboard.endswith("--logdir runs"), tensorboard
    version = subprocess.run(f"{tensorboard} --version_tb", shell=True, cwd=cwd, capture_output=True, text=True,
                             timeout=120)
    assert version.returncode == 0 and re.match(r"\d+\.\d+", version.stdout), version.stderr


def test_eval_prints_and_saves_results_and_video(trained: Path) -> None:
    result = cli("eval", "--model", str(trained / "model.zip"), "--episodes", "3", "--video", "episode.gif",
                 cwd=trained)
    assert result.returncode == 0, result.stderr
    assert "return:" in result.stdout and "success:" in result.stdout
    json_path = Path(hint(result.stdout, "json"))  # model.eval.json, or -2 etc. if an earlier test evaluated it
    assert json_path.parent == trained and json_path.name.startswith("model.eval")
    results = json.loads(json_path.read_text())
    assert re.search(r"success: \d+\.\d% \(95% CI \d+\.\d% to \d+\.\d%, Wilson\)", result.stdout), result.stdout
    assert results["episodes"] == 3 and len(results["returns"]) == 3 and results["env_id"] == "test_cli/MaskedPick-v0"
    frames = imageio.mimread(trained / "episode.gif")
    assert len(frames) == EPISODE_STEPS + 1  # the first observation and every step, the last one included


def test_ctrl_c_saves_a_usable_model(tmp_path: Path) -> None:
    process = start(*train_args("test_cli/Pick-v0", "runs", 1_000_000), cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("runs/*/evaluations.csv")) or len(
        next(tmp_path.glob("runs/*/evaluations.csv")).read_text().splitlines()
    ) < 2:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stdout and "Traceback" not in stderr
    run = only_run(tmp_path / "runs")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and 0 < summary["timesteps"] < 1_000_000
    assert (run / "checkpoints" / f"model_{summary['timesteps']}_steps.zip").is_file()
    model = PPO.load(run / "model.zip")
    assert model.num_timesteps == summary["timesteps"]
    # the continue line runs as printed (here with a budget of one more rollout, for the test's sake)
    more = f" --timesteps {summary['timesteps'] + 128} --quiet"
    result = subprocess.run(hint(stdout, "continue") + more, shell=True, cwd=tmp_path, env=cli_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_compare_survives_a_killed_worker_and_rebuilds_its_report(tmp_path: Path) -> None:
    args = ["compare", "--env", "test_cli/Pick-v0", "--env-package", "test_cli", "--cores", "mlp", "--seeds", "3",
            "--timesteps", "768", "--workers", "2", "--logdir", "cmp", *TINY]
    # seed 2's second evaluation env (seeded 2 + 10000 + 1, no other run's) kills its process at the first evaluation
    result = cli(*args, cwd=tmp_path, **{CRASH_SEED_VAR: "10003"})
    assert result.returncode == 1, result.stderr
    assert "mlp seed 2: killed by SIGKILL" in result.stdout
    # each cell's evaluations as they come, and its steps and final evaluation when it ends
    assert re.search(r"^mlp seed 0: steps +256 \| eval return .* \(4 episodes\)$", result.stdout, re.M), result.stdout
    assert re.search(r"\] mlp seed 0: completed, 768 steps, final return -?\d+\.\d+, success +\d+% \(100 episodes\)$",
                     result.stdout, re.M), result.stdout
    compare_dir = only_run(tmp_path / "cmp")
    assert len(list(compare_dir.glob("Pick-v0__mlp__*"))) == 3
    report = (compare_dir / "report" / "report.md").read_text()
    assert "| mlp | 2 | 768 |" in report and "mlp seed 2: killed by SIGKILL" in report
    assert re.search(r"^\| mlp \| 2 \| 768 \|.* \| \d+\.\d+[kM] \|$", report, re.M)  # the FLOPs per step column
    assert (compare_dir / "report" / "curves_steps.png").stat().st_size > 0
    (compare_dir / "report" / "report.md").unlink()
    rebuilt = cli("compare", "--report-only", str(compare_dir), cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert (compare_dir / "report" / "report.md").read_text() == report
    # the scores file alone (what docs/results/<game>.json holds) rebuilds the same tables and plots beside it
    scores = tmp_path / "pick.json"
    scores.write_text((compare_dir / "report" / "scores.json").read_text())
    shutil.rmtree(compare_dir)
    from_scores = cli("compare", "--report-only", str(scores), cwd=tmp_path)
    assert from_scores.returncode == 0, from_scores.stderr
    tables = [[line for line in text.splitlines() if line.startswith("|")]
              for text in (report, (tmp_path / "pick" / "report.md").read_text())]
    assert tables[0] == tables[1] and tables[0][-1].startswith("| mlp | 2 | 768 |")
    assert (tmp_path / "pick" / "curves_time.png").stat().st_size > 0
    # several scores files in one report, each labelled (the same runs twice here)
    merged = cli("compare", "--report-only", str(scores), "pick.json", "--labels", "a", "b", "--into", "ab.json",
                 cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    text = (tmp_path / "ab" / "report.md").read_text()
    assert "\n| mlp, a | 2 | 768 |" in text and "\n| mlp, b | 2 | 768 |" in text and "| P(mlp, a > mlp, b) |" in text


def test_installed_packages_alone_run_the_cli_and_a_local_grid(tmp_path: Path) -> None:
    """The console script's module and a local compare need no checkout: each cell is a process of ``agents.cells``,
    from the packages as installed (copied here without train_agent.py, run from another folder)."""
    site = tmp_path / "site"
    for package in ("agents", "envs", "perceiver_rl"):
        shutil.copytree(REPO / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(Path(__file__).parent)])}
    work = tmp_path / "work"
    work.mkdir()
    args = ["compare", "--env", "test_cli/Pick-v0", "--env-package", "test_cli", "--cores", "mlp", "--seeds", "1",
            "--timesteps", "256", "--logdir", "cmp", *TINY]
    result = subprocess.run([sys.executable, "-m", "agents.cli", *args], cwd=work, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[1/1] mlp seed 0: completed, 256 steps" in result.stdout, result.stdout
    compare_dir = only_run(work / "cmp")
    log = (compare_dir / "logs" / "mlp__0.log").read_text()
    assert re.search(r"^completed: 256 steps, .* -> .*Pick-v0__mlp__0__", log, re.M), log
    (run,) = compare_dir.glob("Pick-v0__mlp__0__*")
    command = yaml.safe_load((run / "config.yaml").read_text())["meta"]["command"]
    assert Path(command[0]) == site / "agents" / "cli.py" and command[1:] == args  # the grid's command, the copy's code
    error = subprocess.run([sys.executable, "-m", "agents.cli", "train", "--core", "lstm"], cwd=work, env=env,
                           capture_output=True, text=True, timeout=120)
    assert error.returncode == 2 and error.stderr.startswith("perceiver-rl train: error: argument --core"), error.stderr


def test_printed_commands_start_the_cli_as_it_was_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.hints import Hints

    monkeypatch.chdir(tmp_path)  # the interpreter and the checkout are elsewhere: absolute paths
    python, script = shlex.quote(sys.executable), shlex.quote(str(REPO / "train_agent.py"))
    assert Hints.started_as(REPO / "train_agent.py").command("eval", "a b") == f"{python} {script} eval 'a b'"
    console = tmp_path / "bin" / "perceiver-rl"  # a console script elsewhere than beside the interpreter (pip --user)
    console.parent.mkdir()
    console.write_text("")
    monkeypatch.setattr(sys, "argv", [str(console), "train"])
    assert Hints.started_as(None).command("train") == "bin/perceiver-rl train"  # below the current folder: relative
    monkeypatch.setattr(sys, "argv", [str(REPO / "agents" / "cli.py"), "train"])  # python -m agents.cli
    beside = Path(sys.executable).parent / "perceiver-rl"
    expected = shlex.quote(str(beside)) if beside.is_file() else f"{python} -m agents.cli"
    assert Hints.started_as(None).command("train") == f"{expected} train"


BAD_INPUT = {  # name: (arguments, what the one error line must say)
    "unknown env": (["train", "--env", "Nope-v0"], "unknown env id 'Nope-v0'"),
    "misspelt env": (["train", "--env", "Skirmish-v0"],
                     "unknown env id 'Skirmish-v0'; did you mean 'perceiver_rl/Skirmish-v0'? Shipped games: "
                     "perceiver_rl/Skirmish-v0, perceiver_rl/Foraging-v0,"),
    "env off the convention": (["train", "--env", "test_cli/BadMask-v0", "--env-package", "test_cli"],
                               "observation_space['enemy_mask']: expected MultiBinary("),
    "unknown env package": (["train", "--env-package", "no_such_package"], "--env-package no_such_package: cannot"),
    "unknown core": (["train", "--core", "lstm"], "invalid choice: 'lstm' (choose from 'perceiver', 'transformer'"),
    "unknown --set key": (["train", "--set", "learnin_rate=0.1"], "unknown key 'learnin_rate'; valid keys:"),
    "bad --set value": (["train", "--set", "learning_rate=fast"], "learning_rate expects a number, got 'fast'"),
    "unknown key in --config": (["train", "--config", "bad.yaml"], "unknown key 'gama'"),
    "bad number": (["train", "--timesteps", "10k"], "--timesteps: expected an integer >= 1, got '10k'"),
    "zero envs": (["compare", "--n-envs", "0"], "--n-envs: expected an integer >= 1, got 0"),
    "unknown env in compare": (["compare", "--env", "Nope-v0", "--seeds", "1"], "unknown env id 'Nope-v0'"),
    "missing model": (["eval", "--model", "nope.zip"], "model nope.zip does not exist"),
    "bad video suffix": (["eval", "--model", "junk.zip", "--env", "test_cli/Pick-v0", "--video", "episode.avi"],
                         "--video episode.avi: expected a file ending in one of ['.gif', '.mp4']"),
    "not a saved agent": (["eval", "--model", "junk.zip", "--env", "test_cli/Pick-v0", "--env-package", "test_cli"],
                          "junk.zip is not a saved agent"),
    "resume without a run": (["train", "--resume", "junk.zip"], "not a model or checkpoint inside a run folder"),
    "report without runs": (["compare", "--report-only", "."], "no evaluated runs found"),
    "report of a missing file": (["compare", "--report-only", "nope.json"], "--report-only nope.json: no such"),
    "several reports, no --into": (["compare", "--report-only", "bad.yaml", "junk.zip"],
                                   "--report-only with 2 sources: name the merged scores file with --into FILE.json"),
    "--into without --report-only": (["compare", "--into", "m.json"], "--into: only with --report-only"),
    "--into not a .json": (["compare", "--report-only", "bad.yaml", "--into", "m.txt"],
                           "--into m.txt: expected a file ending in .json"),
}


if importlib.util.find_spec("minigrid") is None:  # the MiniGrid id is registered, its package missing
    BAD_INPUT["MiniGrid without its extra"] = (
        ["train", "--env", "NoMission/MiniGrid-Empty-8x8-v0"],
        "needs the 'minigrid' package, not installed here; install this project's 'minigrid' extra: pip install -e "
        "'.[minigrid]'",
    )


def test_unknown_env_lists_shipped_games_apart_from_other_presets(capsys: pytest.CaptureFixture) -> None:
    assert train_agent().main(["train", "--env", "Nope-v0"]) == 2
    shipped, _, others = capsys.readouterr().err.partition("Shipped games: ")[2].partition("; ids with a preset: ")
    assert "perceiver_rl/Skirmish-v0" in shipped and "CartPole-v1" not in shipped
    assert "CartPole-v1" in others and "perceiver_rl/" not in others


@pytest.fixture
def bad_input_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding a config file with an unknown key and a file that is no agent."""
    (tmp_path / "bad.yaml").write_text("algo:\n  gama: 0.9\n")
    (tmp_path / "junk.zip").write_text("not a model")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", BAD_INPUT)
def test_bad_input_exits_2_with_one_clear_line(name: str, bad_input_dir: Path, capsys: pytest.CaptureFixture) -> None:
    args, message = BAD_INPUT[name]
    try:
        code = train_agent().main(args)
    except SystemExit as e:  # argparse's errors
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_bad_input_in_a_real_process(bad_input_dir: Path) -> None:
    names = ["unknown core", "unknown --set key", "not a saved agent"]
    processes = {name: start(*BAD_INPUT[name][0], cwd=bad_input_dir) for name in names}
    for name, process in processes.items():
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 2 and BAD_INPUT[name][1] in stderr, stderr
        assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr


@pytest.mark.slow
@pytest.mark.parametrize("core", ["mlp", "perceiver"])
def test_train_learns_the_pick_task(core: str, tmp_path: Path) -> None:
    """6144 steps lift the deterministic return from about 3 (random among present enemies) to 6 or more of 8."""
    result = cli("train", "--env", "test_cli/MaskedPick-v0", "--env-package", "test_cli", "--core", core,
                 "--timesteps", "6144", "--n-envs", "4", "--logdir", "runs", "--quiet", "--set", "n_steps=64",
                 "batch_size=128", "eval_freq=2048", "eval_episodes=20", "perceiver.targets=enemy", "perceiver.dim=32",
                 "perceiver.num_latents=4", "perceiver.num_layers=1", "mlp.net_arch=[64,64]", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads((only_run(tmp_path / "runs") / "summary.json").read_text())
    assert summary["final_eval"]["mean_return"] >= 6.0, summary
