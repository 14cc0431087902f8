"""Hyperparameter presets: readable YAML files per game and core, resolved into one :class:`AgentConfig`.

Layers, later wins: ``presets/default.yaml`` -> the game's preset file (the one whose ``env_id`` matches) ->
``--config FILE`` -> ``--set key=value``. In each preset file ``common`` applies to every core and the core's own
section comes on top. Keys are flat names (``learning_rate``, ``dim``, ``n_envs``), each living in one section:
``run`` (the training loop), ``algo`` (PPO arguments), ``policy`` (the core's ``policy_kwargs``) or ``env`` (the
game's constructor arguments, e.g. Minefield's ``n_mines``). Presets define
every key; a config file or ``--set`` may only change keys the presets define, with a value of the same kind. A key
qualified by a core (``mlp.net_arch=[64]``) applies to that core only, so one ``compare`` can size every core.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.errors import UsageError
from perceiver_rl import CORES

#: The cores an agent can have: perceiver_rl's attention cores, and SB3's MLP policy as the no-attention reference.
AGENT_CORES = (*CORES, "mlp")
SECTIONS = ("run", "algo", "policy", "env")
PRESET_DIR = Path(__file__).parent / "presets"
DEFAULT_PRESET = PRESET_DIR / "default.yaml"
#: Top-level keys of a saved run config that are not hyperparameters (``--config`` accepts such a file).
RUN_KEYS = ("env_id", "core", "seed", "env_packages", "meta")
#: Integer keys and their smallest valid value (PPO normalises advantages per minibatch: at least 2 samples).
MINIMUMS = {"n_envs": 1, "total_timesteps": 1, "eval_freq": 1, "eval_episodes": 1, "checkpoint_freq": 1,
            "n_steps": 1, "batch_size": 2, "n_epochs": 1}
#: Keys that may be None (no limit) or else must be a number > 0.
POSITIVE_OR_NONE = ("max_train_seconds",)
#: String keys and the values they accept.
CHOICES = {"lr_schedule": ("constant", "linear")}

Sections = dict[str, dict[str, Any]]
_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a list"}


@dataclass
class AgentConfig:
    """Everything that defines a run: the env (id and constructor arguments), the core, the seed and the
    hyperparameter sections."""

    env_id: str
    core: str
    seed: int
    run: dict[str, Any]
    algo: dict[str, Any]
    policy: dict[str, Any]
    env_packages: list[str] = field(default_factory=list)
    env: dict[str, Any] = field(default_factory=dict)  # gym.make keyword arguments of env_id

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data, ready for YAML."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentConfig:
        """Rebuild a config from :meth:`to_dict` output (a saved run's ``config.yaml``; other keys are ignored)."""
        try:
            return cls(
                env_id=data["env_id"], core=data["core"], seed=int(data["seed"]),
                run=dict(data["run"]), algo=dict(data["algo"]), policy=dict(data["policy"]),
                env_packages=list(data.get("env_packages") or []), env=dict(data.get("env") or {}),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise UsageError(f"not a run config (missing or malformed {e}); expected the keys of AgentConfig") from e


def read_yaml(path: Path, what: str) -> dict[str, Any]:
    """Read a YAML mapping, or raise a :class:`UsageError` naming ``what`` the file was meant to be."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise UsageError(f"{what} {path}: cannot read it ({e.strerror})") from e
    except yaml.YAMLError as e:
        raise UsageError(f"{what} {path}: not valid YAML ({str(e).splitlines()[0]})") from e
    if not isinstance(data, dict):
        raise UsageError(f"{what} {path}: expected a YAML mapping, got {type(data).__name__}")
    return data


def game_presets() -> dict[str, Path]:
    """env id -> its preset file, for every game preset shipped in ``agents/presets/``."""
    files = sorted(p for p in PRESET_DIR.glob("*.yaml") if p != DEFAULT_PRESET)
    return {read_yaml(p, "preset")["env_id"]: p for p in files}


def preset_sections(env_id: str, core: str) -> Sections:
    """The preset hyperparameters of ``core`` on ``env_id``: default.yaml, then the game's file if there is one."""
    if core not in AGENT_CORES:
        raise UsageError(f"unknown core {core!r}; choose from {list(AGENT_CORES)}")
    sections: Sections = {name: {} for name in SECTIONS}
    files = [DEFAULT_PRESET] + [path for game, path in game_presets().items() if game == env_id]
    for path in files:
        preset = read_yaml(path, "preset")
        for layer in (preset.get("common") or {}, preset.get(core) or {}):
            for name in SECTIONS:
                sections[name].update(layer.get(name) or {})
    return sections


def _number(value: Any) -> Any:
    """``value``, or the float it spells if it is a string like ``1e-3`` (YAML 1.1 reads those as strings)."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    return value


def _yaml_value(raw: str, source: str) -> Any:
    """``raw`` read as YAML, or a UsageError naming ``source``."""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise UsageError(f"{source}: the value is not valid YAML") from e


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse a ``--set key=value`` argument; the value is read as YAML (``1e-3`` as a number, ``[64, 64]`` a list)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set expects key=value, got {text!r}")
    return key.strip(), _number(_yaml_value(raw, f"--set {text}"))


def parse_choices(text: str) -> tuple[str, list[Any]]:
    """Parse a ``--search key=v1,v2,...`` argument; values are read as YAML (``[64,64],[128]`` gives two lists)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or not raw.strip():
        raise UsageError(f"--search expects key=v1,v2,..., got {text!r}")
    return key.strip(), [_number(v) for v in _yaml_value(f"[{raw}]", f"--search {text}")]


def _checked_value(key: str, old: Any, new: Any, source: str) -> Any:
    """Return ``new`` if it is the same kind of value as the preset's ``old`` (an integer is a valid float)."""
    if old is None or new is None or type(new) is type(old):
        return new
    if type(old) is float and type(new) is int:
        return float(new)
    raise UsageError(f"{source}: {key} expects {_KINDS.get(type(old), type(old).__name__)}, got {new!r}")


def apply_overrides(sections: Sections, overrides: Mapping[str, Any], source: str) -> None:
    """Set flat ``key: value`` overrides in place; unknown keys and values of the wrong kind raise UsageError."""
    for key, value in overrides.items():
        section = next((name for name in SECTIONS if key in sections[name]), None)
        if section is None:
            known = sorted(k for name in SECTIONS for k in sections[name])
            raise UsageError(f"{source}: unknown key {key!r}; valid keys: {', '.join(known)}")
        sections[section][key] = _checked_value(key, sections[section][key], value, source)


def overrides_for_core(overrides: Mapping[str, Any], core: str) -> dict[str, Any]:
    """The overrides that apply to ``core``: plain keys, and ``<core>.key`` ones (others' are dropped)."""
    selected = {}
    for key, value in overrides.items():
        prefix, dot, name = key.rpartition(".")
        if not dot:
            selected[key] = value
        elif prefix not in AGENT_CORES:
            raise UsageError(f"--set {key}: {prefix!r} is not a core; qualify keys with one of {list(AGENT_CORES)}")
        elif prefix == core:
            selected[name] = value
    return selected


def config_file_overrides(path: Path) -> dict[str, Any]:
    """The flat overrides in a ``--config`` file: ``run``/``algo``/``policy`` sections (a run's config.yaml works)."""
    data = read_yaml(path, "config file")
    unknown = sorted(set(data) - set(SECTIONS) - set(RUN_KEYS))
    if unknown:
        raise UsageError(f"config file {path}: unknown top-level keys {unknown}; expected sections {list(SECTIONS)}")
    overrides: dict[str, Any] = {}
    for name in SECTIONS:
        section = data.get(name) or {}
        if not isinstance(section, dict):
            raise UsageError(f"config file {path}: section {name!r} must be a mapping")
        overrides.update(section)
    return overrides


def resolve_config(
    env_id: str,
    core: str,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    config_file: Path | None = None,
    env_packages: Iterable[str] = (),
    source: str = "--set",
) -> AgentConfig:
    """Resolve the presets of ``core`` on ``env_id``, then a config file, then ``overrides``, into an AgentConfig.

    Errors in ``overrides`` name ``source``, the option they came from.
    """
    sections = copy.deepcopy(preset_sections(env_id, core))
    if config_file is not None:
        apply_overrides(sections, config_file_overrides(config_file), f"config file {config_file}")
    apply_overrides(sections, overrides_for_core(overrides or {}, core), source)
    for name in SECTIONS:
        for key, value in sections[name].items():
            if key in MINIMUMS and (type(value) is not int or value < MINIMUMS[key]):
                raise UsageError(f"{key} must be an integer >= {MINIMUMS[key]}, got {value!r}")
            if key in POSITIVE_OR_NONE and value is not None and (type(value) not in (int, float) or value <= 0):
                raise UsageError(f"{key} must be a number > 0 (or null: no limit), got {value!r}")
            if key in CHOICES and value not in CHOICES[key]:
                raise UsageError(f"{key} must be one of {list(CHOICES[key])}, got {value!r}")
    return AgentConfig(env_id, core, seed, sections["run"], sections["algo"], sections["policy"], list(env_packages),
                       sections["env"])
