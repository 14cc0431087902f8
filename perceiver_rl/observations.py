"""Any supported observation space, read as a list of token sources (or a ``ValueError`` saying how to convert it).

Supported: the entity convention (see :mod:`perceiver_rl.entities`); a 1-D ``Box`` (one token per feature);
``Discrete`` / ``MultiDiscrete`` (one token per dimension) and ``MultiBinary`` (one token per bit); an image ``Box``
(H, W, C) or (C, H, W), uint8 or float (one token per pixel or patch); a 2-D ``Box`` (N, F) without a mask key (N
entities, all present); and a flat ``Dict`` mixing any of these with entity keys. :func:`parse_observation_space`
says which key becomes which kind of tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from perceiver_rl.entities import GLOBAL_KEY, MASK_SUFFIX, EntitySpec, parse_entity_space

#: The name of the tokens of a space that is not a Dict (in ``Tokens.slices`` and ``explain()``).
SINGLE_KEY = "obs"

FEATURES, CATEGORICAL, IMAGE = "features", "categorical", "image"

SUPPORTED = (
    "supported observation spaces: a 1-D Box (one token per feature), Discrete, 1-D MultiDiscrete, MultiBinary, an "
    "image Box (H, W, C) or (C, H, W) (uint8 or float), a 2-D Box (N, F) (N entities, all present), the entity "
    "convention (key T -> Box((max_T, F_T)), key 'T_mask' -> MultiBinary(max_T), optional 'global' -> Box((G,))), "
    "and a flat Dict mixing any of these"
)
CONVERT = (
    "convert it with an observation wrapper: pad variable-size sets (Sequence, Graph nodes) to the entity convention "
    "(max_T rows and a T_mask), flatten nested Dicts/Tuples into one flat Dict, and drop Text keys or encode them as "
    "a MultiDiscrete of character ids"
)


@dataclass(frozen=True)
class TokenSource:
    """One non-entity observation key and how it becomes tokens.

    ``kind`` is ``"features"`` (1-D Box or MultiBinary: ``shape == (n,)``), ``"categorical"`` (Discrete or
    MultiDiscrete: ``shape`` is the number of categories per dimension) or ``"image"`` (``shape`` is (H, W, C) even
    when the observation is channel-first; ``channels_first`` says which it is; ``byte_values`` marks uint8 pixels).
    """

    key: str
    kind: str
    shape: tuple[int, ...]
    channels_first: bool = False
    byte_values: bool = False

    @property
    def num_tokens(self) -> int:
        """The tokens of a features or categorical source: one per feature or dimension (images: see ImageTokenizer)."""
        return self.shape[0] if self.kind == FEATURES else len(self.shape)


@dataclass(frozen=True)
class ObservationSpec:
    """The tokens of an observation space: its entity part (or None) and its other keys, in key order.

    ``single`` is True when the space is not a Dict: the observation is then one tensor, named :data:`SINGLE_KEY`.
    """

    entities: EntitySpec | None
    sources: tuple[TokenSource, ...]
    single: bool = False


def _is_entity_set(space: spaces.Space) -> bool:
    """A 2-D Box (N, F): N entities of F features (present where its mask key says, or all of them)."""
    return isinstance(space, spaces.Box) and len(space.shape) == 2


def _unsupported(where: str, space: spaces.Space, why: str = "") -> ValueError:
    return ValueError(f"{where}: {why or 'unsupported space'} {space}; {SUPPORTED}. To use it, {CONVERT}")


def _source(key: str, space: spaces.Space, where: str) -> TokenSource:
    """The token source of one non-entity space (raises the ValueError for anything unsupported)."""
    if isinstance(space, spaces.Discrete):
        return TokenSource(key, CATEGORICAL, (int(space.n),))
    if isinstance(space, spaces.MultiDiscrete):
        if space.nvec.ndim != 1:
            raise _unsupported(where, space, "a MultiDiscrete must be 1-D (flatten nvec), got")
        return TokenSource(key, CATEGORICAL, tuple(int(n) for n in space.nvec))
    if isinstance(space, spaces.MultiBinary):
        return TokenSource(key, FEATURES, (int(np.prod(space.shape)),))
    if isinstance(space, spaces.Box):
        if len(space.shape) == 1:
            return TokenSource(key, FEATURES, (int(space.shape[0]),))
        if len(space.shape) == 3:
            channels_first = int(np.argmin(space.shape)) == 0  # SB3's rule: the smallest axis holds the channels
            c, h, w = space.shape if channels_first else (space.shape[2], *space.shape[:2])
            return TokenSource(key, IMAGE, (int(h), int(w), int(c)), channels_first, space.dtype == np.uint8)
        raise _unsupported(where, space, f"expected a 1-D, 2-D (entity set) or 3-D (image) Box, got a "
                                         f"{len(space.shape)}-D")
    if isinstance(space, spaces.Dict):
        raise _unsupported(where, space, "nested Dict spaces are not supported (SB3 accepts flat Dicts only), got")
    raise _unsupported(where, space, f"{type(space).__name__} spaces are not supported, got")


def parse_observation_space(space: spaces.Space) -> ObservationSpec:
    """Read any supported observation space into an :class:`ObservationSpec`, or raise a ``ValueError``.

    In a Dict, a key ``T`` with a mask key ``T_mask``, or any 2-D Box, is an entity type (checked by
    :func:`~perceiver_rl.entities.parse_entity_space`); a 2-D Box without a mask key, in a Dict or alone, is a set
    whose rows are all present; ``global`` belongs to the entities when there are any; every other key is a token
    source of its own.
    """
    if _is_entity_set(space):  # one (N, F) array: a set of N entities, all present
        return ObservationSpec(parse_entity_space(spaces.Dict({SINGLE_KEY: space}), require_masks=False), (),
                               single=True)
    if not isinstance(space, spaces.Dict):
        return ObservationSpec(None, (_source(SINGLE_KEY, space, "observation_space"),), single=True)
    entity_keys = {
        key for key, sub in space.spaces.items()
        if key + MASK_SUFFIX in space.spaces or _is_entity_set(sub)
    }
    entity_keys |= {key + MASK_SUFFIX for key in entity_keys}
    if entity_keys and GLOBAL_KEY in space.spaces:
        entity_keys.add(GLOBAL_KEY)
    entities = None
    if entity_keys:
        entities = parse_entity_space(spaces.Dict({k: s for k, s in space.spaces.items() if k in entity_keys}),
                                      require_masks=False)
    sources = tuple(
        _source(key, sub, f"observation_space[{key!r}]") for key, sub in space.spaces.items() if key not in entity_keys
    )
    return ObservationSpec(entities, sources)
