"""Gymnasium wrappers named in a config: the ``wrappers`` key of the ``env`` section.

A preset (or ``--set``) names the wrappers around every env a run builds, innermost first, each as a mapping of one
wrapper class's import path to its keyword arguments::

    env:
      wrappers:
        - perceiver_rl.PresenceMask: {name: vehicle, presence: 0}

:func:`wrapper_classes` checks such a list (each class imports, is a ``gymnasium.Wrapper`` and takes the arguments)
and :func:`apply_wrappers` wraps an env with it. Being in the config, the wrappers travel to ``config.yaml``, so
``eval``, ``--resume``, ``compare`` and SubprocVecEnv workers build the same env.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from typing import Any

import gymnasium as gym

EXAMPLE = "{perceiver_rl.PresenceMask: {presence: 0}}"


class WrapperError(ValueError):
    """A wrapper of the config that cannot be built around the env (its message is one line, naming the entry)."""


def _import(path: str) -> Any:
    """The object at import path ``path`` (``package.module.Name`` or ``package.module:Name``)."""
    module_name, sep, name = path.rpartition(":") if ":" in path else path.rpartition(".")
    if not sep or not module_name or not name:
        raise ValueError(f"expected an import path like perceiver_rl.PresenceMask, got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"cannot import {path!r} ({e})") from e
    if not hasattr(module, name):
        raise ValueError(f"cannot import {path!r} (module {module_name!r} has no attribute {name!r})")
    return getattr(module, name)


def wrapper_classes(entries: Sequence[Any]) -> list[tuple[str, type[gym.Wrapper], dict[str, Any]]]:
    """``(path, class, keyword arguments)`` of every entry of a ``wrappers`` list, checked; a ValueError saying which
    entry is wrong and why (not a one-key mapping, not importable, not a gymnasium wrapper, arguments it does not
    take)."""
    wrappers = []
    for i, entry in enumerate(entries):
        where = f"[{i}]"
        if not isinstance(entry, dict) or len(entry) != 1 or not isinstance(next(iter(entry)), str):
            raise ValueError(f"{where}: expected a mapping of one wrapper class to its keyword arguments, e.g. "
                             f"{EXAMPLE}, got {entry!r}")
        ((path, kwargs),) = entry.items()
        kwargs = {} if kwargs is None else kwargs
        if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            raise ValueError(f"{where}: {path}'s keyword arguments: expected a mapping of names to values (or null), "
                             f"got {kwargs!r}")
        try:
            cls = _import(path)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from e
        if not (inspect.isclass(cls) and issubclass(cls, gym.Wrapper)):
            raise ValueError(f"{where}: expected a gymnasium.Wrapper subclass, got {path} = {cls!r}")
        try:
            inspect.signature(cls).bind(None, **kwargs)  # None stands for the env, the first argument
        except TypeError as e:
            names = [p for p in inspect.signature(cls).parameters if p != "env"]
            raise ValueError(f"{where}: {path}: {e}; it takes {', '.join(names) or 'nothing but the env'}") from e
        wrappers.append((path, cls, dict(kwargs)))
    return wrappers


def check_wrappers(entries: Sequence[Any]) -> None:
    """Raise a ValueError unless ``entries`` is a valid ``wrappers`` list (see :func:`wrapper_classes`)."""
    wrapper_classes(entries)


def apply_wrappers(env: gym.Env, entries: Sequence[Any]) -> gym.Env:
    """``env`` inside the wrappers of ``entries``, innermost first; a :class:`WrapperError` naming the entry if one
    refuses the env (e.g. ``PresenceMask``'s column out of range)."""
    for i, (path, cls, kwargs) in enumerate(wrapper_classes(entries)):
        try:
            env = cls(env, **kwargs)
        except (ValueError, TypeError, AssertionError) as e:
            env.close()
            raise WrapperError(f"wrappers[{i}] {path}: {e}") from e
    return env
