"""agents/: presets resolve in layers, make_agent assembles the right algorithm and policy, the report aggregates."""

from __future__ import annotations

import json
import os
import re
import signal
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy

import envs
from agents import AGENT_CORES, AgentConfig, UsageError, make_agent, make_env, resolve_config
from agents.presets import PRESET_DIR, game_presets, parse_assignment
from agents.report import build_report
from agents.rundir import EVAL_CSV, save_config
from agents.score_merging import merge_scores
from agents.timed_eval import EVAL_COLUMNS
from perceiver_rl import MaskablePerceiverPolicy, PerceiverPolicy

SKIRMISH = "perceiver_rl/Skirmish-v0"
TINY = {"n_envs": 1, "n_steps": 16, "batch_size": 16}
TINY_CORE = {"perceiver": {"dim": 16, "num_latents": 4, "num_layers": 1, "num_heads": 2},
             "transformer": {"dim": 16, "num_layers": 1, "num_heads": 2}, "mlp": {"net_arch": [16]}}


def test_presets_layer_default_game_and_overrides(tmp_path: Path) -> None:
    generic = resolve_config("NoPreset-v0", "perceiver")  # no game preset: default.yaml alone
    assert generic.policy["actor"] is None and generic.run["total_timesteps"] == 200_000
    skirmish = resolve_config(SKIRMISH, "perceiver", seed=3)
    assert (skirmish.policy["actor"], skirmish.policy["targets"]) == ("ally", "enemy")
    assert skirmish.run["total_timesteps"] < generic.run["total_timesteps"] and skirmish.seed == 3
    # a game's `common` applies to every core
    tuned = {core: resolve_config(SKIRMISH, core).algo for core in AGENT_CORES}
    assert all(algo == tuned["perceiver"] for algo in tuned.values()) and tuned["perceiver"] != generic.algo
    config_file = tmp_path / "config.yaml"
    config_file.write_text("algo:\n  gamma: 0.9\npolicy:\n  dim: 32\n")
    custom = resolve_config(SKIRMISH, "perceiver", overrides={"dim": 48}, config_file=config_file)
    assert custom.algo["gamma"] == 0.9 and custom.policy["dim"] == 48  # --set wins over the config file


@pytest.mark.parametrize("core", AGENT_CORES)
@pytest.mark.parametrize("name", ["long", "gpu"])
def test_shipped_config_files_resolve_for_every_core(name: str, core: str) -> None:
    """agents/presets/{long,gpu}/skirmish.yaml (the files docs/RESULTS.md's commands pass to --config) resolve on
    Skirmish for every core; the long one carries its 400k-step settings, SMAC's reward among them."""
    config_file = PRESET_DIR / name / "skirmish.yaml"
    config = resolve_config(SKIRMISH, core, config_file=config_file)
    if name == "long":
        assert config.run["total_timesteps"] == 400_000 and config.env["reward_only_positive"] is True
        assert (config.algo["n_epochs"], config.algo["batch_size"], config.algo["lr_schedule"]) == (10, 128, "linear")



def test_set_values_are_parsed_and_type_checked() -> None:
    assert parse_assignment("learning_rate=1e-3") == ("learning_rate", 0.001)
    assert parse_assignment("net_arch=[64, 64]") == ("net_arch", [64, 64])
    assert parse_assignment("actor=ally") == ("actor", "ally")
    assert resolve_config(SKIRMISH, "mlp", overrides={"learning_rate": 1}).algo["learning_rate"] == 1.0
    with pytest.raises(UsageError, match="n_steps expects an integer, got 1.5"):
        resolve_config(SKIRMISH, "mlp", overrides={"n_steps": 1.5})
    with pytest.raises(UsageError, match="n_envs must be an integer >= 1, got 0"):
        resolve_config(SKIRMISH, "mlp", overrides={"n_envs": 0})
    with pytest.raises(UsageError, match="--set expects key=value"):
        parse_assignment("learning_rate")


