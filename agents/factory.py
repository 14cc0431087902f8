"""Assembling agents: the env (checked against the spaces the policies read), the algorithm and the core's policy.

An env with ``action_masks()`` gets ``MaskablePPO`` with ``MaskablePerceiverPolicy``, any other ``PPO`` with
``PerceiverPolicy``; ``core="mlp"`` is SB3's own ``MultiInputPolicy`` (``MlpPolicy`` for a non-Dict observation),
the no-attention reference. The ``policy`` section of the config becomes ``policy_kwargs``, the ``algo`` section the
algorithm's arguments (``lr_schedule: linear`` turns ``learning_rate`` into a linear decay to 0). Observations
follow the entity convention, or any space ``perceiver_rl`` reads as tokens.
"""

from __future__ import annotations

import difflib
import importlib
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import is_masking_supported
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from agents.errors import UsageError
from agents.presets import AgentConfig, game_presets, resolve_config
from agents.wrappers import WrapperError, apply_wrappers
from envs import GAMES, SKILLS
from envs.rollout import Act, stack
from perceiver_rl import MaskablePerceiverPolicy, PerceiverPolicy, parse_observation_space

#: Packages imported before looking up an env id: ``envs`` registers the shipped games (``perceiver_rl/<Name>-v0``),
#: ``envs.wrappers`` the ``NoMission/<MiniGrid id>`` ids (MiniGrid itself is imported only when such an env is built).
DEFAULT_ENV_PACKAGES = ("envs", "envs.wrappers")
#: Modules some registered envs import when built (or ``--env-package`` names), and the pip extra of this project
#: that installs each.
OPTIONAL_MODULES = {"minigrid": "minigrid", "highway_env": "highway"}

Agent = PPO | MaskablePPO


def import_env_packages(names: Iterable[str]) -> None:
    """Import the packages that register envs: the shipped games and wrapped ids, then ``names`` (``--env-package``)."""
    for name in DEFAULT_ENV_PACKAGES:
        importlib.import_module(name)
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as e:
            extra = OPTIONAL_MODULES.get(getattr(e, "name", None) or "")
            advice = f"; install this project's {extra!r} extra: pip install -e '.[{extra}]'" if extra else ""
            raise UsageError(f"--env-package {name}: cannot import it ({e}){advice}") from e


