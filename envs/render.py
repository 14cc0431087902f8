"""Numpy-only drawing for the games' ``rgb_array`` frames: a square canvas that maps world coordinates to pixels.

Every game draws through :class:`Canvas`, and :meth:`Canvas.to_pixels` is the one world -> pixel map, so the
coordinates :meth:`envs.base.EntityEnv.entity_pixels` reports are exactly where the entities were drawn.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

Color = tuple[int, int, int]

BACKGROUND: Color = (22, 24, 30)
GRID: Color = (40, 43, 52)
WHITE: Color = (235, 235, 235)
GREY: Color = (120, 120, 130)
BLUE: Color = (70, 140, 255)
CYAN: Color = (80, 220, 230)
RED: Color = (235, 70, 70)
ORANGE: Color = (250, 160, 50)
GREEN: Color = (80, 210, 100)
YELLOW: Color = (250, 220, 60)
PURPLE: Color = (180, 100, 230)
DARK_RED: Color = (110, 30, 30)

#: Distinct colours for categorical features (item colours, kinds), indexed by category, and their names.
PALETTE: tuple[Color, ...] = (RED, BLUE, GREEN, YELLOW, PURPLE, CYAN, ORANGE, WHITE)
PALETTE_NAMES: tuple[str, ...] = ("red", "blue", "green", "yellow", "purple", "cyan", "orange", "white")
#: A dark-to-bright magenta ramp for weights in [0, 1] (see weight_colors): apart from the sides' blue and red.
_WEIGHT_RAMP = np.array([(80, 30, 100), (170, 50, 180), (240, 90, 230), (255, 170, 245), (255, 245, 255)], dtype=float)


def weight_colors(t: np.ndarray) -> np.ndarray:
    """Colours (n, 3) uint8 of weights ``t`` (n,) in [0, 1] on a dark-to-bright magenta ramp: brighter is larger."""
    x = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0) * (len(_WEIGHT_RAMP) - 1)  # (n,)
    low = np.minimum(x.astype(np.int64), len(_WEIGHT_RAMP) - 2)
    frac = (x - low)[:, None]
    return np.rint(_WEIGHT_RAMP[low] * (1 - frac) + _WEIGHT_RAMP[low + 1] * frac).astype(np.uint8)


@lru_cache(maxsize=64)
def _stamp(radius: float, inner: float) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixel offsets (dy, dx) of the annulus inner < r <= radius (inner < 0: a filled disk)."""
    r = int(np.ceil(radius))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    d2 = dx * dx + dy * dy
    keep = (d2 <= radius * radius) & (d2 > inner * inner if inner >= 0 else True)
    return dy[keep], dx[keep]


