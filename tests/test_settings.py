"""agents/settings.py: every typed key is checked (type and bounds) at every layer, and default.yaml repeats the typed
defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agents import AGENT_CORES, UsageError, resolve_config
from agents.presets import DEFAULT_PRESET, read_yaml
from agents.settings import POLICY_SETTINGS, SECTION_SETTINGS, defaults

SKIRMISH = "perceiver_rl/Skirmish-v0"


@pytest.mark.parametrize("core", AGENT_CORES)
def test_default_preset_repeats_the_typed_defaults(core: str) -> None:
    """default.yaml shows users the defaults; agents/settings.py is where they are set."""
    preset = read_yaml(DEFAULT_PRESET, "preset")
    typed = {**{name: defaults(s) for name, s in SECTION_SETTINGS.items()}, "policy": defaults(POLICY_SETTINGS[core])}
    for layer in (preset["common"], preset[core]):
        for name, values in typed.items():
            for key, value in (layer.get(name) or {}).items():
                assert value == values[key], f"default.yaml's {name}.{key} is not the typed default"
    resolved = resolve_config("NoPreset-v0", core)
    assert {name: getattr(resolved, name) for name in typed} == typed


def test_typed_keys_are_checked_at_every_layer(tmp_path: Path) -> None:
    assert resolve_config(SKIRMISH, "mlp", overrides={"max_train_seconds": 60}).run["max_train_seconds"] == 60.0
    cases = {  # override: what the one error line says
        "dim": (0, "--set: dim must be an integer >= 1, got 0"),
        "net_arch": ([64, "a"], "--set: net_arch expects a list of integers, got [64, 'a']"),
        "target_kl": ("low", "--set: target_kl expects a number (or null: no limit), got 'low'"),
        "actor": (3, "--set: actor expects a string (or null), got 3"),
        "reward_only_positive": (1, "--set: reward_only_positive expects true or false, got 1"),  # an env key
    }
    for key, (value, message) in cases.items():
        core = "mlp" if key == "net_arch" else "perceiver"
        with pytest.raises(UsageError, match=re.escape(message)):
            resolve_config(SKIRMISH, core, overrides={key: value})
    config_file = tmp_path / "config.yaml"
    config_file.write_text("algo:\n  batch_size: 1\n")
    with pytest.raises(UsageError, match=f"config file {config_file}: batch_size must be an integer >= 2, got 1"):
        resolve_config(SKIRMISH, "mlp", config_file=config_file)


@pytest.mark.parametrize("path", sorted(DEFAULT_PRESET.parent.glob("*/*.yaml")), ids=lambda p: p.parent.name)
@pytest.mark.parametrize("core", AGENT_CORES)
def test_shipped_config_files_resolve_on_their_game(core: str, path: Path) -> None:
    """Each shipped ``--config`` file (agents/presets/<use>/<game>.yaml) is valid for its game and every core, and
    its keys win over the game's preset."""
    game = {"skirmish": SKIRMISH}[path.stem]
    resolved = resolve_config(game, core, config_file=path)
    for section, values in read_yaml(path, "config file").items():
        for key, value in values.items():
            assert getattr(resolved, section)[key] == value, f"{path}: {section}.{key}"