def test_core_qualified_keys_apply_to_their_core_only() -> None:
    overrides = {"mlp.net_arch": [8], "perceiver.num_latents": 4, "gamma": 0.5}
    assert resolve_config(SKIRMISH, "mlp", overrides=overrides).policy == {"net_arch": [8]}
    perceiver = resolve_config(SKIRMISH, "perceiver", overrides=overrides)
    assert perceiver.policy["num_latents"] == 4 and perceiver.algo["gamma"] == 0.5
    with pytest.raises(UsageError, match="'lstm' is not a core"):
        resolve_config(SKIRMISH, "mlp", overrides={"lstm.size": 3})


def test_issue_27_decoder_and_encoder_switches_reach_the_policy() -> None:
    """The presets' contextual target keys (both cores) and entity MLP (the Perceiver's, on in Foraging's and
    Minefield's presets) are built, and can be switched, as can the Perceiver's second read of the entities; the
    Transformer has no entity MLP or reread to switch."""
    for game in ("Foraging", "Minefield"):
        assert make_agent(f"perceiver_rl/{game}-v0", core="perceiver", n_envs=1).policy.encoder.core.entity_mlp
    perceiver = make_agent(SKIRMISH, core="perceiver", n_envs=1, entity_mlp=True).policy
    assert perceiver.encoder.core.entity_mlp is not None and perceiver.heads.contextual_targets
    transformer = make_agent(SKIRMISH, core="transformer", n_envs=1).policy
    assert transformer.heads.contextual_targets and not hasattr(transformer.encoder.core, "entity_mlp")
    plain = make_agent(SKIRMISH, core="perceiver", n_envs=1, entity_mlp=False, contextual_targets=False).policy
    assert plain.encoder.core.entity_mlp is None and not hasattr(plain.heads, "entity_query")
    with pytest.raises(UsageError, match="entity_mlp"):
        resolve_config(SKIRMISH, "transformer", overrides={"entity_mlp": True})
    narrow = make_agent(SKIRMISH, core="perceiver", n_envs=1, entity_mlp=True, entity_mlp_ratio=0.5).policy
    assert narrow.encoder.core.entity_mlp[1].net[0].out_features == narrow.core_config.dim // 2
    with pytest.raises(UsageError, match="entity_mlp_ratio"):
        resolve_config(SKIRMISH, "perceiver", overrides={"perceiver.entity_mlp_ratio": 0})
    assert make_agent(SKIRMISH, core="perceiver", n_envs=1).policy.encoder.core.reread is None
    assert make_agent(SKIRMISH, core="perceiver", n_envs=1, reread=True).policy.encoder.core.reread is not None
    with pytest.raises(UsageError, match="reread"):
        resolve_config(SKIRMISH, "transformer", overrides={"reread": True})


@pytest.mark.parametrize("env_id", list(envs.GAMES))
def test_every_shipped_game_has_a_preset_with_its_action_roles(env_id: str) -> None:
    assert env_id in game_presets()
    for core in ("perceiver", "transformer"):
        policy = resolve_config(env_id, core).policy
        assert {"actor": policy["actor"], "targets": policy["targets"]} == envs.GAMES[env_id].action_roles


def test_a_games_action_roles_come_from_its_env_and_a_later_layer_may_override_them(tmp_path: Path) -> None:
    config_file = tmp_path / "no_actor.yaml"
    config_file.write_text("policy:\n  actor: null\n")
    policy = resolve_config(SKIRMISH, "perceiver", config_file=config_file).policy
    assert policy["actor"] is None and policy["targets"] == "enemy"
    assert resolve_config(SKIRMISH, "transformer", overrides={"targets": None}).policy["targets"] is None
    assert "actor" not in resolve_config(SKIRMISH, "mlp").policy


@pytest.mark.parametrize("core", AGENT_CORES)
@pytest.mark.parametrize("env_id", list(envs.GAMES))
def test_make_agent_builds_every_game_and_core(env_id: str, core: str) -> None:
    agent = make_agent(env_id, core=core, seed=0, **TINY, **TINY_CORE[core])
    env = agent.get_env()
    maskable = hasattr(gym.make(env_id).unwrapped, "action_masks")
    assert type(agent) is (MaskablePPO if maskable else PPO)
    if core != "mlp":
        assert isinstance(agent.policy, MaskablePerceiverPolicy if maskable else PerceiverPolicy)
        assert agent.policy.core_config.core == core and agent.policy.core_config.dim == 16
    assert agent.seed == 0 and agent.n_steps == 16
    obs = env.reset()  # the masks of the state just reset (before a reset an env may allow nothing)
    masks = {"action_masks": env.env_method("action_masks")[0]} if maskable else {}
    action, _ = agent.predict(obs, **masks)
    assert env.action_space.contains(action[0])


