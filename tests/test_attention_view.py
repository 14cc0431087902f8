"""Attention pictures (``agents/attention_view.py``): frames for both cores, ``eval --attention`` and the tensorboard
image logged at evaluation time."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import gymnasium as gym
import imageio.v2 as imageio
import numpy as np
import pytest
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_cli import train_agent

from agents.attention_view import PANEL_WIDTH, attention_frame, attention_unsupported, attention_view
from agents.factory import deterministic_action
from agents.presets import resolve_config
from agents.training import train
from envs.base import FRAME_SIZE
from perceiver_rl import CORES, MaskablePerceiverPolicy, PerceiverPolicy, explain

TINY_CORE = {"dim": 16, "num_layers": 1, "num_heads": 2}
#: id, env kwargs, policy kwargs of the roles: a small Skirmish (one action per ally) and Nearest (one pointer).
GAMES = {
    "skirmish": ("perceiver_rl/Skirmish-v0", {"max_allies": 3, "max_enemies": 4},
                 {"actor": "ally", "targets": "enemy"}),
    "nearest": ("perceiver_rl/Nearest-v0", {"max_items": 6, "min_items": 4}, {"targets": "item"}),
}


def untrained(game: str, core: str) -> tuple[gym.Env, MaskablePPO]:
    """A rendering env of ``game`` and an untrained tiny MaskablePPO of ``core`` on it."""
    env_id, env_kwargs, roles = GAMES[game]
    env = gym.make(env_id, render_mode="rgb_array", **env_kwargs)
    latents = {"num_latents": 4} if core == "perceiver" else {}
    model = MaskablePPO(MaskablePerceiverPolicy, env, n_steps=16, batch_size=16,
                        policy_kwargs={"core": core, **roles, **TINY_CORE, **latents})
    return env, model


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("game", GAMES)
def test_attention_frame_draws_rings_and_a_panel(game: str, core: str) -> None:
    env, model = untrained(game, core)
    obs, _ = env.reset(seed=3)
    action = deterministic_action(model, env, obs)
    plain = env.render()
    frame = attention_frame(env, model, obs, action)
    assert frame.shape == (FRAME_SIZE, FRAME_SIZE + PANEL_WIDTH, 3) and frame.dtype == np.uint8
    panel = frame[:, FRAME_SIZE:]
    assert len(np.unique(panel.reshape(-1, 3), axis=0)) > 3  # text and bars, not a blank panel

    view = attention_view(env, model, obs, action)
    weights = [entry.weight for entry in view.top]
    assert 1 <= len(view.top) <= 5 and weights == sorted(weights, reverse=True) and sum(weights) <= 1 + 1e-6
    for entry in view.top:  # only present entities are listed (mask: True = present)
        assert obs[f"{entry.kind}_mask"][entry.slot] == 1
    best = view.top[0]
    x, y = np.rint(env.unwrapped.entity_pixels()[best.kind][best.slot]).astype(int)
    around = (slice(max(y - 20, 0), y + 21), slice(max(x - 20, 0), x + 21))
    assert (frame[:, :FRAME_SIZE][around] != plain[around]).any()  # a ring around the most relevant entity
    if game == "skirmish":  # the decision shown is the first present ally's, and it is marked
        assert view.actor_slot == int(np.flatnonzero(obs["ally_mask"])[0])
        assert view.query == f"ally[{view.actor_slot}]"
    else:
        assert view.actor_slot is None and view.query == "dim0"
        assert view.action == f"target item[{int(action)}]"


@pytest.mark.parametrize("core", CORES)
def test_verb_attention_lists_the_chosen_verbs_own_head(core: str) -> None:
    env = gym.make("perceiver_rl/Foraging-v0", render_mode="rgb_array", max_food=4, max_poison=4)
    latents = {"num_latents": 4} if core == "perceiver" else {}
    model = PPO(PerceiverPolicy, env, n_steps=16, batch_size=16,
                policy_kwargs={"core": core, "verb_attention": True, **TINY_CORE, **latents})
    obs, _ = env.reset(seed=5)
    action = deterministic_action(model, env, obs)
    view = attention_view(env, model, obs, action)
    assert view.verb_head == f"dim0.verb{int(action)}"
    ex = explain(model, obs)
    head = ex.verbs[0, int(action), ex.slices["item"]]  # (max_items,) the chosen verb's own head
    assert [e.slot for e in view.verb_top] == list(np.argsort(-head, kind="stable")[:3])
    assert [e.weight for e in view.verb_top] == pytest.approx(np.sort(head)[::-1][:3].tolist())
    assert all(obs["item_mask"][e.slot] == 1 for e in view.verb_top)  # present items only
    assert len(view.top) == 3  # the two lists share the panel
    shared = attention_frame(env, model, obs, action)

    model.policy.heads.verb_attention = None  # the same policy without the verbs' heads: one list of five
    alone = attention_view(env, model, obs, action)
    assert alone.verb_head is None and alone.verb_top == [] and len(alone.top) == 5
    panel = (slice(140, 215), slice(FRAME_SIZE, None))  # where the second list is written
    assert (shared[panel] != attention_frame(env, model, obs, action)[panel]).any()


def test_attention_unsupported_says_why() -> None:
    env, _ = untrained("nearest", "perceiver")
    mlp = PPO("MultiInputPolicy", env, n_steps=16, batch_size=16)
    assert "PerceiverPolicy" in attention_unsupported(mlp, env)
    pendulum = gym.make("Pendulum-v1")
    model = PPO(PerceiverPolicy, pendulum, n_steps=16, batch_size=16, policy_kwargs=TINY_CORE)
    assert "entity_pixels" in attention_unsupported(model, pendulum)


#: 128 steps, an evaluation every 64; core-qualified keys apply to that core only.
TINY_RUN = {"total_timesteps": 128, "n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1, "eval_freq": 64,
            "eval_episodes": 1, "checkpoint_freq": 1_000_000, "perceiver.num_latents": 4, "perceiver.dim": 16,
            "perceiver.num_layers": 1, "perceiver.num_heads": 2, "mlp.net_arch": [16]}


def tiny_run(core: str, logdir: Path) -> Path:
    """Train ``core`` on Nearest for 128 steps with two evaluations; returns the run folder."""
    config = resolve_config("perceiver_rl/Nearest-v0", core, 0, TINY_RUN)
    return train(config, logdir, device="cpu", echo=False).run_dir


@pytest.fixture(scope="module")
def perceiver_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_run("perceiver", tmp_path_factory.mktemp("runs"))


def images_of(run: Path) -> list[str]:
    (events,) = run.glob("events.out.tfevents.*")
    return EventAccumulator(str(events), size_guidance={"images": 0}).Reload().Tags()["images"]


def test_evaluation_logs_the_attention_image(perceiver_run: Path) -> None:
    (events,) = perceiver_run.glob("events.out.tfevents.*")
    logged = EventAccumulator(str(events), size_guidance={"images": 0}).Reload()
    assert "eval/attention" in logged.Tags()["images"]
    images = logged.Images("eval/attention")
    assert [image.step for image in images] == [64, 128]
    assert (images[0].height, images[0].width) == (FRAME_SIZE, FRAME_SIZE + PANEL_WIDTH)


def test_mlp_run_skips_the_image_with_a_debug_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="agents.training"):
        run = tiny_run("mlp", tmp_path)
    assert "eval/attention" not in images_of(run)
    assert any("PerceiverPolicy" in record.getMessage() for record in caplog.records)


def test_eval_cli_writes_attention_gif_and_still(perceiver_run: Path, tmp_path: Path) -> None:
    gif, still = tmp_path / "episode.gif", tmp_path / "still.png"
    code = train_agent().main(["eval", "--model", str(perceiver_run / "model.zip"), "--episodes", "1", "--seed", "5",
                               "--video", str(gif), "--attention", "--still", str(still), "--still-step", "2",
                               "--json", str(tmp_path / "eval.json")])
    assert code == 0
    results = json.loads((tmp_path / "eval.json").read_text())
    assert results["seed"] == 5 and results["attention"] and results["still"] == str(still)
    frames = imageio.mimread(gif)
    assert len(frames) == 11  # Nearest: 10 questions, plus the end frame
    assert frames[0].shape[:2] == (FRAME_SIZE, FRAME_SIZE + PANEL_WIDTH)
    png = imageio.imread(still)
    assert png.shape == (FRAME_SIZE, FRAME_SIZE + PANEL_WIDTH, 3)


@pytest.fixture
def mlp_model(tmp_path: Path) -> Path:
    env = gym.make("perceiver_rl/Nearest-v0")
    model = MaskablePPO("MultiInputPolicy", env, n_steps=16, batch_size=16, policy_kwargs={"net_arch": [8]})
    model.save(tmp_path / "mlp")
    return tmp_path / "mlp.zip"


BAD_ATTENTION = {  # name: (extra eval arguments, what the one error line says)
    "attention without a picture": (["--attention"], "--attention: draws on the filmed frames; pass --video FILE"),
    "mlp model": (["--attention", "--video", "x.gif"], "--attention: the policy is MaskableMultiInputActorCritic"),
    "still step past the episode": (["--still", "s.png", "--still-step", "99"], "--still-step 99: the filmed episode"),
    "still not a png": (["--still", "s.jpg"], "--still s.jpg: expected a file ending in .png"),
    "still step without a still": (["--still-step", "3"], "--still-step: pass --still FILE.png too"),
}


@pytest.mark.parametrize("name", BAD_ATTENTION)
def test_bad_attention_input_exits_2(name: str, mlp_model: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(mlp_model.parent)
    extra, message = BAD_ATTENTION[name]
    code = train_agent().main(["eval", "--model", str(mlp_model), "--env", "perceiver_rl/Nearest-v0",
                               "--episodes", "1", *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1, err
