"""One training run: build (or resume) the agent, learn with logs, evaluations and checkpoints, save everything.

The data path: ``make_env`` (n_envs monitored envs) -> PPO/MaskablePPO rollouts -> the policy's core -> PPO loss;
callbacks evaluate on a separate env, checkpoint, and log steps/s and hyperparameters to tensorboard. Ctrl-C stops
training cleanly at the next env step (a second Ctrl-C at once): the model and a checkpoint are saved and the logs
closed. ``max_train_seconds`` stops it at a wall-clock cap (status ``time_capped``), after a final evaluation, like a
completed run.
"""

from __future__ import annotations

import logging
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sb3_contrib
import stable_baselines3
import torch
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from agents.attention_view import attention_unsupported
from agents.callbacks import HParams, Progress, StopOnCtrlC, Throughput, TimeCap
from agents.errors import UsageError
from agents.factory import build_agent, load_agent, make_env
from agents.intervals import mean_interval, wilson_interval
from agents.presets import AgentConfig
from agents.provenance import code_version, cpu_name
from agents.rundir import (
    CHECKPOINT_DIR,
    CHECKPOINT_PREFIX,
    MODEL_FILE,
    SUMMARY_FILE,
    create_run_dir,
    save_config,
    write_json,
)
from agents.timed_eval import FINAL_EVAL_EPISODES, TimedEval
from perceiver_rl.cost import count_params, policy_flops

EVAL_SEED_OFFSET = 10_000  # the eval env's seed is the run's seed + this, so it never replays training episodes
log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """Where a run's files are and how it ended."""

    run_dir: Path
    model_path: Path
    status: str  # "completed", "time_capped" (stopped at max_train_seconds) or "interrupted"
    summary: dict[str, Any]


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(), "torch": str(torch.__version__),
        "stable_baselines3": stable_baselines3.__version__, "sb3_contrib": sb3_contrib.__version__,
    }


