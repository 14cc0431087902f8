"""A training run's evaluations: periodic ones (a trend) and a longer final one (the result), timed, logged, and
written to ``evaluations.npz`` and ``evaluations.csv`` from one record.

``train_seconds`` is wall-clock time spent training (rollouts and updates, evaluations excluded), so learning curves by
time compare cores fairly. Periodic evaluations are short (the preset's ``eval_episodes``); the final one plays at
least :data:`FINAL_EVAL_EPISODES` episodes, enough for a 95% interval a few points wide. For attention policies each
evaluation also logs ``eval/attention``: the picture of the first decision of the first evaluation episode.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Image
from stable_baselines3.common.utils import safe_mean
from tqdm import tqdm

from agents.attention_view import snapshot
from agents.callbacks import StopOnCtrlC
from agents.factory import deterministic_actions
from agents.rundir import BEST_MODEL_FILE, EVAL_CSV, EVAL_NPZ
from envs.rollout import Episodes, play_episodes

EVAL_COLUMNS = ("timesteps", "wall_seconds", "train_seconds", "mean_return", "std_return", "success_rate", "episodes")
#: The fewest episodes of a run's final evaluation: its success rate's 95% interval is then at most about +-10 points.
FINAL_EVAL_EPISODES = 100


@dataclass
class EvalRecord:
    """One evaluation: when it ran, its episodes, and whether it is the run's final one (at least
    :data:`FINAL_EVAL_EPISODES` episodes) rather than a periodic one."""

    timesteps: int
    wall_seconds: float
    train_seconds: float
    episodes: Episodes
    final: bool

    @property
    def returns(self) -> list[float]:
        """Each episode's return."""
        return self.episodes.returns

    @property
    def successes(self) -> list[bool]:
        """Each episode's success (empty if the env reports no ``is_success``)."""
        return self.episodes.successes

    @property
    def success_rate(self) -> float | None:
        """The fraction of episodes won, or None if the env reports no ``is_success``."""
        return self.episodes.success_rate

    def csv_row(self) -> list[str]:
        """The row of ``evaluations.csv`` (columns :data:`EVAL_COLUMNS`; no success rate: nan)."""
        success = math.nan if self.success_rate is None else self.success_rate
        values = (self.timesteps, self.wall_seconds, self.train_seconds, np.mean(self.returns), np.std(self.returns),
                  success, len(self.returns))
        return [f"{v:.6g}" for v in values]


