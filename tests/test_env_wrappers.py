"""The ``env`` section's ``wrappers`` key and the highway-env preset.

The preset's plumbing (highway-env's ``config`` dict, ``PresenceMask`` named in the preset, envs in worker processes,
the wrappers saved with the run and rebuilt for evaluation) is tested on ``kinematics_env.Convoy``, a stand-in of the
tests' own with highway-env's observation layout, so it runs where highway-env is not installed (CI). A short run on
highway-env itself is marked slow and skipped without the ``highway`` extra.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from kinematics_env import CONVOY
from stable_baselines3 import PPO

from agents import AGENT_CORES, UsageError, factory, presets, resolve_config
from agents.evaluation import eval_env_id, evaluate
from agents.factory import import_env_packages, make_env
from agents.rundir import load_run
from agents.training import train

HIGHWAY = "highway-fast-v0"
PRESENCE_MASK = {"perceiver_rl.PresenceMask": {"name": "vehicle", "presence": 0}}
SMALL = {"total_timesteps": 64, "n_steps": 16, "batch_size": 16, "n_epochs": 1, "eval_freq": 10**6,
         "eval_episodes": 2, "checkpoint_freq": 10**6}
SMALL_CORE = {"perceiver": {"dim": 16, "num_latents": 4, "num_layers": 1, "num_heads": 2},
              "transformer": {"dim": 16, "num_layers": 1, "num_heads": 2}, "mlp": {"net_arch": [16]}}


@pytest.fixture
def convoy_preset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped highway preset, word for word but its env id the stand-in's (a preset folder of its own)."""
    folder = tmp_path / "presets"
    folder.mkdir()
    shutil.copy(presets.DEFAULT_PRESET, folder / "default.yaml")
    text = (presets.PRESET_DIR / "highway.yaml").read_text()
    assert f"env_id: {HIGHWAY}\n" in text
    (folder / "convoy.yaml").write_text(text.replace(f"env_id: {HIGHWAY}\n", f"env_id: {CONVOY}\n"))
    monkeypatch.setattr(presets, "PRESET_DIR", folder)
    monkeypatch.setattr(presets, "DEFAULT_PRESET", folder / "default.yaml")
    return folder / "convoy.yaml"


@pytest.mark.parametrize("core", AGENT_CORES)
def test_the_highway_preset_observes_kinematics_with_presence_and_masks_it(core: str) -> None:
    config = resolve_config(HIGHWAY, core)
    observation = config.env["config"]["observation"]
    assert observation["type"] == "Kinematics" and observation["absolute"] is False
    assert observation["features"] == ["presence", "x", "y", "vx", "vy"]
    assert config.env["wrappers"] == [PRESENCE_MASK]
    assert config.run["vec_env"] == "subproc"


@pytest.mark.parametrize("core", AGENT_CORES)
def test_the_preset_trains_on_its_env_wrapped_in_worker_processes(convoy_preset: Path, tmp_path: Path,
                                                                 core: str) -> None:
    config = resolve_config(CONVOY, core, overrides={**SMALL, **SMALL_CORE[core]}, env_packages=["kinematics_env"])
    assert config.run["vec_env"] == "subproc" and config.run["n_envs"] == 2
    result = train(config, tmp_path / "runs", echo=False, final_episodes=2)
    assert result.status == "completed" and result.summary["timesteps"] == 64
    model = PPO.load(result.model_path, device="cpu")
    assert set(model.observation_space.spaces) == {"vehicle", "vehicle_mask"}  # presence split off as the mask
    assert model.observation_space["vehicle"].shape == (5, 4)
    saved, _ = load_run(result.run_dir / "config.yaml")
    assert saved.env["wrappers"] == [PRESENCE_MASK]  # eval, --resume and compare workers rebuild the same env
    env_id, packages, env_kwargs = eval_env_id(result.model_path, None, [])
    assert env_kwargs == config.env
    assert evaluate(result.model_path, env_id, 2, env_packages=packages, env_kwargs=env_kwargs)["episodes"] == 2


def test_without_the_wrapper_the_array_is_a_set_of_present_entities(convoy_preset: Path) -> None:
    import_env_packages(["kinematics_env"])
    env = make_env(CONVOY, 1, 0, env_kwargs={"wrappers": []})
    assert env.observation_space.shape == (5, 5)  # item 1 of issue 30: read as 5 present entities, flag and all
    env.close()


BAD_WRAPPERS = {  # value: what the one error line says after "--set: wrappers"
    "perceiver_rl.PresenceMask": " expects a list of mappings, got 'perceiver_rl.PresenceMask'",
    ("[{perceiver_rl.PresenceMask: {presence: 0}, perceiver_rl.Other: {}}]"):
        "[0]: expected a mapping of one wrapper class to its keyword arguments, e.g. "
        "{perceiver_rl.PresenceMask: {presence: 0}}, got ",
    "[{perceiver_rl.PresenseMask: {}}]":
        "[0]: cannot import 'perceiver_rl.PresenseMask' (module 'perceiver_rl' has no attribute 'PresenseMask')",
    "[{no_such_package.Wrapper: {}}]": "[0]: cannot import 'no_such_package.Wrapper' (No module named",
    "[{PresenceMask: {}}]": "[0]: expected an import path like perceiver_rl.PresenceMask, got 'PresenceMask'",
    "[{math.pi: null}]": "[0]: expected a gymnasium.Wrapper subclass, got math.pi = 3.14",
    "[{perceiver_rl.PresenceMask: {colum: 0}}]":
        "[0]: perceiver_rl.PresenceMask: got an unexpected keyword argument 'colum'; it takes name, presence, "
        "threshold, key",
    "[{perceiver_rl.PresenceMask: [0]}]":
        "[0]: perceiver_rl.PresenceMask's keyword arguments: expected a mapping of names to values (or null), got [0]",
}


