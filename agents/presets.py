"""Hyperparameter presets: readable YAML files per game and core, resolved into one :class:`AgentConfig`.

Layers, later wins: the typed defaults (:mod:`agents.settings`) -> ``presets/default.yaml`` -> a shipped game's
``action_roles`` (the ``actor`` and ``targets`` its class declares) -> the game's preset file (the one whose ``env_id``
matches) -> ``--config FILE`` -> ``--set key=value``. In each preset file ``common`` applies
to every core and the core's own section comes on top. Keys are flat names (``learning_rate``, ``dim``, ``n_envs``),
each living in one section: ``run`` (the training loop), ``algo`` (PPO arguments), ``policy`` (the core's
``policy_kwargs``) or ``env`` (the game's constructor arguments, e.g. Minefield's ``n_mines``, and ``wrappers``, the
gymnasium wrappers around it). :mod:`agents.settings` declares the keys of ``run``, ``algo``, each core's ``policy``
and ``env``'s ``wrappers``, with their types, defaults and bounds; a game's preset declares its constructor's keys.
Every layer may only set declared keys, with values of their type. A key qualified by a core (``mlp.net_arch=[64]``)
applies to that core only, so one ``compare`` can size every core.
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
from agents.settings import POLICY_SETTINGS, SECTION_SETTINGS, Spec, checked, defaults, env_specs, specs
from envs import GAMES, SKILLS
from perceiver_rl import CORES

#: The cores an agent can have: perceiver_rl's attention cores, and SB3's MLP policy as the no-attention reference.
AGENT_CORES = (*CORES, "mlp")
SECTIONS = ("run", "algo", "policy", "env")
PRESET_DIR = Path(__file__).parent / "presets"
DEFAULT_PRESET = PRESET_DIR / "default.yaml"
#: Top-level keys of a saved run config that are not hyperparameters (``--config`` accepts such a file).
RUN_KEYS = ("env_id", "core", "seed", "env_packages", "meta")

Sections = dict[str, dict[str, Any]]


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


def section_specs(core: str, env: Mapping[str, Any]) -> dict[str, dict[str, Spec]]:
    """What every key of ``core``'s config accepts, section by section; ``env`` holds the game preset's env keys."""
    return {"run": specs(SECTION_SETTINGS["run"]), "algo": specs(SECTION_SETTINGS["algo"]),
            "policy": specs(POLICY_SETTINGS[core]), "env": {**env_specs(dict(env)), **specs(SECTION_SETTINGS["env"])}}


def _spec(all_specs: dict[str, dict[str, Spec]], name: str, section: str | None, source: str) -> tuple[str, Spec]:
    """The section and spec of key ``name`` (looked up in ``section``, or in every one), or a UsageError."""
    candidates = (section,) if section else SECTIONS
    for candidate in candidates:
        if name in all_specs[candidate]:
            return candidate, all_specs[candidate][name]
    known = sorted(k for candidate in candidates for k in all_specs[candidate])
    raise UsageError(f"{source}: unknown key {name!r}; valid keys: {', '.join(known)}")


def action_roles(env_id: str, core: str) -> dict[str, str | None]:
    """The ``actor`` and ``targets`` that a shipped game or skill game declares (its class's ``action_roles``), for an
    attention core; none for other envs and for ``mlp``."""
    game = GAMES.get(env_id) or SKILLS.get(env_id)
    return dict(game.action_roles) if game is not None and core in CORES else {}


def _preset_layers(path: Path, core: str) -> list[tuple[str, dict[str, Any]]]:
    """A preset file's layers for ``core``, each with the source its errors name: ``common``, then the core's."""
    preset = read_yaml(path, "preset")
    return [(f"preset {path}", preset.get(section) or {}) for section in ("common", core)]


def preset_sections(env_id: str, core: str) -> Sections:
    """The preset hyperparameters of ``core`` on ``env_id``: the typed defaults, default.yaml, a shipped game's
    :func:`action_roles`, then the game's file if there is one (its ``env`` keys declare the game's)."""
    if core not in AGENT_CORES:
        raise UsageError(f"unknown core {core!r}; choose from {list(AGENT_CORES)}")
    sections: Sections = {name: {} for name in SECTIONS}
    layers = _preset_layers(DEFAULT_PRESET, core)
    layers.append((f"the action_roles of {env_id}", {"policy": action_roles(env_id, core)}))
    for game, path in game_presets().items():
        if game == env_id:
            layers += _preset_layers(path, core)
    typed_specs = section_specs(core, {})
    for source, layer in layers:
        for key, value in (layer.get("env") or {}).items():  # the game's preset declares its constructor's keys
            spec = typed_specs["env"].get(key)  # ... and may set the typed ones (wrappers)
            sections["env"][key] = value if spec is None else checked(key, spec, value, source)
        for name in ("run", "algo", "policy"):
            for key, value in (layer.get(name) or {}).items():
                spec = _spec(typed_specs, key, name, source)[1]
                sections[name][key] = checked(key, spec, value, source)
    # keys the presets leave out keep their typed default, after the presets' own (a run's config.yaml keeps its order)
    for name, settings in (*SECTION_SETTINGS.items(), ("policy", POLICY_SETTINGS[core])):
        sections[name] = {**sections[name], **{k: v for k, v in defaults(settings).items() if k not in sections[name]}}
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


def parse_assignment(text: str, option: str = "--set") -> tuple[str, Any]:
    """Parse a ``key=value`` argument of ``option``; the value is read as YAML (``1e-3`` as a number, ``[64, 64]`` a
    list)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"{option} expects key=value, got {text!r}")
    return key.strip(), _number(_yaml_value(raw, f"{option} {text}"))


def parse_choices(text: str) -> tuple[str, list[Any]]:
    """Parse a ``--search key=v1,v2,...`` argument; values are read as YAML (``[64,64],[128]`` gives two lists)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or not raw.strip():
        raise UsageError(f"--search expects key=v1,v2,..., got {text!r}")
    return key.strip(), [_number(v) for v in _yaml_value(f"[{raw}]", f"--search {text}")]


def apply_overrides(sections: Sections, core: str, overrides: Mapping[str, Any], source: str) -> None:
    """Set flat ``key: value`` overrides of ``core``'s ``sections`` in place; unknown keys and values that are not of
    the key's type or out of its bounds raise a UsageError naming ``source``."""
    all_specs = section_specs(core, sections["env"])
    for key, value in overrides.items():
        section, spec = _spec(all_specs, key, None, source)
        sections[section][key] = checked(key, spec, value, source)


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
    """The flat overrides in a ``--config`` file: ``run``/``algo``/``policy``/``env`` sections (a run's config.yaml
    works)."""
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
        apply_overrides(sections, core, config_file_overrides(config_file), f"config file {config_file}")
    apply_overrides(sections, core, overrides_for_core(overrides or {}, core), source)
    return AgentConfig(env_id, core, seed, sections["run"], sections["algo"], sections["policy"], list(env_packages),
                       sections["env"])