def _either(names: list[str]) -> str:
    """``'a'``, ``'a' or 'b'``, ``'a', 'b' or 'c'``."""
    quoted = [repr(name) for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def check_env_id(env_id: str) -> None:
    """Raise a UsageError naming close matches, the shipped games and the other ids with a preset if ``env_id`` is
    not registered."""
    if env_id in gym.registry:
        return
    shipped, skills = list(GAMES), list(SKILLS)  # registered by ``import envs``
    others = sorted(set(game_presets()) - set(shipped))
    close = difflib.get_close_matches(env_id, list(gym.registry), n=3)
    hint = f"; did you mean {_either(close)}?" if close else ""
    raise UsageError(
        f"unknown env id {env_id!r}{hint} Shipped games: {', '.join(shipped)}; skill games: {', '.join(skills)}; "
        f"ids with a preset: {', '.join(others)}; --env-package NAME imports a module that registers more"
    )


def _registered_env(env_id: str, env_packages: tuple[str, ...], wrappers: tuple[Any, ...] = (), **kwargs: Any
                    ) -> gym.Env:
    """``gym.make(env_id, **kwargs)`` inside ``wrappers`` (the env section's), after importing the packages that
    register it, as a SubprocVecEnv worker (a fresh process) must."""
    import_env_packages(env_packages)
    return apply_wrappers(gym.make(env_id, **kwargs), wrappers)


def make_env(
    env_id: str,
    n_envs: int,
    seed: int,
    env_packages: Iterable[str] = (),
    render_mode: str | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    vec_env: str = "dummy",
) -> VecEnv:
    """``n_envs`` monitored copies of ``env_id``, checked against the spaces the policies read: in this process
    (``vec_env="dummy"``, a DummyVecEnv) or one process each (``"subproc"``).

    ``env_kwargs`` is a config's ``env`` section: the constructor's arguments, and ``wrappers`` to wrap each env in
    (:mod:`agents.wrappers`).
    """
    import_env_packages(env_packages)
    check_env_id(env_id)
    kwargs = {**(env_kwargs or {}), **({"render_mode": render_mode} if render_mode else {})}
    make_one = partial(_registered_env, env_id, tuple(env_packages), tuple(kwargs.pop("wrappers", None) or ()))
    try:
        if vec_env == "subproc":  # an env that fails to build in a worker process only says EOFError: build one here
            make_one(**kwargs).close()
        env = make_vec_env(make_one, n_envs=n_envs, seed=seed, env_kwargs=kwargs,
                           vec_env_cls=SubprocVecEnv if vec_env == "subproc" else DummyVecEnv)
    except WrapperError as e:
        raise UsageError(f"{env_id}: {e}") from e
    except ModuleNotFoundError as e:
        if e.name not in OPTIONAL_MODULES:
            raise
        extra = OPTIONAL_MODULES[e.name]
        raise UsageError(f"{env_id}: needs the {e.name!r} package, not installed here; install this project's "
                         f"{extra!r} extra: pip install -e '.[{extra}]'") from e
    except (TypeError, ValueError) as e:
        raise UsageError(f"{env_id}: cannot build it with {kwargs} ({e})") from e
    try:
        parse_observation_space(env.observation_space)
    except ValueError as e:
        env.close()
        raise UsageError(f"{env_id}: unsupported observation space: {e}") from e
    return env


def is_maskable(env: VecEnv) -> bool:
    """Whether the env offers ``action_masks()`` (then the agent is a MaskablePPO)."""
    return is_masking_supported(env)


def _policy(core: str, maskable: bool, observation_space: spaces.Space) -> type | str:
    """The policy class (or SB3 policy name) of ``core``."""
    if core == "mlp":
        return "MultiInputPolicy" if isinstance(observation_space, spaces.Dict) else "MlpPolicy"
    return MaskablePerceiverPolicy if maskable else PerceiverPolicy


def build_agent(config: AgentConfig, env: VecEnv, device: str = "auto") -> Agent:
    """A fresh PPO or MaskablePPO for ``config`` on ``env``."""
    maskable = is_maskable(env)
    algo = MaskablePPO if maskable else PPO
    policy_kwargs: dict[str, Any] = dict(config.policy)
    if config.core != "mlp":
        policy_kwargs["core"] = config.core
    policy = _policy(config.core, maskable, env.observation_space)
    algo_kwargs = dict(config.algo)
    if algo_kwargs.pop("lr_schedule", "constant") == "linear":  # run configs saved before the key have none
        # SB3 calls it with the fraction of training left: 1 at the start, 0 at total_timesteps
        algo_kwargs["learning_rate"] = LinearSchedule(algo_kwargs["learning_rate"], 0.0, 1.0)
    try:
        return algo(policy, env, policy_kwargs=policy_kwargs, seed=config.seed, device=device, verbose=0, **algo_kwargs)
    except (ValueError, AssertionError, TypeError) as e:
        raise UsageError(f"cannot build a {config.core} agent for {config.env_id}: {e}") from e


def make_agent(env_id: str, core: str = "perceiver", seed: int = 0, device: str = "auto", **overrides: Any) -> Agent:
    """A ready PPO / MaskablePPO for ``env_id`` with the presets of ``core`` and flat ``overrides``.

    Example: ``make_agent("perceiver_rl/Skirmish-v0", core="transformer", seed=1, n_envs=4, dim=32)``; env keys
    of the game's preset are overrides too: ``make_agent("perceiver_rl/Minefield-v0", n_mines=256)``.
    """
    config = resolve_config(env_id, core, seed, overrides)
    env = make_env(env_id, config.run["n_envs"], seed, env_kwargs=config.env, vec_env=config.run["vec_env"])
    return build_agent(config, env, device)


def check_model_path(path: Path) -> None:
    """Raise a UsageError unless ``path`` is an existing file."""
    if not path.is_file():
        raise UsageError(f"model {path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))


def load_agent(path: Path, env: VecEnv, device: str = "auto") -> Agent:
    """Load a saved agent onto ``env`` (MaskablePPO if the env has action masks), or raise a UsageError."""
    check_model_path(path)
    algo = MaskablePPO if is_maskable(env) else PPO
    try:
        return algo.load(path, env=env, device=device)
    except (zipfile.BadZipFile, ValueError, KeyError, AssertionError, TypeError, RuntimeError) as e:
        detail = " ".join(str(e).split())  # one line (a state dict mismatch lists its keys over several)
        raise UsageError(f"{path} is not a saved agent for this env ({type(e).__name__}: {detail})") from e


def deterministic_actions(model: Agent) -> Act:
    """``model``'s deterministic actions, in one batch, for envs played side by side (:mod:`envs.rollout`); a
    MaskablePPO gets each env's action masks."""

    def act(envs: Sequence[gym.Env], observations: list[Any]) -> np.ndarray:
        masks = {}
        if isinstance(model, MaskablePPO):
            masks["action_masks"] = np.stack([env.get_wrapper_attr("action_masks")() for env in envs])
        return model.predict(stack(observations), deterministic=True, **masks)[0]

    return act


def deterministic_action(model: Agent, env: gym.Env, obs: Any) -> np.ndarray:
    """``model``'s deterministic action on ``obs``, the current observation of ``env``."""
    return deterministic_actions(model)([env], [obs])[0]