class TimedEval(BaseCallback):
    """Periodic deterministic evaluations, timed, and a longer final one; their files; the best model.

    ``eval_freq`` counts env steps (SB3 counts calls, one per ``n_envs`` steps). Each evaluation plays its episodes on
    ``eval_envs`` side by side (:func:`envs.rollout.play_episodes`, by SB3's ``EvalCallback`` rules), reseeded with
    ``seed``, so all evaluations play the same starting states and the curve shows the policy changing, not the draw.
    At the end of training the final model plays ``max(final_episodes, episodes)`` episodes. Every evaluation is kept
    in ``evaluations``, the one record both files are written from: ``evaluations.npz`` holds the periodic ones, as
    SB3's ``EvalCallback`` writes it (its rows must all hold ``episodes`` returns); ``evaluations.csv`` holds
    ``records``, one per step evaluated, where the final evaluation stands for a periodic one at its step. A periodic
    evaluation with a new best mean return saves ``best_model.zip``. With ``attention_env`` (a rendering env the
    policy can be explained on), each evaluation logs the picture of the first decision in the episode seeded ``seed``
    (the first evaluation episode's start) as ``eval/attention``. Once ``ctrl_c`` has seen Ctrl-C there is no final
    evaluation.
    """

    def __init__(
        self,
        eval_envs: Sequence[gym.Env],
        seed: int,
        run_dir: Path,
        eval_freq: int,
        n_envs: int,
        episodes: int,
        echo: bool,
        attention_env: gym.Env | None = None,
        ctrl_c: StopOnCtrlC | None = None,
        final_episodes: int = FINAL_EVAL_EPISODES,
    ) -> None:
        super().__init__()
        self.eval_envs = eval_envs
        self.seed = seed
        self.run_dir = run_dir
        self.eval_freq = max(1, eval_freq // n_envs)
        self.episodes = episodes
        self.echo = echo
        self.attention_env = attention_env
        self.ctrl_c = ctrl_c
        self.final_episodes = max(final_episodes, episodes)
        self.evaluations: list[EvalRecord] = []  # every evaluation, in order, the final one included
        self.best_mean_return = -math.inf
        self.start = time.perf_counter()
        self.start_steps = 0
        self.eval_seconds = 0.0

    @property
    def records(self) -> list[EvalRecord]:
        """One evaluation per step evaluated: the final one stands for a periodic one at its step (the same policy)."""
        kept = self.evaluations
        return [r for i, r in enumerate(kept)
                if not (i + 1 < len(kept) and kept[i + 1].final and kept[i + 1].timesteps == r.timesteps)]

    @property
    def count(self) -> int:
        """Evaluations run, the final one included."""
        return len(self.evaluations)

    @property
    def wall_seconds(self) -> float:
        """Seconds since training started."""
        return time.perf_counter() - self.start

    @property
    def train_seconds(self) -> float:
        """Seconds since training started, minus the time spent evaluating."""
        return self.wall_seconds - self.eval_seconds

    @property
    def steps_per_second(self) -> float:
        """Env steps per second of training since it (re)started."""
        return (self.num_timesteps - self.start_steps) / max(self.train_seconds, 1e-9)

    def _on_training_start(self) -> None:
        self.start = time.perf_counter()
        self.start_steps = self.num_timesteps
        self._write_files()

    def _on_step(self) -> bool:
        if self.n_calls % self.eval_freq == 0:
            self._evaluate(self.episodes, final=False)
        return True

    def _on_training_end(self) -> None:
        if self.ctrl_c is not None and self.ctrl_c.requested:
            return  # the user asked to stop: no final evaluation (the last periodic one stands)
        last = self.evaluations[-1] if self.evaluations else None
        seen = last is not None and last.timesteps == self.num_timesteps  # this policy's picture is logged already
        if not (seen and len(last.returns) >= self.final_episodes):
            self._evaluate(self.final_episodes, final=True, picture=not seen)

    def _evaluate(self, episodes: int, *, final: bool, picture: bool = True) -> None:
        """Play ``episodes`` episodes (logging the attention picture first if ``picture``), log them, save a periodic
        evaluation's new best model, keep the evaluation, rewrite the files and echo a line; the evaluation's time
        is not training time."""
        started = time.perf_counter()
        if picture and self.attention_env is not None:  # recorded before the evaluation dumps the logger
            frame = snapshot(self.model, self.attention_env, self.seed)  # (H, W, 3) uint8
            self.logger.record("eval/attention", Image(frame, "HWC"), exclude=("stdout", "log", "json", "csv"))
        played = play_episodes(self.eval_envs, deterministic_actions(self.model), episodes, self.seed, reseed=False)
        self.logger.record("eval/mean_reward", float(np.mean(played.returns)))
        self.logger.record("eval/mean_ep_length", np.mean(played.lengths))
        if played.successes:
            self.logger.record("eval/success_rate", np.mean(played.successes))
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        self.logger.dump(self.num_timesteps)
        if not final and np.mean(played.returns) > self.best_mean_return:
            self.best_mean_return = float(np.mean(played.returns))
            self.model.save(self.run_dir / BEST_MODEL_FILE)
        self.eval_seconds += time.perf_counter() - started
        record = EvalRecord(self.num_timesteps, self.wall_seconds, self.train_seconds, played, final)
        self.evaluations.append(record)
        self._write_files()
        if self.echo:
            self._echo(record)

    def _write_files(self) -> None:
        """Write ``evaluations.npz`` (the periodic evaluations, once there is one) and ``evaluations.csv``
        (:attr:`records`) from :attr:`evaluations`."""
        periodic = [r for r in self.evaluations if not r.final]
        if periodic:
            successes = [r.successes for r in periodic if r.successes]
            np.savez(self.run_dir / EVAL_NPZ, timesteps=[r.timesteps for r in periodic],
                     results=[r.returns for r in periodic], ep_lengths=[r.episodes.lengths for r in periodic],
                     **({"successes": successes} if successes else {}))
        # written aside, then renamed: a reader (compare's progress lines) never sees a half-written file
        partial = (self.run_dir / EVAL_CSV).with_suffix(".csv.partial")
        with partial.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(EVAL_COLUMNS)
            writer.writerows(r.csv_row() for r in self.records)
        os.replace(partial, self.run_dir / EVAL_CSV)

    def _echo(self, record: EvalRecord) -> None:
        """One progress line: steps, training throughput, training and evaluation returns, and how many episodes
        the evaluation played (periodic ones are short: a trend, not a result)."""
        success = "" if record.success_rate is None else f" | success {record.success_rate:4.0%}"
        kind = "final" if record.final else "short"
        train_return = safe_mean([episode["r"] for episode in self.model.ep_info_buffer])
        tqdm.write(  # above the progress bar, if one is drawn
            f"steps {record.timesteps:>9,} | {self.steps_per_second:5.0f} steps/s | train return {train_return:7.2f} | "
            f"eval return {np.mean(record.returns):7.2f} ± {np.std(record.returns):5.2f}{success} "
            f"({len(record.returns)} episodes, {kind})", file=sys.stdout,
        )
        sys.stdout.flush()
