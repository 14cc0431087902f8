"""Images to tokens: one token per pixel or per square patch, with 2-D Fourier position features as in Perceiver IO.

Patching: the smallest patch side ``p`` with at most ``max_tokens`` patches (64 by default), the image zero-padded
to a multiple of ``p``: MiniGrid's 7x7 view stays one token per cell (49 tokens), a 64x64 frame becomes 8x8 patches
of 8x8 pixels (64 tokens), an 84x84 frame 8x8 patches of 11x11 pixels.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

MAX_IMAGE_TOKENS = 64
NUM_BANDS = 6
BYTE_VALUES = 256


def patch_size(height: int, width: int, max_tokens: int = MAX_IMAGE_TOKENS) -> int:
    """The smallest square patch side that cuts a (height, width) image into at most ``max_tokens`` patches."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens: expected >= 1, got {max_tokens}")
    p = 1
    while math.ceil(height / p) * math.ceil(width / p) > max_tokens:
        p += 1
    return p


def fourier_positions(height: int, width: int, num_bands: int = NUM_BANDS) -> torch.Tensor:
    """Fourier features of a (height, width) grid: (height * width, 2 * (1 + 2 * num_bands)), row-major.

    Per axis: the position in [-1, 1], and sin / cos of ``pi * f * position`` for ``num_bands`` frequencies ``f``
    spaced linearly from 1 to the axis' Nyquist frequency (half its resolution), as in Perceiver IO.
    """
    axes = []
    for size in (height, width):
        pos = torch.linspace(-1.0, 1.0, size)  # (size,)
        freqs = torch.linspace(1.0, max(size / 2, 1.0), num_bands)  # (num_bands,)
        angles = math.pi * pos[:, None] * freqs  # (size, num_bands)
        axes.append(torch.cat([pos[:, None], angles.sin(), angles.cos()], dim=-1))  # (size, 1 + 2 * num_bands)
    rows, cols = axes
    grid = torch.cat([rows[:, None].expand(-1, width, -1), cols[None].expand(height, -1, -1)], dim=-1)
    return grid.flatten(0, 1)


class ImageTokenizer(nn.Module):
    """Embed an image (B, H, W, C) or (B, C, H, W) into tokens (B, N, dim), N = ceil(H / p) * ceil(W / p).

    A token is ``Linear(patch pixels ++ Fourier position features)``. Byte images (uint8) are scaled to [0, 1]
    first; at one token per pixel each channel's byte value is also embedded as a category (a learned vector per
    channel and value, summed over channels), since small uint8 grids such as MiniGrid's hold object, colour and state
    indices rather than intensities. ``byte_scale`` turns the input back into 0..255 bytes: 1 for raw pixels (what
    the policies pass), 255 for pixels SB3 already divided by 255 (a features extractor with ``normalize_images``).
    """

    def __init__(
        self,
        shape: tuple[int, int, int],
        dim: int,
        *,
        channels_first: bool = False,
        byte_values: bool = False,
        byte_scale: float = 1.0,
        max_tokens: int = MAX_IMAGE_TOKENS,
    ) -> None:
        super().__init__()
        height, width, channels = shape
        self.channels_first, self.byte_values, self.byte_scale = channels_first, byte_values, byte_scale
        self.patch = patch_size(height, width, max_tokens)
        self.grid = (math.ceil(height / self.patch), math.ceil(width / self.patch))
        self.pad = (self.grid[0] * self.patch - height, self.grid[1] * self.patch - width)
        self.register_buffer("positions", fourier_positions(*self.grid), persistent=False)  # (N, P)
        self.embed = nn.Linear(self.patch**2 * channels + self.positions.shape[1], dim)
        self.value_embedding = None
        if byte_values and self.patch == 1:
            self.value_embedding = nn.Embedding(channels * BYTE_VALUES, dim)
            self.register_buffer("channel_offset", torch.arange(channels) * BYTE_VALUES, persistent=False)  # (C,)

    @property
    def num_tokens(self) -> int:
        """The number of tokens N of one image."""
        return self.grid[0] * self.grid[1]

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image (B, H, W, C) or (B, C, H, W), float -> tokens (B, N, dim)."""
        x = image.permute(0, 2, 3, 1) if self.channels_first else image  # (B, H, W, C)
        if self.byte_values:
            x = x * (self.byte_scale / (BYTE_VALUES - 1))  # [0, 1]
        x = F.pad(x, (0, 0, 0, self.pad[1], 0, self.pad[0]))  # (B, gh * p, gw * p, C)
        b, p, (gh, gw) = x.shape[0], self.patch, self.grid
        patches = x.reshape(b, gh, p, gw, p, -1).transpose(2, 3).reshape(b, gh * gw, -1)  # (B, N, p * p * C)
        tokens = self.embed(torch.cat([patches, self.positions.expand(b, -1, -1)], dim=-1))  # (B, N, dim)
        if self.value_embedding is not None:
            values = (patches * (BYTE_VALUES - 1)).round().long().clamp(0, BYTE_VALUES - 1)  # (B, N, C) bytes
            tokens = tokens + self.value_embedding(values + self.channel_offset).sum(dim=-2)
        return tokens
