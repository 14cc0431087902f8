"""Evaluating a saved agent: deterministic episodes (:func:`envs.rollout.play_episodes`), return and success
statistics, and a video (and a still) of one episode, optionally with the attention of every decision drawn over it
(:mod:`agents.attention_view`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import gymnasium as gym
import imageio.v2 as imageio
import numpy as np

from agents.attention_view import attention_frame, attention_unsupported, end_frame
from agents.errors import UsageError
from agents.factory import Agent, check_model_path, deterministic_actions, load_agent, make_env
from agents.intervals import mean_interval, wilson_interval
from agents.rundir import find_run_config, load_run
from envs.rollout import play_episodes

VIDEO_SUFFIXES = (".gif", ".mp4")
EVAL_SEED = 123_456  # episodes are seeded EVAL_SEED, EVAL_SEED + 1, ...: reproducible and unlike training


def eval_env_id(
    model_path: Path, env_id: str | None, env_packages: list[str]
) -> tuple[str, list[str], dict[str, Any]]:
    """The env id, env packages and env section (constructor arguments and ``wrappers``) to evaluate ``model_path``
    on: from its run's ``config.yaml`` (the section only if ``env_id`` is None or the run's own env), or ``--env``."""
    check_model_path(model_path)
    config_path = find_run_config(model_path)
    if config_path is None:
        if env_id is None:
            raise UsageError(f"no run config beside {model_path}; pass --env ID")
        return env_id, env_packages, {}
    config, _ = load_run(config_path)
    env_kwargs = config.env if env_id in (None, config.env_id) else {}
    return env_id or config.env_id, list(dict.fromkeys(config.env_packages + env_packages)), env_kwargs


def check_video_path(video: Path) -> None:
    """Raise a UsageError unless ``video`` is a GIF, or an MP4 with imageio-ffmpeg installed."""
    if video.suffix.lower() not in VIDEO_SUFFIXES:
        raise UsageError(f"--video {video}: expected a file ending in one of {list(VIDEO_SUFFIXES)}")
    if video.suffix.lower() == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        raise UsageError(f"--video {video}: writing MP4 needs imageio-ffmpeg (pip install imageio-ffmpeg); or use .gif")


def check_still_path(still: Path) -> None:
    """Raise a UsageError unless ``still`` is a PNG file name."""
    if still.suffix.lower() != ".png":
        raise UsageError(f"--still {still}: expected a file ending in .png")


def evaluate(
    model_path: Path,
    env_id: str,
    episodes: int,
    video: Path | None = None,
    env_packages: list[str] | None = None,
    device: str = "auto",
    *,
    attention: bool = False,
    still: Path | None = None,
    still_step: int = 0,
    seed: int = EVAL_SEED,
    env_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``episodes`` deterministic episodes, seeded ``seed``, ``seed + 1``, ..., and return the stats (mean return
    and success rate with their 95% intervals, ``return_ci95`` and ``success_ci95``). The first one is filmed to
    ``video`` and/or its frame ``still_step`` saved to ``still``; with ``attention`` every frame shows what its
    decision attended to. ``env_kwargs`` are the env's constructor arguments."""
    if video is not None:
        check_video_path(video)
    if still is not None:
        check_still_path(still)
    filmed = video is not None or still is not None
    if attention and not filmed:
        raise UsageError("--attention: draws on the filmed frames; pass --video FILE and/or --still FILE.png")
    vec_env = make_env(env_id, 1, seed, env_packages or [], render_mode="rgb_array" if filmed else None,
                       env_kwargs=env_kwargs)
    model = load_agent(model_path, vec_env, device)
    env = vec_env.envs[0]  # step the monitored env itself: a VecEnv would reset before showing the last frame
    reason = attention_unsupported(model, env) if attention else None
    if reason is not None:
        vec_env.close()
        raise UsageError(f"--attention: {reason}")
    filming = Filming(env, model, attention) if filmed else None
    played = play_episodes([filming or env], deterministic_actions(model), episodes, seed)
    frames = filming.frames if filming else []
    vec_env.close()
    if video is not None:
        _write_video(video, frames, fps=int(env.metadata.get("render_fps") or 10))
    if still is not None:
        if still_step >= len(frames):
            raise UsageError(f"--still-step {still_step}: the filmed episode has {len(frames)} frames "
                             f"(0..{len(frames) - 1})")
        still.parent.mkdir(parents=True, exist_ok=True)
        imageio.imwrite(still, frames[still_step])
    return {
        "model": str(model_path), "env_id": env_id, "env_kwargs": env_kwargs or {}, "episodes": episodes, "seed": seed,
        "deterministic": True,
        "mean_return": float(np.mean(played.returns)), "std_return": float(np.std(played.returns)),
        "return_ci95": list(mean_interval(played.returns)),
        "success_rate": played.success_rate,
        "success_ci95": list(wilson_interval(sum(played.successes), len(played.successes)))
        if played.successes else None,
        "returns": played.returns,
        "video": str(video) if video else None, "still": str(still) if still else None, "attention": attention,
    }


class Filming(gym.Wrapper):
    """Films the first episode played through it: every state with the action chosen in it (with ``attention``, what
    that decision attended to drawn over it), then the last state, where no decision is made."""

    def __init__(self, env: gym.Env, model: Agent, attention: bool) -> None:
        super().__init__(env)
        self.model, self.attention = model, attention
        self.frames: list[np.ndarray] = []
        self.filming = True
        self.obs: Any = None
        self.total = 0.0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset the env, remembering the observation the next action is chosen on."""
        self.obs, info = self.env.reset(**kwargs)
        self.total = 0.0
        return self.obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Film the state ``action`` was chosen in, step, and film the last state when the first episode ends."""
        if self.filming:
            self.frames.append(attention_frame(self.env, self.model, self.obs, action) if self.attention
                               else self.env.render())
        self.obs, reward, terminated, truncated, info = self.env.step(action)
        self.total += float(reward)
        if self.filming and (terminated or truncated):
            self.frames.append(end_frame(self.env, ["episode over", f"return {self.total:.2f}"]) if self.attention
                               else self.env.render())
            self.filming = False
        return self.obs, reward, terminated, truncated, info


def _write_video(path: Path, frames: list[np.ndarray], fps: int) -> None:
    """Write RGB frames as a looping GIF or an MP4."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        imageio.mimsave(path, frames, duration=1000 / fps, loop=0)
    else:
        imageio.mimsave(path, frames, fps=fps)
