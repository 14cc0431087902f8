"""Comparison grids and hyperparameter sweeps on a Ray cluster with Ray Tune (``--backend ray``).

Every run is a Tune trial of :func:`run_trial`, a function trainable that trains the cell with
:func:`agents.cells.run_cell` (as the local backend does in a process per cell) and reports each evaluation with
``tune.report``. A compare grid's run folders, its
``logs/<core>__<seed>.log`` and ``grid.json`` land in the comparison's folder as with the local backend, so the same
report follows; Tune's own state goes to ``tune/`` in that folder, and :func:`run_grid` resumes from it without
re-running finished trials. A trial whose worker dies is retried from scratch (``FailureConfig(max_failures)``): the
unfinished run folder of the dead attempt is removed first, and a run that already completed is reported, not retrained.
Every node must see the folder (one machine, or shared storage such as NFS), as Tune requires of its ``storage_path``.

Ray is an optional extra imported only here: importing this module without it raises a :class:`UsageError` that names
``pip install perceiver-rl[ray]``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

from agents.cells import run_cell
from agents.compare import Cell, cell_log, finish_grid
from agents.errors import UsageError
from agents.presets import SECTIONS, AgentConfig, apply_overrides
from agents.ray_options import RayOptions
from agents.rundir import FINISHED, SUMMARY_FILE, env_name, find_runs

try:
    import ray
    from ray import tune
except ImportError as e:
    raise UsageError(f"--backend ray needs Ray Tune, which is missing ({e}): pip install perceiver-rl[ray]") from None

LOOPBACK = "127.0.0.1"
CONNECT_TIMEOUT_S = 3.0
TUNE_DIR = "tune"  # Tune's experiment state, inside the grid's or sweep's folder
TRIAL_LOG = "train.log"  # a sweep trial's log, in its own folder
METRIC = "mean_return"  # sweeps rank configurations by the final deterministic evaluation return
ATTEMPT_PREFIX = "attempt "


# ------------------------------------------------------------------------------------------------------ the cluster
def check_address(address: str) -> None:
    """Raise a :class:`UsageError` unless ``address`` is ``auto`` or a ``[ray://]HOST:PORT`` accepting connections."""
    if address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UsageError(f"--ray-address: expected 'auto' or HOST:PORT (e.g. 127.0.0.1:6379), got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise UsageError(f"--ray-address {address}: no Ray cluster answers there ({reason}); start one with "
                         f"`ray start --head`, or leave --ray-address out for a local instance") from None


def connect(address: str | None) -> None:
    """Join the cluster at ``address``, or start a local Ray instance on 127.0.0.1 (no dashboard) if None."""
    options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    if address is None:
        ray.init(_node_ip_address=LOOPBACK, include_dashboard=False, **options)
        return
    check_address(address)
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"--ray-address {address}: cannot join the cluster ({first_line})") from None


@contextmanager
def cluster(address: str | None) -> Iterator[None]:
    """Connected to Ray (see :func:`connect`) inside the block; disconnected (a local instance stopped) after it."""
    connect(address)
    try:
        yield
    finally:
        ray.shutdown()


# ------------------------------------------------------------------------------------------------------ the trials
def trial_label(config: dict[str, Any]) -> str:
    """A trial's name in the output: ``mlp seed 0``, plus the searched values of a sweep."""
    values = "".join(f" {key}={value}" for key, value in config["hparams"].items())
    return f"{config['core']} seed {config['seed']}{values}"


def trial_dirname(trial: Any) -> str:
    """The folder name of a trial in Tune's state: ``<core>__<seed>__<trial id>``."""
    return f"{trial.config['core']}__{trial.config['seed']}__{trial.trial_id}"


def _runs_of(folder: Path, config: AgentConfig) -> list[Path]:
    """The run folders of ``config``'s env, core and seed directly in ``folder``."""
    prefix = f"{env_name(config.env_id)}__{config.core}__{config.seed}__"
    return [run for run in find_runs(folder) if run.parent == folder and run.name.startswith(prefix)]


def _run_status(run_dir: Path) -> str | None:
    """The status in a run's ``summary.json`` (``FINISHED`` or ``interrupted``), or None if it has none yet."""
    summary = run_dir / SUMMARY_FILE
    return json.loads(summary.read_text())["status"] if summary.is_file() else None


def _eval_metrics(evaluation: dict[str, Any] | None) -> dict[str, Any]:
    """An evaluation as Tune metrics (numbers only: an unreported success rate becomes NaN)."""
    if evaluation is None:
        return {}
    success = evaluation["success_rate"]
    return {**evaluation, "success_rate": math.nan if success is None else success}


