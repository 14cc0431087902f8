"""Observations to tokens: entity sets, feature vectors, categorical values and images, all in one token set.

:class:`EntityTokenizer` embeds the entity convention (one embedding per entity type plus a learned type embedding;
``global`` = one token); :class:`FeatureTokenizer` and :class:`CategoricalTokenizer` embed vectors and categories
(images: :class:`~perceiver_rl.image.ImageTokenizer`); :class:`ObservationTokenizer` concatenates every key's tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from perceiver_rl.entities import GLOBAL_KEY, EntitySpec
from perceiver_rl.image import ImageTokenizer
from perceiver_rl.observations import CATEGORICAL, FEATURES, IMAGE, SINGLE_KEY, ObservationSpec, TokenSource


@dataclass
class Tokens:
    """All tokens of a batch of observations: tokens (B, N, D), mask (B, N) (True = present).

    Order: the entity types in the spec's order, then ``global``, then every other observation key. ``slices[T]`` is
    where type (or key) ``T``'s tokens sit along N, so that a policy can pick actor or target tokens.
    """

    tokens: torch.Tensor
    mask: torch.Tensor
    slices: dict[str, slice]

    def of(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The tokens (B, max_T, D) and presence mask (B, max_T) of entity type ``name``."""
        s = self.slices[name]
        return self.tokens[:, s], self.mask[:, s]


def _concat(parts: list[torch.Tensor]) -> torch.Tensor:
    """``torch.cat(parts, dim=1)``, but a single part is returned as it is: a cat would copy it (at many entities,
    a pass over the largest activation of the forward and of the backward)."""
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


class _RowsLinear(torch.autograd.Function):
    """``F.linear`` with the weight gradient computed as ``(x^T g)^T`` instead of ``g^T x``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        rows = grad.reshape(-1, grad.shape[-1])  # (B * N, D)
        needs_x, needs_weight, needs_bias = ctx.needs_input_grad
        grad_x = grad @ weight if needs_x else None
        # (F, B*N) @ (B*N, D) -> (F, D), transposed to the weight's (D, F)
        grad_weight = (x.reshape(-1, x.shape[-1]).t() @ rows).t() if needs_weight else None
        return grad_x, grad_weight, rows.sum(dim=0) if needs_bias else None


def rows_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` for many rows of few features: x (..., F) -> (..., D), the same gradients.

    Autograd's weight gradient of a linear layer is ``g^T x``, (D, B*N) @ (B*N, F); with F a handful of entity
    features and B*N tens of thousands of rows, the CPU matrix product in that layout is several times slower than
    the same product as ``(x^T g)^T``: forward and backward of 64 observations of 1,024 entities with 5 features
    into 64 ran 2.9x faster this way (``benchmarks/policy_ops.py --ops embedding``, docs/BENCHMARKS.md), where the
    old layout had been the costliest op of a PPO minibatch.
    """
    return _RowsLinear.apply(x, weight, bias)


class EntityTokenizer(nn.Module):
    """Embed each entity type's features (Linear F_T -> dim) plus its learned type embedding; ``global`` likewise.

    Both cores see exactly these tokens, so a comparison between them changes nothing but the core.
    """

    def __init__(self, spec: EntitySpec, dim: int) -> None:
        super().__init__()
        self.spec = spec
        self.embed = nn.ModuleDict({t.name: nn.Linear(t.feature_dim, dim) for t in spec.types})
        if spec.global_dim:
            self.embed[GLOBAL_KEY] = nn.Linear(spec.global_dim, dim)
        self.type_embedding = nn.Parameter(torch.empty(len(self.embed), dim))  # one row per key of self.embed
        nn.init.trunc_normal_(self.type_embedding, std=0.02, a=-2.0, b=2.0)
        self.slices: dict[str, slice] = {}
        start = 0
        for t in spec.types:
            self.slices[t.name] = slice(start, start + t.max_count)
            start += t.max_count
        if spec.global_dim:
            self.slices[GLOBAL_KEY] = slice(start, start + 1)

    def _embed(self, key: str, index: int, x: torch.Tensor) -> torch.Tensor:
        """``Linear(x) + type_embedding[index]``, the type embedding added to the small bias, not to every token."""
        linear = self.embed[key]
        return rows_linear(x, linear.weight, linear.bias + self.type_embedding[index])

    def forward(self, obs: Mapping[str, torch.Tensor]) -> Tokens:
        """obs: per type ``T`` (B, max_T, F_T) features and ``T_mask`` (B, max_T) 0/1; ``global`` (B, G)."""
        tokens, masks = [], []
        for i, t in enumerate(self.spec.types):
            tokens.append(self._embed(t.name, i, obs[t.name]))  # (B, max_T, D)
            if t.masked:
                masks.append(obs[t.mask_key] > 0.5)  # (B, max_T) bool: SB3 hands MultiBinary over as float
            else:  # a set with no mask key: every row present
                masks.append(torch.ones(tokens[-1].shape[:2], dtype=torch.bool, device=tokens[-1].device))
        if self.spec.global_dim:
            g = obs[GLOBAL_KEY]
            tokens.append(self._embed(GLOBAL_KEY, -1, g)[:, None])  # (B, 1, D)
            masks.append(torch.ones(g.shape[0], 1, dtype=torch.bool, device=g.device))
        return Tokens(_concat(tokens), _concat(masks), self.slices)


