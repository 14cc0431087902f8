"""Training callbacks around the evaluations (:mod:`agents.timed_eval`): a progress bar, throughput, hyperparameters,
a wall-clock cap, and a clean stop on Ctrl-C.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import HParam
from tqdm import tqdm

if TYPE_CHECKING:
    from agents.timed_eval import TimedEval  # the clock of the callbacks below, which itself imports StopOnCtrlC

class Progress(BaseCallback):
    """A progress bar of env steps up to ``target`` whose speed is ``clock``'s training steps/s, the figure of the
    evaluation lines (evaluations excluded), not the bar's own rate. Drawn on a terminal only (stderr)."""

    def __init__(self, clock: TimedEval, target: int) -> None:
        super().__init__()
        self.clock = clock
        self.target = target
        self.bar: tqdm | None = None

    def _on_training_start(self) -> None:
        self.bar = tqdm(total=self.target, initial=self.num_timesteps, unit="steps", dynamic_ncols=True,
                        disable=None, bar_format="{l_bar}{bar}| {n:,}/{total:,} steps [{elapsed}<{remaining}{postfix}]")

    def _on_rollout_end(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.clock.steps_per_second:.0f} steps/s", refresh=False)

    def _on_step(self) -> bool:
        if self.bar is not None:
            self.bar.update(self.num_timesteps - self.bar.n)
        return True

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Throughput(BaseCallback):
    """Logs ``time/steps_per_second``: env steps per second of training over the last rollout + update."""

    def __init__(self, clock: TimedEval) -> None:
        super().__init__()
        self.clock = clock
        self.last = (0, 0.0)  # (timesteps, train_seconds) at the previous rollout end

    def _on_training_start(self) -> None:
        self.last = (self.num_timesteps, 0.0)

    def _on_rollout_end(self) -> None:
        steps, seconds = self.num_timesteps, self.clock.train_seconds
        if seconds > self.last[1]:
            self.logger.record("time/steps_per_second", (steps - self.last[0]) / (seconds - self.last[1]))
        self.last = (steps, seconds)

    def _on_step(self) -> bool:
        return True


class TimeCap(BaseCallback):
    """Stops training once ``clock`` has trained ``seconds`` (evaluations excluded); ``None`` never stops it.

    ``reached`` tells whether it stopped the run. The final evaluation still runs (``TimedEval`` at training end).
    """

    def __init__(self, clock: TimedEval, seconds: float | None) -> None:
        super().__init__()
        self.clock = clock
        self.seconds = seconds
        self.reached = False

    def _on_step(self) -> bool:
        if self.seconds is not None and self.clock.train_seconds >= self.seconds:
            self.reached = True
        return not self.reached


class StopOnCtrlC(BaseCallback):
    """Turns the first Ctrl-C (SIGINT) during training into a stop at the next env step; the second stops at once.

    A ``KeyboardInterrupt`` raised anywhere inside ``learn()`` can land in the middle of a log write and leave
    tensorboard's writer thread unwoken, so that closing the logs hangs (docs/DESIGN.md); the first Ctrl-C only sets
    ``requested`` and SB3 ends ``learn()`` normally at the next step. The second one raises
    ``KeyboardInterrupt`` (the previous handler is back), for an env step that never returns. Use as a context manager
    around ``learn()``: it owns SIGINT inside the block. Only the main thread may set signal handlers; elsewhere (a
    Ray Tune trial) Tune handles Ctrl-C.
    """

    def __init__(self) -> None:
        super().__init__()
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> StopOnCtrlC:
        in_main_thread = threading.current_thread() is threading.main_thread()
        if in_main_thread and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # a background job's stays ignored
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # no printing here: the handler can run inside a write to the same stream (tqdm's bar), a reentrant call
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)

    def _on_step(self) -> bool:
        if self.requested:
            print("\nCtrl-C: stopping and saving (press it again to stop at once)", file=sys.stderr, flush=True)
        return not self.requested


class HParams(BaseCallback):
    """Writes the run's hyperparameters to tensorboard's HPARAMS tab, linked to the eval and rollout returns."""

    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__()
        self.hparams = {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in hparams.items()}

    def _on_training_start(self) -> None:
        metrics = {"eval/mean_reward": 0.0, "rollout/ep_rew_mean": 0.0}
        self.logger.record("hparams", HParam(self.hparams, metrics), exclude=("stdout", "log", "json", "csv"))

    def _on_step(self) -> bool:
        return True