def run_trial(config: dict[str, Any]) -> None:
    """Tune function trainable: one ``train`` run of ``config`` (core, seed, hparams, folder...), reported per eval.

    Output goes to the run's log file, which also counts the attempts. Unfinished run folders of earlier attempts of
    this trial are removed first; a completed one is reported as it is instead of training again.
    """
    core, seed = config["core"], config["seed"]
    agent = AgentConfig.from_dict({**config["agents"][core], "seed": seed})
    apply_overrides({name: getattr(agent, name) for name in SECTIONS}, core, config["hparams"], "--search")
    folder = Path(config["folder"])
    if config["per_trial_folder"]:
        folder = folder / tune.get_context().get_trial_id()
        log_path = folder / TRIAL_LOG
    else:
        log_path = folder / cell_log(core, seed)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    attempt = 1 + (log_path.read_text().count(f"\n{ATTEMPT_PREFIX}") if log_path.is_file() else 0)
    where = {"node_id": ray.get_runtime_context().get_node_id(), "attempt": attempt}
    with log_path.open("a", buffering=1) as log, redirect_stdout(log), redirect_stderr(log):
        print(f"\n{ATTEMPT_PREFIX}{attempt}: {trial_label(config)} on node {ray.util.get_node_ip_address()} "
              f"(id {where['node_id']}), pid {os.getpid()}")
        done = [run for run in _runs_of(folder, agent) if _run_status(run) in FINISHED]
        if done:
            print(f"already trained in {done[0]}: reporting it, not training again")
            summary = json.loads((done[0] / SUMMARY_FILE).read_text())
            tune.report({**_eval_metrics(summary["final_eval"]), **where, "run_status": summary["status"],
                         "run_dir": str(done[0])})
            return
        for stale in _runs_of(folder, agent):
            print(f"removing {stale}: the unfinished run of an earlier attempt")
            shutil.rmtree(stale)
        result = run_cell(
            agent, folder, device=config["device"], threads=config["threads"],
            command=config.get("command", sys.argv),  # Tune states saved before the key have none
            on_evaluation=lambda evaluation: tune.report({**_eval_metrics(evaluation), **where}),
        )
        s = result.summary
    tune.report({**_eval_metrics(s["final_eval"]), **where, "run_status": result.status,
                 "run_dir": str(result.run_dir), "steps_per_second": s["steps_per_second"]})