@pytest.mark.parametrize("raw", list(BAD_WRAPPERS))
def test_bad_wrappers_stop_with_one_line(raw: str) -> None:
    key, value = presets.parse_assignment(f"wrappers={raw}")
    with pytest.raises(UsageError, match=re.escape(f"--set: wrappers{BAD_WRAPPERS[raw]}")) as error:
        resolve_config(HIGHWAY, "perceiver", overrides={key: value})
    assert "\n" not in str(error.value)


def test_a_bad_wrapper_in_a_preset_names_the_file(convoy_preset: Path) -> None:
    convoy_preset.write_text(convoy_preset.read_text().replace("presence: 0}", "presence: 0, colour: red}"))
    with pytest.raises(UsageError, match=re.escape(f"preset {convoy_preset}: wrappers[0]: perceiver_rl.PresenceMask: "
                                                   "got an unexpected keyword argument 'colour'")):
        resolve_config(CONVOY, "mlp")


@pytest.mark.parametrize("vec_env", ["dummy", "subproc"])
def test_a_wrapper_that_refuses_the_env_stops_with_one_line(vec_env: str) -> None:
    """Arguments of the right kind that do not fit the env (a column past the 5 features) fail when the env is built:
    in this process first, also for worker processes, whose own failure would only say EOFError."""
    config = resolve_config(HIGHWAY, "perceiver", overrides={"wrappers": [{"perceiver_rl.PresenceMask": {
        "presence": 7}}]})
    import_env_packages(["kinematics_env"])
    expected = "Convoy-v0: wrappers[0] perceiver_rl.PresenceMask: presence: expected a column index in [-5, 5)"
    with pytest.raises(UsageError, match=re.escape(expected)):
        make_env(CONVOY, 2, 0, ["kinematics_env"], env_kwargs=config.env, vec_env=vec_env)


def test_a_missing_optional_env_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(factory.OPTIONAL_MODULES, "no_such_env_package", "simulator")
    with pytest.raises(UsageError, match=re.escape(
            "--env-package no_such_env_package: cannot import it (No module named 'no_such_env_package'); install "
            "this project's 'simulator' extra: pip install -e '.[simulator]'")):
        import_env_packages(["no_such_env_package"])
    assert factory.OPTIONAL_MODULES["highway_env"] == "highway"


@pytest.mark.slow
def test_highway_env_trains_with_its_preset(tmp_path: Path) -> None:
    """A short run on highway-fast-v0 itself, as ``train --env highway-fast-v0 --env-package highway_env`` does."""
    pytest.importorskip("highway_env")
    overrides: dict[str, Any] = {**SMALL, "total_timesteps": 128, "n_steps": 32, "batch_size": 32, "eval_freq": 64}
    config = resolve_config(HIGHWAY, "perceiver", overrides=overrides, env_packages=["highway_env"])
    result = train(config, tmp_path, echo=False, final_episodes=2)
    assert result.status == "completed" and result.summary["timesteps"] == 128
    model = PPO.load(result.model_path, device="cpu")
    assert model.observation_space["vehicle"].shape == (5, 4) and model.observation_space["vehicle_mask"].n == 5
    rows = (result.run_dir / "evaluations.csv").read_text().splitlines()
    assert len(rows) == 1 + 2  # the header, the evaluation at 64 steps and the final one at 128


EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "EXAMPLES.md"


def test_the_documented_commands_parse() -> None:
    """Every ``train_agent.py`` command of docs/EXAMPLES.md is one the command line accepts (none is run here)."""
    import shlex

    from agents.cli import build_parser
    text = EXAMPLES.read_text().replace("\\\n", " ")
    lines = re.findall(r"^\.venv/bin/python train_agent\.py (.*)$", text, re.M)
    assert any(line.startswith("compare ") for line in lines) and any(line.startswith("train ") for line in lines)
    for line in lines:
        words = shlex.split(line.split("  #")[0])
        args = build_parser("train_agent.py").parse_args(words)
        assert args.command in ("train", "compare")


@pytest.mark.parametrize("index", range(len(re.findall(r"^```python\n", EXAMPLES.read_text(), re.M))))
def test_the_documented_python_runs(index: int) -> None:
    pytest.importorskip("highway_env")
    block = re.findall(r"^```python\n(.*?)^```$", EXAMPLES.read_text(), re.M | re.S)[index]
    exec(compile(block, f"docs/EXAMPLES.md python block {index + 1}", "exec"), {})
