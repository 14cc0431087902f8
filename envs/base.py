"""What every game shares: the base class, argument and action checks, and entity observation packing.

Observations follow :func:`perceiver_rl.entity_space`: per entity type ``T`` a float32 ``(max_T, F_T)`` feature array
whose absent rows are zero and an int8 ``(max_T,)`` presence mask, plus an optional ``"global"`` vector. All features
lie in ``[-1, 1]`` (:data:`FEATURE_LOW`, :data:`FEATURE_HIGH`); :func:`pack_entities` clips and zeroes them.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from envs.render import Canvas

FEATURE_LOW, FEATURE_HIGH = -1.0, 1.0
FRAME_SIZE = 256

#: Unit vectors of the 9 movement verbs: 0 = stay, 1..8 = east, north-east, north, ..., south-east.
_ANGLES = np.arange(8) * (np.pi / 4)
MOVES = np.concatenate([np.zeros((1, 2)), np.stack([np.cos(_ANGLES), np.sin(_ANGLES)], axis=1)])  # (9, 2)
MOVES[np.abs(MOVES) < 1e-12] = 0.0
MOVE_NAMES = ("stay", "move E", "move NE", "move N", "move NW", "move W", "move SW", "move S", "move SE")


# ----------------------------------------------------------------------------------------------- argument checks
def check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise a ``ValueError`` naming ``name`` unless ``minimum <= value <= maximum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: expected an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name}: expected an integer {bound}, got {value}")
    return value


def check_float(name: str, value: Any, minimum: float, maximum: float | None = None) -> float:
    """Return ``value`` as a float, or raise a ``ValueError`` naming ``name`` unless ``minimum <= value <= maximum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    value = float(value)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name}: expected a number {bound}, got {value}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool (numpy's included), else raise a ``ValueError`` naming ``name``."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name}: expected True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def check_count_range(
    min_name: str, min_value: Any, max_name: str, max_value: Any, minimum: int = 0, maximum: int | None = None
) -> tuple[int, int]:
    """Check a (min, max) pair of entity counts: both integers in ``[minimum, maximum]`` and ``min <= max``."""
    lo = check_int(min_name, min_value, minimum, maximum)
    hi = check_int(max_name, max_value, max(minimum, 1), maximum)
    if lo > hi:
        raise ValueError(f"{min_name}: expected <= {max_name} ({hi}), got {lo}")
    return lo, hi


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError`` listing them."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
    return value


# ------------------------------------------------------------------------------------------------- action checks
def discrete_action(action: Any, n: int) -> int:
    """Return a ``Discrete(n)`` action as an int, or raise a ``ValueError`` (cheap: no ``Space.contains``)."""
    a = np.asarray(action)
    if a.size != 1 or a.dtype.kind not in "iu":
        raise ValueError(f"action: expected one integer in [0, {n}), got {action!r}")
    value = int(a.reshape(()))
    if not 0 <= value < n:
        raise ValueError(f"action: expected an integer in [0, {n}), got {value}")
    return value


def multidiscrete_action(action: Any, nvec: np.ndarray) -> np.ndarray:
    """Return a ``MultiDiscrete(nvec)`` action (``nvec``: int64 (n,)) as int64, or raise a ``ValueError``."""
    a = np.asarray(action)
    if a.shape != nvec.shape or a.dtype.kind not in "iu":
        raise ValueError(f"action: expected an integer array of shape {nvec.shape}, got {a.dtype} {a.shape}")
    a = a.astype(np.int64, copy=False)
    if np.count_nonzero(a.view(np.uint64) >= nvec.view(np.uint64)):  # one compare: negatives wrap to huge values
        bad = int(np.flatnonzero((a < 0) | (a >= nvec))[0])
        raise ValueError(f"action[{bad}]: expected an integer in [0, {int(nvec[bad])}), got {int(a[bad])}")
    return a


# ---------------------------------------------------------------------------------------------------- observation
def pack_entities(features: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features (n, F) and presence (n,) bool -> (float32 (n, F) clipped to [-1, 1], absent rows 0; int8 mask (n,)).

    A float32 ``features`` array is packed in place (build it fresh); any other dtype is copied.
    """
    out = features.astype(np.float32, copy=False)
    np.minimum(np.maximum(out, FEATURE_LOW, out=out), FEATURE_HIGH, out=out)
    out *= present.astype(np.float32)[:, None]  # (a float mask multiplies ~2x faster than a bool one)
    return out, present.astype(np.int8)


def scatter_slots(rng: np.random.Generator, count: int, slots: int) -> np.ndarray:
    """A bool mask (slots,) with ``count`` randomly placed True entries: present rows sit anywhere, not only first."""
    present = np.zeros(slots, dtype=bool)
    present[rng.random(slots).argsort()[:count]] = True
    return present


class EntityEnv(gym.Env):
    """Base of the games: ``rgb_array`` rendering through one :class:`~envs.render.Canvas` and ``entity_pixels``.

    Subclasses implement :meth:`_view`, :meth:`_entity_positions` and :meth:`_draw`, plus ``heuristic_action``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    #: How the action decodes by query (``perceiver_rl`` policy kwargs): ``actor`` = the entity type with one action
    #: per slot, ``targets`` = the entity type that the last choices of each action point at (None = fixed verbs only).
    action_roles: ClassVar[dict[str, str | None]] = {"actor": None, "targets": None}
    #: Names of the verb choices (the first choices of every action dimension), for pictures; () = unnamed.
    verb_names: tuple[str, ...] = ()

    def __init__(self, render_mode: str | None = None):
        if render_mode is not None:
            check_choice("render_mode", render_mode, tuple(self.metadata["render_modes"]))
        self.render_mode = render_mode

    def _view(self) -> tuple[float, float, float, float]:
        """The world rectangle the frame shows: (x_min, x_max, y_min, y_max)."""
        raise NotImplementedError

    def _entity_positions(self) -> dict[str, np.ndarray]:
        """Per entity type, the (max_T, 2) world position of each slot (anything for absent slots)."""
        raise NotImplementedError

    def _draw(self, canvas: Canvas) -> None:
        """Draw the current state on ``canvas``."""
        raise NotImplementedError

    def heuristic_action(self) -> Any:
        """A scripted action that plays reasonably, read from the true state."""
        raise NotImplementedError

    def render(self) -> np.ndarray | None:
        """The current state as a (256, 256, 3) uint8 frame when ``render_mode="rgb_array"``, else ``None``."""
        if self.render_mode != "rgb_array":
            return None
        canvas = Canvas(self._view(), FRAME_SIZE)
        self._draw(canvas)
        return canvas.frame

    def entity_pixels(self) -> dict[str, np.ndarray]:
        """Per entity type, the (max_T, 2) pixel (x, y) of each slot in the rendered frame (absent slots: anything)."""
        canvas_map = Canvas(self._view(), FRAME_SIZE).to_pixels
        return {name: canvas_map(xy) for name, xy in self._entity_positions().items()}