class Progress(tune.Callback):
    """Prints a line per evaluation, per retry and per finished trial of ``total``."""

    def __init__(self, total: int) -> None:
        self.total = total

    def _finished(self, trials: list[Any], trial: Any) -> str:
        """``[done/total]`` counting ``trial``, whose status Tune sets after the callbacks."""
        done = sum(t.status in ("TERMINATED", "ERROR") for t in trials if t is not trial) + 1
        return f"[{done}/{self.total}]"

    def on_trial_result(self, iteration: int, trials: list[Any], trial: Any, result: dict, **info: Any) -> None:
        if "run_status" not in result and METRIC in result:
            print(f"{trial_label(trial.config)}: {result['timesteps']:,} steps, eval return {result[METRIC]:.2f} "
                  f"(node {result['node_id'][:8]}, attempt {result['attempt']})", flush=True)

    def on_trial_recover(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        print(f"{trial_label(trial.config)}: its worker failed ({_last_error(trial)}); retry "
              f"{trial.num_failures} of {trial.max_failures}", flush=True)

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        result = trial.last_result
        print(f"{self._finished(trials, trial)} {trial_label(trial.config)}: {result.get('run_status', 'stopped')} "
              f"(node {result.get('node_id', '?')[:8]}, attempt {result.get('attempt', '?')})", flush=True)

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        print(f"{self._finished(trials, trial)} {trial_label(trial.config)}: failed after {trial.num_failures} "
              f"attempts ({_last_error(trial)})", flush=True)


def _last_error(trial: Any) -> str:
    """The first line of the trial's latest error, from the error file Tune writes on the driver."""
    path = Path(trial.error_file) if trial.error_file else None
    if path is None or not path.is_file():
        return "no error recorded"
    latest = path.read_text().rsplit("Failure # ", 1)[-1]
    return _first_line(latest.split("\n", 1)[-1])


def _first_line(error: BaseException | str | None) -> str:
    """The first non-empty line of an error's message, at most 160 characters."""
    lines = [line.strip() for line in str(error or "").splitlines() if line.strip()]
    return (lines[0] if lines else type(error).__name__)[:160]


def _tune(folder: Path, param_space: dict[str, Any], total: int, options: RayOptions, num_samples: int = 1) -> Any:
    """Run the trials of ``param_space`` with their state in ``folder/tune``; returns Tune's ResultGrid."""
    trainable = tune.with_resources(run_trial, {"cpu": options.cpus_per_run, "gpu": options.gpus_per_run})
    tuner = tune.Tuner(
        trainable, param_space=param_space,
        tune_config=tune.TuneConfig(num_samples=num_samples, max_concurrent_trials=options.max_concurrent,
                                    trial_dirname_creator=trial_dirname),
        run_config=tune.RunConfig(
            name=TUNE_DIR, storage_path=str(folder.resolve()), verbose=0, callbacks=[Progress(total)],
            failure_config=tune.FailureConfig(max_failures=options.max_failures),
        ),
    )
    return tuner.fit()


def check_resumable(folder: Path) -> None:
    """Raise a :class:`UsageError` unless ``folder`` holds the Tune state of a grid (``tune/``) to resume."""
    path = folder / TUNE_DIR
    if not folder.is_dir() or not tune.Tuner.can_restore(str(path.resolve())):
        raise UsageError(f"--resume {folder}: no Ray Tune state in it (expected {path} from compare --backend ray)")


def _resume(folder: Path, options: RayOptions) -> Any:
    """Continue the trials saved in ``folder/tune``: unfinished and failed ones run again, finished ones do not."""
    path = folder / TUNE_DIR
    trainable = tune.with_resources(run_trial, {"cpu": options.cpus_per_run, "gpu": options.gpus_per_run})
    tuner = tune.Tuner.restore(str(path.resolve()), trainable, resume_unfinished=True, restart_errored=True)
    return tuner.fit()


def _trial_record(result: Any) -> dict[str, Any]:
    """One finished (or failed) trial: its config, where it ran, how it ended and its final evaluation."""
    metrics = result.metrics or {}
    return {
        "core": result.config["core"], "seed": result.config["seed"], "hparams": result.config["hparams"],
        "trial_id": metrics.get("trial_id"), "node_id": metrics.get("node_id"), "node_ip": metrics.get("node_ip"),
        "pid": metrics.get("pid"), "attempt": metrics.get("attempt"), "run_status": metrics.get("run_status"),
        "run_dir": metrics.get("run_dir"), "timesteps": metrics.get("timesteps"), METRIC: metrics.get(METRIC),
        "error": _first_line(result.error) if result.error else None,
    }


# ------------------------------------------------------------------------------------------------------ compare
def run_grid(
    configs: dict[str, AgentConfig] | None, seeds: int, compare_dir: Path, options: RayOptions, *, resume: bool = False
) -> tuple[list[Cell], list[dict[str, Any]]]:
    """Train every (core, seed) as a Tune trial in ``compare_dir`` (or resume the grid saved there).

    ``configs`` holds each core's resolved config (seed 0); with ``resume`` the saved grid's own settings are used.
    Writes ``grid.json`` like the local backend, plus each trial's node and attempts; returns the cells and trials.
    Call it inside :func:`cluster`.
    """
    if resume:
        results = _resume(compare_dir, options)
    else:
        param_space = {
            "core": tune.grid_search(list(configs)), "seed": tune.grid_search(list(range(seeds))),
            "agents": {core: config.to_dict() for core, config in configs.items()}, "hparams": {},
            "folder": str(compare_dir.resolve()), "per_trial_folder": False, "device": options.device,
            "threads": options.threads, "command": list(sys.argv),
        }
        results = _tune(compare_dir, param_space, len(configs) * seeds, options)
    trials = sorted((_trial_record(r) for r in results), key=lambda t: (t["seed"], t["core"]))
    cells = [_cell(trial) for trial in trials]
    first = results[0].config
    record = {"env_id": first["agents"][first["core"]]["env_id"], "backend": "ray", "address": options.address,
              "resources_per_run": {"cpu": options.cpus_per_run, "gpu": options.gpus_per_run},
              "max_failures": options.max_failures, "trials": trials}
    finish_grid(compare_dir, record, cells)
    return cells, trials


def _cell(trial: dict[str, Any]) -> Cell:
    """A trial as a cell of ``grid.json`` (return code 0 finished, 1 failed, None not finished)."""
    cell = Cell(trial["core"], trial["seed"], cell_log(trial["core"], trial["seed"]))
    if trial["run_status"] in FINISHED:
        retried = f" on attempt {trial['attempt']}" if trial["attempt"] > 1 else ""
        cell.returncode, cell.outcome = 0, f"{trial['run_status']}{retried}"
    elif trial["error"]:
        cell.returncode, cell.outcome = 1, f"failed after {trial['attempt'] or 1} attempts: {trial['error']}"
    else:
        cell.outcome = "not finished"
    return cell


# ------------------------------------------------------------------------------------------------------ sweep
def sweep(
    base: AgentConfig, choices: dict[str, list[Any]], samples: int | None, folder: Path, options: RayOptions
) -> list[dict[str, Any]]:
    """Search ``choices`` for ``base``: the full grid, or ``samples`` random picks; every trial in its own folder.

    Returns every trial (see ``_trial_record``), best final evaluation return first, failed ones last. Call it inside
    :func:`cluster`.
    """
    space = {key: tune.choice(values) if samples else tune.grid_search(values) for key, values in choices.items()}
    total = samples or math.prod(len(values) for values in choices.values())
    param_space = {
        "core": base.core, "seed": base.seed, "agents": {base.core: base.to_dict()}, "hparams": space,
        "folder": str(folder.resolve()), "per_trial_folder": True, "device": options.device,
        "threads": options.threads, "command": list(sys.argv),
    }
    results = _tune(folder, param_space, total, options, num_samples=samples or 1)
    trials = [_trial_record(r) for r in results]
    return sorted(trials, key=lambda t: -t[METRIC] if t["run_status"] in FINISHED else math.inf)