class FeatureTokenizer(nn.Module):
    """One token per feature of a vector (B, n) -> (B, n, dim): ``value * w_i + e_i`` (a Linear(1, dim) per feature).

    ``e_i`` is the learned index embedding that tells the features apart. A MultiBinary bit uses it as a two-entry
    embedding: ``e_i`` for 0, ``w_i + e_i`` for 1.
    """

    def __init__(self, num_features: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_features, dim).uniform_(-1.0, 1.0))  # as nn.Linear(1, dim) inits
        self.index_embedding = nn.Parameter(torch.empty(num_features, dim).uniform_(-1.0, 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, n) -> tokens (B, n, dim)."""
        return x[..., None] * self.weight + self.index_embedding


class CategoricalTokenizer(nn.Module):
    """One token per dimension of Discrete / MultiDiscrete values, given one-hot as SB3 preprocesses them.

    Every (dimension, value) pair has its own learned embedding: the one-hot vector (B, sum(nvec)) is cut into its
    dimensions by a fixed 0/1 assignment matrix and multiplied into the table, without a loop over dimensions.
    """

    def __init__(self, nvec: tuple[int, ...], dim: int) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(sum(nvec), dim))  # (S, dim), as nn.Embedding inits
        dims = torch.repeat_interleave(torch.arange(len(nvec)), torch.tensor(nvec))  # (S,) dimension of each value
        assign = (dims[None] == torch.arange(len(nvec))[:, None]).float()  # (K, S)
        self.register_buffer("assign", assign, persistent=False)

    def forward(self, one_hot: torch.Tensor) -> torch.Tensor:
        """one_hot (B, sum(nvec)) -> tokens (B, K, dim), K = len(nvec)."""
        return (one_hot[:, None, :] * self.assign) @ self.table


def _source_tokenizer(source: TokenSource, dim: int, byte_scale: float) -> nn.Module:
    if source.kind == FEATURES:
        return FeatureTokenizer(source.shape[0], dim)
    if source.kind == CATEGORICAL:
        return CategoricalTokenizer(source.shape, dim)
    return ImageTokenizer(source.shape, dim, channels_first=source.channels_first, byte_values=source.byte_values,
                          byte_scale=byte_scale)


class ObservationTokenizer(nn.Module):
    """All keys of any supported observation as one token set (B, N, dim) with its mask.

    Entity keys go through :class:`EntityTokenizer` (whose type embedding marks each type); every other key through
    its own tokenizer plus a learned modality embedding for that key. Only entity slots can be absent. ``byte_scale``
    is the :class:`~perceiver_rl.image.ImageTokenizer` argument for uint8 images.
    """

    def __init__(self, spec: ObservationSpec, dim: int, byte_scale: float = 1.0) -> None:
        super().__init__()
        self.spec = spec
        self.entities = EntityTokenizer(spec.entities, dim) if spec.entities is not None else None
        self.sources = nn.ModuleList([_source_tokenizer(s, dim, byte_scale) for s in spec.sources])
        self.modality = nn.Parameter(torch.empty(len(spec.sources), dim))  # one row per non-entity key
        nn.init.trunc_normal_(self.modality, std=0.02, a=-2.0, b=2.0)
        self.slices: dict[str, slice] = dict(self.entities.slices) if self.entities is not None else {}
        start = max((s.stop for s in self.slices.values()), default=0)
        for source, tokenizer in zip(spec.sources, self.sources, strict=True):
            count = tokenizer.num_tokens if isinstance(tokenizer, ImageTokenizer) else source.num_tokens
            self.slices[source.key] = slice(start, start + count)
            start += count
        self.num_tokens = start

    def forward(self, obs: Mapping[str, torch.Tensor] | torch.Tensor) -> Tokens:
        """obs preprocessed by SB3 (a dict, or one tensor for a non-Dict space) -> tokens (B, N, dim), mask (B, N)."""
        if self.spec.single:
            obs = {SINGLE_KEY: obs}
        tokens, masks = [], []
        if self.entities is not None:
            entity_tokens = self.entities(obs)
            tokens.append(entity_tokens.tokens)
            masks.append(entity_tokens.mask)
        for i, (source, tokenizer) in enumerate(zip(self.spec.sources, self.sources, strict=True)):
            x = obs[source.key]  # images (B, H, W, C) or (B, C, H, W); else flattened: a Discrete may come as (B, 1, n)
            tokens.append(tokenizer(x if source.kind == IMAGE else x.flatten(1)) + self.modality[i])  # (B, n, D)
        batch = tokens[0].shape[0]
        if len(masks) < len(tokens):
            masks.append(torch.ones(batch, self.num_tokens - sum(m.shape[1] for m in masks), dtype=torch.bool,
                                    device=tokens[0].device))
        return Tokens(_concat(tokens), _concat(masks), self.slices)