def write_runs(root: Path, offsets: dict[str, float], seeds: range = range(3), env_id: str = "Game-v0") -> Path:
    """Run folders under ``root`` whose evaluations at 100, 200, 300 steps return offset + seed + 1, 2, 3."""
    for core, offset in offsets.items():
        for seed in seeds:
            run = root / f"{env_id}__{core}__{seed}__0"
            run.mkdir(parents=True)
            config = AgentConfig(env_id, core, seed, {}, {}, {})
            save_config(run, config, {"parameters": 1000 if core == "mlp" else 2000})
            rows = [f"{s},{s / 100 + seed},{s / 100},{offset + seed + s / 100},1,0.5,20" for s in (100, 200, 300)]
            (run / EVAL_CSV).write_text(",".join(EVAL_COLUMNS) + "\n" + "\n".join(rows) + "\n")
    return root


def test_report_aggregates_seeds_with_rliable(tmp_path: Path) -> None:
    """Three seeds per core whose final returns are 8, 9, 10 (perceiver) and 3, 4, 5 (mlp)."""
    write_runs(tmp_path, {"perceiver": 5.0, "mlp": 0.0})
    report = json.loads(build_report(tmp_path).with_name("report.json").read_text())
    perceiver, mlp = report["cores"]["perceiver"], report["cores"]["mlp"]
    assert perceiver["final_returns"] == [8.0, 9.0, 10.0] and perceiver["iqm"] == pytest.approx(9.0)
    assert mlp["iqm"] == pytest.approx(4.0) and mlp["iqm_ci95"][0] >= 3.0 and mlp["iqm_ci95"][1] <= 5.0
    assert mlp["steps_per_second"] == pytest.approx(100.0) and mlp["parameters"] == 1000
    assert report["probability_of_improvement"]["perceiver > mlp"]["p"] == 1.0
    assert report["probability_of_improvement"]["mlp > perceiver"]["p"] == 0.0
    # time to reach (train_seconds 1, 2, 3 at the three evaluations; IQM of 3 runs = their mean): the perceiver's curve
    # 6 + t is above the mlp's final IQM 4 from its start, the mlp's own 1 + t gets there at its end
    reach = report["time_to_reach"]
    assert reach["mlp"]["target"] == pytest.approx(4.0)
    assert reach["mlp"]["seconds"] == {"perceiver": pytest.approx(1.0), "mlp": pytest.approx(3.0)}
    assert reach["perceiver"]["seconds"] == {"perceiver": pytest.approx(3.0), "mlp": None}  # the mlp never gets to 9
    assert "| mlp | 4.00 | 3 | 1 |" in (tmp_path / "report" / "report.md").read_text()
    for name in ("report.md", "curves_steps.png", "curves_time.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0


def test_merged_scores_put_several_comparisons_in_one_report(tmp_path: Path) -> None:
    """Two settings of one core, labelled apart; a folder and a scores file mix; rerun rewrites, others refused."""
    constant = write_runs(tmp_path / "constant", {"perceiver": 0.0})  # final returns 3, 4, 5
    linear = write_runs(tmp_path / "linear", {"perceiver": 5.0})  # 8, 9, 10
    linear_scores = tmp_path / "linear.json"
    linear_scores.write_text(build_report(linear).with_name("scores.json").read_text())
    into = tmp_path / "lr.json"
    merge_scores([constant, linear_scores], ["constant lr", "linear lr"], into)
    report = json.loads(build_report(into).with_name("report.json").read_text())
    assert list(report["cores"]) == ["perceiver, constant lr", "perceiver, linear lr"]
    assert report["cores"]["perceiver, linear lr"]["final_returns"] == [8.0, 9.0, 10.0]
    assert report["probability_of_improvement"]["perceiver, linear lr > perceiver, constant lr"]["p"] == 1.0
    assert report["notes"][0] == f"merged from {constant} (label 'constant lr'), {linear_scores} (label 'linear lr')"
    table = (tmp_path / "lr" / "report.md").read_text()
    assert "| perceiver, constant lr | 3 | 300 | 4.00 [" in table
    # the same command again rewrites the same file; a different merge into it is refused, the file kept
    merge_scores([constant, linear_scores], ["constant lr", "linear lr"], into)
    kept = into.read_text()
    with pytest.raises(UsageError, match=f"--into {into}: exists and holds other runs"):
        merge_scores([constant, linear_scores], ["a", "b"], into)
    assert into.read_text() == kept


def test_merged_scores_join_seeds_and_refuse_clashes(tmp_path: Path) -> None:
    first = write_runs(tmp_path / "first", {"transformer": 0.0}, seeds=range(2))
    later = write_runs(tmp_path / "later", {"transformer": 0.0}, seeds=range(2, 5))
    merge_scores([first, later], None, tmp_path / "five.json")  # unlabelled: the same core's runs join
    cores = json.loads(build_report(tmp_path / "five.json").with_name("report.json").read_text())["cores"]
    assert list(cores) == ["transformer"] and cores["transformer"]["final_returns"] == [3.0, 4.0, 5.0, 6.0, 7.0]
    with pytest.raises(UsageError, match=f"{first} and {first} both hold transformer seed 0; tell them apart with "
                                         "--labels"):
        merge_scores([first, first], None, tmp_path / "twice.json")
    other_env = write_runs(tmp_path / "other", {"mlp": 0.0}, env_id="Other-v0")
    with pytest.raises(UsageError, match=f"{other_env} holds runs of Other-v0, {first} of Game-v0"):
        merge_scores([first, other_env], None, tmp_path / "mixed.json")
    with pytest.raises(UsageError, match="--labels: expected 2, one per --report-only source, got 1"):
        merge_scores([first, later], ["one"], tmp_path / "labels.json")
    assert not any((tmp_path / name).exists() for name in ("twice.json", "mixed.json", "labels.json"))


def test_a_core_whose_runs_share_no_evaluation_step_gets_no_steps_curve_and_a_note(tmp_path: Path) -> None:
    """Runs stopped by a wall-clock cap (``max_train_seconds``) end, and are last evaluated, at different steps: the
    report still compares their final returns and time curves, and says why that core has no curve by steps."""
    runs = write_runs(tmp_path, {"mlp": 0.0, "perceiver": 5.0})
    csv = runs / "Game-v0__mlp__1__0" / EVAL_CSV
    csv.write_text(csv.read_text().replace("\n100,", "\n150,").replace("\n200,", "\n250,").replace("\n300,", "\n350,"))
    note = ("mlp: no curve by env steps: its runs share no evaluation step (Game-v0__mlp__0__0, Game-v0__mlp__1__0, "
            "Game-v0__mlp__2__0 end at 300, 350, 300 steps); final returns and curves by time compare as usual")
    report = json.loads(build_report(runs).with_name("report.json").read_text())
    assert report["cores"]["mlp"]["final_returns"] == [3.0, 4.0, 5.0]
    assert report["cores"]["mlp"]["final_steps"] == [300, 350]
    assert report["notes"] == [note]
    assert f"Notes:\n\n- {note}" in (runs / "report" / "report.md").read_text()
    assert (runs / "report" / "curves_steps.png").is_file()
    # the note is the report's, not the runs': a report rebuilt from the scores file it wrote says it once
    rebuilt = build_report(runs / "report" / "scores.json").with_name("report.json")
    assert json.loads(rebuilt.read_text())["notes"] == [note]
    # no core with a curve by steps: the report and its (empty, labelled) figure are still written, warning-free
    alone = tmp_path / "alone.json"
    scores = json.loads((runs / "report" / "scores.json").read_text())
    alone.write_text(json.dumps({**scores, "runs": [r for r in scores["runs"] if "__mlp__" in r["run"]]}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert json.loads(build_report(alone).with_name("report.json").read_text())["notes"] == [note]
    assert (tmp_path / "alone" / "curves_steps.png").is_file()


def write_continuation(root: Path, name: str, source: Path, step: int, rows: list[tuple[int, float, float]]) -> Path:
    """A perceiver seed 0 run ``name`` resumed from ``source`` at ``step``; rows: (steps, seconds, return)."""
    run = root / name
    run.mkdir()
    meta = {"resumed_from": str(source), "resumed_at_step": step, "parameters": 3000}
    save_config(run, AgentConfig("Game-v0", "perceiver", 0, {}, {}, {}), meta)
    lines = [f"{s},{t},{t},{r},1,0.5,20" for s, t, r in rows]
    (run / EVAL_CSV).write_text(",".join(EVAL_COLUMNS) + "\n" + "\n".join(lines) + "\n")
    return run


def test_report_joins_a_run_with_its_resume_continuations(tmp_path: Path) -> None:
    """A seed trained in pieces (--resume from a checkpoint, then from that run's model) is one curve, one seed.

    The first run evaluates at 100, 200, 300 steps (1, 2, 3 s, returns 1, 2, 3); the second resumes its step-200
    checkpoint, so the first's step-300 evaluation is replaced and the second's clock starts at the first's 2 s.
    """
    write_runs(tmp_path, {"perceiver": 0.0}, seeds=range(2))
    first = tmp_path / "Game-v0__perceiver__0__0"
    checkpoint = Path("elsewhere") / first.name / "checkpoints" / "model_200_steps.zip"  # recorded before a move
    rows = [(300, 0.5, 7.0), (400, 1.5, 8.0)]  # its own clock
    second = write_continuation(tmp_path, "Game-v0__perceiver__0__1", checkpoint, 200, rows)
    write_continuation(tmp_path, "Game-v0__perceiver__0__2", second / "model.zip", 400, [(500, 2.0, 9.0)])
    report = build_report(tmp_path)
    scores = json.loads((report.parent / "scores.json").read_text())
    runs = {r["seed"]: r for r in scores["runs"]}
    assert len(scores["runs"]) == 2 and runs[1]["run"] == "Game-v0__perceiver__1__0"
    joined = runs[0]
    assert joined["run"] == "Game-v0__perceiver__0__0 + Game-v0__perceiver__0__1 + Game-v0__perceiver__0__2"
    assert joined["timesteps"] == [100, 200, 300, 400, 500]
    assert joined["train_seconds"] == [1.0, 2.0, 2.5, 3.5, 5.5]
    assert joined["returns"] == [1.0, 2.0, 7.0, 8.0, 9.0] and joined["parameters"] == 3000


def test_report_refuses_two_runs_of_one_seed_in_a_folder(tmp_path: Path) -> None:
    """A seed trained twice (or two continuations of one run) would count one seed twice."""
    write_runs(tmp_path, {"perceiver": 0.0}, seeds=range(1))
    first = tmp_path / "Game-v0__perceiver__0__0"
    again = tmp_path / "Game-v0__perceiver__0__1"
    again.mkdir()
    save_config(again, AgentConfig("Game-v0", "perceiver", 0, {}, {}, {}), {})
    (again / EVAL_CSV).write_text((first / EVAL_CSV).read_text())
    message = (f"{first.name} and {again.name} are both perceiver seed 0; a report counts each seed once: move one of "
               f"them out of {tmp_path}")
    with pytest.raises(UsageError, match=re.escape(message)):
        build_report(tmp_path)
    checkpoint = first / "checkpoints" / "model_200_steps.zip"
    (again / "config.yaml").unlink()  # no longer a run
    for name in ("Game-v0__perceiver__0__2", "Game-v0__perceiver__0__3"):
        write_continuation(tmp_path, name, checkpoint, 200, [(300, 1.0, 5.0)])
    both = f"{first.name} + Game-v0__perceiver__0__2 and {first.name} + Game-v0__perceiver__0__3"
    with pytest.raises(UsageError, match=re.escape(f"{both} are both perceiver seed 0")):
        build_report(tmp_path)
    assert not (tmp_path / "report").exists()


def test_report_notes_a_continuation_whose_first_run_is_elsewhere(tmp_path: Path) -> None:
    write_runs(tmp_path, {"perceiver": 0.0}, seeds=range(1, 2))
    write_continuation(tmp_path, "Game-v0__perceiver__0__1", Path("other/Game-v0__perceiver__0__0/model.zip"), 200,
                       [(300, 1.0, 5.0)])
    scores = json.loads((build_report(tmp_path).parent / "scores.json").read_text())
    assert len(scores["runs"]) == 2
    assert ("Game-v0__perceiver__0__1: continues other/Game-v0__perceiver__0__0/model.zip, not in this folder: its "
            "curve starts at step 200 and its clock at 0") in scores["notes"]


@pytest.mark.parametrize("core", AGENT_CORES)
def test_make_agent_reads_a_plain_gym_env(core: str) -> None:
    agent = make_agent("CartPole-v1", core=core, seed=0, **TINY, **TINY_CORE[core])
    assert type(agent) is PPO
    expected = PerceiverPolicy if core != "mlp" else ActorCriticPolicy  # SB3's MlpPolicy
    assert type(agent.policy) is expected
    action, _ = agent.predict(agent.get_env().reset())
    assert agent.action_space.contains(action[0])


def test_bootstrap_intervals_are_reproducible_and_leave_numpy_alone():
    """rliable resamples with numpy's global generator: the report seeds it per call and restores it."""
    from rliable import metrics

    from agents.report_stats import bootstrap_interval as _interval

    scores = np.array([[9.75], [9.6], [9.9], [9.45], [9.85]])
    iqm = lambda s: np.array([metrics.aggregate_iqm(s)])  # noqa: E731
    before = np.random.get_state()[1].copy()  # noqa: NPY002 (rliable uses the legacy global generator)
    first = _interval(scores, iqm)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002 (the caller's stream is untouched)
    second = _interval(scores, iqm)
    np.testing.assert_array_equal(first[1], second[1])


MINEFIELD = "perceiver_rl/Minefield-v0"


def test_env_keys_of_a_game_preset_reach_its_constructor() -> None:
    assert resolve_config(MINEFIELD, "perceiver").env == {"wrappers": [], "n_mines": 16}  # wrappers: a typed key
    config = resolve_config(MINEFIELD, "transformer", overrides={"n_mines": 64})
    assert config.env["n_mines"] == 64 and AgentConfig.from_dict(config.to_dict()).env == config.env
    agent = make_agent(MINEFIELD, core="perceiver", n_mines=64, **TINY, **TINY_CORE["perceiver"])
    assert agent.observation_space["mine"].shape == (64, 5)
    with pytest.raises(UsageError, match="unknown key 'n_mines'"):  # Skirmish has no such argument
        resolve_config(SKIRMISH, "perceiver", overrides={"n_mines": 64})
    with pytest.raises(UsageError, match=r"Minefield-v0: cannot build it with \{'n_mines': 0\}"):
        make_agent(MINEFIELD, core="mlp", n_mines=0, **TINY)


def test_max_train_seconds_stops_training_then_evaluates_and_saves(tmp_path: Path) -> None:
    from agents.training import train

    with pytest.raises(UsageError, match="max_train_seconds must be a number > 0"):
        resolve_config(MINEFIELD, "mlp", overrides={"max_train_seconds": 0})
    overrides = {**TINY, **TINY_CORE["mlp"], "total_timesteps": 10**9, "max_train_seconds": 1.0, "eval_freq": 10**9,
                 "eval_episodes": 2, "n_mines": 32}
    result = train(resolve_config(MINEFIELD, "mlp", overrides=overrides), tmp_path, echo=False)
    assert result.status == "time_capped" and result.summary["status"] == "time_capped"
    assert 1.0 <= result.summary["train_seconds"] < 30 and 0 < result.summary["timesteps"] < 10**9
    assert result.summary["final_eval"]["timesteps"] == result.summary["timesteps"]  # evaluated where it stopped
    assert result.model_path.is_file()
    # the saved run remembers its env arguments: evaluation plays the 32-mine game the model was trained on
    from agents.evaluation import eval_env_id, evaluate

    env_id, packages, env_kwargs = eval_env_id(result.model_path, None, [])
    assert (env_id, env_kwargs) == (MINEFIELD, {"wrappers": [], "n_mines": 32})
    assert evaluate(result.model_path, env_id, 1, env_packages=packages, env_kwargs=env_kwargs)["episodes"] == 1


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_stops_training_cleanly_and_saves(tmp_path: Path, presses: int) -> None:
    """The first Ctrl-C stops learn() at the next step (no final evaluation), the second at once; both save."""
    from agents.training import train

    def press_ctrl_c(evaluation: dict) -> None:
        for _ in range(presses):
            os.kill(os.getpid(), signal.SIGINT)

    overrides = {**TINY, **TINY_CORE["mlp"], "total_timesteps": 10**9, "eval_freq": 64, "eval_episodes": 1,
                 "checkpoint_freq": 10**9, "n_mines": 8}
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if pytest ignores it
    try:
        result = train(resolve_config(MINEFIELD, "mlp", overrides=overrides), tmp_path, echo=False,
                       on_evaluation=press_ctrl_c)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is given back
    finally:
        signal.signal(signal.SIGINT, previous)
    steps = result.summary["timesteps"]
    assert result.status == result.summary["status"] == "interrupted"
    assert steps == 64 + (presses == 1)  # one more env step (n_envs 1) after the first press; none after the second
    assert (result.run_dir / "checkpoints" / f"model_{steps}_steps.zip").is_file() and result.model_path.is_file()
    assert len((result.run_dir / EVAL_CSV).read_text().splitlines()) == 2  # the header and the evaluation at 64
    assert PPO.load(result.model_path).num_timesteps == steps


def test_linear_lr_schedule_decays_to_zero_over_the_run_and_is_saved(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"lr_schedule must be one of \['constant', 'linear'\], got 'cosine'"):
        resolve_config(MINEFIELD, "mlp", overrides={"lr_schedule": "cosine"})
    constant = make_agent(MINEFIELD, core="mlp", learning_rate=1e-3, **TINY, **TINY_CORE["mlp"])
    assert constant.lr_schedule(1.0) == constant.lr_schedule(0.0) == pytest.approx(1e-3)
    agent = make_agent(MINEFIELD, core="mlp", learning_rate=1e-3, lr_schedule="linear", **TINY, **TINY_CORE["mlp"])
    assert [agent.lr_schedule(p) for p in (1.0, 0.5, 0.0)] == pytest.approx([1e-3, 5e-4, 0.0])
    agent.learn(64)  # four rollouts of 16 steps; each update runs at the rate where its rollout ended
    assert agent.policy.optimizer.param_groups[0]["lr"] == 0.0  # the last one at total_timesteps
    agent.save(tmp_path / "model.zip")
    loaded = PPO.load(tmp_path / "model.zip")
    assert loaded.lr_schedule(0.5) == pytest.approx(5e-4)


def test_subproc_envs_register_the_games_in_each_worker() -> None:
    """``vec_env: subproc`` (the GPU preset's): each worker is a fresh process that must import the games itself."""
    from stable_baselines3.common.vec_env import SubprocVecEnv

    env = make_env("perceiver_rl/Nearest-v0", 2, 0, vec_env="subproc")
    try:
        assert isinstance(env, SubprocVecEnv)
        assert env.reset()["item"].shape[0] == 2
    finally:
        env.close()


def test_a_model_saved_with_another_decoder_layout_fails_to_load_in_one_line(tmp_path: Path) -> None:
    """A zip whose policy weights are named as another layout named them (issue 26 replaced a learned query per
    verb by one per decision) is refused in one line naming the keys, never loaded into a wrong policy."""
    import io
    import zipfile

    import torch

    from agents import load_agent

    path = tmp_path / "model.zip"
    make_agent("perceiver_rl/Nearest-v0", seed=0, **TINY, **TINY_CORE["perceiver"]).save(path)
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    state = torch.load(io.BytesIO(files["policy.pth"]))
    state["heads.verb_queries.array"] = state.pop("heads.learned_queries.array")  # the old name of a query array
    buffer = io.BytesIO()
    torch.save(state, buffer)
    files["policy.pth"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    with pytest.raises(UsageError, match=r"is not a saved agent for this env \(RuntimeError: .*verb_queries") as info:
        load_agent(path, make_env("perceiver_rl/Nearest-v0", 1, 0))
    assert "\n" not in str(info.value)