class Canvas:
    """A ``(size, size, 3)`` uint8 frame showing the world rectangle ``bounds = (x_min, x_max, y_min, y_max)``.

    World y points up, pixel rows point down. Drawing calls take world coordinates and are vectorised over entities;
    the ``*_at`` calls take pixel (x, y) coordinates instead, e.g. to mark entities on a finished frame (:meth:`over`).
    """

    def __init__(self, bounds: tuple[float, float, float, float], size: int = 256, background: Color = BACKGROUND):
        self.bounds = tuple(float(b) for b in bounds)
        self.size = int(size)
        self.frame = np.empty((self.size, self.size, 3), dtype=np.uint8)
        self.frame[:] = background
        x_min, x_max, y_min, y_max = self.bounds
        self.scale = (self.size - 1) / max(x_max - x_min, y_max - y_min)  # pixels per world unit

    @classmethod
    def over(cls, frame: np.ndarray) -> Canvas:
        """A canvas drawing on a copy of a finished square ``frame`` (size, size, 3), through the ``*_at`` calls."""
        if frame.ndim != 3 or frame.shape[0] != frame.shape[1] or frame.shape[2] != 3:
            raise ValueError(f"frame: expected a square (size, size, 3) image, got shape {frame.shape}")
        canvas = cls((0.0, frame.shape[0] - 1.0, 0.0, frame.shape[0] - 1.0), frame.shape[0])
        canvas.frame = frame.astype(np.uint8, copy=True)
        return canvas

    def to_pixels(self, xy: np.ndarray) -> np.ndarray:
        """World points ``(..., 2)`` -> pixel (x, y) coordinates ``(..., 2)`` float (outside the frame if off-view)."""
        xy = np.asarray(xy, dtype=np.float64)
        x_min, _, _, y_max = self.bounds
        return np.stack([(xy[..., 0] - x_min) * self.scale, (y_max - xy[..., 1]) * self.scale], axis=-1)

    def pixels(self, length: float) -> float:
        """A world length in pixels."""
        return float(length) * self.scale

    def _paint(self, xy: np.ndarray, offsets: tuple[np.ndarray, np.ndarray], colors: np.ndarray) -> None:
        """Paint the pixel ``offsets`` around each world point of ``xy`` (n, 2) with ``colors`` (n, 3) or (3,)."""
        self._paint_at(self.to_pixels(np.asarray(xy, dtype=np.float64).reshape(-1, 2)), offsets, colors)

    def _paint_at(self, pixels: np.ndarray, offsets: tuple[np.ndarray, np.ndarray], colors: np.ndarray) -> None:
        """Paint the pixel ``offsets`` around each pixel point (x, y) of ``pixels`` (n, 2) with ``colors``."""
        xy = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        if len(xy) == 0:
            return
        centre = np.rint(xy).astype(np.int64)  # (n, 2)
        dy, dx = offsets
        cols = centre[:, 0:1] + dx[None, :]  # (n, k)
        rows = centre[:, 1:2] + dy[None, :]
        inside = (cols >= 0) & (cols < self.size) & (rows >= 0) & (rows < self.size)
        colors = np.broadcast_to(np.asarray(colors, dtype=np.uint8).reshape(-1, 3), (len(xy), 3))
        which = np.broadcast_to(np.arange(len(xy))[:, None], cols.shape)[inside]
        self.frame[rows[inside], cols[inside]] = colors[which]

    def disks(self, xy: np.ndarray, radius_px: float, colors: np.ndarray | Color) -> None:
        """Filled disks of ``radius_px`` pixels centred on the world points ``xy`` (n, 2)."""
        self._paint(xy, _stamp(max(float(radius_px), 0.5), -1.0), np.asarray(colors))

    def rings(self, xy: np.ndarray, radius_px: float, colors: np.ndarray | Color, width_px: float = 1.5) -> None:
        """Circle outlines of ``radius_px`` pixels around the world points ``xy`` (n, 2)."""
        radius = max(float(radius_px), 1.0)
        self._paint(xy, _stamp(radius, max(radius - width_px, 0.0)), np.asarray(colors))

    def rings_at(self, pixels: np.ndarray, radii_px: np.ndarray, colors: np.ndarray, width_px: float = 2.0) -> None:
        """Circle outlines around the pixel points ``pixels`` (n, 2), each of its own radius (n,) and colour (n, 3),
        drawn in order (later rings on top)."""
        pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        colors = np.broadcast_to(np.asarray(colors, dtype=np.uint8).reshape(-1, 3), (len(pixels), 3))
        for xy, radius, color in zip(pixels, np.asarray(radii_px).reshape(-1), colors, strict=True):
            radius = max(round(float(radius) * 2) / 2, 1.0)  # half-pixel steps keep the stamp cache small
            self._paint_at(xy[None], _stamp(radius, max(radius - width_px, 0.0)), color)

    def boxes_at(self, pixels: np.ndarray, half_px: int, color: Color, width_px: int = 1) -> None:
        """Square outlines of half-side ``half_px`` pixels around the pixel points ``pixels`` (n, 2)."""
        dy, dx = np.mgrid[-half_px : half_px + 1, -half_px : half_px + 1]
        edge = np.maximum(np.abs(dy), np.abs(dx)) > half_px - width_px
        self._paint_at(pixels, (dy[edge], dx[edge]), np.asarray(color))

    def line_at(self, start: np.ndarray, end: np.ndarray, color: Color) -> None:
        """A 1-pixel line between the pixel points ``start`` (2,) and ``end`` (2,)."""
        start, end = np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
        steps = int(np.ceil(np.abs(end - start).max())) + 1
        t = np.linspace(0.0, 1.0, steps)[:, None]  # (steps, 1)
        self._paint_at(start + (end - start) * t, (np.zeros(1, np.int64), np.zeros(1, np.int64)), np.asarray(color))

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: Color) -> None:
        """A filled axis-aligned rectangle between the world corners (x0, y0) and (x1, y1)."""
        (c0, r0), (c1, r1) = np.rint(self.to_pixels(np.array([[x0, y0], [x1, y1]]))).astype(np.int64)
        c0, c1 = sorted((int(np.clip(c0, 0, self.size)), int(np.clip(c1, 0, self.size))))
        r0, r1 = sorted((int(np.clip(r0, 0, self.size)), int(np.clip(r1, 0, self.size))))
        self.frame[r0 : r1 + 1, c0 : c1 + 1] = color

    def bars(self, xy: np.ndarray, fraction: np.ndarray, color: Color, width_px: int = 10, lift_px: int = 8) -> None:
        """Horizontal bars (e.g. hit points) ``lift_px`` pixels above each world point, filled to ``fraction`` (n,)."""
        centre = np.rint(self.to_pixels(np.asarray(xy).reshape(-1, 2))).astype(np.int64)  # (n, 2)
        offsets = np.arange(width_px) - width_px // 2  # (w,)
        cols = centre[:, 0:1] + offsets[None, :]  # (n, w)
        rows = np.broadcast_to(centre[:, 1:2] - lift_px, cols.shape)
        full = offsets[None, :] < (np.asarray(fraction).reshape(-1, 1) * width_px - width_px // 2)
        inside = (cols >= 0) & (cols < self.size) & (rows >= 0) & (rows < self.size)
        self.frame[rows[inside], cols[inside]] = DARK_RED
        self.frame[rows[inside & full], cols[inside & full]] = color

    def outline(self, x0: float, y0: float, x1: float, y1: float, color: Color = GRID) -> None:
        """The 1-pixel outline of the world rectangle between (x0, y0) and (x1, y1) (e.g. arena walls)."""
        (c0, r1), (c1, r0) = np.rint(self.to_pixels(np.array([[x0, y0], [x1, y1]]))).astype(np.int64)
        n = self.size
        cs, rs = slice(max(c0, 0), min(c1, n - 1) + 1), slice(max(r0, 0), min(r1, n - 1) + 1)
        for r in (r0, r1):
            if 0 <= r < n:
                self.frame[r, cs] = color
        for c in (c0, c1):
            if 0 <= c < n:
                self.frame[rs, c] = color