def train(
    config: AgentConfig,
    logdir: Path,
    *,
    device: str = "auto",
    resume: Path | None = None,
    echo: bool = True,
    on_evaluation: Callable[[dict[str, Any]], None] | None = None,
    final_episodes: int = FINAL_EVAL_EPISODES,
    command: Sequence[str] | None = None,
) -> TrainResult:
    """Train ``config`` in a new folder under ``logdir`` (continuing ``resume``'s weights and step count if given).

    ``on_evaluation`` is called with :func:`last_evaluation` after each evaluation, the final one included; the final
    evaluation plays ``final_episodes`` episodes (at least the preset's ``eval_episodes``). ``command`` is the command
    line recorded in ``config.yaml`` (default: this process's).
    """
    n_envs, total = config.run["n_envs"], config.run["total_timesteps"]
    env = make_env(config.env_id, n_envs, config.seed, config.env_packages, env_kwargs=config.env,
                   vec_env=config.run.get("vec_env", "dummy"))  # run configs saved before the key have none
    model = load_agent(resume, env, device) if resume else build_agent(config, env, device)
    if model.num_timesteps >= total:
        env.close()
        raise UsageError(f"{resume} has already trained {model.num_timesteps} steps >= --timesteps {total}")
    # evaluation episodes run side by side in up to n_envs envs: one batched forward pass per step
    eval_seed = config.seed + EVAL_SEED_OFFSET
    eval_env = make_env(config.env_id, min(n_envs, config.run["eval_episodes"]), eval_seed, config.env_packages,
                        env_kwargs=config.env)
    picture_env = _attention_env(config, model, env, eval_seed)

    run_dir = create_run_dir(logdir, config)
    meta = {
        "created": time.strftime("%Y-%m-%d %H:%M:%S"), "command": list(sys.argv if command is None else command),
        "run_dir": str(run_dir),
        "algorithm": type(model).__name__, "policy": type(model.policy).__name__,
        "parameters": count_params(model.policy), "flops_per_step": policy_flops(model.policy),
        "device": str(model.device), "threads": torch.get_num_threads(),
        "resumed_from": str(resume) if resume else None,
        "resumed_at_step": model.num_timesteps if resume else None, "versions": _versions(),
        "code": code_version(), "cpu": cpu_name(),
    }
    save_config(run_dir, config, meta)
    logger = configure(str(run_dir), ["csv", "tensorboard"])
    model.set_logger(logger)

    ctrl_c = StopOnCtrlC()
    evaluation = TimedEval(
        eval_env.envs, eval_seed, run_dir, config.run["eval_freq"], n_envs, config.run["eval_episodes"], echo,
        picture_env.envs[0] if picture_env is not None else None, ctrl_c, final_episodes,
    )
    checkpoints = CheckpointCallback(
        max(1, config.run["checkpoint_freq"] // n_envs), str(run_dir / CHECKPOINT_DIR), name_prefix=CHECKPOINT_PREFIX
    )
    hparams = {"env_id": config.env_id, "core": config.core, "seed": config.seed, **config.run, **config.algo,
               **config.policy, **config.env, "parameters": meta["parameters"]}
    time_cap = TimeCap(evaluation, config.run.get("max_train_seconds"))
    callbacks = [ctrl_c, evaluation, checkpoints, Throughput(evaluation), HParams(hparams), time_cap]
    if on_evaluation is not None:
        callbacks.append(AfterEvaluation(evaluation, on_evaluation))
    start, target = model.num_timesteps, rollout_target(model, total)
    progress = Progress(evaluation, target) if echo else None
    if echo:
        what = f"{config.core} {type(model).__name__} on {config.env_id} ({meta['parameters']:,} parameters, seed " \
               f"{config.seed})"
        steps = f"{target:,} steps" + (f" (--timesteps {total:,} rounded up to whole rollouts of "
                                        f"{model.n_steps * n_envs:,})" if target != total else "")
        print(f"Resuming {what} from {resume} at {start:,} steps, to {steps}" if resume else
              f"Training {what} for {steps}", f"-> {run_dir}", flush=True)
        print(f"Evaluating every {config.run['eval_freq']:,} steps on {config.run['eval_episodes']} episodes (short: a "
              f"trend), and at the end on {evaluation.final_episodes} (the result, with 95% intervals)", flush=True)

    returned = False  # learn() returned (at the budget, the time cap or the first Ctrl-C), not raised
    try:
        with ctrl_c:
            model.learn(
                total - model.num_timesteps, callback=CallbackList(callbacks + ([progress] if progress else [])),
                reset_num_timesteps=resume is None,
            )
        returned = True
    except KeyboardInterrupt:  # the second Ctrl-C
        pass
    finally:
        if not returned and progress is not None:
            progress.on_training_end()  # SB3 closes the bar only when learn() returns
    if not returned or (ctrl_c.requested and model.num_timesteps < total):
        status = "interrupted"
    else:
        status = "time_capped" if time_cap.reached else "completed"
    # a second Ctrl-C must not break the saving; only the main thread may set signal handlers (a Ray Tune trial's
    # function runs in another thread, and Tune handles Ctrl-C there)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous_handler = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main_thread else None
    try:
        model_path = run_dir / MODEL_FILE
        model.save(model_path)
        if status == "interrupted":
            model.save(run_dir / CHECKPOINT_DIR / f"{CHECKPOINT_PREFIX}_{model.num_timesteps}_steps.zip")
        summary = _summary(status, model.num_timesteps, evaluation, meta["parameters"])
        write_json(run_dir / SUMMARY_FILE, summary)
    finally:
        logger.close()
        env.close()
        eval_env.close()
        if picture_env is not None:
            picture_env.close()
        if in_main_thread:
            signal.signal(signal.SIGINT, previous_handler)
    return TrainResult(run_dir, model_path, status, summary)


def rollout_target(model: Any, total: int) -> int:
    """The step count ``model.learn`` stops at for a budget of ``total`` steps: PPO collects whole rollouts of
    ``n_steps * n_envs`` steps, so it rounds the steps left up to a multiple of that."""
    rollout = model.n_steps * model.n_envs
    return model.num_timesteps + -(-(total - model.num_timesteps) // rollout) * rollout


def _attention_env(config: AgentConfig, model: Any, env: VecEnv, seed: int) -> VecEnv | None:
    """A rendering env for the ``eval/attention`` picture, or None (with a debug-level reason) if it cannot be drawn."""
    if isinstance(env, DummyVecEnv):
        reason = attention_unsupported(model, env.envs[0])
    else:  # the training envs live in worker processes (vec_env: subproc): ask one built here
        probe = make_env(config.env_id, 1, seed, config.env_packages, env_kwargs=config.env)
        reason = attention_unsupported(model, probe.envs[0])
        probe.close()
    if reason is not None:
        log.debug("no eval/attention image: %s", reason)
        return None
    return make_env(config.env_id, 1, seed, config.env_packages, render_mode="rgb_array", env_kwargs=config.env)


def _summary(status: str, timesteps: int, evaluation: TimedEval, parameters: int) -> dict[str, Any]:
    """The run's outcome for ``summary.json``: steps, time, throughput and the last evaluation."""
    summary: dict[str, Any] = {
        "status": status, "timesteps": timesteps, "parameters": parameters,
        "train_seconds": round(evaluation.train_seconds, 2), "eval_seconds": round(evaluation.eval_seconds, 2),
        "steps_per_second": round(evaluation.steps_per_second, 1), "final_eval": last_evaluation(evaluation),
    }
    return summary


def last_evaluation(evaluation: TimedEval) -> dict[str, Any] | None:
    """The latest evaluation, or None before the first: steps, episodes, whether it is the run's final one, mean and
    std of the return with the mean's 95% interval, and the success rate with its 95% Wilson interval (both None if
    the env reports no ``is_success``)."""
    if not evaluation.records:
        return None
    record = evaluation.records[-1]
    wins = sum(record.successes)
    return {
        "timesteps": record.timesteps, "episodes": len(record.returns), "final": record.final,
        "mean_return": float(np.mean(record.returns)), "std_return": float(np.std(record.returns)),
        "return_ci95": list(mean_interval(record.returns)),
        "success_rate": record.success_rate,
        "success_ci95": list(wilson_interval(wins, len(record.successes))) if record.successes else None,
    }


class AfterEvaluation(BaseCallback):
    """Calls ``hook`` with :func:`last_evaluation` once after each new evaluation of ``evaluation``."""

    def __init__(self, evaluation: TimedEval, hook: Callable[[dict[str, Any]], None]) -> None:
        super().__init__()
        self.evaluation = evaluation
        self.hook = hook
        self.seen = 0

    def _report_new(self) -> None:
        count = self.evaluation.count
        if count > self.seen:
            self.seen = count
            self.hook(last_evaluation(self.evaluation))

    def _on_step(self) -> bool:
        self._report_new()
        return True

    def _on_training_end(self) -> None:  # after TimedEval's, which runs the final evaluation
        self._report_new()
