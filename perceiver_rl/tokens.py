"""Entity observations to tokens: one embedding per entity type plus a learned type embedding; global = one token."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from perceiver_rl.entities import GLOBAL_KEY, EntitySpec


@dataclass
class Tokens:
    """All tokens of a batch of observations, in the spec's type order (global last): tokens (B, N, D), mask (B, N).

    ``slices[T]`` is where type ``T``'s padded slots sit along N, so that a policy can pick actor or target tokens.
    """

    tokens: torch.Tensor
    mask: torch.Tensor
    slices: dict[str, slice]

    def of(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The tokens (B, max_T, D) and presence mask (B, max_T) of entity type ``name``."""
        s = self.slices[name]
        return self.tokens[:, s], self.mask[:, s]


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

    def forward(self, obs: Mapping[str, torch.Tensor]) -> Tokens:
        """obs: per type ``T`` (B, max_T, F_T) features and ``T_mask`` (B, max_T) 0/1; ``global`` (B, G)."""
        tokens, masks = [], []
        for i, t in enumerate(self.spec.types):
            tokens.append(self.embed[t.name](obs[t.name]) + self.type_embedding[i])  # (B, max_T, D)
            masks.append(obs[t.mask_key] > 0.5)  # (B, max_T) bool: SB3 hands MultiBinary over as float
        if self.spec.global_dim:
            g = obs[GLOBAL_KEY]
            tokens.append((self.embed[GLOBAL_KEY](g) + self.type_embedding[-1])[:, None])  # (B, 1, D)
            masks.append(torch.ones(g.shape[0], 1, dtype=torch.bool, device=g.device))
        return Tokens(torch.cat(tokens, dim=1), torch.cat(masks, dim=1), self.slices)
