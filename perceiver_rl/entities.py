"""The entity observation convention: a flat ``gymnasium.spaces.Dict`` that SB3 accepts as it is.

For each entity type ``T``: key ``T`` -> ``Box((max_T, F_T), float32)`` and key ``f"{T}_mask"`` ->
``MultiBinary(max_T)`` (1 = a present entity; present rows may sit anywhere). Optionally ``"global"`` ->
``Box((G,))`` for features of the whole state. :func:`entity_space` builds such a space and
:func:`parse_entity_space` reads one back, with errors that say what broke the convention.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

GLOBAL_KEY = "global"
MASK_SUFFIX = "_mask"


@dataclass(frozen=True)
class EntityType:
    """One entity type of an observation: its name, the padded count and the feature width."""

    name: str
    max_count: int
    feature_dim: int
    masked: bool = True  # False: a 2-D Box with no mask key, every row present

    @property
    def mask_key(self) -> str:
        """The observation key of this type's presence mask."""
        return self.name + MASK_SUFFIX


@dataclass(frozen=True)
class EntitySpec:
    """The entity types of an observation space (in key order) and the width of its global features (0 = none)."""

    types: tuple[EntityType, ...]
    global_dim: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        """The entity type names, in order."""
        return tuple(t.name for t in self.types)

    @property
    def max_tokens(self) -> int:
        """The number of tokens a core sees: every padded entity slot, plus one for the global features."""
        return sum(t.max_count for t in self.types) + (1 if self.global_dim else 0)

    def __getitem__(self, name: str) -> EntityType:
        for t in self.types:
            if t.name == name:
                return t
        raise KeyError(name)

    def require(self, name: str, argument: str) -> EntityType:
        """Return the type called ``name``, or raise a ``ValueError`` naming ``argument`` and the types available."""
        for t in self.types:
            if t.name == name:
                return t
        raise ValueError(
            f"{argument}={name!r} is not an entity type of the observation space; available: {list(self.names)}"
        )


def entity_space(
    types: Mapping[str, tuple[int, int]],
    global_dim: int = 0,
    low: float = -np.inf,
    high: float = np.inf,
) -> spaces.Dict:
    """Build an observation space that follows the entity convention.

    Args:
        types: entity type name -> ``(max_count, feature_dim)``, e.g. ``{"unit": (8, 6), "enemy": (16, 5)}``.
        global_dim: width of the optional ``"global"`` feature vector (0 = no global key).
        low, high: bounds of the feature boxes.
    """
    if not types:
        raise ValueError("types: expected at least one entity type, got none")
    entries: dict[str, spaces.Space] = {}
    for name, shape in types.items():
        if name == GLOBAL_KEY or name.endswith(MASK_SUFFIX):
            raise ValueError(f"types: entity type name {name!r} is reserved (no 'global', no '*{MASK_SUFFIX}')")
        if len(shape) != 2 or any(int(s) < 1 for s in shape):
            raise ValueError(f"types[{name!r}]: expected (max_count >= 1, feature_dim >= 1), got {tuple(shape)}")
        max_count, feature_dim = int(shape[0]), int(shape[1])
        entries[name] = spaces.Box(low, high, shape=(max_count, feature_dim), dtype=np.float32)
        entries[name + MASK_SUFFIX] = spaces.MultiBinary(max_count)
    if global_dim < 0:
        raise ValueError(f"global_dim: expected >= 0, got {global_dim}")
    if global_dim:
        entries[GLOBAL_KEY] = spaces.Box(low, high, shape=(int(global_dim),), dtype=np.float32)
    return spaces.Dict(entries)


def parse_entity_space(space: spaces.Space, require_masks: bool = True) -> EntitySpec:
    """Read the entity types back from an observation space, or raise a ``ValueError`` saying what is wrong.

    ``require_masks=False`` reads an entity key without a mask key as a set whose rows are all present (how the
    policies read a plain 2-D Box); the convention itself requires the mask.
    """
    if not isinstance(space, spaces.Dict):
        raise ValueError(
            f"observation_space: expected a gymnasium.spaces.Dict following the entity convention "
            f"(key T -> Box((max_T, F_T)), key 'T_mask' -> MultiBinary(max_T), optional 'global' -> Box((G,))), "
            f"got {type(space).__name__}"
        )
    types: list[EntityType] = []
    global_dim = 0
    keys = set(space.spaces)
    for key, sub in space.spaces.items():
        if key == GLOBAL_KEY:
            if not isinstance(sub, spaces.Box) or len(sub.shape) != 1:
                raise ValueError(f"observation_space['global']: expected a 1-D Box, got {sub}")
            global_dim = int(sub.shape[0])
            continue
        if key.endswith(MASK_SUFFIX):
            if key[: -len(MASK_SUFFIX)] not in keys:
                raise ValueError(
                    f"observation_space[{key!r}]: a mask key without its entity key {key[: -len(MASK_SUFFIX)]!r}"
                )
            continue
        if isinstance(sub, spaces.Dict):
            raise ValueError(
                f"observation_space[{key!r}]: nested Dict spaces are not supported (SB3 accepts flat Dicts only); "
                f"flatten it into entity keys"
            )
        if not isinstance(sub, spaces.Box) or len(sub.shape) != 2:
            raise ValueError(f"observation_space[{key!r}]: expected Box((max_count, feature_dim)), got {sub}")
        mask_key = key + MASK_SUFFIX
        mask = space.spaces.get(mask_key)
        if mask is None and not require_masks:
            types.append(EntityType(key, int(sub.shape[0]), int(sub.shape[1]), masked=False))
            continue
        if mask is None:
            raise ValueError(
                f"observation_space: entity key {key!r} has no mask key {mask_key!r} "
                f"(expected MultiBinary({sub.shape[0]})); keys found: {sorted(keys)}"
            )
        if not isinstance(mask, spaces.MultiBinary) or tuple(np.atleast_1d(mask.n)) != (sub.shape[0],):
            raise ValueError(f"observation_space[{mask_key!r}]: expected MultiBinary({sub.shape[0]}), got {mask}")
        types.append(EntityType(key, int(sub.shape[0]), int(sub.shape[1])))
    if not types:
        raise ValueError(f"observation_space: expected at least one entity type, found keys {sorted(keys)}")
    return EntitySpec(tuple(types), global_dim)
