"""Evaluating a saved agent: deterministic episodes, return and success statistics, and a video of one episode."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import imageio.v2 as imageio
import numpy as np

from agents.errors import UsageError
from agents.factory import check_model_path, is_maskable, load_agent, make_env
from agents.rundir import find_run_config, load_run

VIDEO_SUFFIXES = (".gif", ".mp4")
EVAL_SEED = 123_456  # episodes are seeded EVAL_SEED, EVAL_SEED + 1, ...: reproducible and unlike training


def eval_env_id(model_path: Path, env_id: str | None, env_packages: list[str]) -> tuple[str, list[str]]:
    """The env id and env packages to evaluate ``model_path`` on: from its run's ``config.yaml``, or ``--env``."""
    check_model_path(model_path)
    config_path = find_run_config(model_path)
    if config_path is None:
        if env_id is None:
            raise UsageError(f"no run config beside {model_path}; pass --env ID")
        return env_id, env_packages
    config, _ = load_run(config_path)
    return env_id or config.env_id, list(dict.fromkeys(config.env_packages + env_packages))


def check_video_path(video: Path) -> None:
    """Raise a UsageError unless ``video`` is a GIF, or an MP4 with imageio-ffmpeg installed."""
    if video.suffix.lower() not in VIDEO_SUFFIXES:
        raise UsageError(f"--video {video}: expected a file ending in one of {list(VIDEO_SUFFIXES)}")
    if video.suffix.lower() == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        raise UsageError(f"--video {video}: writing MP4 needs imageio-ffmpeg (pip install imageio-ffmpeg); or use .gif")


def evaluate(
    model_path: Path,
    env_id: str,
    episodes: int,
    video: Path | None = None,
    env_packages: list[str] | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    """Run ``episodes`` deterministic episodes; the first one is filmed to ``video`` if given. Returns the stats."""
    if video is not None:
        check_video_path(video)
    vec_env = make_env(env_id, 1, EVAL_SEED, env_packages or [], render_mode="rgb_array" if video else None)
    model = load_agent(model_path, vec_env, device)
    env = vec_env.envs[0]  # step the monitored env itself: a VecEnv would reset before showing the last frame
    masked = is_maskable(vec_env)
    returns, successes, frames = [], [], []
    for episode in range(episodes):
        obs, info = env.reset(seed=EVAL_SEED + episode)
        filming = video is not None and episode == 0
        frames += [env.render()] if filming else []
        total, done = 0.0, False
        while not done:
            masks = {"action_masks": env.get_wrapper_attr("action_masks")()} if masked else {}
            action, _ = model.predict(obs, deterministic=True, **masks)
            obs, reward, terminated, truncated, info = env.step(action)
            total, done = total + float(reward), terminated or truncated
            frames += [env.render()] if filming else []
        returns.append(total)
        if "is_success" in info:
            successes.append(float(info["is_success"]))
    vec_env.close()
    if video is not None:
        _write_video(video, frames, fps=int(env.metadata.get("render_fps") or 10))
    return {
        "model": str(model_path), "env_id": env_id, "episodes": episodes, "deterministic": True,
        "mean_return": float(np.mean(returns)), "std_return": float(np.std(returns)),
        "success_rate": float(np.mean(successes)) if successes else None, "returns": returns,
        "video": str(video) if video else None,
    }


def _write_video(path: Path, frames: list[np.ndarray], fps: int) -> None:
    """Write RGB frames as a looping GIF or an MP4."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        imageio.mimsave(path, frames, duration=1000 / fps, loop=0)
    else:
        imageio.mimsave(path, frames, fps=fps)
